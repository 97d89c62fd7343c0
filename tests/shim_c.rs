//! The C program under the shim: `tests/c/shim_test.c` calls every entry
//! point `libfamfs.so` hooks (open family and its fortified names, reads and
//! writes, lseek, the stat family including `__xstat` and statx, access,
//! statfs, dup/fcntl, mmap, directories and getdents64, stdio,
//! copy_file_range/sendfile/splice, size changes, cwd and path forms, mkdir,
//! the refused namespace changes, threads, fork and exec, and coherence with
//! files the CLI creates meanwhile) and checks results and exact errnos
//! against the semantics docs/shim.md states.
//!
//! The test compiles the program with `cc` (`$CC` overrides), builds a region
//! with the famfs CLI (`famfs cp` of a host tree, `famfs mkdir`), and runs the
//! program once per area under the shim with the mount point and the host
//! copy of the tree as arguments. Each area prints `ok NAME` or
//! `FAIL NAME: detail (errno=N strerror)` per check and exits with its
//! failure count; the test fails if any area fails, printing every line.
//!
//! Needs a C compiler (`apt-get install gcc`) besides the workspace binaries
//! (`cargo build -p famfs-cli -p famfs-preload`).

use famfs_tests::*;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

/// A text file of numbered lines.
fn text(lines: usize, tag: &str) -> Vec<u8> {
    (0..lines)
        .map(|i| format!("{tag} line {i:05}: the quick brown fox jumps over the lazy dog\n"))
        .collect::<String>()
        .into_bytes()
}

/// The host tree copied into famfs: (relative path, bytes, mode).
fn fixture_files() -> Vec<(&'static str, Vec<u8>, u32)> {
    vec![
        // Several MiB: three 2 MiB allocation units, odd size.
        ("big.bin", pattern(11, (5 * MIB + 4321) as usize), 0o644),
        ("mid.bin", pattern(12, 300_001), 0o644),
        ("small.bin", pattern(13, 1000), 0o644),
        ("one.bin", b"!".to_vec(), 0o644),
        ("exact.bin", pattern(14, (2 * MIB) as usize), 0o644),
        ("text.txt", text(2000, "text"), 0o644),
        ("ro.bin", pattern(15, 8192), 0o444),
        ("scratch_write.bin", pattern(16, 100_003), 0o644),
        ("scratch_mmap.bin", pattern(17, 100_003), 0o644),
        ("scratch_stdio.bin", pattern(18, 100_003), 0o644),
        ("scratch_copy.bin", pattern(19, 100_003), 0o644),
        ("sub/a.txt", text(20, "a"), 0o644),
        ("sub/b.bin", pattern(20, 70_000), 0o600),
        ("sub/deeper/c.txt", b"c says hello\n".to_vec(), 0o644),
    ]
}

/// The host tree under `env.dir()/tree` and the same tree in a new region.
/// Returns (region, host tree).
fn fixture(env: &Env) -> (Region, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let r = env.region("128m");
    let tree = env.dir().join("tree");
    for (rel, data, mode) in fixture_files() {
        write_file(&tree.join(rel), data.as_slice(), mode);
    }
    for d in ["", "sub", "sub/deeper"] {
        fs::set_permissions(tree.join(d), fs::Permissions::from_mode(0o755)).unwrap();
    }
    // Copy every top-level entry into the mount point (GNU cp semantics:
    // DEST is an existing directory, so each lands at DEST/basename).
    let mut srcs: Vec<String> = fs::read_dir(&tree)
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
        .collect();
    srcs.sort();
    let mut args: Vec<&str> = vec!["cp", "-r"];
    args.extend(srcs.iter().map(String::as_str));
    args.push(&r.mnt);
    env.ok(&args);

    // An empty directory for the mkdir area, on both sides.
    env.ok(&["mkdir", &r.p("mk")]);
    fs::create_dir(tree.join("mk")).unwrap();
    fs::set_permissions(tree.join("mk"), fs::Permissions::from_mode(0o755)).unwrap();

    // An empty file, if the CLI allows one (famfs files are usually >= 1 byte).
    let empty = env.dir().join("empty.txt");
    write_file(&empty, b"", 0o644);
    if env
        .famfs(&["cp", empty.to_str().unwrap(), &r.p("empty.txt")])
        .success()
    {
        fs::rename(&empty, tree.join("empty.txt")).unwrap();
    }

    // The region holds what the host tree holds.
    for (rel, data, _) in fixture_files() {
        assert_bytes_eq(
            &format!("famfs cat {rel}"),
            &env.ok_bytes(&["cat", &r.p(rel)]),
            &data,
            0,
        );
    }
    (r, tree)
}

#[test]
fn c_program_calls_every_hooked_entry_point() {
    let build = tempfile::Builder::new()
        .prefix("famfs-shim-c-")
        .tempdir()
        .expect("tempdir");
    let exe = compile_c("shim_test", build.path(), &[]);
    let env = Env::new();
    let (r, tree) = fixture(&env);

    let list = run({
        let mut c = Command::new(&exe);
        c.arg("--list");
        c
    });
    assert!(list.success(), "shim_test --list: {}", list.describe());
    let areas: Vec<String> = list.stdout.split_whitespace().map(String::from).collect();
    assert!(areas.len() >= 20, "too few areas: {areas:?}");

    // One process per area, so a crash in one does not hide the others.
    let tmp = env.dir().join("tmp");
    fs::create_dir_all(&tmp).unwrap();
    let mut report = String::new();
    let mut failed = Vec::new();
    let (mut oks, mut fails) = (0usize, 0usize);
    for area in &areas {
        let mut cmd = env.shim(
            &exe,
            &[r.mnt.as_str(), tree.to_str().unwrap(), area.as_str()],
        );
        cmd.env("TMPDIR", &tmp).env("FAMFS_TEST_BIN", famfs_bin());
        let out = run(cmd);
        oks += out.stdout.lines().filter(|l| l.starts_with("ok ")).count();
        fails += out
            .stdout
            .lines()
            .filter(|l| l.starts_with("FAIL "))
            .count();
        report.push_str(&out.stdout);
        if !out.success() {
            failed.push(area.clone());
            report.push_str(&format!(
                "# area {area}: {}\n",
                out.describe().lines().next().unwrap_or_default()
            ));
            if !out.stderr.trim().is_empty() {
                report.push_str(&format!("# stderr of area {area}:\n{}\n", out.stderr));
            }
        }
    }
    println!("{report}");
    println!("# {oks} checks passed, {fails} failed");
    assert!(
        failed.is_empty(),
        "shim_test failed in areas {failed:?} ({fails} failed checks):\n{}",
        report
            .lines()
            .filter(|l| !l.starts_with("ok "))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(oks > 300, "only {oks} checks ran");
}
