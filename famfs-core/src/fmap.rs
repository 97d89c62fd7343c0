//! In-memory file maps (fmaps) and file-offset resolution.
//!
//! An [`Fmap`] says which device memory backs a file: either a list of simple
//! extents laid end to end, or a list of interleaved extents, each striping
//! the file round-robin in `chunk_size` units over equal-length strips.
//! [`Fmap::validate`] applies the kernel's GET_FMAP rules (plus the project's
//! multi-device extension) so that no later access can land outside a strip or
//! extent, and [`Fmap::resolve`] / [`Fmap::pieces`] turn a file range into
//! contiguous runs of device memory with the kernel's exact math, without
//! allocating, because the shim calls them on every read and write.

use crate::error::{Error, Result};

/// Size of the kernel's device table: device indexes must be below this.
pub const MAX_DAXDEVS: u32 = 24;
/// Extents, strips and chunks are aligned to 2 MiB.
pub const FMAP_ALIGN: u64 = 2 << 20;
/// Kernel limit for the number of extents, interleaved extents and strips.
pub const MAX_EXTENTS: usize = 32;

/// A contiguous range of one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Extent {
    /// Index of the device in the file system's device table.
    pub devindex: u32,
    /// Byte offset on the device (a multiple of 2 MiB).
    pub offset: u64,
    /// Length in bytes (a multiple of 2 MiB).
    pub len: u64,
}

/// A run of file data striped round-robin over `strips` in `chunk_size` units.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InterleavedExtent {
    /// Bytes of one chunk: consecutive chunks go to consecutive strips.
    pub chunk_size: u64,
    /// The strips, each a contiguous extent of equal length.
    pub strips: Vec<Extent>,
}

impl InterleavedExtent {
    /// File bytes this interleaved extent holds: the sum of its strip lengths.
    pub fn nbytes(&self) -> u64 {
        self.strips
            .iter()
            .fold(0u64, |acc, s| acc.saturating_add(s.len))
    }
}

/// How a file's bytes map onto device memory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Fmap {
    /// Extents concatenated in order.
    Simple(Vec<Extent>),
    /// Interleaved extents concatenated in order.
    Interleaved(Vec<InterleavedExtent>),
}

/// One contiguous run of device memory backing part of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// Index of the device in the file system's device table.
    pub devindex: u32,
    /// Byte offset on the device.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
}

const _: () = assert!(FMAP_ALIGN.is_power_of_two());

fn is_aligned(x: u64) -> bool {
    x & (FMAP_ALIGN - 1) == 0
}

fn invalid(msg: String) -> Error {
    Error::InvalidFmap(msg)
}

fn check_count(what: &str, n: usize) -> Result<()> {
    if n == 0 || n > MAX_EXTENTS {
        return Err(invalid(format!("{n} {what} (must be 1..={MAX_EXTENTS})")));
    }
    Ok(())
}

/// The rules every simple extent and every strip must satisfy.
fn check_range(what: &str, e: &Extent, device_size: &impl Fn(u32) -> Option<u64>) -> Result<()> {
    if !is_aligned(e.offset) {
        return Err(invalid(format!(
            "{what}: offset {:#x} is not 2 MiB aligned",
            e.offset
        )));
    }
    if !is_aligned(e.len) {
        return Err(invalid(format!(
            "{what}: length {:#x} is not a multiple of 2 MiB",
            e.len
        )));
    }
    if e.len == 0 {
        return Err(invalid(format!("{what}: length is 0")));
    }
    if e.offset == 0 {
        return Err(invalid(format!(
            "{what}: offset 0 is the superblock, not file space"
        )));
    }
    if e.devindex >= MAX_DAXDEVS {
        return Err(invalid(format!(
            "{what}: device index {} is not below {MAX_DAXDEVS}",
            e.devindex
        )));
    }
    let Some(size) = device_size(e.devindex) else {
        return Err(invalid(format!(
            "{what}: device index {} is not in the device table",
            e.devindex
        )));
    };
    match e.offset.checked_add(e.len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(invalid(format!(
            "{what}: range {:#x}+{:#x} runs past the end of device {} ({size:#x} bytes)",
            e.offset, e.len, e.devindex
        ))),
    }
}

impl Fmap {
    /// Checks this fmap against the kernel's rules for a file of `file_size`
    /// bytes. `device_size(i)` is the size of device `i`, or `None` when the
    /// device table does not hold index `i`. The first broken rule rejects
    /// the whole fmap, with a message naming the extent or strip.
    pub fn validate(&self, file_size: u64, device_size: impl Fn(u32) -> Option<u64>) -> Result<()> {
        let total = match self {
            Fmap::Simple(exts) => {
                check_count("simple extents", exts.len())?;
                let mut total = 0u64;
                for (i, e) in exts.iter().enumerate() {
                    check_range(&format!("extent {i}"), e, &device_size)?;
                    total = total.saturating_add(e.len);
                }
                total
            }
            Fmap::Interleaved(iexts) => {
                check_count("interleaved extents", iexts.len())?;
                let mut total = 0u64;
                for (i, ie) in iexts.iter().enumerate() {
                    Self::check_interleaved(i, ie, &device_size)?;
                    total = total.saturating_add(ie.nbytes());
                }
                total
            }
        };
        if total < file_size {
            return Err(invalid(format!(
                "extents hold {total} bytes, less than the file size {file_size}"
            )));
        }
        Ok(())
    }

    fn check_interleaved(
        i: usize,
        ie: &InterleavedExtent,
        device_size: &impl Fn(u32) -> Option<u64>,
    ) -> Result<()> {
        let chunk = ie.chunk_size;
        if chunk == 0 || !is_aligned(chunk) {
            return Err(invalid(format!(
                "interleaved extent {i}: chunk size {chunk:#x} is not a non-zero multiple of 2 MiB"
            )));
        }
        // The kernel only asks for 2 MiB alignment; every famfs tool makes
        // chunks a power of two, so anything else is damage.
        if !chunk.is_power_of_two() {
            return Err(invalid(format!(
                "interleaved extent {i}: chunk size {chunk:#x} is not a power of two"
            )));
        }
        check_count(
            &format!("strips in interleaved extent {i}"),
            ie.strips.len(),
        )?;
        for (j, s) in ie.strips.iter().enumerate() {
            check_range(&format!("interleaved extent {i} strip {j}"), s, device_size)?;
        }
        if ie.nbytes() == 0 {
            return Err(invalid(format!("interleaved extent {i}: holds 0 bytes")));
        }
        // Equal strips, each a whole number of chunks, make the round-robin
        // math stay inside the strips for every offset below nbytes.
        let len = ie.strips[0].len;
        if let Some((j, s)) = ie.strips.iter().enumerate().find(|(_, s)| s.len != len) {
            return Err(invalid(format!(
                "interleaved extent {i} strip {j}: length {:#x} differs from strip 0's {len:#x}",
                s.len
            )));
        }
        if len.checked_rem(chunk) != Some(0) {
            return Err(invalid(format!(
                "interleaved extent {i}: strip length {len:#x} is not a multiple of the chunk size {chunk:#x}"
            )));
        }
        Ok(())
    }

    /// Resolves file offset `off` of a file of `file_size` bytes to the
    /// device memory backing it, up to `len` bytes: the returned piece is the
    /// longest contiguous run starting at `off`, cut at the end of its extent
    /// (simple) or chunk (interleaved), at `len` and at end of file.
    ///
    /// Returns `None` when `len == 0`, `off >= file_size` or `off` is not
    /// mapped. The math is the kernel's. For interleaved extents, walking the
    /// extents uses `min(nbytes, remaining file size)` as each one's size, and
    /// within one:
    ///
    /// ```text
    /// chunk_num    = off / chunk_size      stripe_num = chunk_num / nstrips
    /// chunk_offset = off % chunk_size      strip_num  = chunk_num % nstrips
    /// dax_offset   = strips[strip_num].offset + stripe_num * chunk_size + chunk_offset
    /// contiguous   = min(request, chunk_size - chunk_offset)
    /// ```
    ///
    /// Example: 4 strips and 2 MiB chunks; file offset 15 MiB is chunk 7
    /// (1 MiB into it), stripe 1, strip 3, so it lies 1 * 2 MiB + 1 MiB =
    /// 3 MiB into strip 3, and at most 1 MiB is contiguous from there.
    ///
    /// Results are also cut at the end of a strip, so even an fmap that was
    /// never validated cannot resolve outside its strips.
    #[inline]
    pub fn resolve(&self, file_size: u64, off: u64, len: u64) -> Option<Piece> {
        if len == 0 || off >= file_size {
            return None;
        }
        let want = len.min(file_size - off);
        let mut o = off;
        match self {
            Fmap::Simple(exts) => {
                for e in exts {
                    if o < e.len {
                        return Some(Piece {
                            devindex: e.devindex,
                            offset: e.offset.checked_add(o)?,
                            len: want.min(e.len - o),
                        });
                    }
                    o -= e.len;
                }
                None
            }
            Fmap::Interleaved(iexts) => {
                let mut remaining = file_size;
                for ie in iexts {
                    let size = ie.nbytes().min(remaining);
                    if o < size {
                        return resolve_interleaved(ie, o, want);
                    }
                    o -= size;
                    remaining -= size;
                }
                None
            }
        }
    }

    /// The pieces of device memory backing `[off, min(off + len, file_size))`,
    /// in file order. Stops early at an unmapped offset (never after
    /// [`validate`](Self::validate) succeeded).
    pub fn pieces(&self, file_size: u64, off: u64, len: u64) -> Pieces<'_> {
        Pieces {
            fmap: self,
            file_size,
            off,
            end: off.saturating_add(len).min(file_size),
        }
    }

    /// Device bytes this fmap occupies (sum of extent or strip lengths).
    pub fn allocated_bytes(&self) -> u64 {
        self.device_ranges()
            .fold(0u64, |acc, e| acc.saturating_add(e.len))
    }

    /// Every occupied device range: the simple extents, or every strip of
    /// every interleaved extent.
    pub fn device_ranges(&self) -> impl Iterator<Item = Extent> + '_ {
        let (simple, interleaved): (&[Extent], &[InterleavedExtent]) = match self {
            Fmap::Simple(e) => (e, &[]),
            Fmap::Interleaved(ie) => (&[], ie),
        };
        simple
            .iter()
            .copied()
            .chain(interleaved.iter().flat_map(|ie| ie.strips.iter().copied()))
    }

    /// Bitmap of referenced device indexes (bit `i` set = device `i` used),
    /// as the kernel keeps to open devices lazily.
    pub fn devices(&self) -> u32 {
        self.device_ranges()
            .fold(0, |acc, e| acc | 1u32.checked_shl(e.devindex).unwrap_or(0))
    }

    /// The device indexes this fmap references, in increasing order.
    pub fn device_indexes(&self) -> impl Iterator<Item = u32> {
        let bits = self.devices();
        (0..MAX_DAXDEVS).filter(move |i| bits & (1 << i) != 0)
    }

    /// True for an interleaved (striped) fmap.
    pub fn is_interleaved(&self) -> bool {
        matches!(self, Fmap::Interleaved(_))
    }
}

/// Resolves offset `o` within one interleaved extent, at most `want` bytes.
#[inline]
fn resolve_interleaved(ie: &InterleavedExtent, o: u64, want: u64) -> Option<Piece> {
    let chunk = ie.chunk_size;
    let nstrips = ie.strips.len() as u64;
    if chunk == 0 || nstrips == 0 {
        return None;
    }
    let chunk_num = o / chunk;
    let chunk_offset = o % chunk;
    let stripe_num = chunk_num / nstrips;
    let strip = &ie.strips[(chunk_num % nstrips) as usize];
    let strip_off = stripe_num.checked_mul(chunk)?.checked_add(chunk_offset)?;
    if strip_off >= strip.len {
        return None;
    }
    Some(Piece {
        devindex: strip.devindex,
        offset: strip.offset.checked_add(strip_off)?,
        len: want.min(chunk - chunk_offset).min(strip.len - strip_off),
    })
}

/// Iterator returned by [`Fmap::pieces`].
#[derive(Debug, Clone)]
pub struct Pieces<'a> {
    fmap: &'a Fmap,
    file_size: u64,
    off: u64,
    end: u64,
}

impl Iterator for Pieces<'_> {
    type Item = Piece;

    fn next(&mut self) -> Option<Piece> {
        if self.off >= self.end {
            return None;
        }
        match self
            .fmap
            .resolve(self.file_size, self.off, self.end - self.off)
        {
            Some(p) => {
                self.off += p.len;
                Some(p)
            }
            None => {
                self.off = self.end;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIB: u64 = 1 << 20;
    const U: u64 = FMAP_ALIGN;

    fn ext(devindex: u32, offset: u64, len: u64) -> Extent {
        Extent {
            devindex,
            offset,
            len,
        }
    }

    fn piece(devindex: u32, offset: u64, len: u64) -> Piece {
        Piece {
            devindex,
            offset,
            len,
        }
    }

    /// Device 0 of 1 GiB, device 1 of 256 MiB, nothing else.
    fn devs(i: u32) -> Option<u64> {
        match i {
            0 => Some(1 << 30),
            1 => Some(256 * MIB),
            _ => None,
        }
    }

    fn four_strips() -> Fmap {
        Fmap::Interleaved(vec![InterleavedExtent {
            chunk_size: 2 * MIB,
            strips: (0..4)
                .map(|i| ext(0, (i + 1) * 64 * MIB, 8 * MIB))
                .collect(),
        }])
    }

    #[test]
    fn worked_example_15_mib_is_chunk_7_strip_3_offset_3_mib() {
        let f = four_strips();
        f.validate(32 * MIB, devs).unwrap();
        // Strip 3 starts at 256 MiB.
        assert_eq!(
            f.resolve(32 * MIB, 15 * MIB, 10 * MIB),
            Some(piece(0, 256 * MIB + 3 * MIB, MIB))
        );
        // Chunk 8 wraps back to strip 0, stripe 2.
        assert_eq!(
            f.resolve(32 * MIB, 16 * MIB, 10 * MIB),
            Some(piece(0, 64 * MIB + 4 * MIB, 2 * MIB))
        );
    }

    #[test]
    fn simple_boundaries() {
        let f = Fmap::Simple(vec![ext(0, 10 * U, 2 * U), ext(1, 4 * U, U)]);
        let size = 2 * U + U / 2 + 3; // not a multiple of 2 MiB
        f.validate(size, devs).unwrap();
        // Last byte of extent 0 and first of extent 1.
        assert_eq!(
            f.resolve(size, 2 * U - 1, 100),
            Some(piece(0, 12 * U - 1, 1))
        );
        assert_eq!(f.resolve(size, 2 * U, 100), Some(piece(1, 4 * U, 100)));
        // Cut at end of file, then nothing at or past it.
        assert_eq!(
            f.resolve(size, 2 * U, u64::MAX),
            Some(piece(1, 4 * U, U / 2 + 3))
        );
        assert_eq!(
            f.resolve(size, size - 1, 10),
            Some(piece(1, 4 * U + U / 2 + 2, 1))
        );
        assert_eq!(f.resolve(size, size, 1), None);
        assert_eq!(f.resolve(size, u64::MAX, 1), None);
        assert_eq!(f.resolve(size, 0, 0), None);
        // An fmap shorter than the file: offsets past it are unmapped.
        assert_eq!(f.resolve(100 * U, 3 * U, 1), None);

        let all: Vec<Piece> = f.pieces(size, U, u64::MAX).collect();
        assert_eq!(all, vec![piece(0, 11 * U, U), piece(1, 4 * U, U / 2 + 3)]);
        assert_eq!(f.pieces(size, size, 10).count(), 0);
        assert_eq!(f.pieces(size, 0, 0).count(), 0);
    }

    #[test]
    fn interleaved_boundaries() {
        let f = four_strips();
        let size = 20 * MIB + 5;
        // Last byte of chunk 0 and first of chunk 1 (strip 1).
        assert_eq!(
            f.resolve(size, 2 * MIB - 1, 10),
            Some(piece(0, 66 * MIB - 1, 1))
        );
        assert_eq!(f.resolve(size, 2 * MIB, 10), Some(piece(0, 128 * MIB, 10)));
        // Chunk 10 (strip 2, stripe 2) is cut at EOF.
        assert_eq!(
            f.resolve(size, 20 * MIB, 10 * MIB),
            Some(piece(0, 192 * MIB + 4 * MIB, 5))
        );
        assert_eq!(f.resolve(size, size, 1), None);
        assert_eq!(f.resolve(size, 0, 0), None);
        // Past nbytes (32 MiB) nothing is mapped, whatever the file size says.
        assert_eq!(f.resolve(64 * MIB, 32 * MIB, 1), None);
    }

    #[test]
    fn second_interleaved_extent_follows_the_first() {
        let f = Fmap::Interleaved(vec![
            InterleavedExtent {
                chunk_size: 2 * MIB,
                strips: vec![ext(0, 2 * MIB, 2 * MIB), ext(0, 4 * MIB, 2 * MIB)],
            },
            InterleavedExtent {
                chunk_size: 4 * MIB,
                strips: vec![ext(1, 8 * MIB, 4 * MIB), ext(1, 16 * MIB, 4 * MIB)],
            },
        ]);
        f.validate(10 * MIB, devs).unwrap();
        assert_eq!(f.resolve(10 * MIB, 4 * MIB, 1), Some(piece(1, 8 * MIB, 1)));
        assert_eq!(
            f.resolve(10 * MIB, 9 * MIB, 10 * MIB),
            Some(piece(1, 17 * MIB, MIB))
        );
        assert_eq!(f.devices(), 0b11);
        assert_eq!(f.allocated_bytes(), 12 * MIB);
        assert!(f.is_interleaved());
        assert_eq!(f.device_ranges().count(), 4);
    }

    #[test]
    fn accounting() {
        let f = Fmap::Simple(vec![ext(0, U, U), ext(5, 8 * U, 3 * U)]);
        assert_eq!(f.allocated_bytes(), 4 * U);
        assert_eq!(f.devices(), 0b10_0001);
        assert!(!f.is_interleaved());
        assert_eq!(
            f.device_ranges().collect::<Vec<_>>(),
            vec![ext(0, U, U), ext(5, 8 * U, 3 * U)]
        );
    }

    fn rejected(f: &Fmap, size: u64, needle: &str) {
        match f.validate(size, devs) {
            Err(Error::InvalidFmap(msg)) => {
                assert!(msg.contains(needle), "message {msg:?} lacks {needle:?}")
            }
            other => panic!("expected InvalidFmap containing {needle:?}, got {other:?}"),
        }
    }

    fn simple(e: Extent) -> Fmap {
        Fmap::Simple(vec![ext(0, U, U), e])
    }

    fn striped(chunk_size: u64, strips: Vec<Extent>) -> Fmap {
        Fmap::Interleaved(vec![
            InterleavedExtent {
                chunk_size: U,
                strips: vec![ext(0, U, U)],
            },
            InterleavedExtent { chunk_size, strips },
        ])
    }

    #[test]
    fn valid_fmaps_are_accepted() {
        simple(ext(1, U, 127 * U)).validate(128 * U, devs).unwrap();
        Fmap::Simple(vec![ext(0, U, U); MAX_EXTENTS])
            .validate(0, devs)
            .unwrap();
        striped(2 * U, vec![ext(0, 4 * U, 4 * U), ext(1, 4 * U, 4 * U)])
            .validate(9 * U, devs)
            .unwrap();
        striped(U, vec![ext(0, U, U); MAX_EXTENTS])
            .validate(0, devs)
            .unwrap();
    }

    #[test]
    fn each_rule_is_enforced() {
        // Counts, even for an empty file.
        rejected(&Fmap::Simple(vec![]), 0, "0 simple extents");
        rejected(
            &Fmap::Simple(vec![ext(0, U, U); 33]),
            0,
            "33 simple extents",
        );
        rejected(&Fmap::Interleaved(vec![]), 0, "0 interleaved extents");
        let one = InterleavedExtent {
            chunk_size: U,
            strips: vec![ext(0, U, U)],
        };
        rejected(
            &Fmap::Interleaved(vec![one; 33]),
            0,
            "33 interleaved extents",
        );
        rejected(&striped(U, vec![]), 0, "0 strips in interleaved extent 1");
        rejected(
            &striped(U, vec![ext(0, U, U); 33]),
            0,
            "33 strips in interleaved extent 1",
        );

        // Per extent.
        rejected(&simple(ext(0, U + 4096, U)), 0, "extent 1: offset 0x201000");
        rejected(&simple(ext(0, U, U + 4096)), 0, "extent 1: length 0x201000");
        rejected(&simple(ext(0, U, 0)), 0, "extent 1: length is 0");
        rejected(
            &simple(ext(0, 0, U)),
            0,
            "extent 1: offset 0 is the superblock",
        );
        rejected(&simple(ext(24, U, U)), 0, "extent 1: device index 24");
        rejected(
            &simple(ext(2, U, U)),
            0,
            "device index 2 is not in the device table",
        );
        rejected(
            &simple(ext(1, 128 * U, U)),
            0,
            "extent 1: range 0x10000000+0x200000",
        );
        rejected(&simple(ext(0, u64::MAX - U + 1, U)), 0, "runs past the end");
        rejected(
            &simple(ext(0, U, U)),
            2 * U + 1,
            "extents hold 4194304 bytes, less than the file size 4194305",
        );

        // Per strip.
        let good = ext(0, 4 * U, U);
        for (bad, needle) in [
            (ext(0, U + 4096, U), "strip 1: offset"),
            (ext(0, U, U + 4096), "strip 1: length 0x201000"),
            (ext(0, U, 0), "strip 1: length is 0"),
            (ext(0, 0, U), "strip 1: offset 0"),
            (ext(30, U, U), "strip 1: device index 30"),
            (
                ext(3, U, U),
                "strip 1: device index 3 is not in the device table",
            ),
            (ext(1, 128 * U, U), "strip 1: range"),
        ] {
            rejected(&striped(U, vec![good, bad]), 0, needle);
        }
        rejected(&striped(0, vec![good]), 0, "extent 1: chunk size 0x0");
        rejected(&striped(U + 4096, vec![good]), 0, "chunk size 0x201000");
        rejected(
            &striped(U, vec![ext(0, U, 2 * U), ext(0, 4 * U, U)]),
            0,
            "strip 1: length 0x200000 differs",
        );
        rejected(
            &striped(2 * U, vec![ext(0, U, 3 * U), ext(0, 8 * U, 3 * U)]),
            0,
            "strip length 0x600000 is not a multiple of the chunk size",
        );
        rejected(
            &striped(U, vec![good, good]),
            3 * U + 1,
            "extents hold 6291456 bytes, less than the file size 6291457",
        );
    }

    // ---- property tests against a naive model ----

    /// Where one 2 MiB unit of the file lives: device, device address, the
    /// index of the extent or strip (in `device_ranges` order) holding it,
    /// and which run (extent or chunk) it belongs to: a piece must end
    /// exactly where the run does.
    #[derive(Debug, Clone, Copy)]
    struct Unit {
        dev: u32,
        addr: u64,
        range: usize,
        run: usize,
    }

    /// Naive model: the file's units in order. Simple: extents' units
    /// concatenated. Interleaved: chunk c of an extent goes to strip c % n at
    /// strip offset (c / n) * chunk, chunks taken in order.
    fn model(f: &Fmap) -> Vec<Unit> {
        let mut units = Vec::new();
        match f {
            Fmap::Simple(exts) => {
                for (r, e) in exts.iter().enumerate() {
                    for u in 0..e.len / U {
                        units.push(Unit {
                            dev: e.devindex,
                            addr: e.offset + u * U,
                            range: r,
                            run: r,
                        });
                    }
                }
            }
            Fmap::Interleaved(iexts) => {
                let mut first = 0;
                let mut run = 0;
                for ie in iexts {
                    let n = ie.strips.len() as u64;
                    let chunks = ie.nbytes() / ie.chunk_size;
                    for c in 0..chunks {
                        let s = ie.strips[(c % n) as usize];
                        for u in 0..ie.chunk_size / U {
                            units.push(Unit {
                                dev: s.devindex,
                                addr: s.offset + (c / n) * ie.chunk_size + u * U,
                                range: first + (c % n) as usize,
                                run,
                            });
                        }
                        run += 1;
                    }
                    first += ie.strips.len();
                }
            }
        }
        units
    }

    /// Device address of file byte `x` according to the model.
    fn addr_of(units: &[Unit], x: u64) -> (u32, u64, usize, usize) {
        let u = units[(x / U) as usize];
        (u.dev, u.addr + x % U, u.range, u.run)
    }

    /// Checks `pieces()` over [off, off+len) against the model: same device
    /// bytes in the same order, each piece inside one extent or strip.
    fn check_against_model(f: &Fmap, size: u64, off: u64, len: u64) -> Result<(), TestCaseError> {
        let units = model(f);
        let ranges: Vec<Extent> = f.device_ranges().collect();
        let end = off.saturating_add(len).min(size);
        let mut x = off;
        for p in f.pieces(size, off, len) {
            prop_assert!(x < end, "piece {p:?} beyond the request end {end}");
            prop_assert!(p.len > 0 && p.len <= end - x);
            // Every unit the piece touches: its first and last byte.
            let mut y = x;
            while y < x + p.len {
                let seg_end = ((y / U + 1) * U).min(x + p.len);
                for b in [y, seg_end - 1] {
                    let (dev, addr, r, _) = addr_of(&units, b);
                    prop_assert_eq!((p.devindex, p.offset + (b - x)), (dev, addr), "byte {}", b);
                    let e = ranges[r];
                    prop_assert!(
                        p.devindex == e.devindex
                            && p.offset >= e.offset
                            && p.offset + p.len <= e.offset + e.len,
                        "piece {:?} escapes its range {:?}",
                        p,
                        e
                    );
                }
                y = seg_end;
            }
            x += p.len;
            // Maximal: a piece ends at the end of its extent or chunk, or
            // where the request does.
            if x < end {
                let (_, _, _, r0) = addr_of(&units, x - 1);
                let (_, _, _, r1) = addr_of(&units, x);
                prop_assert!(r0 != r1, "piece ended early at {}", x);
            }
        }
        prop_assert_eq!(x, end.max(off), "pieces do not cover the request");
        Ok(())
    }

    fn simple_fmap() -> impl Strategy<Value = Fmap> {
        proptest::collection::vec((0u32..3, 1u64..200, 1u64..=4), 1..=16).prop_map(|v| {
            Fmap::Simple(
                v.into_iter()
                    .map(|(d, o, l)| ext(d, o * U, l * U))
                    .collect(),
            )
        })
    }

    fn interleaved_fmap() -> impl Strategy<Value = Fmap> {
        let one = (
            prop_oneof![Just(U), Just(2 * U), Just(4 * U)],
            1u64..=3,
            proptest::collection::vec((0u32..3, 1u64..200), 1..=16),
        )
            .prop_map(|(chunk, per, strips)| InterleavedExtent {
                chunk_size: chunk,
                strips: strips
                    .into_iter()
                    .map(|(d, o)| ext(d, o * U, per * chunk))
                    .collect(),
            });
        proptest::collection::vec(one, 1..=3).prop_map(Fmap::Interleaved)
    }

    fn big_devs(i: u32) -> Option<u64> {
        (i < 3).then_some(1 << 40)
    }

    fn cases(f: Fmap) -> impl Strategy<Value = (Fmap, u64, Vec<(u64, u64)>)> {
        let total = f.allocated_bytes();
        (0..=total).prop_flat_map(move |size| {
            let span = size + 2 * U;
            (
                Just(f.clone()),
                Just(size),
                proptest::collection::vec((0..span, 0..span), 1..8),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn simple_matches_model((f, size, reqs) in simple_fmap().prop_flat_map(cases)) {
            prop_assert!(f.validate(size, big_devs).is_ok());
            for (off, len) in reqs {
                check_against_model(&f, size, off, len)?;
            }
        }

        #[test]
        fn interleaved_matches_model((f, size, reqs) in interleaved_fmap().prop_flat_map(cases)) {
            prop_assert!(f.validate(size, big_devs).is_ok());
            for (off, len) in reqs {
                check_against_model(&f, size, off, len)?;
            }
        }
    }
}
