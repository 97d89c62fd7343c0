//! This host's identity and its role in a file system.
//!
//! Every host has a system uuid, kept as text in a file (by default
//! `/opt/famfs/system_uuid`, created with a random uuid on first use as the
//! reference tools do). The host whose uuid `mkfs` recorded in the
//! superblock is the master: the only one that may append to the log. All
//! others are clients, which replay only. `FAMFS_SYSTEM_UUID_FILE` names
//! another file, so tests can play several hosts on one machine.

use crate::error::{Error, Result};
use crate::format::Superblock;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Where the system uuid lives unless `FAMFS_SYSTEM_UUID_FILE` says otherwise.
pub const DEFAULT_SYSTEM_UUID_FILE: &str = "/opt/famfs/system_uuid";
/// Environment variable naming another system uuid file.
pub const SYSTEM_UUID_ENV: &str = "FAMFS_SYSTEM_UUID_FILE";

/// This host's role in one file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// This host's system uuid is the file system's: it may append.
    Master,
    /// Any other host: it replays only.
    Client,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Master => "master",
            Role::Client => "client",
        })
    }
}

/// The system uuid file in force.
pub fn system_uuid_path() -> PathBuf {
    std::env::var_os(SYSTEM_UUID_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_SYSTEM_UUID_FILE), PathBuf::from)
}

/// Reads this host's uuid from `path`, or `None` if the file is missing.
pub fn read_system_uuid(path: &Path) -> Result<Option<Uuid>> {
    match fs::read_to_string(path) {
        Ok(text) => Uuid::parse_str(text.trim())
            .map(Some)
            .map_err(|e| Error::BadDevice {
                path: path.to_path_buf(),
                reason: format!("system uuid file does not hold a uuid: {e}"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

/// This host's uuid from `path`, creating the file with a random uuid on
/// first use. Two processes racing to create it agree on one uuid: the file
/// is written under a temporary name and linked into place only if absent.
pub fn system_uuid_at(path: &Path) -> Result<Uuid> {
    if let Some(u) = read_system_uuid(path)? {
        return Ok(u);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let uuid = Uuid::new_v4();
    let tmp = path.with_extension(format!("tmp.{}", uuid.simple()));
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        writeln!(f, "{uuid}")?;
        f.sync_all()?;
        fs::hard_link(&tmp, path)
    };
    let linked = write();
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(uuid),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_system_uuid(path)?
            .ok_or_else(|| Error::io(format!("reading {}", path.display()), e)),
        Err(e) => Err(Error::io(format!("creating {}", path.display()), e)),
    }
}

/// This host's uuid, from the file in force.
pub fn system_uuid() -> Result<Uuid> {
    system_uuid_at(&system_uuid_path())
}

/// This host's role in the file system `sb` describes.
pub fn role_in(sb: &Superblock, host: Uuid) -> Role {
    if sb.system_uuid == host {
        Role::Master
    } else {
        Role::Client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_on_first_use_then_stable() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/system_uuid");
        assert_eq!(read_system_uuid(&p).unwrap(), None);
        let a = system_uuid_at(&p).unwrap();
        let b = system_uuid_at(&p).unwrap();
        assert_eq!(a, b);
        let text = fs::read_to_string(&p).unwrap();
        assert_eq!(text, format!("{a}\n"));
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("system_uuid");
        fs::write(&p, "not a uuid\n").unwrap();
        let e = system_uuid_at(&p).unwrap_err().to_string();
        assert!(e.contains("does not hold a uuid"), "{e}");
    }

    #[test]
    fn racing_creators_agree() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("system_uuid");
        let ids: Vec<Uuid> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| s.spawn(|| system_uuid_at(&p).unwrap()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(ids.windows(2).all(|w| w[0] == w[1]));
    }
}
