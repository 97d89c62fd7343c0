//! Processes: before anything forks, spawns or execs, open famfs files
//! become inheritable (see famfs-core's `vfs::inherit`); SIGBUS handlers the
//! application installs are chained behind the shim's own.

use crate::shim::{self, Flow};
use libc::{c_char, c_int, pid_t, FILE};
use redhook::{hook, real};

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

hook! {
    unsafe fn fork() -> pid_t => famfs_fork {
        prepare();
        real!(fork)()
    }
}

// vfork cannot be wrapped (the child would return through the wrapper's
// frame, which the parent then reuses), so it is a fork: a vfork child may
// only exec or _exit, which a fork child does just as well.
hook! {
    unsafe fn vfork() -> pid_t => famfs_vfork {
        libc::fork()
    }
}

type Actions = *const libc::posix_spawn_file_actions_t;
type Attrs = *const libc::posix_spawnattr_t;

hook! {
    unsafe fn posix_spawn(pid: *mut pid_t, path: *const c_char, actions: Actions, attrs: Attrs, argv: *const *mut c_char, envp: *const *mut c_char) -> c_int => famfs_posix_spawn {
        prepare();
        real!(posix_spawn)(pid, path, actions, attrs, argv, envp)
    }
}

hook! {
    unsafe fn posix_spawnp(pid: *mut pid_t, file: *const c_char, actions: Actions, attrs: Attrs, argv: *const *mut c_char, envp: *const *mut c_char) -> c_int => famfs_posix_spawnp {
        prepare();
        real!(posix_spawnp)(pid, file, actions, attrs, argv, envp)
    }
}

hook! {
    unsafe fn system(cmd: *const c_char) -> c_int => famfs_system {
        prepare();
        real!(system)(cmd)
    }
}

hook! {
    unsafe fn popen(cmd: *const c_char, mode: *const c_char) -> *mut FILE => famfs_popen {
        prepare();
        real!(popen)(cmd, mode)
    }
}

hook! {
    unsafe fn execve(path: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> c_int => famfs_execve {
        prepare();
        real!(execve)(path, argv, envp)
    }
}

hook! {
    unsafe fn execv(path: *const c_char, argv: *const *const c_char) -> c_int => famfs_execv {
        prepare();
        real!(execv)(path, argv)
    }
}

hook! {
    unsafe fn execvp(file: *const c_char, argv: *const *const c_char) -> c_int => famfs_execvp {
        prepare();
        real!(execvp)(file, argv)
    }
}

hook! {
    unsafe fn execvpe(file: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> c_int => famfs_execvpe {
        prepare();
        real!(execvpe)(file, argv, envp)
    }
}

hook! {
    unsafe fn fexecve(fd: c_int, argv: *const *const c_char, envp: *const *const c_char) -> c_int => famfs_fexecve {
        prepare();
        real!(fexecve)(fd, argv, envp)
    }
}

hook! {
    unsafe fn execveat(dirfd: c_int, path: *const c_char, argv: *const *const c_char, envp: *const *const c_char, flags: c_int) -> c_int => famfs_execveat {
        prepare();
        real!(execveat)(dirfd, path, argv, envp, flags)
    }
}

hook! {
    unsafe fn sigaction(sig: c_int, act: *const libc::sigaction, old: *mut libc::sigaction) -> c_int => famfs_sigaction {
        if sig != libc::SIGBUS {
            return real!(sigaction)(sig, act, old);
        }
        shim::hook(
            |_| {
                if !famfs_core::memerr::installed() {
                    return Flow::Pass;
                }
                famfs_core::memerr::set_app_action(act.as_ref(), old.as_mut());
                Flow::Done(Ok(0))
            },
            || real!(sigaction)(sig, act, old),
            -1,
        )
    }
}

hook! {
    unsafe fn signal(sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t => famfs_signal {
        if sig != libc::SIGBUS {
            return real!(signal)(sig, handler);
        }
        shim::hook(
            |_| {
                if !famfs_core::memerr::installed() {
                    return Flow::Pass;
                }
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = handler;
                act.sa_flags = libc::SA_RESTART;
                let mut old: libc::sigaction = std::mem::zeroed();
                famfs_core::memerr::set_app_action(Some(&act), Some(&mut old));
                Flow::Done(Ok(old.sa_sigaction))
            },
            || real!(signal)(sig, handler),
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

use libc::{gid_t, uid_t};

hook! {
    unsafe fn setuid(uid: uid_t) -> c_int => famfs_setuid {
        credentials_changed(real!(setuid)(uid))
    }
}

hook! {
    unsafe fn seteuid(uid: uid_t) -> c_int => famfs_seteuid {
        credentials_changed(real!(seteuid)(uid))
    }
}

hook! {
    unsafe fn setreuid(r: uid_t, e: uid_t) -> c_int => famfs_setreuid {
        credentials_changed(real!(setreuid)(r, e))
    }
}

hook! {
    unsafe fn setresuid(r: uid_t, e: uid_t, s: uid_t) -> c_int => famfs_setresuid {
        credentials_changed(real!(setresuid)(r, e, s))
    }
}

hook! {
    unsafe fn setgid(gid: gid_t) -> c_int => famfs_setgid {
        credentials_changed(real!(setgid)(gid))
    }
}

hook! {
    unsafe fn setegid(gid: gid_t) -> c_int => famfs_setegid {
        credentials_changed(real!(setegid)(gid))
    }
}

hook! {
    unsafe fn setregid(r: gid_t, e: gid_t) -> c_int => famfs_setregid {
        credentials_changed(real!(setregid)(r, e))
    }
}

hook! {
    unsafe fn setresgid(r: gid_t, e: gid_t, s: gid_t) -> c_int => famfs_setresgid {
        credentials_changed(real!(setresgid)(r, e, s))
    }
}

hook! {
    unsafe fn setgroups(n: libc::size_t, list: *const gid_t) -> c_int => famfs_setgroups {
        credentials_changed(real!(setgroups)(n, list))
    }
}
