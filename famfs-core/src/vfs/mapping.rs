//! `mmap` of famfs files: the file's own device memory, no copy.
//!
//! A file whose requested range lies in one device extent becomes one
//! mapping of the device at that offset. Otherwise (several extents, or an
//! interleaved file) the range is first reserved with an inaccessible
//! anonymous mapping, then each piece is mapped over it with MAP_FIXED, so
//! the application sees one contiguous range. Pages past the file's
//! allocation stay inaccessible: only the file's extents are ever mapped.
//!
//! Worked example: a file interleaved over two strips with 2 MiB chunks maps
//! file offset 0..2M to strip 0's first chunk and 2M..4M to strip 1's first
//! chunk; `mmap(len=4M, off=0)` is a 4 MiB reservation with two 2 MiB
//! device mappings laid over it.

use super::file::OpenFile;
use super::{SysResult, Vfs};
use nix::errno::Errno;
use parking_lot::Mutex;

/// The mapping-type bits of mmap's flags (MAP_SHARED, MAP_PRIVATE,
/// MAP_SHARED_VALIDATE).
const MAP_TYPE: i32 = 0x0f;

/// Address ranges that are famfs file mappings (start, length), so mremap
/// cannot grow one past the file's extents.
#[derive(Default)]
pub struct Mappings(Mutex<Vec<(usize, usize)>>);

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

impl Mappings {
    /// Records a famfs mapping.
    pub fn add(&self, start: usize, len: usize) {
        self.0.lock().push((start, len));
    }

    /// Forgets `[start, start+len)` (munmap), trimming partly covered ones.
    pub fn remove(&self, start: usize, len: usize) {
        let end = start.saturating_add(len);
        let mut v = self.0.lock();
        let mut out = Vec::with_capacity(v.len());
        for &(s, l) in v.iter() {
            let e = s + l;
            if e <= start || s >= end {
                out.push((s, l));
                continue;
            }
            if s < start {
                out.push((s, start - s));
            }
            if e > end {
                out.push((end, e - end));
            }
        }
        *v = out;
    }

    /// Whether `[start, start+len)` overlaps a famfs mapping.
    pub fn overlaps(&self, start: usize, len: usize) -> bool {
        let end = start.saturating_add(len);
        self.0.lock().iter().any(|&(s, l)| s < end && start < s + l)
    }
}

impl Vfs {
    /// `mmap(addr, len, prot, flags, fd, off)` of an open famfs file.
    ///
    /// # Safety
    /// As for mmap(2): with MAP_FIXED, `[addr, addr + len)` is replaced, so
    /// the caller must own that range.
    pub unsafe fn mmap(
        &self,
        of: &OpenFile,
        addr: *mut libc::c_void,
        len: usize,
        prot: i32,
        flags: i32,
        off: i64,
    ) -> SysResult<*mut libc::c_void> {
        let f = of.file().ok_or(Errno::ENODEV)?;
        if len == 0 || off < 0 || off as usize % page_size() != 0 {
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
        let off = off as u64;
        let len64 = len as u64;
        let pieces = f.map_pieces(off, len64)?;
        let map_flags = flags & !(libc::MAP_ANONYMOUS | MAP_TYPE)
            | if shared {
                libc::MAP_SHARED
            } else {
                libc::MAP_PRIVATE
            };
        let covered: u64 = pieces.iter().map(|(p, _)| p.len).sum();
        // One extent covering the whole request: a single mapping.
        if pieces.len() == 1 && covered == len64 {
            // SAFETY: maps the device file at a bounds-checked offset; the
            // kernel validates addr/flags as for any mmap.
            let (piece, devfd) = pieces[0];
            let p = unsafe { libc::mmap(addr, len, prot, map_flags, devfd, piece.offset as i64) };
            if p == libc::MAP_FAILED {
                return Err(Errno::last());
            }
            self.mappings.add(p as usize, len);
            return Ok(p);
        }
        // Reserve, then lay each piece over the reservation.
        let reserve_flags = libc::MAP_PRIVATE
            | libc::MAP_ANONYMOUS
            | libc::MAP_NORESERVE
            | (flags & libc::MAP_FIXED);
        // SAFETY: an anonymous inaccessible reservation.
        let base = unsafe { libc::mmap(addr, len, libc::PROT_NONE, reserve_flags, -1, 0) };
        if base == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        let mut at = 0usize;
        for &(p, devfd) in &pieces {
            let fixed = map_flags | libc::MAP_FIXED;
            // SAFETY: `base + at .. + p.len` lies inside our reservation.
            let r = unsafe {
                libc::mmap(
                    base.cast::<u8>().add(at).cast(),
                    p.len as usize,
                    prot,
                    fixed,
                    devfd,
                    p.offset as i64,
                )
            };
            if r == libc::MAP_FAILED {
                let e = Errno::last();
                // SAFETY: unmapping our own reservation.
                unsafe { libc::munmap(base, len) };
                return Err(e);
            }
            at += p.len as usize;
        }
        self.mappings.add(base as usize, len);
        Ok(base)
    }
}
