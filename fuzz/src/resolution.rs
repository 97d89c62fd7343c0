//! What every fmap resolution must satisfy.
//!
//! Whatever the fmap, validated or not, a resolved piece lies inside one of
//! the fmap's own extents or strips and inside the requested part of the
//! file (`Fmap::resolve` promises this even for an fmap that was never
//! validated). For an fmap that passed `Fmap::validate`, each piece also
//! lies inside its device, the pieces cover the request without a gap, and
//! each lands exactly where the contract's formula (written out again here,
//! independently of famfs-core) puts it, and runs to the end of its extent
//! or chunk.

use famfs_core::fmap::{Fmap, Piece};

/// Most pieces one request is walked for: a validated fmap on a 4 GiB
/// device has at most 2048 (2 MiB chunks); an unvalidated one with tiny
/// chunks could have billions, and a few show whether they stay inside.
const MAX_PIECES: usize = 4096;
const MAX_PIECES_UNVALIDATED: usize = 64;

/// Device index, device address of file byte `off`, and the file offset
/// where the run holding it (its extent, or its chunk) ends; by the
/// contract's GET_FMAP math, in u128 so nothing overflows.
fn model(fmap: &Fmap, file_size: u64, off: u64) -> Option<(u32, u128, u128)> {
    let off = u128::from(off);
    let mut base = 0u128;
    match fmap {
        Fmap::Simple(exts) => {
            for e in exts {
                let len = u128::from(e.len);
                if off < base + len {
                    return Some((e.devindex, u128::from(e.offset) + off - base, base + len));
                }
                base += len;
            }
            None
        }
        Fmap::Interleaved(iexts) => {
            for ie in iexts {
                let nbytes: u128 = ie.strips.iter().map(|s| u128::from(s.len)).sum();
                let size = nbytes.min(u128::from(file_size).saturating_sub(base));
                if off < base + size {
                    let o = off - base;
                    let chunk = u128::from(ie.chunk_size);
                    let n = ie.strips.len() as u128;
                    let (chunk_num, chunk_off) = (o / chunk, o % chunk);
                    let strip = &ie.strips[(chunk_num % n) as usize];
                    let addr = u128::from(strip.offset) + (chunk_num / n) * chunk + chunk_off;
                    return Some((strip.devindex, addr, base + (chunk_num + 1) * chunk));
                }
                base += size;
            }
            None
        }
    }
}

/// True when `p` lies inside one of `fmap`'s extents or strips.
fn inside_own_ranges(fmap: &Fmap, p: &Piece) -> bool {
    let (start, end) = (
        u128::from(p.offset),
        u128::from(p.offset) + u128::from(p.len),
    );
    fmap.device_ranges().any(|e| {
        e.devindex == p.devindex
            && u128::from(e.offset) <= start
            && end <= u128::from(e.offset) + u128::from(e.len)
    })
}

/// Offsets worth asking about: the start and end of the file and of every
/// extent or strip (and their neighbours), and of the first chunks.
pub fn boundary_offsets(fmap: &Fmap, file_size: u64) -> Vec<u64> {
    let mut at = vec![0, 1, file_size.saturating_sub(1), file_size, u64::MAX];
    let mut base = 0u64;
    let mark = |x: u64, at: &mut Vec<u64>| {
        at.extend([x.saturating_sub(1), x, x.saturating_add(1)]);
    };
    match fmap {
        Fmap::Simple(exts) => {
            for e in exts.iter().take(32) {
                base = base.saturating_add(e.len);
                mark(base, &mut at);
            }
        }
        Fmap::Interleaved(iexts) => {
            for ie in iexts.iter().take(32) {
                for k in 1..=4u64 {
                    mark(
                        base.saturating_add(ie.chunk_size.saturating_mul(k)),
                        &mut at,
                    );
                }
                base = base.saturating_add(ie.nbytes());
                mark(base, &mut at);
            }
        }
    }
    at
}

/// Checks `fmap.resolve` and `fmap.pieces` for a file of `file_size` bytes
/// on every `(offset, length)` request. `devices` is the device table when
/// the fmap passed validation against it (then the stronger rules apply),
/// `None` for an fmap that did not. Panics on the first broken rule.
pub fn check(
    fmap: &Fmap,
    file_size: u64,
    devices: Option<&dyn Fn(u32) -> Option<u64>>,
    requests: &[(u64, u64)],
) {
    for &(off, len) in requests {
        let got = fmap.resolve(file_size, off, len);
        if len == 0 || off >= file_size {
            assert_eq!(got, None, "resolve({off}, {len}) past EOF or empty");
            continue;
        }
        if let Some(p) = got {
            assert!(p.len > 0 && p.len <= len, "{p:?} for ({off}, {len})");
            assert!(
                u128::from(off) + u128::from(p.len) <= u128::from(file_size),
                "{p:?} at {off} runs past EOF {file_size}"
            );
            assert!(inside_own_ranges(fmap, &p), "{p:?} outside {fmap:?}");
        }
        if let Some(dev_size) = devices {
            let p = got.unwrap_or_else(|| panic!("validated {fmap:?} leaves {off} unmapped"));
            let size = dev_size(p.devindex).expect("validated devices exist");
            assert!(
                p.offset > 0 && p.offset.checked_add(p.len).is_some_and(|e| e <= size),
                "{p:?} outside device {} of {size} bytes",
                p.devindex
            );
            let (dev, addr, run_end) = model(fmap, file_size, off).expect("model maps it");
            assert_eq!(
                (p.devindex, u128::from(p.offset)),
                (dev, addr),
                "resolve({off}) disagrees with the contract's formula for {fmap:?}"
            );
            let want = (u128::from(off) + u128::from(len))
                .min(u128::from(file_size))
                .min(run_end)
                - u128::from(off);
            assert_eq!(
                u128::from(p.len),
                want,
                "piece at {off} not cut at its run's end"
            );
        }
        let mut at = u128::from(off);
        let mut walked = 0;
        let cap = if devices.is_some() {
            MAX_PIECES
        } else {
            MAX_PIECES_UNVALIDATED
        };
        for p in fmap.pieces(file_size, off, len).take(cap) {
            assert!(inside_own_ranges(fmap, &p), "piece {p:?} outside {fmap:?}");
            at += u128::from(p.len);
            walked += 1;
        }
        let end = (u128::from(off) + u128::from(len)).min(u128::from(file_size));
        assert!(at <= end, "pieces run past the request: {at} > {end}");
        if devices.is_some() && walked < cap {
            assert_eq!(at, end, "pieces of a validated fmap leave a gap");
        }
    }
}
