//! Self-describing files and the consistency check the reliability tests
//! (crash, concurrent writers, several hosts) run on a region.
//!
//! A test file's name ends in `_s{SEED}_n{SIZE}`: its content is the famfs
//! random pattern of that seed (`creat -r -S SEED`, or a host file of
//! [`crate::pattern`] copied in) and its size is SIZE. Anyone — this module,
//! or the C reader under the shim (`tests/c/famfs_reader.c`) — can therefore
//! tell a complete file from a torn or foreign one by the name alone.
//!
//! [`Checker`] replays the region from scratch with famfs-core (read-only)
//! and asserts what a crash or a race must never break: every entry replays
//! (no bad entry, replay did not stop), no allocation collision, no path
//! twice, every file's size and bytes are what its name says. Files already
//! verified by an earlier check are only checked to be unchanged in the
//! log, so checking after every one of hundreds of trials stays cheap.

use famfs_core::dax::Access;
use famfs_core::famfs::Famfs;
use famfs_core::namespace::NodeKind;
use famfs_core::random::PatternVerifier;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The name of a self-describing file: `{prefix}_s{seed}_n{size}`.
pub fn content_name(prefix: &str, seed: u32, size: u64) -> String {
    format!("{prefix}_s{seed}_n{size}")
}

/// The (seed, size) a self-describing name states, if it is one.
pub fn parse_content_name(name: &str) -> Option<(u32, u64)> {
    let (rest, size) = name.rsplit_once("_n")?;
    let (_, seed) = rest.rsplit_once("_s")?;
    Some((seed.parse().ok()?, size.parse().ok()?))
}

/// What one check saw.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Paths (relative to the mount point) of every file and directory.
    pub files: BTreeSet<String>,
    pub dirs: BTreeSet<String>,
    /// The log header's counters.
    pub next_index: u64,
    pub next_seqnum: u64,
    /// Files whose bytes this check read and verified (new since the last).
    pub newly_verified: usize,
}

/// Replays a region and checks it is consistent; remembers what it has
/// verified so later checks only read new files.
pub struct Checker {
    dev: PathBuf,
    /// path -> (size, log index) of every file verified so far.
    verified: BTreeMap<String, (u64, u64)>,
}

impl Checker {
    pub fn new(dev: &Path) -> Checker {
        Checker {
            dev: dev.to_path_buf(),
            verified: BTreeMap::new(),
        }
    }

    /// Paths verified so far.
    pub fn verified(&self) -> impl Iterator<Item = &str> {
        self.verified.keys().map(String::as_str)
    }

    /// Replays the region from scratch and checks it; panics naming the
    /// first inconsistency (prefixed with `what`).
    #[track_caller]
    pub fn check(&mut self, what: &str) -> Snapshot {
        let fs = Famfs::open(&self.dev, Access::ReadOnly)
            .unwrap_or_else(|e| panic!("{what}: the region no longer opens: {e}"));
        let header = fs
            .log_header()
            .unwrap_or_else(|e| panic!("{what}: log header: {e}"));
        let replay = fs.replay();
        if let Some(p) = replay.stopped() {
            panic!("{what}: replay stopped at entry {}: {}", p.index, p.message);
        }
        assert!(
            replay.problems().is_empty(),
            "{what}: bad log entries: {:?}",
            replay.problems()
        );
        assert_eq!(replay.collisions(), 0, "{what}: allocation collisions");
        assert_eq!(
            replay.applied(),
            header.next_index,
            "{what}: not every published entry was applied"
        );
        let stats = replay.stats();
        assert_eq!(stats.duplicates, 0, "{what}: a path was logged twice");

        let ns = replay.namespace();
        let mut snap = Snapshot {
            next_index: header.next_index,
            next_seqnum: header.next_seqnum,
            ..Snapshot::default()
        };
        for node in ns.nodes().skip(1) {
            let path = ns.path_of(node.ino);
            let file = match &node.kind {
                NodeKind::Dir { .. } => {
                    snap.dirs.insert(path);
                    continue;
                }
                NodeKind::File(f) => f,
            };
            let index = node.log_index.expect("files come from the log");
            if let Some(&(size, at)) = self.verified.get(&path) {
                assert_eq!(
                    (file.size, index),
                    (size, at),
                    "{what}: {path} changed since it was verified (size, log index)"
                );
                snap.files.insert(path);
                continue;
            }
            let (seed, size) = parse_content_name(node.name())
                .unwrap_or_else(|| panic!("{what}: {path} is not a self-describing name"));
            assert_eq!(file.size, size, "{what}: {path}: logged size");
            assert!(file.error.is_none(), "{what}: {path}: {:?}", file.error);
            let io = fs
                .file_io(node.ino)
                .unwrap_or_else(|e| panic!("{what}: {path}: {e}"));
            let mut v = PatternVerifier::new(seed);
            let mut buf = vec![0u8; (1 << 20).min(size as usize).max(1)];
            let mut off = 0u64;
            while off < size {
                let n = io
                    .read(off, &mut buf)
                    .unwrap_or_else(|e| panic!("{what}: {path}: read at {off}: {e}"));
                assert!(n > 0, "{what}: {path}: short read at {off}");
                if let Some(bad) = v.check(&buf[..n]) {
                    panic!("{what}: {path}: content differs from seed {seed} at offset {bad}");
                }
                off += n as u64;
            }
            self.verified.insert(path.clone(), (size, index));
            snap.newly_verified += 1;
            snap.files.insert(path);
        }
        let gone: Vec<&String> = self
            .verified
            .keys()
            .filter(|p| !snap.files.contains(*p))
            .collect();
        assert!(gone.is_empty(), "{what}: verified files vanished: {gone:?}");
        snap
    }
}
