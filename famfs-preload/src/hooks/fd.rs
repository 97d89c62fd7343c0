//! dup, dup2, dup3 and fcntl: the kernel duplicates the placeholder, the
//! shim maps the new number to the same open file (one shared offset).

use crate::interpose::interpose;
use crate::shim::{self, Flow};
use libc::{c_int, c_long};
use nix::errno::Errno;
use std::sync::atomic::Ordering;

/// dup2/dup3 where `old` or `new` may be famfs: the kernel does the dup,
/// then the table follows it.
fn dup_onto(old: c_int, new: c_int, real: impl Fn() -> c_int + Copy) -> c_int {
    shim::hook(
        |vfs| {
            let of = vfs.fds.get(old);
            if of.is_none() && !vfs.fds.contains(new) && !vfs.is_template(new) {
                return Flow::Pass;
            }
            if vfs.is_template(new) || vfs.is_template(old) {
                // The shim's own descriptor is not the application's to touch.
                return Flow::Done(Err(Errno::EBADF));
            }
            super::stdio::before_std_change(new);
            let r = real();
            if r < 0 {
                return Flow::Done(Err(Errno::last()));
            }
            if old != new {
                match of {
                    Some(of) => vfs.duplicated(&of, new),
                    None => {
                        vfs.forget(new);
                    }
                }
                super::stdio::follow_std(vfs, new);
            }
            Flow::Done(Ok(r))
        },
        real,
        -1,
    )
}

interpose! {
    fn dup(old: c_int) -> c_int, real {
        shim::hook(
            |vfs| match vfs.fds.get(old) {
                None => Flow::Pass,
                Some(of) => {
                    let r = real(old);
                    if r < 0 {
                        return Flow::Done(Err(Errno::last()));
                    }
                    vfs.duplicated(&of, r);
                    super::stdio::follow_std(vfs, r);
                    Flow::Done(Ok(r))
                }
            },
            || real(old),
            -1,
        )
    }
}

interpose! {
    fn dup2(old: c_int, new: c_int) -> c_int, real {
        dup_onto(old, new, || real(old, new))
    }
}

interpose! {
    fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int, real {
        dup_onto(old, new, || real(old, new, flags))
    }
}

/// fcntl on a famfs descriptor. Descriptor flags (FD_CLOEXEC) are the
/// kernel's, on the placeholder; status flags live in the open file.
fn fcntl_famfs(
    vfs: &famfs_vfs::Vfs,
    of: std::sync::Arc<famfs_vfs::OpenFile>,
    fd: c_int,
    cmd: c_int,
    arg: c_long,
    real: impl FnOnce() -> c_int,
) -> Result<c_int, Errno> {
    match cmd {
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            let r = real();
            if r < 0 {
                return Err(Errno::last());
            }
            vfs.duplicated(&of, r);
            super::stdio::follow_std(vfs, r);
            Ok(r)
        }
        libc::F_GETFD | libc::F_SETFD => {
            let r = real();
            if r < 0 {
                Err(Errno::last())
            } else {
                Ok(r)
            }
        }
        libc::F_GETFL => {
            let status = of.state().status.load(Ordering::Relaxed) as c_int;
            Ok(of.accmode | status | libc::O_LARGEFILE)
        }
        libc::F_SETFL => {
            // Only these may change, as on Linux.
            let settable = libc::O_APPEND
                | libc::O_NONBLOCK
                | libc::O_NOATIME
                | libc::O_DIRECT
                | libc::O_ASYNC;
            let st = &of.state().status;
            let cur = st.load(Ordering::Relaxed) as c_int;
            st.store(
                ((cur & !settable) | (arg as c_int & settable)) as u32,
                Ordering::Relaxed,
            );
            Ok(0)
        }
        // Advisory locks: famfs files are shared memory with no kernel
        // file behind them; a lock always succeeds (as on a file only this
        // process locks) and nobody holds one.
        libc::F_SETLK | libc::F_SETLKW | libc::F_OFD_SETLK | libc::F_OFD_SETLKW => Ok(0),
        libc::F_GETLK | libc::F_OFD_GETLK => {
            let fl = arg as *mut libc::flock;
            if fl.is_null() {
                return Err(Errno::EFAULT);
            }
            // SAFETY: the caller passes a struct flock for F_GETLK.
            unsafe { (*fl).l_type = libc::F_UNLCK as i16 };
            Ok(0)
        }
        libc::F_GETPIPE_SZ | libc::F_SETPIPE_SZ => Err(Errno::EBADF),
        _ => {
            tracing::debug!(fd, cmd, "fcntl command not supported on famfs");
            Err(Errno::EINVAL)
        }
    }
}

interpose! {
    fn fcntl | fcntl64(fd: c_int, cmd: c_int, arg: c_long) -> c_int, real {
        shim::hook(
            |vfs| match vfs.fds.get(fd) {
                None => Flow::Pass,
                Some(of) => Flow::Done(fcntl_famfs(vfs, of, fd, cmd, arg, || real(fd, cmd, arg))),
            },
            || real(fd, cmd, arg),
            -1,
        )
    }
}

// Whole-file locks: as for fcntl record locks, famfs has no kernel file to
// lock, so a lock always succeeds.
interpose! {
    fn flock(fd: c_int, op: c_int) -> c_int, real {
        super::with_fd(fd, -1, |_, _| {
            if op & !(libc::LOCK_SH | libc::LOCK_EX | libc::LOCK_UN | libc::LOCK_NB) != 0 {
                return Err(Errno::EINVAL);
            }
            Ok(0)
        }, || real(fd, op))
    }
}

fn lockf_famfs(of: &famfs_vfs::OpenFile, cmd: c_int) -> Result<c_int, Errno> {
    match cmd {
        libc::F_LOCK | libc::F_TLOCK if !of.writable() => Err(Errno::EBADF),
        libc::F_LOCK | libc::F_TLOCK | libc::F_ULOCK | libc::F_TEST => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

interpose! {
    fn lockf | lockf64(fd: c_int, cmd: c_int, len: libc::off_t) -> c_int, real {
        super::with_fd(fd, -1, |_, of| lockf_famfs(of, cmd), || real(fd, cmd, len))
    }
}

// ioctl is variadic; the argument travels in the third register either way.
interpose! {
    fn ioctl(fd: c_int, request: libc::c_ulong, arg: *mut libc::c_void) -> c_int, real {
        super::with_fd(fd, -1, |_, of| match request {
            // Bytes left to read, as for a regular file.
            libc::FIONREAD => {
                let f = of.file().ok_or(Errno::ENOTTY)?;
                let left = f.size().saturating_sub(of.state().offset.load(Ordering::Acquire));
                if arg.is_null() {
                    return Err(Errno::EFAULT);
                }
                // SAFETY: FIONREAD takes an int pointer.
                unsafe { *(arg as *mut c_int) = left.min(c_int::MAX as u64) as c_int };
                Ok(0)
            }
            libc::FIOCLEX | libc::FIONCLEX => {
                let r = real(fd, request, arg);
                if r < 0 { Err(Errno::last()) } else { Ok(r) }
            }
            _ => Err(Errno::ENOTTY),
        }, || real(fd, request, arg))
    }
}
