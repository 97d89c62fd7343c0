//! File descriptor numbers of open famfs files.
//!
//! Every famfs open gets a real kernel descriptor as a placeholder (a dup of
//! one `O_PATH` descriptor), so its number can never collide with the
//! process's own descriptors, and dup, close and exec keep their kernel
//! semantics for it. This table maps the number to the open file.
//!
//! Every read and write of a famfs descriptor looks it up here, so a lookup
//! takes no lock and allocates nothing. The table is an array of segments
//! that double in size (descriptors 0-63, 64-127, 128-255, ...), each made
//! on the first insert into it and kept for the table's life, so a slot
//! never moves. Memory grows with the highest famfs descriptor number, as
//! the kernel's own table does.
//!
//! A slot is an `ArcSwapOption`. A reader borrows the open file through a
//! per-thread debt slot (no shared lock, no reference count traffic), and a
//! `close` on another thread that unmaps the slot meanwhile takes over the
//! debt, so the file is never freed under a reader. Unlike epoch-based
//! reclamation, the closer frees the file at once when nobody borrows it,
//! which keeps the allocator's per-thread caches warm for the next open.

use super::file::OpenFile;
use arc_swap::ArcSwapOption;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// Descriptors below this share the first segment; segment `s >= 1` holds
/// `FIRST << (s - 1) .. FIRST << s`.
const FIRST: usize = 64;
/// Enough segments for every non-negative `i32`.
const SEGMENTS: usize = 26;

#[derive(Default)]
struct Slot {
    file: ArcSwapOption<OpenFile>,
    /// Whether `file` is set, readable with one plain load: the shim asks
    /// "is this descriptor famfs at all?" on every call.
    open: AtomicBool,
}

#[derive(Default)]
pub struct FdTable {
    segments: [OnceLock<Box<[Slot]>>; SEGMENTS],
}

/// The segment holding `fd` and its index there.
fn locate(fd: i32) -> Option<(usize, usize)> {
    let fd = usize::try_from(fd).ok()?;
    if fd < FIRST {
        return Some((0, fd));
    }
    let top = (usize::BITS - 1 - fd.leading_zeros()) as usize;
    let seg = top - FIRST.trailing_zeros() as usize + 1;
    Some((seg, fd - (1 << top)))
}

/// The first descriptor of segment `seg` and how many it holds.
fn span(seg: usize) -> (usize, usize) {
    if seg == 0 {
        (0, FIRST)
    } else {
        (FIRST << (seg - 1), FIRST << (seg - 1))
    }
}

impl FdTable {
    fn slot(&self, fd: i32) -> Option<&Slot> {
        let (seg, i) = locate(fd)?;
        self.segments[seg].get()?.get(i)
    }

    fn slot_or_grow(&self, fd: i32) -> Option<&Slot> {
        let (seg, i) = locate(fd)?;
        let slots = self.segments[seg].get_or_init(|| {
            let (_, len) = span(seg);
            (0..len).map(|_| Slot::default()).collect()
        });
        slots.get(i)
    }

    /// The open file behind `fd`, if `fd` is a famfs descriptor.
    #[inline]
    pub fn get(&self, fd: i32) -> Option<Arc<OpenFile>> {
        self.slot(fd)?.file.load_full()
    }

    /// Runs `f` on the open file behind `fd` (None if `fd` is not famfs),
    /// borrowing it: no lock, no reference count change, no allocation.
    #[inline]
    pub fn with<R>(&self, fd: i32, f: impl FnOnce(&Arc<OpenFile>) -> R) -> Option<R> {
        let borrowed = self.slot(fd)?.file.load();
        borrowed.as_ref().map(f)
    }

    /// Whether `fd` is a famfs descriptor: a few plain loads.
    #[inline]
    pub fn contains(&self, fd: i32) -> bool {
        self.slot(fd)
            .is_some_and(|s| s.open.load(Ordering::Acquire))
    }

    /// Maps `fd` to `of`; returns what it mapped before. A negative `fd`
    /// (never a descriptor) maps nothing.
    pub fn insert(&self, fd: i32, of: Arc<OpenFile>) -> Option<Arc<OpenFile>> {
        let slot = self.slot_or_grow(fd)?;
        let old = slot.file.swap(Some(of));
        slot.open.store(true, Ordering::Release);
        old
    }

    /// Unmaps `fd`; returns what it mapped.
    pub fn remove(&self, fd: i32) -> Option<Arc<OpenFile>> {
        let slot = self.slot(fd)?;
        if !slot.open.swap(false, Ordering::AcqRel) {
            return None;
        }
        slot.file.swap(None)
    }

    /// Every famfs descriptor, with its slot.
    fn used(&self) -> impl Iterator<Item = (i32, &Slot)> {
        self.segments
            .iter()
            .enumerate()
            .filter_map(|(seg, s)| Some((span(seg).0, s.get()?)))
            .flat_map(|(base, slots)| {
                slots
                    .iter()
                    .enumerate()
                    .map(move |(i, s)| ((base + i) as i32, s))
            })
            .filter(|(_, s)| s.open.load(Ordering::Acquire))
    }

    /// Unmaps every famfs descriptor in `first..=last`.
    pub fn remove_range(&self, first: u32, last: u32) -> Vec<Arc<OpenFile>> {
        let fds: Vec<i32> = self
            .used()
            .map(|(fd, _)| fd)
            .filter(|&fd| (first..=last).contains(&(fd as u32)))
            .collect();
        fds.into_iter().filter_map(|fd| self.remove(fd)).collect()
    }

    /// Every famfs descriptor and its open file.
    pub fn all(&self) -> Vec<(i32, Arc<OpenFile>)> {
        self.used()
            .filter_map(|(fd, s)| Some((fd, s.file.load_full()?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{locate, span, SEGMENTS};

    #[test]
    fn every_descriptor_has_one_slot() {
        for fd in (0..5000).chain([i32::MAX - 1, i32::MAX]) {
            let (seg, i) = locate(fd).unwrap();
            assert!(seg < SEGMENTS, "fd {fd}");
            let (base, len) = span(seg);
            assert!(i < len, "fd {fd}");
            assert_eq!(base + i, fd as usize, "fd {fd}");
        }
        assert_eq!(locate(-1), None);
        assert_eq!(locate(63), Some((0, 63)));
        assert_eq!(locate(64), Some((1, 0)));
        assert_eq!(locate(128), Some((2, 0)));
    }
}
