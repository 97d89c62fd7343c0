//! The read path of an already-open famfs file makes no system call: a C
//! program (`tests/c/read_loop.c`) opens a famfs file under the shim, then
//! loops over pread, lseek, read and fstat between two marker calls that
//! show in an `strace -f` log (write(-1, ...), which fails with EBADF). The
//! log must show nothing between the markers, and the program must have
//! read the file's real bytes. The same program on a host copy, without the
//! shim, shows its reads between the markers: the check sees system calls
//! when there are some.
//!
//! Needs strace (`apt-get install strace`) and a C compiler besides the
//! workspace binaries. (Allocation and locks on the same path are covered
//! by famfs-core's unit tests of the descriptor table.)

use famfs_tests::*;
use std::fs;
use std::path::Path;
use std::process::Command;

const ROUNDS: usize = 2000;

/// What the program prints for `data`: bytes read and the sum of every
/// 512th byte of each 4 KiB block it read (pread and read of block i).
fn expected(data: &[u8]) -> String {
    let (mut bytes, mut sum) = (0u64, 0u64);
    let span = data.len() - 4096;
    for i in 0..ROUNDS {
        let off = (i * 4096) % span;
        bytes += 2 * 4096;
        sum += (0..4096)
            .step_by(512)
            .map(|k| u64::from(data[off + k]))
            .sum::<u64>();
    }
    format!("{bytes} {sum}\n")
}

/// `strace -f` of `prog args` into `log` (strace itself never runs under
/// the shim; `shim` gives the program LD_PRELOAD).
fn traced(env: &Env, log: &Path, shim: bool, prog: &Path, args: &[&str]) -> Out {
    let ok = Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "strace is required by this test: apt-get install -y strace"
    );
    let mut cmd = env.shim("strace", &["-f", "-o"]);
    cmd.env_remove("LD_PRELOAD").arg(log);
    if shim {
        cmd.arg("-E")
            .arg(format!("LD_PRELOAD={}", preload_lib().display()));
    }
    cmd.arg(prog).args(args);
    run(cmd)
}

/// The log lines strictly between the two markers.
fn between_markers(log: &str) -> Vec<&str> {
    let lines: Vec<&str> = log.lines().collect();
    let at = |m: &str| {
        lines
            .iter()
            .position(|l| l.contains(&format!("write(-1, \"{m}\"")))
            .unwrap_or_else(|| panic!("marker {m} missing from the strace log:\n{log}"))
    };
    let (begin, end) = (at("famfs-loop-begin"), at("famfs-loop-end"));
    assert!(begin < end, "markers out of order:\n{log}");
    lines[begin + 1..end].to_vec()
}

#[test]
fn reads_of_an_open_famfs_file_make_no_system_call() {
    let env = Env::new();
    let r = env.region("64m");
    env.ok(&["creat", "-S", "7", "-s", "1m", &r.p("f")]);
    let data = env.ok_bytes(&["cat", &r.p("f")]);
    assert_eq!(data.len(), 1 << 20);
    let exe = compile_c("read_loop", env.dir(), &[]);
    let rounds = ROUNDS.to_string();

    let log = env.dir().join("famfs.strace");
    let out = traced(&env, &log, true, &exe, &[&r.p("f"), &rounds]);
    assert!(
        out.success(),
        "read_loop under the shim: {}",
        out.describe()
    );
    assert_eq!(out.stdout, expected(&data), "bytes read through the shim");
    let text = fs::read_to_string(&log).expect("strace log");
    let inside = between_markers(&text);
    assert!(
        inside.is_empty(),
        "{} system call(s) in the read loop of an open famfs file:\n{}",
        inside.len(),
        inside
            .iter()
            .take(20)
            .copied()
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Without the shim, on a host copy, the loop's calls are all there.
    let host = env.dir().join("host-copy");
    fs::write(&host, &data).unwrap();
    let log = env.dir().join("host.strace");
    let out = traced(&env, &log, false, &exe, &[host.to_str().unwrap(), &rounds]);
    assert!(out.success(), "read_loop on the host: {}", out.describe());
    assert_eq!(out.stdout, expected(&data), "bytes read from the host copy");
    let text = fs::read_to_string(&log).expect("strace log");
    let inside = between_markers(&text);
    let preads = inside.iter().filter(|l| l.contains("pread64(")).count();
    assert_eq!(preads, ROUNDS, "the host run's preads in the strace log");
}
