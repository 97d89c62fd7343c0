//! Simulated memory errors: a poison list for simulated regions.
//!
//! Real CXL memory reports an uncorrectable error by raising SIGBUS
//! (`BUS_MCEERR_AR`) on the load that consumes a poisoned line, and the
//! kernel then fails the file with EHWPOISON. A simulated region is a plain
//! file and cannot fail that way, so tests give it a poison list instead
//! (`famfs debug poison DEVICE OFFSET LEN`). The list lives inside the
//! region, in the unused part of the superblock region at [`TABLE_OFFSET`]:
//! every process maps the region shared, so a process that is already
//! running sees new poison on its next access, with no system call. Reads,
//! writes and mmaps of a poisoned range then fail with EHWPOISON exactly as
//! a memory error would. Devdax devices never carry a list: their errors
//! are real.
//!
//! Layout (little-endian): `u64 magic`, `u64 count`, then `count` ranges of
//! `{u64 offset, u64 len}`, at most [`MAX_RANGES`]. Ranges are whole 4 KiB
//! pages, the granularity at which the kernel poisons memory.

use crate::dax::{Access, DaxDevice, DeviceKind};
use crate::error::{Error, Result};
use crate::format::SUPERBLOCK_REGION;

/// Where the list lives: 1 MiB into the 2 MiB superblock region, far past
/// the 200-byte superblock that the reference tools read.
pub const TABLE_OFFSET: u64 = 1 << 20;
/// Most ranges a list holds.
pub const MAX_RANGES: u64 = 1024;
/// "FMPOISON" as a little-endian u64.
const MAGIC: u64 = u64::from_le_bytes(*b"FMPOISON");
/// Poison granularity.
pub const PAGE: u64 = 4096;

/// Size of the list's header (magic and count).
pub const HEADER_LEN: usize = 16;

/// How many ranges the list of `dev` announces: its header's count (the
/// [`HEADER_LEN`] bytes at [`TABLE_OFFSET`]: magic, then count), 0 for a
/// device that is not a simulated region or has no list. Two word loads,
/// the count first (it is 0 on every region without poison).
// Inlined always: it is on every read of a simulated region, where a
// call frame cost 14 of the 353 instructions of a pread.
#[inline(always)]
fn announced_count(dev: &DaxDevice) -> Result<u64> {
    if dev.kind() != DeviceKind::Simulated || dev.size() < TABLE_OFFSET + HEADER_LEN as u64 {
        return Ok(0);
    }
    let count = dev.read_u64(TABLE_OFFSET + 8)?;
    if count == 0 || dev.read_u64(TABLE_OFFSET)? != MAGIC {
        return Ok(0);
    }
    Ok(count)
}

/// Whether simulated region `dev` announces any poison; only then need a
/// range be checked with [`hit`]. Cheap enough for every read.
#[inline]
pub fn announced(dev: &DaxDevice) -> Result<bool> {
    Ok(announced_count(dev)? != 0)
}

/// The simulated region `dev`'s poison list: (offset, len) pairs.
pub fn ranges(dev: &DaxDevice) -> Result<Vec<(u64, u64)>> {
    let n = announced_count(dev)?.min(MAX_RANGES);
    let mut buf = vec![0u8; (n * 16) as usize];
    dev.read_at(TABLE_OFFSET + 16, &mut buf)?;
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
    Ok(buf
        .chunks_exact(16)
        .map(|c| (word(&c[..8]), word(&c[8..])))
        .collect())
}

/// True when `[offset, offset + len)` of `dev` overlaps its poison list
/// (readers call it only once [`announced`] says there is one).
pub fn hit(dev: &DaxDevice, offset: u64, len: u64) -> Result<bool> {
    let end = offset.saturating_add(len);
    Ok(ranges(dev)?
        .iter()
        .any(|&(o, l)| o < end && offset < o.saturating_add(l)))
}

/// Adds `[offset, offset + len)`, widened to whole pages, to the poison list
/// of the simulated region `dev` (mapped read-write).
pub fn add(dev: &DaxDevice, offset: u64, len: u64) -> Result<(u64, u64)> {
    writable_region(dev)?;
    let start = offset / PAGE * PAGE;
    let end = offset
        .checked_add(len.max(1))
        .and_then(|e| e.checked_next_multiple_of(PAGE))
        .filter(|&e| e <= dev.size())
        .ok_or(Error::OutOfBounds {
            offset,
            len,
            size: dev.size(),
        })?;
    if start < SUPERBLOCK_REGION {
        return Err(Error::Usage(format!(
            "offset {offset:#x}: the superblock region (first {SUPERBLOCK_REGION:#x} bytes) \
             holds the poison list itself and cannot be poisoned"
        )));
    }
    let mut list = ranges(dev)?;
    if list.len() as u64 >= MAX_RANGES {
        return Err(Error::Usage(format!(
            "the poison list is full ({MAX_RANGES} ranges)"
        )));
    }
    list.push((start, end - start));
    write(dev, &list)?;
    Ok((start, end - start))
}

/// Empties the poison list of the simulated region `dev`.
pub fn clear(dev: &DaxDevice) -> Result<()> {
    writable_region(dev)?;
    write(dev, &[])
}

fn writable_region(dev: &DaxDevice) -> Result<()> {
    if dev.kind() != DeviceKind::Simulated {
        return Err(Error::BadDevice {
            path: dev.path().to_path_buf(),
            reason: "poison can only be simulated on a simulated region; \
                     a devdax device's memory errors are real"
                .into(),
        });
    }
    if dev.access() != Access::ReadWrite {
        return Err(Error::ReadOnly {
            path: dev.path().to_path_buf(),
        });
    }
    Ok(())
}

/// Writes the ranges first and the count last, so a reader never sees a
/// count that covers ranges not written yet.
fn write(dev: &DaxDevice, list: &[(u64, u64)]) -> Result<()> {
    let mut buf = Vec::with_capacity(list.len() * 16);
    for &(o, l) in list {
        buf.extend_from_slice(&o.to_le_bytes());
        buf.extend_from_slice(&l.to_le_bytes());
    }
    dev.write_at(TABLE_OFFSET + 16, &buf)?;
    dev.write_at(TABLE_OFFSET, &MAGIC.to_le_bytes())?;
    dev.write_u64(TABLE_OFFSET + 8, list.len() as u64)?;
    dev.write_back(TABLE_OFFSET, 16 + buf.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn a_poisoned_range_is_seen_by_another_mapping_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.img");
        DaxDevice::create_simulated(&path, 16 * MIB).unwrap();
        let w = DaxDevice::open(&path, Access::ReadWrite).unwrap();
        let r = DaxDevice::open(&path, Access::ReadOnly).unwrap();
        assert!(!hit(&r, 0, 16 * MIB).unwrap());
        // Widened to whole pages.
        assert_eq!(add(&w, 4 * MIB + 10, 100).unwrap(), (4 * MIB, PAGE));
        assert!(hit(&r, 4 * MIB + PAGE - 1, 1).unwrap());
        assert!(hit(&r, 0, 4 * MIB + 1).unwrap());
        assert!(!hit(&r, 0, 4 * MIB).unwrap());
        assert!(!hit(&r, 4 * MIB + PAGE, MIB).unwrap());
        assert_eq!(ranges(&r).unwrap(), [(4 * MIB, PAGE)]);
        // Refusals: the superblock region, past the end, a read-only map.
        assert!(add(&w, MIB, 1).is_err());
        assert!(add(&w, 16 * MIB - 1, 2).is_err());
        assert!(add(&r, 4 * MIB, 1).is_err());
        clear(&w).unwrap();
        assert!(!hit(&r, 0, 16 * MIB).unwrap());
    }
}
