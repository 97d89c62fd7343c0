//! Data transfer: read and write in all their forms, lseek, the copy
//! calls, and the calls that would change a file's size or sync it.

use super::{with_fd, with_fd_read};
use crate::interpose::interpose;
use crate::shim::CPath;
use crate::shim::{self, buf, buf_mut, Flow};
use famfs_vfs::{file_offset, OpenFile, SysResult};
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

fn fd_read(of: &OpenFile, b: &mut [u8]) -> SysResult<ssize_t> {
    of.read(b).map(|n| n as ssize_t)
}

fn fd_pread(of: &OpenFile, b: &mut [u8], off: i64) -> SysResult<ssize_t> {
    of.pread(file_offset(off)?, b).map(|n| n as ssize_t)
}

fn fd_preadv(of: &OpenFile, iov: &[iovec], off: i64) -> SysResult<ssize_t> {
    if off == -1 {
        // preadv2 with offset -1 uses (and moves) the file offset.
        return readv_with(iov, |b, _| of.read(b));
    }
    let off = file_offset(off)?;
    readv_with(iov, |b, at| of.pread(off + at, b))
}

fn fd_pwritev(of: &OpenFile, iov: &[iovec], off: i64) -> SysResult<ssize_t> {
    if off == -1 {
        return writev_with(iov, |b, _| of.write(b));
    }
    let off = file_offset(off)?;
    writev_with(iov, |b, at| of.pwrite(off + at, b))
}

interpose! {
    fn read(fd: c_int, p: *mut c_void, n: size_t) -> ssize_t, real, plain(shim::fd_is_plain(fd)) {
        with_fd_read(fd, -1, |of| {
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
        with_fd_read(fd, -1, |of| {
            // SAFETY: `p` is valid for writes of `n` bytes, as __read_chk(2) requires.
            let b = unsafe { buf_mut(p, n) }?;
            fd_read(of, b)
        }, || real(fd, p, n, buflen))
    }
}

interpose! {
    fn pread | pread64(fd: c_int, p: *mut c_void, n: size_t, off: off_t) -> ssize_t, real, plain(shim::fd_is_plain(fd)) {
        with_fd_read(fd, -1, |of| {
            // SAFETY: `p` is valid for writes of `n` bytes, as pread(2) requires.
            let b = unsafe { buf_mut(p, n) }?;
            fd_pread(of, b, off)
        }, || real(fd, p, n, off))
    }
}

interpose! {
    fn __pread_chk | __pread64_chk(fd: c_int, p: *mut c_void, n: size_t, off: off_t, buflen: size_t) -> ssize_t, real {
        if n > buflen {
            // SAFETY: abort has no preconditions (the fortified check failed).
            unsafe { libc::abort() };
        }
        with_fd_read(fd, -1, |of| {
            // SAFETY: `p` is valid for writes of `n` bytes, as __pread_chk(2) requires.
            let b = unsafe { buf_mut(p, n) }?;
            fd_pread(of, b, off)
        }, || real(fd, p, n, off, buflen))
    }
}

interpose! {
    fn readv(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t, real {
        with_fd_read(fd, -1, |of| {
            // SAFETY: `iov` holds `cnt` iovecs (each valid for its length), as readv(2) requires.
            let v = unsafe { iovecs(iov, cnt) }?;
            fd_preadv(of, v, -1)
        }, || real(fd, iov, cnt))
    }
}

interpose! {
    fn preadv | preadv64(fd: c_int, iov: *const iovec, cnt: c_int, off: off_t) -> ssize_t, real {
        with_fd_read(fd, -1, |of| {
            // SAFETY: `iov` holds `cnt` iovecs (each valid for its length), as preadv(2) requires.
            let v = unsafe { iovecs(iov, cnt) }?;
            fd_preadv(of, v, file_offset(off)? as i64)
        }, || real(fd, iov, cnt, off))
    }
}

interpose! {
    fn preadv2 | preadv64v2(fd: c_int, iov: *const iovec, cnt: c_int, off: off_t, flags: c_int) -> ssize_t, real {
        with_fd_read(fd, -1, |of| {
            // SAFETY: `iov` holds `cnt` iovecs (each valid for its length), as preadv2(2) requires.
            let v = unsafe { iovecs(iov, cnt) }?;
            fd_preadv(of, v, off)
        }, || real(fd, iov, cnt, off, flags))
    }
}

interpose! {
    fn write(fd: c_int, p: *const c_void, n: size_t) -> ssize_t, real, plain(shim::fd_is_plain(fd)) {
        with_fd(fd, -1, |_, of| {
            // SAFETY: `p` is valid for reads of `n` bytes, as write(2) requires.
            let b = unsafe { buf(p, n) }?;
            of.write(b).map(|n| n as ssize_t)
        }, || real(fd, p, n))
    }
}

interpose! {
    fn pwrite | pwrite64(fd: c_int, p: *const c_void, n: size_t, off: off_t) -> ssize_t, real, plain(shim::fd_is_plain(fd)) {
        with_fd(fd, -1, |_, of| {
            // SAFETY: `p` is valid for reads of `n` bytes, as pwrite(2) requires.
            let b = unsafe { buf(p, n) }?;
            of.pwrite(file_offset(off)?, b).map(|n| n as ssize_t)
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
    fn pwritev | pwritev64(fd: c_int, iov: *const iovec, cnt: c_int, off: off_t) -> ssize_t, real {
        with_fd(fd, -1, |_, of| {
            // SAFETY: `iov` holds `cnt` iovecs (each valid for its length), as pwritev(2) requires.
            let v = unsafe { iovecs(iov, cnt) }?;
            fd_pwritev(of, v, file_offset(off)? as i64)
        }, || real(fd, iov, cnt, off))
    }
}

interpose! {
    fn pwritev2 | pwritev64v2(fd: c_int, iov: *const iovec, cnt: c_int, off: off_t, flags: c_int) -> ssize_t, real {
        with_fd(fd, -1, |_, of| {
            // SAFETY: `iov` holds `cnt` iovecs (each valid for its length), as pwritev2(2) requires.
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
// Copies between descriptors (famfs_vfs::copy decides).

/// The offset argument of a copy call as a reference.
///
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
                let (src, dst) = (vfs.side(fd_in), vfs.side(fd_out));
                // SAFETY: each offset is NULL or valid for one loff_t, as
                // copy_file_range(2) requires.
                let (oi, oo) = unsafe { (opt_off(off_in), opt_off(off_out)) };
                Flow::Done(vfs.copy_range(&src, oi, &dst, oo, len, flags).map(|n| n as ssize_t))
            },
            || real(fd_in, off_in, fd_out, off_out, len, flags),
            -1,
        )
    }
}

interpose! {
    fn sendfile | sendfile64(out_fd: c_int, in_fd: c_int, offset: *mut off_t, count: size_t) -> ssize_t, real {
        shim::hook(
            |vfs| {
                if !vfs.fds.contains(in_fd) && !vfs.fds.contains(out_fd) {
                    return Flow::Pass;
                }
                // SAFETY: `offset` is NULL or valid for one off_t, as
                // sendfile(2) requires.
                let off = unsafe { opt_off(offset) };
                Flow::Done(vfs.sendfile(out_fd, in_fd, off, count).map(|n| n as ssize_t))
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
                    Flow::Done(vfs.splice().map(|()| 0))
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

interpose! {
    fn truncate | truncate64(path: *const libc::c_char, len: off_t) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as truncate(3) requires.
        let path = unsafe { CPath::new(path) };
        super::with_path(libc::AT_FDCWD, path, -1, |vfs, fp| vfs.truncate(&fp, len).map(|()| 0), |p| real(p, len))
    }
}

interpose! {
    fn ftruncate | ftruncate64(fd: c_int, len: off_t) -> c_int, real {
        with_fd(fd, -1, |_, of| of.ftruncate(len).map(|()| 0), || real(fd, len))
    }
}

interpose! {
    fn fallocate | fallocate64(fd: c_int, mode: c_int, off: off_t, len: off_t) -> c_int, real {
        with_fd(fd, -1, |_, of| of.fallocate(mode, off, len).map(|()| 0), || real(fd, mode, off, len))
    }
}

interpose! {
    fn posix_fallocate | posix_fallocate64(fd: c_int, off: off_t, len: off_t) -> c_int, real {
        shim::hook_errno(
            |vfs| match vfs.fds.get(fd) {
                None => Flow::Pass,
                Some(of) => Flow::Done(of.fallocate(0, off, len)),
            },
            || real(fd, off, len),
        )
    }
}

interpose! {
    fn posix_fadvise | posix_fadvise64(fd: c_int, off: off_t, len: off_t, advice: c_int) -> c_int, real {
        shim::hook_errno(
            |vfs| match vfs.fds.get(fd) {
                None => Flow::Pass,
                Some(of) => Flow::Done(of.fadvise(len, advice)),
            },
            || real(fd, off, len, advice),
        )
    }
}

interpose! {
    fn fsync | fdatasync | syncfs(fd: c_int) -> c_int, real {
        with_fd(fd, -1, |_, of| of.sync().map(|()| 0), || real(fd))
    }
}

interpose! {
    fn readahead(fd: c_int, off: off64_t, count: size_t) -> ssize_t, real {
        with_fd(fd, -1, |_, of| of.readahead().map(|()| 0), || real(fd, off, count))
    }
}
