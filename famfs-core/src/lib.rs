//! famfs-core: the whole famfs file system as a library.
//!
//! A famfs device is shared memory (a devdax character device, or a regular
//! file standing in for one) that begins with a superblock and an
//! append-only metadata log. This crate maps each device once
//! ([`dax::DaxDevice`]), decodes and encodes the on-media structures
//! byte-for-byte as the reference famfs tools do ([`format`]), replays the
//! log into an in-memory [`namespace::Namespace`], allocates space
//! ([`alloc::Bitmap`]), appends new entries as the master host
//! ([`famfs::Famfs`]) and resolves file offsets to device memory through
//! [`fmap::Fmap`]s. The CLI and the `LD_PRELOAD` shim are thin layers over it:
//! every file system decision lives here.

#![warn(missing_docs)]

pub mod alloc;
pub mod dax;
pub mod device_set;
pub mod error;
pub mod famfs;
pub mod fault;
pub mod file;
pub mod flush;
pub mod fmap;
pub mod fmap_msg;
pub mod format;
pub mod host;
pub mod known_devices;
pub mod memerr;
pub mod meta_files;
pub mod mounts;
pub mod namespace;
pub mod path;
pub mod poison;
pub mod random;
pub mod replay;
pub mod stripe;
pub mod syscall;

pub use error::{Error, Result};
