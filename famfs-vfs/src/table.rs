//! The host's mount table as one process sees it: the list of mounts, and
//! a watch on the table file so that a mount added or removed after the
//! process started is seen on its next path call.
//!
//! The cost stays off the common path: a path call reads the coarse
//! monotonic clock (a vDSO load, no system call) and only when
//! [`CHECK_EVERY_MS`] have passed since the last look is the path
//! resolved inside the shim, where one `stat` of the table file tells
//! whether it changed (inode, size, modification time) and only a change
//! re-reads it. A list, once published, is never freed (tables change
//! rarely; each list is a few hundred bytes), so a path resolved against
//! an older list stays valid, and mounts that stay in the table keep their
//! state (open devices, replayed log, known nodes).

use super::mount::Mount;
use famfs_core::mounts::{MountEntry, MountTable};
use parking_lot::Mutex;
use std::path::PathBuf;
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
    watch: Option<Watch>,
}

struct Watch {
    path: PathBuf,
    /// Coarse monotonic milliseconds at which to look again.
    next_check: AtomicU64,
    /// The table file as last read (and a lock so one thread re-reads).
    stamp: Mutex<Stamp>,
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

fn publish(mounts: Vec<Arc<Mount>>) -> *mut Vec<Arc<Mount>> {
    Box::into_raw(Box::new(mounts))
}

impl MountSet {
    /// Exactly `mounts`, never re-read (tests, and front ends that know
    /// their mounts).
    pub fn fixed(mounts: Vec<Arc<Mount>>) -> MountSet {
        MountSet {
            list: AtomicPtr::new(publish(mounts)),
            watch: None,
        }
    }

    /// The mounts of the host's table (`FAMFS_MOUNTS`), watched for
    /// changes. A missing or unreadable table is an empty list.
    pub fn from_table() -> MountSet {
        let path = MountTable::path();
        let stamp = stamp_of(&path);
        let set = MountSet {
            list: AtomicPtr::new(publish(Vec::new())),
            watch: Some(Watch {
                path,
                next_check: AtomicU64::new(coarse_ms() + CHECK_EVERY_MS),
                stamp: Mutex::new(stamp),
            }),
        };
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

    /// Whether the list may change: the table is watched.
    pub fn watched(&self) -> bool {
        self.watch.is_some()
    }

    /// Whether it is time to look at the table file again (a clock read).
    #[inline]
    pub fn due(&self) -> bool {
        self.watch
            .as_ref()
            .is_some_and(|w| coarse_ms() >= w.next_check.load(Ordering::Relaxed))
    }

    /// Looks at the table file if it is time, and re-reads it if it
    /// changed. Returns whether the list changed.
    pub fn refresh_if_due(&self) -> bool {
        let Some(w) = &self.watch else {
            return false;
        };
        let now = coarse_ms();
        if now < w.next_check.load(Ordering::Relaxed) {
            return false;
        }
        w.next_check.store(now + CHECK_EVERY_MS, Ordering::Relaxed);
        let Some(mut stamp) = w.stamp.try_lock() else {
            return false;
        };
        let now_stamp = stamp_of(&w.path);
        if now_stamp == *stamp {
            return false;
        }
        *stamp = now_stamp;
        drop(stamp);
        self.reload();
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
            self.list.store(publish(mounts), Ordering::Release);
        }
    }
}

impl std::fmt::Debug for MountSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.list()).finish()
    }
}
