//! Interleaved allocation: spreading a file over buckets of a device.
//!
//! Memory bandwidth comes from spreading a file over many memory channels,
//! so famfs stripes large files. As in the reference tools, the device is cut
//! into `nbuckets` equal buckets; a file gets `nstrips` strips, each
//! contiguous inside one bucket, no two in the same bucket, buckets tried in
//! random order. The file's bytes go round-robin over the strips in
//! `chunk`-sized pieces (see [`crate::fmap`] for the resolution math).
//!
//! Worked example: 8 buckets on an 8 GiB device are 1 GiB each. A 100 MiB
//! file with nstrips = 7 and 2 MiB chunks needs 50 chunks; 50 / 7 rounds up
//! to 8 chunks per strip, so each strip is 16 MiB and the file occupies
//! 7 × 16 = 112 MiB. A file smaller than one chunk gets one contiguous
//! extent instead.

use crate::alloc::Bitmap;
use crate::error::{Error, Result};
use crate::fmap::{Extent, Fmap, InterleavedExtent};
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Most buckets a device may be cut into.
pub const MAX_BUCKETS: u32 = 64;
/// Most strips one interleaved extent holds (the log entry has 16 slots).
pub const MAX_STRIPS: u32 = 16;
/// Smallest bucket on a real device, as in the reference tools.
pub const MIN_BUCKET: u64 = 1 << 30;
/// Chunks are whole 2 MiB pages.
pub const CHUNK_ALIGN: u64 = 2 << 20;

/// How to place a file: all zero means one contiguous extent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StripeParams {
    pub nbuckets: u32,
    pub nstrips: u32,
    pub chunk: u64,
}

fn bad(reason: impl Into<String>) -> Error {
    Error::Usage(format!("invalid interleave parameters: {}", reason.into()))
}

impl StripeParams {
    /// Contiguous allocation (the reference tools' "all parameters zero").
    pub fn is_contiguous(&self) -> bool {
        self.nbuckets == 0 && self.nstrips == 0 && self.chunk == 0
    }

    /// Checks the rules for a device of `dev_size` bytes. A real device
    /// needs buckets of at least 1 GiB; a simulated region (for tests and
    /// demos on small files) only needs each bucket to hold one chunk.
    pub fn validate(&self, dev_size: u64, simulated: bool) -> Result<()> {
        if self.is_contiguous() {
            return Ok(());
        }
        if self.chunk == 0 || !self.chunk.is_power_of_two() || self.chunk % CHUNK_ALIGN != 0 {
            return Err(bad(format!(
                "chunk {} must be a power of two and a multiple of 2 MiB",
                self.chunk
            )));
        }
        if self.nstrips == 0 || self.nstrips > self.nbuckets {
            return Err(bad(format!(
                "need 1 <= nstrips ({}) <= nbuckets ({})",
                self.nstrips, self.nbuckets
            )));
        }
        if self.nbuckets > MAX_BUCKETS {
            return Err(bad(format!("nbuckets {} > {MAX_BUCKETS}", self.nbuckets)));
        }
        if self.nstrips > MAX_STRIPS {
            return Err(bad(format!(
                "nstrips {} > {MAX_STRIPS} (a log entry holds {MAX_STRIPS} strips)",
                self.nstrips
            )));
        }
        let bucket = self.bucket_size(dev_size);
        let floor = if simulated { self.chunk } else { MIN_BUCKET };
        if bucket < floor {
            return Err(bad(format!(
                "{} buckets of a {dev_size}-byte device are {bucket} bytes; \
                 each must be at least {floor} bytes",
                self.nbuckets
            )));
        }
        Ok(())
    }

    /// Bytes per bucket: the device divided evenly, in whole chunks.
    pub fn bucket_size(&self, dev_size: u64) -> u64 {
        if self.nbuckets == 0 || self.chunk == 0 {
            return 0;
        }
        dev_size / u64::from(self.nbuckets) / self.chunk * self.chunk
    }

    /// Parses `nbuckets=B,nstrips=N,chunk=C` (C in bytes or with k/m/g).
    pub fn parse(s: &str, parse_size: impl Fn(&str) -> Option<u64>) -> Result<StripeParams> {
        let mut p = StripeParams::default();
        for kv in s.split(',').filter(|kv| !kv.is_empty()) {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| bad(format!("{kv:?} is not key=value")))?;
            let num = || {
                v.parse::<u32>()
                    .map_err(|_| bad(format!("{k}={v} is not a number")))
            };
            match k {
                "nbuckets" => p.nbuckets = num()?,
                "nstrips" => p.nstrips = num()?,
                "chunk" => {
                    p.chunk =
                        parse_size(v).ok_or_else(|| bad(format!("chunk={v} is not a size")))?
                }
                _ => return Err(bad(format!("unknown key {k:?}"))),
            }
        }
        Ok(p)
    }
}

/// Places a file of `size` bytes on device 0 as `params` asks, choosing
/// buckets in an order drawn from `seed` (random when None). Nothing is
/// marked in `bitmap`: logging the file does that.
pub fn allocate(
    bitmap: &Bitmap,
    dev_size: u64,
    size: u64,
    params: &StripeParams,
    seed: Option<u64>,
) -> Result<Fmap> {
    let unit = bitmap.unit();
    if params.is_contiguous() || size < params.chunk {
        let len = size.max(1).div_ceil(unit) * unit;
        let offset = bitmap.find_free(len)?;
        return Ok(Fmap::Simple(vec![Extent {
            devindex: 0,
            offset,
            len,
        }]));
    }
    let nstrips = u64::from(params.nstrips);
    let chunks = size.div_ceil(params.chunk);
    let strip_len = chunks.div_ceil(nstrips) * params.chunk;
    let bucket = params.bucket_size(dev_size);
    let mut order: Vec<u64> = (0..u64::from(params.nbuckets)).collect();
    let mut rng = match seed {
        Some(s) => rand::rngs::StdRng::seed_from_u64(s),
        None => rand::rngs::StdRng::from_entropy(),
    };
    order.shuffle(&mut rng);
    let mut strips = Vec::with_capacity(params.nstrips as usize);
    for b in order {
        let start = b * bucket;
        if let Some(offset) = bitmap.find_free_in(strip_len, start, start + bucket) {
            strips.push(Extent {
                devindex: 0,
                offset,
                len: strip_len,
            });
            if strips.len() as u64 == nstrips {
                return Ok(Fmap::Interleaved(vec![InterleavedExtent {
                    chunk_size: params.chunk,
                    strips,
                }]));
            }
        }
    }
    Err(Error::OutOfSpace {
        requested: strip_len * nstrips,
        largest_free: bitmap.largest_free_run() * unit,
        free: bitmap.free_bytes(),
    })
}

/// Free space of each bucket, for `fsck -B`: (bucket, free bytes, largest
/// free run in bytes, number of free runs).
pub fn bucket_report(bitmap: &Bitmap, dev_size: u64, nbuckets: u32) -> Vec<(u32, u64, u64, u64)> {
    let unit = bitmap.unit();
    let per = dev_size / u64::from(nbuckets.max(1)) / unit;
    (0..nbuckets)
        .map(|b| {
            let from = u64::from(b) * per;
            let runs = bitmap.free_runs(from, from + per);
            let free: u64 = runs.iter().map(|r| r.1).sum();
            let largest = runs.iter().map(|r| r.1).max().unwrap_or(0);
            (b, free * unit, largest * unit, runs.len() as u64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    fn p(nbuckets: u32, nstrips: u32, chunk: u64) -> StripeParams {
        StripeParams {
            nbuckets,
            nstrips,
            chunk,
        }
    }

    #[test]
    fn rules() {
        assert!(p(0, 0, 0).validate(GIB, false).is_ok());
        assert!(p(8, 7, 2 * MIB).validate(8 * GIB, false).is_ok());
        assert!(
            p(8, 7, 3 * MIB).validate(8 * GIB, false).is_err(),
            "not a power of two"
        );
        assert!(p(8, 7, MIB).validate(8 * GIB, false).is_err(), "not 2 MiB");
        assert!(
            p(8, 9, 2 * MIB).validate(8 * GIB, false).is_err(),
            "nstrips > nbuckets"
        );
        assert!(p(8, 0, 2 * MIB).validate(8 * GIB, false).is_err());
        assert!(p(65, 7, 2 * MIB).validate(128 * GIB, false).is_err());
        assert!(
            p(20, 17, 2 * MIB).validate(64 * GIB, false).is_err(),
            "17 strips"
        );
        assert!(
            p(8, 7, 2 * MIB).validate(4 * GIB, false).is_err(),
            "512 MiB buckets"
        );
        assert!(
            p(8, 7, 2 * MIB).validate(4 * GIB, true).is_ok(),
            "simulated floor"
        );
        assert!(
            p(8, 7, 2 * MIB).validate(8 * MIB, true).is_err(),
            "1 MiB buckets"
        );
    }

    #[test]
    fn parse_mount_option() {
        let sz = |s: &str| {
            s.strip_suffix('m')
                .and_then(|n| n.parse::<u64>().ok())
                .map(|n| n * MIB)
        };
        assert_eq!(
            StripeParams::parse("nbuckets=8,nstrips=7,chunk=2m", sz).unwrap(),
            p(8, 7, 2 * MIB)
        );
        assert!(StripeParams::parse("nbuckets=x", sz).is_err());
        assert!(StripeParams::parse("color=blue", sz).is_err());
    }

    #[test]
    fn strips_land_in_distinct_buckets_and_cover_the_file() {
        let dev = 8 * GIB;
        let bm = Bitmap::new(dev, 2 * MIB, 10 * MIB);
        let params = p(8, 7, 2 * MIB);
        let size = 100 * MIB + 1;
        let Fmap::Interleaved(ie) = allocate(&bm, dev, size, &params, Some(1)).unwrap() else {
            panic!("interleaved expected");
        };
        let strips = &ie[0].strips;
        assert_eq!(strips.len(), 7);
        // 51 chunks over 7 strips: 8 chunks (16 MiB) each.
        assert!(strips.iter().all(|s| s.len == 16 * MIB));
        let mut buckets: Vec<u64> = strips.iter().map(|s| s.offset / GIB).collect();
        assert!(strips
            .iter()
            .all(|s| (s.offset + s.len - 1) / GIB == s.offset / GIB));
        buckets.sort();
        buckets.dedup();
        assert_eq!(buckets.len(), 7, "one strip per bucket");
        // The same seed gives the same placement; the fmap validates.
        assert_eq!(
            allocate(&bm, dev, size, &params, Some(1)).unwrap(),
            Fmap::Interleaved(ie.clone())
        );
        Fmap::Interleaved(ie)
            .validate(size, |i| (i == 0).then_some(dev))
            .unwrap();
    }

    #[test]
    fn small_files_are_contiguous_and_full_buckets_are_skipped() {
        let dev = 8 * GIB;
        let mut bm = Bitmap::new(dev, 2 * MIB, 10 * MIB);
        let params = p(8, 7, 4 * MIB);
        assert!(matches!(
            allocate(&bm, dev, 3 * MIB, &params, Some(2)).unwrap(),
            Fmap::Simple(_)
        ));
        // Fill buckets 0 and 1 completely: 6 remain, too few for 7 strips.
        bm.mark(0, 2 * GIB);
        let e = allocate(&bm, dev, 64 * MIB, &params, Some(3)).unwrap_err();
        assert!(matches!(e, Error::OutOfSpace { .. }), "{e}");
        let six = p(8, 6, 4 * MIB);
        assert!(allocate(&bm, dev, 64 * MIB, &six, Some(3)).is_ok());
    }

    #[test]
    fn bucket_report_counts_free_space() {
        let dev = 8 * GIB;
        let mut bm = Bitmap::new(dev, 2 * MIB, 10 * MIB);
        bm.mark(GIB + 100 * MIB, 2 * MIB);
        let r = bucket_report(&bm, dev, 8);
        assert_eq!(r[0].1, GIB - 10 * MIB);
        assert_eq!(r[1].3, 2, "one used unit splits bucket 1 in two runs");
        assert_eq!(r[1].1, GIB - 2 * MIB);
        assert_eq!(r[2], (2, GIB, GIB, 1));
    }
}
