//! What a FUSE file handle stands for: an open file (famfs-vfs's
//! `OpenFile`, with the shim's read and write rules) or a directory's
//! listing taken when it was opened.

use famfs_vfs::{DirEntry, OpenFile};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One open handle.
#[derive(Clone)]
pub enum Handle {
    /// An open file (or a directory opened as a file).
    File(Arc<OpenFile>),
    /// A directory's entries, `.` and `..` first.
    Dir(Arc<Vec<DirEntry>>),
}

/// Handles by number. Numbers are never reused within a session, so a
/// stale number from the kernel finds nothing rather than another file.
#[derive(Default)]
pub struct Handles {
    next: AtomicU64,
    open: RwLock<HashMap<u64, Handle>>,
}

impl Handles {
    /// Keeps `h`; returns its number (never 0).
    pub fn insert(&self, h: Handle) -> u64 {
        let fh = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.open.write().insert(fh, h);
        fh
    }

    /// The open file of handle `fh`.
    pub fn file(&self, fh: u64) -> Option<Arc<OpenFile>> {
        match self.open.read().get(&fh)? {
            Handle::File(f) => Some(f.clone()),
            Handle::Dir(_) => None,
        }
    }

    /// The listing of directory handle `fh`.
    pub fn listing(&self, fh: u64) -> Option<Arc<Vec<DirEntry>>> {
        match self.open.read().get(&fh)? {
            Handle::Dir(d) => Some(d.clone()),
            Handle::File(_) => None,
        }
    }

    /// Lets go of handle `fh`; returns whether it existed.
    pub fn remove(&self, fh: u64) -> bool {
        self.open.write().remove(&fh).is_some()
    }
}
