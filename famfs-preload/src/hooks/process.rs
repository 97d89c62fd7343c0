//! Processes: before anything forks, spawns or execs, open famfs files
//! become inheritable (see famfs-core's `vfs::inherit`); SIGBUS handlers the
//! application installs are chained behind the shim's own.

use crate::shim::{self, Flow};
use libc::{c_char, c_int, pid_t, FILE};

/// Makes open famfs files survive fork and exec. A failure is logged: the
/// descriptors then stay process-local, as before.
fn prepare() {
    shim::hook(
        |vfs| {
            if let Err(e) = vfs.make_durable() {
                tracing::warn!(errno = %e, "famfs files may not be inherited by the child");
            }
            Flow::Done(Ok(()))
        },
        || (),
        (),
    )
}

interpose! {
    fn fork() -> pid_t, real {
        prepare();
        real()
    }
}

// vfork cannot be wrapped (the child would return through the wrapper's
// frame, which the parent then reuses), so it is a fork: a vfork child may
// only exec or _exit, which a fork child does just as well.
interpose! {
    fn vfork() -> pid_t, real {
        // SAFETY: fork has no preconditions; the child only execs or exits.
        unsafe { libc::fork() }
    }
}

type Actions = *const libc::posix_spawn_file_actions_t;
type Attrs = *const libc::posix_spawnattr_t;

interpose! {
    fn posix_spawn(pid: *mut pid_t, path: *const c_char, actions: Actions, attrs: Attrs, argv: *const *mut c_char, envp: *const *mut c_char) -> c_int, real {
        prepare();
        real(pid, path, actions, attrs, argv, envp)
    }
}

interpose! {
    fn posix_spawnp(pid: *mut pid_t, file: *const c_char, actions: Actions, attrs: Attrs, argv: *const *mut c_char, envp: *const *mut c_char) -> c_int, real {
        prepare();
        real(pid, file, actions, attrs, argv, envp)
    }
}

interpose! {
    fn system(cmd: *const c_char) -> c_int, real {
        prepare();
        real(cmd)
    }
}

interpose! {
    fn popen(cmd: *const c_char, mode: *const c_char) -> *mut FILE, real {
        prepare();
        real(cmd, mode)
    }
}

interpose! {
    fn execve(path: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> c_int, real {
        prepare();
        real(path, argv, envp)
    }
}

interpose! {
    fn execv(path: *const c_char, argv: *const *const c_char) -> c_int, real {
        prepare();
        real(path, argv)
    }
}

interpose! {
    fn execvp(file: *const c_char, argv: *const *const c_char) -> c_int, real {
        prepare();
        real(file, argv)
    }
}

interpose! {
    fn execvpe(file: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> c_int, real {
        prepare();
        real(file, argv, envp)
    }
}

interpose! {
    fn fexecve(fd: c_int, argv: *const *const c_char, envp: *const *const c_char) -> c_int, real {
        prepare();
        real(fd, argv, envp)
    }
}

interpose! {
    fn execveat(dirfd: c_int, path: *const c_char, argv: *const *const c_char, envp: *const *const c_char, flags: c_int) -> c_int, real {
        prepare();
        real(dirfd, path, argv, envp, flags)
    }
}

interpose! {
    fn sigaction(sig: c_int, act: *const libc::sigaction, old: *mut libc::sigaction) -> c_int, real {
        if sig != libc::SIGBUS {
            return real(sig, act, old);
        }
        shim::hook(
            |_| {
                if !famfs_core::memerr::installed() {
                    return Flow::Pass;
                }
                // SAFETY: `act` and `old` are NULL or valid sigaction
                // structs, as sigaction(2) requires.
                let (act, old) = unsafe { (act.as_ref(), old.as_mut()) };
                famfs_core::memerr::set_app_action(act, old);
                Flow::Done(Ok(0))
            },
            || real(sig, act, old),
            -1,
        )
    }
}

interpose! {
    fn signal(sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t, real, fail(libc::SIG_ERR) {
        if sig != libc::SIGBUS {
            return real(sig, handler);
        }
        shim::hook(
            |_| {
                if !famfs_core::memerr::installed() {
                    return Flow::Pass;
                }
                // SAFETY: sigaction is plain data; all-zero is valid.
                let (mut act, mut old): (libc::sigaction, libc::sigaction) =
                    unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
                act.sa_sigaction = handler;
                act.sa_flags = libc::SA_RESTART;
                famfs_core::memerr::set_app_action(Some(&act), Some(&mut old));
                Flow::Done(Ok(old.sa_sigaction))
            },
            || real(sig, handler),
            libc::SIG_ERR,
        )
    }
}

/// After a successful change of user or group ids, permission checks read
/// the credentials again.
fn credentials_changed(r: c_int) -> c_int {
    if r == 0 {
        shim::hook(
            |vfs| {
                vfs.credentials_changed();
                Flow::Done(Ok(()))
            },
            || (),
            (),
        );
    }
    r
}

use crate::interpose::interpose;
use libc::{gid_t, uid_t};

interpose! {
    fn setuid | seteuid(uid: uid_t) -> c_int, real {
        credentials_changed(real(uid))
    }
}

interpose! {
    fn setreuid(r: uid_t, e: uid_t) -> c_int, real {
        credentials_changed(real(r, e))
    }
}

interpose! {
    fn setresuid(r: uid_t, e: uid_t, s: uid_t) -> c_int, real {
        credentials_changed(real(r, e, s))
    }
}

interpose! {
    fn setgid | setegid(gid: gid_t) -> c_int, real {
        credentials_changed(real(gid))
    }
}

interpose! {
    fn setregid(r: gid_t, e: gid_t) -> c_int, real {
        credentials_changed(real(r, e))
    }
}

interpose! {
    fn setresgid(r: gid_t, e: gid_t, s: gid_t) -> c_int, real {
        credentials_changed(real(r, e, s))
    }
}

interpose! {
    fn setgroups(n: libc::size_t, list: *const gid_t) -> c_int, real {
        credentials_changed(real(n, list))
    }
}
