//! Crash consistency: writers that die mid-append never
//! leave an inconsistent file system.
//!
//! Each trial runs one real writer (`famfs cp` of several files, `famfs
//! creat -r`, `famfs mkdir -p` of a deep chain, `famfs cp -r` of a tree)
//! against a region that already holds everything earlier trials left, and
//! stops it in one of two ways:
//!
//! - **SIGKILL after a random delay**, drawn up to a little more than the
//!   writer's usual run time, so kills land anywhere: start-up, allocation,
//!   filling the file, inside an append, or after it finished;
//! - **`FAMFS_FAULT_INJECT=POINT@N`**: the writer kills itself on its N-th
//!   append at `after-data` (contents written, entry not), `after-entry`
//!   (entry written, `next_index` not bumped) or `after-seqnum` (a torn
//!   header): the windows a random kill almost never hits.
//!
//! After every trial: the log replays from scratch with no bad entry and no
//! allocation collision, every file is complete (its bytes are the pattern
//! its name states) or absent, what one writer creates in order is present
//! as a prefix (no entry lost in the middle), files absent after a crash
//! never appear later, `famfs fsck` is clean, and the next append (a
//! `creat` or `mkdir` probe) succeeds. Fault trials also check the header
//! and the log slot show exactly the window they were stopped in.
//!
//! `make test` runs [`CI_TRIALS`] trials; `make stress` runs the ignored
//! variant ([`STRESS_TRIALS`], or `FAMFS_STRESS_TRIALS`). `FAMFS_TEST_SEED`
//! replays one sequence of trials.

use famfs_core::format::LogEntry;
use famfs_tests::consistency::{content_name, Checker, Snapshot};
use famfs_tests::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Trials in `make test`.
const CI_TRIALS: usize = 200;
/// Trials in `make stress`.
const STRESS_TRIALS: usize = 3000;
/// A region serves this many trials before a fresh one replaces it (the
/// log and the sparse region file stay small).
const TRIALS_PER_REGION: usize = 400;

/// What one writer is asked to do. Items are listed in the order the
/// writer appends them (one log entry each).
#[derive(Debug, Clone)]
enum Work {
    /// `famfs cp [-N 2 -B 4 -C 2m] SRC... MOUNTPOINT`.
    Cp {
        files: Vec<(u32, u64)>,
        stripe: bool,
    },
    /// `famfs creat -r -S SEED -s SIZE [-N 2 -B 4 -C 2m] PATH`.
    Creat { seed: u32, size: u64, stripe: bool },
    /// `famfs mkdir -p d_X/c1/c2/...`.
    MkdirP { top: String, depth: usize },
    /// `famfs cp -r TREE MOUNTPOINT`: directories and files, in the order
    /// the copy walks them (not checked as a prefix).
    CpR {
        top: String,
        files: Vec<(String, u32, u64)>,
    },
}

impl Work {
    fn kind(&self) -> &'static str {
        match self {
            Work::Cp { .. } => "cp",
            Work::Creat { .. } => "creat",
            Work::MkdirP { .. } => "mkdir-p",
            Work::CpR { .. } => "cp-r",
        }
    }

    /// The paths this writer creates, in append order (for `CpR`, in no
    /// particular order).
    fn items(&self) -> Vec<String> {
        match self {
            Work::Cp { files, .. } => files
                .iter()
                .map(|&(seed, size)| content_name("cp", seed, size))
                .collect(),
            Work::Creat { seed, size, .. } => vec![content_name("creat", *seed, *size)],
            Work::MkdirP { top, depth } => (0..*depth)
                .map(|d| {
                    std::iter::once(top.clone())
                        .chain((1..=d).map(|i| format!("c{i}")))
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .collect(),
            Work::CpR { top, files } => {
                let mut v = vec![top.clone(), format!("{top}/sub")];
                v.extend(files.iter().map(|(dir, seed, size)| {
                    format!("{top}/{dir}{}", content_name("t", *seed, *size))
                }));
                v
            }
        }
    }

    /// Whether the items must appear as a prefix (one writer, in order).
    fn ordered(&self) -> bool {
        !matches!(self, Work::CpR { .. })
    }
}

/// Counters for the closing report.
#[derive(Debug, Default)]
struct Tally {
    trials: usize,
    killed: usize,
    /// Killed with none, some but not all, or all of its items logged.
    killed_none: usize,
    partial: usize,
    killed_all: usize,
    completed: usize,
    faults: usize,
    files_verified: usize,
}

/// One master host with one region, and the host directory the sources of
/// `cp` are written in.
struct Rig {
    env: Env,
    region: Region,
    checker: Checker,
    src: PathBuf,
    /// Items a writer died before logging: they must never appear.
    absent: BTreeSet<String>,
    next_seed: u32,
    /// Usual run time per kind of work, for drawing kill delays.
    usual: std::collections::HashMap<&'static str, Duration>,
    /// Shortest run of a one-entry command: roughly the start-up time,
    /// before which a kill can only find nothing done.
    startup: Duration,
}

const STRIPE: [&str; 6] = ["-N", "2", "-B", "4", "-C", "2m"];

impl Rig {
    fn new() -> Rig {
        let env = Env::new();
        let region = env.region("16g");
        let checker = Checker::new(&region.dev);
        let src = env.dir().join("src");
        fs::create_dir_all(&src).unwrap();
        Rig {
            env,
            region,
            checker,
            src,
            absent: BTreeSet::new(),
            next_seed: 1,
            usual: Default::default(),
            startup: Duration::from_secs(1),
        }
    }

    fn seed(&mut self) -> u32 {
        self.next_seed += 1;
        self.next_seed
    }

    /// A file size: mostly small, some up to a few MiB (long enough for a
    /// kill to land while the contents are written).
    fn size(rng: &mut StdRng) -> u64 {
        match rng.gen_range(0..100) {
            0..=69 => rng.gen_range(1..=64 << 10),
            70..=94 => rng.gen_range(64 << 10..=1 << 20),
            _ => rng.gen_range(1 << 20..=4 << 20),
        }
    }

    fn random_work(&mut self, rng: &mut StdRng) -> Work {
        match rng.gen_range(0..10) {
            0..=4 => {
                let n = rng.gen_range(2..=12);
                let files = (0..n).map(|_| (self.seed(), Self::size(rng))).collect();
                Work::Cp {
                    files,
                    stripe: rng.gen_bool(0.25),
                }
            }
            5 | 6 => Work::Creat {
                seed: self.seed(),
                size: rng.gen_range(1..=6 << 20),
                stripe: rng.gen_bool(0.3),
            },
            7 | 8 => Work::MkdirP {
                top: format!("d{}", self.seed()),
                depth: rng.gen_range(2..=10),
            },
            _ => {
                let n = rng.gen_range(1..=6);
                let files = (0..n)
                    .map(|_| {
                        let dir = if rng.gen_bool(0.5) { "sub/" } else { "" };
                        (dir.to_string(), self.seed(), Self::size(rng))
                    })
                    .collect();
                Work::CpR {
                    top: format!("tree{}", self.seed()),
                    files,
                }
            }
        }
    }

    /// Writes the host sources `work` copies; returns the arguments of the
    /// famfs command that does it.
    fn prepare(&self, work: &Work) -> Vec<String> {
        let mnt = &self.region.mnt;
        match work {
            Work::Cp { files, stripe } => {
                let mut args = vec!["cp".to_string()];
                if *stripe {
                    args.extend(STRIPE.iter().map(|s| s.to_string()));
                }
                for &(seed, size) in files {
                    let p = self.src.join(content_name("cp", seed, size));
                    write_file(&p, &pattern(seed, size as usize), 0o644);
                    args.push(p.to_string_lossy().into_owned());
                }
                args.push(mnt.clone());
                args
            }
            Work::Creat { seed, size, stripe } => {
                let mut args: Vec<String> = ["creat", "-r", "-S", &seed.to_string()]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                args.extend(["-s".to_string(), size.to_string()]);
                if *stripe {
                    args.extend(STRIPE.iter().map(|s| s.to_string()));
                }
                args.push(self.region.p(&content_name("creat", *seed, *size)));
                args
            }
            Work::MkdirP { .. } => {
                let deepest = work.items().pop().unwrap();
                vec!["mkdir".into(), "-p".into(), self.region.p(&deepest)]
            }
            Work::CpR { top, files } => {
                let root = self.src.join(top);
                fs::create_dir_all(root.join("sub")).unwrap();
                for (dir, seed, size) in files {
                    let p = root.join(format!("{dir}{}", content_name("t", *seed, *size)));
                    write_file(&p, &pattern(*seed, *size as usize), 0o644);
                }
                vec![
                    "cp".into(),
                    "-r".into(),
                    root.to_string_lossy().into_owned(),
                    mnt.clone(),
                ]
            }
        }
    }

    /// Runs the writer; kills it after `kill_after` if it is still running
    /// then. Returns whether it was killed by SIGKILL (it must otherwise
    /// have succeeded).
    fn run_writer(
        &mut self,
        kind: &'static str,
        args: &[String],
        fault: Option<&str>,
        kill_after: Option<Duration>,
    ) -> bool {
        let mut cmd = self.env.command(args);
        if let Some(f) = fault {
            cmd.env("FAMFS_FAULT_INJECT", f);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let mut child = cmd.spawn().expect("spawn famfs");
        if let Some(d) = kill_after {
            // Poll in short naps so the kill lands close to the moment drawn.
            let until = start + d;
            while Instant::now() < until {
                if child.try_wait().expect("try_wait").is_some() {
                    break;
                }
                let left = until.saturating_duration_since(Instant::now());
                std::thread::sleep(left.min(Duration::from_micros(200)));
            }
            let _ = child.kill();
        }
        let out = child.wait_with_output().expect("wait");
        let elapsed = start.elapsed();
        let killed = out.status.signal() == Some(libc::SIGKILL);
        assert!(
            killed || out.status.success(),
            "writer `famfs {}` failed ({:?}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        if !killed && fault.is_none() {
            self.usual.insert(kind, elapsed);
        }
        killed
    }

    /// Checks the region after a trial and that what `work` created is all
    /// or nothing, item by item (and a prefix when it is ordered). Returns
    /// how many items are present and the snapshot.
    fn check_after(&mut self, what: &str, work: &Work) -> (usize, Snapshot) {
        let snap = self.checker.check(what);
        let items = work.items();
        let present: Vec<bool> = items
            .iter()
            .map(|p| snap.files.contains(p) || snap.dirs.contains(p))
            .collect();
        let n = present.iter().filter(|&&p| p).count();
        if work.ordered() {
            assert!(
                present.iter().skip(n).all(|&p| !p) && present.iter().take(n).all(|&p| p),
                "{what}: items of one writer are not a prefix: {:?}",
                items.iter().zip(&present).collect::<Vec<_>>()
            );
        }
        for (p, here) in items.iter().zip(&present) {
            if !here {
                self.absent.insert(p.clone());
            }
        }
        let back: Vec<&String> = self
            .absent
            .iter()
            .filter(|p| snap.files.contains(*p) || snap.dirs.contains(*p))
            .collect();
        assert!(
            back.is_empty(),
            "{what}: items of dead writers appeared later: {back:?}"
        );
        (n, snap)
    }

    /// fsck must be clean, and one more append must succeed and verify.
    fn fsck_and_probe(&mut self, what: &str, trial: usize) {
        let out = self.env.famfs(&["fsck", self.region.dev_str()]);
        assert!(out.success(), "{what}: fsck: {}", out.describe());
        let start = Instant::now();
        // Alternate the probe: a file, then a directory.
        if trial & 1 == 0 {
            let seed = self.seed();
            let name = content_name("probe", seed, 3000);
            self.env.ok(&[
                "creat",
                "-r",
                "-S",
                &seed.to_string(),
                "-s",
                "3000",
                &self.region.p(&name),
            ]);
        } else {
            self.env
                .ok(&["mkdir", &self.region.p(&format!("probe{trial}"))]);
        }
        self.startup = self.startup.min(start.elapsed());
    }

    fn clean_sources(&self) {
        for e in fs::read_dir(&self.src).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                fs::remove_dir_all(p).unwrap();
            } else {
                fs::remove_file(p).unwrap();
            }
        }
    }
}

/// A fault to inject: the point and which append (1-based) it hits.
fn random_fault(rng: &mut StdRng, work: &Work) -> Option<(&'static str, usize)> {
    let appends = work.items().len();
    let points: &[&'static str] = match work {
        Work::MkdirP { .. } => &["after-entry", "after-seqnum"],
        Work::CpR { .. } => return None,
        _ => &["after-data", "after-entry", "after-seqnum"],
    };
    Some((points.choose(rng).copied()?, rng.gen_range(1..=appends)))
}

/// One fault trial: the writer must die on append `nth`, leaving exactly
/// `nth - 1` items and the header and log slot of that window.
fn fault_trial(rig: &mut Rig, rng: &mut StdRng, trial: usize, tally: &mut Tally) -> bool {
    let work = rig.random_work(rng);
    let Some((point, nth)) = random_fault(rng, &work) else {
        return false;
    };
    let what = format!("trial {trial} ({} with {point}@{nth})", work.kind());
    let before = log_next_index(&rig.region.dev);
    let args = rig.prepare(&work);
    let killed = rig.run_writer(work.kind(), &args, Some(&format!("{point}@{nth}")), None);
    assert!(killed, "{what}: the writer was not killed by the fault");
    let (present, snap) = rig.check_after(&what, &work);
    assert_eq!(present, nth - 1, "{what}: items present");
    assert_eq!(
        snap.next_index,
        before + nth as u64 - 1,
        "{what}: next_index"
    );
    let torn = snap.next_seqnum != snap.next_index;
    assert_eq!(torn, point == "after-seqnum", "{what}: header {snap:?}");
    if point != "after-data" {
        // The entry of the dead append is on the media, sealed, naming the
        // item that is absent: exactly the window that was asked for.
        let slot = read_range(
            &rig.region.dev,
            entry_offset(snap.next_index),
            LOG_ENTRY_SIZE as usize,
        );
        let entry = LogEntry::decode_content(&slot, snap.next_index)
            .unwrap_or_else(|e| panic!("{what}: the unpublished entry is not intact: {e}"));
        assert_eq!(
            entry.relpath(),
            Some(work.items()[nth - 1].as_str()),
            "{what}: the unpublished entry"
        );
    }
    rig.fsck_and_probe(&what, trial);
    let healed = rig.checker.check(&format!("{what}, after the probe"));
    assert_eq!(
        healed.next_seqnum, healed.next_index,
        "{what}: the probe append left the header torn"
    );
    tally.faults += 1;
    true
}

/// One trial killed by SIGKILL at a random moment.
fn kill_trial(rig: &mut Rig, rng: &mut StdRng, trial: usize, tally: &mut Tally) {
    let work = rig.random_work(rng);
    let usual = rig
        .usual
        .get(work.kind())
        .copied()
        .unwrap_or(Duration::from_millis(40));
    // A kind never seen finishing runs once unkilled, to learn its time.
    // Kills are spread from a little before start-up is over to a little
    // after the usual end, where the appends are.
    let from = rig.startup.min(usual);
    let kill_after = rig
        .usual
        .contains_key(work.kind())
        .then(|| from + (usual - from).mul_f64(rng.gen_range(0.0..1.15)));
    let what = format!(
        "trial {trial} ({} killed after {kill_after:?})",
        work.kind()
    );
    let args = rig.prepare(&work);
    let killed = rig.run_writer(work.kind(), &args, None, kill_after);
    let (present, _) = rig.check_after(&what, &work);
    let items = work.items().len();
    if killed {
        tally.killed += 1;
        match present {
            0 => tally.killed_none += 1,
            n if n == items => tally.killed_all += 1,
            _ => tally.partial += 1,
        }
    } else {
        assert_eq!(
            present, items,
            "{what}: a writer that finished left items out"
        );
        tally.completed += 1;
    }
    rig.fsck_and_probe(&what, trial);
}

fn run_trials(trials: usize) {
    let mut rng = StdRng::seed_from_u64(test_seed());
    let mut tally = Tally::default();
    let start = Instant::now();
    let mut trial = 0;
    while trial < trials {
        let mut rig = Rig::new();
        let end = trials.min(trial + TRIALS_PER_REGION);
        while trial < end {
            // One trial in three injects a fault; the rest are random kills.
            if !(rng.gen_range(0..3) == 0 && fault_trial(&mut rig, &mut rng, trial, &mut tally)) {
                kill_trial(&mut rig, &mut rng, trial, &mut tally);
            }
            rig.clean_sources();
            trial += 1;
            tally.trials += 1;
        }
        tally.files_verified += rig.checker.verified().count();
    }
    println!(
        "{} trials in {:.1?}: {} killed at random (with none/some/all of their items logged: \
         {}/{}/{}), {} finished before the kill, {} injected faults; {} files verified",
        tally.trials,
        start.elapsed(),
        tally.killed,
        tally.killed_none,
        tally.partial,
        tally.killed_all,
        tally.completed,
        tally.faults,
        tally.files_verified
    );
    assert!(tally.faults > 0 && tally.killed > 0, "{tally:?}");
}

#[test]
fn writers_killed_mid_append_leave_a_consistent_log() {
    run_trials(CI_TRIALS);
}

#[test]
#[ignore = "long: make stress"]
fn stress_writers_killed_mid_append_leave_a_consistent_log() {
    let n = std::env::var("FAMFS_STRESS_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(STRESS_TRIALS);
    run_trials(n);
}

/// A malformed FAMFS_FAULT_INJECT refuses the append and writes nothing.
#[test]
fn malformed_fault_spec_refuses_the_append() {
    let env = Env::new();
    let r = env.region("64m");
    let before = r.meta();
    let mut cmd = env.command(&["mkdir", &r.p("d")]);
    cmd.env("FAMFS_FAULT_INJECT", "after-entry@0");
    let out = run(cmd);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    assert!(
        out.stderr.contains("FAMFS_FAULT_INJECT"),
        "{}",
        out.describe()
    );
    assert_meta_unchanged(&r, &before, "mkdir with a malformed fault spec");
}
