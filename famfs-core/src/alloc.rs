//! The allocation bitmap: one bit per allocation unit of a device.
//!
//! famfs keeps no free-space map on the media; every host rebuilds it from
//! the log: the units under the superblock region and the log are used, then
//! every extent (or interleaved strip) of every file is marked. A unit marked
//! twice is a collision: two files claim the same memory, which fsck reports.
//! Allocation is first-fit and contiguous, in whole units.

use crate::error::{Error, Result};

/// Allocation state of one device.
#[derive(Debug, Clone)]
pub struct Bitmap {
    unit: u64,
    dev_size: u64,
    nbits: u64,
    words: Vec<u64>,
    used: u64,
    collisions: u64,
}

impl Bitmap {
    /// A bitmap for a device of `dev_size` bytes, with `[0, reserved)` used.
    ///
    /// nbits = ceil(dev_size / unit); a partial unit at the end of the device
    /// counts as a bit but is never handed out (see [`Bitmap::alloc`]).
    pub fn new(dev_size: u64, unit: u64, reserved: u64) -> Self {
        let nbits = dev_size.div_ceil(unit);
        let mut b = Bitmap {
            unit,
            dev_size,
            nbits,
            words: vec![0; nbits.div_ceil(64) as usize],
            used: 0,
            collisions: 0,
        };
        b.mark(0, reserved.min(nbits * unit));
        b
    }

    /// The allocation unit in bytes.
    pub fn unit(&self) -> u64 {
        self.unit
    }

    /// Number of units (bits).
    pub fn nbits(&self) -> u64 {
        self.nbits
    }

    /// Units marked used at least once.
    pub fn used_units(&self) -> u64 {
        self.used
    }

    /// Units that were marked more than once.
    pub fn collisions(&self) -> u64 {
        self.collisions
    }

    /// Capacity in whole units, in bytes (what files can ever occupy).
    pub fn capacity_bytes(&self) -> u64 {
        self.whole_units() * self.unit
    }

    /// Free bytes in whole units.
    pub fn free_bytes(&self) -> u64 {
        (self.whole_units() - self.used.min(self.whole_units())) * self.unit
    }

    /// Units that lie wholly inside the device.
    fn whole_units(&self) -> u64 {
        // The last bit may stand for a partial unit when the device size is
        // not a multiple of the unit; it is never allocatable.
        self.dev_size / self.unit
    }

    fn test(&self, bit: u64) -> bool {
        self.words[(bit / 64) as usize] & (1 << (bit % 64)) != 0
    }

    fn set(&mut self, bit: u64) -> bool {
        let w = &mut self.words[(bit / 64) as usize];
        let was = *w & (1 << (bit % 64)) != 0;
        *w |= 1 << (bit % 64);
        was
    }

    /// Marks `[offset, offset + len)` used, returning how many of its units
    /// were already used (collisions). Units past the end are an error.
    pub fn mark(&mut self, offset: u64, len: u64) -> u64 {
        if len == 0 {
            return 0;
        }
        let first = offset / self.unit;
        let end = offset
            .saturating_add(len)
            .div_ceil(self.unit)
            .min(self.nbits);
        let mut hits = 0;
        for bit in first..end {
            if self.set(bit) {
                hits += 1;
            } else {
                self.used += 1;
            }
        }
        self.collisions += hits;
        hits
    }

    /// True if any unit of `[offset, offset + len)` is used or past the end.
    pub fn any_used(&self, offset: u64, len: u64) -> bool {
        let first = offset / self.unit;
        let end = offset.saturating_add(len).div_ceil(self.unit);
        end > self.nbits || (first..end).any(|b| self.test(b))
    }

    /// Finds the first free run long enough for `len` bytes (rounded up to
    /// whole units) without marking it, returning its byte offset.
    ///
    /// The search only considers runs that end at or before the last whole
    /// unit, so it cannot run past the end of the device wherever it starts.
    pub fn find_free(&self, len: u64) -> Result<u64> {
        self.find_free_in(len, 0, self.whole_units() * self.unit)
            .ok_or_else(|| Error::OutOfSpace {
                requested: len.div_ceil(self.unit).max(1) * self.unit,
                largest_free: self.largest_free_run() * self.unit,
                free: self.free_bytes(),
            })
    }

    /// First free run of `len` bytes (whole units) lying inside the byte
    /// range `[from, to)`, for allocation within one bucket.
    pub fn find_free_in(&self, len: u64, from: u64, to: u64) -> Option<u64> {
        let need = len.div_ceil(self.unit).max(1);
        let first = from.div_ceil(self.unit);
        let end = (to / self.unit).min(self.whole_units());
        let mut run_start = first;
        let mut run = 0;
        for bit in first..end {
            if self.test(bit) {
                run = 0;
                run_start = bit + 1;
            } else {
                run += 1;
                if run == need {
                    return Some(run_start * self.unit);
                }
            }
        }
        None
    }

    /// [`Bitmap::find_free`], then marks the run used.
    pub fn alloc(&mut self, len: u64) -> Result<u64> {
        let offset = self.find_free(len)?;
        self.mark(offset, len.max(1));
        Ok(offset)
    }

    /// Longest free run, in units.
    pub fn largest_free_run(&self) -> u64 {
        let (mut best, mut run) = (0, 0);
        for bit in 0..self.whole_units() {
            if self.test(bit) {
                run = 0;
            } else {
                run += 1;
                best = best.max(run);
            }
        }
        best
    }

    /// Free runs as (start unit, length in units), in address order; used by
    /// fsck's fragmentation report and by interleaved allocation in buckets.
    pub fn free_runs(&self, from: u64, to: u64) -> Vec<(u64, u64)> {
        let to = to.min(self.whole_units());
        let mut runs = Vec::new();
        let mut start = None;
        for bit in from..to {
            match (self.test(bit), start) {
                (false, None) => start = Some(bit),
                (true, Some(s)) => {
                    runs.push((s, bit - s));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            runs.push((s, to - s));
        }
        runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn one_gib_device_takes_507_one_mib_files() {
        // 512 units of 2 MiB, 5 of them under the superblock region and log.
        let mut b = Bitmap::new(1 << 30, 2 * MIB, 10 * MIB);
        let mut n = 0;
        while b.alloc(MIB).is_ok() {
            n += 1;
        }
        assert_eq!(n, 507);
        assert!(matches!(
            b.alloc(MIB),
            Err(Error::OutOfSpace { free: 0, .. })
        ));
        assert_eq!(b.collisions(), 0);
    }

    #[test]
    fn first_fit_is_contiguous_and_in_order() {
        let mut b = Bitmap::new(64 * MIB, 2 * MIB, 10 * MIB);
        assert_eq!(b.alloc(1).unwrap(), 10 * MIB);
        assert_eq!(b.alloc(4096).unwrap(), 12 * MIB);
        assert_eq!(b.alloc(2 * MIB + 1).unwrap(), 14 * MIB);
        assert_eq!(b.alloc(2 * MIB).unwrap(), 18 * MIB);
        assert_eq!(b.used_units(), 10);
    }

    #[test]
    fn never_runs_past_the_end() {
        // A hole at the very end smaller than the request must not be used,
        // and a search that starts mid-device must stop at the last unit.
        let mut b = Bitmap::new(32 * MIB, 2 * MIB, 10 * MIB);
        b.mark(10 * MIB, 18 * MIB); // leaves units 14 and 15 free
        assert!(b.alloc(6 * MIB).is_err());
        assert_eq!(b.alloc(4 * MIB).unwrap(), 28 * MIB);
        assert!(b.alloc(1).is_err());
    }

    #[test]
    fn partial_last_unit_is_never_allocated() {
        let mut b = Bitmap::new(13 * MIB, 2 * MIB, 10 * MIB);
        assert_eq!(b.nbits(), 7);
        assert_eq!(b.alloc(1).unwrap(), 10 * MIB);
        assert!(b.alloc(1).is_err(), "12..13 MiB is a partial unit");
        assert_eq!(b.capacity_bytes(), 12 * MIB);
    }

    #[test]
    fn collisions_are_counted() {
        let mut b = Bitmap::new(64 * MIB, 2 * MIB, 10 * MIB);
        assert_eq!(b.mark(20 * MIB, 4 * MIB), 0);
        assert_eq!(b.mark(22 * MIB, 4 * MIB), 1);
        assert_eq!(b.mark(0, 2 * MIB), 1);
        assert_eq!(b.collisions(), 2);
        assert!(b.any_used(22 * MIB, 1));
        assert!(!b.any_used(30 * MIB, 2 * MIB));
        assert!(b.any_used(62 * MIB, 4 * MIB), "past the end counts as used");
    }

    #[test]
    fn free_runs_and_largest() {
        let mut b = Bitmap::new(32 * MIB, 2 * MIB, 10 * MIB);
        b.mark(14 * MIB, 2 * MIB);
        assert_eq!(b.free_runs(0, 16), vec![(5, 2), (8, 8)]);
        assert_eq!(b.largest_free_run(), 8);
        assert_eq!(b.free_bytes(), 20 * MIB);
    }
}
