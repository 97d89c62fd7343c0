//! open, openat, creat and their fortified and 64-bit names; close and
//! close_range.
//!
//! `open` is variadic in C; the mode travels in the third argument register
//! on every ABI the shim supports, so a fixed three-argument hook reads it
//! exactly as the real function would.

use super::{with_path, with_unplain_path};
use crate::interpose::interpose;
use crate::shim::{self, CPath, Flow};
use libc::{c_char, c_int, c_uint, mode_t};

/// Shared body of every open flavour.
fn open_famfs(
    dirfd: c_int,
    path: CPath<'_>,
    flags: c_int,
    real: impl FnOnce(*const c_char) -> c_int,
) -> c_int {
    with_path(dirfd, path, -1, |vfs, fp| vfs.open(&fp, flags), real)
}

/// [`open_famfs`] for `open` and `openat`, whose `plain` gate has just
/// found the path not plain, so the test is not made twice.
fn open_unplain(
    dirfd: c_int,
    path: CPath<'_>,
    flags: c_int,
    real: impl FnOnce(*const c_char) -> c_int,
) -> c_int {
    with_unplain_path(dirfd, path, -1, |vfs, fp| vfs.open(&fp, flags), real)
}

interpose! {
    fn open | open64(path: *const c_char, flags: c_int, mode: mode_t) -> c_int, real,
        // SAFETY: `path` is NULL or a C string, as open(2) requires.
        plain(unsafe { CPath::new(path) }.is_plain(libc::AT_FDCWD)) {
        // SAFETY: `path` is NULL or a C string, as open(2) requires.
        let path = unsafe { CPath::new(path) };
        open_unplain(libc::AT_FDCWD, path, flags, |p| real(p, flags, mode))
    }
}

interpose! {
    fn openat | openat64(dirfd: c_int, path: *const c_char, flags: c_int, mode: mode_t) -> c_int, real,
        // SAFETY: `path` is NULL or a C string, as open(2) requires.
        plain(unsafe { CPath::new(path) }.is_plain(dirfd)) {
        // SAFETY: `path` is NULL or a C string, as open(2) requires.
        let path = unsafe { CPath::new(path) };
        open_unplain(dirfd, path, flags, |p| real(dirfd, p, flags, mode))
    }
}

const CREAT_FLAGS: c_int = libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC;

interpose! {
    fn creat | creat64(path: *const c_char, mode: mode_t) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as open(2) requires.
        let path = unsafe { CPath::new(path) };
        open_famfs(libc::AT_FDCWD, path, CREAT_FLAGS, |p| real(p, mode))
    }
}

// The fortified entry points (_FORTIFY_SOURCE) for opens without a mode.
interpose! {
    fn __open_2 | __open64_2(path: *const c_char, flags: c_int) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as open(2) requires.
        let path = unsafe { CPath::new(path) };
        open_famfs(libc::AT_FDCWD, path, flags, |p| real(p, flags))
    }
}

interpose! {
    fn __openat_2 | __openat64_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as open(2) requires.
        let path = unsafe { CPath::new(path) };
        open_famfs(dirfd, path, flags, |p| real(dirfd, p, flags))
    }
}

interpose! {
    fn close(fd: c_int) -> c_int, real, plain(shim::fd_is_plain(fd) && !shim::fd_is_template(fd)) {
        shim::hook(
            |vfs| {
                if vfs.is_template(fd) {
                    // The shim's own descriptor is not the application's.
                    return Flow::Done(Err(nix::errno::Errno::EBADF));
                }
                super::stdio::before_std_change(fd);
                if vfs.forget(fd) {
                    tracing::debug!(fd, "famfs close");
                    super::stdio::follow_std(vfs, fd);
                }
                Flow::Pass
            },
            || real(fd),
            -1,
        )
    }
}

interpose! {
    fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int, real {
        let r = real(first, last, flags);
        if r == 0 && flags & libc::CLOSE_RANGE_CLOEXEC as c_int == 0 {
            shim::hook(
                |vfs| {
                    vfs.closed_range(first, last);
                    Flow::Done(Ok(0))
                },
                || 0,
                0,
            );
        }
        r
    }
}
