//! `mmap` of famfs files, and what munmap, mprotect, madvise and mremap do
//! to such mappings.
//!
//! **Shared mappings** are the file's own device memory, no copy. A devdax
//! device maps only in whole units of its alignment `A` (2 MiB or 1 GiB):
//! offset, length and address must all be multiples of `A`, and the kernel
//! refuses to split such a mapping anywhere else. A program asks for any
//! page-aligned offset and length, so each device range is mapped *rounded
//! out* to `A`, at an address chosen so that the program's bytes land
//! where it expects them, and the program gets the interior address.
//!
//! Worked example, `A` = 2 MiB: a file whose only extent is at device
//! offset 10 MiB, mapped with `mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
//! 12288)`. The byte the program wants first is at device offset
//! 10 MiB + 12 KiB, 12 KiB into its 2 MiB unit. We reserve 4 MiB of
//! address space, pick the 2 MiB-aligned block `B` inside it, map device
//! `[10 MiB, 12 MiB)` at `B`, and return `B + 12 KiB`. The 2 MiB around the
//! program's page is padding that belongs to the same file: famfs allocates
//! in 2 MiB units, so a 2 MiB unit holds one file's bytes only. (With a
//! 1 GiB alignment the padding can hold other files' bytes; through the
//! shim a process that can open the device can read all of it anyway.)
//!
//! A file whose range spans several extents (or an interleaved file) gets
//! one window per piece, laid side by side over one reservation. Piece
//! boundaries are 2 MiB-aligned both in the file and on the device, so with
//! `A` = 2 MiB the windows always fit; with a larger `A` a layout whose
//! pieces do not fall on `A` boundaries cannot be mapped (EINVAL). Pages of
//! the request past the file's allocation stay an inaccessible reservation.
//!
//! **Private mappings** (copy-on-write) are anonymous memory filled from the
//! file when mapped: devdax refuses private mappings. The copy is eager
//! (the whole range at mmap time) and survives memory errors (EIO or
//! EHWPOISON instead of SIGBUS); bytes past end of file read as zero.
//!
//! **Later calls.** munmap of part of a shared mapping releases the
//! `A`-aligned blocks that no longer hold any byte the program still has
//! mapped; the rest of a block stays mapped (but unused) until its last
//! byte is unmapped. mprotect and flag-changing madvise calls are rounded
//! out to `A` when only padding is added, and refused with EINVAL when the
//! rounding would change pages the program still has mapped outside its
//! range (pure hints are then ignored instead). mremap shrinks in place,
//! and grows or moves a shared mapping by mapping the same file range anew.
//! Simulated regions follow the same rules, so tests catch what devdax
//! refuses.

// Address-range sets are vectors of ranges; one range is a set of one.
#![allow(clippy::single_range_in_vec_init)]

use super::file::OpenFile;
use super::{SysResult, Vfs};
use nix::errno::Errno;
use parking_lot::Mutex;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The mapping-type bits of mmap's flags (MAP_SHARED, MAP_PRIVATE,
/// MAP_SHARED_VALIDATE).
const MAP_TYPE: i32 = 0x0f;

/// The mmap flags a private famfs mapping passes on to its anonymous memory.
const PRIVATE_FLAGS: i32 = libc::MAP_FIXED
    | libc::MAP_FIXED_NOREPLACE
    | libc::MAP_NORESERVE
    | libc::MAP_POPULATE
    | libc::MAP_LOCKED
    | libc::MAP_32BIT;

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

fn align_down(x: usize, a: usize) -> usize {
    x & !(a - 1)
}

fn align_up(x: usize, a: usize) -> SysResult<usize> {
    x.checked_add(a - 1)
        .map(|v| v & !(a - 1))
        .ok_or(Errno::ENOMEM)
}

/// The pages `[start, start + len)` names: EINVAL unless `start` is
/// page-aligned, ENOMEM if the end overflows.
fn page_range(start: usize, len: usize) -> SysResult<Range<usize>> {
    let page = page_size();
    if start % page != 0 {
        return Err(Errno::EINVAL);
    }
    let end = start
        .checked_add(align_up(len, page)?)
        .ok_or(Errno::ENOMEM)?;
    Ok(start..end)
}

/// One famfs mapping a program made.
struct Mapping {
    /// The address ranges this mapping holds: device windows rounded out to
    /// `align`, then the inaccessible reservation for pages past the file's
    /// allocation (for a private mapping: exactly the program's pages).
    held: Vec<Range<usize>>,
    /// What the program still has mapped of what it asked for.
    live: Vec<Range<usize>>,
    /// Where the device windows end (the reservation follows).
    windows_end: usize,
    /// Pages the program made inaccessible with mprotect (cache
    /// maintenance must not touch them: it would fault).
    no_access: Vec<Range<usize>>,
    /// The granularity at which `held` may be split.
    align: usize,
    shared: bool,
    /// For mremap: the open file, the file offset at address `start`, and
    /// the program's prot and flags.
    file: Arc<OpenFile>,
    start: usize,
    off: u64,
    prot: i32,
    flags: i32,
}

/// The famfs file mappings of this process.
#[derive(Default)]
pub struct Mappings {
    list: Mutex<Vec<Mapping>>,
    /// Whether there may be any, readable without the lock (so munmap of
    /// ordinary memory costs one load).
    any: AtomicBool,
}

/// Whether any range of `set` overlaps `r`.
fn overlaps(set: &[Range<usize>], r: &Range<usize>) -> bool {
    set.iter().any(|s| s.start < r.end && r.start < s.end)
}

/// `set` less `r`.
fn subtract(set: &[Range<usize>], r: &Range<usize>) -> Vec<Range<usize>> {
    let mut out = Vec::with_capacity(set.len() + 1);
    for s in set {
        if s.end <= r.start || s.start >= r.end {
            out.push(s.clone());
            continue;
        }
        if s.start < r.start {
            out.push(s.start..r.start);
        }
        if s.end > r.end {
            out.push(r.end..s.end);
        }
    }
    out
}

/// `a` less every range of `b`.
fn subtract_all(a: &[Range<usize>], b: &[Range<usize>]) -> Vec<Range<usize>> {
    b.iter().fold(a.to_vec(), |acc, r| subtract(&acc, r))
}

/// The parts of `held` that some range of `live`, widened to multiples of
/// `align`, touches.
fn kept(held: &[Range<usize>], live: &[Range<usize>], align: usize) -> Vec<Range<usize>> {
    let released = live.iter().fold(held.to_vec(), |acc, l| {
        let wide = align_down(l.start, align)..align_up(l.end, align).unwrap_or(usize::MAX);
        subtract(&acc, &wide)
    });
    subtract_all(held, &released)
}

fn munmap_range(r: &Range<usize>) -> SysResult<()> {
    // SAFETY: only ranges this module mapped, or the program's own range
    // it asked to unmap, are passed here.
    if unsafe { libc::munmap(r.start as *mut libc::c_void, r.end - r.start) } != 0 {
        return Err(Errno::last());
    }
    Ok(())
}

impl Mappings {
    /// Whether `[start, start + len)` overlaps a famfs mapping.
    pub fn overlaps(&self, start: usize, len: usize) -> bool {
        if !self.any.load(Ordering::Acquire) {
            return false;
        }
        let r = start..start.saturating_add(len);
        self.list.lock().iter().any(|m| overlaps(&m.held, &r))
    }

    fn add(&self, m: Mapping) {
        self.list.lock().push(m);
        self.any.store(true, Ordering::Release);
    }

    /// munmap(2) of `[start, start + len)`: the program's pages there are
    /// gone; device blocks that hold none of its pages any more are
    /// released, and any part of the range that is not famfs is unmapped
    /// by the kernel.
    pub fn unmap(&self, start: usize, len: usize) -> SysResult<()> {
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let r = page_range(start, len).map_err(|_| Errno::EINVAL)?;
        let mut outside = vec![r.clone()];
        let mut list = self.list.lock();
        for m in list.iter_mut().filter(|m| overlaps(&m.held, &r)) {
            outside = subtract_all(&outside, &m.held);
            m.live = subtract(&m.live, &r);
            let keep = kept(&m.held, &m.live, m.align);
            for gone in subtract_all(&m.held, &keep) {
                munmap_range(&gone)?;
            }
            m.held = keep;
        }
        list.retain(|m| !m.held.is_empty());
        self.any.store(!list.is_empty(), Ordering::Release);
        drop(list);
        outside.iter().try_for_each(munmap_range)
    }

    /// msync(2) of a range that overlaps a famfs mapping. A shared famfs
    /// mapping is device memory, which the kernel cannot sync (devdax
    /// answers EINVAL): MS_SYNC and MS_ASYNC write the CPU caches back so
    /// other hosts see the stores, MS_INVALIDATE drops them so the next
    /// loads see what other hosts wrote. Private famfs mappings and other
    /// memory in the range go to the kernel.
    pub fn sync(&self, start: usize, len: usize, flags: i32) -> SysResult<()> {
        let known = libc::MS_ASYNC | libc::MS_SYNC | libc::MS_INVALIDATE;
        if flags & !known != 0
            || flags & (libc::MS_ASYNC | libc::MS_SYNC) == libc::MS_ASYNC | libc::MS_SYNC
        {
            return Err(Errno::EINVAL);
        }
        let r = page_range(start, len)?;
        let list = self.list.lock();
        let mut rest = vec![r.clone()];
        let mut device = Vec::new();
        for m in list.iter().filter(|m| m.shared && overlaps(&m.held, &r)) {
            rest = subtract_all(&rest, &m.held);
            device.extend(m.live.iter().filter_map(|l| {
                let i = l.start.max(r.start)..l.end.min(r.end);
                (i.start < i.end).then_some(i)
            }));
        }
        drop(list);
        let no_access: Vec<Range<usize>> = self
            .list
            .lock()
            .iter()
            .flat_map(|m| m.no_access.iter().cloned())
            .collect();
        for d in &subtract_all(&device, &no_access) {
            // SAFETY: `d` lies in a live, accessible device mapping of
            // ours; cache maintenance does not change memory.
            let r = unsafe {
                if flags & libc::MS_INVALIDATE != 0 {
                    famfs_core::flush::invalidate(d.start as *const u8, d.end - d.start)
                } else {
                    famfs_core::flush::write_back(d.start as *const u8, d.end - d.start)
                }
            };
            // A page of the range is gone (memory error): msync's own EIO.
            r.map_err(|_| Errno::EIO)?;
        }
        rest.iter().try_for_each(|r| {
            // SAFETY: msync only reads the page tables of the range.
            let rc = unsafe { libc::msync(r.start as *mut libc::c_void, r.end - r.start, flags) };
            if rc != 0 {
                return Err(Errno::last());
            }
            Ok(())
        })
    }

    /// mprotect(2) of a range that overlaps a famfs mapping.
    pub fn protect(&self, start: usize, len: usize, prot: i32) -> SysResult<()> {
        self.rounded_protect(start, len, prot)?;
        let r = page_range(start, len)?;
        for m in self.list.lock().iter_mut() {
            m.no_access = subtract(&m.no_access, &r);
            if prot == libc::PROT_NONE {
                m.no_access.push(r.clone());
            }
        }
        Ok(())
    }

    fn rounded_protect(&self, start: usize, len: usize, prot: i32) -> SysResult<()> {
        self.rounded(
            start,
            len,
            |r| {
                // SAFETY: `r` is a range of our own device windows.
                let rc =
                    unsafe { libc::mprotect(r.start as *mut libc::c_void, r.end - r.start, prot) };
                if rc != 0 {
                    return Err(Errno::last());
                }
                Ok(())
            },
            |m| {
                if m.shared && prot & libc::PROT_WRITE != 0 && !m.file.writable() {
                    return Err(Errno::EACCES);
                }
                Ok(())
            },
        )
    }

    /// madvise(2) of a range that overlaps a famfs mapping. Advice that
    /// changes a mapping's flags splits it, so it is rounded out as
    /// mprotect is; pure hints that cannot be rounded are ignored.
    pub fn advise(&self, start: usize, len: usize, advice: i32) -> SysResult<()> {
        let apply = |r: &Range<usize>| {
            // SAFETY: advice on a range of our own mappings.
            let rc =
                unsafe { libc::madvise(r.start as *mut libc::c_void, r.end - r.start, advice) };
            if rc != 0 {
                return Err(Errno::last());
            }
            Ok(())
        };
        match advice {
            // The device's memory must stay: never punch it out.
            libc::MADV_REMOVE => Err(Errno::EPERM),
            // No flag changes, no split: straight to the kernel.
            libc::MADV_DONTNEED
            | libc::MADV_WILLNEED
            | libc::MADV_FREE
            | libc::MADV_COLD
            | libc::MADV_PAGEOUT => {
                let end = start.checked_add(len).ok_or(Errno::EINVAL)?;
                apply(&(start..end))
            }
            libc::MADV_NORMAL
            | libc::MADV_RANDOM
            | libc::MADV_SEQUENTIAL
            | libc::MADV_HUGEPAGE
            | libc::MADV_NOHUGEPAGE
            | libc::MADV_MERGEABLE
            | libc::MADV_UNMERGEABLE
            | libc::MADV_DONTDUMP
            | libc::MADV_DODUMP => match self.rounded(start, len, apply, |_| Ok(())) {
                Err(Errno::EINVAL) => Ok(()),
                r => r,
            },
            _ => self.rounded(start, len, apply, |_| Ok(())),
        }
    }

    /// Runs `apply` on `[start, start + len)` widened, in each shared
    /// mapping it touches, to that mapping's alignment, after `check`
    /// accepts each mapping touched. EINVAL when widening would reach pages
    /// the program still has mapped outside its range. Parts of the range
    /// outside famfs mappings, and private mappings, are applied as given.
    fn rounded(
        &self,
        start: usize,
        len: usize,
        apply: impl Fn(&Range<usize>) -> SysResult<()>,
        check: impl Fn(&Mapping) -> SysResult<()>,
    ) -> SysResult<()> {
        let r = page_range(start, len)?;
        let list = self.list.lock();
        let mut plan = Vec::new();
        let mut outside = vec![r.clone()];
        for m in list.iter().filter(|m| overlaps(&m.held, &r)) {
            check(m)?;
            outside = subtract_all(&outside, &m.held);
            if !m.shared {
                plan.extend(m.held.iter().filter_map(|h| {
                    let i = h.start.max(r.start)..h.end.min(r.end);
                    (i.start < i.end).then_some(i)
                }));
                continue;
            }
            let wide = align_down(r.start, m.align)..align_up(r.end, m.align)?;
            let extra = subtract(&m.live, &r);
            if overlaps(&extra, &(wide.start..r.start)) || overlaps(&extra, &(r.end..wide.end)) {
                return Err(Errno::EINVAL);
            }
            let wide = wide.start..wide.end.min(m.windows_end);
            plan.extend(m.held.iter().filter_map(|h| {
                let i = h.start.max(wide.start)..h.end.min(wide.end);
                (i.start < i.end).then_some(i)
            }));
        }
        drop(list);
        plan.iter().chain(outside.iter()).try_for_each(apply)
    }

    /// The mapping whose live pages include all of `[start, start + len)`.
    fn find(&self, start: usize, len: usize) -> SysResult<(Arc<OpenFile>, u64, i32, i32, bool)> {
        let end = start.checked_add(len).ok_or(Errno::EFAULT)?;
        let list = self.list.lock();
        let m = list
            .iter()
            .find(|m| covered_by(&m.live, &(start..end)))
            .ok_or(Errno::EFAULT)?;
        let off = m.off + (start - m.start) as u64;
        Ok((m.file.clone(), off, m.prot, m.flags, m.shared))
    }
}

/// Whether `r` lies wholly inside the union of `set`.
fn covered_by(set: &[Range<usize>], r: &Range<usize>) -> bool {
    subtract_all(std::slice::from_ref(r), set).is_empty()
}

impl Vfs {
    /// `mmap(addr, len, prot, flags, fd, off)` of an open famfs file.
    ///
    /// # Safety
    /// As for mmap(2): with MAP_FIXED, `[addr, addr + len)` is replaced, so
    /// the caller must own that range.
    pub unsafe fn mmap(
        &self,
        of: &Arc<OpenFile>,
        addr: *mut libc::c_void,
        len: usize,
        prot: i32,
        flags: i32,
        off: i64,
    ) -> SysResult<*mut libc::c_void> {
        let page = page_size();
        let f = of.file().ok_or(Errno::ENODEV)?;
        if len == 0 || off < 0 || off as usize % page != 0 {
            return Err(Errno::EINVAL);
        }
        let fixed = flags & (libc::MAP_FIXED | libc::MAP_FIXED_NOREPLACE) != 0;
        if fixed && addr as usize % page != 0 {
            return Err(Errno::EINVAL);
        }
        // The mapping type is the low bits (MAP_SHARED_VALIDATE = 3 shares
        // a bit with MAP_PRIVATE = 2, so test the type, not single bits).
        let map_type = flags & MAP_TYPE;
        let shared = map_type == libc::MAP_SHARED || map_type == libc::MAP_SHARED_VALIDATE;
        if !shared && map_type != libc::MAP_PRIVATE {
            return Err(Errno::EINVAL);
        }
        if !of.readable() {
            return Err(Errno::EACCES);
        }
        if shared && prot & libc::PROT_WRITE != 0 && !of.writable() {
            return Err(Errno::EACCES);
        }
        let len = align_up(len, page)?;
        let off = off as u64;
        let pieces = super::sys(f.map_pieces(off, len as u64))?;
        let covered = pieces.iter().map(|(p, _)| p.len as usize).sum::<usize>();
        let mapping = Mapping {
            held: Vec::new(),
            live: Vec::new(),
            windows_end: 0,
            no_access: Vec::new(),
            align: page,
            shared,
            file: of.clone(),
            start: 0,
            off,
            prot,
            flags,
        };
        if !shared {
            // SAFETY: forwarded contract.
            return unsafe { self.map_private(mapping, addr, len, covered) };
        }

        // The windows, as offsets from the aligned block `B` at which the
        // reservation starts; the program's first byte is at `B + lead`.
        let align = pieces
            .iter()
            .map(|(_, d)| d.align() as usize)
            .max()
            .unwrap_or(page);
        let lead = pieces.first().map_or(0, |(p, _)| p.offset as usize % align);
        let mut windows = Vec::with_capacity(pieces.len());
        let mut at = lead;
        for &(p, dev) in &pieces {
            let (dev_off, plen) = (p.offset as usize, p.len as usize);
            if at % align != dev_off % align {
                tracing::debug!(
                    dev_off,
                    at,
                    align,
                    "mmap: piece cannot keep the device alignment"
                );
                return Err(Errno::EINVAL);
            }
            let w = align_down(at, align)..align_up(at + plen, align)?;
            if windows
                .last()
                .is_some_and(|(prev, _, _): &(Range<usize>, _, _)| prev.end > w.start)
            {
                tracing::debug!(at, align, "mmap: pieces share a device block");
                return Err(Errno::EINVAL);
            }
            windows.push((w, align_down(dev_off, align) as u64, dev));
            at += plen;
        }
        let windows_end = windows.last().map_or(0, |(w, _, _)| w.end);
        let span = windows_end.max(align_up(lead + len, page)?);

        // Reserve the span, `B` aligned to the device.
        let base = if fixed {
            let want = addr as usize;
            if want % align != lead {
                tracing::debug!(
                    want,
                    lead,
                    align,
                    "mmap: MAP_FIXED address the device cannot honour"
                );
                return Err(Errno::EINVAL);
            }
            if flags & libc::MAP_FIXED != 0 {
                self.mappings.unmap(want, len)?;
            }
            let b = want - lead;
            // SAFETY: NOREPLACE maps only where nothing is mapped.
            let r = unsafe { reserve(b as *mut libc::c_void, span, libc::MAP_FIXED_NOREPLACE) };
            match r {
                Ok(p) if p as usize == b => b,
                Ok(p) => {
                    // A kernel without MAP_FIXED_NOREPLACE took it as a hint.
                    munmap_range(&(p as usize..p as usize + span))?;
                    return Err(Errno::EINVAL);
                }
                Err(Errno::EEXIST) if flags & libc::MAP_FIXED_NOREPLACE != 0 => {
                    return Err(Errno::EEXIST)
                }
                // The padding around the program's range is taken. A
                // program that reserved address space (PROT_NONE anonymous
                // memory) and maps into it loses nothing if we take the
                // padding from the reservation; anything else stays.
                Err(Errno::EEXIST) => {
                    let padding = subtract(&[b..b + span], &(want..want + len));
                    if !padding.iter().all(is_reservation) {
                        tracing::debug!(want, align, "mmap: MAP_FIXED padding is in use");
                        return Err(Errno::EINVAL);
                    }
                    // SAFETY: the program's range is its own (MAP_FIXED)
                    // and the padding is inaccessible reservation.
                    unsafe { reserve(b as *mut libc::c_void, span, libc::MAP_FIXED) }?;
                    b
                }
                Err(e) => return Err(e),
            }
        } else {
            let total = span.checked_add(align).ok_or(Errno::ENOMEM)?;
            // SAFETY: an anonymous reservation wherever the kernel likes.
            let r = unsafe { reserve(std::ptr::null_mut(), total, 0) }? as usize;
            let b = align_up(r, align)?;
            if b > r {
                munmap_range(&(r..b))?;
            }
            if b + span < r + total {
                munmap_range(&(b + span..r + total))?;
            }
            b
        };
        for (w, dev_off, dev) in &windows {
            // SAFETY: the window lies inside the reservation we own.
            let r = unsafe {
                dev.map_fixed(
                    (base + w.start) as *mut libc::c_void,
                    *dev_off,
                    (w.end - w.start) as u64,
                    prot,
                )
            };
            if let Err(e) = r {
                munmap_range(&(base..base + span))?;
                return Err(e);
            }
        }
        let start = base + lead;
        self.mappings.add(Mapping {
            held: vec![base..base + span],
            live: vec![start..start + len],
            windows_end: base + windows_end,
            align,
            start,
            ..mapping
        });
        Ok(start as *mut libc::c_void)
    }

    /// A MAP_PRIVATE mapping: anonymous memory holding a copy of the file.
    ///
    /// # Safety
    /// As for [`Self::mmap`].
    unsafe fn map_private(
        &self,
        mapping: Mapping,
        addr: *mut libc::c_void,
        len: usize,
        covered: usize,
    ) -> SysResult<*mut libc::c_void> {
        let flags = mapping.flags;
        if flags & libc::MAP_FIXED != 0 {
            self.mappings.unmap(addr as usize, len)?;
        }
        let anon = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | (flags & PRIVATE_FLAGS);
        // SAFETY: anonymous memory; with MAP_FIXED the caller owns the range.
        let p = unsafe { libc::mmap(addr, len, libc::PROT_READ | libc::PROT_WRITE, anon, -1, 0) };
        if p == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        let base = p as usize;
        let undo = |e: Errno| {
            let _ = munmap_range(&(base..base + len));
            Err(e)
        };
        let data = mapping.file.file().ok_or(Errno::ENODEV)?;
        let fill = covered.min(len);
        // SAFETY: fresh private anonymous memory of ours, `fill <= len`
        // bytes long; no other thread knows the address yet.
        let buf = unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), fill) };
        if let Err(e) = data.read(mapping.off, buf) {
            return undo(Errno::from(&e));
        }
        let page = page_size();
        let readable_end = align_up(fill, page)?;
        let protect = |r: Range<usize>, prot: i32| {
            // SAFETY: a range of the mapping made above.
            let rc = unsafe {
                libc::mprotect((base + r.start) as *mut libc::c_void, r.end - r.start, prot)
            };
            if rc != 0 {
                return Err(Errno::last());
            }
            Ok(())
        };
        if readable_end < len {
            if let Err(e) = protect(readable_end..len, libc::PROT_NONE) {
                return undo(e);
            }
        }
        if mapping.prot != libc::PROT_READ | libc::PROT_WRITE && readable_end > 0 {
            if let Err(e) = protect(0..readable_end, mapping.prot) {
                return undo(e);
            }
        }
        self.mappings.add(Mapping {
            held: vec![base..base + len],
            live: vec![base..base + len],
            windows_end: base + len,
            start: base,
            ..mapping
        });
        Ok(p)
    }

    /// mremap(2) of a range of a famfs mapping: shrinking unmaps the tail
    /// in place; growing (MREMAP_MAYMOVE) or moving (MREMAP_FIXED) maps the
    /// same file range anew and unmaps the old one.
    ///
    /// # Safety
    /// As for mremap(2): with MREMAP_FIXED, the caller must own the range
    /// at `new_addr`.
    pub unsafe fn mremap(
        &self,
        old: usize,
        old_len: usize,
        new_len: usize,
        flags: i32,
        new_addr: usize,
    ) -> SysResult<*mut libc::c_void> {
        let page = page_size();
        if old % page != 0 || new_len == 0 || flags & libc::MREMAP_DONTUNMAP != 0 {
            return Err(Errno::EINVAL);
        }
        let fixed = flags & libc::MREMAP_FIXED != 0;
        let may_move = flags & libc::MREMAP_MAYMOVE != 0;
        if fixed && !may_move {
            return Err(Errno::EINVAL);
        }
        let old_len = align_up(old_len, page)?;
        let new_len = align_up(new_len, page)?;
        let (file, off, prot, mflags, _) = self.mappings.find(old, old_len)?;
        if !fixed && new_len <= old_len {
            if new_len < old_len {
                self.mappings.unmap(old + new_len, old_len - new_len)?;
            }
            return Ok(old as *mut libc::c_void);
        }
        if !may_move {
            return Err(Errno::ENOMEM);
        }
        let (addr, extra) = if fixed {
            (new_addr as *mut libc::c_void, libc::MAP_FIXED)
        } else {
            (std::ptr::null_mut(), 0)
        };
        let mflags = (mflags & !(libc::MAP_FIXED | libc::MAP_FIXED_NOREPLACE)) | extra;
        // A private mapping keeps the program's own changes: copy them over.
        let private = mflags & MAP_TYPE == libc::MAP_PRIVATE;
        if private && prot & libc::PROT_READ == 0 {
            return Err(Errno::EINVAL);
        }
        // SAFETY: forwarded contract.
        let new = unsafe {
            self.mmap(
                &file,
                addr,
                new_len,
                prot | if private { libc::PROT_WRITE } else { 0 },
                mflags,
                off as i64,
            )
        }?;
        if private {
            let n = old_len.min(new_len);
            // SAFETY: both ranges are mapped readable (old) and writable (new),
            // private to this process, and distinct.
            unsafe { std::ptr::copy_nonoverlapping(old as *const u8, new.cast::<u8>(), n) };
            if prot & libc::PROT_WRITE == 0 {
                self.mappings.protect(new as usize, new_len, prot)?;
            }
        }
        self.mappings.unmap(old, old_len)?;
        Ok(new)
    }
}

/// Whether every mapped page of `r` is inaccessible anonymous memory (an
/// address-space reservation holding nothing), from /proc/self/maps.
fn is_reservation(r: &Range<usize>) -> bool {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return false;
    };
    maps.lines().all(|line| {
        let mut f = line.split_whitespace();
        let (Some(span), Some(perms), Some(_off), Some(_dev), Some(inode)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            return true;
        };
        let Some((a, b)) = span.split_once('-') else {
            return true;
        };
        let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) else {
            return true;
        };
        let touches = a < r.end && r.start < b;
        !touches || (perms.starts_with("---") && inode == "0" && f.next().is_none())
    })
}

/// An inaccessible anonymous reservation of `len` bytes at `addr` (a hint
/// unless `extra` holds MAP_FIXED_NOREPLACE or MAP_FIXED).
///
/// # Safety
/// With MAP_FIXED, the caller must own `[addr, addr + len)`.
unsafe fn reserve(addr: *mut libc::c_void, len: usize, extra: i32) -> SysResult<*mut libc::c_void> {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | extra;
    // SAFETY: anonymous memory; MAP_FIXED only under the caller's contract.
    let p = unsafe { libc::mmap(addr, len, libc::PROT_NONE, flags, -1, 0) };
    if p == libc::MAP_FAILED {
        return Err(Errno::last());
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_arithmetic() {
        let held = vec![0..100, 200..300];
        assert_eq!(subtract(&held, &(50..250)), vec![0..50, 250..300]);
        assert_eq!(
            subtract_all(&held, &[0..10, 290..300]),
            vec![10..100, 200..290]
        );
        assert!(overlaps(&held, &(99..101)));
        assert!(!overlaps(&held, &(100..200)));
        assert!(covered_by(&held, &(210..290)));
        assert!(!covered_by(&held, &(90..210)));
        // A live page at 130 keeps its 64-byte block of a held range.
        assert_eq!(kept(&[0..256], &[130..140], 64), vec![128..192]);
        assert_eq!(kept(&[0..256], &[], 64), Vec::<Range<usize>>::new());
        assert_eq!(kept(&[0..256], &[0..256], 64), vec![0..256]);
    }
}
