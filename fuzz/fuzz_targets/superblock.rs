//! Superblock decoding against the contract (famfs-format.md): the
//! verdict for any bytes follows the documented check order, a decoded
//! superblock holds exactly the bytes at the contract's offsets, and
//! encoding it gives back the input (padding and name tail aside).

#![no_main]

use famfs_core::format::{crc32, Superblock};
use famfs_core::Error;
use famfs_fuzz::le::{u32_at, u64_at};
use libfuzzer_sys::fuzz_target;

const MIB: u64 = 1 << 20;

#[derive(Debug, PartialEq)]
enum Verdict {
    Short,
    Magic,
    Crc,
    AllocUnit,
    Version,
    Layout,
    Valid,
}

/// The contract's checks, in its order, on raw bytes.
fn expected(b: &[u8]) -> Verdict {
    if b.len() < 200 {
        return Verdict::Short;
    }
    if u64_at(b, 0) != 0x87b2_82ff {
        return Verdict::Magic;
    }
    if u64_at(b, 96) != u64::from(crc32(&b[..96])) {
        return Verdict::Crc;
    }
    if ![2 * MIB, 4096].contains(&u64_at(b, 32)) {
        return Verdict::AllocUnit;
    }
    if u64_at(b, 8) != 48 {
        return Verdict::Version;
    }
    let log_len = u64_at(b, 24);
    // A secondary device's superblock (ts_sb_flags bit 2) may have no log.
    let secondary = u32::from_le_bytes(b[104..108].try_into().unwrap()) & 2 != 0;
    if secondary && u64_at(b, 16) == 0 && log_len == 0 {
        return Verdict::Valid;
    }
    if u64_at(b, 16) != 2 * MIB || log_len < 8 * MIB || !log_len.is_power_of_two() {
        return Verdict::Layout;
    }
    Verdict::Valid
}

fn verdict(r: &Result<Superblock, Error>) -> Verdict {
    match r {
        Ok(_) => Verdict::Valid,
        Err(Error::BadSuperblockMagic { .. }) => Verdict::Magic,
        Err(Error::BadSuperblockCrc { .. }) => Verdict::Crc,
        Err(Error::BadAllocUnit { .. }) => Verdict::AllocUnit,
        Err(Error::WrongVersion { .. }) => Verdict::Version,
        Err(Error::BadSuperblockLayout(m)) if m.starts_with("only") => Verdict::Short,
        Err(Error::BadSuperblockLayout(_)) => Verdict::Layout,
        Err(e) => panic!("unexpected error kind: {e:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let got = Superblock::decode(data);
    assert_eq!(verdict(&got), expected(data), "{got:?}");
    let Ok(sb) = got else { return };

    // Every field from its contract offset.
    assert_eq!(sb.version, u64_at(data, 8));
    assert_eq!(sb.log_offset, u64_at(data, 16));
    assert_eq!(sb.log_len, u64_at(data, 24));
    assert_eq!(sb.alloc_unit, u64_at(data, 32));
    assert_eq!(sb.omf_ver_major, u32_at(data, 40));
    assert_eq!(sb.omf_ver_minor, u32_at(data, 44));
    assert_eq!(sb.uuid.as_bytes(), &data[48..64]);
    assert_eq!(sb.dev_uuid.as_bytes(), &data[64..80]);
    assert_eq!(sb.system_uuid.as_bytes(), &data[80..96]);
    assert_eq!(sb.flags, u32_at(data, 104));
    assert_eq!(sb.dev_size, u64_at(data, 112));
    assert_eq!(sb.dd_uuid.as_bytes(), &data[120..136]);

    // The log's placement is sane for any device size.
    for size in [0, 10 * MIB, sb.metadata_end(), sb.dev_size, u64::MAX] {
        if sb.check_device_size(size).is_ok() {
            assert!(sb.metadata_end() <= size && sb.dev_size <= size);
        }
    }

    // Round trip: a name that fits re-encodes to the input bytes, with the
    // padding after the flags and the bytes after the name's NUL zeroed.
    let name = &data[136..200];
    let name_len = name.iter().position(|&c| c == 0);
    match sb.encode() {
        Ok(bytes) => {
            assert_eq!(Superblock::decode(&bytes).expect("re-decodes"), sb);
            if std::str::from_utf8(&name[..name_len.unwrap_or(64)]).is_ok() {
                let mut canonical = data[..200].to_vec();
                canonical[108..112].fill(0);
                canonical[136 + name_len.expect("an encodable name fits")..].fill(0);
                assert_eq!(bytes.as_slice(), canonical.as_slice());
            }
        }
        Err(_) => assert!(
            sb.dev_name.len() > 63,
            "a decoded superblock must encode unless its name grew"
        ),
    }
});
