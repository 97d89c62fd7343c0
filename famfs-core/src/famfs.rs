//! A famfs file system on a device: format it, open it, replay it, read and
//! write its files, and (as the master host) append to its log.
//!
//! Writers on one host serialise with an exclusive `flock` on the device;
//! only the master host may append. A new file's space is allocated, its
//! contents written and written back from the CPU caches *before* its log
//! entry is appended, so a file is either absent or complete on every host,
//! and a failure at any step leaves the log and allocation untouched.

use crate::dax::{Access, DaxDevice, DeviceKind};
use crate::error::{Error, Result};
use crate::fault::{self, FaultPoint};
use crate::fmap::Fmap;
use crate::format::{
    last_index_for, log_off, FileEntry, LogEntry, LogHeader, MkdirEntry, Superblock,
    DEFAULT_LOG_LEN, FILE_FLAG_ALL_RW, LOG_ENTRY_SIZE, LOG_HEADER_SIZE, LOG_OFFSET,
    SUPERBLOCK_SIZE,
};
use crate::host::{self, Role};
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
    pub log_len: u64,
    /// Overwrite an existing valid file system.
    pub force: bool,
    /// Test aids: pin the uuids and the device name the superblock records.
    pub uuid: Option<Uuid>,
    pub dev_uuid: Option<Uuid>,
    pub system_uuid: Option<Uuid>,
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

/// Zeroes `[offset, offset + len)`, skipping pages that are already zero so
/// a sparse simulated region stays sparse.
fn zero_range(dev: &DaxDevice, offset: u64, len: u64) -> Result<()> {
    const STEP: u64 = 64 << 10;
    let mut at = offset;
    while at < offset + len {
        let n = STEP.min(offset + len - at);
        if !dev.is_zero(at, n)? {
            dev.fill(at, n, 0)?;
        }
        at += n;
    }
    dev.write_back(offset, len)
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

    zero_range(dev, 0, crate::format::SUPERBLOCK_REGION)?;
    zero_range(dev, LOG_OFFSET, opts.log_len)?;
    dev.write_at(LOG_OFFSET, &LogHeader::new(opts.log_len).encode())?;
    dev.write_back(LOG_OFFSET, LOG_HEADER_SIZE)?;
    dev.write_at(0, &sb_bytes)?;
    dev.write_back(0, SUPERBLOCK_SIZE as u64)?;
    Ok(sb)
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
    pub fn ino(self) -> Ino {
        match self {
            Created::New(i) | Created::Existing(i) => i,
        }
    }
}

/// Bounds-checked access to one file's bytes on the device.
pub struct FileIo<'a> {
    dev: &'a DaxDevice,
    fmap: &'a Fmap,
    size: u64,
}

impl<'a> FileIo<'a> {
    pub fn size(&self) -> u64 {
        self.size
    }

    fn device(&self, devindex: u32) -> Result<&'a DaxDevice> {
        if devindex == 0 {
            Ok(self.dev)
        } else {
            Err(Error::BadDevice {
                path: self.dev.path().to_path_buf(),
                reason: format!("extent on device index {devindex}, which is not available"),
            })
        }
    }

    /// Reads up to `buf.len()` bytes at `off`; 0 at or past EOF.
    pub fn read(&self, off: u64, buf: &mut [u8]) -> Result<usize> {
        let mut done = 0;
        for p in self.fmap.pieces(self.size, off, buf.len() as u64) {
            let n = p.len as usize;
            self.device(p.devindex)?
                .read_at(p.offset, &mut buf[done..done + n])?;
            done += n;
        }
        Ok(done)
    }

    /// Writes `data` at `off` in place; never extends the file: the count
    /// written is cut at EOF.
    pub fn write(&self, off: u64, data: &[u8]) -> Result<usize> {
        let mut done = 0;
        for p in self.fmap.pieces(self.size, off, data.len() as u64) {
            let n = p.len as usize;
            let dev = self.device(p.devindex)?;
            dev.write_at(p.offset, &data[done..done + n])?;
            dev.write_back(p.offset, p.len)?;
            done += n;
        }
        Ok(done)
    }

    /// Zeroes the whole file, leaving already-zero pages untouched.
    pub fn zero(&self) -> Result<()> {
        for p in self.fmap.pieces(self.size, 0, self.size) {
            zero_range(self.device(p.devindex)?, p.offset, p.len)?;
        }
        Ok(())
    }
}

/// An open famfs file system.
pub struct Famfs {
    dev: Arc<DaxDevice>,
    sb: Superblock,
    replay: Replay,
}

impl std::fmt::Debug for Famfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Famfs")
            .field("device", &self.dev.path())
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
        let size = if sb.dev_size == 0 {
            dev.size()
        } else {
            sb.dev_size
        };
        let mut replay = Replay::new(&sb, size, ROOT_META);
        replay.read_header(&dev)?;
        replay.catch_up(&dev)?;
        Ok(Famfs {
            dev: Arc::new(dev),
            sb,
            replay,
        })
    }

    pub fn device(&self) -> &DaxDevice {
        &self.dev
    }

    /// The device mapping, shared with open files that outlive a borrow of
    /// `self` (the shim's file handles).
    pub fn device_arc(&self) -> &Arc<DaxDevice> {
        &self.dev
    }

    pub fn superblock(&self) -> &Superblock {
        &self.sb
    }

    pub fn replay(&self) -> &Replay {
        &self.replay
    }

    /// The log header as it is on the device now.
    pub fn log_header(&self) -> Result<LogHeader> {
        self.replay.read_header(&self.dev)
    }

    /// Applies entries appended since the last call (by this or any other
    /// process or host); returns how many.
    pub fn refresh(&mut self) -> Result<u64> {
        self.replay.catch_up(&self.dev)
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
    pub fn file_io(&self, ino: Ino) -> Result<FileIo<'_>> {
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
        Ok(FileIo {
            dev: &self.dev,
            fmap: &f.fmap,
            size: f.size,
        })
    }

    /// Takes the writer lock, checks this host may append and brings the
    /// namespace up to date. The lock is released when the guard drops.
    fn begin_write(&mut self) -> Result<Flock<std::fs::File>> {
        if self.dev.access() != Access::ReadWrite {
            return Err(Error::ReadOnly {
                path: self.dev.path().to_path_buf(),
            });
        }
        self.require_master()?;
        fault::check_env()?;
        let file = self
            .dev
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
    fn free_entries(&self) -> Result<u64> {
        let h = self.log_header()?;
        Ok(h.capacity() - h.next_index)
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
        self.dev.write_at(at, &bytes)?;
        self.dev.write_back(at, LOG_ENTRY_SIZE)?;
        fault::reached(FaultPoint::AfterEntry);
        // seqnum first, index last: next_index publishes the entry.
        h.next_seqnum = index + 1;
        h.next_index = index + 1;
        let base = self.sb.log_offset;
        self.dev
            .write_u64(base + log_off::NEXT_SEQNUM as u64, h.next_seqnum)?;
        fault::reached(FaultPoint::AfterSeqnum);
        self.dev
            .write_u64(base + log_off::NEXT_INDEX as u64, h.next_index)?;
        self.dev.write_back(base, LOG_HEADER_SIZE)?;
        tracing::debug!(index, path = entry.relpath(), "log entry appended");
        self.replay.apply(index, entry);
        Ok(index)
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

    /// Creates directory `relpath` with `meta`. With `parents` (`mkdir -p`)
    /// missing parents are created with that meta and an existing directory
    /// is fine. Every entry needed is checked to fit in the log before any
    /// is written; when nothing needs appending, neither the writer lock
    /// nor the master role is needed.
    pub fn mkdir(&mut self, relpath: &str, meta: Meta, parents: Option<Meta>) -> Result<Ino> {
        crate::path::check_relpath(relpath)?;
        self.refresh()?;
        if self.missing_dirs(relpath, parents.is_some())?.is_empty() {
            return Ok(self.lookup(relpath)?.ino);
        }
        let _lock = self.begin_write()?;
        let missing = self.missing_dirs(relpath, parents.is_some())?;
        let free = self.free_entries()?;
        if (missing.len() as u64) > free {
            return Err(Error::LogFull {
                entries: self.log_header()?.capacity(),
            });
        }
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
        fill: impl FnOnce(&FileIo<'_>) -> Result<()>,
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
        fill: impl FnOnce(&FileIo<'_>) -> Result<()>,
    ) -> Result<Created> {
        placement
            .stripe
            .validate(self.dev.size(), self.dev.kind() == DeviceKind::Simulated)?;
        crate::path::check_relpath(relpath)?;
        self.refresh()?;
        if let Some(done) = self.existing_file(relpath, size)? {
            return Ok(done);
        }
        let _lock = self.begin_write()?;
        if let Some(done) = self.existing_file(relpath, size)? {
            return Ok(done);
        }
        let parent = self.lookup(crate::path::parent(relpath))?;
        if !parent.is_dir() {
            return Err(Error::NotADirectory(crate::path::parent(relpath).into()));
        }
        if self.free_entries()? == 0 {
            return Err(Error::LogFull {
                entries: self.log_header()?.capacity(),
            });
        }
        let fmap = self.allocate(size, placement)?;
        let io = FileIo {
            dev: &self.dev,
            fmap: &fmap,
            size,
        };
        // FileIo writes every byte back from the caches as it goes, so the
        // contents are durable before the entry that publishes them.
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

    /// Chooses space for `size` bytes as `placement` asks. Nothing is
    /// marked: applying the file's log entry does that.
    fn allocate(&self, size: u64, placement: &Placement) -> Result<Fmap> {
        let bitmap = self
            .replay
            .bitmap(0)
            .expect("the primary device always has a bitmap");
        crate::stripe::allocate(
            bitmap,
            self.dev.size(),
            size,
            &placement.stripe,
            placement.seed,
        )
    }
}

/// Where a new file's space goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Placement {
    /// Interleave parameters (all zero: one contiguous extent).
    pub stripe: crate::stripe::StripeParams,
    /// Seed for the bucket order (None: random).
    pub seed: Option<u64>,
}

/// Entries an 8 MiB log holds (15420), for documentation and tests.
pub const DEFAULT_LOG_ENTRIES: u64 = last_index_for(DEFAULT_LOG_LEN) + 1;

#[cfg(test)]
pub(crate) mod tests;
