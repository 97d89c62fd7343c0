//! `libfamfs.so`: run any program with `LD_PRELOAD=libfamfs.so` and every
//! path under a famfs mount point of this host works for it, served from
//! the mapped dax memory in the process, with no kernel module, FUSE or
//! root. This crate is only the interposition layer: each hook in
//! [`hooks`] decides whether its path or descriptor is famfs and calls
//! famfs-core's [`famfs_vfs::Vfs`], which owns every file system
//! decision; anything else goes to libc untouched. [`shim`] holds the
//! re-entrancy guard and the panic and errno discipline all hooks share.
//! `FAMFS_LOG=debug` traces the famfs calls to stderr.

#![warn(missing_docs)]

pub mod fork_gate;
pub mod hooks;
pub mod interpose;
pub mod shim;

/// Runs when the library loads, before `main`. The shim comes up here only
/// when a standard stream is an inherited famfs descriptor (an `O_PATH`
/// placeholder), which stdio must be given before the program touches it;
/// otherwise nothing is read, mapped or allocated until the first hooked
/// call (three `fcntl`s and registering the fork handlers of
/// [`fork_gate`] are the whole cost of loading).
extern "C" fn at_load() {
    fork_gate::install();
    let inherited = (0..=2).any(|fd: libc::c_int| {
        // The system call itself: `fcntl` in this library is the hook,
        // which would bring the shim up.
        let a = [
            libc::c_long::from(fd),
            libc::c_long::from(libc::F_GETFL),
            0,
            0,
            0,
            0,
        ];
        // SAFETY: F_GETFL on any descriptor number is harmless (EBADF if
        // it is not open).
        let fl = unsafe { famfs_core::syscall::raw(libc::SYS_fcntl, a) };
        fl >= 0 && fl as libc::c_int & libc::O_PATH != 0
    });
    if !inherited {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        if let Some(inside) = shim::enter() {
            hooks::stdio::adopt_std_streams(inside.vfs);
        }
    });
}

#[used]
#[link_section = ".init_array"]
static AT_LOAD: extern "C" fn() = at_load;
