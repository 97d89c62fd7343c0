//! Capacity arithmetic shared by `df` and `fsck`, kept in one place.
//!
//! Capacity is what files can ever occupy: the whole allocation units of
//! every device less the metadata (on the primary the superblock region
//! and log, on a secondary device its superblock region).
//! Allocated is the units the log's files claim (each counted once, even
//! when two files collide on it); free is the rest.

use famfs_core::alloc::Bitmap;
use famfs_core::famfs::Famfs;

/// Space on a file system's devices, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    pub capacity: u64,
    pub allocated: u64,
    pub free: u64,
}

impl Space {
    /// Space on all of `fs`'s devices as replay found it.
    pub fn of(fs: &Famfs) -> Space {
        let replay = fs.replay();
        let mut total = Space {
            capacity: 0,
            allocated: 0,
            free: 0,
        };
        for d in replay.devices() {
            let Some(b) = replay.bitmap(d.index) else {
                continue;
            };
            let metadata = match d.index {
                0 => fs.superblock().metadata_end(),
                _ => famfs_core::format::SUPERBLOCK_REGION,
            };
            let s = Self::from_bitmap(b, metadata);
            total.capacity += s.capacity;
            total.allocated += s.allocated;
            total.free += s.free;
        }
        total
    }

    /// Space from a bitmap whose first `metadata_end` bytes are metadata.
    pub fn from_bitmap(b: &Bitmap, metadata_end: u64) -> Space {
        let unit = b.unit().max(1);
        let metadata = metadata_end.div_ceil(unit).saturating_mul(unit);
        let capacity = b.capacity_bytes().saturating_sub(metadata);
        let allocated = b
            .used_units()
            .saturating_mul(unit)
            .saturating_sub(metadata)
            .min(capacity);
        Space {
            capacity,
            allocated,
            free: capacity - allocated,
        }
    }

    /// Percentage allocated, rounded up as `df` does.
    pub fn use_percent(&self) -> u64 {
        if self.capacity == 0 {
            0
        } else {
            (u128::from(self.allocated) * 100).div_ceil(u128::from(self.capacity)) as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn one_gib_device_holds_507_units() {
        let mut b = Bitmap::new(1024 * MIB, 2 * MIB, 10 * MIB);
        let s = Space::from_bitmap(&b, 10 * MIB);
        assert_eq!(s.capacity, 507 * 2 * MIB);
        assert_eq!((s.allocated, s.free), (0, s.capacity));
        assert_eq!(s.use_percent(), 0);
        b.alloc(MIB).unwrap();
        let s = Space::from_bitmap(&b, 10 * MIB);
        assert_eq!(s.allocated, 2 * MIB);
        assert_eq!(s.free, 506 * 2 * MIB);
        assert_eq!(s.use_percent(), 1);
    }

    #[test]
    fn collisions_count_once() {
        let mut b = Bitmap::new(64 * MIB, 2 * MIB, 10 * MIB);
        b.mark(20 * MIB, 4 * MIB);
        b.mark(20 * MIB, 4 * MIB);
        assert_eq!(Space::from_bitmap(&b, 10 * MIB).allocated, 4 * MIB);
    }
}
