//! Where closed open files go: to the epoch, in batches, and then back to
//! the next opens as spare memory.
//!
//! `close` unmaps a descriptor, but a reader on another thread may still
//! borrow its open file (see `fdtable`), so the last reference may only be
//! dropped after an epoch grace period. Handing each one to the epoch on
//! its own cost a pin and a deferred call per close, and freeing them in
//! the epoch's batches sent the memory through malloc's slow paths (the
//! epoch's own 2 KiB bags make malloc consolidate its fast bins). So each
//! thread:
//!
//! - collects what it retires and hands [`BATCH`] of them to the epoch in
//!   one deferred call (deferring later than the unmap is always safe: the
//!   grace period then starts later);
//! - keeps, once the grace period is over, each open file it was the last
//!   holder of as a spare, whose memory the next open on the thread reuses
//!   in place.
//!
//! Per thread, so none of this takes an atomic operation beyond the
//! reference count checks. A thread's leftovers go to the epoch, or are
//! freed, when it exits.

use super::file::OpenFile;
use super::mount::{KnownNode, Mount};
use super::FileData;
use crossbeam_epoch as epoch;
use std::cell::RefCell;
use std::ptr::NonNull;
use std::sync::Arc;

/// Open files a thread collects before handing them to the epoch.
const BATCH: usize = 32;

/// Spares a thread keeps at most.
const SPARES: usize = 4 * BATCH;

struct ThreadFiles {
    /// Unmapped by this thread, not yet handed to the epoch.
    retired: Vec<Arc<OpenFile>>,
    /// Past their grace period and each the only reference to itself
    /// (from `Arc::into_raw`): memory for the next opens.
    spares: Vec<NonNull<OpenFile>>,
}

impl Drop for ThreadFiles {
    fn drop(&mut self) {
        hand_over(std::mem::take(&mut self.retired));
        for p in self.spares.drain(..) {
            // SAFETY: a reference from `Arc::into_raw` (see `keep_spare`).
            drop(unsafe { Arc::from_raw(p.as_ptr()) });
        }
    }
}

thread_local! {
    static THREAD_FILES: RefCell<ThreadFiles> = const {
        RefCell::new(ThreadFiles { retired: Vec::new(), spares: Vec::new() })
    };
}

/// Lets go of `of`, just unmapped from its descriptor, once no reader can
/// still borrow it.
pub(super) fn retire(of: Arc<OpenFile>) {
    let mut of = Some(of);
    let full = THREAD_FILES
        .try_with(|t| {
            let mut t = t.try_borrow_mut().ok()?;
            t.retired.push(of.take()?);
            (t.retired.len() >= BATCH)
                .then(|| std::mem::replace(&mut t.retired, Vec::with_capacity(BATCH)))
        })
        .ok()
        .flatten();
    // Outside the borrow: the epoch may run deferred calls right here,
    // and they keep spares in this thread's list.
    if let Some(batch) = full {
        hand_over(batch);
    }
    if let Some(of) = of {
        // No per-thread list (the thread is exiting): on its own.
        hand_over(vec![of]);
    }
}

/// Defers keeping `batch` as spares past a grace period. The thread's
/// epoch bag is flushed to the global queue at once: a bag waits there,
/// not in the thread, for its grace period, so a batch becomes spares a
/// few hundred closes later rather than after the bag's 64 deferred calls.
/// Hands what this thread has retired so far to the epoch now, not when
/// its batch is full (for tests that wait for references to go).
#[cfg(test)]
pub(super) fn hand_over_retired() {
    let batch = THREAD_FILES.with(|t| std::mem::take(&mut t.borrow_mut().retired));
    hand_over(batch);
}

fn hand_over(batch: Vec<Arc<OpenFile>>) {
    if !batch.is_empty() {
        let guard = epoch::pin();
        guard.defer(move || batch.into_iter().for_each(keep_spare));
        guard.flush();
    }
}

/// Keeps `of`, past its grace period, as a spare of this thread if
/// nothing else holds it and there is room; drops it otherwise.
fn keep_spare(mut of: Arc<OpenFile>) {
    let Some(f) = Arc::get_mut(&mut of) else {
        return;
    };
    f.release();
    let _ = THREAD_FILES.try_with(|t| {
        let Ok(mut t) = t.try_borrow_mut() else {
            return;
        };
        if t.spares.len() < SPARES {
            // SAFETY: from a live Arc, so never null.
            t.spares
                .push(unsafe { NonNull::new_unchecked(Arc::into_raw(of).cast_mut()) });
        }
    });
}

/// A new open file of `node` (a node of `mount`) with its bytes `data`,
/// built in a spare's memory when this thread has one.
pub(super) fn open_file(
    mount: &Arc<Mount>,
    node: &KnownNode,
    data: Option<&FileData>,
    flags: i32,
) -> Arc<OpenFile> {
    let spare = THREAD_FILES
        .try_with(|t| t.try_borrow_mut().ok()?.spares.pop())
        .ok()
        .flatten();
    let Some(p) = spare else {
        return Arc::new(OpenFile::new(mount, node, data, flags));
    };
    // SAFETY: a spare is the only reference to its open file (checked by
    // `Arc::get_mut` when it was kept, and spares are never shared), so it
    // may be changed in place and handed out.
    unsafe {
        (*p.as_ptr()).reopen(mount, node, data, flags);
        Arc::from_raw(p.as_ptr())
    }
}
