//! famfs as a kernel-visible mount: a FUSE server, on the `fuser` crate,
//! that answers the kernel from the same famfs-vfs [`Mount`] the
//! `LD_PRELOAD` shim reads, so programs the shim cannot reach (static
//! binaries, Go, raw system calls, io_uring, children exec'd without the
//! shim) see the same files with the same rules. Requests name nodes by
//! inode number; the server keeps each number's path from the lookup that
//! gave it out ([`server`]), turns stat results into FUSE attributes
//! ([`attr`]) and keeps open files and directory listings by handle
//! ([`handles`]). [`kernel_protocol`] builds the replies a famfs-enabled
//! kernel asks for (GET_FMAP, GET_DAXDEV), which `fuser` cannot carry yet.
//! docs/fuse.md explains the caching, the lifecycle and the limits.

#![deny(missing_docs)]

pub mod attr;
pub mod handles;
pub mod kernel_protocol;
pub mod server;

pub use server::{FamfsFuse, Options};

use famfs_core::mounts::MountEntry;
use famfs_vfs::Mount;
use std::path::Path;
use std::sync::Arc;

/// The magic number statfs(2) reports for every FUSE mount.
pub const FUSE_SUPER_MAGIC: i64 = 0x6573_5546;

/// Mounts the file system of `entry` at its mount point through FUSE and
/// serves it until it is unmounted (`famfs umount`, `umount`,
/// `fusermount3 -u`). Root mounts directly; anyone else through the
/// setuid `fusermount3`. `ready` runs once the kernel mount is live.
pub fn serve(entry: MountEntry, opts: Options, ready: impl FnOnce()) -> std::io::Result<()> {
    famfs_core::memerr::install()
        .map_err(|e| std::io::Error::other(format!("cannot install the SIGBUS handler: {e}")))?;
    let mountpoint = entry.mountpoint.clone();
    let device = entry.device.to_string_lossy().into_owned();
    let mount = Arc::new(Mount::new(entry));
    // Open and replay now: a device that cannot be read fails the mount,
    // not the first request.
    mount
        .with_fs(|_| Ok(()))
        .map_err(|e| std::io::Error::other(format!("{device}: {}", e.desc())))?;
    let config = fuse_config(&device, &opts);
    let session = fuser::Session::new(FamfsFuse::new(mount, opts), &mountpoint, &config)?;
    raise_readahead(&mountpoint);
    ready();
    session.run()
}

/// Read-ahead of the mount, in KiB, instead of the default 128: READ
/// requests of 1 MiB (the kernel's limit per request), several in flight,
/// so both serving threads copy at once during a first sequential read
/// (`make bench` row 12 on 2 CPUs: 0.29-0.31x tmpfs with 128 KiB and
/// 1 MiB, 0.31-0.34x with 2 MiB, 0.35x with 4 MiB, 0.38x with 8 MiB). The
/// cost: a page fault of a mapping reads up to this much around it.
const READ_AHEAD_KB: u32 = 4096;

/// Raises the new mount's read-ahead (its backing device is named by the
/// device number `/proc/self/mountinfo` gives; asking the mount itself
/// would wait for this very daemon). Root only; otherwise the default
/// stays.
fn raise_readahead(mountpoint: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mp = mountpoint.to_string_lossy();
    let dev = info.lines().rev().find_map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        (f.get(4) == Some(&&*mp)).then(|| f.get(2).map(|d| d.to_string()))?
    });
    let Some(dev) = dev else { return };
    let knob = format!("/sys/class/bdi/{dev}/read_ahead_kb");
    if let Err(e) = std::fs::write(&knob, READ_AHEAD_KB.to_string()) {
        tracing::debug!(knob, error = %e, "read-ahead left at its default");
    }
}

/// The mount options and threads of a session.
fn fuse_config(device: &str, opts: &Options) -> fuser::Config {
    use fuser::MountOption as O;
    let mut config = fuser::Config::default();
    config.mount_options = vec![
        O::FSName(device.to_string()),
        O::Subtype("famfs".into()),
        O::NoDev,
        O::NoSuid,
        O::NoAtime,
        // The kernel checks each caller against the log's mode, uid and
        // gid, with supplementary groups and capabilities as for any
        // file: the daemon runs as root and does not check again.
        O::DefaultPermissions,
    ];
    if opts.allow_other {
        config.acl = fuser::SessionACL::All;
    }
    config.n_threads = Some(opts.threads.max(1));
    config.clone_fd = opts.threads > 1;
    config
}

/// Whether `path` is the root of a live FUSE mount (statfs answers with
/// the FUSE magic). A mount whose daemon died answers ENOTCONN: false.
pub fn is_fuse_mount(path: &Path) -> bool {
    nix::sys::statfs::statfs(path).is_ok_and(|s| s.filesystem_type().0 == FUSE_SUPER_MAGIC)
}
