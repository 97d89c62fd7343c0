//! File descriptor numbers of open famfs files.
//!
//! Every famfs open gets a real kernel descriptor as a placeholder (a dup of
//! one `O_PATH` descriptor), so its number can never collide with the
//! process's own descriptors, and dup, close and exec keep their kernel
//! semantics for it. This table maps the number to the open file.

use super::file::OpenFile;
use parking_lot::RwLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Default)]
pub struct FdTable {
    slots: RwLock<Vec<Option<Arc<OpenFile>>>>,
    /// Number of famfs descriptors: while zero, no lookup takes the lock.
    count: AtomicUsize,
}

impl FdTable {
    /// The open file behind `fd`, if `fd` is a famfs descriptor.
    #[inline]
    pub fn get(&self, fd: i32) -> Option<Arc<OpenFile>> {
        if fd < 0 || self.count.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.slots.read().get(fd as usize).cloned().flatten()
    }

    /// True while no famfs descriptor is open: a lock-free answer to "is
    /// this descriptor famfs?" for the common case.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.count.load(Ordering::Acquire) == 0
    }

    /// Whether `fd` is a famfs descriptor.
    #[inline]
    pub fn contains(&self, fd: i32) -> bool {
        if fd < 0 || self.count.load(Ordering::Acquire) == 0 {
            return false;
        }
        matches!(self.slots.read().get(fd as usize), Some(Some(_)))
    }

    /// Maps `fd` to `of`; returns what it mapped before.
    pub fn insert(&self, fd: i32, of: Arc<OpenFile>) -> Option<Arc<OpenFile>> {
        let mut s = self.slots.write();
        let i = fd as usize;
        if s.len() <= i {
            s.resize(i + 1, None);
        }
        let old = s[i].replace(of);
        if old.is_none() {
            self.count.fetch_add(1, Ordering::AcqRel);
        }
        old
    }

    /// Unmaps `fd`; returns what it mapped.
    pub fn remove(&self, fd: i32) -> Option<Arc<OpenFile>> {
        if fd < 0 {
            return None;
        }
        let mut s = self.slots.write();
        let old = s.get_mut(fd as usize).and_then(Option::take);
        if old.is_some() {
            self.count.fetch_sub(1, Ordering::AcqRel);
        }
        old
    }

    /// Unmaps every famfs descriptor in `first..=last`.
    pub fn remove_range(&self, first: u32, last: u32) -> Vec<Arc<OpenFile>> {
        let mut s = self.slots.write();
        let end = (last as usize).saturating_add(1).min(s.len());
        let mut out = Vec::new();
        for slot in s.iter_mut().take(end).skip(first as usize) {
            if let Some(of) = slot.take() {
                self.count.fetch_sub(1, Ordering::AcqRel);
                out.push(of);
            }
        }
        out
    }

    /// Every famfs descriptor and its open file.
    pub fn all(&self) -> Vec<(i32, Arc<OpenFile>)> {
        self.slots
            .read()
            .iter()
            .enumerate()
            .filter_map(|(fd, s)| s.as_ref().map(|of| (fd as i32, of.clone())))
            .collect()
    }
}
