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
//! the kernel's own table does. The first segment lives inside the table,
//! so telling a low descriptor (the ones a process mostly uses) is not
//! famfs is one load at a fixed offset from the table, with no pointer to
//! follow: the question every hooked call on a descriptor asks first.
//!
//! A slot holds one reference to its open file (`Arc::into_raw`). A reader
//! pins the epoch (crossbeam-epoch: a per-thread flag, no shared lock) and
//! borrows the file without touching its reference count; `close` unmaps
//! the slot and hands that reference to [`recycle`], which lets go of it
//! only after every thread pinned at the time has unpinned (so a file is
//! never freed under a reader) and keeps its memory for the next open.
//!
//! arc-swap was measured as the alternative: its readers cost about the
//! same, but every insert and remove scans all threads' debt slots, which
//! took 19% of the time of an open + fstat + close loop.

use super::file::OpenFile;
use super::recycle;
use crossbeam_epoch as epoch;
use std::mem::ManuallyDrop;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, OnceLock};

/// Descriptors below this share the first segment; segment `s >= 1` holds
/// `FIRST << (s - 1) .. FIRST << s`.
const FIRST: usize = 64;
/// Enough segments for every non-negative `i32`.
const SEGMENTS: usize = 26;

/// One descriptor: null, or a reference from `Arc::into_raw`.
type Slot = AtomicPtr<OpenFile>;

/// Descriptor numbers of famfs open files and their `OpenFile`s.
pub struct FdTable {
    /// Descriptors `0..FIRST`.
    first: [Slot; FIRST],
    /// Segment `s` holds the later ones; `segments[0]` is never made.
    segments: [OnceLock<Box<[Slot]>>; SEGMENTS],
}

impl Default for FdTable {
    fn default() -> Self {
        FdTable {
            first: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            segments: Default::default(),
        }
    }
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
    /// Takes over the slot reference `p` (non-null, swapped out of its slot
    /// by the caller) and lets go of it once no reader can still be
    /// borrowing it.
    fn discard_ref(&self, p: *mut OpenFile) {
        // SAFETY: `p` came from `Arc::into_raw` in `insert`, and the caller
        // swapped it out of its slot, so this reference is ours to release.
        recycle::retire(unsafe { Arc::from_raw(p) });
    }

    #[inline]
    fn slot(&self, fd: i32) -> Option<&Slot> {
        if let Some(s) = usize::try_from(fd).ok().and_then(|i| self.first.get(i)) {
            return Some(s);
        }
        let (seg, i) = locate(fd)?;
        self.segments[seg].get()?.get(i)
    }

    fn slot_or_grow(&self, fd: i32) -> Option<&Slot> {
        let (seg, i) = locate(fd)?;
        if seg == 0 {
            return self.first.get(i);
        }
        let slots = self.segments[seg].get_or_init(|| {
            let (_, len) = span(seg);
            (0..len).map(|_| AtomicPtr::new(ptr::null_mut())).collect()
        });
        slots.get(i)
    }

    /// The open file behind `fd`, if `fd` is a famfs descriptor.
    #[inline]
    pub fn get(&self, fd: i32) -> Option<Arc<OpenFile>> {
        self.with(fd, Arc::clone)
    }

    /// Runs `f` on the open file behind `fd` (None if `fd` is not famfs),
    /// borrowing it: no lock, no reference count change, no allocation.
    #[inline]
    pub fn with<R>(&self, fd: i32, f: impl FnOnce(&Arc<OpenFile>) -> R) -> Option<R> {
        let slot = self.slot(fd)?;
        // Most descriptors a process reads are not famfs: tell them apart
        // with one load, before pinning.
        if slot.load(Ordering::Relaxed).is_null() {
            return None;
        }
        let _pinned = epoch::pin();
        let p = slot.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: a non-null slot holds a reference from `Arc::into_raw`;
        // whoever swaps it out defers its drop past every pinned thread, and
        // this thread stays pinned until `f` returns. ManuallyDrop: the
        // reference stays the slot's.
        let of = ManuallyDrop::new(unsafe { Arc::from_raw(p) });
        Some(f(&of))
    }

    /// Whether `fd` is a famfs descriptor: a few plain loads.
    #[inline]
    pub fn contains(&self, fd: i32) -> bool {
        self.slot(fd)
            .is_some_and(|s| !s.load(Ordering::Acquire).is_null())
    }

    /// Maps `fd` to `of`, dropping what it mapped before. A negative `fd`
    /// (never a descriptor) maps nothing.
    pub fn insert(&self, fd: i32, of: Arc<OpenFile>) {
        let Some(slot) = self.slot_or_grow(fd) else {
            return;
        };
        let old = slot.swap(Arc::into_raw(of).cast_mut(), Ordering::AcqRel);
        if !old.is_null() {
            self.discard_ref(old);
        }
    }

    /// Unmaps `fd`; returns whether it was mapped.
    pub fn discard(&self, fd: i32) -> bool {
        let Some(slot) = self.slot(fd) else {
            return false;
        };
        let old = slot.swap(ptr::null_mut(), Ordering::AcqRel);
        if old.is_null() {
            return false;
        }
        self.discard_ref(old);
        true
    }

    /// Every famfs descriptor number, in order.
    fn used(&self) -> Vec<i32> {
        let first: &[Slot] = &self.first;
        std::iter::once((0, first))
            .chain(
                self.segments
                    .iter()
                    .enumerate()
                    .skip(1)
                    .filter_map(|(seg, s)| Some((span(seg).0, &**s.get()?))),
            )
            .flat_map(|(base, slots)| {
                slots
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| !s.load(Ordering::Acquire).is_null())
                    .map(move |(i, _)| (base + i) as i32)
            })
            .collect()
    }

    /// Unmaps every famfs descriptor in `first..=last`.
    pub fn remove_range(&self, first: u32, last: u32) {
        for fd in self.used() {
            if (first..=last).contains(&(fd as u32)) {
                self.discard(fd);
            }
        }
    }

    /// Every famfs descriptor and its open file.
    pub fn all(&self) -> Vec<(i32, Arc<OpenFile>)> {
        self.used()
            .into_iter()
            .filter_map(|fd| Some((fd, self.get(fd)?)))
            .collect()
    }
}

impl Drop for FdTable {
    fn drop(&mut self) {
        let later = self.segments.iter_mut().flat_map(|s| s.get_mut());
        for slot in self
            .first
            .iter_mut()
            .chain(later.flat_map(|s| s.iter_mut()))
        {
            let p = std::mem::replace(slot.get_mut(), ptr::null_mut());
            if !p.is_null() {
                // SAFETY: the slot's own reference (see `insert`); no reader
                // can exist while the table is dropped.
                drop(unsafe { Arc::from_raw(p) });
            }
        }
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
