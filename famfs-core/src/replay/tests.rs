//! Replay rules checked on hand-written logs in a simulated region.

use super::*;
use crate::dax::Access;
use crate::fmap::{Extent, Fmap, InterleavedExtent};
use crate::format::{AddDaxdevEntry, FileEntry, MkdirEntry, DEFAULT_LOG_LEN, FILE_FLAG_ALL_RW};

const MIB: u64 = 1 << 20;

struct Region {
    _dir: tempfile::TempDir,
    dev: DaxDevice,
    sb: Superblock,
}

impl Region {
    fn new() -> Region {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.img");
        DaxDevice::create_simulated(&path, 256 * MIB).unwrap();
        let dev = DaxDevice::open(&path, Access::ReadWrite).unwrap();
        let sb = Superblock::new(
            256 * MIB,
            DEFAULT_LOG_LEN,
            Uuid::nil(),
            Uuid::nil(),
            Uuid::nil(),
            "r",
        );
        dev.write_at(0, &sb.encode().unwrap()).unwrap();
        dev.write_at(sb.log_offset, &LogHeader::new(DEFAULT_LOG_LEN).encode())
            .unwrap();
        Region { _dir: dir, dev, sb }
    }

    /// Writes entries at the next indexes and publishes them.
    fn log(&self, entries: &[LogEntry]) {
        let mut h = LogHeader::decode(&self.header_bytes(), DEFAULT_LOG_LEN).unwrap();
        for e in entries {
            let at = self.sb.log_offset + LogHeader::entry_offset(h.next_index);
            self.dev
                .write_at(at, &e.encode(h.next_index).unwrap())
                .unwrap();
            h.next_index += 1;
            h.next_seqnum += 1;
        }
        self.dev.write_at(self.sb.log_offset, &h.encode()).unwrap();
    }

    fn header_bytes(&self) -> [u8; 48] {
        let mut b = [0; 48];
        self.dev.read_at(self.sb.log_offset, &mut b).unwrap();
        b
    }

    fn replay(&self) -> Replay {
        let mut r = Replay::new(
            &self.sb,
            self.dev.size(),
            Meta {
                uid: 0,
                gid: 0,
                mode: 0o755,
            },
        );
        r.catch_up(&self.dev).unwrap();
        r
    }
}

fn dir(p: &str) -> LogEntry {
    LogEntry::Mkdir(MkdirEntry {
        uid: 0,
        gid: 0,
        mode: 0o755,
        relpath: p.into(),
    })
}

fn file(p: &str, size: u64, offset: u64) -> LogEntry {
    LogEntry::File(FileEntry {
        size,
        flags: FILE_FLAG_ALL_RW,
        uid: 0,
        gid: 0,
        mode: 0o644,
        relpath: p.into(),
        fmap: Fmap::Simple(vec![Extent {
            devindex: 0,
            offset,
            len: size.div_ceil(2 * MIB).max(1) * 2 * MIB,
        }]),
    })
}

#[test]
fn builds_namespace_and_bitmap() {
    let r = Region::new();
    r.log(&[
        dir("a"),
        dir("a/b"),
        file("a/b/f", 5000, 10 * MIB),
        file("g", 3 * MIB, 12 * MIB),
    ]);
    let rep = r.replay();
    assert_eq!(rep.applied(), 4);
    assert!(rep.problems().is_empty(), "{:?}", rep.problems());
    let f = rep.namespace().lookup("a/b/f").unwrap();
    assert_eq!(f.as_file().unwrap().size, 5000);
    assert_eq!(f.meta.mode, 0o644);
    let st = rep.stats();
    assert_eq!((st.files, st.dirs, st.duplicates), (2, 2, 0));
    // 5 units of metadata + 1 + 2.
    assert_eq!(rep.bitmap(0).unwrap().used_units(), 8);
    assert_eq!(rep.collisions(), 0);
}

#[test]
fn first_entry_for_a_path_wins() {
    let r = Region::new();
    r.log(&[
        file("f", 100, 10 * MIB),
        file("f", 200, 12 * MIB),
        dir("d"),
        dir("d"),
    ]);
    let rep = r.replay();
    assert_eq!(
        rep.namespace().lookup("f").unwrap().as_file().unwrap().size,
        100
    );
    assert_eq!(rep.stats().duplicates, 2);
    // Both files' memory stays claimed.
    assert_eq!(rep.bitmap(0).unwrap().used_units(), 7);
}

#[test]
fn bad_paths_and_file_where_dir_must_be() {
    let r = Region::new();
    r.log(&[
        file("f", 100, 10 * MIB),
        file("f/x", 100, 12 * MIB),
        dir("f"),
        file("/abs", 100, 14 * MIB),
        file("a/../b", 100, 16 * MIB),
        file("nodir/x", 100, 18 * MIB),
        file("ok", 100, 20 * MIB),
    ]);
    let rep = r.replay();
    let msgs: Vec<_> = rep
        .problems()
        .iter()
        .map(|p| (p.index, p.message.clone()))
        .collect();
    assert_eq!(msgs.len(), 5, "{msgs:?}");
    assert!(
        msgs[0].1.contains("file where a directory must be"),
        "{msgs:?}"
    );
    assert!(
        msgs[1]
            .1
            .contains("a file exists where a directory must be"),
        "{msgs:?}"
    );
    assert!(msgs[2].1.contains("absolute"), "{msgs:?}");
    assert!(msgs[3].1.contains("'..'"), "{msgs:?}");
    assert!(msgs[4].1.contains("no such file"), "{msgs:?}");
    assert!(
        rep.namespace().lookup("ok").is_ok(),
        "later entries still apply"
    );
}

#[test]
fn bad_fmaps_and_collisions_mark_the_file_in_error() {
    let r = Region::new();
    r.log(&[
        file("zero", 100, 0),
        file("a", 4 * MIB, 20 * MIB),
        file("b", 100, 22 * MIB),
        file("past_end", 100, 256 * MIB),
        file("short", 5 * MIB, 30 * MIB).clone(),
    ]);
    let rep = r.replay();
    let err = |p: &str| {
        rep.namespace()
            .lookup(p)
            .unwrap()
            .as_file()
            .unwrap()
            .error
            .clone()
    };
    assert!(err("zero").unwrap().contains("offset"), "{:?}", err("zero"));
    assert!(err("a").is_none());
    assert!(err("b").unwrap().contains("collision"));
    assert!(err("past_end").is_some());
    assert!(err("short").is_none());
    assert_eq!(
        rep.collisions(),
        2,
        "b overlaps a; zero overlaps the superblock"
    );
}

#[test]
fn corrupt_entry_stops_replay_and_is_retried() {
    let r = Region::new();
    r.log(&[dir("a"), dir("b"), dir("c")]);
    let at = r.sb.log_offset + LogHeader::entry_offset(1) + 30;
    let mut byte = [0u8];
    r.dev.read_at(at, &mut byte).unwrap();
    r.dev.write_at(at, &[byte[0] ^ 0xff]).unwrap();
    let mut rep = r.replay();
    assert_eq!(rep.applied(), 1);
    assert_eq!(rep.read_entry(&r.dev, 0).unwrap(), dir("a"));
    let e = rep.read_entry(&r.dev, 1).unwrap_err().to_string();
    assert!(e.contains("log entry 1: crc mismatch"), "{e}");
    let stop = rep.stopped().unwrap();
    assert_eq!(stop.index, 1);
    assert!(stop.message.contains("crc mismatch"), "{}", stop.message);
    assert!(rep.namespace().lookup("c").is_err());
    // Repaired (as a writer finishing its append would): the next call continues.
    r.dev.write_at(at, &byte).unwrap();
    assert_eq!(rep.catch_up(&r.dev).unwrap(), 2);
    assert!(rep.stopped().is_none());
    assert!(rep.namespace().lookup("c").is_ok());
}

#[test]
fn incremental_replay_applies_only_new_entries() {
    let r = Region::new();
    r.log(&[dir("a")]);
    let mut rep = r.replay();
    assert!(!rep.has_news(&r.dev).unwrap());
    assert_eq!(rep.catch_up(&r.dev).unwrap(), 0);
    r.log(&[dir("b"), file("b/f", 1, 10 * MIB)]);
    assert!(rep.has_news(&r.dev).unwrap());
    assert_eq!(rep.catch_up(&r.dev).unwrap(), 2);
    assert_eq!(rep.applied(), 3);
    let ino_before = rep.namespace().lookup("b/f").unwrap().ino;
    assert_eq!(
        r.replay().namespace().lookup("b/f").unwrap().ino,
        ino_before,
        "stable inode"
    );
}

#[test]
fn daxdev_entries_build_the_device_table() {
    let r = Region::new();
    let add = |index, u| {
        LogEntry::AddDaxdev(AddDaxdevEntry {
            size: 64 * MIB,
            uuid: Uuid::from_u128(u),
            index,
        })
    };
    let strip = |devindex, offset| Extent {
        devindex,
        offset,
        len: 2 * MIB,
    };
    r.log(&[
        add(1, 11),
        add(1, 12),
        add(0, 13),
        add(24, 14),
        add(2, 11),
        LogEntry::Delete,
        LogEntry::File(FileEntry {
            size: 4 * MIB,
            flags: 2,
            uid: 0,
            gid: 0,
            mode: 0o644,
            relpath: "striped".into(),
            fmap: Fmap::Interleaved(vec![InterleavedExtent {
                chunk_size: 2 * MIB,
                strips: vec![strip(0, 10 * MIB), strip(1, 2 * MIB)],
            }]),
        }),
        LogEntry::File(FileEntry {
            size: 2 * MIB,
            flags: 2,
            uid: 0,
            gid: 0,
            mode: 0o644,
            relpath: "nodev".into(),
            fmap: Fmap::Simple(vec![strip(5, 2 * MIB)]),
        }),
    ]);
    let rep = r.replay();
    assert_eq!(rep.devices().count(), 2);
    assert_eq!(rep.device(1).unwrap().uuid, Uuid::from_u128(11));
    assert_eq!(rep.problems().len(), 6, "{:?}", rep.problems());
    assert_eq!(rep.stats().deletes, 1);
    let ns = rep.namespace();
    assert!(ns
        .lookup("striped")
        .unwrap()
        .as_file()
        .unwrap()
        .error
        .is_none());
    assert!(ns
        .lookup("nodev")
        .unwrap()
        .as_file()
        .unwrap()
        .error
        .is_some());
    assert_eq!(rep.bitmap(1).unwrap().used_units(), 2);
}

/// A sealed ADD_DAXDEV entry with an absurd size is a problem, not a
/// bitmap of that size (found by the replay fuzz target: replay aborted
/// allocating 184 GB).
#[test]
fn daxdev_of_absurd_size_is_a_problem() {
    let r = Region::new();
    let add = |index, size| {
        LogEntry::AddDaxdev(AddDaxdevEntry {
            size,
            uuid: Uuid::from_u128(u128::from(index)),
            index,
        })
    };
    r.log(&[add(1, u64::MAX), add(2, 0), add(3, 64 * MIB)]);
    let rep = r.replay();
    assert_eq!(rep.devices().count(), 2, "{:?}", rep.problems());
    assert!(rep.device(3).is_some());
    let msgs: Vec<_> = rep.problems().iter().map(|p| p.message.as_str()).collect();
    assert_eq!(msgs.len(), 2);
    assert!(msgs.iter().all(|m| m.contains("is 0 or over")), "{msgs:?}");
}

#[test]
fn bad_header_is_an_error() {
    let r = Region::new();
    r.dev.write_at(r.sb.log_offset, &[0u8; 8]).unwrap();
    r.dev.write_u64(r.sb.log_offset + 40, 1).unwrap();
    let mut rep = Replay::new(
        &r.sb,
        r.dev.size(),
        Meta {
            uid: 0,
            gid: 0,
            mode: 0o755,
        },
    );
    assert!(matches!(
        rep.catch_up(&r.dev),
        Err(Error::BadLogMagic { .. })
    ));
}

fn reseal(b: &mut [u8; 544]) {
    let crc = u64::from(crate::format::crc32(&b[..536]));
    b[536..544].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn intact_but_meaningless_entries_are_problems_not_stops() {
    let r = Region::new();
    r.log(&[dir("a"), dir("b"), file("s", 4 * MIB, 10 * MIB), dir("c")]);
    let patch = |index: u64, f: &dyn Fn(&mut [u8; 544])| {
        let at = r.sb.log_offset + LogHeader::entry_offset(index);
        let mut b = [0u8; 544];
        r.dev.read_at(at, &mut b).unwrap();
        f(&mut b);
        reseal(&mut b);
        r.dev.write_at(at, &b).unwrap();
    };
    patch(1, &|b| b[8] = 9); // unknown type
    patch(2, &|b| {
        b[120] = 1; // interleaved, 1 strip of 4 MiB, chunk 6 MiB
        b[128..132].copy_from_slice(&1u32.to_le_bytes());
        b[136..144].copy_from_slice(&1u64.to_le_bytes());
        b[144..152].copy_from_slice(&(6 * MIB).to_le_bytes());
        b[152..176].copy_from_slice(&[0; 24]);
        b[160..168].copy_from_slice(&(10 * MIB).to_le_bytes());
        b[168..176].copy_from_slice(&(6 * MIB).to_le_bytes());
    });
    let rep = r.replay();
    assert!(rep.stopped().is_none());
    assert_eq!(rep.applied(), 4);
    let p = rep.problems();
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].index == 1 && p[0].message.contains("unknown entry type 9"),
        "{p:?}"
    );
    assert!(
        p[1].index == 2 && p[1].message.contains("not a power of two"),
        "{p:?}"
    );
    assert!(rep.namespace().lookup("c").is_ok());
    assert!(rep
        .namespace()
        .lookup("s")
        .unwrap()
        .as_file()
        .unwrap()
        .error
        .is_some());
}

#[test]
fn torn_header_replays_published_entries_only() {
    let r = Region::new();
    r.log(&[dir("a")]);
    // A writer died after bumping next_seqnum, before next_index.
    r.dev.write_u64(r.sb.log_offset + 32, 2).unwrap();
    let rep = r.replay();
    assert_eq!(rep.applied(), 1);
    assert!(rep.read_header(&r.dev).unwrap().is_torn());
    assert!(rep.problems().is_empty());
}

/// Replay copies entries in batches; a memory error inside a batch still
/// stops replay at the entry it hits, with every entry before it applied.
#[test]
fn memory_error_mid_batch_stops_at_the_entry_it_hits() {
    let r = Region::new();
    let names: Vec<String> = (0..3 * REPLAY_BATCH).map(|i| format!("d{i}")).collect();
    let entries: Vec<LogEntry> = names.iter().map(|n| dir(n)).collect();
    r.log(&entries);
    // Cut the region file inside entry 40 (the second batch): its page and
    // every later one raise SIGBUS (BUS_ADRERR) when copied.
    let cut = (r.sb.log_offset + LogHeader::entry_offset(40) + 100) & !4095;
    let intact = (0u64..)
        .take_while(|&i| r.sb.log_offset + LogHeader::entry_offset(i + 1) <= cut)
        .count() as u64;
    assert!((32..40).contains(&intact), "{intact}");
    std::fs::OpenOptions::new()
        .write(true)
        .open(r._dir.path().join("r.img"))
        .unwrap()
        .set_len(cut)
        .unwrap();
    let rep = r.replay();
    assert_eq!(rep.applied(), intact);
    let stop = rep.stopped().expect("replay stopped at the fault");
    assert_eq!(stop.index, intact);
    assert!(stop.message.contains("memory"), "{}", stop.message);
    assert!(rep.namespace().lookup(&names[intact as usize - 1]).is_ok());
    assert!(rep.namespace().lookup(&names[intact as usize]).is_err());
}
