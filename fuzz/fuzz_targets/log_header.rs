//! Log header decoding against the contract, for any superblock log
//! length: the verdict follows the documented checks, and a header that
//! decodes re-encodes to exactly its 48 input bytes.
//!
//! Input: one flag byte (bit 0: recompute the header CRC so the fuzzer gets
//! past it), the superblock's log length (u64 LE), then the header bytes.

#![no_main]

use famfs_core::format::{crc32, LogHeader};
use famfs_core::Error;
use famfs_fuzz::le::u64_at;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, PartialEq)]
enum Verdict {
    Short,
    Magic,
    Crc,
    Bad,
    Valid,
}

fn expected(b: &[u8], sb_log_len: u64) -> Verdict {
    if b.len() < 48 {
        return Verdict::Short;
    }
    if u64_at(b, 0) != 0x0bad_cafe_f00d {
        return Verdict::Magic;
    }
    if u64_at(b, 24) != u64::from(crc32(&b[..24])) {
        return Verdict::Crc;
    }
    let len = u64_at(b, 8);
    // A log must hold at least one entry for last_index to mean anything.
    if len != sb_log_len || len < 48 + 544 {
        return Verdict::Bad;
    }
    let last = (len - 48) / 544 - 1;
    if u64_at(b, 16) != last || u64_at(b, 40) > last + 1 {
        return Verdict::Bad;
    }
    Verdict::Valid
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let sb_log_len = u64_at(data, 1);
    let mut header = data[9..].to_vec();
    if data[0] & 1 != 0 && header.len() >= 32 {
        let crc = u64::from(crc32(&header[..24]));
        header[24..32].copy_from_slice(&crc.to_le_bytes());
    }
    let got = LogHeader::decode(&header, sb_log_len);
    let verdict = match &got {
        Ok(_) => Verdict::Valid,
        Err(Error::BadLogMagic { .. }) => Verdict::Magic,
        Err(Error::BadLogCrc { .. }) => Verdict::Crc,
        Err(Error::BadLogHeader(m)) if m.starts_with("only") => Verdict::Short,
        Err(Error::BadLogHeader(_)) => Verdict::Bad,
        Err(e) => panic!("unexpected error kind: {e:?}"),
    };
    assert_eq!(verdict, expected(&header, sb_log_len), "{got:?}");
    let Ok(h) = got else { return };

    assert_eq!(h.encode().as_slice(), &header[..48], "re-encoding {h:?}");
    assert_eq!(h.capacity(), h.last_index + 1);
    assert_eq!(h.is_full(), h.next_index == h.capacity());
    assert_eq!(h.is_torn(), h.next_seqnum != h.next_index);
    // Every published entry lies inside the log.
    assert!(LogHeader::entry_offset(h.next_index) <= h.len);
});
