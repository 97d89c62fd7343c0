//! `libfamfs.so`: run any program with `LD_PRELOAD=libfamfs.so` and every
//! path under a famfs mount point of this host works for it, served from
//! the mapped dax memory in the process, with no kernel module, FUSE or
//! root. This crate is only the interposition layer: each hook in
//! [`hooks`] decides whether its path or descriptor is famfs and calls
//! famfs-core's [`famfs_core::vfs::Vfs`], which owns every file system
//! decision; anything else goes to libc untouched. [`shim`] holds the
//! re-entrancy guard and the panic and errno discipline all hooks share.
//! `FAMFS_LOG=debug` traces the famfs calls to stderr.

pub mod hooks;
pub mod shim;
