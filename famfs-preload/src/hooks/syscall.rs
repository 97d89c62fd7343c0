//! glibc's `syscall()` function: the file-system system calls it can make
//! are routed through the same hooks as their named wrappers, so a famfs
//! path or descriptor is served by famfs whichever way a program asks
//! (libuv, and so Node.js, makes `statx` this way); every other call, and
//! every call on a path or descriptor that is not famfs, reaches the
//! kernel. The convention is syscall(2)'s: the result, or -1 with errno.
//!
//! The C entry point (variadic, so in `csrc/shim.c`) collects six
//! arguments and calls [`famfs_syscall`].

use super::{cwd, dir, fd, io, mmap, open, stat};
use libc::{c_char, c_int, c_long, c_uint, c_void, size_t};

use famfs_core::syscall::raw;

/// `struct open_how` of openat2(2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// The dispatcher behind `syscall()`.
///
/// # Safety
/// As for syscall(2): the arguments must be what system call `nr` takes.
#[no_mangle]
pub unsafe extern "C" fn famfs_syscall(
    nr: c_long,
    a1: c_long,
    a2: c_long,
    a3: c_long,
    a4: c_long,
    a5: c_long,
    a6: c_long,
) -> c_long {
    let a = [a1, a2, a3, a4, a5, a6];
    let (i, p, cp) = (
        |x: c_long| x as c_int,
        |x: c_long| x as *mut c_void,
        |x: c_long| x as *const c_char,
    );
    // SAFETY: every call below is the named hook of the same system call,
    // given the caller's arguments in the types that call takes (a hook
    // passes them on unchanged when the path or descriptor is not famfs),
    // or the system call itself with the caller's arguments.
    unsafe {
        match nr {
            libc::SYS_open => c_long::from(open::open(cp(a1), i(a2), a3 as libc::mode_t)),
            libc::SYS_openat => {
                c_long::from(open::openat(i(a1), cp(a2), i(a3), a4 as libc::mode_t))
            }
            libc::SYS_openat2 => {
                let how = a3 as *const OpenHow;
                if how.is_null() || (a4 as usize) < std::mem::size_of::<OpenHow>() {
                    return raw(nr, a);
                }
                let how = &*how;
                if how.resolve != 0 {
                    // Resolution restrictions are the kernel's to apply.
                    return raw(nr, a);
                }
                c_long::from(open::openat(
                    i(a1),
                    cp(a2),
                    how.flags as c_int,
                    how.mode as libc::mode_t,
                ))
            }
            libc::SYS_close => c_long::from(open::close(i(a1))),
            libc::SYS_close_range => {
                c_long::from(open::close_range(a1 as c_uint, a2 as c_uint, i(a3)))
            }
            libc::SYS_read => io::read(i(a1), p(a2), a3 as size_t) as c_long,
            libc::SYS_pread64 => io::pread(i(a1), p(a2), a3 as size_t, a4) as c_long,
            libc::SYS_readv => io::readv(i(a1), a2 as *const libc::iovec, i(a3)) as c_long,
            libc::SYS_write => io::write(i(a1), p(a2), a3 as size_t) as c_long,
            libc::SYS_pwrite64 => io::pwrite(i(a1), p(a2), a3 as size_t, a4) as c_long,
            libc::SYS_writev => io::writev(i(a1), a2 as *const libc::iovec, i(a3)) as c_long,
            libc::SYS_lseek => io::lseek(i(a1), a2, i(a3)),
            libc::SYS_ftruncate => c_long::from(io::ftruncate(i(a1), a2)),
            libc::SYS_fallocate => c_long::from(io::fallocate(i(a1), i(a2), a3, a4)),
            libc::SYS_copy_file_range => io::copy_file_range(
                i(a1),
                a2 as *mut libc::loff_t,
                i(a3),
                a4 as *mut libc::loff_t,
                a5 as size_t,
                a6 as c_uint,
            ) as c_long,
            libc::SYS_stat => c_long::from(stat::stat(cp(a1), a2 as *mut libc::stat)),
            libc::SYS_lstat => c_long::from(stat::lstat(cp(a1), a2 as *mut libc::stat)),
            libc::SYS_fstat => c_long::from(stat::fstat(i(a1), a2 as *mut libc::stat)),
            libc::SYS_newfstatat => {
                c_long::from(stat::fstatat(i(a1), cp(a2), a3 as *mut libc::stat, i(a4)))
            }
            libc::SYS_statx => c_long::from(stat::statx(
                i(a1),
                cp(a2),
                i(a3),
                a4 as c_uint,
                a5 as *mut libc::statx,
            )),
            libc::SYS_access => c_long::from(stat::access(cp(a1), i(a2))),
            libc::SYS_faccessat => c_long::from(stat::faccessat(i(a1), cp(a2), i(a3), 0)),
            libc::SYS_faccessat2 => c_long::from(stat::faccessat(i(a1), cp(a2), i(a3), i(a4))),
            libc::SYS_readlink => stat::readlink(cp(a1), a2 as *mut c_char, a3 as size_t) as c_long,
            libc::SYS_readlinkat => {
                stat::readlinkat(i(a1), cp(a2), a3 as *mut c_char, a4 as size_t) as c_long
            }
            libc::SYS_getdents64 => dir::getdents64(i(a1), p(a2), a3 as size_t) as c_long,
            libc::SYS_dup => c_long::from(fd::dup(i(a1))),
            libc::SYS_dup2 => c_long::from(fd::dup2(i(a1), i(a2))),
            libc::SYS_dup3 => c_long::from(fd::dup3(i(a1), i(a2), i(a3))),
            libc::SYS_fcntl => c_long::from(fd::fcntl(i(a1), i(a2), a3)),
            libc::SYS_mmap => mmap::mmap(p(a1), a2 as size_t, i(a3), i(a4), i(a5), a6) as c_long,
            libc::SYS_mkdir => c_long::from(cwd::mkdir(cp(a1), a2 as libc::mode_t)),
            libc::SYS_mkdirat => c_long::from(cwd::mkdirat(i(a1), cp(a2), a3 as libc::mode_t)),
            libc::SYS_unlink => c_long::from(cwd::unlink(cp(a1))),
            libc::SYS_rmdir => c_long::from(cwd::rmdir(cp(a1))),
            libc::SYS_unlinkat => c_long::from(cwd::unlinkat(i(a1), cp(a2), i(a3))),
            libc::SYS_rename => c_long::from(cwd::rename(cp(a1), cp(a2))),
            libc::SYS_renameat => c_long::from(cwd::renameat(i(a1), cp(a2), i(a3), cp(a4))),
            libc::SYS_renameat2 => {
                c_long::from(cwd::renameat2(i(a1), cp(a2), i(a3), cp(a4), a5 as c_uint))
            }
            libc::SYS_chdir => c_long::from(cwd::chdir(cp(a1))),
            libc::SYS_fchdir => c_long::from(cwd::fchdir(i(a1))),
            // glibc's NULL-buffer extension is not the system call's.
            libc::SYS_getcwd if a1 == 0 => raw(nr, a),
            libc::SYS_getcwd => {
                // The system call returns the length with its NUL, not the
                // buffer.
                let r = cwd::getcwd(a1 as *mut c_char, a2 as size_t);
                if r.is_null() {
                    -1
                } else {
                    std::ffi::CStr::from_ptr(r).to_bytes().len() as c_long + 1
                }
            }
            _ => raw(nr, a),
        }
    }
}
