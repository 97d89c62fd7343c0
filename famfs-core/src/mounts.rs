//! The user-space mount table, shared by the CLI and the shim.
//!
//! A famfs "mount" here is a line in a text file, not a kernel mount: it
//! binds a mount point (a path that need not exist in the kernel's
//! namespace) to a device. The default file is `/run/famfs/mounts`;
//! `FAMFS_MOUNTS` names another. One line per mount, tab-separated:
//!
//! ```text
//! MOUNTPOINT<TAB>DEVICE<TAB>FS_UUID<TAB>MOUNT_TIME<TAB>OPTIONS
//! ```
//!
//! OPTIONS is `-` or comma-separated `key=value` pairs. Lines starting with
//! `#` are comments. Updates take an exclusive lock on `FILE.lock` and
//! replace the file by rename, so readers never see half a table.
//!
//! The lock file also counts the updates: its first eight bytes are a
//! little-endian number that every update adds one to once the new table
//! is in place ([`update_count`]); a lock file without a count (new, or cut
//! short) starts from the clock's nanoseconds, so a count that was lost
//! never comes back to a value a reader saw. A process that maps the lock
//! file learns that the table changed with one load from memory, with no
//! system call and no clock: the shim asks this on every path call.

use crate::error::{Error, Result};
use nix::fcntl::{Flock, FlockArg};
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// The mount table unless `FAMFS_MOUNTS` names another.
pub const DEFAULT_MOUNTS: &str = "/run/famfs/mounts";
/// Environment variable naming the mount table.
pub const MOUNTS_ENV: &str = "FAMFS_MOUNTS";

/// Mount option naming a secondary device's path (repeatable).
pub const DEVICE_OPTION: &str = "device";

/// One mounted file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// Absolute, normalised mount point.
    pub mountpoint: PathBuf,
    /// Absolute path of the primary device.
    pub device: PathBuf,
    /// File system uuid, to notice a device reformatted under a mount.
    pub fs_uuid: Uuid,
    /// Mount time, seconds since the epoch (files' timestamps).
    pub mount_time: u64,
    /// Mount options, in order.
    pub options: Vec<(String, String)>,
}

impl MountEntry {
    /// The value of option `key`, if set.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Paths given for the file system's secondary devices (`device=`
    /// options, from `famfs mount --device` and `famfs devadd`).
    pub fn secondary_devices(&self) -> impl Iterator<Item = &Path> {
        self.options
            .iter()
            .filter(|(k, _)| k == DEVICE_OPTION)
            .map(|(_, v)| Path::new(v.as_str()))
    }

    /// Records `path` as a secondary device path (once). Options are
    /// comma-separated, so a path with a comma cannot be recorded.
    pub fn add_device_path(&mut self, path: &Path) -> Result<()> {
        storable(path)?;
        if path.to_string_lossy().contains(',') || !path.is_absolute() {
            return Err(Error::Mount(format!(
                "{}: device paths in the mount table must be absolute and contain no comma",
                path.display()
            )));
        }
        if self.secondary_devices().all(|p| p != path) {
            let v = path.to_string_lossy().into_owned();
            self.options.push((DEVICE_OPTION.to_string(), v));
        }
        Ok(())
    }

    fn to_line(&self) -> String {
        let opts = if self.options.is_empty() {
            "-".to_string()
        } else {
            self.options
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "{}\t{}\t{}\t{}\t{}",
            self.mountpoint.display(),
            self.device.display(),
            self.fs_uuid,
            self.mount_time,
            opts
        )
    }

    fn parse_line(line: &str, lineno: usize) -> Result<MountEntry> {
        let bad = |why: &str| Error::Mount(format!("mount table line {lineno}: {why}"));
        let f: Vec<&str> = line.split('\t').collect();
        let [mp, dev, uuid, time, opts] = f.as_slice() else {
            return Err(bad("expected 5 tab-separated fields"));
        };
        if !mp.starts_with('/') || !dev.starts_with('/') {
            return Err(bad("mount point and device must be absolute"));
        }
        let options = if *opts == "-" {
            Vec::new()
        } else {
            opts.split(',')
                .map(|kv| {
                    kv.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .ok_or_else(|| bad("option without '='"))
                })
                .collect::<Result<_>>()?
        };
        Ok(MountEntry {
            mountpoint: PathBuf::from(mp),
            device: PathBuf::from(dev),
            fs_uuid: Uuid::parse_str(uuid).map_err(|_| bad("bad uuid"))?,
            mount_time: time.parse().map_err(|_| bad("bad mount time"))?,
            options,
        })
    }
}

/// Checks that a path can be stored in the table.
fn storable(p: &Path) -> Result<()> {
    let s = p.to_string_lossy();
    if s.contains(['\t', '\n']) || p.to_str().is_none() {
        return Err(Error::Mount(format!(
            "{s:?}: paths in the mount table must be UTF-8 without tabs or newlines"
        )));
    }
    Ok(())
}

/// The whole mount table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountTable {
    /// The mounts, in table order.
    pub entries: Vec<MountEntry>,
}

impl MountTable {
    /// The mount table file in force.
    pub fn path() -> PathBuf {
        std::env::var_os(MOUNTS_ENV)
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_MOUNTS), PathBuf::from)
    }

    /// Parses the table's text (comments and blank lines skipped).
    pub fn parse(text: &str) -> Result<MountTable> {
        let entries = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|(i, l)| MountEntry::parse_line(l, i + 1))
            .collect::<Result<_>>()?;
        Ok(MountTable { entries })
    }

    /// The table's text, one line a mount.
    pub fn render(&self) -> String {
        let mut s = String::from(
            "# famfs user-space mount table: mountpoint device fs_uuid mount_time options\n",
        );
        for e in &self.entries {
            s.push_str(&e.to_line());
            s.push('\n');
        }
        s
    }

    /// Loads the table at `path`; a missing file is an empty table.
    pub fn load_from(path: &Path) -> Result<MountTable> {
        match fs::read_to_string(path) {
            Ok(text) => Self::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(MountTable::default()),
            Err(e) => Err(Error::io(
                format!("reading mount table {}", path.display()),
                e,
            )),
        }
    }

    /// Loads the table in force.
    pub fn load() -> Result<MountTable> {
        Self::load_from(&Self::path())
    }

    /// The mount whose mount point is the longest prefix of `abs` (a
    /// normalised absolute path), with the path relative to it.
    pub fn find<'a, 'p>(&'a self, abs: &'p Path) -> Option<(&'a MountEntry, &'p Path)> {
        let bytes = abs.as_os_str().as_bytes();
        let (m, start) = longest_mount(
            &self.entries,
            |m| m.mountpoint.as_os_str().as_bytes(),
            bytes,
        )?;
        Some((m, Path::new(std::ffi::OsStr::from_bytes(&bytes[start..]))))
    }

    /// The mount at exactly `mountpoint`.
    pub fn get(&self, mountpoint: &Path) -> Option<&MountEntry> {
        self.entries.iter().find(|m| m.mountpoint == mountpoint)
    }

    /// Adds a mount, refusing a mount point or device already in use and
    /// mount points nested in one another.
    pub fn add(&mut self, entry: MountEntry) -> Result<()> {
        storable(&entry.mountpoint)?;
        storable(&entry.device)?;
        for m in &self.entries {
            if m.mountpoint == entry.mountpoint {
                return Err(Error::Mount(format!(
                    "{} is already a famfs mount point (of {})",
                    m.mountpoint.display(),
                    m.device.display()
                )));
            }
            if m.device == entry.device || m.fs_uuid == entry.fs_uuid {
                return Err(Error::Mount(format!(
                    "{} is already mounted at {}",
                    entry.device.display(),
                    m.mountpoint.display()
                )));
            }
            if m.mountpoint.starts_with(&entry.mountpoint)
                || entry.mountpoint.starts_with(&m.mountpoint)
            {
                return Err(Error::Mount(format!(
                    "{} would nest with the famfs mount at {}",
                    entry.mountpoint.display(),
                    m.mountpoint.display()
                )));
            }
        }
        self.entries.push(entry);
        Ok(())
    }

    /// Removes the mount at `mountpoint`.
    /// The entry of `mountpoint`, to change in place.
    pub fn get_mut(&mut self, mountpoint: &Path) -> Option<&mut MountEntry> {
        self.entries.iter_mut().find(|m| m.mountpoint == mountpoint)
    }

    /// Removes the mount at `mountpoint`, returning it.
    pub fn remove(&mut self, mountpoint: &Path) -> Result<MountEntry> {
        let i = self
            .entries
            .iter()
            .position(|m| m.mountpoint == mountpoint)
            .ok_or_else(|| {
                Error::Mount(format!("{}: not a famfs mount point", mountpoint.display()))
            })?;
        Ok(self.entries.remove(i))
    }

    /// Loads the table at `path` under its lock, lets `f` change it, and
    /// writes it back atomically; nothing is written if `f` fails. Once the
    /// new table is in place, the update count in the lock file goes up by
    /// one (an error doing that is returned, though the table was changed).
    pub fn update_at<T>(path: &Path, f: impl FnOnce(&mut MountTable) -> Result<T>) -> Result<T> {
        let ctx = |what: &str, e| Error::io(format!("{what} mount table {}", path.display()), e);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| ctx("creating the directory of", e))?;
        }
        let lock_file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(lock_path(path))
            .map_err(|e| ctx("locking", e))?;
        let lock = Flock::lock(lock_file, FlockArg::LockExclusive)
            .map_err(|(_, e)| ctx("locking", std::io::Error::from(e)))?;
        let mut table = Self::load_from(path)?;
        let out = f(&mut table)?;
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        let mut file = fs::File::create(&tmp).map_err(|e| ctx("writing", e))?;
        file.write_all(table.render().as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| ctx("writing", e))?;
        fs::rename(&tmp, path).map_err(|e| ctx("replacing", e))?;
        let count = update_count(&lock).map_err(|e| ctx("counting the update of", e))?;
        let next = count.map_or_else(fresh_count, |c| c.wrapping_add(1));
        lock.write_all_at(&next.to_le_bytes(), 0)
            .map_err(|e| ctx("counting the update of", e))?;
        Ok(out)
    }

    /// [`MountTable::update_at`] on the table in force.
    pub fn update<T>(f: impl FnOnce(&mut MountTable) -> Result<T>) -> Result<T> {
        Self::update_at(&Self::path(), f)
    }
}

/// The lock file of the mount table at `table`: `mounts` -> `mounts.lock`.
pub fn lock_path(table: &Path) -> PathBuf {
    table.with_extension("lock")
}

/// The update count held in the (open) lock file; None before the first
/// update that counted, or if the file was cut short.
pub fn update_count(lock: &fs::File) -> std::io::Result<Option<u64>> {
    let mut b = [0u8; 8];
    let mut got = 0;
    while got < b.len() {
        match lock.read_at(&mut b[got..], got as u64)? {
            0 => return Ok(None),
            n => got += n,
        }
    }
    Ok(Some(u64::from_le_bytes(b)))
}

/// Where a count starts: the clock's nanoseconds, never a value an earlier
/// count of this file reached in practice.
fn fresh_count() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

/// Of `mounts`, the one whose mount point (`mountpoint_of`, absolute and
/// normalised) is the longest component-wise prefix of `abs` (absolute and
/// normalised), and where the path relative to it starts in `abs`. Every
/// mount lookup (the CLI's table and the shim's mounts) goes through here.
///
/// Example: mounts `/mnt/famfs` and `/mnt/famfs/inner`; `abs` =
/// `/mnt/famfs/inner/x` gives the second and 17 (`x`); `/mnt/famfsx` gives
/// none; `/mnt/famfs` gives the first and 10 (the empty relative path).
pub fn longest_mount<'a, T>(
    mounts: impl IntoIterator<Item = &'a T>,
    mountpoint_of: impl Fn(&T) -> &[u8],
    abs: &[u8],
) -> Option<(&'a T, usize)> {
    let mut best: Option<(&'a T, usize, usize)> = None;
    for m in mounts {
        let mp = mountpoint_of(m);
        let Some(rest) = abs.strip_prefix(mp) else {
            continue;
        };
        let start = match rest {
            _ if mp == b"/" => 1.min(abs.len()),
            [] => mp.len(),
            [b'/', ..] => mp.len() + 1,
            _ => continue,
        };
        if best.is_none_or(|(_, _, len)| len < mp.len()) {
            best = Some((m, start, mp.len()));
        }
    }
    best.map(|(m, start, _)| (m, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(mp: &str, dev: &str, u: u128) -> MountEntry {
        MountEntry {
            mountpoint: mp.into(),
            device: dev.into(),
            fs_uuid: Uuid::from_u128(u),
            mount_time: 1_700_000_000,
            options: vec![("stripe".into(), "nbuckets=8;nstrips=4".into())],
        }
    }

    #[test]
    fn round_trip_and_find() {
        let mut t = MountTable::default();
        t.add(entry("/mnt/famfs", "/dev/dax0.0", 1)).unwrap();
        t.add(entry("/mnt/other", "/tmp/r.img", 2)).unwrap();
        let parsed = MountTable::parse(&t.render()).unwrap();
        assert_eq!(parsed, t);
        let (m, rel) = t.find(Path::new("/mnt/famfs/a/b")).unwrap();
        assert_eq!(m.device, Path::new("/dev/dax0.0"));
        assert_eq!(rel, Path::new("a/b"));
        assert_eq!(m.option("stripe"), Some("nbuckets=8;nstrips=4"));
        assert!(t.find(Path::new("/mnt/famfsx")).is_none());
        assert_eq!(t.find(Path::new("/mnt/other")).unwrap().1, Path::new(""));
    }

    #[test]
    fn refuses_conflicts() {
        let mut t = MountTable::default();
        t.add(entry("/mnt/famfs", "/dev/dax0.0", 1)).unwrap();
        assert!(t.add(entry("/mnt/famfs", "/dev/dax1.0", 2)).is_err());
        assert!(t.add(entry("/mnt/b", "/dev/dax0.0", 3)).is_err());
        assert!(t.add(entry("/mnt/famfs/sub", "/dev/dax2.0", 4)).is_err());
        assert!(t.add(entry("/mnt", "/dev/dax2.0", 4)).is_err());
        assert!(t.add(entry("/mnt/t\tab", "/dev/dax2.0", 4)).is_err());
        assert!(t.remove(Path::new("/mnt/nope")).is_err());
        assert_eq!(
            t.remove(Path::new("/mnt/famfs")).unwrap().fs_uuid,
            Uuid::from_u128(1)
        );
    }

    #[test]
    fn parse_errors_name_the_line() {
        let e = MountTable::parse("# c\n/a\t/b\tnot-uuid\t1\t-\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        assert!(MountTable::parse("/a\t/b\n").is_err());
    }

    #[test]
    fn update_is_atomic_and_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run/mounts");
        MountTable::update_at(&p, |t| t.add(entry("/m", "/d", 1))).unwrap();
        let r: Result<()> = MountTable::update_at(&p, |t| {
            t.entries.clear();
            Err(Error::Mount("nope".into()))
        });
        assert!(r.is_err());
        assert_eq!(MountTable::load_from(&p).unwrap().entries.len(), 1);
        assert_eq!(
            MountTable::load_from(&dir.path().join("none")).unwrap(),
            MountTable::default()
        );
    }

    #[test]
    fn every_update_that_lands_is_counted_in_the_lock_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mounts");
        let count = || update_count(&fs::File::open(lock_path(&p)).unwrap()).unwrap();
        // A lock file from before counting (empty) has no count.
        fs::write(lock_path(&p), b"").unwrap();
        assert_eq!(count(), None);
        MountTable::update_at(&p, |t| t.add(entry("/m", "/d", 1))).unwrap();
        let first = count().expect("counted");
        MountTable::update_at(&p, |t| t.remove(Path::new("/m")).map(drop)).unwrap();
        assert_eq!(count(), Some(first + 1));
        // A refused update writes nothing, so it is not counted.
        let r: Result<()> = MountTable::update_at(&p, |_| Err(Error::Mount("no".into())));
        assert!(r.is_err());
        assert_eq!(count(), Some(first + 1));
        assert_eq!(fs::read(lock_path(&p)).unwrap().len(), 8);
        // A count cut short starts again from the clock, not from where a
        // reader may have seen it.
        fs::File::options()
            .write(true)
            .open(lock_path(&p))
            .unwrap()
            .set_len(3)
            .unwrap();
        assert_eq!(count(), None);
        MountTable::update_at(&p, |t| t.add(entry("/m", "/d", 1))).unwrap();
        assert!(count().unwrap() > first + 1);
    }

    #[test]
    fn longest_mount_is_component_wise() {
        let mounts: Vec<&[u8]> = vec![b"/mnt/famfs", b"/mnt/famfs/inner", b"/srv"];
        let find = |abs: &[u8]| longest_mount(&mounts, |m| m, abs).map(|(m, at)| (*m, at));
        assert_eq!(
            find(b"/mnt/famfs/inner/x"),
            Some((&b"/mnt/famfs/inner"[..], 17))
        );
        assert_eq!(find(b"/mnt/famfs/x"), Some((&b"/mnt/famfs"[..], 11)));
        assert_eq!(find(b"/mnt/famfs"), Some((&b"/mnt/famfs"[..], 10)));
        assert_eq!(find(b"/mnt/famfsx"), None);
        assert_eq!(find(b"/mnt"), None);
        let root: Vec<&[u8]> = vec![b"/"];
        assert_eq!(
            longest_mount(&root, |m| m, b"/a").map(|(_, at)| at),
            Some(1)
        );
    }
}
