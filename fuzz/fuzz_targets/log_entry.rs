//! Log entry decoding against the contract: the seal check (seqnum = index,
//! CRC) and the content rules give the verdict a model computed from raw
//! bytes gives; a decoded entry holds exactly the bytes at the contract's
//! offsets, and re-encodes to bytes that agree with the input wherever it
//! writes anything and decode to the same entry.
//!
//! Input: one flag byte (bit 0: make seqnum = index and recompute the CRC,
//! so the fuzzer reaches the content; bit 1: pad to a whole entry), the
//! entry's index (u64 LE), then the entry bytes.

#![no_main]

use famfs_core::fmap::Fmap;
use famfs_core::format::{crc32, LogEntry};
use famfs_fuzz::le::{u32_at, u64_at};
use libfuzzer_sys::fuzz_target;

const ENTRY: usize = 544;

fn sealed(b: &[u8], index: u64) -> bool {
    b.len() >= ENTRY && u64_at(b, 0) == index && u64_at(b, 536) == u64::from(crc32(&b[..536]))
}

/// An 80-byte path field decodes when it holds a NUL, is not empty and is
/// UTF-8 before it.
fn path_ok(field: &[u8]) -> bool {
    match field.iter().position(|&c| c == 0) {
        Some(0) | None => false,
        Some(n) => std::str::from_utf8(&field[..n]).is_ok(),
    }
}

/// Extent `k` of a table at `at`: its device index must fit a u32.
fn extents_ok(b: &[u8], at: usize, n: u64) -> bool {
    (0..n as usize).all(|k| u64_at(b, at + 24 * k) <= u64::from(u32::MAX))
}

/// Whether the content of a sealed entry decodes, by the contract.
fn content_ok(b: &[u8]) -> bool {
    match u32_at(b, 8) {
        0 => {
            path_ok(&b[40..120])
                && match (u32_at(b, 120), u32_at(b, 128)) {
                    (0, n) => (1..=16).contains(&n) && extents_ok(b, 136, u64::from(n)),
                    (1, 1) => {
                        let nstrips = u64_at(b, 136);
                        (1..=16).contains(&nstrips) && extents_ok(b, 152, nstrips)
                    }
                    _ => false,
                }
        }
        1 => path_ok(&b[28..108]),
        2 | 3 => true,
        _ => false,
    }
}

fn relpath_at(b: &[u8], at: usize) -> &str {
    let field = &b[at..at + 80];
    std::str::from_utf8(&field[..field.iter().position(|&c| c == 0).unwrap()]).unwrap()
}

/// The decoded entry holds what the contract's offsets hold.
fn check_fields(entry: &LogEntry, b: &[u8]) {
    match entry {
        LogEntry::File(f) => {
            assert_eq!(u32_at(b, 8), 0);
            assert_eq!(
                (f.size, f.flags, f.uid, f.gid, f.mode),
                (
                    u64_at(b, 16),
                    u32_at(b, 24),
                    u32_at(b, 28),
                    u32_at(b, 32),
                    u32_at(b, 36)
                )
            );
            assert_eq!(f.relpath, relpath_at(b, 40));
            let (table, exts) = match &f.fmap {
                Fmap::Simple(e) => {
                    assert_eq!(u32_at(b, 120), 0);
                    assert_eq!(u32_at(b, 128) as usize, e.len());
                    (136, e.as_slice())
                }
                Fmap::Interleaved(ie) => {
                    assert_eq!((u32_at(b, 120), u32_at(b, 128), ie.len()), (1, 1, 1));
                    assert_eq!(u64_at(b, 136), ie[0].strips.len() as u64);
                    assert_eq!(u64_at(b, 144), ie[0].chunk_size);
                    (152, ie[0].strips.as_slice())
                }
            };
            for (k, e) in exts.iter().enumerate() {
                let at = table + 24 * k;
                assert_eq!(
                    (u64::from(e.devindex), e.offset, e.len),
                    (u64_at(b, at), u64_at(b, at + 8), u64_at(b, at + 16))
                );
            }
        }
        LogEntry::Mkdir(d) => {
            assert_eq!(u32_at(b, 8), 1);
            assert_eq!(
                (d.uid, d.gid, d.mode),
                (u32_at(b, 16), u32_at(b, 20), u32_at(b, 24))
            );
            assert_eq!(d.relpath, relpath_at(b, 28));
        }
        LogEntry::Delete => assert_eq!(u32_at(b, 8), 2),
        LogEntry::AddDaxdev(d) => {
            assert_eq!(u32_at(b, 8), 3);
            assert_eq!(d.size, u64_at(b, 16));
            assert_eq!(d.uuid.as_bytes(), &b[24..40]);
            assert_eq!(d.index, u32_at(b, 40));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let index = u64_at(data, 1);
    let mut b = data[9..].to_vec();
    if data[0] & 2 != 0 && b.len() < ENTRY {
        b.resize(ENTRY, 0);
    }
    if data[0] & 1 != 0 && b.len() >= ENTRY {
        b[0..8].copy_from_slice(&index.to_le_bytes());
        let crc = u64::from(crc32(&b[..536]));
        b[536..544].copy_from_slice(&crc.to_le_bytes());
    }

    let seal = LogEntry::check_sealed(&b, index);
    assert_eq!(seal.is_ok(), sealed(&b, index), "{seal:?}");
    let got = LogEntry::decode(&b, index);
    if seal.is_err() {
        assert!(got.is_err(), "an unsealed entry decoded");
        return;
    }
    assert_eq!(got.is_ok(), content_ok(&b), "{got:?}");
    let Ok(entry) = got else { return };
    check_fields(&entry, &b);

    let again = entry.encode(index).expect("a decoded entry encodes");
    assert_eq!(LogEntry::decode(&again, index).expect("re-decodes"), entry);
    for i in 0..536 {
        assert!(
            again[i] == 0 || again[i] == b[i],
            "re-encoding wrote {:#x} at byte {i} where the input holds {:#x}",
            again[i],
            b[i]
        );
    }
});
