//! The shim reader `tests/c/famfs_reader.c`: started as a process of one
//! host under `LD_PRELOAD=libfamfs.so`, it lists a famfs directory over and
//! over and checks every self-describing file it sees (see
//! [`crate::consistency`]) until a stop file appears.

use crate::{compile_c, Env};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Stdio};

/// Compiles the reader into `dir`.
pub fn build(dir: &Path) -> PathBuf {
    compile_c("famfs_reader", dir, &["-Werror"])
}

/// A running scan reader.
pub struct Scan {
    child: Child,
    stdout: BufReader<ChildStdout>,
    /// Names its first pass listed.
    pub first: u64,
}

/// Starts `famfs_reader scan DIR STOP` under the shim as a process of `env`
/// and returns once its first pass is done, so what happens next happens
/// while it reads.
pub fn start_scan(env: &Env, exe: &Path, dir: &str, stop: &Path) -> Scan {
    let mut child = env
        .shim(exe, &["scan", dir, stop.to_str().expect("utf-8 path")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the reader under the shim");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .expect("read the reader's output");
    let first = line
        .strip_prefix("first ")
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("the reader's first pass said {line:?}"));
    Scan {
        child,
        stdout,
        first,
    }
}

/// A reader's closing line, parsed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanReport {
    pub passes: u64,
    pub verified: u64,
    pub rereads: u64,
    /// Passes whose listing had grown since the previous one.
    pub grew: u64,
    /// Passes that listed more names than the first and fewer than the
    /// last: it read while the namespace grew.
    pub partial: u64,
    /// Names in the last listing.
    pub final_count: u64,
    pub bad: u64,
}

/// Waits for a reader (the stop file must exist by now) and checks it saw
/// nothing wrong; panics with its output otherwise.
#[track_caller]
pub fn finish(mut scan: Scan, who: &str) -> ScanReport {
    let mut rest = Vec::new();
    scan.stdout
        .read_to_end(&mut rest)
        .expect("read the reader's output");
    let out = scan.child.wait_with_output().expect("wait for the reader");
    let stdout = String::from_utf8_lossy(&rest);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("passes "))
        .unwrap_or_else(|| {
            panic!(
                "{who}: no summary ({:?}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
    println!("{who}: {line}");
    let mut r = ScanReport::default();
    let words: Vec<&str> = line.split_whitespace().collect();
    for pair in words.chunks(2) {
        let v: u64 = pair[1].parse().expect("a number");
        match pair[0] {
            "passes" => r.passes = v,
            "verified" => r.verified = v,
            "rereads" => r.rereads = v,
            "grew" => r.grew = v,
            "partial" => r.partial = v,
            "final" => r.final_count = v,
            "bad" => r.bad = v,
            other => panic!("{who}: unknown field {other} in {line}"),
        }
    }
    assert!(
        out.status.success() && r.bad == 0,
        "{who} saw incomplete or wrong files ({:?}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    r
}
