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

pub mod hooks;
pub mod interpose;
pub mod shim;

/// Runs when the library loads, before `main`: brings up the shim so that
/// famfs descriptors inherited across exec are adopted, and standard
/// streams on them are served, before the program touches them.
extern "C" fn at_load() {
    let _ = std::panic::catch_unwind(|| {
        if let Some(inside) = shim::enter() {
            hooks::stdio::adopt_std_streams(inside.vfs);
        }
    });
}

#[used]
#[link_section = ".init_array"]
static AT_LOAD: extern "C" fn() = at_load;
