//! fmaps from log entries: decode the fmap of a FILE entry, validate it
//! against a device table, then resolve file offsets. Validation must
//! accept exactly the fmaps the contract's rules (written out again here)
//! accept, and every resolution must keep the `resolution` rules: inside
//! the fmap's own extents always, and for a validated fmap inside its
//! device, without gaps, where the contract's formula says.
//!
//! Input: a flag byte (device table), the file size (u64 LE), the 416-byte
//! fmap of the entry, then (offset, length) requests as u64 LE pairs.

#![no_main]

use famfs_core::fmap::{Extent, Fmap, InterleavedExtent};
use famfs_core::format::{crc32, entry_off, LogEntry, ENTRY_FILE};
use famfs_fuzz::le::u64_at;
use famfs_fuzz::resolution;
use libfuzzer_sys::fuzz_target;

const MIB: u64 = 1 << 20;
const FMAP_LEN: usize = 416;

/// The FILE entry holding `fmap` for a file of `size` bytes, sealed as
/// entry 0, decoded as replay decodes it.
fn decode_fmap(size: u64, fmap: &[u8]) -> Option<Fmap> {
    let mut e = [0u8; 544];
    e[entry_off::TYPE..entry_off::TYPE + 4].copy_from_slice(&ENTRY_FILE.to_le_bytes());
    e[entry_off::FILE_SIZE..entry_off::FILE_SIZE + 8].copy_from_slice(&size.to_le_bytes());
    e[entry_off::FILE_RELPATH] = b'f';
    e[entry_off::FILE_FMAP..entry_off::FILE_FMAP + fmap.len()].copy_from_slice(fmap);
    let crc = u64::from(crc32(&e[..entry_off::CRC]));
    e[entry_off::CRC..].copy_from_slice(&crc.to_le_bytes());
    match LogEntry::decode(&e, 0).ok()? {
        LogEntry::File(f) => Some(f.fmap),
        other => panic!("a FILE entry decoded as {other:?}"),
    }
}

/// The contract's rule for one extent or strip.
fn range_ok(e: &Extent, dev: &dyn Fn(u32) -> Option<u64>) -> bool {
    let aligned = |x: u64| x % (2 * MIB) == 0;
    aligned(e.offset)
        && aligned(e.len)
        && e.len > 0
        && e.offset > 0
        && e.devindex < 24
        && dev(e.devindex)
            .is_some_and(|size| u128::from(e.offset) + u128::from(e.len) <= u128::from(size))
}

fn interleaved_ok(ie: &InterleavedExtent, dev: &dyn Fn(u32) -> Option<u64>) -> bool {
    let c = ie.chunk_size;
    let n = ie.strips.len();
    (1..=32).contains(&n)
        && c > 0
        && c % (2 * MIB) == 0
        && c.is_power_of_two()
        && ie.strips.iter().all(|s| range_ok(s, dev))
        && ie
            .strips
            .iter()
            .all(|s| s.len == ie.strips[0].len && s.len % c == 0)
}

/// The validation rules of the contract plus the project's (chunks a power
/// of two; equal strips of whole chunks).
pub fn model_valid(fmap: &Fmap, size: u64, dev: &dyn Fn(u32) -> Option<u64>) -> bool {
    let (n, total, each) = match fmap {
        Fmap::Simple(e) => (
            e.len(),
            e.iter().map(|x| u128::from(x.len)).sum::<u128>(),
            e.iter().all(|x| range_ok(x, dev)),
        ),
        Fmap::Interleaved(ie) => (
            ie.len(),
            ie.iter()
                .flat_map(|i| &i.strips)
                .map(|x| u128::from(x.len))
                .sum(),
            ie.iter().all(|i| interleaved_ok(i, dev)),
        ),
    };
    (1..=32).contains(&n) && each && total >= u128::from(size)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let flags = data[0];
    let size = u64_at(data, 1);
    let rest = &data[9..];
    let (fmap_bytes, requests) = rest.split_at(rest.len().min(FMAP_LEN));
    let Some(fmap) = decode_fmap(size, fmap_bytes) else {
        return;
    };
    // Device 0 of 4 GiB or 64 MiB; device 1 (1 GiB) when bit 1 is set.
    let dev0 = if flags & 1 != 0 { 64 * MIB } else { 4 << 30 };
    let dev1 = flags & 2 != 0;
    let devices = move |i: u32| match i {
        0 => Some(dev0),
        1 if dev1 => Some(1 << 30),
        _ => None,
    };
    let validated = fmap.validate(size, devices);
    assert_eq!(
        validated.is_ok(),
        model_valid(&fmap, size, &devices),
        "validate says {validated:?} for {fmap:?}, size {size}"
    );

    let mut reqs: Vec<(u64, u64)> = requests
        .chunks_exact(16)
        .take(64)
        .map(|r| (u64_at(r, 0), u64_at(r, 8)))
        .collect();
    reqs.extend(
        resolution::boundary_offsets(&fmap, size)
            .into_iter()
            .flat_map(|o| [(o, 1), (o, 3 * MIB)]),
    );
    reqs.push((0, u64::MAX));
    let checked: Option<&dyn Fn(u32) -> Option<u64>> = match validated {
        Ok(()) => Some(&devices),
        Err(_) => None,
    };
    resolution::check(&fmap, size, checked, &reqs);
});
