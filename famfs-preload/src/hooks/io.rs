//! Data transfer: read and write in all their forms, lseek, the copy
//! calls, and the calls that would change a file's size or sync it.

use super::with_fd;
use crate::shim::{self, buf, buf_mut, Flow};
use famfs_vfs::{OpenFile, SysResult};
use libc::{c_int, c_uint, c_void, iovec, loff_t, off64_t, off_t, size_t, ssize_t};
use nix::errno::Errno;
use redhook::{hook, real};

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

hook! {
    unsafe fn read(fd: c_int, p: *mut c_void, n: size_t) -> ssize_t => famfs_read {
        with_fd(fd, -1, |_, of| fd_read(of, buf_mut(p, n)?), || real!(read)(fd, p, n))
    }
}

hook! {
    unsafe fn __read_chk(fd: c_int, p: *mut c_void, n: size_t, buflen: size_t) -> ssize_t => famfs_read_chk {
        if n > buflen {
            libc::abort();
        }
        with_fd(fd, -1, |_, of| fd_read(of, buf_mut(p, n)?), || real!(__read_chk)(fd, p, n, buflen))
    }
}

hook! {
    unsafe fn pread(fd: c_int, p: *mut c_void, n: size_t, off: off_t) -> ssize_t => famfs_pread {
        with_fd(fd, -1, |_, of| fd_pread(of, buf_mut(p, n)?, off), || real!(pread)(fd, p, n, off))
    }
}

hook! {
    unsafe fn pread64(fd: c_int, p: *mut c_void, n: size_t, off: off64_t) -> ssize_t => famfs_pread64 {
        with_fd(fd, -1, |_, of| fd_pread(of, buf_mut(p, n)?, off), || real!(pread64)(fd, p, n, off))
    }
}

hook! {
    unsafe fn __pread_chk(fd: c_int, p: *mut c_void, n: size_t, off: off_t, buflen: size_t) -> ssize_t => famfs_pread_chk {
        if n > buflen {
            libc::abort();
        }
        with_fd(fd, -1, |_, of| fd_pread(of, buf_mut(p, n)?, off), || real!(__pread_chk)(fd, p, n, off, buflen))
    }
}

hook! {
    unsafe fn __pread64_chk(fd: c_int, p: *mut c_void, n: size_t, off: off64_t, buflen: size_t) -> ssize_t => famfs_pread64_chk {
        if n > buflen {
            libc::abort();
        }
        with_fd(fd, -1, |_, of| fd_pread(of, buf_mut(p, n)?, off), || real!(__pread64_chk)(fd, p, n, off, buflen))
    }
}

hook! {
    unsafe fn readv(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t => famfs_readv {
        with_fd(fd, -1, |_, of| fd_preadv(of, iovecs(iov, cnt)?, -1), || real!(readv)(fd, iov, cnt))
    }
}

hook! {
    unsafe fn preadv(fd: c_int, iov: *const iovec, cnt: c_int, off: off_t) -> ssize_t => famfs_preadv {
        with_fd(fd, -1, |_, of| fd_preadv(of, iovecs(iov, cnt)?, check_off(off)? as i64), || real!(preadv)(fd, iov, cnt, off))
    }
}

hook! {
    unsafe fn preadv64(fd: c_int, iov: *const iovec, cnt: c_int, off: off64_t) -> ssize_t => famfs_preadv64 {
        with_fd(fd, -1, |_, of| fd_preadv(of, iovecs(iov, cnt)?, check_off(off)? as i64), || real!(preadv64)(fd, iov, cnt, off))
    }
}

hook! {
    unsafe fn preadv2(fd: c_int, iov: *const iovec, cnt: c_int, off: off_t, flags: c_int) -> ssize_t => famfs_preadv2 {
        with_fd(fd, -1, |_, of| fd_preadv(of, iovecs(iov, cnt)?, off), || real!(preadv2)(fd, iov, cnt, off, flags))
    }
}

hook! {
    unsafe fn preadv64v2(fd: c_int, iov: *const iovec, cnt: c_int, off: off64_t, flags: c_int) -> ssize_t => famfs_preadv64v2 {
        with_fd(fd, -1, |_, of| fd_preadv(of, iovecs(iov, cnt)?, off), || real!(preadv64v2)(fd, iov, cnt, off, flags))
    }
}

hook! {
    unsafe fn write(fd: c_int, p: *const c_void, n: size_t) -> ssize_t => famfs_write {
        with_fd(fd, -1, |_, of| of.write(buf(p, n)?).map(|n| n as ssize_t), || real!(write)(fd, p, n))
    }
}

hook! {
    unsafe fn pwrite(fd: c_int, p: *const c_void, n: size_t, off: off_t) -> ssize_t => famfs_pwrite {
        with_fd(fd, -1, |_, of| of.pwrite(check_off(off)?, buf(p, n)?).map(|n| n as ssize_t), || real!(pwrite)(fd, p, n, off))
    }
}

hook! {
    unsafe fn pwrite64(fd: c_int, p: *const c_void, n: size_t, off: off64_t) -> ssize_t => famfs_pwrite64 {
        with_fd(fd, -1, |_, of| of.pwrite(check_off(off)?, buf(p, n)?).map(|n| n as ssize_t), || real!(pwrite64)(fd, p, n, off))
    }
}

hook! {
    unsafe fn writev(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t => famfs_writev {
        with_fd(fd, -1, |_, of| fd_pwritev(of, iovecs(iov, cnt)?, -1), || real!(writev)(fd, iov, cnt))
    }
}

hook! {
    unsafe fn pwritev(fd: c_int, iov: *const iovec, cnt: c_int, off: off_t) -> ssize_t => famfs_pwritev {
        with_fd(fd, -1, |_, of| fd_pwritev(of, iovecs(iov, cnt)?, check_off(off)? as i64), || real!(pwritev)(fd, iov, cnt, off))
    }
}

hook! {
    unsafe fn pwritev64(fd: c_int, iov: *const iovec, cnt: c_int, off: off64_t) -> ssize_t => famfs_pwritev64 {
        with_fd(fd, -1, |_, of| fd_pwritev(of, iovecs(iov, cnt)?, check_off(off)? as i64), || real!(pwritev64)(fd, iov, cnt, off))
    }
}

hook! {
    unsafe fn pwritev2(fd: c_int, iov: *const iovec, cnt: c_int, off: off_t, flags: c_int) -> ssize_t => famfs_pwritev2 {
        with_fd(fd, -1, |_, of| fd_pwritev(of, iovecs(iov, cnt)?, off), || real!(pwritev2)(fd, iov, cnt, off, flags))
    }
}

hook! {
    unsafe fn pwritev64v2(fd: c_int, iov: *const iovec, cnt: c_int, off: off64_t, flags: c_int) -> ssize_t => famfs_pwritev64v2 {
        with_fd(fd, -1, |_, of| fd_pwritev(of, iovecs(iov, cnt)?, off), || real!(pwritev64v2)(fd, iov, cnt, off, flags))
    }
}

hook! {
    unsafe fn lseek(fd: c_int, off: off_t, whence: c_int) -> off_t => famfs_lseek {
        with_fd(fd, -1, |_, of| of.lseek(off, whence).map(|n| n as off_t), || real!(lseek)(fd, off, whence))
    }
}

hook! {
    unsafe fn lseek64(fd: c_int, off: off64_t, whence: c_int) -> off64_t => famfs_lseek64 {
        with_fd(fd, -1, |_, of| of.lseek(off, whence).map(|n| n as off64_t), || real!(lseek64)(fd, off, whence))
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

hook! {
    unsafe fn copy_file_range(fd_in: c_int, off_in: *mut loff_t, fd_out: c_int, off_out: *mut loff_t, len: size_t, flags: c_uint) -> ssize_t => famfs_copy_file_range {
        shim::hook(
            |vfs| {
                if !vfs.fds.contains(fd_in) && !vfs.fds.contains(fd_out) {
                    return Flow::Pass;
                }
                if flags != 0 {
                    return Flow::Done(Err(Errno::EINVAL));
                }
                let (src, dst) = (side(vfs, fd_in), side(vfs, fd_out));
                Flow::Done(copy_between(&src, opt_off(off_in), &dst, opt_off(off_out), len).map(|n| n as ssize_t))
            },
            || real!(copy_file_range)(fd_in, off_in, fd_out, off_out, len, flags),
            -1,
        )
    }
}

/// sendfile: `offset` (if given) is the input offset, updated; the output
/// is written at its file offset.
///
/// # Safety
/// `offset` must be NULL or valid for one `off_t`.
unsafe fn sendfile_famfs(
    vfs: &famfs_vfs::Vfs,
    out_fd: c_int,
    in_fd: c_int,
    offset: *mut off_t,
    count: size_t,
) -> SysResult<ssize_t> {
    let (src, dst) = (side(vfs, in_fd), side(vfs, out_fd));
    // SAFETY: per the contract.
    let off = unsafe { offset.as_mut() };
    copy_between(&src, off, &dst, None, count).map(|n| n as ssize_t)
}

hook! {
    unsafe fn sendfile(out_fd: c_int, in_fd: c_int, offset: *mut off_t, count: size_t) -> ssize_t => famfs_sendfile {
        shim::hook(
            |vfs| {
                if !vfs.fds.contains(in_fd) && !vfs.fds.contains(out_fd) {
                    return Flow::Pass;
                }
                Flow::Done(sendfile_famfs(vfs, out_fd, in_fd, offset, count))
            },
            || real!(sendfile)(out_fd, in_fd, offset, count),
            -1,
        )
    }
}

hook! {
    unsafe fn sendfile64(out_fd: c_int, in_fd: c_int, offset: *mut off64_t, count: size_t) -> ssize_t => famfs_sendfile64 {
        shim::hook(
            |vfs| {
                if !vfs.fds.contains(in_fd) && !vfs.fds.contains(out_fd) {
                    return Flow::Pass;
                }
                Flow::Done(sendfile_famfs(vfs, out_fd, in_fd, offset, count))
            },
            || real!(sendfile64)(out_fd, in_fd, offset, count),
            -1,
        )
    }
}

hook! {
    unsafe fn splice(fd_in: c_int, off_in: *mut loff_t, fd_out: c_int, off_out: *mut loff_t, len: size_t, flags: c_uint) -> ssize_t => famfs_splice {
        shim::hook(
            |vfs| {
                if vfs.fds.contains(fd_in) || vfs.fds.contains(fd_out) {
                    // As the kernel's famfs: no splice.
                    Flow::Done(Err(Errno::EIO))
                } else {
                    Flow::Pass
                }
            },
            || real!(splice)(fd_in, off_in, fd_out, off_out, len, flags),
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

hook! {
    unsafe fn truncate(path: *const libc::c_char, len: off_t) -> c_int => famfs_truncate {
        super::with_path(libc::AT_FDCWD, path, -1, |vfs, fp| truncate_famfs(vfs, &fp, len), |p| real!(truncate)(p, len))
    }
}

hook! {
    unsafe fn truncate64(path: *const libc::c_char, len: off64_t) -> c_int => famfs_truncate64 {
        super::with_path(libc::AT_FDCWD, path, -1, |vfs, fp| truncate_famfs(vfs, &fp, len), |p| real!(truncate64)(p, len))
    }
}

hook! {
    unsafe fn ftruncate(fd: c_int, len: off_t) -> c_int => famfs_ftruncate {
        with_fd(fd, -1, |_, of| keep_size(of, len, true), || real!(ftruncate)(fd, len))
    }
}

hook! {
    unsafe fn ftruncate64(fd: c_int, len: off64_t) -> c_int => famfs_ftruncate64 {
        with_fd(fd, -1, |_, of| keep_size(of, len, true), || real!(ftruncate64)(fd, len))
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

hook! {
    unsafe fn fallocate(fd: c_int, mode: c_int, off: off_t, len: off_t) -> c_int => famfs_fallocate {
        with_fd(fd, -1, |_, of| fallocate_famfs(of, mode, off, len), || real!(fallocate)(fd, mode, off, len))
    }
}

hook! {
    unsafe fn fallocate64(fd: c_int, mode: c_int, off: off64_t, len: off64_t) -> c_int => famfs_fallocate64 {
        with_fd(fd, -1, |_, of| fallocate_famfs(of, mode, off, len), || real!(fallocate64)(fd, mode, off, len))
    }
}

hook! {
    unsafe fn posix_fallocate(fd: c_int, off: off_t, len: off_t) -> c_int => famfs_posix_fallocate {
        shim::hook_errno(
            |vfs| match vfs.fds.get(fd) {
                None => Flow::Pass,
                Some(of) => Flow::Done(fallocate_famfs(&of, 0, off, len).map(|_| ())),
            },
            || real!(posix_fallocate)(fd, off, len),
        )
    }
}

hook! {
    unsafe fn posix_fallocate64(fd: c_int, off: off64_t, len: off64_t) -> c_int => famfs_posix_fallocate64 {
        shim::hook_errno(
            |vfs| match vfs.fds.get(fd) {
                None => Flow::Pass,
                Some(of) => Flow::Done(fallocate_famfs(&of, 0, off, len).map(|_| ())),
            },
            || real!(posix_fallocate64)(fd, off, len),
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

hook! {
    unsafe fn posix_fadvise(fd: c_int, off: off_t, len: off_t, advice: c_int) -> c_int => famfs_posix_fadvise {
        shim::hook_errno(
            |vfs| match vfs.fds.get(fd) {
                None => Flow::Pass,
                Some(of) => Flow::Done(fadvise_famfs(&of, len, advice)),
            },
            || real!(posix_fadvise)(fd, off, len, advice),
        )
    }
}

hook! {
    unsafe fn posix_fadvise64(fd: c_int, off: off64_t, len: off64_t, advice: c_int) -> c_int => famfs_posix_fadvise64 {
        shim::hook_errno(
            |vfs| match vfs.fds.get(fd) {
                None => Flow::Pass,
                Some(of) => Flow::Done(fadvise_famfs(&of, len, advice)),
            },
            || real!(posix_fadvise64)(fd, off, len, advice),
        )
    }
}

/// Writes already reached memory (and were written back from the CPU
/// caches); a sync has nothing left to do.
fn sync_famfs(_of: &OpenFile) -> SysResult<c_int> {
    Ok(0)
}

hook! {
    unsafe fn fsync(fd: c_int) -> c_int => famfs_fsync {
        with_fd(fd, -1, |_, of| sync_famfs(of), || real!(fsync)(fd))
    }
}

hook! {
    unsafe fn fdatasync(fd: c_int) -> c_int => famfs_fdatasync {
        with_fd(fd, -1, |_, of| sync_famfs(of), || real!(fdatasync)(fd))
    }
}

hook! {
    unsafe fn readahead(fd: c_int, off: off64_t, count: size_t) -> ssize_t => famfs_readahead {
        // Nothing to read ahead: the file is memory.
        with_fd(fd, -1, |_, of| if of.file().is_some() { Ok(0) } else { Err(Errno::EINVAL) }, || real!(readahead)(fd, off, count))
    }
}

hook! {
    unsafe fn syncfs(fd: c_int) -> c_int => famfs_syncfs {
        with_fd(fd, -1, |_, of| sync_famfs(of), || real!(syncfs)(fd))
    }
}
