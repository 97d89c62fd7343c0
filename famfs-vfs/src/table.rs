//! The host's mount table as one process sees it: the list of mounts, and
//! a watch on the table file so that a mount added or removed after the
//! process started is seen on its next path call.
//!
//! The cost stays off the common path. `famfs mount` and `umount` count
//! each update of the table in its lock file (see
//! [`famfs_core::mounts`]), which the process maps read-only: a path call
//! compares that count with the one it last read the table at, one load
//! from memory. Before the lock file holds a count (no update yet on this
//! host), a path call reads the coarse monotonic clock instead (a vDSO
//! call) and looks at the table every [`CHECK_EVERY_MS`]. Either way the
//! look happens inside the shim, where one `stat` of the table file tells
//! whether it changed (inode, size, modification time) and only a change
//! re-reads it. Calls that the shim resolves anyway also look every
//! [`CHECK_EVERY_MS`], so a table edited by other means is noticed at the
//! next famfs call. A list, once published, is never freed (tables change
//! rarely; each list is a few hundred bytes), so a path resolved against
//! an older list stays valid, and mounts that stay in the table keep their
//! state (open devices, replayed log, known nodes).

use super::mount::Mount;
use super::mount_names::{names, NameLine};
use famfs_core::memerr;
use famfs_core::mounts::{lock_path, MountEntry, MountTable};
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::Arc;

/// How often, at most, a process looks at the mount table file again.
pub const CHECK_EVERY_MS: u64 = 200;

/// What identifies a version of the table file: inode, size and
/// modification time (an atomic rename gives a new inode).
type Stamp = Option<(u64, i64, i64, i64)>;

/// The mounts of a process, and where they come from.
pub(crate) struct MountSet {
    list: AtomicPtr<Vec<Arc<Mount>>>,
    /// The current list's mount names, for [`MountSet::may_be_named`].
    names: NameLine,
    watch: Option<Watch>,
}

struct Watch {
    path: PathBuf,
    /// The update count in the table's lock file, mapped; null until the
    /// lock file holds one.
    count: AtomicPtr<u64>,
    /// The inode of the lock file `count` maps (0 for none).
    count_ino: AtomicU64,
    /// The update count when the table was last read.
    seen: AtomicU64,
    /// Coarse monotonic milliseconds at which to look again.
    next_check: AtomicU64,
    /// The table file as last read (and a lock so one thread re-reads).
    stamp: Mutex<Stamp>,
}

impl Watch {
    /// The table's update count, if it is mapped and readable.
    #[inline]
    fn count(&self) -> Option<u64> {
        let p = self.count.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: `p` is the page-aligned start of a read-only mapping of
        // at least 8 bytes that is never unmapped (`map_count`); other
        // processes write it, so it is read by one recoverable load, never
        // through a reference. A page gone (the file truncated) is a
        // SIGBUS the handler `map_count` installed turns into an error.
        unsafe { memerr::load_u64(p) }.ok()
    }

    /// Whether the table may have changed since it was last read.
    #[inline]
    fn due(&self) -> bool {
        match self.count() {
            Some(c) => c != self.seen.load(Ordering::Acquire),
            None => coarse_ms() >= self.next_check.load(Ordering::Relaxed),
        }
    }
}

/// Maps the update count of the table at `table` (the first 8 bytes of its
/// lock file) for the life of the process, with the lock file's inode;
/// None if there is no count yet or it cannot be mapped, and the clock
/// stands in.
fn map_count(table: &Path) -> Option<(*mut u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let f = std::fs::File::open(lock_path(table)).ok()?;
    let meta = f.metadata().ok()?;
    if meta.len() < 8 {
        return None;
    }
    memerr::install().ok()?;
    // SAFETY: a read-only shared mapping of a file other processes write;
    // it is read only through `Watch::count` (see there).
    let map = unsafe { memmap2::Mmap::map(&f) }.ok()?;
    let p = map.as_ptr().cast::<u64>().cast_mut();
    // Kept for the life of the process: another thread may be reading it.
    std::mem::forget(map);
    Some((p, meta.ino()))
}

impl Watch {
    /// Maps the count if none is mapped yet, or maps it anew if the lock
    /// file was replaced (removed and made again: a new inode). Called
    /// under the stamp lock.
    fn follow_count(&self) {
        use std::os::unix::fs::MetadataExt;
        if !self.count.load(Ordering::Acquire).is_null() {
            let now = std::fs::metadata(lock_path(&self.path)).map(|m| m.ino());
            if now.map_or(true, |i| i == self.count_ino.load(Ordering::Relaxed)) {
                return;
            }
        }
        if let Some((p, ino)) = map_count(&self.path) {
            self.count_ino.store(ino, Ordering::Relaxed);
            self.count.store(p, Ordering::Release);
        }
    }
}

fn coarse_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is valid output space; the coarse clock is read from the
    // vDSO without a system call.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

/// The table file's identity, read with a raw system call (this runs
/// inside the shim's hooks).
fn stamp_of(path: &std::path::Path) -> Stamp {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: all-zero is a valid stat to fill in.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let a = [
        libc::AT_FDCWD as libc::c_long,
        c.as_ptr() as libc::c_long,
        &mut st as *mut libc::stat as libc::c_long,
        0,
        0,
        0,
    ];
    // SAFETY: newfstatat of a NUL-terminated path into a stat we own.
    if unsafe { famfs_core::syscall::raw(libc::SYS_newfstatat, a) } != 0 {
        return None;
    }
    Some((st.st_ino, st.st_size, st.st_mtime, st.st_mtime_nsec))
}

impl MountSet {
    fn new(watch: Option<Watch>) -> MountSet {
        MountSet {
            list: AtomicPtr::new(Box::into_raw(Box::default())),
            names: NameLine::default(),
            watch,
        }
    }

    /// Makes `mounts` the current list (one writer at a time).
    fn publish(&self, mounts: Vec<Arc<Mount>>) {
        self.names.store(mounts.iter().map(|m| m.name.as_bytes()));
        self.list
            .store(Box::into_raw(Box::new(mounts)), Ordering::Release);
    }

    /// Exactly `mounts`, never re-read (tests, and front ends that know
    /// their mounts).
    pub fn fixed(mounts: Vec<Arc<Mount>>) -> MountSet {
        let set = MountSet::new(None);
        set.publish(mounts);
        set
    }

    /// The mounts of the host's table (`FAMFS_MOUNTS`), watched for
    /// changes. A missing or unreadable table is an empty list.
    pub fn from_table() -> MountSet {
        MountSet::watching(MountTable::path())
    }

    /// The mounts of the table at `path`, watched for changes.
    fn watching(path: PathBuf) -> MountSet {
        let w = Watch {
            path,
            count: AtomicPtr::new(std::ptr::null_mut()),
            count_ino: AtomicU64::new(0),
            seen: AtomicU64::new(0),
            next_check: AtomicU64::new(coarse_ms() + CHECK_EVERY_MS),
            stamp: Mutex::new(None),
        };
        w.follow_count();
        // The count before the table: an update in between is seen next.
        w.seen.store(w.count().unwrap_or(0), Ordering::Relaxed);
        *w.stamp.lock() = stamp_of(&w.path);
        let set = MountSet::new(Some(w));
        set.reload();
        set
    }

    /// The current list.
    #[inline]
    pub fn list(&self) -> &[Arc<Mount>] {
        // SAFETY: every published list is leaked, so it lives as long as
        // the process; it is never written after it is published.
        unsafe { &*self.list.load(Ordering::Acquire) }
    }

    /// Whether `path` names one of the mounts, as any path that reaches
    /// into a mount from outside it must (a path under a mount point
    /// names that mount too).
    #[inline]
    pub fn may_be_named(&self, path: &[u8]) -> bool {
        self.names
            .named_in(path)
            .unwrap_or_else(|| self.list().iter().any(|m| names(path, m.name.as_bytes())))
    }

    /// Whether the list may change: the table is watched.
    #[inline]
    pub fn watched(&self) -> bool {
        self.watch.is_some()
    }

    /// Whether the table may have changed since it was last read: its
    /// update count moved, or (before there is one) the clock says it is
    /// time to look.
    #[inline]
    pub fn due(&self) -> bool {
        self.watch.as_ref().is_some_and(Watch::due)
    }

    /// Looks at the table file if its update count moved or
    /// [`CHECK_EVERY_MS`] have passed, and re-reads it if it changed.
    /// Returns whether it was re-read.
    ///
    /// A moved count promises the caller the new table, so a thread that
    /// finds another one re-reading waits for it; a timed look promises
    /// nothing and never waits. `seen` moves only once the table read at
    /// that count is published: a thread that finds the count equal to
    /// `seen` may use the current list.
    pub fn refresh_if_due(&self) -> bool {
        let Some(w) = &self.watch else {
            return false;
        };
        let counted = w
            .count()
            .is_some_and(|c| c != w.seen.load(Ordering::Acquire));
        let now = coarse_ms();
        let timed = now >= w.next_check.load(Ordering::Relaxed);
        if !counted && !timed {
            return false;
        }
        if timed {
            w.next_check.store(now + CHECK_EVERY_MS, Ordering::Relaxed);
        }
        let mut stamp = if counted {
            w.stamp.lock()
        } else {
            match w.stamp.try_lock() {
                Some(s) => s,
                None => return false,
            }
        };
        if timed {
            w.follow_count();
        }
        // The count before the table: an update in between is seen next.
        let count = w.count();
        let moved = count.is_some_and(|c| c != w.seen.load(Ordering::Acquire));
        if !moved && !timed {
            // Another thread published this count while we waited.
            return false;
        }
        let now_stamp = stamp_of(&w.path);
        if now_stamp == *stamp && !moved {
            return false;
        }
        *stamp = now_stamp;
        self.reload();
        if let Some(c) = count {
            w.seen.store(c, Ordering::Release);
        }
        true
    }

    /// Reads the table and publishes its mounts, keeping the `Mount` of
    /// every entry that did not change.
    fn reload(&self) {
        let Some(w) = &self.watch else {
            return;
        };
        let entries: Vec<MountEntry> = match MountTable::load_from(&w.path) {
            Ok(t) => t.entries,
            Err(e) => {
                tracing::debug!(error = %e, "no famfs mount table; the shim passes everything through");
                Vec::new()
            }
        };
        let old = self.list();
        let mounts: Vec<Arc<Mount>> = entries
            .into_iter()
            .map(|e| {
                old.iter()
                    .find(|m| m.entry == e)
                    .cloned()
                    .unwrap_or_else(|| Arc::new(Mount::new(e)))
            })
            .collect();
        let changed =
            mounts.len() != old.len() || mounts.iter().zip(old).any(|(a, b)| !Arc::ptr_eq(a, b));
        if changed {
            tracing::debug!(mounts = mounts.len(), "famfs mount table changed");
            self.publish(mounts);
        }
    }
}

impl std::fmt::Debug for MountSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.list()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    fn entry(i: u64) -> MountEntry {
        MountEntry {
            mountpoint: format!("/famfs-{i}").into(),
            device: format!("/dev/dax-none{i}").into(),
            fs_uuid: uuid::Uuid::from_u64_pair(0, i),
            mount_time: 0,
            options: Vec::new(),
        }
    }

    /// Every thread whose call starts after a counted update returns sees
    /// the new table, even while other threads are re-reading it: a call
    /// that finds the count moved waits for the thread already re-reading
    /// instead of going on with the old list.
    #[test]
    fn every_call_after_a_counted_update_sees_it() {
        const ROUNDS: u64 = 150;
        let dir = tempfile::tempdir().unwrap();
        let table = dir.path().join("mounts");
        let add = |i: u64| MountTable::update_at(&table, |t| t.add(entry(i))).unwrap();
        add(ROUNDS);
        let set = MountSet::watching(table.clone());
        assert_eq!(set.list().len(), 1);
        // Updates that have returned.
        let landed = AtomicU64::new(0);
        let stop = AtomicBool::new(false);
        let stale = AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    while !stop.load(Ordering::Acquire) {
                        let promised = landed.load(Ordering::Acquire);
                        // What a path call does before it uses the list.
                        if set.due() {
                            set.refresh_if_due();
                        }
                        if (set.list().len() as u64) < 1 + promised {
                            stale.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
            // The readers stop even if an update panics.
            struct Stop<'a>(&'a AtomicBool);
            impl Drop for Stop<'_> {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::Release);
                }
            }
            let _stop = Stop(&stop);
            for i in 0..ROUNDS {
                add(i);
                landed.fetch_add(1, Ordering::Release);
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        });
        assert_eq!(set.list().len() as u64, 1 + ROUNDS);
        assert_eq!(
            stale.load(Ordering::Relaxed),
            0,
            "calls that saw an old table"
        );
    }
}
