//! The devices this host knows belong to file systems, so that a mount
//! finds a file system's secondary devices again without `--device`.
//!
//! Two sources: paths recorded when a device was added (`famfs devadd`) or
//! given to a mount (`--device`), kept in a `devices` file beside the
//! mount table (one `FS_UUID<TAB>PATH` per line, updated under the mount
//! table's lock); and every `/dev/dax*` device, which the device set opens
//! and identifies by the uuid in its superblock, as the kernel finds a
//! device by uuid. A path that no longer holds the device is skipped by
//! that same uuid check.

use crate::error::{Error, Result};
use crate::mounts::{lock_path, MountTable};
use nix::fcntl::{Flock, FlockArg};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// The registry file: `devices` beside the mount table.
pub fn registry_path() -> PathBuf {
    MountTable::path().with_file_name("devices")
}

/// The recorded paths of file system `fs_uuid`'s devices.
pub fn recorded(fs_uuid: Uuid) -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string(registry_path()) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(u, _)| Uuid::parse_str(u).is_ok_and(|u| u == fs_uuid))
        .map(|(_, p)| PathBuf::from(p))
        .collect()
}

/// Records that `path` holds a device of file system `fs_uuid` (once).
pub fn remember(fs_uuid: Uuid, path: &Path) -> Result<()> {
    let reg = registry_path();
    let ctx = |what: &str, e| Error::io(format!("{what} device registry {}", reg.display()), e);
    let Some(p) = path.to_str().filter(|p| !p.contains(['\t', '\n'])) else {
        return Err(Error::Mount(format!(
            "{}: the device registry holds UTF-8 paths without tabs or newlines",
            path.display()
        )));
    };
    if let Some(dir) = reg.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| ctx("creating the directory of", e))?;
    }
    // The mount table's lock: one writer of either file at a time.
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(&MountTable::path()))
        .map_err(|e| ctx("locking", e))?;
    let _lock = Flock::lock(lock, FlockArg::LockExclusive)
        .map_err(|(_, e)| ctx("locking", std::io::Error::from(e)))?;
    if recorded(fs_uuid).iter().any(|q| q == path) {
        return Ok(());
    }
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&reg)
        .map_err(|e| ctx("writing", e))?;
    writeln!(f, "{fs_uuid}\t{p}")
        .and_then(|()| f.sync_all())
        .map_err(|e| ctx("writing", e))
}

/// Every `/dev/dax*` character device, where a devdax device of any file
/// system may be.
pub fn devdax_devices() -> Vec<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(dir) = fs::read_dir("/dev") else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = dir
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("dax"))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_char_device()))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// Where file system `fs_uuid`'s secondary devices may be: the recorded
/// paths first, then every devdax device.
pub fn candidates(fs_uuid: Uuid) -> Vec<PathBuf> {
    let mut out = recorded(fs_uuid);
    for d in devdax_devices() {
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}
