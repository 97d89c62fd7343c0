//! The corruption matrix. Each case damages one thing —
//! a superblock field, a log header field, or one field of one log entry,
//! built with famfs-core's format code and resealed where the structure
//! has a CRC, so that the check aimed at is the one that fires — on a small
//! populated region, then runs `famfs fsck`, `famfs logplay`, `famfs mount`
//! and a program under the shim. Every one must fail with a message naming
//! the damage (the shim: the call fails with a precise errno, and with
//! `FAMFS_LOG=warn` the same words on stderr), exit by itself (no signal),
//! and leave every byte of the region as it was. Files the damage does not
//! touch stay readable where the contract allows (famfs-format.md, Replay):
//! a damaged superblock or header loses everything; an entry that is not
//! intact stops replay there; an intact but meaningless entry is skipped;
//! a bad fmap or a collision fails only that file.

use famfs_core::fmap::{Extent, Fmap};
use famfs_core::format::{LogEntry, Superblock, DEFAULT_LOG_LEN, SUPERBLOCK_SIZE};
use famfs_tests::*;
use std::path::Path;

const REGION: &str = "32m";
const REGION_BYTES: u64 = 32 * MIB;

// The populated file system: (log index, path, content seed, size).
// Entry 0 is `mkdir d`.
const I: u64 = 1; // d/i, interleaved over 2 strips
const B: u64 = 3; // b
const C: u64 = 4; // c
const FILES: [(u64, &str, u32, u64); 4] = [
    (I, "d/i", 1, 6 * MIB),
    (2, "d/a", 2, MIB + 5),
    (B, "b", 3, MIB),
    (C, "c", 4, MIB),
];

/// What the program under the shim sees for one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// stat works and read returns the file's exact bytes.
    Readable,
    /// stat and open fail with EIO.
    Eio,
    /// stat works (the file is listed); open fails with EIO.
    EioOnOpen,
    /// stat and open fail with ENOENT.
    Missing,
}

/// Which paths the damage reaches, for the program under the shim.
enum Reach {
    /// Every path (superblock and header damage): EIO.
    Everything,
    /// These paths see this; every other path stays readable.
    Paths(&'static [(&'static str, Seen)]),
}

impl Reach {
    fn seen(&self, rel: &str) -> Seen {
        match self {
            Reach::Everything => Seen::Eio,
            Reach::Paths(p) => p
                .iter()
                .find(|(r, _)| *r == rel)
                .map_or(Seen::Readable, |(_, s)| *s),
        }
    }
}

struct Case {
    damage: fn(&Path),
    /// Words every tool's message, and the shim's warning, must contain.
    says: &'static [&'static str],
    /// The log entry damaged, which the messages must name.
    entry: Option<u64>,
    reach: Reach,
}

fn populate(env: &Env) -> Region {
    let r = env.region(REGION);
    env.ok(&["mkdir", &r.p("d")]);
    for (index, rel, seed, size) in FILES {
        let (seed, size) = (seed.to_string(), size.to_string());
        let mut args = vec!["creat", "-r", "-S", &seed, "-s", &size];
        if index == I {
            args.extend(["-N", "2", "-B", "2", "-C", "2m", "--stripe-seed", "1"]);
        }
        let p = r.p(rel);
        args.push(&p);
        env.ok(&args);
    }
    assert_eq!(log_next_index(&r.dev), 5);
    r
}

// ---------------------------------------------------------------------------
// Damage, through famfs-core's encoders

fn superblock(dev: &Path) -> Superblock {
    Superblock::decode(&read_range(dev, 0, SUPERBLOCK_SIZE)).expect("a valid superblock")
}

/// Changes one superblock field; encoding recomputes the CRC.
fn edit_superblock(dev: &Path, f: impl FnOnce(&mut Superblock)) {
    let mut sb = superblock(dev);
    f(&mut sb);
    write_range(dev, 0, &sb.encode().unwrap());
}

/// Changes one log header field; encoding recomputes the CRC.
fn edit_header(dev: &Path, f: impl FnOnce(&mut LogHeader)) {
    let bytes = read_range(dev, LOG_OFFSET, LOG_HEADER_SIZE as usize);
    let mut h = LogHeader::decode(&bytes, DEFAULT_LOG_LEN).unwrap();
    f(&mut h);
    write_range(dev, LOG_OFFSET, &h.encode());
}

/// Changes decoded entry `index`; encoding seals it again.
fn edit_entry(dev: &Path, index: u64, f: impl FnOnce(&mut LogEntry)) {
    let at = entry_offset(index);
    let mut e = LogEntry::decode(&read_range(dev, at, LOG_ENTRY_SIZE as usize), index).unwrap();
    f(&mut e);
    write_range(dev, at, &e.encode(index).unwrap());
}

/// Changes raw bytes of entry `index` (what the encoder refuses to
/// write), then recomputes its CRC.
fn edit_entry_bytes(dev: &Path, index: u64, f: impl FnOnce(&mut [u8])) {
    let at = entry_offset(index);
    let mut b = read_range(dev, at, LOG_ENTRY_SIZE as usize);
    f(&mut b);
    let crc = u64::from(crc32(&b[..entry_off::CRC]));
    b[entry_off::CRC..].copy_from_slice(&crc.to_le_bytes());
    write_range(dev, at, &b);
}

fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// The fmap of FILE entry `index`, to change.
fn fmap(e: &mut LogEntry) -> &mut Fmap {
    match e {
        LogEntry::File(f) => &mut f.fmap,
        other => panic!("not a file entry: {other:?}"),
    }
}

fn extents(e: &mut LogEntry) -> &mut Vec<Extent> {
    match fmap(e) {
        Fmap::Simple(x) => x,
        other => panic!("not a simple fmap: {other:?}"),
    }
}

fn set_relpath(e: &mut LogEntry, p: &str) {
    match e {
        LogEntry::File(f) => f.relpath = p.into(),
        other => panic!("not a file entry: {other:?}"),
    }
}

fn relpath_bytes(b: &mut [u8]) -> &mut [u8] {
    &mut b[entry_off::FILE_RELPATH..entry_off::FILE_RELPATH + 80]
}

// ---------------------------------------------------------------------------
// What each tool must do

/// The outcome the shim program prints for one path.
fn seen_line(rel: &str, seen: Seen, content: Option<&str>) -> String {
    let (stat, read) = match seen {
        Seen::Readable => ("ok", content.unwrap_or("-")),
        Seen::Eio => ("EIO", "EIO"),
        Seen::EioOnOpen => ("ok", "EIO"),
        Seen::Missing => ("ENOENT", "ENOENT"),
    };
    let read = if content.is_none() { "-" } else { read };
    format!("{rel} stat={stat} read={read}")
}

/// stat, then open and read to the end, each path; directories only stat.
const PROBE: &str = r#"
import errno, hashlib, os, sys
dirs = set(sys.argv[2].split(","))
for arg in sys.argv[3:]:
    path = os.path.join(sys.argv[1], arg)
    try:
        os.stat(path)
        stat = "ok"
    except OSError as e:
        stat = errno.errorcode[e.errno]
    read = "-"
    if arg not in dirs:
        try:
            fd = os.open(path, os.O_RDONLY)
            data = bytearray()
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                data += chunk
            os.close(fd)
            read = hashlib.sha256(data).hexdigest()
        except OSError as e:
            read = errno.errorcode[e.errno]
    print(f"{arg} stat={stat} read={read}")
"#;

#[track_caller]
fn assert_says(out: &Out, case: &Case, what: &str) {
    assert_eq!(out.code(), Some(1), "{what}: {}", out.describe());
    assert!(!out.stderr.trim().is_empty(), "{what}: no message");
    let all = format!("{}{}", out.stdout, out.stderr);
    for word in case.says {
        assert!(
            all.contains(word),
            "{what} should say {word:?}: {}",
            out.describe()
        );
    }
    if let Some(index) = case.entry {
        let name = format!("log entry {index}");
        assert!(
            all.contains(&name),
            "{what} should name {name}: {}",
            out.describe()
        );
    }
}

#[track_caller]
fn assert_region_unchanged(r: &Region, before: &[u8], what: &str) {
    let after = std::fs::read(&r.dev).unwrap();
    assert_eq!(
        after.len() as u64,
        REGION_BYTES,
        "{what} resized the region"
    );
    assert!(after == before, "{what} wrote to the region");
}

fn check(case: Case) {
    let env = Env::new();
    let r = populate(&env);
    (case.damage)(&r.dev);
    let before = std::fs::read(&r.dev).unwrap();

    let out = env.famfs(&["fsck", r.dev_str()]);
    assert_says(&out, &case, "fsck");
    assert_region_unchanged(&r, &before, "fsck");

    let out = env.famfs(&["logplay", &r.mnt]);
    assert_says(&out, &case, "logplay");
    assert_region_unchanged(&r, &before, "logplay");

    // A program under the shim, on the mount made before the damage.
    let names: Vec<&str> = std::iter::once("d")
        .chain(FILES.iter().map(|f| f.1))
        .collect();
    let mut cmd = env.shim("python3", &["-c", PROBE, &r.mnt, "d"]);
    cmd.args(&names).env("FAMFS_LOG", "warn");
    let out = run(cmd);
    assert!(
        out.success(),
        "the program under the shim: {}",
        out.describe()
    );
    let contents: Vec<String> = FILES
        .iter()
        .map(|&(_, _, seed, size)| sha256_hex(&pattern(seed, size as usize)))
        .collect();
    let want: Vec<String> = std::iter::once(seen_line("d", case.reach.seen("d"), None))
        .chain(
            FILES
                .iter()
                .zip(&contents)
                .map(|(f, sha)| seen_line(f.1, case.reach.seen(f.1), Some(sha))),
        )
        .collect();
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        want,
        "{}",
        out.describe()
    );
    for word in case.says {
        assert!(
            out.stderr.contains(word),
            "the shim's warning should say {word:?}: {}",
            out.describe()
        );
    }
    assert_region_unchanged(&r, &before, "the program under the shim");

    // Mounting the damaged device again is refused and records nothing.
    env.ok(&["umount", &r.mnt]);
    let out = env.famfs(&["mount", r.dev_str(), &virtual_mountpoint()]);
    assert_says(&out, &case, "mount");
    assert_eq!(
        env.ok(&["mounts"]).trim(),
        "",
        "a damaged device was mounted"
    );
    assert_region_unchanged(&r, &before, "mount");
}

// ---------------------------------------------------------------------------
// Superblock

#[test]
fn superblock_magic() {
    check(Case {
        damage: |dev| write_range(dev, sb_off::MAGIC as u64, &0xdead_beefu64.to_le_bytes()),
        says: &["invalid superblock", "bad magic"],
        entry: None,
        reach: Reach::Everything,
    });
}

#[test]
fn superblock_version() {
    check(Case {
        damage: |dev| edit_superblock(dev, |sb| sb.version = 47),
        says: &["wrong superblock version", "47"],
        entry: None,
        reach: Reach::Everything,
    });
}

#[test]
fn superblock_crc() {
    check(Case {
        damage: |dev| flip_byte(dev, sb_off::CRC as u64),
        says: &["invalid superblock", "crc mismatch"],
        entry: None,
        reach: Reach::Everything,
    });
}

#[test]
fn superblock_alloc_unit() {
    check(Case {
        damage: |dev| edit_superblock(dev, |sb| sb.alloc_unit = 64 << 10),
        says: &["invalid superblock", "allocation unit"],
        entry: None,
        reach: Reach::Everything,
    });
}

#[test]
fn superblock_log_offset() {
    check(Case {
        damage: |dev| edit_superblock(dev, |sb| sb.log_offset = 4 * MIB),
        says: &["invalid superblock", "log offset 0x400000"],
        entry: None,
        reach: Reach::Everything,
    });
}

#[test]
fn superblock_log_length() {
    check(Case {
        damage: |dev| edit_superblock(dev, |sb| sb.log_len = 12 * MIB),
        says: &["invalid superblock", "log length 0xc00000"],
        entry: None,
        reach: Reach::Everything,
    });
}

// ---------------------------------------------------------------------------
// Log header

#[test]
fn log_header_magic() {
    check(Case {
        damage: |dev| write_range(dev, LOG_OFFSET + log_off::MAGIC as u64, &[0; 8]),
        says: &["log", "magic"],
        entry: None,
        reach: Reach::Everything,
    });
}

#[test]
fn log_header_crc() {
    check(Case {
        damage: |dev| flip_byte(dev, LOG_OFFSET + log_off::CRC as u64),
        says: &["log", "crc mismatch"],
        entry: None,
        reach: Reach::Everything,
    });
}

#[test]
fn log_header_last_index() {
    check(Case {
        damage: |dev| edit_header(dev, |h| h.last_index = 100),
        says: &["log header", "last index 100"],
        entry: None,
        reach: Reach::Everything,
    });
}

// ---------------------------------------------------------------------------
// An entry that is not intact: replay stops there. Entries before it are
// served; a path not found may be behind it, so it is EIO.

const STOPPED_AT_B: Reach = Reach::Paths(&[("b", Seen::Eio), ("c", Seen::Eio)]);

#[test]
fn entry_seqnum() {
    check(Case {
        damage: |dev| edit_entry_bytes(dev, B, |b| put_u64(b, entry_off::SEQNUM, 9)),
        says: &["seqnum 9 != index 3"],
        entry: Some(B),
        reach: STOPPED_AT_B,
    });
}

#[test]
fn entry_crc() {
    check(Case {
        damage: |dev| flip_byte(dev, entry_offset(B) + entry_off::CRC as u64),
        says: &["crc mismatch"],
        entry: Some(B),
        reach: STOPPED_AT_B,
    });
}

// ---------------------------------------------------------------------------
// An intact entry whose content is wrong: that entry is skipped (or its
// file marked in error), the rest of the log applies.

#[test]
fn entry_type() {
    check(Case {
        damage: |dev| edit_entry_bytes(dev, B, |b| put_u32(b, entry_off::TYPE, 9)),
        says: &["unknown entry type 9"],
        entry: Some(B),
        reach: Reach::Paths(&[("b", Seen::Missing)]),
    });
}

#[test]
fn entry_path_absolute() {
    check(Case {
        damage: |dev| edit_entry(dev, B, |e| set_relpath(e, "/b")),
        says: &["absolute path"],
        entry: Some(B),
        reach: Reach::Paths(&[("b", Seen::Missing)]),
    });
}

#[test]
fn entry_path_empty() {
    check(Case {
        damage: |dev| edit_entry_bytes(dev, B, |b| relpath_bytes(b).fill(0)),
        says: &["empty path"],
        entry: Some(B),
        reach: Reach::Paths(&[("b", Seen::Missing)]),
    });
}

#[test]
fn entry_path_unterminated() {
    check(Case {
        damage: |dev| edit_entry_bytes(dev, B, |b| relpath_bytes(b).fill(b'x')),
        says: &["not NUL terminated"],
        entry: Some(B),
        reach: Reach::Paths(&[("b", Seen::Missing)]),
    });
}

#[test]
fn entry_path_dotdot() {
    check(Case {
        damage: |dev| edit_entry(dev, B, |e| set_relpath(e, "d/../b")),
        says: &["'..' component"],
        entry: Some(B),
        reach: Reach::Paths(&[("b", Seen::Missing)]),
    });
}

#[test]
fn entry_extent_at_offset_0() {
    check(Case {
        damage: |dev| edit_entry(dev, B, |e| extents(e)[0].offset = 0),
        says: &["b: ", "offset 0 is the superblock"],
        entry: Some(B),
        reach: Reach::Paths(&[("b", Seen::EioOnOpen)]),
    });
}

#[test]
fn entry_extent_past_device_end() {
    check(Case {
        damage: |dev| edit_entry(dev, B, |e| extents(e)[0].offset = REGION_BYTES),
        says: &["b: ", "runs past the end of device 0"],
        entry: Some(B),
        reach: Reach::Paths(&[("b", Seen::EioOnOpen)]),
    });
}

#[test]
fn entry_extents_overlap_another_file() {
    check(Case {
        damage: |dev| {
            let mut theirs = Vec::new();
            edit_entry(dev, B, |e| theirs = extents(e).clone());
            edit_entry(dev, C, |e| *extents(e) = theirs);
        },
        says: &["c: ", "allocation collision"],
        entry: Some(C),
        reach: Reach::Paths(&[("c", Seen::EioOnOpen)]),
    });
}

#[test]
fn entry_nextents_0() {
    check(Case {
        damage: |dev| edit_entry(dev, B, |e| extents(e).clear()),
        says: &["nextents 0"],
        entry: Some(B),
        reach: Reach::Paths(&[("b", Seen::Missing)]),
    });
}

#[test]
fn entry_nextents_17() {
    check(Case {
        damage: |dev| edit_entry_bytes(dev, B, |b| put_u32(b, entry_off::FMAP_COUNT, 17)),
        says: &["nextents 17"],
        entry: Some(B),
        reach: Reach::Paths(&[("b", Seen::Missing)]),
    });
}

#[test]
fn entry_nstrips_0() {
    check(Case {
        damage: |dev| {
            edit_entry(dev, I, |e| match fmap(e) {
                Fmap::Interleaved(ie) => ie[0].strips.clear(),
                other => panic!("d/i is not interleaved: {other:?}"),
            })
        },
        says: &["nstrips 0"],
        entry: Some(I),
        reach: Reach::Paths(&[("d/i", Seen::Missing)]),
    });
}

#[test]
fn entry_nstrips_17() {
    check(Case {
        damage: |dev| edit_entry_bytes(dev, I, |b| put_u64(b, entry_off::FMAP_NSTRIPS, 17)),
        says: &["nstrips 17"],
        entry: Some(I),
        reach: Reach::Paths(&[("d/i", Seen::Missing)]),
    });
}

#[test]
fn entry_chunk_not_a_power_of_two() {
    check(Case {
        damage: |dev| {
            edit_entry(dev, I, |e| match fmap(e) {
                Fmap::Interleaved(ie) => ie[0].chunk_size = 6 * MIB,
                other => panic!("d/i is not interleaved: {other:?}"),
            })
        },
        says: &["d/i: ", "chunk size 0x600000 is not a power of two"],
        entry: Some(I),
        reach: Reach::Paths(&[("d/i", Seen::EioOnOpen)]),
    });
}
