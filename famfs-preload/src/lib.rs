//! `libfamfs.so`: the `LD_PRELOAD` interposition layer that will serve famfs
//! paths to unmodified programs straight from mapped dax memory.
//!
//! The foundation issue only lays the crate out so the workspace builds the
//! shared object; the hooks themselves arrive with the shim issue and stay
//! thin over `famfs-core`, which owns every file system decision.
