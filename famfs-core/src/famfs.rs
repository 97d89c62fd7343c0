//! A famfs file system on a device: format it, open it, replay it, read and
//! write its files, and (as the master host) append to its log.
//!
//! Writers on one host serialise with an exclusive `flock` on the device;
//! only the master host may append. A new file's space is allocated, its
//! contents written and written back from the CPU caches *before* its log
//! entry is appended, so a file is either absent or complete on every host,
//! and a failure at any step leaves the log and allocation untouched.

use crate::dax::{Access, DaxDevice, DeviceKind};
use crate::device_set::DeviceSet;
use crate::error::{Error, Result};
use crate::fault::{self, FaultPoint};
use crate::file::FileData;
use crate::fmap::Fmap;
use crate::format::{
    last_index_for, log_off, FileEntry, LogEntry, LogHeader, MkdirEntry, Superblock,
    DEFAULT_LOG_LEN, FILE_FLAG_ALL_RW, LOG_ENTRY_SIZE, LOG_HEADER_SIZE, LOG_OFFSET,
    SUPERBLOCK_SIZE,
};
use crate::host::{self, Role};
use crate::memerr::DeviceHealth;
use crate::namespace::{Ino, Meta, Node};
use crate::replay::Replay;
use nix::fcntl::{Flock, FlockArg};
use std::path::Path;
use std::sync::Arc;
use uuid::Uuid;

/// The reference mkfs refuses real devices smaller than this.
pub const MIN_DEVICE_SIZE: u64 = 4 << 30;

/// Choices for [`mkfs`].
#[derive(Debug, Clone)]
pub struct MkfsOptions {
    /// Log length in bytes (a power of two, at least 8 MiB).
    pub log_len: u64,
    /// Overwrite an existing valid file system.
    pub force: bool,
    /// Test aids: pin the uuids and the device name the superblock records.
    pub uuid: Option<Uuid>,
    /// Device uuid to record (random if None).
    pub dev_uuid: Option<Uuid>,
    /// Master host's system uuid to record (this host's if None).
    pub system_uuid: Option<Uuid>,
    /// Device name to record (the device path if None).
    pub dev_name: Option<String>,
}

impl Default for MkfsOptions {
    fn default() -> Self {
        MkfsOptions {
            log_len: DEFAULT_LOG_LEN,
            force: false,
            uuid: None,
            dev_uuid: None,
            system_uuid: None,
            dev_name: None,
        }
    }
}

/// Reads the superblock of `dev` (invalidating stale cache lines first).
pub fn read_superblock(dev: &DaxDevice) -> Result<Superblock> {
    let mut buf = [0u8; SUPERBLOCK_SIZE];
    dev.invalidate(0, SUPERBLOCK_SIZE as u64)?;
    dev.read_at(0, &mut buf)?;
    Superblock::decode(&buf)
}

/// Formats `dev` as an empty famfs file system.
///
/// Refuses a device that already holds a valid file system unless
/// `opts.force`, and a real devdax device under [`MIN_DEVICE_SIZE`]
/// (simulated regions may be smaller). The old superblock is invalidated
/// first and the new one written last, so an interrupted mkfs never leaves
/// a superblock pointing at a half-written log.
pub fn mkfs(dev: &DaxDevice, opts: &MkfsOptions) -> Result<Superblock> {
    let size = dev.size();
    if dev.kind() == DeviceKind::Devdax && size < MIN_DEVICE_SIZE {
        return Err(Error::DeviceTooSmall {
            path: dev.path().to_path_buf(),
            size,
            min: MIN_DEVICE_SIZE,
        });
    }
    if opts.log_len < DEFAULT_LOG_LEN || !opts.log_len.is_power_of_two() {
        return Err(Error::Usage(format!(
            "log length {} must be a power of two of at least {DEFAULT_LOG_LEN} bytes",
            opts.log_len
        )));
    }
    let meta_end = LOG_OFFSET + opts.log_len;
    let min = meta_end + crate::format::ALLOC_UNIT;
    if size < min {
        return Err(Error::DeviceTooSmall {
            path: dev.path().to_path_buf(),
            size,
            min,
        });
    }
    if !opts.force {
        if let Ok(old) = read_superblock(dev) {
            return Err(Error::Usage(format!(
                "{} already holds a famfs file system (uuid {}); use --force to overwrite it",
                dev.path().display(),
                old.uuid
            )));
        }
    }
    let system_uuid = match opts.system_uuid {
        Some(u) => u,
        None => host::system_uuid()?,
    };
    let dev_name = match &opts.dev_name {
        Some(n) => n.clone(),
        None => device_name(dev.path()),
    };
    let sb = Superblock::new(
        size,
        opts.log_len,
        opts.uuid.unwrap_or_else(Uuid::new_v4),
        opts.dev_uuid.unwrap_or_else(Uuid::new_v4),
        system_uuid,
        &dev_name,
    );
    let sb_bytes = sb.encode()?;

    dev.zero_range(0, crate::format::SUPERBLOCK_REGION)?;
    dev.zero_range(LOG_OFFSET, opts.log_len)?;
    dev.write_at(LOG_OFFSET, &LogHeader::new(opts.log_len).encode())?;
    dev.write_back(LOG_OFFSET, LOG_HEADER_SIZE)?;
    dev.write_at(0, &sb_bytes)?;
    dev.write_back(0, SUPERBLOCK_SIZE as u64)?;
    Ok(sb)
}

/// True when both open files are the same device or region.
fn same_file(a: &std::fs::File, b: &std::fs::File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (a.metadata(), b.metadata()) {
        (Ok(x), Ok(y)) => (x.dev(), x.ino(), x.rdev()) == (y.dev(), y.ino(), y.rdev()),
        _ => false,
    }
}

/// The name mkfs records for a device: its canonical path when that fits
/// the superblock's 63 bytes, else as many trailing components as fit (the
/// name is informational; a long region path must not make mkfs fail).
///
/// Example: `/tmp/ci/…/deeply/nested/region.img` (90 bytes) is recorded
/// as `…/nested/region.img`, the longest tail that fits.
fn device_name(path: &Path) -> String {
    let full = std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned();
    if full.len() <= crate::format::MAX_DEV_NAME {
        return full;
    }
    let mut tail = String::new();
    for comp in full.rsplit('/') {
        let longer = if tail.is_empty() {
            comp.to_string()
        } else {
            format!("{comp}/{tail}")
        };
        if longer.len() > crate::format::MAX_DEV_NAME {
            break;
        }
        tail = longer;
    }
    if tail.is_empty() {
        // A single component longer than the field: keep its end.
        let mut start = full.len() - crate::format::MAX_DEV_NAME;
        while !full.is_char_boundary(start) {
            start += 1;
        }
        tail = full[start..].to_string();
    }
    tail
}

/// Invalidates the superblock of `dev` (`mkfs --kill`): the device no
/// longer mounts until formatted again.
pub fn kill_superblock(dev: &DaxDevice) -> Result<()> {
    dev.fill(0, SUPERBLOCK_SIZE as u64, 0)?;
    dev.write_back(0, SUPERBLOCK_SIZE as u64)
}

/// What [`Famfs::create_file`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// A new file was allocated, filled and logged.
    New(Ino),
    /// The path already held a file of the requested size; nothing changed.
    Existing(Ino),
}

impl Created {
    /// The inode of the file.
    pub fn ino(self) -> Ino {
        match self {
            Created::New(i) | Created::Existing(i) => i,
        }
    }
}

/// An open famfs file system.
pub struct Famfs {
    devices: Arc<DeviceSet>,
    sb: Superblock,
    replay: Replay,
}

impl std::fmt::Debug for Famfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Famfs")
            .field("devices", &self.devices)
            .field("uuid", &self.sb.uuid)
            .field("applied", &self.replay.applied())
            .finish()
    }
}

/// The root directory's owner and mode.
const ROOT_META: Meta = Meta {
    uid: 0,
    gid: 0,
    mode: 0o755,
};

impl Famfs {
    /// Opens the device at `path`, checks its superblock and log header,
    /// and replays the log.
    pub fn open(path: &Path, access: Access) -> Result<Famfs> {
        Self::from_device(DaxDevice::open(path, access)?)
    }

    /// As [`Famfs::open`], on a device already mapped.
    pub fn from_device(dev: DaxDevice) -> Result<Famfs> {
        let sb = read_superblock(&dev)?;
        sb.check_device_size(dev.size())?;
        if sb.is_secondary() {
            return Err(Error::BadDevice {
                path: dev.path().to_path_buf(),
                reason: format!(
                    "is a secondary device (uuid {}) of file system {}: \
                     mount the file system's primary device",
                    sb.dev_uuid, sb.uuid
                ),
            });
        }
        let size = if sb.dev_size == 0 {
            dev.size()
        } else {
            sb.dev_size
        };
        let mut replay = Replay::new(&sb, size, ROOT_META);
        replay.read_header(&dev)?;
        replay.catch_up(&dev)?;
        Ok(Famfs {
            devices: Arc::new(DeviceSet::new(Arc::new(dev), sb.uuid)),
            sb,
            replay,
        })
    }

    /// Serves every later access, and appends, from `set`: the same file
    /// system's devices mapped another way (a front end that mapped them
    /// read-only for readers switches to its read-write set to write,
    /// instead of opening and replaying the file system a second time).
    pub fn use_devices(&mut self, set: Arc<DeviceSet>) -> Result<()> {
        let sb = read_superblock(set.primary())?;
        if sb.uuid != self.sb.uuid {
            return Err(Error::BadDevice {
                path: set.primary().path().to_path_buf(),
                reason: format!(
                    "holds file system {}, not the open {}",
                    sb.uuid, self.sb.uuid
                ),
            });
        }
        set.add_candidates(self.devices.candidates());
        self.devices = set;
        Ok(())
    }

    /// The primary device (index 0), which holds the log.
    pub fn device(&self) -> &DaxDevice {
        self.devices.primary()
    }

    /// Every device of the file system, opened lazily.
    pub fn devices(&self) -> &DeviceSet {
        &self.devices
    }

    /// Adds paths where secondary devices may be found.
    pub fn add_device_paths<P: AsRef<Path>>(&self, paths: impl IntoIterator<Item = P>) {
        self.devices.add_candidates(paths);
    }

    /// Opens (once) every device `fmap` references. A device the log does
    /// not know, or one that cannot be found, is an error naming it.
    pub fn acquire_devices(&self, fmap: &Fmap) -> Result<()> {
        for index in fmap.device_indexes() {
            self.acquire_device(index)?;
        }
        Ok(())
    }

    /// Device `index` of the table, opened the first time it is needed.
    pub fn acquire_device(&self, index: u32) -> Result<&Arc<DaxDevice>> {
        let info = self.replay.device(index).ok_or_else(|| {
            Error::InvalidFmap(format!("device index {index} is not in the device table"))
        })?;
        self.devices.acquire(info)
    }

    /// The superblock as read at open.
    pub fn superblock(&self) -> &Superblock {
        &self.sb
    }

    /// The replayed log: namespace, devices, problems.
    pub fn replay(&self) -> &Replay {
        &self.replay
    }

    /// The log header as it is on the device now.
    pub fn log_header(&self) -> Result<LogHeader> {
        self.replay.read_header(self.device())
    }

    /// Applies entries appended since the last call (by this or any other
    /// process or host); returns how many.
    pub fn refresh(&mut self) -> Result<u64> {
        self.replay.catch_up(self.devices.primary())
    }

    /// This host's role, from its system uuid.
    pub fn role(&self) -> Result<Role> {
        Ok(host::role_in(&self.sb, host::system_uuid()?))
    }

    /// Succeeds on the master host; elsewhere says who the master is.
    pub fn require_master(&self) -> Result<()> {
        let host = host::system_uuid()?;
        match host::role_in(&self.sb, host) {
            Role::Master => Ok(()),
            Role::Client => Err(Error::NotMaster {
                host: host.to_string(),
                master: self.sb.system_uuid.to_string(),
            }),
        }
    }

    /// Looks up a path relative to the mount point.
    pub fn lookup(&self, relpath: &str) -> Result<&Node> {
        self.replay.namespace().lookup(relpath)
    }

    /// Byte access to a file, refusing files with metadata errors (EIO).
    pub fn file_io(&self, ino: Ino) -> Result<FileData> {
        let ns = self.replay.namespace();
        let node = ns
            .get(ino)
            .ok_or_else(|| Error::NotFound(format!("inode {ino}")))?;
        let f = node
            .as_file()
            .ok_or_else(|| Error::IsADirectory(ns.path_of(ino)))?;
        if let Some(why) = &f.error {
            return Err(Error::InvalidFmap(format!("{}: {why}", ns.path_of(ino))));
        }
        self.file_data(f.fmap.clone(), f.size)
    }

    /// The bytes of `.meta/.superblock` or `.meta/.log` (EISDIR for `.meta`).
    pub fn meta_file_io(&self, node: crate::meta_files::MetaNode) -> Result<FileData> {
        let fmap = node
            .fmap(self.superblock())
            .ok_or_else(|| Error::IsADirectory(node.path().to_string()))?;
        self.file_data(fmap, node.size(self.superblock()))
    }

    /// The bytes of a file of `size` bytes at `fmap`, its devices opened.
    fn file_data(&self, fmap: Fmap, size: u64) -> Result<FileData> {
        self.acquire_devices(&fmap)?;
        let mut used = Vec::new();
        for index in fmap.device_indexes() {
            let dev = self.devices.get(index).ok_or_else(|| Error::BadDevice {
                path: self.devices.primary().path().to_path_buf(),
                reason: format!("extent on device index {index}, which is not open"),
            })?;
            used.push((index, dev.clone(), Arc::new(DeviceHealth::default())));
        }
        Ok(FileData::new(used, fmap, size))
    }

    /// Takes the writer lock, checks this host may append and brings the
    /// namespace up to date. The lock is released when the guard drops.
    fn begin_write(&mut self) -> Result<Flock<std::fs::File>> {
        if self.device().access() != Access::ReadWrite {
            return Err(Error::ReadOnly {
                path: self.device().path().to_path_buf(),
            });
        }
        self.require_master()?;
        fault::check_env()?;
        let file = self
            .device()
            .file()
            .try_clone()
            .map_err(|e| Error::io("duplicating the device fd", e))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::io("locking the log", e.into()))?;
        self.refresh()?;
        if let Some(p) = self.replay.stopped() {
            return Err(Error::BadLogEntry {
                index: p.index,
                reason: format!(
                    "{}; refusing to append after it (run famfs fsck)",
                    p.message
                ),
            });
        }
        Ok(lock)
    }

    /// Entries still free in the log.
    /// Fails with [`Error::LogFull`] unless `n` more entries fit: checked
    /// before anything is written (data, a superblock), so a full log
    /// changes nothing. `append` checks each entry again.
    fn check_room(&self, n: u64) -> Result<()> {
        let h = self.log_header()?;
        if n > h.capacity() - h.next_index.min(h.capacity()) {
            return Err(Error::LogFull {
                entries: h.capacity(),
            });
        }
        Ok(())
    }

    /// The directory that will hold `relpath` must exist and be one.
    fn check_parent(&self, relpath: &str) -> Result<()> {
        let parent = crate::path::parent(relpath);
        if !self.lookup(parent)?.is_dir() {
            return Err(Error::NotADirectory(parent.into()));
        }
        Ok(())
    }

    /// Appends one entry (the caller holds the writer lock and has checked
    /// there is room) and applies it locally.
    fn append(&mut self, entry: LogEntry) -> Result<u64> {
        let mut h = self.log_header()?;
        if h.is_full() {
            return Err(Error::LogFull {
                entries: h.capacity(),
            });
        }
        let index = h.next_index;
        let bytes = entry.encode(index)?;
        let at = self.sb.log_offset + LogHeader::entry_offset(index);
        let dev = self.devices.primary();
        dev.write_at(at, &bytes)?;
        dev.write_back(at, LOG_ENTRY_SIZE)?;
        fault::reached(FaultPoint::AfterEntry);
        // seqnum first, index last: next_index publishes the entry.
        h.next_seqnum = index + 1;
        h.next_index = index + 1;
        let base = self.sb.log_offset;
        dev.write_u64(base + log_off::NEXT_SEQNUM as u64, h.next_seqnum)?;
        fault::reached(FaultPoint::AfterSeqnum);
        dev.write_u64(base + log_off::NEXT_INDEX as u64, h.next_index)?;
        dev.write_back(base, LOG_HEADER_SIZE)?;
        tracing::debug!(index, path = entry.relpath(), "log entry appended");
        self.replay.apply(index, entry);
        Ok(index)
    }

    /// Adds `dev` to the file system (`famfs devadd`): the lowest free
    /// device index 1..23, a secondary superblock at the device's offset 0
    /// (flags = secondary, a new device uuid, this file system's uuid), and
    /// an ADD_DAXDEV log entry. The superblock is written before the entry,
    /// so a logged device always carries it. A device that already holds a
    /// famfs superblock is refused unless `force`; this file system's own
    /// devices are refused always.
    pub fn add_device(
        &mut self,
        dev: DaxDevice,
        force: bool,
        dev_uuid: Option<Uuid>,
    ) -> Result<crate::replay::DeviceInfo> {
        let size = dev.size();
        let bad = |reason: String| Error::BadDevice {
            path: dev.path().to_path_buf(),
            reason,
        };
        if dev.access() != Access::ReadWrite {
            return Err(Error::ReadOnly {
                path: dev.path().to_path_buf(),
            });
        }
        let min = if dev.kind() == DeviceKind::Devdax {
            MIN_DEVICE_SIZE
        } else {
            crate::format::SUPERBLOCK_REGION + self.sb.alloc_unit
        };
        if size < min {
            return Err(Error::DeviceTooSmall {
                path: dev.path().to_path_buf(),
                size,
                min,
            });
        }
        if same_file(dev.file(), self.device().file()) {
            return Err(bad("is this file system's primary device".to_string()));
        }
        let _lock = self.begin_write()?;
        if let Ok(old) = read_superblock(&dev) {
            let known = self
                .replay
                .devices()
                .find(|d| d.uuid == old.dev_uuid)
                .map(|d| d.index);
            let ours = old.uuid == self.sb.uuid;
            if let (true, Some(i)) = (ours, known) {
                return Err(bad(format!("is already device {i} of this file system")));
            }
            // A secondary superblock of ours that the log never recorded is
            // what an interrupted devadd leaves: take it over.
            let orphan = ours && old.is_secondary();
            if !force && !orphan {
                return Err(bad(format!(
                    "already holds a famfs superblock (file system {}, device {}); \
                     use --force to overwrite it",
                    old.uuid, old.dev_uuid
                )));
            }
        }
        let index = (1..crate::fmap::MAX_DAXDEVS)
            .find(|&i| self.replay.device(i).is_none())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "the device table is full ({} devices)",
                    crate::fmap::MAX_DAXDEVS
                ))
            })?;
        self.check_room(1)?;
        let sb = Superblock::new_secondary(
            size,
            self.sb.uuid,
            dev_uuid.unwrap_or_else(Uuid::new_v4),
            self.sb.system_uuid,
            &device_name(dev.path()),
        );
        let sb_bytes = sb.encode()?;
        dev.zero_range(0, crate::format::SUPERBLOCK_REGION)?;
        dev.write_at(0, &sb_bytes)?;
        dev.write_back(0, SUPERBLOCK_SIZE as u64)?;
        self.append(LogEntry::AddDaxdev(crate::format::AddDaxdevEntry {
            size,
            uuid: sb.dev_uuid,
            index,
        }))?;
        self.devices.insert(index, Arc::new(dev));
        Ok(self
            .replay
            .device(index)
            .cloned()
            .expect("the entry just applied"))
    }

    /// Directories that `mkdir relpath` must create, outermost first. An
    /// existing directory is an error unless `parents` (`mkdir -p`).
    fn missing_dirs(&self, relpath: &str, parents: bool) -> Result<Vec<String>> {
        let ns = self.replay.namespace();
        let mut missing = Vec::new();
        let mut prefix = String::new();
        for comp in relpath.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(comp);
            if !missing.is_empty() {
                missing.push(prefix.clone());
                continue;
            }
            match ns.lookup(&prefix) {
                Ok(n) if n.is_dir() => {}
                Ok(_) if prefix.len() == relpath.len() => return Err(Error::Exists(prefix)),
                Ok(_) => return Err(Error::NotADirectory(prefix)),
                Err(Error::NotFound(_)) => missing.push(prefix.clone()),
                Err(e) => return Err(e),
            }
        }
        match missing.len() {
            0 if !parents => Err(Error::Exists(relpath.to_string())),
            n if n > 1 && !parents => Err(Error::NotFound(crate::path::parent(relpath).into())),
            _ => Ok(missing),
        }
    }

    /// Logs file `dst` with the size, owner, mode and very extents of file
    /// `src`: two files then share memory, which fsck reports as an
    /// allocation collision and replay refuses (the later file is in
    /// error). A test aid, like the reference CLI's `clone`, for checking
    /// exactly that; it is never how famfs makes files.
    pub fn clone_file(&mut self, src: &str, dst: &str) -> Result<Ino> {
        crate::path::check_relpath(dst)?;
        crate::meta_files::check_not_reserved(dst)?;
        self.refresh()?;
        let _lock = self.begin_write()?;
        let node = self.lookup(src)?;
        let f = node
            .as_file()
            .ok_or_else(|| Error::IsADirectory(src.to_string()))?;
        let entry = LogEntry::File(FileEntry {
            size: f.size,
            flags: f.flags,
            uid: node.meta.uid,
            gid: node.meta.gid,
            mode: node.meta.mode,
            relpath: dst.to_string(),
            fmap: f.fmap.clone(),
        });
        match self.lookup(dst) {
            Ok(_) => return Err(Error::Exists(dst.to_string())),
            Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        self.check_parent(dst)?;
        self.append(entry)?;
        Ok(self.lookup(dst)?.ino)
    }

    /// Creates directory `relpath` with `meta`. With `parents` (`mkdir -p`)
    /// missing parents are created with that meta and an existing directory
    /// is fine. Every entry needed is checked to fit in the log before any
    /// is written; when nothing needs appending, neither the writer lock
    /// nor the master role is needed.
    pub fn mkdir(&mut self, relpath: &str, meta: Meta, parents: Option<Meta>) -> Result<Ino> {
        crate::path::check_relpath(relpath)?;
        crate::meta_files::check_not_reserved(relpath)?;
        self.refresh()?;
        if self.missing_dirs(relpath, parents.is_some())?.is_empty() {
            return Ok(self.lookup(relpath)?.ino);
        }
        let _lock = self.begin_write()?;
        let missing = self.missing_dirs(relpath, parents.is_some())?;
        self.check_room(missing.len() as u64)?;
        for p in missing {
            let m = match parents {
                Some(pm) if p.len() < relpath.len() => pm,
                _ => meta,
            };
            self.append(LogEntry::Mkdir(MkdirEntry {
                uid: m.uid,
                gid: m.gid,
                mode: m.mode,
                relpath: p,
            }))?;
        }
        Ok(self.lookup(relpath)?.ino)
    }

    /// `Some` when `relpath` already holds a file of `size` bytes; an error
    /// when it holds something else; `None` when it is free.
    fn existing_file(&self, relpath: &str, size: u64) -> Result<Option<Created>> {
        match self.lookup(relpath) {
            Ok(n) => match n.as_file() {
                Some(f) if f.size == size => Ok(Some(Created::Existing(n.ino))),
                Some(f) => Err(Error::SizeMismatch {
                    path: relpath.to_string(),
                    existing: f.size,
                    requested: size,
                }),
                None => Err(Error::IsADirectory(relpath.to_string())),
            },
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates file `relpath` of `size` bytes: allocates contiguous space,
    /// lets `fill` write its contents, writes them back from the caches and
    /// only then logs the file. An existing file of the same size is left
    /// as it is ([`Created::Existing`]); of another size it is an error.
    /// If `fill` fails nothing is logged and the space stays free.
    pub fn create_file(
        &mut self,
        relpath: &str,
        size: u64,
        meta: Meta,
        fill: impl FnOnce(&FileData) -> Result<()>,
    ) -> Result<Created> {
        self.create_file_placed(relpath, size, meta, &Placement::default(), fill)
    }

    /// [`Famfs::create_file`] with the file placed as `placement` asks
    /// (contiguous, or interleaved over buckets).
    pub fn create_file_placed(
        &mut self,
        relpath: &str,
        size: u64,
        meta: Meta,
        placement: &Placement,
        fill: impl FnOnce(&FileData) -> Result<()>,
    ) -> Result<Created> {
        placement.stripe.validate(
            self.device().size(),
            self.device().kind() == DeviceKind::Simulated,
        )?;
        crate::path::check_relpath(relpath)?;
        crate::meta_files::check_not_reserved(relpath)?;
        self.refresh()?;
        if let Some(done) = self.existing_file(relpath, size)? {
            return Ok(done);
        }
        let _lock = self.begin_write()?;
        if let Some(done) = self.existing_file(relpath, size)? {
            return Ok(done);
        }
        self.check_parent(relpath)?;
        self.check_room(1)?;
        let fmap = self.allocate(size, placement)?;
        let io = self.file_data(fmap.clone(), size)?;
        // FileData writes every byte back from the caches as it goes, so
        // the contents are durable before the entry that publishes them.
        let filled = fill(&io);
        let entry = LogEntry::File(FileEntry {
            size,
            flags: FILE_FLAG_ALL_RW,
            uid: meta.uid,
            gid: meta.gid,
            mode: meta.mode,
            relpath: relpath.to_string(),
            fmap,
        });
        // The space is marked used only when the entry is applied, so a
        // failure here leaves it free.
        filled?;
        fault::reached(FaultPoint::AfterData);
        self.append(entry)?;
        Ok(Created::New(self.lookup(relpath)?.ino))
    }

    /// Chooses space for `size` bytes as `placement` asks, over every
    /// device of the file system (each opened now: a writer must reach them
    /// all). Nothing is marked: applying the file's log entry does that.
    fn allocate(&self, size: u64, placement: &Placement) -> Result<Fmap> {
        let mut spaces = Vec::new();
        for info in self.replay.devices() {
            let dev = self.devices.acquire(info)?;
            // Device 0 was checked before the writer lock was taken.
            if info.index != 0 {
                placement
                    .stripe
                    .validate(info.size, dev.kind() == DeviceKind::Simulated)
                    .map_err(|e| Error::Usage(format!("device {}: {e}", info.index)))?;
            }
            spaces.push(crate::stripe::DeviceSpace {
                index: info.index,
                size: info.size,
                bitmap: self
                    .replay
                    .bitmap(info.index)
                    .expect("every device in the table has a bitmap"),
            });
        }
        crate::stripe::allocate(
            &spaces,
            size,
            &placement.stripe,
            placement.devices,
            placement.seed,
        )
    }
}

/// Where a new file's space goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Placement {
    /// Interleave parameters (all zero: one contiguous extent).
    pub stripe: crate::stripe::StripeParams,
    /// Seed for the device and bucket order (None: random).
    pub seed: Option<u64>,
    /// How many devices an interleaved file spans.
    pub devices: crate::stripe::DeviceCount,
}

/// Entries an 8 MiB log holds (15420), for documentation and tests.
pub const DEFAULT_LOG_ENTRIES: u64 = last_index_for(DEFAULT_LOG_LEN) + 1;

#[cfg(test)]
pub(crate) mod tests;
