//! Data transfer: read and write in all their forms, lseek, the copy
//! calls, and the calls that would change a file's size or sync it.

use super::with_fd;
use crate::interpose::interpose;
use crate::shim::CPath;
use crate::shim::{self, buf, buf_mut, Flow};
use famfs_vfs::{OpenFile, SysResult};
use libc::{c_int, c_uint, c_void, iovec, loff_t, off64_t, off_t, size_t, ssize_t};
use nix::errno::Errno;

/// The iovec array as a slice.
///
/// # Safety
/// `iov` must be valid for `cnt` entries (or cnt 0).
unsafe fn iovecs<'a>(iov: *const iovec, cnt: c_int) -> SysResult<&'a [iovec]> {
    if !(0..=libc::UIO_MAXIOV).contains(&cnt) {
        return Err(Errno::EINVAL);
    }
    if cnt == 0 {
        return Ok(&[]);
    }
    if iov.is_null() {
        return Err(Errno::EFAULT);
    }
    // SAFETY: per the contract.
    Ok(unsafe { std::slice::from_raw_parts(iov, cnt as usize) })
}

/// Reads into each buffer in turn with `one` (which reads at a running
/// offset); stops at a short read.
fn readv_with(
    iov: &[iovec],
    mut one: impl FnMut(&mut [u8], u64) -> SysResult<usize>,
) -> SysResult<ssize_t> {
    let mut total = 0usize;
    for v in iov {
        // SAFETY: the caller's iovec describes a writable buffer.
        let b = unsafe { buf_mut(v.iov_base, v.iov_len) }?;
        let n = one(b, total as u64)?;
        total += n;
        if n < v.iov_len {
            break;
        }
    }
    Ok(total as ssize_t)
}

fn writev_with(
    iov: &[iovec],
    mut one: impl FnMut(&[u8], u64) -> SysResult<usize>,
) -> SysResult<ssize_t> {
    let mut total = 0usize;
    for v in iov {
        // SAFETY: the caller's iovec describes a readable buffer.
        let b = unsafe { buf(v.iov_base, v.iov_len) }?;
        let n = match one(b, total as u64) {
            Ok(n) => n,
            // A write that already moved bytes reports them, as the kernel.
            Err(_) if total > 0 => break,
            Err(e) => return Err(e),
        };
        total += n;
        if n < v.iov_len {
            break;
        }
    }
    Ok(total as ssize_t)
}

fn check_off(off: i64) -> SysResult<u64> {
    u64::try_from(off).map_err(|_| Errno::EINVAL)
}

fn fd_read(of: &OpenFile, b: &mut [u8]) -> SysResult<ssize_t> {
    of.read(b).map(|n| n as ssize_t)
}

fn fd_pread(of: &OpenFile, b: &mut [u8], off: i64) -> SysResult<ssize_t> {
    of.pread(check_off(off)?, b).map(|n| n as ssize_t)
}

fn fd_preadv(of: &OpenFile, iov: &[iovec], off: i64) -> SysResult<ssize_t> {
    if off == -1 {
        // preadv2 with offset -1 uses (and moves) the file offset.
        return readv_with(iov, |b, _| of.read(b));
    }
    let off = check_off(off)?;
    readv_with(iov, |b, at| of.pread(off + at, b))
}

fn fd_pwritev(of: &OpenFile, iov: &[iovec], off: i64) -> SysResult<ssize_t> {
    if off == -1 {
        return writev_with(iov, |b, _| of.write(b));
    }
    let off = check_off(off)?;
    writev_with(iov, |b, at| of.pwrite(off + at, b))
}

interpose! {
    fn read(fd: c_int, p: *mut c_void, n: size_t) -> ssize_t, real {
        with_fd(fd, -1, |_, of| {
            // SAFETY: `p` is valid for writes of `n` bytes, as read(2) requires.
            let b = unsafe { buf_mut(p, n) }?;
            fd_read(of, b)
        }, || real(fd, p, n))
    }
}

interpose! {
    fn __read_chk(fd: c_int, p: *mut c_void, n: size_t, buflen: size_t) -> ssize_t, real {
        if n > buflen {
            // SAFETY: abort has no preconditions (the fortified check failed).
            unsafe { libc::abort() };
        }
        with_fd(fd, -1, |_, of| {
            // SAFETY: `p` is valid for writes of `n` bytes, as __read_chk(2) requires.
            let b = unsafe { buf_mut(p, n) }?;
            fd_read(of, b)
        }, || real(fd, p, n, buflen))
    }
}

interpose! {
    fn pread(fd: c_int, p: *mut c_void, n: size_t, off: off_t) -> ssize_t, real {
        with_fd(fd, -1, |_, of| {
            // SAFETY: `p` is valid for writes of `n` bytes, as pread(2) requires.
            let b = unsafe { buf_mut(p, n) }?;
            fd_pread(of, b, off)
        }, || real(fd, p, n, off))
    }
}

interpose! {
    fn pread64(fd: c_int, p: *mut c_void, n: size_t, off: off64_t) -> ssize_t, real {
        with_fd(fd, -1, |_, of| {
            // SAFETY: `p` is valid for writes of `n` bytes, as pread64(2) requires.
            let b = unsafe { buf_mut(p, n) }?;
            fd_pread(of, b, off)
        }, || real(fd, p, n, off))
    }
}

interpose! {
    fn __pread_chk(fd: c_int, p: *mut c_void, n: size_t, off: off_t, buflen: size_t) -> ssize_t, real {
        if n > buflen {
            // SAFETY: abort has no preconditions (the fortified check failed).
            unsafe { libc::abort() };
        }
        with_fd(fd, -1, |_, of| {
            // SAFETY: `p` is valid for writes of `n` bytes, as __pread_chk(2) requires.
            let b = unsafe { buf_mut(p, n) }?;
            fd_pread(of, b, off)
        }, || real(fd, p, n, off, buflen))
    }
}

interpose! {
    fn __pread64_chk(fd: c_int, p: *mut c_void, n: size_t, off: off64_t, buflen: size_t) -> ssize_t, real {
        if n > buflen {
            // SAFETY: abort has no preconditions (the fortified check failed).
            unsafe { libc::abort() };
        }
        with_fd(fd, -1, |_, of| {
            // SAFETY: `p` is valid for writes of `n` bytes, as __pread64_chk(2) requires.
            let b = unsafe { buf_mut(p, n) }?;
            fd_pread(of, b, off)
        }, || real(fd, p, n, off, buflen))
    }
}

interpose! {
    fn readv(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t, real {
        with_fd(fd, -1, |_, of| {
            // SAFETY: `iov` holds `cnt` iovecs (each valid for its length), as readv(2) requires.
            let v = unsafe { iovecs(iov, cnt) }?;
            fd_preadv(of, v, -1)
        }, || real(fd, iov, cnt))
    }
}

interpose! {
    fn preadv(fd: c_int, iov: *const iovec, cnt: c_int, off: off_t) -> ssize_t, real {
        with_fd(fd, -1, |_, of| {
            // SAFETY: `iov` holds `cnt` iovecs (each valid for its length), as preadv(2) requires.
            let v = unsafe { iovecs(iov, cnt) }?;
            fd_preadv(of, v, check_off(off)? as i64)
        }, || real(fd, iov, cnt, off))
    }
}

interpose! {
    fn preadv64(fd: c_int, iov: *const iovec, cnt: c_int, off: off64_t) -> ssize_t, real {
        with_fd(fd, -1, |_, of| {
            // SAFETY: `iov` holds `cnt` iovecs (each valid for its length), as preadv64(2) requires.
            let v = unsafe { iovecs(iov, cnt) }?;
            fd_preadv(of, v, check_off(off)? as i64)
        }, || real(fd, iov, cnt, off))
    }
}

interpose! {
    fn preadv2(fd: c_int, iov: *const iovec, cnt: c_int, off: off_t, flags: c_int) -> ssize_t, real {
        with_fd(fd, -1, |_, of| {
            // SAFETY: `iov` holds `cnt` iovecs (each valid for its length), as preadv2(2) requires.
            let v = unsafe { iovecs(iov, cnt) }?;
            fd_preadv(of, v, off)
        }, || real(fd, iov, cnt, off, flags))
    }
}

interpose! {
    fn preadv64v2(fd: c_int, iov: *const iovec, cnt: c_int, off: off64_t, flags: c_int) -> ssize_t, real {
        with_fd(fd, -1, |_, of| {
            // SAFETY: `iov` holds `cnt` iovecs (each valid for its length), as preadv64v2(2) requires.
            let v = unsafe { iovecs(iov, cnt) }?;
            fd_preadv(of, v, off)
        }, || real(fd, iov, cnt, off, flags))
    }
}

interpose! {
    fn write(fd: c_int, p: *const c_void, n: size_t) -> ssize_t, real {
        with_fd(fd, -1, |_, of| {
            // SAFETY: `p` is valid for reads of `n` bytes, as write(2) requires.
            let b = unsafe { buf(p, n) }?;
            of.write(b).map(|n| n as ssize_t)
        }, || real(fd, p, n))
    }
}

interpose! {
    fn pwrite(fd: c_int, p: *const c_void, n: size_t, off: off_t) -> ssize_t, real {
        with_fd(fd, -1, |_, of| {
            // SAFETY: `p` is valid for reads of `n` bytes, as pwrite(2) requires.
            let b = unsafe { buf(p, n) }?;
            of.pwrite(check_off(off)?, b).map(|n| n as ssize_t)
        }, || real(fd, p, n, off))
    }
}

interpose! {
    fn pwrite64(fd: c_int, p: *const c_void, n: size_t, off: off64_t) -> ssize_t, real {
        with_fd(fd, -1, |_, of| {
            // SAFETY: `p` is valid for reads of `n` bytes, as pwrite64(2) requires.
            let b = unsafe { buf(p, n) }?;
            of.pwrite(check_off(off)?, b).map(|n| n as ssize_t)
        }, || real(fd, p, n, off))
    }
}

interpose! {
    fn writev(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t, real {
        with_fd(fd, -1, |_, of| {
            // SAFETY: `iov` holds `cnt` iovecs (each valid for its length), as writev(2) requires.
            let v = unsafe { iovecs(iov, cnt) }?;
            fd_pwritev(of, v, -1)
        }, || real(fd, iov, cnt))
    }
}

interpose! {
    fn pwritev(fd: c_int, iov: *const iovec, cnt: c_int, off: off_t) -> ssize_t, real {
        with_fd(fd, -1, |_, of| {
            // SAFETY: `iov` holds `cnt` iovecs (each valid for its length), as pwritev(2) requires.
            let v = unsafe { iovecs(iov, cnt) }?;
            fd_pwritev(of, v, check_off(off)? as i64)
        }, || real(fd, iov, cnt, off))
    }
}

interpose! {
    fn pwritev64(fd: c_int, iov: *const iovec, cnt: c_int, off: off64_t) -> ssize_t, real {
        with_fd(fd, -1, |_, of| {
            // SAFETY: `iov` holds `cnt` iovecs (each valid for its length), as pwritev64(2) requires.
            let v = unsafe { iovecs(iov, cnt) }?;
            fd_pwritev(of, v, check_off(off)? as i64)
        }, || real(fd, iov, cnt, off))
    }
}

interpose! {
    fn pwritev2(fd: c_int, iov: *const iovec, cnt: c_int, off: off_t, flags: c_int) -> ssize_t, real {
        with_fd(fd, -1, |_, of| {
            // SAFETY: `iov` holds `cnt` iovecs (each valid for its length), as pwritev2(2) requires.
            let v = unsafe { iovecs(iov, cnt) }?;
            fd_pwritev(of, v, off)
        }, || real(fd, iov, cnt, off, flags))
    }
}

interpose! {
    fn pwritev64v2(fd: c_int, iov: *const iovec, cnt: c_int, off: off64_t, flags: c_int) -> ssize_t, real {
        with_fd(fd, -1, |_, of| {
            // SAFETY: `iov` holds `cnt` iovecs (each valid for its length), as pwritev64v2(2) requires.
            let v = unsafe { iovecs(iov, cnt) }?;
            fd_pwritev(of, v, off)
        }, || real(fd, iov, cnt, off, flags))
    }
}

interpose! {
    fn lseek(fd: c_int, off: off_t, whence: c_int) -> off_t, real {
        with_fd(fd, -1, |_, of| of.lseek(off, whence).map(|n| n as off_t), || real(fd, off, whence))
    }
}

interpose! {
    fn lseek64(fd: c_int, off: off64_t, whence: c_int) -> off64_t, real {
        with_fd(fd, -1, |_, of| of.lseek(off, whence).map(|n| n as off64_t), || real(fd, off, whence))
    }
}

// ---------------------------------------------------------------------------
// Copies between descriptors. A famfs side is copied by memcpy through a
// bounce buffer; the other side may be any descriptor.

const COPY_CHUNK: usize = 1 << 20;

/// Reads at `off` (or the file offset when None) from any descriptor.
fn read_any(fd: c_int, b: &mut [u8], off: Option<i64>) -> SysResult<usize> {
    // Called inside a hook, so these reach the kernel directly.
    // SAFETY: `b` is a valid buffer.
    let r = unsafe {
        match off {
            Some(o) => libc::pread64(fd, b.as_mut_ptr().cast(), b.len(), o),
            None => libc::read(fd, b.as_mut_ptr().cast(), b.len()),
        }
    };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as usize)
    }
}

fn write_any(fd: c_int, b: &[u8], off: Option<i64>) -> SysResult<usize> {
    // SAFETY: `b` is a valid buffer.
    let r = unsafe {
        match off {
            Some(o) => libc::pwrite64(fd, b.as_ptr().cast(), b.len(), o),
            None => libc::write(fd, b.as_ptr().cast(), b.len()),
        }
    };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as usize)
    }
}

/// One side of a copy: a famfs open file or a kernel descriptor.
enum Side {
    Famfs(std::sync::Arc<OpenFile>),
    Kernel(c_int),
}

impl Side {
    fn read(&self, b: &mut [u8], off: Option<i64>) -> SysResult<usize> {
        match (self, off) {
            (Side::Famfs(of), Some(o)) => of.pread(check_off(o)?, b),
            (Side::Famfs(of), None) => of.read(b),
            (Side::Kernel(fd), off) => read_any(*fd, b, off),
        }
    }

    fn write(&self, b: &[u8], off: Option<i64>) -> SysResult<usize> {
        match (self, off) {
            (Side::Famfs(of), Some(o)) => of.pwrite(check_off(o)?, b),
            (Side::Famfs(of), None) => of.write(b),
            (Side::Kernel(fd), off) => write_any(*fd, b, off),
        }
    }
}

/// Copies up to `len` bytes; `off_in`/`off_out` are updated when given
/// (and the file offsets are left alone for them), as copy_file_range.
fn copy_between(
    src: &Side,
    off_in: Option<&mut i64>,
    dst: &Side,
    off_out: Option<&mut i64>,
    len: usize,
) -> SysResult<usize> {
    let mut oin = off_in.as_ref().map(|o| **o);
    let mut oout = off_out.as_ref().map(|o| **o);
    let mut bounce = vec![0u8; len.min(COPY_CHUNK)];
    let mut done = 0usize;
    while done < len {
        let want = (len - done).min(bounce.len());
        let n = match src.read(&mut bounce[..want], oin) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        let mut w = 0;
        while w < n {
            match dst.write(&bounce[w..n], oout.map(|o| o + w as i64)) {
                Ok(0) => break,
                Ok(k) => w += k,
                Err(e) if done + w == 0 => return Err(e),
                Err(_) => break,
            }
        }
        oin = oin.map(|o| o + w as i64);
        oout = oout.map(|o| o + w as i64);
        done += w;
        if w < n || n < want {
            break;
        }
    }
    if let (Some(p), Some(v)) = (off_in, oin) {
        *p = v;
    }
    if let (Some(p), Some(v)) = (off_out, oout) {
        *p = v;
    }
    Ok(done)
}

fn side(vfs: &famfs_vfs::Vfs, fd: c_int) -> Side {
    vfs.fds.get(fd).map_or(Side::Kernel(fd), Side::Famfs)
}

/// # Safety
/// `p` must be NULL or valid for reads and writes of one `loff_t`.
unsafe fn opt_off<'a>(p: *mut loff_t) -> Option<&'a mut i64> {
    // SAFETY: per the contract.
    unsafe { p.as_mut() }
}

interpose! {
    fn copy_file_range(fd_in: c_int, off_in: *mut loff_t, fd_out: c_int, off_out: *mut loff_t, len: size_t, flags: c_uint) -> ssize_t, real {
        shim::hook(
            |vfs| {
                if !vfs.fds.contains(fd_in) && !vfs.fds.contains(fd_out) {
                    return Flow::Pass;
                }
                if flags != 0 {
                    return Flow::Done(Err(Errno::EINVAL));
                }
                let (src, dst) = (side(vfs, fd_in), side(vfs, fd_out));
                // SAFETY: each offset is NULL or valid for one loff_t, as
                // copy_file_range(2) requires.
                let (oi, oo) = unsafe { (opt_off(off_in), opt_off(off_out)) };
                Flow::Done(copy_between(&src, oi, &dst, oo, len).map(|n| n as ssize_t))
            },
            || real(fd_in, off_in, fd_out, off_out, len, flags),
            -1,
        )
    }
}

/// sendfile: `offset` (if given) is the input offset, updated; the output
/// is written at its file offset.
fn sendfile_famfs(
    vfs: &famfs_vfs::Vfs,
    out_fd: c_int,
    in_fd: c_int,
    offset: Option<&mut i64>,
    count: size_t,
) -> SysResult<ssize_t> {
    let (src, dst) = (side(vfs, in_fd), side(vfs, out_fd));
    copy_between(&src, offset, &dst, None, count).map(|n| n as ssize_t)
}

interpose! {
    fn sendfile(out_fd: c_int, in_fd: c_int, offset: *mut off_t, count: size_t) -> ssize_t, real {
        shim::hook(
            |vfs| {
                if !vfs.fds.contains(in_fd) && !vfs.fds.contains(out_fd) {
                    return Flow::Pass;
                }
                // SAFETY: `offset` is NULL or valid for one off_t, as
                // sendfile(2) requires.
                let off = unsafe { opt_off(offset) };
                Flow::Done(sendfile_famfs(vfs, out_fd, in_fd, off, count))
            },
            || real(out_fd, in_fd, offset, count),
            -1,
        )
    }
}

interpose! {
    fn sendfile64(out_fd: c_int, in_fd: c_int, offset: *mut off64_t, count: size_t) -> ssize_t, real {
        shim::hook(
            |vfs| {
                if !vfs.fds.contains(in_fd) && !vfs.fds.contains(out_fd) {
                    return Flow::Pass;
                }
                // SAFETY: `offset` is NULL or valid for one off_t, as
                // sendfile(2) requires.
                let off = unsafe { opt_off(offset) };
                Flow::Done(sendfile_famfs(vfs, out_fd, in_fd, off, count))
            },
            || real(out_fd, in_fd, offset, count),
            -1,
        )
    }
}

interpose! {
    fn splice(fd_in: c_int, off_in: *mut loff_t, fd_out: c_int, off_out: *mut loff_t, len: size_t, flags: c_uint) -> ssize_t, real {
        shim::hook(
            |vfs| {
                if vfs.fds.contains(fd_in) || vfs.fds.contains(fd_out) {
                    // As the kernel's famfs: no splice.
                    Flow::Done(Err(Errno::EIO))
                } else {
                    Flow::Pass
                }
            },
            || real(fd_in, off_in, fd_out, off_out, len, flags),
            -1,
        )
    }
}

// ---------------------------------------------------------------------------
// Size changes are refused; a famfs file's size is fixed at creation.

/// ftruncate/fallocate on famfs: only a no-op is allowed.
fn keep_size(of: &OpenFile, new_end: i64, is_truncate: bool) -> SysResult<c_int> {
    let f = of.file().ok_or(Errno::EISDIR)?;
    if !of.writable() {
        return Err(if is_truncate {
            Errno::EINVAL
        } else {
            Errno::EBADF
        });
    }
    if new_end < 0 {
        return Err(Errno::EINVAL);
    }
    let size = f.size() as i64;
    if new_end == size || (!is_truncate && new_end <= size) {
        Ok(0)
    } else {
        Err(Errno::EPERM)
    }
}

/// truncate on a famfs path: only to the size it has.
fn truncate_famfs(vfs: &famfs_vfs::Vfs, fp: &famfs_vfs::FamfsPath, len: i64) -> SysResult<c_int> {
    match vfs.lookup(fp)?.kind {
        famfs_vfs::InfoKind::Dir => Err(Errno::EISDIR),
        famfs_vfs::InfoKind::File { size, .. } if size as i64 == len => Ok(0),
        _ => Err(Errno::EPERM),
    }
}

interpose! {
    fn truncate(path: *const libc::c_char, len: off_t) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as truncate(3) requires.
        let path = unsafe { CPath::new(path) };
        super::with_path(libc::AT_FDCWD, path, -1, |vfs, fp| truncate_famfs(vfs, &fp, len), |p| real(p, len))
    }
}

interpose! {
    fn truncate64(path: *const libc::c_char, len: off64_t) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as truncate64(3) requires.
        let path = unsafe { CPath::new(path) };
        super::with_path(libc::AT_FDCWD, path, -1, |vfs, fp| truncate_famfs(vfs, &fp, len), |p| real(p, len))
    }
}

interpose! {
    fn ftruncate(fd: c_int, len: off_t) -> c_int, real {
        with_fd(fd, -1, |_, of| keep_size(of, len, true), || real(fd, len))
    }
}

interpose! {
    fn ftruncate64(fd: c_int, len: off64_t) -> c_int, real {
        with_fd(fd, -1, |_, of| keep_size(of, len, true), || real(fd, len))
    }
}

fn fallocate_famfs(of: &OpenFile, mode: c_int, off: i64, len: i64) -> SysResult<c_int> {
    if off < 0 || len <= 0 {
        return Err(Errno::EINVAL);
    }
    if mode != 0 && mode != libc::FALLOC_FL_KEEP_SIZE {
        // Punching holes or zeroing ranges would change allocation.
        return Err(Errno::EPERM);
    }
    keep_size(of, off.checked_add(len).ok_or(Errno::EFBIG)?, false)
}

interpose! {
    fn fallocate(fd: c_int, mode: c_int, off: off_t, len: off_t) -> c_int, real {
        with_fd(fd, -1, |_, of| fallocate_famfs(of, mode, off, len), || real(fd, mode, off, len))
    }
}

interpose! {
    fn fallocate64(fd: c_int, mode: c_int, off: off64_t, len: off64_t) -> c_int, real {
        with_fd(fd, -1, |_, of| fallocate_famfs(of, mode, off, len), || real(fd, mode, off, len))
    }
}

interpose! {
    fn posix_fallocate(fd: c_int, off: off_t, len: off_t) -> c_int, real {
        shim::hook_errno(
            |vfs| match vfs.fds.get(fd) {
                None => Flow::Pass,
                Some(of) => Flow::Done(fallocate_famfs(&of, 0, off, len).map(|_| ())),
            },
            || real(fd, off, len),
        )
    }
}

interpose! {
    fn posix_fallocate64(fd: c_int, off: off64_t, len: off64_t) -> c_int, real {
        shim::hook_errno(
            |vfs| match vfs.fds.get(fd) {
                None => Flow::Pass,
                Some(of) => Flow::Done(fallocate_famfs(&of, 0, off, len).map(|_| ())),
            },
            || real(fd, off, len),
        )
    }
}

fn fadvise_famfs(of: &OpenFile, len: i64, advice: c_int) -> SysResult<()> {
    if of.is_dir() {
        return Err(Errno::ESPIPE);
    }
    if len < 0 || !(0..=5).contains(&advice) {
        return Err(Errno::EINVAL);
    }
    // The memory is the file: there is no page cache to advise.
    Ok(())
}

interpose! {
    fn posix_fadvise(fd: c_int, off: off_t, len: off_t, advice: c_int) -> c_int, real {
        shim::hook_errno(
            |vfs| match vfs.fds.get(fd) {
                None => Flow::Pass,
                Some(of) => Flow::Done(fadvise_famfs(&of, len, advice)),
            },
            || real(fd, off, len, advice),
        )
    }
}

interpose! {
    fn posix_fadvise64(fd: c_int, off: off64_t, len: off64_t, advice: c_int) -> c_int, real {
        shim::hook_errno(
            |vfs| match vfs.fds.get(fd) {
                None => Flow::Pass,
                Some(of) => Flow::Done(fadvise_famfs(&of, len, advice)),
            },
            || real(fd, off, len, advice),
        )
    }
}

/// Writes already reached memory (and were written back from the CPU
/// caches); a sync has nothing left to do.
fn sync_famfs(_of: &OpenFile) -> SysResult<c_int> {
    Ok(0)
}

interpose! {
    fn fsync | fdatasync(fd: c_int) -> c_int, real {
        with_fd(fd, -1, |_, of| sync_famfs(of), || real(fd))
    }
}

interpose! {
    fn readahead(fd: c_int, off: off64_t, count: size_t) -> ssize_t, real {
        // Nothing to read ahead: the file is memory.
        with_fd(fd, -1, |_, of| if of.file().is_some() { Ok(0) } else { Err(Errno::EINVAL) }, || real(fd, off, count))
    }
}

interpose! {
    fn syncfs(fd: c_int) -> c_int, real {
        with_fd(fd, -1, |_, of| sync_famfs(of), || real(fd))
    }
}
