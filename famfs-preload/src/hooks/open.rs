//! open, openat, creat and their fortified and 64-bit names; close and
//! close_range.
//!
//! `open` is variadic in C; the mode travels in the third argument register
//! on every ABI the shim supports, so a fixed three-argument hook reads it
//! exactly as the real function would.

use super::with_path;
use crate::shim::{self, Flow};
use libc::{c_char, c_int, c_uint, mode_t};
use redhook::{hook, real};

/// Shared body of every open flavour.
///
/// # Safety
/// `path` must be NULL or a valid C string.
unsafe fn open_famfs(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    real: impl FnOnce(*const c_char) -> c_int,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { with_path(dirfd, path, -1, |vfs, fp| vfs.open(&fp, flags), real) }
}

hook! {
    unsafe fn open(path: *const c_char, flags: c_int, mode: mode_t) -> c_int => famfs_open {
        open_famfs(libc::AT_FDCWD, path, flags, |p| real!(open)(p, flags, mode))
    }
}

hook! {
    unsafe fn open64(path: *const c_char, flags: c_int, mode: mode_t) -> c_int => famfs_open64 {
        open_famfs(libc::AT_FDCWD, path, flags, |p| real!(open64)(p, flags, mode))
    }
}

hook! {
    unsafe fn openat(dirfd: c_int, path: *const c_char, flags: c_int, mode: mode_t) -> c_int => famfs_openat {
        open_famfs(dirfd, path, flags, |p| real!(openat)(dirfd, p, flags, mode))
    }
}

hook! {
    unsafe fn openat64(dirfd: c_int, path: *const c_char, flags: c_int, mode: mode_t) -> c_int => famfs_openat64 {
        open_famfs(dirfd, path, flags, |p| real!(openat64)(dirfd, p, flags, mode))
    }
}

const CREAT_FLAGS: c_int = libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC;

hook! {
    unsafe fn creat(path: *const c_char, mode: mode_t) -> c_int => famfs_creat {
        open_famfs(libc::AT_FDCWD, path, CREAT_FLAGS, |p| real!(creat)(p, mode))
    }
}

hook! {
    unsafe fn creat64(path: *const c_char, mode: mode_t) -> c_int => famfs_creat64 {
        open_famfs(libc::AT_FDCWD, path, CREAT_FLAGS, |p| real!(creat64)(p, mode))
    }
}

// The fortified entry points (_FORTIFY_SOURCE) for opens without a mode.
hook! {
    unsafe fn __open_2(path: *const c_char, flags: c_int) -> c_int => famfs_open_2 {
        open_famfs(libc::AT_FDCWD, path, flags, |p| real!(__open_2)(p, flags))
    }
}

hook! {
    unsafe fn __open64_2(path: *const c_char, flags: c_int) -> c_int => famfs_open64_2 {
        open_famfs(libc::AT_FDCWD, path, flags, |p| real!(__open64_2)(p, flags))
    }
}

hook! {
    unsafe fn __openat_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int => famfs_openat_2 {
        open_famfs(dirfd, path, flags, |p| real!(__openat_2)(dirfd, p, flags))
    }
}

hook! {
    unsafe fn __openat64_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int => famfs_openat64_2 {
        open_famfs(dirfd, path, flags, |p| real!(__openat64_2)(dirfd, p, flags))
    }
}

hook! {
    unsafe fn close(fd: c_int) -> c_int => famfs_close {
        if shim::fd_is_plain(fd) && !shim::fd_is_template(fd) {
            return real!(close)(fd);
        }
        shim::hook(
            |vfs| {
                if vfs.is_template(fd) {
                    // The shim's own descriptor is not the application's.
                    return Flow::Done(Err(nix::errno::Errno::EBADF));
                }
                if vfs.forget(fd) {
                    tracing::debug!(fd, "famfs close");
                }
                Flow::Pass
            },
            || real!(close)(fd),
            -1,
        )
    }
}

hook! {
    unsafe fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int => famfs_close_range {
        let r = real!(close_range)(first, last, flags);
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
