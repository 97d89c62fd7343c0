//! The kernel's fmap messages (`famfs_core::fmap_msg`). A GET_FMAP or
//! GET_DAXDEV reply that decodes re-encodes to exactly the input bytes; a
//! decoded GET_FMAP message that validates resolves by the `resolution`
//! rules, and, when a log entry can hold its fmap, goes through the log
//! encoding unchanged and validates the same way there.
//!
//! Input: a selector byte (bit 0: GET_DAXDEV reply, else GET_FMAP), then
//! the message.

#![no_main]

use famfs_core::fmap::Fmap;
use famfs_core::fmap_msg::{DaxdevReply, FmapMessage};
use famfs_core::format::{FileEntry, LogEntry};
use famfs_fuzz::resolution;
use libfuzzer_sys::fuzz_target;

fn devices(i: u32) -> Option<u64> {
    match i {
        0 => Some(4 << 30),
        1..=3 => Some(1 << 30),
        _ => None,
    }
}

/// Whether one log entry can hold `fmap` (16 extents, or one interleaved
/// extent of at most 16 strips).
fn fits_a_log_entry(fmap: &Fmap) -> bool {
    match fmap {
        Fmap::Simple(e) => e.len() <= 16,
        Fmap::Interleaved(ie) => ie.len() == 1 && ie[0].strips.len() <= 16,
    }
}

fn daxdev(msg: &[u8]) {
    let Ok(reply) = DaxdevReply::decode(msg) else {
        return;
    };
    assert!(reply.index < 24 && !reply.name.contains('\0'));
    let again = reply.encode().expect("a decoded reply encodes");
    assert_eq!(
        again.as_slice(),
        msg,
        "GET_DAXDEV {reply:?} re-encodes differently"
    );
}

fn get_fmap(msg: &[u8]) {
    let Ok(m) = FmapMessage::decode(msg) else {
        return;
    };
    let again = m.encode().expect("a decoded message encodes");
    assert_eq!(
        again.as_slice(),
        msg,
        "GET_FMAP {m:?} re-encodes differently"
    );
    let validated = m.validate(devices);
    if validated.is_ok() {
        let reqs: Vec<(u64, u64)> = resolution::boundary_offsets(&m.fmap, m.file_size)
            .into_iter()
            .flat_map(|o| [(o, 1), (o, 5 << 20)])
            .collect();
        resolution::check(&m.fmap, m.file_size, Some(&devices), &reqs);
    }
    if fits_a_log_entry(&m.fmap) {
        let entry = LogEntry::File(FileEntry {
            size: m.file_size,
            flags: 2,
            uid: 0,
            gid: 0,
            mode: 0o644,
            relpath: "f".into(),
            fmap: m.fmap.clone(),
        });
        let bytes = entry.encode(7).expect("a log entry holds it");
        match LogEntry::decode(&bytes, 7).expect("decodes") {
            LogEntry::File(f) => {
                assert_eq!(f.fmap, m.fmap, "the log changed the fmap");
                assert_eq!(f.fmap.validate(f.size, devices).is_ok(), validated.is_ok());
            }
            other => panic!("decoded as {other:?}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((sel, msg)) if sel & 1 != 0 => daxdev(msg),
        Some((_, msg)) => get_fmap(msg),
        None => {}
    }
});
