//! Log replay: turning the metadata log into a namespace and allocation map.
//!
//! Replay walks entries `applied..next_index` and applies each in order. It
//! is incremental: a reader that has applied N entries and sees `next_index`
//! grow applies only the new ones, and finding out whether anything is new
//! costs one 8-byte read of the header ([`Replay::has_news`]).
//!
//! Rules (from the reference tools): an entry whose seqnum differs from its
//! index or whose CRC fails is re-read once after invalidating caches (the
//! writer may be mid-append on another host); still bad, replay stops there
//! and reports it, and the next call tries again. Everything else is judged
//! entry by entry: a bad path, a file where a directory must be, an invalid
//! fmap or an allocation collision is recorded as a [`Problem`] and the rest
//! of the log still applies. A path logged twice: the first one wins.

use crate::alloc::Bitmap;
use crate::dax::DaxDevice;
use crate::error::{Error, Result};
use crate::fmap::MAX_DAXDEVS;
use crate::format::{log_off, LogEntry, LogHeader, Superblock, LOG_ENTRY_SIZE, LOG_HEADER_SIZE};
use crate::namespace::{FileNode, Meta, Namespace, Refused};
use crate::path::check_relpath;
use uuid::Uuid;

/// A device known to the file system: the primary (index 0) or one added by
/// an ADD_DAXDEV entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Index in the device table (0 is the primary).
    pub index: u32,
    /// Size in bytes.
    pub size: u64,
    /// Device uuid.
    pub uuid: Uuid,
}

/// What is wrong with an entry, without the "log entry N:" prefix its
/// Display adds: a [`Problem`] carries the index itself.
fn entry_reason(e: Error) -> String {
    match e {
        Error::BadLogEntry { reason, .. } => reason,
        e => e.to_string(),
    }
}

/// Something wrong with one log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Index of the entry in the log.
    pub index: u64,
    /// What is wrong with it.
    pub message: String,
}

/// Counters fsck and logplay report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// FILE entries applied.
    pub files: u64,
    /// MKDIR entries applied.
    pub dirs: u64,
    /// ADD_DAXDEV entries applied.
    pub daxdevs: u64,
    /// DELETE entries seen (never written by any tool).
    pub deletes: u64,
    /// Entries skipped because their path already existed.
    pub duplicates: u64,
}

/// Replay state of one mounted file system.
#[derive(Debug, Clone)]
pub struct Replay {
    log_offset: u64,
    log_len: u64,
    applied: u64,
    ns: Namespace,
    devices: Vec<Option<DeviceInfo>>,
    bitmaps: Vec<Option<Bitmap>>,
    problems: Vec<Problem>,
    stopped: Option<Problem>,
    stats: ReplayStats,
}

/// Log entries copied out of the device at once by replay (17 KiB).
const REPLAY_BATCH: u64 = 32;

/// Units reserved on a secondary device: its superblock region.
const SECONDARY_RESERVED: u64 = crate::format::SUPERBLOCK_REGION;

/// Most allocation units an added device may have (256 TiB in 2 MiB
/// units): its bitmap is built from the size the log records, so a damaged
/// size must not make every reader allocate gigabytes.
const MAX_ADDED_DEVICE_UNITS: u64 = 1 << 27;

impl Replay {
    /// Empty state for the file system described by `sb` on a primary
    /// device of `dev_size` bytes. The root directory is owned by `root`.
    pub fn new(sb: &Superblock, dev_size: u64, root: Meta) -> Self {
        let mut devices = vec![None; MAX_DAXDEVS as usize];
        let mut bitmaps = vec![None; MAX_DAXDEVS as usize];
        devices[0] = Some(DeviceInfo {
            index: 0,
            size: dev_size,
            uuid: sb.dev_uuid,
        });
        bitmaps[0] = Some(Bitmap::new(dev_size, sb.alloc_unit, sb.metadata_end()));
        Replay {
            log_offset: sb.log_offset,
            log_len: sb.log_len,
            applied: 0,
            ns: Namespace::new(root),
            devices,
            bitmaps,
            problems: Vec::new(),
            stopped: None,
            stats: ReplayStats::default(),
        }
    }

    /// Entries applied so far.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// The namespace replayed so far.
    pub fn namespace(&self) -> &Namespace {
        &self.ns
    }

    /// Per-entry problems found so far, in log order.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The entry replay stopped at, if it could not be read.
    pub fn stopped(&self) -> Option<&Problem> {
        self.stopped.as_ref()
    }

    /// What replay has applied, by kind.
    pub fn stats(&self) -> ReplayStats {
        self.stats
    }

    /// The device table (index 0 is the primary device).
    pub fn devices(&self) -> impl Iterator<Item = &DeviceInfo> {
        self.devices.iter().flatten()
    }

    /// Device `index` of the device table, if an entry added it.
    pub fn device(&self, index: u32) -> Option<&DeviceInfo> {
        self.devices.get(index as usize)?.as_ref()
    }

    /// Allocation bitmap of device `index`.
    pub fn bitmap(&self, index: u32) -> Option<&Bitmap> {
        self.bitmaps.get(index as usize)?.as_ref()
    }

    /// Collisions over all devices.
    pub fn collisions(&self) -> u64 {
        self.bitmaps.iter().flatten().map(Bitmap::collisions).sum()
    }

    /// True when the log holds entries not applied yet. One 8-byte read of
    /// the header (after invalidating its cache line, since another host may
    /// have appended): cheap enough for every lookup miss.
    pub fn has_news(&self, dev: &DaxDevice) -> Result<bool> {
        let at = self.log_offset + log_off::NEXT_INDEX as u64;
        dev.invalidate(at, 8)?;
        Ok(dev.read_u64(at)? != self.applied || self.stopped.is_some())
    }

    /// Reads and checks the log header.
    pub fn read_header(&self, dev: &DaxDevice) -> Result<LogHeader> {
        let mut buf = [0u8; LOG_HEADER_SIZE as usize];
        dev.invalidate(self.log_offset, LOG_HEADER_SIZE)?;
        dev.read_at(self.log_offset, &mut buf)?;
        LogHeader::decode(&buf, self.log_len)
    }

    /// Reads entry `index` and checks it is intact (seqnum and CRC).
    fn read_sealed(&self, dev: &DaxDevice, index: u64) -> Result<[u8; LOG_ENTRY_SIZE as usize]> {
        let at = self.log_offset + LogHeader::entry_offset(index);
        let mut buf = [0u8; LOG_ENTRY_SIZE as usize];
        dev.read_at(at, &mut buf)?;
        if LogEntry::check_sealed(&buf, index).is_err() {
            // A writer on another host may have published the header
            // before our view of the entry: drop stale lines, read again.
            dev.invalidate(at, LOG_ENTRY_SIZE)?;
            dev.read_at(at, &mut buf)?;
            LogEntry::check_sealed(&buf, index)?;
        }
        Ok(buf)
    }

    /// Reads and decodes entry `index` as replay does (re-read once if it
    /// is not sealed), for tools that list entries.
    pub fn read_entry(&self, dev: &DaxDevice, index: u64) -> Result<LogEntry> {
        LogEntry::decode_content(&self.read_sealed(dev, index)?, index)
    }

    /// Applies every entry not applied yet; returns how many were applied.
    /// A bad header is an error; a bad entry stops replay there (see
    /// [`Replay::stopped`]) without failing the call.
    pub fn catch_up(&mut self, dev: &DaxDevice) -> Result<u64> {
        if !self.has_news(dev)? {
            return Ok(0);
        }
        let header = self.read_header(dev)?;
        let start = self.applied;
        self.stopped = None;
        if header.next_index > start {
            // Entries appended by another host may sit stale in our caches.
            let from = self.log_offset + LogHeader::entry_offset(start);
            // A memory error stops the invalidation at the line it hits;
            // replay then stops at the entry holding that line, when it
            // cannot read it, with every entry before it invalidated.
            let _ = dev.invalidate(from, (header.next_index - start) * LOG_ENTRY_SIZE);
            self.ns
                .reserve(usize::try_from(header.next_index - start).unwrap_or(0));
        }
        // Entries are copied out of the device a batch at a time: one copy
        // streams the batch's lines from memory together, where copying
        // and checking one entry at a time waited for each entry's lines
        // in turn (the log was just invalidated, so they come from memory).
        // (A catch-up of one new entry, the common lookup miss, allocates
        // one entry's room.)
        let pending = header.next_index.saturating_sub(start).min(REPLAY_BATCH);
        let mut batch = vec![0u8; (pending * LOG_ENTRY_SIZE) as usize];
        let mut first = start;
        'log: while first < header.next_index {
            let n = (header.next_index - first).min(REPLAY_BATCH);
            let bytes = &mut batch[..(n * LOG_ENTRY_SIZE) as usize];
            // A memory error in the batch sends each of its entries through
            // the one-entry path, which stops replay at the entry it hits.
            let copied = dev
                .read_at(self.log_offset + LogHeader::entry_offset(first), bytes)
                .is_ok();
            for (index, raw) in (first..).zip(bytes.chunks_exact(LOG_ENTRY_SIZE as usize)) {
                let reread;
                let raw = if copied && LogEntry::check_sealed(raw, index).is_ok() {
                    raw
                } else {
                    // Not intact in the batch: the rules for one entry
                    // (invalidate, read again once).
                    match self.read_sealed(dev, index) {
                        Ok(b) => {
                            reread = b;
                            &reread[..]
                        }
                        Err(e) => {
                            tracing::debug!(index, error = %e, "log replay stopped at a bad entry");
                            self.stopped = Some(Problem {
                                index,
                                message: entry_reason(e),
                            });
                            break 'log;
                        }
                    }
                };
                match LogEntry::decode_content(raw, index) {
                    Ok(entry) => self.apply(index, entry),
                    Err(e) => {
                        // Intact but meaningless: skip it, keep the rest.
                        self.applied = index + 1;
                        self.problem(index, entry_reason(e));
                    }
                }
            }
            first += n;
        }
        tracing::debug!(from = start, to = self.applied, "log replayed");
        Ok(self.applied - start)
    }

    fn problem(&mut self, index: u64, message: impl Into<String>) {
        self.problems.push(Problem {
            index,
            message: message.into(),
        });
    }

    /// Applies one decoded entry; `index` must be the next one. The entry
    /// is consumed: its fmap moves into the namespace without a copy.
    pub fn apply(&mut self, index: u64, entry: LogEntry) {
        debug_assert_eq!(index, self.applied);
        self.applied = index + 1;
        match entry {
            LogEntry::File(f) => self.apply_file(index, f),
            LogEntry::Mkdir(d) => {
                if let Err(e) = check_relpath(&d.relpath) {
                    return self.problem(index, e.to_string());
                }
                let meta = Meta {
                    uid: d.uid,
                    gid: d.gid,
                    mode: d.mode & 0o7777,
                };
                match self.ns.insert_dir(d.relpath, meta, index) {
                    Ok(_) => self.stats.dirs += 1,
                    Err(Refused {
                        error: Error::Exists(_),
                        relpath,
                    }) => {
                        if self.ns.lookup(&relpath).is_ok_and(|n| n.is_dir()) {
                            self.stats.duplicates += 1;
                        } else {
                            self.problem(
                                index,
                                format!("mkdir {relpath}: a file exists where a directory must be"),
                            );
                        }
                    }
                    Err(r) => self.problem(index, format!("mkdir: {}", r.error)),
                }
            }
            LogEntry::Delete => {
                self.stats.deletes += 1;
                self.problem(index, "DELETE entry ignored (famfs has no delete)");
            }
            LogEntry::AddDaxdev(d) => self.apply_daxdev(index, &d),
        }
    }

    fn apply_daxdev(&mut self, index: u64, d: &crate::format::AddDaxdevEntry) {
        let slot = d.index as usize;
        if d.index == 0 || slot >= self.devices.len() {
            return self.problem(
                index,
                format!(
                    "add daxdev: index {} out of range 1..{MAX_DAXDEVS}",
                    d.index
                ),
            );
        }
        if self.devices[slot].is_some() {
            return self.problem(
                index,
                format!("add daxdev: index {} already in use", d.index),
            );
        }
        let clash = self.devices().find(|x| x.uuid == d.uuid).map(|x| x.index);
        if let Some(other) = clash {
            return self.problem(
                index,
                format!("add daxdev: uuid {} already used by device {other}", d.uuid),
            );
        }
        let unit = self.bitmaps[0]
            .as_ref()
            .map_or(crate::format::ALLOC_UNIT, Bitmap::unit);
        if d.size == 0 || d.size.div_ceil(unit) > MAX_ADDED_DEVICE_UNITS {
            return self.problem(
                index,
                format!(
                    "add daxdev: size {} is 0 or over {MAX_ADDED_DEVICE_UNITS} allocation units",
                    d.size
                ),
            );
        }
        self.devices[slot] = Some(DeviceInfo {
            index: d.index,
            size: d.size,
            uuid: d.uuid,
        });
        self.bitmaps[slot] = Some(Bitmap::new(d.size, unit, SECONDARY_RESERVED));
        self.stats.daxdevs += 1;
    }

    fn apply_file(&mut self, index: u64, f: crate::format::FileEntry) {
        // Every FILE entry claims its memory, even one that loses its path
        // to an earlier entry: the space must never be handed out again.
        let mut collided = false;
        for r in f.fmap.device_ranges() {
            if let Some(b) = self
                .bitmaps
                .get_mut(r.devindex as usize)
                .and_then(Option::as_mut)
            {
                collided |= b.mark(r.offset, r.len) > 0;
            }
        }
        if let Err(e) = check_relpath(&f.relpath) {
            return self.problem(index, e.to_string());
        }
        let devices = &self.devices;
        let mut error = f
            .fmap
            .validate(f.size, |i| {
                devices.get(i as usize)?.as_ref().map(|d| d.size)
            })
            .err()
            .map(|e| e.to_string());
        if collided && error.is_none() {
            error = Some("allocation collision: its memory is claimed by an earlier file".into());
        }
        if let Some(msg) = &error {
            self.problem(index, format!("{}: {msg}", f.relpath));
        }
        let meta = Meta {
            uid: f.uid,
            gid: f.gid,
            mode: f.mode & 0o7777,
        };
        let node = FileNode {
            size: f.size,
            flags: f.flags,
            fmap: f.fmap,
            error,
        };
        match self.ns.insert_file(f.relpath, meta, index, node) {
            Ok(_) => self.stats.files += 1,
            Err(Refused { error, relpath }) => match error {
                Error::Exists(_) => self.stats.duplicates += 1,
                Error::NotADirectory(p) => self.problem(
                    index,
                    format!("{relpath}: '{p}' is a file where a directory must be"),
                ),
                e => self.problem(index, format!("{relpath}: {e}")),
            },
        }
    }
}

#[cfg(test)]
mod tests;
