//! Field offsets and CRCs checked against hand-built bytes, plus round trips.

use super::*;
use proptest::prelude::*;

fn le64(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}
fn le32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

fn sample_sb() -> Superblock {
    let mut sb = Superblock::new(
        4 << 30,
        DEFAULT_LOG_LEN,
        Uuid::from_u128(0x1111_2222_3333_4444_5555_6666_7777_8888),
        Uuid::from_u128(0xaaaa_bbbb_cccc_dddd_eeee_ffff_0000_1111),
        Uuid::from_u128(0x3d97_4861_412b_4fe0_8084_2029_c2e1_ea88),
        "/dev/dax0.0",
    );
    sb.dd_uuid = Uuid::from_u128(0x99);
    sb
}

#[test]
fn superblock_field_offsets() {
    let sb = sample_sb();
    let b = sb.encode().unwrap();
    assert_eq!(le64(&b, 0), 0x87b282ff);
    assert_eq!(le64(&b, 8), 48);
    assert_eq!(le64(&b, 16), 0x200000);
    assert_eq!(le64(&b, 24), 0x800000);
    assert_eq!(le64(&b, 32), 0x200000);
    assert_eq!(le32(&b, 40), 2);
    assert_eq!(le32(&b, 44), 2);
    assert_eq!(&b[48..64], sb.uuid.as_bytes());
    assert_eq!(&b[64..80], sb.dev_uuid.as_bytes());
    assert_eq!(&b[80..96], sb.system_uuid.as_bytes());
    assert_eq!(le64(&b, 96), u64::from(crc32fast::hash(&b[..96])));
    assert_eq!(le32(&b, 104), 0);
    assert_eq!(&b[108..112], &[0; 4], "padding after flags");
    assert_eq!(le64(&b, 112), 4 << 30);
    assert_eq!(&b[120..136], sb.dd_uuid.as_bytes());
    assert_eq!(&b[136..147], b"/dev/dax0.0");
    assert!(b[147..200].iter().all(|&c| c == 0));
    assert_eq!(Superblock::decode(&b).unwrap(), sb);
}

#[test]
fn crc_is_zlib_crc32() {
    // zlib.crc32(b"123456789") == 0xcbf43926, the standard check value.
    assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
}

#[test]
fn superblock_errors_are_distinct_and_ordered() {
    let good = sample_sb().encode().unwrap();

    let mut b = good;
    b[0] ^= 1;
    assert!(matches!(
        Superblock::decode(&b),
        Err(Error::BadSuperblockMagic { .. })
    ));

    let mut b = good;
    b[50] ^= 1;
    assert!(matches!(
        Superblock::decode(&b),
        Err(Error::BadSuperblockCrc { .. })
    ));

    // Flags, device size and name are outside the CRC.
    let mut b = good;
    b[104] = 1;
    b[140] = b'X';
    assert!(Superblock::decode(&b).is_ok());

    let fix_crc = |b: &mut [u8; SUPERBLOCK_SIZE]| {
        let crc = u64::from(crc32(&b[..96]));
        b[96..104].copy_from_slice(&crc.to_le_bytes());
    };
    let mut b = good;
    b[32..40].copy_from_slice(&0x10000u64.to_le_bytes());
    fix_crc(&mut b);
    assert!(matches!(
        Superblock::decode(&b),
        Err(Error::BadAllocUnit { found: 0x10000 })
    ));
    b[32..40].copy_from_slice(&4096u64.to_le_bytes());
    fix_crc(&mut b);
    assert_eq!(Superblock::decode(&b).unwrap().alloc_unit, 4096);

    let mut b = good;
    b[8..16].copy_from_slice(&47u64.to_le_bytes());
    fix_crc(&mut b);
    let err = Superblock::decode(&b).unwrap_err();
    assert!(matches!(
        err,
        Error::WrongVersion {
            found: 47,
            expected: 48
        }
    ));
    assert!(err.to_string().contains("wrong superblock version 47"));

    let mut b = good;
    b[16..24].copy_from_slice(&0x400000u64.to_le_bytes());
    fix_crc(&mut b);
    assert!(matches!(
        Superblock::decode(&b),
        Err(Error::BadSuperblockLayout(_))
    ));

    let mut b = good;
    b[24..32].copy_from_slice(&0xc00000u64.to_le_bytes());
    fix_crc(&mut b);
    assert!(matches!(
        Superblock::decode(&b),
        Err(Error::BadSuperblockLayout(_))
    ));

    assert!(Superblock::decode(&good[..100]).is_err());
}

#[test]
fn superblock_device_size_checks() {
    let sb = sample_sb();
    assert!(sb.check_device_size(4 << 30).is_ok());
    assert!(sb.check_device_size(2 << 30).is_err());
    assert!(sb.check_device_size(8 << 20).is_err());
}

#[test]
fn log_header_field_offsets() {
    let mut h = LogHeader::new(DEFAULT_LOG_LEN);
    assert_eq!(h.last_index, 15419);
    assert_eq!(h.capacity(), 15420);
    h.next_seqnum = 12;
    h.next_index = 12;
    let b = h.encode();
    assert_eq!(le64(&b, 0), 0x0badcafef00d);
    assert_eq!(le64(&b, 8), 0x800000);
    assert_eq!(le64(&b, 16), 15419);
    assert_eq!(le64(&b, 24), u64::from(crc32fast::hash(&b[..24])));
    assert_eq!(le64(&b, 32), 12);
    assert_eq!(le64(&b, 40), 12);
    // g1/g2's header CRC, from the golden images.
    assert_eq!(le64(&b, 24), 2777108600);
    assert_eq!(LogHeader::decode(&b, DEFAULT_LOG_LEN).unwrap(), h);
}

#[test]
fn log_header_errors() {
    let good = LogHeader::new(DEFAULT_LOG_LEN).encode();
    let mut b = good;
    b[1] ^= 1;
    assert!(matches!(
        LogHeader::decode(&b, DEFAULT_LOG_LEN),
        Err(Error::BadLogMagic { .. })
    ));
    let mut b = good;
    b[16] ^= 1;
    assert!(matches!(
        LogHeader::decode(&b, DEFAULT_LOG_LEN),
        Err(Error::BadLogCrc { .. })
    ));
    // A header that disagrees with the superblock's log length.
    assert!(matches!(
        LogHeader::decode(&good, 16 << 20),
        Err(Error::BadLogHeader(_))
    ));
    // A log too short for one entry, agreeing with the superblock (found
    // by the log_header fuzz target: computing its last index underflowed).
    for len in [0u64, 47, 48 + 543] {
        let mut b = good;
        b[8..16].copy_from_slice(&len.to_le_bytes());
        let crc = u64::from(crc32(&b[..24]));
        b[24..32].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            LogHeader::decode(&b, len),
            Err(Error::BadLogHeader(m)) if m.contains("holds no entry")
        ));
    }
    // A consistent CRC over a wrong last index.
    let mut b = good;
    b[16..24].copy_from_slice(&15420u64.to_le_bytes());
    let crc = u64::from(crc32(&b[..24]));
    b[24..32].copy_from_slice(&crc.to_le_bytes());
    assert!(matches!(
        LogHeader::decode(&b, DEFAULT_LOG_LEN),
        Err(Error::BadLogHeader(_))
    ));
    // next_index past the end, and counters that disagree (not CRC covered).
    let mut b = good;
    b[32..40].copy_from_slice(&15421u64.to_le_bytes());
    b[40..48].copy_from_slice(&15421u64.to_le_bytes());
    assert!(LogHeader::decode(&b, DEFAULT_LOG_LEN).is_err());
    // A torn header (seqnum bumped, index not) still decodes.
    let mut b = good;
    b[32..40].copy_from_slice(&1u64.to_le_bytes());
    let torn = LogHeader::decode(&b, DEFAULT_LOG_LEN).unwrap();
    assert!(torn.is_torn());
    assert_eq!(torn.next_index, 0);
    // Full exactly at last_index + 1.
    let mut h = LogHeader::new(DEFAULT_LOG_LEN);
    h.next_index = 15419;
    assert!(!h.is_full());
    h.next_index = 15420;
    assert!(h.is_full());
    assert_eq!(LogHeader::entry_offset(2), 48 + 2 * 544);
}

fn file_entry() -> FileEntry {
    FileEntry {
        size: 2097153,
        flags: FILE_FLAG_ALL_RW,
        uid: 1000,
        gid: 1001,
        mode: 0o644,
        relpath: "dir2/sub1/f_2m_plus1".into(),
        fmap: Fmap::Simple(vec![Extent {
            devindex: 0,
            offset: 16 << 20,
            len: 4 << 20,
        }]),
    }
}

#[test]
fn file_entry_field_offsets() {
    let b = LogEntry::File(file_entry()).encode(8).unwrap();
    assert_eq!(le64(&b, 0), 8);
    assert_eq!(le32(&b, 8), 0);
    assert_eq!(&b[12..16], &[0; 4]);
    assert_eq!(le64(&b, 16), 2097153);
    assert_eq!(le32(&b, 24), 2);
    assert_eq!(le32(&b, 28), 1000);
    assert_eq!(le32(&b, 32), 1001);
    assert_eq!(le32(&b, 36), 0o644);
    assert_eq!(&b[40..60], b"dir2/sub1/f_2m_plus1");
    assert!(b[60..120].iter().all(|&c| c == 0));
    assert_eq!(le32(&b, 120), 0, "ext_type simple");
    assert_eq!(le32(&b, 128), 1, "nextents");
    assert_eq!(le64(&b, 136), 0, "devindex");
    assert_eq!(le64(&b, 144), 16 << 20);
    assert_eq!(le64(&b, 152), 4 << 20);
    assert!(b[160..536].iter().all(|&c| c == 0));
    assert_eq!(le64(&b, 536), u64::from(crc32fast::hash(&b[..536])));
    assert_eq!(
        LogEntry::decode(&b, 8).unwrap(),
        LogEntry::File(file_entry())
    );
}

#[test]
fn interleaved_entry_field_offsets() {
    let strips: Vec<Extent> = (0..4)
        .map(|i| Extent {
            devindex: 0,
            offset: (i + 1) << 30,
            len: 10 << 20,
        })
        .collect();
    let mut f = file_entry();
    f.fmap = Fmap::Interleaved(vec![InterleavedExtent {
        chunk_size: 2 << 20,
        strips: strips.clone(),
    }]);
    let b = LogEntry::File(f.clone()).encode(1).unwrap();
    assert_eq!(le32(&b, 120), 1, "ext_type interleaved");
    assert_eq!(le32(&b, 128), 1, "niext");
    assert_eq!(le64(&b, 136), 4, "nstrips");
    assert_eq!(le64(&b, 144), 2 << 20, "chunk size");
    for (i, s) in strips.iter().enumerate() {
        assert_eq!(le64(&b, 152 + 24 * i), 0);
        assert_eq!(le64(&b, 160 + 24 * i), s.offset);
        assert_eq!(le64(&b, 168 + 24 * i), s.len);
    }
    assert_eq!(LogEntry::decode(&b, 1).unwrap(), LogEntry::File(f));
}

#[test]
fn mkdir_and_daxdev_field_offsets() {
    let d = MkdirEntry {
        uid: 1000,
        gid: 1000,
        mode: 0o700,
        relpath: "dir1/private".into(),
    };
    let b = LogEntry::Mkdir(d.clone()).encode(4).unwrap();
    assert_eq!(le32(&b, 8), 1);
    assert_eq!(le32(&b, 16), 1000);
    assert_eq!(le32(&b, 20), 1000);
    assert_eq!(le32(&b, 24), 0o700);
    assert_eq!(&b[28..40], b"dir1/private");
    assert!(b[40..536].iter().all(|&c| c == 0));
    assert_eq!(LogEntry::decode(&b, 4).unwrap(), LogEntry::Mkdir(d));

    let a = AddDaxdevEntry {
        size: 8 << 30,
        uuid: Uuid::from_u128(0x1234),
        index: 3,
    };
    let b = LogEntry::AddDaxdev(a.clone()).encode(9).unwrap();
    assert_eq!(le32(&b, 8), 3);
    assert_eq!(le64(&b, 16), 8 << 30);
    assert_eq!(&b[24..40], Uuid::from_u128(0x1234).as_bytes());
    assert_eq!(le32(&b, 40), 3);
    assert_eq!(LogEntry::decode(&b, 9).unwrap(), LogEntry::AddDaxdev(a));

    let b = LogEntry::Delete.encode(2).unwrap();
    assert_eq!(le32(&b, 8), 2);
    assert_eq!(LogEntry::decode(&b, 2).unwrap(), LogEntry::Delete);
}

fn reseal(b: &mut [u8; 544]) {
    let crc = u64::from(crc32(&b[..536]));
    b[536..544].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn entry_errors() {
    let good = LogEntry::File(file_entry()).encode(5).unwrap();
    let msg = |b: &[u8], i| LogEntry::decode(b, i).unwrap_err().to_string();
    assert!(msg(&good, 6).contains("seqnum 5 != index 6"));
    let mut b = good;
    b[100] ^= 1;
    assert!(msg(&b, 5).contains("crc mismatch"));
    let mut b = good;
    b[8] = 7;
    reseal(&mut b);
    assert!(msg(&b, 5).contains("unknown entry type 7"));
    let mut b = good;
    b[40..120].fill(b'a');
    reseal(&mut b);
    assert!(msg(&b, 5).contains("not NUL terminated"));
    let mut b = good;
    b[40..120].fill(0);
    reseal(&mut b);
    assert!(msg(&b, 5).contains("empty path"));
    let mut b = good;
    b[128..132].copy_from_slice(&0u32.to_le_bytes());
    reseal(&mut b);
    assert!(msg(&b, 5).contains("nextents 0"));
    b[128..132].copy_from_slice(&17u32.to_le_bytes());
    reseal(&mut b);
    assert!(msg(&b, 5).contains("nextents 17"));
    let mut b = good;
    b[120] = 1;
    b[136..144].copy_from_slice(&0u64.to_le_bytes());
    reseal(&mut b);
    assert!(msg(&b, 5).contains("nstrips 0"));
    b[136..144].copy_from_slice(&17u64.to_le_bytes());
    reseal(&mut b);
    assert!(msg(&b, 5).contains("nstrips 17"));
    let mut b = good;
    b[120] = 5;
    reseal(&mut b);
    assert!(msg(&b, 5).contains("unknown extent type 5"));
}

#[test]
fn encode_refuses_what_the_log_cannot_hold() {
    let mut f = file_entry();
    f.relpath = "a".repeat(80);
    assert!(matches!(
        LogEntry::File(f.clone()).encode(0),
        Err(Error::PathTooLong {
            len: 80,
            max: 79,
            ..
        })
    ));
    f.relpath = "a".repeat(79);
    assert!(LogEntry::File(f.clone()).encode(0).is_ok());
    let ext = Extent {
        devindex: 0,
        offset: 2 << 20,
        len: 2 << 20,
    };
    f.fmap = Fmap::Simple(vec![ext; 17]);
    assert!(LogEntry::File(f.clone()).encode(0).is_err());
    f.fmap = Fmap::Interleaved(vec![
        InterleavedExtent {
            chunk_size: 2 << 20,
            strips: vec![ext],
        };
        2
    ]);
    assert!(LogEntry::File(f).encode(0).is_err());
}

fn arb_extent() -> impl Strategy<Value = Extent> {
    (0u32..24, 1u64..1 << 20, 1u64..1 << 10).prop_map(|(devindex, o, l)| Extent {
        devindex,
        offset: o << 21,
        len: l << 21,
    })
}

/// A relative path a log entry can hold: at most 79 bytes (19 + 3 x 20;
/// components of up to 20 bytes made 83, which the encoder rightly
/// refuses, so the round trip failed for the rare longest draws).
fn arb_path() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_.-]{1,19}(/[a-zA-Z0-9_.-]{1,19}){0,3}"
}

fn arb_entry() -> impl Strategy<Value = LogEntry> {
    let simple = prop::collection::vec(arb_extent(), 1..=16).prop_map(Fmap::Simple);
    let inter = (prop::collection::vec(arb_extent(), 1..=16), 0u32..4).prop_map(|(s, c)| {
        Fmap::Interleaved(vec![InterleavedExtent {
            chunk_size: (2 << 20) << c,
            strips: s,
        }])
    });
    let file = (
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        arb_path(),
        prop_oneof![simple, inter],
    )
        .prop_map(|(size, flags, uid, gid, mode, relpath, fmap)| {
            LogEntry::File(FileEntry {
                size,
                flags,
                uid,
                gid,
                mode,
                relpath,
                fmap,
            })
        });
    let mkdir = (any::<u32>(), any::<u32>(), any::<u32>(), arb_path()).prop_map(
        |(uid, gid, mode, relpath)| {
            LogEntry::Mkdir(MkdirEntry {
                uid,
                gid,
                mode,
                relpath,
            })
        },
    );
    let dax = (any::<u64>(), any::<u128>(), any::<u32>()).prop_map(|(size, u, index)| {
        LogEntry::AddDaxdev(AddDaxdevEntry {
            size,
            uuid: Uuid::from_u128(u),
            index,
        })
    });
    prop_oneof![file, mkdir, dax, Just(LogEntry::Delete)]
}

proptest! {
    #[test]
    fn entry_round_trip(e in arb_entry(), seq in 0u64..1_000_000) {
        let b = e.encode(seq).unwrap();
        prop_assert_eq!(LogEntry::decode(&b, seq).unwrap(), e);
    }

    #[test]
    fn superblock_round_trip(size in 1u64..1 << 50, a: u128, b: u128, c: u128, d: u128,
                             name in "[a-z0-9/.]{0,63}", log_shift in 23u32..30, flags: u32) {
        let mut sb = Superblock::new(size, 1 << log_shift, Uuid::from_u128(a),
            Uuid::from_u128(b), Uuid::from_u128(c), &name);
        sb.dd_uuid = Uuid::from_u128(d);
        sb.flags = flags;
        let bytes = sb.encode().unwrap();
        prop_assert_eq!(Superblock::decode(&bytes).unwrap(), sb);
    }

    #[test]
    fn header_round_trip(log_shift in 23u32..32, used in 0u64..15420) {
        let mut h = LogHeader::new(1 << log_shift);
        h.next_index = used;
        h.next_seqnum = used;
        prop_assert_eq!(LogHeader::decode(&h.encode(), 1 << log_shift).unwrap(), h);
    }

    #[test]
    fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 544), idx: u64) {
        let _ = LogEntry::decode(&bytes, idx);
        let _ = Superblock::decode(&bytes);
        let _ = LogHeader::decode(&bytes, DEFAULT_LOG_LEN);
    }
}
