//! Replay of a whole log, through `Famfs::open` as the CLI and the shim
//! open a device: arbitrary bytes become the log of a 4 GiB in-memory
//! device with a valid superblock. Whatever the log holds, replay must not
//! panic, and what it builds must be consistent:
//!
//! - every node's path is a valid log path that looks up to that node;
//! - a file not marked in error has an fmap that validates against the
//!   device table, lies outside the metadata, overlaps no other such file
//!   (nor itself), and resolves inside its device (the `resolution` rules);
//! - a file marked in error has a problem recorded for its entry;
//! - replaying the log in two steps (a reader that saw the first entries,
//!   then catches up) builds exactly what one replay builds.
//!
//! Input: a flag byte, the entry count of the first step, then the log.
//! Flags (so the fuzzer gets past the CRCs): bit 0 rewrites the header's
//! magic, length, last index and CRC; bit 1 gives every whole entry its
//! index as seqnum and a correct CRC; bit 2 makes the allocation unit 4 KiB.

#![no_main]

use famfs_core::dax::Access;
use famfs_core::famfs::Famfs;
use famfs_core::format::{
    crc32, entry_off, last_index_for, log_off, Superblock, LOG_ENTRY_SIZE, LOG_HEADER_SIZE,
    LOG_MAGIC, LOG_OFFSET,
};
use famfs_core::namespace::{NodeKind, ROOT_INO};
use famfs_core::path::check_relpath;
use famfs_fuzz::resolution;
use famfs_fuzz::scratch_device::ScratchDevice;
use libfuzzer_sys::fuzz_target;
use std::sync::{Mutex, OnceLock};

const DEV_SIZE: u64 = 4 << 30;
const LOG_LEN: u64 = 8 << 20;
const HEADER: usize = LOG_HEADER_SIZE as usize;
const ENTRY: usize = LOG_ENTRY_SIZE as usize;

fn device() -> &'static Mutex<ScratchDevice> {
    static DEV: OnceLock<Mutex<ScratchDevice>> = OnceLock::new();
    DEV.get_or_init(|| Mutex::new(ScratchDevice::new(DEV_SIZE)))
}

fn superblock(alloc_unit: u64) -> [u8; 200] {
    let id = |n: u128| uuid::Uuid::from_u128(n);
    let mut sb = Superblock::new(DEV_SIZE, LOG_LEN, id(1), id(2), id(3), "/dev/dax0.0");
    sb.alloc_unit = alloc_unit;
    sb.encode().expect("a valid superblock")
}

fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// The log bytes with the seals the flags ask for.
fn prepare_log(flags: u8, input: &[u8]) -> Vec<u8> {
    let mut log = input[..input.len().min(LOG_LEN as usize)].to_vec();
    if flags & 1 != 0 {
        if log.len() < HEADER {
            log.resize(HEADER, 0);
        }
        put_u64(&mut log, log_off::MAGIC, LOG_MAGIC);
        put_u64(&mut log, log_off::LEN, LOG_LEN);
        put_u64(&mut log, log_off::LAST_INDEX, last_index_for(LOG_LEN));
        let crc = u64::from(crc32(&log[..log_off::CRC_COVERS]));
        put_u64(&mut log, log_off::CRC, crc);
    }
    if flags & 2 != 0 && log.len() > HEADER {
        for (i, e) in log[HEADER..].chunks_exact_mut(ENTRY).enumerate() {
            put_u64(e, entry_off::SEQNUM, i as u64);
            let crc = u64::from(crc32(&e[..entry_off::CRC]));
            put_u64(e, entry_off::CRC, crc);
        }
    }
    log
}

/// Everything replay built, comparable between two replays.
/// Every node, a directory's children in name order (their map is
/// hashed, so its own Debug order differs between two equal namespaces).
fn nodes_in_order(ns: &famfs_core::namespace::Namespace) -> Vec<String> {
    ns.nodes()
        .map(|n| {
            let kind = match n.as_file() {
                Some(f) => format!("{f:?}"),
                None => format!(
                    "dir {:?}",
                    ns.children(n.ino)
                        .map(|c| c.map(|(name, c)| (name, c.ino)).collect::<Vec<_>>())
                        .unwrap_or_default()
                ),
            };
            format!("{} {} {:?} {:?} {:?} {kind}", n.ino, n.parent, n.name(), n.meta, n.log_index)
        })
        .collect()
}

fn summary(fs: &Famfs) -> String {
    let r = fs.replay();
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{}\n{}\n{:?}\n{:?}",
        nodes_in_order(r.namespace()),
        r.problems(),
        r.stopped(),
        r.stats(),
        r.applied(),
        r.collisions(),
        r.devices().collect::<Vec<_>>(),
        (0..24u32)
            .filter_map(|i| r.bitmap(i).map(|b| b.used_units()))
            .collect::<Vec<_>>(),
    )
}

fn check_consistent(fs: &Famfs) {
    let r = fs.replay();
    let ns = r.namespace();
    let dev_size = |i: u32| r.device(i).map(|d| d.size);
    let meta_end = fs.superblock().metadata_end();
    let mut claimed = Vec::new();
    let (mut files, mut dirs) = (0, 0);
    for node in ns.nodes() {
        if node.ino != ROOT_INO {
            let path = ns.path_of(node.ino);
            check_relpath(&path).unwrap_or_else(|e| panic!("node {}: {e}", node.ino));
            assert_eq!(ns.lookup(&path).expect("own path").ino, node.ino);
            assert!(ns.get(node.parent).is_some_and(|p| p.is_dir()));
        }
        match &node.kind {
            NodeKind::Dir { .. } => dirs += 1,
            NodeKind::File(f) => {
                files += 1;
                let index = node.log_index.expect("files come from the log");
                if f.error.is_some() {
                    assert!(
                        r.problems().iter().any(|p| p.index == index),
                        "file {} in error without a problem",
                        node.ino
                    );
                    continue;
                }
                f.fmap
                    .validate(f.size, dev_size)
                    .unwrap_or_else(|e| panic!("file {} is usable but {e}", node.ino));
                for e in f.fmap.device_ranges() {
                    let floor = if e.devindex == 0 { meta_end } else { 2 << 20 };
                    assert!(e.offset >= floor, "{e:?} overlaps metadata");
                    claimed.push((e.devindex, e.offset, e.offset + e.len, node.ino));
                }
                let mut requests: Vec<(u64, u64)> = resolution::boundary_offsets(&f.fmap, f.size)
                    .into_iter()
                    .map(|o| (o, 8 << 20))
                    .collect();
                requests.push((0, u64::MAX));
                resolution::check(&f.fmap, f.size, Some(&dev_size), &requests);
            }
        }
    }
    assert_eq!(
        (files, dirs),
        (ns.file_count(), ns.dir_count() + 1),
        "counts (root included)"
    );
    claimed.sort_unstable();
    for w in claimed.windows(2) {
        let ((d0, _, end0, ino0), (d1, start1, _, ino1)) = (w[0], w[1]);
        assert!(
            d0 != d1 || end0 <= start1,
            "usable files {ino0} and {ino1} share memory on device {d0}"
        );
    }
    if let Some(p) = r.stopped() {
        assert_eq!(p.index, r.applied(), "replay stopped but applied more");
    }
}

fuzz_target!(|data: &[u8]| {
    let [flags, split, input @ ..] = data else {
        return;
    };
    let log = prepare_log(*flags, input);
    let mut dev = device().lock().unwrap_or_else(|e| e.into_inner());
    let alloc_unit = if flags & 4 != 0 { 4096 } else { 2 << 20 };
    dev.write(0, &superblock(alloc_unit));
    dev.set_log(LOG_OFFSET, &log);

    let whole = Famfs::open(dev.path(), Access::ReadOnly);
    let Ok(fs) = &whole else { return };
    check_consistent(fs);
    let header = fs.log_header().expect("the header decoded at open");
    assert!(fs.replay().applied() <= header.next_index);

    // A reader that saw only the first `split` entries, then catches up.
    let split = u64::from(*split);
    if split < header.next_index {
        let at = LOG_OFFSET + log_off::NEXT_INDEX as u64;
        dev.write(at, &split.to_le_bytes());
        let mut early =
            Famfs::open(dev.path(), Access::ReadOnly).expect("opens with fewer entries");
        assert!(early.replay().applied() <= split);
        dev.write(at, &header.next_index.to_le_bytes());
        early.refresh().expect("catches up");
        assert_eq!(summary(&early), summary(fs), "two-step replay differs");
    }
});
