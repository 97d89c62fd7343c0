//! From a path the user typed to a mounted file system and a path in it.
//!
//! famfs mount points need not exist in the kernel's namespace, so user
//! paths are resolved lexically ([`famfs_core::path::normalize`] against the
//! cwd) and matched against the mount table (longest mount point prefix).
//! Opening a mount checks that its device still holds the file system that
//! was mounted: a device reformatted underneath a mount is refused.

use crate::console::{CliError, CliResult};
use famfs_core::dax::Access;
use famfs_core::famfs::Famfs;
use famfs_core::mounts::{MountEntry, MountTable};
use famfs_core::{path, Error};
use std::path::{Path, PathBuf};

/// A user path inside a famfs mount.
#[derive(Debug, Clone)]
pub struct Target {
    /// The path as the user typed it (for messages).
    pub given: PathBuf,
    /// The normalised absolute path.
    pub abs: PathBuf,
    /// The mount holding it.
    pub mount: MountEntry,
    /// The path relative to the mount point, as the log stores it (`""` for
    /// the mount point itself).
    pub rel: String,
}

impl Target {
    /// Opens the file system this path lives on.
    pub fn open(&self, access: Access) -> CliResult<Famfs> {
        open_mount(&self.mount, access)
    }

    /// A library error about this path, with absolute paths in it.
    pub fn err(&self, e: Error) -> CliError {
        in_mount(&self.mount, e)
    }

    /// The path as typed, for messages.
    pub fn shown(&self) -> std::path::Display<'_> {
        self.given.display()
    }
}

/// The canonical path of a device argument (symlinks such as
/// `/dev/disk/...` resolved), as the mount table records devices.
pub fn canonical_device(given: &Path) -> CliResult<PathBuf> {
    std::fs::canonicalize(given).map_err(|e| CliError::Msg(format!("{}: {e}", given.display())))
}

/// The current directory.
pub fn cwd() -> CliResult<PathBuf> {
    std::env::current_dir()
        .map_err(|e| CliError::Msg(format!("cannot determine the current directory: {e}")))
}

/// `path` made absolute and normalised lexically.
pub fn absolute(path: &Path) -> CliResult<PathBuf> {
    Ok(path::normalize(path, &cwd()?))
}

/// A path relative to a mount point in the log's form (`""` for the mount
/// point). Over-long and non-UTF-8 paths are errors, never truncated.
pub fn relpath(rel: &Path) -> CliResult<String> {
    if rel.as_os_str().is_empty() {
        Ok(String::new())
    } else {
        Ok(path::to_relpath(rel)?)
    }
}

/// Joins two log-form relative paths (either may be `""`).
pub fn join(dir: &str, name: &str) -> String {
    match (dir.is_empty(), name.is_empty()) {
        (true, _) => name.to_string(),
        (_, true) => dir.to_string(),
        _ => format!("{dir}/{name}"),
    }
}

/// How a path relative to `mount` is shown to the user: absolute.
pub fn shown(mount: &MountEntry, rel: &str) -> String {
    if rel.is_empty() {
        mount.mountpoint.display().to_string()
    } else {
        mount.mountpoint.join(rel).display().to_string()
    }
}

/// Rewrites the mount-relative paths in a library error as absolute paths
/// under `mount`, which is what the user typed.
pub fn in_mount(mount: &MountEntry, e: Error) -> CliError {
    let abs = |rel: String| shown(mount, &rel);
    match e {
        Error::NotFound(p) => Error::NotFound(abs(p)),
        Error::Exists(p) => Error::Exists(abs(p)),
        Error::NotADirectory(p) => Error::NotADirectory(abs(p)),
        Error::IsADirectory(p) => Error::IsADirectory(abs(p)),
        Error::SizeMismatch {
            path,
            existing,
            requested,
        } => Error::SizeMismatch {
            path: abs(path),
            existing,
            requested,
        },
        e => e,
    }
    .into()
}

/// Resolves `path` against the mount table in force.
pub fn resolve(path: &Path) -> CliResult<Target> {
    resolve_in(&MountTable::load()?, path)
}

/// Resolves `path` against `table`.
pub fn resolve_in(table: &MountTable, path: &Path) -> CliResult<Target> {
    let abs = absolute(path)?;
    let (mount, rel) = table
        .find(&abs)
        .ok_or_else(|| Error::NotFamfs(path.to_path_buf()))?;
    let rel = relpath(rel)?;
    Ok(Target {
        given: path.to_path_buf(),
        mount: mount.clone(),
        abs,
        rel,
    })
}

/// Prefixes errors about the on-media structures with the device path, so
/// the user knows which device is damaged; other errors already say.
pub fn device_error(device: &Path, e: Error) -> CliError {
    match e {
        Error::BadSuperblockMagic { .. }
        | Error::BadSuperblockCrc { .. }
        | Error::BadAllocUnit { .. }
        | Error::WrongVersion { .. }
        | Error::BadSuperblockLayout(_)
        | Error::BadLogMagic { .. }
        | Error::BadLogCrc { .. }
        | Error::BadLogHeader(_) => CliError::Msg(format!("{}: {e}", device.display())),
        e => e.into(),
    }
}

/// Opens and replays a mounted file system, refusing a device that now
/// holds another file system than the one mounted.
pub fn open_mount(mount: &MountEntry, access: Access) -> CliResult<Famfs> {
    let fs = Famfs::open(&mount.device, access).map_err(|e| device_error(&mount.device, e))?;
    if fs.superblock().uuid != mount.fs_uuid {
        return Err(CliError::Msg(format!(
            "device {} was reformatted since it was mounted; umount and mount again",
            mount.device.display()
        )));
    }
    fs.add_device_paths(mount.secondary_devices());
    Ok(fs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn table() -> MountTable {
        let mut t = MountTable::default();
        for (mp, dev, u) in [
            ("/mnt/famfs", "/tmp/a.img", 1u128),
            ("/mnt/other", "/tmp/b.img", 2),
        ] {
            t.add(MountEntry {
                mountpoint: mp.into(),
                device: dev.into(),
                fs_uuid: Uuid::from_u128(u),
                mount_time: 0,
                options: Vec::new(),
            })
            .unwrap();
        }
        t
    }

    #[test]
    fn resolves_lexically_to_the_longest_prefix() {
        let t = resolve_in(&table(), Path::new("/mnt/famfs/./a//b/../c/")).unwrap();
        assert_eq!(t.mount.device, Path::new("/tmp/a.img"));
        assert_eq!(t.rel, "a/c");
        assert_eq!(t.abs, Path::new("/mnt/famfs/a/c"));
        let root = resolve_in(&table(), Path::new("/mnt/other")).unwrap();
        assert_eq!(root.rel, "");
    }

    #[test]
    fn outside_any_mount_is_an_error() {
        let e = resolve_in(&table(), Path::new("/mnt/famfsx/a")).unwrap_err();
        match e {
            CliError::Msg(m) => assert_eq!(m, "/mnt/famfsx/a: not under any famfs mount point"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn long_paths_are_refused_not_truncated() {
        let long = format!("/mnt/famfs/{}", "x".repeat(80));
        match resolve_in(&table(), Path::new(&long)).unwrap_err() {
            CliError::Msg(m) => assert!(m.contains("at most 79"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn joins() {
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("a", "b"), "a/b");
        assert_eq!(join("a", ""), "a");
    }
}
