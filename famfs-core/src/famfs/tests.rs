//! mkfs, open, append, allocation and file I/O on simulated regions.

use super::*;
use crate::format::SB_MAGIC;
use std::path::PathBuf;
use std::sync::OnceLock;

const MIB: u64 = 1 << 20;

/// All tests in this binary play the same host: one system uuid file.
pub(crate) fn host_uuid() -> Uuid {
    static HOST: OnceLock<(tempfile::TempDir, Uuid)> = OnceLock::new();
    HOST.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("system_uuid");
        std::env::set_var(host::SYSTEM_UUID_ENV, &p);
        let u = host::system_uuid_at(&p).unwrap();
        (dir, u)
    })
    .1
}

struct Fs {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn region(size: u64, opts: MkfsOptions) -> (Fs, Superblock) {
    host_uuid();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.img");
    DaxDevice::create_simulated(&path, size).unwrap();
    let dev = DaxDevice::open(&path, Access::ReadWrite).unwrap();
    let sb = mkfs(&dev, &opts).unwrap();
    (Fs { _dir: dir, path }, sb)
}

fn meta() -> Meta {
    Meta {
        uid: 0,
        gid: 0,
        mode: 0o644,
    }
}

fn metadata_bytes(path: &Path) -> Vec<u8> {
    let mut v = std::fs::read(path).unwrap();
    v.truncate(10 << 20);
    v
}

#[test]
fn mkfs_writes_an_empty_file_system() {
    let (fs, sb) = region(64 * MIB, MkfsOptions::default());
    assert_eq!(sb.system_uuid, host_uuid());
    let f = Famfs::open(&fs.path, Access::ReadOnly).unwrap();
    assert_eq!(f.superblock(), &sb);
    assert_eq!(f.log_header().unwrap().next_index, 0);
    assert_eq!(f.replay().namespace().file_count(), 0);
    assert_eq!(f.role().unwrap(), Role::Master);
    assert_eq!(DEFAULT_LOG_ENTRIES, 15420);
}

#[test]
fn mkfs_refuses_to_overwrite_without_force() {
    let (fs, _) = region(64 * MIB, MkfsOptions::default());
    let dev = DaxDevice::open(&fs.path, Access::ReadWrite).unwrap();
    let err = mkfs(&dev, &MkfsOptions::default()).unwrap_err();
    assert!(err.to_string().contains("--force"), "{err}");
    let forced = MkfsOptions {
        force: true,
        ..MkfsOptions::default()
    };
    let sb2 = mkfs(&dev, &forced).unwrap();
    assert_eq!(read_superblock(&dev).unwrap(), sb2);
    kill_superblock(&dev).unwrap();
    assert!(matches!(
        read_superblock(&dev),
        Err(Error::BadSuperblockMagic { found: 0, .. })
    ));
    assert_ne!(SB_MAGIC, 0);
}

#[test]
fn mkfs_argument_checks() {
    host_uuid();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.img");
    DaxDevice::create_simulated(&path, 10 * MIB).unwrap();
    let dev = DaxDevice::open(&path, Access::ReadWrite).unwrap();
    assert!(matches!(
        mkfs(&dev, &MkfsOptions::default()),
        Err(Error::DeviceTooSmall { .. })
    ));
    let bad_log = MkfsOptions {
        log_len: 12 * MIB,
        ..MkfsOptions::default()
    };
    assert!(mkfs(&dev, &bad_log).is_err());
    assert!(
        std::fs::read(&path).unwrap().iter().all(|&b| b == 0),
        "nothing written"
    );
}

#[test]
fn one_gib_takes_507_one_mib_files_then_out_of_space() {
    let (fs, _) = region(1 << 30, MkfsOptions::default());
    let mut f = Famfs::open(&fs.path, Access::ReadWrite).unwrap();
    for i in 0..507 {
        let c = f
            .create_file(&format!("f{i}"), MIB, meta(), |_| Ok(()))
            .unwrap();
        assert!(matches!(c, Created::New(_)));
    }
    let before = metadata_bytes(&fs.path);
    let err = f
        .create_file("one_more", MIB, meta(), |_| Ok(()))
        .unwrap_err();
    assert!(matches!(err, Error::OutOfSpace { .. }), "{err}");
    assert!(err.to_string().contains("out of space"));
    assert_eq!(metadata_bytes(&fs.path), before, "nothing changed");
    assert_eq!(f.replay().collisions(), 0);
}

#[test]
fn eight_mib_log_takes_15420_entries_then_log_full() {
    let (fs, _) = region(64 * MIB, MkfsOptions::default());
    let mut f = Famfs::open(&fs.path, Access::ReadWrite).unwrap();
    for i in 0..15420 {
        f.mkdir(&format!("d{i}"), meta(), None).unwrap();
    }
    let before = metadata_bytes(&fs.path);
    let err = f.mkdir("one_more", meta(), None).unwrap_err();
    assert!(matches!(err, Error::LogFull { entries: 15420 }), "{err}");
    assert!(err.to_string().contains("log full"));
    let err = f.create_file("file", 1, meta(), |_| Ok(())).unwrap_err();
    assert!(matches!(err, Error::LogFull { .. }), "{err}");
    assert_eq!(metadata_bytes(&fs.path), before, "nothing changed");
    let again = Famfs::open(&fs.path, Access::ReadOnly).unwrap();
    assert_eq!(again.replay().namespace().dir_count(), 15420);
}

#[test]
fn mkdir_p_checks_room_for_every_component_first() {
    let (fs, _) = region(64 * MIB, MkfsOptions::default());
    let mut f = Famfs::open(&fs.path, Access::ReadWrite).unwrap();
    for i in 0..15418 {
        f.mkdir(&format!("d{i}"), meta(), None).unwrap();
    }
    let before = metadata_bytes(&fs.path);
    assert!(matches!(
        f.mkdir("x/y/z", meta(), Some(meta())),
        Err(Error::LogFull { .. })
    ));
    assert_eq!(metadata_bytes(&fs.path), before);
    f.mkdir("x/y", meta(), Some(meta())).unwrap();
}

#[test]
fn mkdir_semantics() {
    let (fs, _) = region(64 * MIB, MkfsOptions::default());
    let mut f = Famfs::open(&fs.path, Access::ReadWrite).unwrap();
    f.mkdir("a", meta(), None).unwrap();
    assert!(matches!(f.mkdir("a", meta(), None), Err(Error::Exists(_))));
    assert_eq!(
        f.mkdir("a", meta(), Some(meta())).unwrap(),
        f.lookup("a").unwrap().ino
    );
    assert!(matches!(
        f.mkdir("b/c", meta(), None),
        Err(Error::NotFound(_))
    ));
    let parent_meta = Meta {
        uid: 7,
        gid: 8,
        mode: 0o711,
    };
    f.mkdir("b/c/d", meta(), Some(parent_meta)).unwrap();
    assert_eq!(f.replay().namespace().dir_count(), 4);
    assert_eq!(f.lookup("b/c").unwrap().meta, parent_meta);
    assert_eq!(f.lookup("b/c/d").unwrap().meta, meta());
    f.create_file("file", 1, meta(), |_| Ok(())).unwrap();
    assert!(matches!(
        f.mkdir("file/x", meta(), Some(meta())),
        Err(Error::NotADirectory(_))
    ));
    assert!(matches!(
        f.mkdir("file", meta(), None),
        Err(Error::Exists(_))
    ));
    assert!(matches!(
        f.mkdir("../x", meta(), None),
        Err(Error::InvalidPath { .. })
    ));
}

#[test]
fn create_is_a_no_op_for_same_size_and_an_error_otherwise() {
    let (fs, _) = region(64 * MIB, MkfsOptions::default());
    let mut f = Famfs::open(&fs.path, Access::ReadWrite).unwrap();
    let a = f.create_file("f", 5000, meta(), |io| io.zero()).unwrap();
    let b = f
        .create_file("f", 5000, meta(), |_| panic!("not called"))
        .unwrap();
    assert_eq!(b, Created::Existing(a.ino()));
    assert!(matches!(
        f.create_file("f", 5001, meta(), |_| Ok(())),
        Err(Error::SizeMismatch {
            existing: 5000,
            requested: 5001,
            ..
        })
    ));
    f.mkdir("d", meta(), None).unwrap();
    assert!(matches!(
        f.create_file("d", 1, meta(), |_| Ok(())),
        Err(Error::IsADirectory(_))
    ));
    assert!(matches!(
        f.create_file("f/x", 1, meta(), |_| Ok(())),
        Err(Error::NotADirectory(_))
    ));
    assert!(matches!(
        f.create_file("nope/x", 1, meta(), |_| Ok(())),
        Err(Error::NotFound(_))
    ));
    let long = "x".repeat(80);
    assert!(matches!(
        f.create_file(&long, 1, meta(), |_| Ok(())),
        Err(Error::PathTooLong { .. })
    ));
}

#[test]
fn failed_fill_logs_nothing_and_frees_the_space() {
    let (fs, _) = region(64 * MIB, MkfsOptions::default());
    let mut f = Famfs::open(&fs.path, Access::ReadWrite).unwrap();
    let before = metadata_bytes(&fs.path);
    let err = f
        .create_file("f", 3 * MIB, meta(), |_| {
            Err(Error::Usage("source vanished".into()))
        })
        .unwrap_err();
    assert!(err.to_string().contains("source vanished"));
    assert_eq!(metadata_bytes(&fs.path), before);
    assert!(f.lookup("f").is_err());
    f.create_file("g", 1, meta(), |_| Ok(())).unwrap();
    let g = f.lookup("g").unwrap().as_file().unwrap();
    assert_eq!(
        g.fmap.device_ranges().next().unwrap().offset,
        10 * MIB,
        "space reused"
    );
}

#[test]
fn file_io_reads_writes_and_never_extends() {
    let (fs, _) = region(64 * MIB, MkfsOptions::default());
    let mut f = Famfs::open(&fs.path, Access::ReadWrite).unwrap();
    let ino = f
        .create_file("f", 5000, meta(), |io| {
            assert_eq!(io.write(0, &[7u8; 6000]).unwrap(), 5000, "cut at EOF");
            Ok(())
        })
        .unwrap()
        .ino();
    let io = f.file_io(ino).unwrap();
    let mut buf = vec![0u8; 8192];
    assert_eq!(io.read(0, &mut buf).unwrap(), 5000);
    assert!(buf[..5000].iter().all(|&b| b == 7));
    assert_eq!(io.read(4990, &mut buf).unwrap(), 10);
    assert_eq!(io.read(5000, &mut buf).unwrap(), 0);
    assert_eq!(io.read(1 << 40, &mut buf).unwrap(), 0);
    assert_eq!(io.write(4999, b"xy").unwrap(), 1);
    assert!(matches!(
        io.write(5000, b"xy"),
        Err(Error::FileTooBig {
            offset: 5000,
            size: 5000
        })
    ));
    assert!(matches!(
        f.file_io(f.lookup("").unwrap().ino),
        Err(Error::IsADirectory(_))
    ));
    // Another process sees the bytes.
    let other = Famfs::open(&fs.path, Access::ReadOnly).unwrap();
    let mut b = [0u8; 2];
    other.file_io(ino).unwrap().read(4998, &mut b).unwrap();
    assert_eq!(&b, b"\x07x");
}

#[test]
fn zero_fill_clears_old_contents() {
    let (fs, _) = region(64 * MIB, MkfsOptions::default());
    let dev = DaxDevice::open(&fs.path, Access::ReadWrite).unwrap();
    dev.fill(10 * MIB, 2 * MIB, 0xaa).unwrap();
    let mut f = Famfs::open(&fs.path, Access::ReadWrite).unwrap();
    let ino = f
        .create_file("f", MIB, meta(), |io| io.zero())
        .unwrap()
        .ino();
    let mut buf = vec![1u8; MIB as usize];
    f.file_io(ino).unwrap().read(0, &mut buf).unwrap();
    assert!(buf.iter().all(|&b| b == 0));
}

#[test]
fn a_client_cannot_append_but_sees_new_files() {
    let other_master = MkfsOptions {
        system_uuid: Some(Uuid::from_u128(42)),
        ..MkfsOptions::default()
    };
    let (fs, _) = region(64 * MIB, other_master);
    let mut f = Famfs::open(&fs.path, Access::ReadWrite).unwrap();
    assert_eq!(f.role().unwrap(), Role::Client);
    let before = metadata_bytes(&fs.path);
    let err = f.mkdir("a", meta(), None).unwrap_err();
    assert!(matches!(err, Error::NotMaster { .. }));
    assert!(err.to_string().contains("client"), "{err}");
    assert!(f.create_file("f", 1, meta(), |_| Ok(())).is_err());
    assert_eq!(metadata_bytes(&fs.path), before);
    // The master publishes a directory (written here as raw log bytes).
    let sb = f.superblock().clone();
    let entry = LogEntry::Mkdir(MkdirEntry {
        uid: 0,
        gid: 0,
        mode: 0o755,
        relpath: "shared".into(),
    });
    let dev = f.device();
    dev.write_at(
        sb.log_offset + LogHeader::entry_offset(0),
        &entry.encode(0).unwrap(),
    )
    .unwrap();
    dev.write_u64(sb.log_offset + 32, 1).unwrap();
    dev.write_u64(sb.log_offset + 40, 1).unwrap();
    // Asking for what already exists needs no append, so a client may.
    let ino = f.mkdir("shared", meta(), Some(meta())).unwrap();
    assert_eq!(f.lookup("shared").unwrap().ino, ino);
    assert!(matches!(
        f.mkdir("shared", meta(), None),
        Err(Error::Exists(_))
    ));
    assert!(matches!(
        f.mkdir("shared/x", meta(), None),
        Err(Error::NotMaster { .. })
    ));
}

#[test]
fn readers_catch_up_incrementally() {
    let (fs, _) = region(64 * MIB, MkfsOptions::default());
    let mut writer = Famfs::open(&fs.path, Access::ReadWrite).unwrap();
    let mut reader = Famfs::open(&fs.path, Access::ReadOnly).unwrap();
    writer.mkdir("d", meta(), None).unwrap();
    writer.create_file("d/f", 10, meta(), |_| Ok(())).unwrap();
    assert!(reader.lookup("d/f").is_err());
    assert_eq!(reader.refresh().unwrap(), 2);
    assert_eq!(reader.lookup("d/f").unwrap().as_file().unwrap().size, 10);
    assert_eq!(reader.refresh().unwrap(), 0);
    // A read-only mapping cannot append.
    assert!(matches!(
        reader.mkdir("x", meta(), None),
        Err(Error::ReadOnly { .. })
    ));
}

#[test]
fn an_entry_written_but_not_published_is_invisible_and_overwritten() {
    // The crash window: entry bytes on the media, next_index not bumped.
    let (fs, sb) = region(64 * MIB, MkfsOptions::default());
    let dev = DaxDevice::open(&fs.path, Access::ReadWrite).unwrap();
    let ghost = LogEntry::Mkdir(MkdirEntry {
        uid: 0,
        gid: 0,
        mode: 0o755,
        relpath: "ghost".into(),
    });
    dev.write_at(
        sb.log_offset + LogHeader::entry_offset(0),
        &ghost.encode(0).unwrap(),
    )
    .unwrap();
    let mut f = Famfs::open(&fs.path, Access::ReadWrite).unwrap();
    assert!(f.lookup("ghost").is_err());
    f.mkdir("real", meta(), None).unwrap();
    let again = Famfs::open(&fs.path, Access::ReadOnly).unwrap();
    assert!(again.lookup("ghost").is_err());
    assert!(again.lookup("real").is_ok());
}

#[test]
fn open_rejects_damage_with_distinct_errors() {
    let (fs, _) = region(64 * MIB, MkfsOptions::default());
    let dev = DaxDevice::open(&fs.path, Access::ReadWrite).unwrap();
    dev.write_at(LOG_OFFSET, &[0xff]).unwrap();
    assert!(matches!(
        Famfs::open(&fs.path, Access::ReadOnly),
        Err(Error::BadLogMagic { .. })
    ));
    dev.write_at(60, &[0xff]).unwrap();
    assert!(matches!(
        Famfs::open(&fs.path, Access::ReadOnly),
        Err(Error::BadSuperblockCrc { .. })
    ));
    assert!(Famfs::open(Path::new("/nonexistent/famfs.img"), Access::ReadOnly).is_err());
}

#[test]
fn append_after_a_torn_header_heals_it() {
    let (fs, sb) = region(64 * MIB, MkfsOptions::default());
    let mut f = Famfs::open(&fs.path, Access::ReadWrite).unwrap();
    f.mkdir("a", meta(), None).unwrap();
    f.device().write_u64(sb.log_offset + 32, 2).unwrap();
    let mut f = Famfs::open(&fs.path, Access::ReadWrite).unwrap();
    f.mkdir("b", meta(), None).unwrap();
    let h = f.log_header().unwrap();
    assert_eq!((h.next_seqnum, h.next_index), (2, 2));
    assert!(!h.is_torn());
    let again = Famfs::open(&fs.path, Access::ReadOnly).unwrap();
    assert!(again.lookup("a").is_ok() && again.lookup("b").is_ok());
}

#[test]
fn long_device_paths_are_recorded_by_their_tail() {
    host_uuid();
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("a".repeat(40)).join("b".repeat(30));
    std::fs::create_dir_all(&deep).unwrap();
    let path = deep.join("region.img");
    DaxDevice::create_simulated(&path, 64 * MIB).unwrap();
    let dev = DaxDevice::open(&path, Access::ReadWrite).unwrap();
    let sb = mkfs(&dev, &MkfsOptions::default()).unwrap();
    assert_eq!(sb.dev_name, format!("{}/region.img", "b".repeat(30)));
    let short = dir.path().join("r.img");
    DaxDevice::create_simulated(&short, 64 * MIB).unwrap();
    let dev = DaxDevice::open(&short, Access::ReadWrite).unwrap();
    let sb = mkfs(&dev, &MkfsOptions::default()).unwrap();
    let canon = std::fs::canonicalize(&short).unwrap();
    if canon.as_os_str().len() <= 63 {
        assert_eq!(Path::new(&sb.dev_name), canon);
    }
    assert!(sb.dev_name.ends_with("r.img"));
    assert_eq!(
        device_name(Path::new(&format!("/{}", "x".repeat(70)))),
        "x".repeat(63)
    );
}

/// A new sparse region of `size` in `dir`, not formatted.
fn blank(dir: &Path, name: &str, size: u64) -> DaxDevice {
    let path = dir.join(name);
    DaxDevice::create_simulated(&path, size).unwrap();
    DaxDevice::open(&path, Access::ReadWrite).unwrap()
}

#[test]
fn add_device_writes_a_secondary_superblock_and_an_entry() {
    let (fs, sb) = region(64 * MIB, MkfsOptions::default());
    let mut f = Famfs::open(&fs.path, Access::ReadWrite).unwrap();
    let extra = tempfile::tempdir().unwrap();
    let info = f
        .add_device(blank(extra.path(), "d1.img", 32 * MIB), false, None)
        .unwrap();
    assert_eq!((info.index, info.size), (1, 32 * MIB));
    // The secondary superblock: this file system's uuid, its own device
    // uuid, flags = secondary; it cannot be mounted as a primary.
    let d1 = extra.path().join("d1.img");
    let dev = DaxDevice::open(&d1, Access::ReadOnly).unwrap();
    let ssb = read_superblock(&dev).unwrap();
    assert_eq!(ssb.uuid, sb.uuid);
    assert_eq!(ssb.dev_uuid, info.uuid);
    assert_eq!(ssb.flags, crate::format::SB_FLAG_SECONDARY);
    assert_eq!(
        (ssb.log_offset, ssb.log_len),
        (0, 0),
        "a secondary has no log"
    );
    assert_eq!(ssb.metadata_end(), 2 * MIB);
    let e = Famfs::open(&d1, Access::ReadOnly).unwrap_err();
    assert!(e.to_string().contains("secondary device"), "{e}");
    // A fresh reader rebuilds the table and finds the device by uuid among
    // the paths it is given, skipping ones that are not it.
    let reader = Famfs::open(&fs.path, Access::ReadOnly).unwrap();
    assert_eq!(reader.replay().devices().count(), 2);
    let e = reader.acquire_device(1).unwrap_err();
    assert!(
        matches!(e, Error::DeviceMissing { index: 1, uuid, .. } if uuid == info.uuid),
        "{e}"
    );
    reader.add_device_paths([fs.path.clone(), d1.clone()]);
    assert_eq!(reader.acquire_device(1).unwrap().path(), d1);
    // The second device is the next index; the table refuses re-adding.
    let info2 = f
        .add_device(blank(extra.path(), "d2.img", 32 * MIB), false, None)
        .unwrap();
    assert_eq!(info2.index, 2);
    let again = DaxDevice::open(&d1, Access::ReadWrite).unwrap();
    let e = f.add_device(again, true, None).unwrap_err();
    assert!(e.to_string().contains("already device 1"), "{e}");
    let primary = DaxDevice::open(&fs.path, Access::ReadWrite).unwrap();
    let e = f.add_device(primary, true, None).unwrap_err();
    assert!(e.to_string().contains("primary"), "{e}");
}

#[test]
fn secondary_superblocks_of_the_older_form_are_still_read() {
    let (fs, sb) = region(64 * MIB, MkfsOptions::default());
    let mut f = Famfs::open(&fs.path, Access::ReadWrite).unwrap();
    let extra = tempfile::tempdir().unwrap();
    let info = f
        .add_device(blank(extra.path(), "d1.img", 32 * MIB), false, None)
        .unwrap();
    // Rewrite it as earlier versions did: the primary's log fields copied.
    let d1 = extra.path().join("d1.img");
    let dev = DaxDevice::open(&d1, Access::ReadWrite).unwrap();
    let mut old = Superblock::new(
        32 * MIB,
        sb.log_len,
        sb.uuid,
        info.uuid,
        sb.system_uuid,
        "d1",
    );
    old.flags = crate::format::SB_FLAG_SECONDARY;
    dev.write_at(0, &old.encode().unwrap()).unwrap();
    let back = read_superblock(&dev).unwrap();
    assert_eq!((back.log_offset, back.log_len), (2 * MIB, sb.log_len));
    let reader = Famfs::open(&fs.path, Access::ReadOnly).unwrap();
    reader.add_device_paths([d1.clone()]);
    assert_eq!(reader.acquire_device(1).unwrap().path(), d1);
    // A primary without a log is not a file system.
    let mut bad = Superblock::new_secondary(64 * MIB, sb.uuid, sb.dev_uuid, sb.system_uuid, "p");
    bad.flags = 0;
    let e = Superblock::decode(&bad.encode().unwrap()).unwrap_err();
    assert!(e.to_string().contains("log offset"), "{e}");
}

#[test]
fn an_interrupted_devadd_is_taken_over_and_a_shrunk_device_refused() {
    let (fs, sb) = region(64 * MIB, MkfsOptions::default());
    let mut f = Famfs::open(&fs.path, Access::ReadWrite).unwrap();
    let extra = tempfile::tempdir().unwrap();
    // A secondary superblock of this file system that the log never
    // recorded (what a crash between the two writes leaves).
    let orphan = blank(extra.path(), "o.img", 32 * MIB);
    let mut ssb = Superblock::new(
        32 * MIB,
        sb.log_len,
        sb.uuid,
        Uuid::new_v4(),
        sb.system_uuid,
        "o",
    );
    ssb.flags = crate::format::SB_FLAG_SECONDARY;
    orphan.write_at(0, &ssb.encode().unwrap()).unwrap();
    let info = f.add_device(orphan, false, None).unwrap();
    assert_ne!(info.uuid, ssb.dev_uuid, "a new device uuid is written");
    // A device now smaller than the log says is not that device.
    let o = extra.path().join("o.img");
    let reader = Famfs::open(&fs.path, Access::ReadOnly).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&o)
        .unwrap()
        .set_len(16 * MIB)
        .unwrap();
    reader.add_device_paths([o]);
    let e = reader.acquire_device(1).unwrap_err();
    assert!(e.to_string().contains("records"), "{e}");
}

#[test]
fn files_spread_over_devices_and_read_back() {
    let (fs, _) = region(64 * MIB, MkfsOptions::default());
    let mut f = Famfs::open(&fs.path, Access::ReadWrite).unwrap();
    let extra = tempfile::tempdir().unwrap();
    for i in 1..=3 {
        f.add_device(
            blank(extra.path(), &format!("d{i}.img"), 32 * MIB),
            false,
            None,
        )
        .unwrap();
    }
    let placement = Placement {
        stripe: crate::stripe::StripeParams {
            nbuckets: 8,
            nstrips: 8,
            chunk: 2 * MIB,
        },
        seed: Some(9),
        devices: crate::stripe::DeviceCount::All,
    };
    let size = 15 * MIB + 3;
    let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    f.create_file_placed("striped", size, meta(), &placement, |io| {
        io.write(0, &data).map(|_| ())
    })
    .unwrap();
    let ino = f.lookup("striped").unwrap().ino;
    let fmap = f
        .replay()
        .namespace()
        .get(ino)
        .unwrap()
        .as_file()
        .unwrap()
        .fmap
        .clone();
    assert_eq!(fmap.device_indexes().collect::<Vec<_>>(), [0, 1, 2, 3]);
    // A new process with the device paths reads it back at odd offsets.
    let reader = Famfs::open(&fs.path, Access::ReadOnly).unwrap();
    reader.add_device_paths((1..=3).map(|i| extra.path().join(format!("d{i}.img"))));
    let io = reader.file_io(ino).unwrap();
    for off in [0u64, 1, 2 * MIB - 1, 6 * MIB + 5, size - 10] {
        let mut buf = vec![0u8; 3 * MIB as usize];
        let n = io.read(off, &mut buf).unwrap();
        assert_eq!(n as u64, (3 * MIB).min(size - off));
        assert_eq!(&buf[..n], &data[off as usize..off as usize + n], "at {off}");
    }
    // Without the paths, the file fails naming the missing device.
    let blind = Famfs::open(&fs.path, Access::ReadOnly).unwrap();
    let e = blind.file_io(ino).err().unwrap();
    assert!(matches!(e, Error::DeviceMissing { .. }), "{e}");
    assert_eq!(e.errno(), libc::EIO);
}
