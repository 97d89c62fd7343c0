//! Real programs under the shim (`LD_PRELOAD=libfamfs.so`): coreutils, bash,
//! Python 3 (with numpy), the sqlite3 CLI, and a leak test that runs some of
//! them under strace.
//!
//! Every test builds its own host ([`Env`]) with a simulated region, fills it
//! with the famfs CLI (`famfs cp -r` of a small tree, `famfs creat -r` of a
//! 3 MB random file that spans two 2 MiB allocation units) and keeps a host
//! copy of every byte. Programs then run twice where that helps: under the
//! shim on the famfs paths, and without it on the host copies; their outputs
//! must agree once the root directory is masked. Mount points are virtual
//! paths that do not exist in the kernel's namespace, so a program can only
//! succeed if the shim serves them.
//!
//! Tools this file needs besides the workspace binaries: coreutils, bash,
//! grep, findutils, python3 with numpy (`python3 -m pip install numpy`),
//! sqlite3 and strace. A missing tool FAILS the test that needs it, with the
//! install command in the message; nothing is skipped.
//!
//! ## The leak test
//!
//! `strace -f -y` runs the program with `-E LD_PRELOAD=libfamfs.so`: strace
//! itself runs without the shim (it is the observer, and its own opens of
//! the log must not go through the code under test), and `-E` gives the
//! variable to the traced program only, exactly as a user would run it, so
//! the log also shows the shim's own start-up in every traced image. The log
//! is then checked for two things:
//!
//! 1. No syscall names a path under the mount point: the first argument of
//!    execve and the data buffers of read/write-type calls excepted (argv and
//!    program output legitimately contain famfs paths).
//! 2. No placeholder fd reaches the kernel as a file. Famfs opens never reach
//!    the kernel, so they are invisible in the log, but every fd number a
//!    process uses was made by a syscall the log shows. The checker follows
//!    each process's fd table (fork copies it, `CLONE_FILES` shares it, dup,
//!    dup2, dup3 and `F_DUPFD` copy an entry, close and close_range remove
//!    it) and gives each fd an origin:
//!    - *kernel*: made by a kernel open/openat/pipe/socket/... for a real
//!      object, or one of 0/1/2 inherited by the first process;
//!    - *internal*: a memfd (or a read-write reopen of one through
//!      `/proc/self/fd/N`) that nothing duplicated: the shim's shared state
//!      pages, which it may size (ftruncate), map and stat, never read,
//!      write or seek;
//!    - *placeholder*: what the application can hold as a famfs fd: a
//!      duplicate of a memfd, an `O_PATH` reopen of one through
//!      `/proc/self/fd/N`, a duplicate of either, inheritance of either
//!      across fork and exec, or an fd the log never showed being made.
//!
//!    The kernel must never read, write, seek, list (read, pread64, readv,
//!    preadv*, write*, lseek, getdents64, copy_file_range, sendfile, splice,
//!    fchdir), map or size (mmap, ftruncate, fallocate), stat (fstat,
//!    fstatfs, newfstatat/statx with an empty path) or resolve a relative
//!    path against (openat, newfstatat, statx, faccessat, readlinkat, ...)
//!    a placeholder. One exception, for the shim's adoption of fds inherited
//!    across exec: an image that looked fd N up by its `/proc/self/fd/N`
//!    link may stat N once (to learn which state page it carries); a second
//!    stat is the application's and must not reach the kernel. Calls that do
//!    not touch the file's data or metadata (close, dup*, fcntl, ioctl such
//!    as the isatty probe, fadvise, fsync) are not checked. This follows the
//!    placeholders by how they are made, not by their names, so it holds for
//!    any placeholder built from a memfd; a placeholder made by a plain
//!    kernel open of a real file (say `/dev/null`) would look like a kernel
//!    fd to it.

use famfs_tests::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

// ---------------------------------------------------------------------------
// Fixture

/// Size of `data.bin`: odd, and past the first 2 MiB allocation unit.
const DATA_SIZE: usize = 3_000_001;
/// Seed of `famfs creat -r` for `data.bin`.
const DATA_SEED: u32 = 42;
/// One 2 MiB allocation unit (also the shim's st_blksize).
const TWO_MIB: usize = 2 << 20;

/// The text file the grep tests search.
fn poem() -> Vec<u8> {
    let mut s = String::new();
    for i in 0..400 {
        let body = if i % 7 == 0 {
            "famfs serves this line from dax memory"
        } else {
            "the quick brown fox jumps over the lazy dog"
        };
        s.push_str(&format!("line {i:04}: {body}\n"));
    }
    s.into_bytes()
}

/// `tree/notes/todo.txt`.
const TODO: &str = "buy milk\nwrite the famfs tests\nship it\n";
/// `tree/bin/run.sh`.
const RUN_SH: &str = "#!/bin/sh\necho famfs says hi\n";

/// The length of [`poem`].
fn poem_len() -> usize {
    poem().len()
}

/// The tree copied in with `famfs cp -r`: (path under `tree/`, bytes, mode).
fn tree_files() -> Vec<(&'static str, Vec<u8>, u32)> {
    vec![
        ("poem.txt", poem(), 0o644),
        ("empty.txt", Vec::new(), 0o644),
        ("notes/todo.txt", TODO.as_bytes().to_vec(), 0o600),
        ("bin/run.sh", RUN_SH.as_bytes().to_vec(), 0o755),
        ("bin/blob.bin", pattern(7, 5000), 0o644),
        ("deep/a/b/c/leaf.txt", b"leaf\n".to_vec(), 0o640),
    ]
}

/// One host with a mounted region holding `data.bin` and `tree/`, and a host
/// copy of both under `host`.
struct Fx {
    env: Env,
    r: Region,
    /// Host copies: `host/data.bin` and `host/tree/...`.
    host: PathBuf,
    /// The bytes of `data.bin`.
    data: Vec<u8>,
}

fn fixture() -> Fx {
    let env = Env::new();
    let r = env.region("64m");
    let host = env.dir().join("host");
    for (rel, bytes, mode) in tree_files() {
        write_file(&host.join("tree").join(rel), &bytes, mode);
    }
    env.ok(&["cp", "-r", host.join("tree").to_str().unwrap(), &r.mnt]);
    env.ok(&[
        "creat",
        "-r",
        "-S",
        &DATA_SEED.to_string(),
        "-s",
        &DATA_SIZE.to_string(),
        &r.p("data.bin"),
    ]);
    let data = pattern(DATA_SEED, DATA_SIZE);
    write_file(&host.join("data.bin"), &data, 0o644);
    // The CLI agrees with the host copy, so any difference below is the shim's.
    assert_bytes_eq(
        "famfs cat data.bin",
        &env.ok_bytes(&["cat", &r.p("data.bin")]),
        &data,
        0,
    );
    Fx { env, r, host, data }
}

impl Fx {
    /// The famfs path of `rel` (`""` = the mount point).
    fn m(&self, rel: &str) -> String {
        self.r.p(rel)
    }

    /// The host copy of `rel`.
    fn h(&self, rel: &str) -> String {
        if rel.is_empty() {
            self.host.to_string_lossy().into_owned()
        } else {
            self.host.join(rel).to_string_lossy().into_owned()
        }
    }

    /// The host bytes of `rel`.
    fn host_bytes(&self, rel: &str) -> Vec<u8> {
        fs::read(self.h(rel)).unwrap()
    }

    /// A scratch directory on the host (created).
    fn out_dir(&self) -> PathBuf {
        let d = self.env.dir().join("out");
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// `prog args` under the shim, in the C locale and UTC.
    fn shim<S: AsRef<OsStr>>(&self, prog: impl AsRef<OsStr>, args: &[S]) -> Command {
        let mut cmd = self.env.shim(prog, args);
        cmd.env("LC_ALL", "C").env("TZ", "UTC");
        cmd
    }

    /// Runs `prog args` under the shim; it must succeed.
    #[track_caller]
    fn ok<S: AsRef<OsStr>>(&self, prog: impl AsRef<OsStr>, args: &[S]) -> Out {
        let out = run(self.shim(prog, args));
        assert!(
            out.success(),
            "expected success under the shim: {}",
            out.describe()
        );
        out
    }

    /// Runs `prog args` under the shim; returns its output whatever the status.
    fn try_shim<S: AsRef<OsStr>>(&self, prog: impl AsRef<OsStr>, args: &[S]) -> Out {
        run(self.shim(prog, args))
    }

    /// Output with the mount point masked as `ROOT`.
    fn mask_m(&self, s: &str) -> String {
        s.replace(&self.r.mnt, "ROOT")
    }

    /// Output with the host copy's root masked as `ROOT`.
    fn mask_h(&self, s: &str) -> String {
        s.replace(&self.h(""), "ROOT")
    }
}

/// Runs `prog args` on the host, without the shim; it must succeed.
#[track_caller]
fn host_ok<S: AsRef<OsStr>>(prog: impl AsRef<OsStr>, args: &[S]) -> Out {
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .env_remove("LD_PRELOAD")
        .env("LC_ALL", "C")
        .env("TZ", "UTC");
    with_umask_022(&mut cmd);
    let out = run(cmd);
    assert!(
        out.success(),
        "expected success on the host: {}",
        out.describe()
    );
    out
}

/// Sorted non-empty lines.
fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    v.sort();
    v
}

/// Panics with `hint` unless `prog --version`-style probe `args` succeeds.
#[track_caller]
fn require_tool(prog: &str, args: &[&str], hint: &str) {
    let ok = Command::new(prog)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(ok, "`{prog}` is required by this test: {hint}");
}

/// The real Python interpreter behind `python3` on the PATH (not a pyenv or
/// similar wrapper script, so that only the interpreter runs under the shim).
fn python() -> &'static str {
    static PY: OnceLock<String> = OnceLock::new();
    PY.get_or_init(|| {
        let out = host_ok("python3", &["-c", "import sys; print(sys.executable)"]);
        let p = out.stdout.trim().to_string();
        assert!(
            Path::new(&p).is_file(),
            "python3 reports sys.executable {p:?}, which is not a file"
        );
        p
    })
}

/// Runs the Python `script` with `args` under the shim; it must succeed.
#[track_caller]
fn py_shim(fx: &Fx, script: &str, args: &[&str]) -> Out {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    fx.ok(python(), &all)
}

/// Runs the Python `script` with `args` on the host, without the shim.
#[track_caller]
fn py_host(script: &str, args: &[&str]) -> Out {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    host_ok(python(), &all)
}

/// Parses the one JSON document a script printed.
#[track_caller]
fn json_of(out: &Out) -> serde_json::Value {
    serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", out.describe()))
}

// ---------------------------------------------------------------------------
// coreutils

#[test]
fn cat_reads_whole_files() {
    let fx = fixture();
    let out = fx.ok("cat", &[fx.m("data.bin")]);
    assert_bytes_eq("cat data.bin", &out.stdout_bytes, &fx.data, 0);

    let rels = ["tree/poem.txt", "tree/notes/todo.txt", "tree/bin/blob.bin"];
    let args: Vec<String> = rels.iter().map(|r| fx.m(r)).collect();
    let out = fx.ok("cat", &args);
    let want: Vec<u8> = rels.iter().flat_map(|r| fx.host_bytes(r)).collect();
    assert_bytes_eq("cat of three files", &out.stdout_bytes, &want, 0);

    let out = fx.ok("cat", &[fx.m("tree/empty.txt")]);
    assert!(out.stdout_bytes.is_empty(), "{}", out.describe());

    let out = fx.try_shim("cat", &[fx.m("tree/nope.txt")]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    assert!(
        out.stderr.contains("No such file or directory"),
        "{}",
        out.describe()
    );
    let out = fx.try_shim("cat", &[fx.m("tree/notes")]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    assert!(out.stderr.contains("Is a directory"), "{}", out.describe());
}

#[test]
fn head_and_tail_byte_counts() {
    let fx = fixture();
    let d = &fx.data;
    let f = fx.m("data.bin");
    let cases: Vec<(&str, Vec<&str>, &[u8])> = vec![
        ("head -c 100", vec!["head", "-c", "100"], &d[..100]),
        // Across the first 2 MiB allocation unit.
        (
            "head -c 2097253",
            vec!["head", "-c", "2097253"],
            &d[..2_097_253],
        ),
        // All but the last 1000 bytes: head finds the size with lseek/fstat.
        (
            "head -c -1000",
            vec!["head", "-c", "-1000"],
            &d[..DATA_SIZE - 1000],
        ),
        (
            "tail -c 1000",
            vec!["tail", "-c", "1000"],
            &d[DATA_SIZE - 1000..],
        ),
        (
            "tail -c +2097000",
            vec!["tail", "-c", "+2097000"],
            &d[2_096_999..],
        ),
    ];
    for (what, mut argv, want) in cases {
        let prog = argv.remove(0);
        argv.push(&f);
        let out = fx.ok(prog, &argv);
        assert_bytes_eq(what, &out.stdout_bytes, want, 0);
    }
    let poem = String::from_utf8(poem()).unwrap();
    let lines: Vec<&str> = poem.lines().collect();
    let out = fx.ok("head", &["-n", "3", &fx.m("tree/poem.txt")]);
    assert_eq!(out.stdout, format!("{}\n", lines[..3].join("\n")));
    let out = fx.ok("tail", &["-n", "2", &fx.m("tree/poem.txt")]);
    assert_eq!(out.stdout, format!("{}\n", lines[398..].join("\n")));
}

#[test]
fn wc_counts() {
    let fx = fixture();
    let out = fx.ok("wc", &["-c", &fx.m("data.bin")]);
    assert_eq!(out.stdout, format!("{DATA_SIZE} {}\n", fx.m("data.bin")));
    let out = fx.ok("wc", &["-c", &fx.m("tree/empty.txt")]);
    assert_eq!(out.stdout, format!("0 {}\n", fx.m("tree/empty.txt")));
    // Lines, words and bytes of several files, as on the host.
    let rels = ["tree/poem.txt", "tree/notes/todo.txt", "tree/bin/blob.bin"];
    let m: Vec<String> = rels.iter().map(|r| fx.m(r)).collect();
    let h: Vec<String> = rels.iter().map(|r| fx.h(r)).collect();
    let shim = fx.ok("wc", &m);
    let host = host_ok("wc", &h);
    assert_eq!(fx.mask_m(&shim.stdout), fx.mask_h(&host.stdout));
}

#[test]
fn sha256sum_matches() {
    let fx = fixture();
    let rels = ["data.bin", "tree/poem.txt", "tree/bin/blob.bin"];
    let args: Vec<String> = rels.iter().map(|r| fx.m(r)).collect();
    let out = fx.ok("sha256sum", &args);
    let want: String = rels
        .iter()
        .map(|r| format!("{}  {}\n", sha256_hex(&fx.host_bytes(r)), fx.m(r)))
        .collect();
    assert_eq!(out.stdout, want);
}

#[test]
fn cmp_against_the_host_copy() {
    let fx = fixture();
    for rel in ["data.bin", "tree/poem.txt", "tree/bin/blob.bin"] {
        let out = fx.ok("cmp", &[fx.m(rel), fx.h(rel)]);
        assert_eq!(out.stdout, "", "{}", out.describe());
    }
    fx.ok("cmp", &[fx.m("data.bin"), fx.m("data.bin")]);
    // One flipped byte in the host copy, past the first allocation unit:
    // cmp must read far enough to see it.
    let flipped = fx.out_dir().join("flipped.bin");
    fs::write(&flipped, &fx.data).unwrap();
    flip_byte(&flipped, 2_500_000);
    let out = fx.try_shim("cmp", &[fx.m("data.bin"), flipped.to_str().unwrap().into()]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    // "differ: byte N" in newer diffutils, "differ: char N" in older ones.
    assert!(
        out.stdout.contains("differ: byte 2500001,")
            || out.stdout.contains("differ: char 2500001,"),
        "{}",
        out.describe()
    );
    // A shorter host file: EOF on it.
    let short = fx.out_dir().join("short.bin");
    fs::write(&short, &fx.data[..1000]).unwrap();
    let out = fx.try_shim("cmp", &[fx.m("data.bin"), short.to_str().unwrap().into()]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    assert!(out.stderr.contains("EOF on"), "{}", out.describe());
}

#[test]
fn dd_block_sizes_skip_and_count() {
    let fx = fixture();
    let d = &fx.data;
    let f = format!("if={}", fx.m("data.bin"));
    let cases: Vec<(&[&str], &[u8])> = vec![
        (&["bs=4096", "skip=3", "count=5"], &d[3 * 4096..8 * 4096]),
        (&["bs=1M"], &d[..]),
        // The last, partial block.
        (&["bs=1000", "skip=2999"], &d[2_999_000..]),
        // Three bytes across the first allocation unit.
        (
            &["bs=1", "skip=2097151", "count=3"],
            &d[2_097_151..2_097_154],
        ),
        (&["ibs=7", "obs=4096", "skip=3", "count=2"], &d[21..35]),
        // Skip past EOF: nothing, and success.
        (&["bs=4096", "skip=1000"], &[]),
    ];
    for (opts, want) in cases {
        let mut args = vec![f.as_str(), "status=none"];
        args.extend_from_slice(opts);
        let out = fx.ok("dd", &args);
        assert_bytes_eq(&format!("dd {opts:?}"), &out.stdout_bytes, want, 0);
    }
    // dd into a host file.
    let dst = fx.out_dir().join("dd.bin");
    let of = format!("of={}", dst.display());
    fx.ok("dd", &[&f, &of, "bs=64k", "count=40", "status=none"]);
    assert_bytes_eq("dd of=", &fs::read(&dst).unwrap(), &d[..40 * 65536], 0);
}

/// One `ls -ln --time-style=+%s` line: (mode, uid, gid, size, name).
fn parse_ls_ln(text: &str) -> BTreeMap<String, (String, u32, u32, u64)> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with("total"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(f.len() >= 7, "unexpected ls -ln line {l:?}");
            // A trailing `.` or `+` marks an SELinux context or an ACL.
            let mode = f[0].trim_end_matches(['.', '+']).to_string();
            let n = |s: &str| -> u64 { s.parse().unwrap_or_else(|_| panic!("{s:?} in {l:?}")) };
            (
                f[6..].join(" "),
                (mode, n(f[2]) as u32, n(f[3]) as u32, n(f[4])),
            )
        })
        .collect()
}

#[test]
fn ls_names_sizes_and_modes() {
    let fx = fixture();
    let (uid, gid) = (euid(), egid());
    let out = fx.ok("ls", &["-1a", &fx.m("tree")]);
    assert_eq!(
        out.stdout,
        ".\n..\nbin\ndeep\nempty.txt\nnotes\npoem.txt\n",
        "{}",
        out.describe()
    );
    let out = fx.ok("ls", &["-1", &fx.m("")]);
    assert_eq!(out.stdout, "data.bin\ntree\n");

    // ls -l agrees with `famfs ls -ln` on every entry (sizes of files
    // only), and so does the date: both show the mount time.
    let out = fx.ok("ls", &["-ln", "--time-style=+%s", &fx.m("tree")]);
    let got = parse_ls_ln(&out.stdout);
    let cli: BTreeMap<String, (String, u32, u32, u64)> = fx
        .env
        .ok(&["ls", "-ln", &fx.m("tree")])
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            // mode links uid gid size month day time-or-year name
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[8..].join(" "),
                (
                    f[0].to_string(),
                    f[2].parse().unwrap(),
                    f[3].parse().unwrap(),
                    f[4].parse().unwrap(),
                ),
            )
        })
        .collect();
    let coreutils = fx.ok("ls", &["-l", &fx.m("tree")]).stdout;
    let ours = fx.env.ok(&["ls", "-l", &fx.m("tree")]);
    // Owner, group and date columns as coreutils prints them (the first
    // lines: coreutils sorts with the locale, famfs by bytes).
    let cols = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.starts_with("total"))
            .map(|l| {
                l.split_whitespace()
                    .take(8)
                    .skip(2)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    assert_eq!(
        cols(&coreutils)[0],
        cols(&ours)[0],
        "{coreutils}\n---\n{ours}"
    );
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        cli.keys().collect::<Vec<_>>(),
        "{}",
        out.describe()
    );
    for (name, (mode, u, g, size)) in &got {
        let (cmode, cu, cg, csize) = &cli[name];
        assert_eq!((mode, u, g), (cmode, cu, cg), "ls -l entry {name}");
        if !mode.starts_with('d') {
            assert_eq!(size, csize, "ls -l size of {name}");
        }
    }
    assert_eq!(
        got["poem.txt"],
        ("-rw-r--r--".into(), uid, gid, poem_len() as u64)
    );
    assert_eq!(got["empty.txt"].3, 0);
    assert!(got["notes"].0.starts_with('d'));

    let out = fx.ok(
        "ls",
        &[
            "-ln",
            "--time-style=+%s",
            &fx.m("data.bin"),
            &fx.m("tree/notes/todo.txt"),
            &fx.m("tree/bin/run.sh"),
            &fx.m("tree/deep/a/b/c/leaf.txt"),
        ],
    );
    let got = parse_ls_ln(&out.stdout);
    assert_eq!(
        got[&fx.m("data.bin")],
        ("-rw-r--r--".into(), uid, gid, DATA_SIZE as u64)
    );
    assert_eq!(
        got[&fx.m("tree/notes/todo.txt")],
        ("-rw-------".into(), uid, gid, TODO.len() as u64)
    );
    assert_eq!(got[&fx.m("tree/bin/run.sh")].0, "-rwxr-xr-x");
    assert_eq!(got[&fx.m("tree/deep/a/b/c/leaf.txt")].0, "-rw-r-----");

    // A recursive listing equals the host's.
    let shim = fx.ok("ls", &["-1R", &fx.m("tree")]);
    let host = host_ok("ls", &["-1R", &fx.h("tree")]);
    assert_eq!(fx.mask_m(&shim.stdout), fx.mask_h(&host.stdout));

    let out = fx.try_shim("ls", &[fx.m("tree/nope")]);
    assert_eq!(out.code(), Some(2), "{}", out.describe());
    assert!(
        out.stderr.contains("No such file or directory"),
        "{}",
        out.describe()
    );
}

#[test]
fn stat_sizes_modes_and_fs_type() {
    let fx = fixture();
    let (uid, gid) = (euid(), egid());
    let out = fx.ok("stat", &["-c", "%s|%a|%F|%u|%g|%o", &fx.m("data.bin")]);
    assert_eq!(
        out.stdout,
        format!("{DATA_SIZE}|644|regular file|{uid}|{gid}|{TWO_MIB}\n")
    );
    // st_blocks counts the allocated bytes that `famfs stat` reports.
    let allocated = number_after(&fx.env.ok(&["stat", &fx.m("data.bin")]), "allocated");
    let out = fx.ok("stat", &["-c", "%b %B", &fx.m("data.bin")]);
    let v: Vec<u64> = out
        .stdout
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(v[0] * v[1], allocated, "{}", out.describe());

    let out = fx.ok(
        "stat",
        &[
            "-c",
            "%n|%F|%a|%s",
            &fx.m(""),
            &fx.m("tree"),
            &fx.m("tree/notes"),
            &fx.m("tree/notes/todo.txt"),
            &fx.m("tree/bin/run.sh"),
            &fx.m("tree/empty.txt"),
        ],
    );
    let lines: Vec<Vec<&str>> = out.stdout.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(lines.len(), 6, "{}", out.describe());
    for l in &lines[..3] {
        assert_eq!(l[1], "directory", "{}", out.describe());
    }
    let (todo, run_sh) = (TODO.len().to_string(), RUN_SH.len().to_string());
    assert_eq!(&lines[3][1..], ["regular file", "600", todo.as_str()]);
    assert_eq!(&lines[4][1..], ["regular file", "755", run_sh.as_str()]);
    // An empty file is an "empty" regular file to stat.
    assert_eq!(&lines[5][1..], ["regular empty file", "644", "0"]);

    // Inodes: distinct per file and stable across processes; one st_dev.
    let args = [
        "-c".to_string(),
        "%i %d".to_string(),
        fx.m("data.bin"),
        fx.m("tree/poem.txt"),
        fx.m("tree/bin/blob.bin"),
    ];
    let a = fx.ok("stat", &args);
    let b = fx.ok("stat", &args);
    assert_eq!(a.stdout, b.stdout, "st_ino/st_dev must be stable");
    let rows: Vec<(&str, &str)> = a
        .stdout
        .lines()
        .map(|l| l.split_once(' ').unwrap())
        .collect();
    let mut inos: Vec<&str> = rows.iter().map(|r| r.0).collect();
    inos.sort();
    inos.dedup();
    assert_eq!(inos.len(), 3, "distinct inodes expected: {}", a.stdout);
    assert!(
        rows.iter().all(|r| r.1 == rows[0].1),
        "one st_dev: {}",
        a.stdout
    );

    // statfs: the famfs magic. coreutils 9.1 has no name for it and prints
    // `UNKNOWN (0x87b282fd)`; newer ones may print `famfs`.
    for p in [fx.m(""), fx.m("tree/poem.txt")] {
        let out = fx.ok("stat", &["-f", "-c", "%t|%T", &p]);
        let (magic, name) = out.stdout.trim().split_once('|').unwrap();
        assert_eq!(magic, "87b282fd", "{}", out.describe());
        assert!(
            name == "famfs" || name.contains("87b282fd"),
            "{}",
            out.describe()
        );
    }

    let out = fx.try_shim("stat", &[fx.m("tree/nope")]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    assert!(
        out.stderr.contains("No such file or directory"),
        "{}",
        out.describe()
    );
}

#[test]
fn find_lists_the_tree() {
    let fx = fixture();
    let cases: [&[&str]; 5] = [
        &[],
        &["-type", "f", "-name", "*.txt"],
        &["-type", "d"],
        &["-type", "f", "-printf", "%P|%s|%m\n"],
        &["-mindepth", "2", "-name", "*.sh"],
    ];
    for extra in cases {
        let shim = fx.ok("find", &[&[fx.m("tree").as_str()][..], extra].concat());
        let host = host_ok("find", &[&[fx.h("tree").as_str()][..], extra].concat());
        assert_eq!(
            sorted_lines(&fx.mask_m(&shim.stdout)),
            sorted_lines(&fx.mask_h(&host.stdout)),
            "find {extra:?}"
        );
    }
    let out = fx.ok("find", &[&fx.m(""), "-maxdepth", "1"]);
    assert_eq!(
        sorted_lines(&out.stdout),
        sorted_lines(&format!(
            "{}\n{}\n{}\n{}\n",
            fx.m(""),
            fx.m(".meta"),
            fx.m("data.bin"),
            fx.m("tree")
        ))
    );
    // The 8 MiB log file is the other file over 2 MiB.
    let out = fx.ok("find", &[&fx.m(""), "-size", "+2M", "-type", "f"]);
    assert_eq!(
        sorted_lines(&out.stdout),
        sorted_lines(&format!("{}\n{}\n", fx.m(".meta/.log"), fx.m("data.bin")))
    );
}

#[test]
fn du_apparent_sizes() {
    let fx = fixture();
    let out = fx.ok("du", &["-b", &fx.m("data.bin")]);
    assert_eq!(out.stdout, format!("{DATA_SIZE}\t{}\n", fx.m("data.bin")));

    // Files: as on the host. Directories: their own st_size plus what they hold.
    let out = fx.ok("du", &["-ab", &fx.m("tree")]);
    let du: BTreeMap<String, u64> = out
        .stdout
        .lines()
        .map(|l| {
            let (n, p) = l.split_once('\t').unwrap();
            (fx.mask_m(p), n.parse().unwrap())
        })
        .collect();
    let mut file_sum = 0;
    for (rel, bytes, _) in tree_files() {
        let key = format!("ROOT/tree/{rel}");
        assert_eq!(
            du.get(&key),
            Some(&(bytes.len() as u64)),
            "du -ab {key}: {du:?}"
        );
        file_sum += bytes.len() as u64;
    }
    let dirs = fx.ok("find", &[&fx.m("tree"), "-type", "d"]);
    let dirs: Vec<String> = sorted_lines(&dirs.stdout);
    assert_eq!(dirs.len(), 7, "{dirs:?}");
    let mut args = vec!["-c".to_string(), "%s".to_string()];
    args.extend(dirs.iter().cloned());
    let sizes = fx.ok("stat", &args);
    let dir_sum: u64 = sizes
        .stdout
        .lines()
        .map(|l| l.parse::<u64>().unwrap())
        .sum();
    assert_eq!(du["ROOT/tree"], file_sum + dir_sum, "{}", out.describe());
    let out = fx.ok("du", &["-sb", &fx.m("tree")]);
    assert_eq!(
        out.stdout,
        format!("{}\t{}\n", file_sum + dir_sum, fx.m("tree"))
    );
}

#[test]
fn grep_text_files() {
    let fx = fixture();
    let poem_m = fx.m("tree/poem.txt");
    let poem_h = fx.h("tree/poem.txt");
    let shim = fx.ok("grep", &["-n", "famfs", &poem_m]);
    let host = host_ok("grep", &["-n", "famfs", &poem_h]);
    assert_eq!(shim.stdout, host.stdout);
    assert_eq!(shim.stdout.lines().count(), 58);
    let out = fx.ok("grep", &["-c", "lazy dog", &poem_m]);
    assert_eq!(out.stdout, "342\n");
    let out = fx.try_shim("grep", &["-q", "zebra", &poem_m]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    for opts in [&["-rn", "famfs"][..], &["-rl", "famfs"], &["-rc", "o"]] {
        let shim = fx.ok("grep", &[opts, &[fx.m("tree").as_str()]].concat());
        let host = host_ok("grep", &[opts, &[fx.h("tree").as_str()]].concat());
        assert_eq!(
            sorted_lines(&fx.mask_m(&shim.stdout)),
            sorted_lines(&fx.mask_h(&host.stdout)),
            "grep {opts:?}"
        );
    }
}

#[test]
fn cp_from_famfs_to_the_host() {
    let fx = fixture();
    let out = fx.out_dir();
    let dst = out.join("data.bin");
    fx.ok(
        "cp",
        &[fx.m("data.bin"), dst.to_string_lossy().into_owned()],
    );
    assert_bytes_eq("cp data.bin", &fs::read(&dst).unwrap(), &fx.data, 0);
    // cp keeps the source's mode bits (as read through the shim's stat).
    fx.ok(
        "cp",
        &[fx.m("tree/bin/run.sh"), format!("{}/", out.display())],
    );
    let m = fs::metadata(out.join("run.sh")).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o755);
    // A whole tree.
    fx.ok(
        "cp",
        &[
            "-r".to_string(),
            fx.m("tree"),
            out.join("tree").to_string_lossy().into_owned(),
        ],
    );
    for (rel, bytes, _) in tree_files() {
        let got = fs::read(out.join("tree").join(rel))
            .unwrap_or_else(|e| panic!("cp -r did not copy {rel}: {e}"));
        assert_bytes_eq(&format!("cp -r tree/{rel}"), &got, &bytes, 0);
    }
}

// ---------------------------------------------------------------------------
// bash: redirections and fds across exec, cd into famfs

#[test]
fn bash_redirects_stdin_across_exec() {
    let fx = fixture();
    let out = fx.ok("bash", &["-c", &format!("cat < {}", fx.m("data.bin"))]);
    assert_bytes_eq("bash cat < data.bin", &out.stdout_bytes, &fx.data, 0);
    let out = fx.ok(
        "bash",
        &["-c", &format!("wc -c < {}", fx.m("tree/poem.txt"))],
    );
    assert_eq!(out.stdout, format!("{}\n", poem_len()));
    // bash's own `read` builtin on a famfs stdin.
    let out = fx.ok(
        "bash",
        &[
            "-c",
            &format!(
                "while read -r l; do echo \"<$l>\"; done < {}",
                fx.m("tree/notes/todo.txt")
            ),
        ],
    );
    assert_eq!(
        out.stdout,
        "<buy milk>\n<write the famfs tests>\n<ship it>\n"
    );
}

/// Programs that read their stdin through stdio (glibc's own `stdin`
/// stream, which no fopen of the shim made) from a famfs redirection.
#[test]
fn bash_stdio_reads_a_famfs_stdin() {
    let fx = fixture();
    let out = fx.ok(
        "bash",
        &["-c", &format!("sha256sum < {}", fx.m("data.bin"))],
    );
    assert_eq!(out.stdout, format!("{}  -\n", sha256_hex(&fx.data)));
    let out = fx.ok(
        "bash",
        &["-c", &format!("sort -r < {}", fx.m("tree/notes/todo.txt"))],
    );
    assert_eq!(out.stdout, "write the famfs tests\nship it\nbuy milk\n");
    let out = fx.ok(
        "bash",
        &[
            "-c",
            &format!("tr a-z A-Z < {}", fx.m("tree/notes/todo.txt")),
        ],
    );
    assert_eq!(out.stdout, TODO.to_uppercase());
}

#[test]
fn bash_fd_offset_is_shared_across_exec() {
    let fx = fixture();
    let d = &fx.data;
    let f = fx.m("data.bin");
    // head reads the first 100 bytes of fd 3; cat, in another image, goes on
    // from there.
    let out = fx.ok(
        "bash",
        &[
            "-c",
            &format!("exec 3<{f}; head -c 100 <&3; cat <&3 | wc -c"),
        ],
    );
    let mut want = d[..100].to_vec();
    want.extend_from_slice(format!("{}\n", DATA_SIZE - 100).as_bytes());
    assert_bytes_eq("head then cat on one fd", &out.stdout_bytes, &want, 0);

    let out = fx.ok(
        "bash",
        &[
            "-c",
            &format!(
                "exec 3<{f}; head -c 10 <&3 >/dev/null; head -c 5 <&3; \
                 dd bs=7 count=1 status=none <&3"
            ),
        ],
    );
    assert_bytes_eq("three readers of one fd", &out.stdout_bytes, &d[10..22], 0);

    // The parent shell sees the offset its children moved.
    let out = fx.ok(
        "bash",
        &[
            "-c",
            &format!(
                "exec 3<{}; head -c 20 <&3 >/dev/null; read -r l <&3; echo \"$l\"",
                fx.m("tree/poem.txt")
            ),
        ],
    );
    let poem = String::from_utf8(poem()).unwrap();
    let rest = poem[20..].lines().next().unwrap();
    assert_eq!(out.stdout, format!("{rest}\n"));
}

#[test]
fn bash_cd_into_a_famfs_directory() {
    let fx = fixture();
    let notes = fx.m("tree/notes");
    let out = fx.ok(
        "bash",
        &[
            "-c",
            &format!(
                "cd {notes} && cat todo.txt && pwd && /bin/pwd && ls && \
                 cat ../poem.txt | wc -c && cd ../deep/a && find . | sort"
            ),
        ],
    );
    assert_eq!(
        out.stdout,
        format!(
            "{TODO}{notes}\n{notes}\ntodo.txt\n{}\n.\n./b\n./b/c\n./b/c/leaf.txt\n",
            poem_len()
        ),
        "{}",
        out.describe()
    );
}

// ---------------------------------------------------------------------------
// Python 3

const PY_FILE_IO: &str = r#"
import hashlib, json, os, sys
p, t = sys.argv[1], sys.argv[2]
r = {}
with open(p, 'rb') as f:
    r['first16'] = f.read(16).hex()
    r['tell1'] = f.tell()
    r['seek'] = f.seek(2097150)
    r['cross'] = f.read(5).hex()
    r['tell2'] = f.tell()
    r['end'] = f.seek(-7, os.SEEK_END)
    r['last7'] = f.read().hex()
    r['eof'] = f.read(10).hex()
    r['tell3'] = f.tell()
    f.seek(0)
    r['sha'] = hashlib.sha256(f.read()).hexdigest()
with open(p, 'rb', buffering=0) as f:
    f.seek(1000)
    b = bytearray(64)
    n = f.readinto(b)
    r['raw'] = [n, bytes(b).hex(), f.tell(), f.seek(10, os.SEEK_CUR)]
with open(t, 'r', encoding='utf-8') as f:
    lines = f.readlines()
    r['lines'] = len(lines)
    r['line7'] = lines[7]
    f.seek(0)
    r['first_line'] = f.readline()
    r['tell_text'] = f.tell()
fd = os.open(p, os.O_RDONLY)
r['pread_tail'] = os.pread(fd, 8, os.fstat(fd).st_size - 4).hex()
r['pread_past'] = os.pread(fd, 8, 10**9).hex()
r['fd_pos'] = os.lseek(fd, 0, os.SEEK_CUR)
os.close(fd)
print(json.dumps(r, sort_keys=True))
"#;

#[test]
fn python_open_read_seek_tell() {
    let fx = fixture();
    let shim = py_shim(
        &fx,
        PY_FILE_IO,
        &[&fx.m("data.bin"), &fx.m("tree/poem.txt")],
    );
    let host = py_host(PY_FILE_IO, &[&fx.h("data.bin"), &fx.h("tree/poem.txt")]);
    assert_eq!(json_of(&shim), json_of(&host));
    let v = json_of(&shim);
    let d = &fx.data;
    assert_eq!(v["sha"], sha256_hex(d));
    assert_eq!(v["cross"], hex(&d[2_097_150..2_097_155]));
    assert_eq!(v["tell2"], 2_097_155);
    assert_eq!(v["end"], DATA_SIZE - 7);
    assert_eq!(v["last7"], hex(&d[DATA_SIZE - 7..]));
    assert_eq!(v["raw"][1], hex(&d[1000..1064]));
    assert_eq!(v["pread_tail"], hex(&d[DATA_SIZE - 4..]));
    assert_eq!(v["lines"], 400);
}

const PY_STAT: &str = r#"
import json, os, stat, sys
m = sys.argv[1]
s = os.stat(m + '/data.bin')
r = dict(size=s.st_size, isreg=stat.S_ISREG(s.st_mode), perm=oct(stat.S_IMODE(s.st_mode)),
         blksize=s.st_blksize, blocks=s.st_blocks, uid=s.st_uid, gid=s.st_gid)
r['dir'] = stat.S_ISDIR(os.stat(m + '/tree/notes').st_mode)
r['root_dir'] = stat.S_ISDIR(os.stat(m).st_mode)
r['todo_perm'] = oct(stat.S_IMODE(os.stat(m + '/tree/notes/todo.txt').st_mode))
r['exists'] = [os.path.exists(m + '/tree/poem.txt'), os.path.isfile(m + '/tree/poem.txt'),
               os.path.isdir(m + '/tree'), os.path.exists(m + '/tree/nope'),
               os.path.getsize(m + '/tree/poem.txt')]
try:
    os.stat(m + '/tree/nope')
    r['missing'] = 'found'
except FileNotFoundError:
    r['missing'] = 'ENOENT'
fd = os.open(m + '/data.bin', os.O_RDONLY)
f = os.fstat(fd)
r['fstat_same'] = [f.st_ino == s.st_ino, f.st_dev == s.st_dev, f.st_size == s.st_size]
os.close(fd)
r['lstat_size'] = os.lstat(m + '/tree/poem.txt').st_size
r['access'] = [os.access(m + '/data.bin', os.R_OK), os.access(m + '/tree/nope', os.F_OK)]
print(json.dumps(r))
"#;

#[test]
fn python_os_stat() {
    let fx = fixture();
    let v = json_of(&py_shim(&fx, PY_STAT, &[&fx.m("")]));
    let allocated = number_after(&fx.env.ok(&["stat", &fx.m("data.bin")]), "allocated");
    assert_eq!(v["size"], DATA_SIZE, "{v}");
    assert_eq!(v["isreg"], true, "{v}");
    assert_eq!(v["perm"], "0o644", "{v}");
    assert_eq!(v["blksize"], TWO_MIB, "{v}");
    assert_eq!(v["blocks"].as_u64().unwrap() * 512, allocated, "{v}");
    assert_eq!(v["uid"], euid(), "{v}");
    assert_eq!(v["gid"], egid(), "{v}");
    assert_eq!(v["dir"], true, "{v}");
    assert_eq!(v["root_dir"], true, "{v}");
    assert_eq!(v["todo_perm"], "0o600", "{v}");
    assert_eq!(
        v["exists"],
        serde_json::json!([true, true, true, false, poem_len()])
    );
    assert_eq!(v["missing"], "ENOENT", "{v}");
    assert_eq!(v["fstat_same"], serde_json::json!([true, true, true]));
    assert_eq!(v["lstat_size"], poem_len(), "{v}");
    assert_eq!(v["access"], serde_json::json!([true, false]));
}

const PY_DIRS: &str = r#"
import json, os, sys
root = sys.argv[1]
r = {}
r['listdir'] = sorted(os.listdir(root))
r['listdir_notes'] = os.listdir(root + '/notes')
r['scandir'] = sorted([e.name, e.is_dir(), e.is_file(), e.is_symlink(),
                       e.stat().st_size if e.is_file() else None,
                       os.path.relpath(e.path, root)] for e in os.scandir(root))
with os.scandir(root + '/bin') as it:
    r['scandir_bin'] = sorted([e.name, e.stat().st_mode & 0o7777] for e in it)
walk = []
for d, ds, fs in os.walk(root):
    ds.sort()
    walk.append([os.path.relpath(d, root), list(ds), sorted(fs)])
r['walk'] = walk
r['walk_bottom_up'] = sorted(os.path.relpath(d, root) for d, _, _ in os.walk(root, topdown=False))
print(json.dumps(r, sort_keys=True))
"#;

#[test]
fn python_listdir_scandir_walk() {
    let fx = fixture();
    let shim = json_of(&py_shim(&fx, PY_DIRS, &[&fx.m("tree")]));
    let host = json_of(&py_host(PY_DIRS, &[&fx.h("tree")]));
    assert_eq!(shim, host);
    assert_eq!(
        shim["listdir"],
        serde_json::json!(["bin", "deep", "empty.txt", "notes", "poem.txt"])
    );
    assert_eq!(shim["walk"].as_array().unwrap().len(), 7);
}

const PY_FWALK: &str = r#"
import json, os, sys
root = sys.argv[1]
out = []
for d, ds, fs, dfd in os.fwalk(root):
    ds.sort()
    fs = sorted(fs)
    sizes = [os.stat(f, dir_fd=dfd).st_size for f in fs]
    heads = []
    for f in fs:
        fd = os.open(f, os.O_RDONLY, dir_fd=dfd)
        heads.append(os.read(fd, 8).hex())
        os.close(fd)
    out.append([os.path.relpath(d, root), list(ds), fs, sizes, heads])
print(json.dumps(out))
"#;

/// `os.fwalk` opens every directory and resolves names relative to its fd.
#[test]
fn python_fwalk_with_dir_fds() {
    let fx = fixture();
    let shim = json_of(&py_shim(&fx, PY_FWALK, &[&fx.m("tree")]));
    let host = json_of(&py_host(PY_FWALK, &[&fx.h("tree")]));
    assert_eq!(shim, host);
}

const PY_MMAP: &str = r#"
import hashlib, json, mmap, os, sys
p = sys.argv[1]
fd = os.open(p, os.O_RDONLY)
size = os.fstat(fd).st_size
data = os.pread(fd, size, 0)
r = {}
m = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
r['len'] = len(m)
r['sha'] = hashlib.sha256(m[:]).hexdigest()
r['equal_read'] = m[:] == data
r['slice'] = m[2097100:2097200].hex()
r['find'] = m.find(data[2500000:2500016])
m.close()
m2 = mmap.mmap(fd, 3 * 4096, offset=2097152, access=mmap.ACCESS_READ)
r['off'] = hashlib.sha256(m2[:]).hexdigest()
m2.close()
try:
    mmap.mmap(fd, 4096, offset=1000, access=mmap.ACCESS_READ)
    r['unaligned'] = 'mapped'
except (OSError, ValueError) as e:
    r['unaligned'] = type(e).__name__
os.close(fd)
print(json.dumps(r))
"#;

#[test]
fn python_mmap_equals_read() {
    let fx = fixture();
    let v = json_of(&py_shim(&fx, PY_MMAP, &[&fx.m("data.bin")]));
    let d = &fx.data;
    assert_eq!(v["len"], DATA_SIZE, "{v}");
    assert_eq!(v["sha"], sha256_hex(d), "{v}");
    assert_eq!(v["equal_read"], true, "{v}");
    assert_eq!(v["slice"], hex(&d[2_097_100..2_097_200]), "{v}");
    assert_eq!(v["find"], 2_500_000, "{v}");
    assert_eq!(v["off"], sha256_hex(&d[TWO_MIB..TWO_MIB + 3 * 4096]), "{v}");
    // Python rejects an unaligned offset itself (ValueError) or the kernel/shim does (EINVAL).
    assert_ne!(v["unaligned"], "mapped", "{v}");
    // The same script on the host copy gives the same answers.
    let host = json_of(&py_host(PY_MMAP, &[&fx.h("data.bin")]));
    assert_eq!(v, host);
}

const PY_MMAP_PRIVATE: &str = r#"
import json, mmap, os, sys
p = sys.argv[1]
fd = os.open(p, os.O_RDONLY)
r = {}
# MAP_PRIVATE with PROT_WRITE on a read-only fd: copy-on-write, as the kernel allows.
m = mmap.mmap(fd, 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
m[0:4] = b'XXXX'
m[2097152:2097156] = b'YYYY'
r['cow'] = [m[:8].hex(), m[2097152:2097160].hex()]
r['file_after'] = [os.pread(fd, 8, 0).hex(), os.pread(fd, 8, 2097152).hex()]
m.close()
# The same through ACCESS_COPY (what numpy.memmap mode='c' uses).
c = mmap.mmap(fd, 0, access=mmap.ACCESS_COPY)
c[10:12] = b'ZZ'
r['copy'] = c[8:16].hex()
c.close()
r['file_after_copy'] = os.pread(fd, 8, 8).hex()
os.close(fd)
print(json.dumps(r))
"#;

/// MAP_PRIVATE + PROT_WRITE of a read-only famfs fd: "MAP_PRIVATE
/// gives copy-on-write of the same bytes"; the kernel allows it on O_RDONLY.
#[test]
fn python_mmap_private_is_copy_on_write() {
    let fx = fixture();
    let d = &fx.data;
    let shim = json_of(&py_shim(&fx, PY_MMAP_PRIVATE, &[&fx.m("data.bin")]));
    let host = json_of(&py_host(PY_MMAP_PRIVATE, &[&fx.h("data.bin")]));
    assert_eq!(shim, host);
    assert_eq!(
        shim["cow"],
        serde_json::json!([
            format!("58585858{}", hex(&d[4..8])),
            format!("59595959{}", hex(&d[TWO_MIB + 4..TWO_MIB + 8]))
        ])
    );
    assert_eq!(
        shim["file_after"],
        serde_json::json!([hex(&d[..8]), hex(&d[TWO_MIB..TWO_MIB + 8])]),
        "MAP_PRIVATE writes must not reach the file"
    );
    assert_eq!(shim["file_after_copy"], hex(&d[8..16]));
}

const PY_SUBPROCESS: &str = r#"
import hashlib, json, os, subprocess, sys
p = sys.argv[1]
r = {}
fd = os.open(p, os.O_RDONLY)
os.lseek(fd, 123, os.SEEK_SET)
child = ("import os, sys; fd = int(sys.argv[1]); print(os.read(fd, 100).hex()); "
         "print(os.lseek(fd, 0, os.SEEK_CUR)); print(os.fstat(fd).st_size)")
out = subprocess.run([sys.executable, '-c', child, str(fd)], pass_fds=[fd],
                     capture_output=True, text=True, check=True).stdout.split()
r['child'] = out
r['parent_pos'] = os.lseek(fd, 0, os.SEEK_CUR)
# Not passed: the child must not see it (close-on-exec by default in Python).
fd2 = os.open(p, os.O_RDONLY)
probe = "import os, sys\ntry:\n    print(os.pread(int(sys.argv[1]), 16, 0).hex())\nexcept OSError:\n    print('closed')"
r['not_passed'] = subprocess.run([sys.executable, '-c', probe, str(fd2)],
                                 capture_output=True, text=True, check=True).stdout.strip()
os.close(fd2)
# A famfs file as the stdin of a non-Python program.
with open(p, 'rb', buffering=0) as f:
    f.seek(1000)
    r['head'] = subprocess.run(['head', '-c', '50'], stdin=f, capture_output=True,
                               check=True).stdout.hex()
    r['pos_after_head'] = f.tell()
with open(p, 'rb') as f:
    r['cat'] = hashlib.sha256(subprocess.run(['cat'], stdin=f, capture_output=True,
                                             check=True).stdout).hexdigest()
os.close(fd)
print(json.dumps(r))
"#;

#[test]
fn python_subprocess_inherits_a_famfs_fd() {
    let fx = fixture();
    let v = json_of(&py_shim(&fx, PY_SUBPROCESS, &[&fx.m("data.bin")]));
    let d = &fx.data;
    assert_eq!(
        v["child"],
        serde_json::json!([hex(&d[123..223]), "223", DATA_SIZE.to_string()]),
        "{v}"
    );
    assert_eq!(
        v["parent_pos"], 223,
        "the child moved the shared offset: {v}"
    );
    // An fd not passed is closed at exec; the number may name some other
    // file in the child, but never the famfs file.
    assert_ne!(v["not_passed"], hex(&d[..16]), "{v}");
    assert_eq!(v["head"], hex(&d[1000..1050]), "{v}");
    assert_eq!(v["pos_after_head"], 1050, "{v}");
    assert_eq!(v["cat"], sha256_hex(d), "{v}");
}

/// Number of float64 values in `vals.f64` (3.2 MB: two allocation units).
const NVALS: usize = 400_000;

const PY_NUMPY: &str = r#"
import json, sys
import numpy as np
p = sys.argv[1]
a = np.fromfile(p, dtype='<f8')
m = np.memmap(p, dtype='<f8', mode='r')
o = np.memmap(p, dtype='<f8', mode='r', offset=8 * 300000, shape=(4,))
t = np.fromfile(p, dtype='<f8', count=3, offset=8 * (a.size - 3))
print(json.dumps({
    'n': int(a.size), 'sum': float(a.sum()), 'a12345': float(a[12345]),
    'mn': int(m.size), 'msum': float(m.sum()), 'equal': bool((a == m).all()),
    'off': o.tolist(), 'tail': t.tolist(),
}))
"#;

/// Checks numpy can be imported (a hard requirement, never a reason to
/// skip), then copies `vals.f64` ([`NVALS`] float64 values `i * 0.5`) in.
fn numpy_fixture(fx: &Fx) {
    let probe = run({
        let mut c = Command::new(python());
        c.args(["-c", "import numpy; print(numpy.__version__)"]);
        c
    });
    assert!(
        probe.success(),
        "numpy is not importable by {}: install it with `python3 -m pip install numpy`\n{}",
        python(),
        probe.describe()
    );
    let vals: Vec<u8> = (0..NVALS)
        .flat_map(|i| (i as f64 * 0.5).to_le_bytes())
        .collect();
    let src = fx.out_dir().join("vals.f64");
    fs::write(&src, &vals).unwrap();
    fx.env.ok(&["cp", src.to_str().unwrap(), &fx.m("vals.f64")]);
}

#[test]
fn python_numpy_fromfile_and_memmap() {
    let fx = fixture();
    numpy_fixture(&fx);
    let v = json_of(&py_shim(&fx, PY_NUMPY, &[&fx.m("vals.f64")]));
    let n = NVALS as f64;
    let sum = 0.5 * n * (n - 1.0) / 2.0;
    assert_eq!(v["n"], NVALS, "{v}");
    assert_eq!(v["sum"].as_f64(), Some(sum), "{v}");
    assert_eq!(v["a12345"].as_f64(), Some(6172.5), "{v}");
    assert_eq!(v["mn"], NVALS, "{v}");
    assert_eq!(v["msum"].as_f64(), Some(sum), "{v}");
    assert_eq!(v["equal"], true, "{v}");
    assert_eq!(
        v["off"],
        serde_json::json!([150000.0, 150000.5, 150001.0, 150001.5]),
        "{v}"
    );
    assert_eq!(
        v["tail"],
        serde_json::json!([n * 0.5 - 1.5, n * 0.5 - 1.0, n * 0.5 - 0.5]),
        "{v}"
    );
}

const PY_NUMPY_COW: &str = r#"
import json, sys
import numpy as np
p = sys.argv[1]
c = np.memmap(p, dtype='<f8', mode='c')
c[0] = -1.0
c[300000] = -2.0
print(json.dumps({
    'c': [float(c[0]), float(c[1]), float(c[300000])],
    'file': np.fromfile(p, dtype='<f8', count=1, offset=8 * 300000).tolist()
            + np.fromfile(p, dtype='<f8', count=1).tolist(),
}))
"#;

/// numpy.memmap mode='c': a private, copy-on-write mapping of a read-only fd.
#[test]
fn python_numpy_memmap_copy_on_write() {
    let fx = fixture();
    numpy_fixture(&fx);
    let v = json_of(&py_shim(&fx, PY_NUMPY_COW, &[&fx.m("vals.f64")]));
    assert_eq!(v["c"], serde_json::json!([-1.0, 0.5, -2.0]), "{v}");
    assert_eq!(v["file"], serde_json::json!([150000.0, 0.0]), "{v}");
}

// ---------------------------------------------------------------------------
// sqlite3

const SQL_BUILD: &str = "create table t(id integer primary key, name text, v real); \
    with recursive c(i) as (select 1 union all select i + 1 from c where i < 60000) \
    insert into t select i, printf('name-%05d', i), i * 0.25 from c; \
    create index t_name on t(name);";

const SQL_QUERY: &str = "select count(*), sum(v), min(name), max(name) from t; \
    select name, v from t where id = 54321; \
    select count(*) from t where name like 'name-1%'; \
    select id from t where name = 'name-02024'; \
    pragma integrity_check;";

/// Builds the database on the host and copies it in; returns the host path.
fn sqlite_fixture(fx: &Fx) -> String {
    require_tool("sqlite3", &["--version"], "apt-get install -y sqlite3");
    let db = fx.out_dir().join("db.sqlite");
    let db = db.to_str().unwrap().to_string();
    host_ok("sqlite3", &[db.as_str(), SQL_BUILD]);
    assert!(fs::metadata(&db).unwrap().len() > TWO_MIB as u64);
    fx.env.ok(&["cp", &db, &fx.m("db.sqlite")]);
    db
}

#[test]
fn sqlite3_queries_a_database_in_famfs() {
    let fx = fixture();
    let db = sqlite_fixture(&fx);
    let host = host_ok(
        "sqlite3",
        &[format!("file:{db}?immutable=1").as_str(), SQL_QUERY],
    );
    assert_eq!(
        host.stdout,
        "60000|450007500.0|name-00001|name-60000\nname-54321|13580.25\n10000\n2024\nok\n"
    );
    let uri = format!("file:{}?immutable=1", fx.m("db.sqlite"));
    let out = fx.ok("sqlite3", &[uri.as_str(), SQL_QUERY]);
    assert_eq!(out.stdout, host.stdout, "{}", out.describe());
    // The same through sqlite's mmap I/O.
    let args = [
        "-cmd",
        "pragma mmap_size=268435456",
        uri.as_str(),
        SQL_QUERY,
    ];
    let out = fx.ok("sqlite3", &args);
    let host = host_ok(
        "sqlite3",
        &[
            "-cmd",
            "pragma mmap_size=268435456",
            &format!("file:{db}?immutable=1"),
            SQL_QUERY,
        ],
    );
    assert_eq!(out.stdout, host.stdout, "{}", out.describe());
    // Read-only mode without the URI.
    let out = fx.ok(
        "sqlite3",
        &["-readonly", &fx.m("db.sqlite"), "select count(*) from t"],
    );
    assert_eq!(out.stdout, "60000\n", "{}", out.describe());
}

// ---------------------------------------------------------------------------
// Leak test: strace

/// One system call from an `strace -f -y` log (unfinished/resumed halves
/// joined).
#[derive(Debug, Clone)]
struct Call {
    pid: u32,
    name: String,
    args: Vec<String>,
    ret: String,
    text: String,
}

impl Call {
    /// The return value as a number (`3</path>` gives 3), if it is one.
    fn ret_num(&self) -> Option<i64> {
        leading_int(&self.ret)
    }

    fn arg(&self, i: usize) -> &str {
        self.args.get(i).map_or("", String::as_str)
    }
}

/// The integer an argument starts with (`3</etc/x>` -> 3, `-1` -> -1).
fn leading_int(s: &str) -> Option<i64> {
    let s = s.trim();
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
        .map_or(s.len(), |(i, _)| i);
    s[..end].parse().ok()
}

/// Removes strace -y annotations (`3</path>` -> `3`).
fn strip_annotations(s: &str) -> String {
    let mut out = String::new();
    let mut in_ann = false;
    let mut prev = ' ';
    for c in s.chars() {
        if in_ann {
            if c == '>' {
                in_ann = false;
            }
        } else if c == '<' && (prev.is_ascii_alphanumeric() || prev == '_') {
            in_ann = true;
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

/// Splits an argument list at its top-level commas.
fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut depth, mut in_str, mut esc, mut in_ann) = (0i32, false, false, false);
    let mut prev = ' ';
    for c in s.chars() {
        if in_str {
            cur.push(c);
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if in_ann {
            cur.push(c);
            in_ann = c != '>';
        } else {
            match c {
                '"' => in_str = true,
                '<' if prev.is_ascii_alphanumeric() || prev == '_' => in_ann = true,
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(cur.trim().to_string());
                    cur.clear();
                    prev = c;
                    continue;
                }
                _ => {}
            }
            cur.push(c);
        }
        prev = c;
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

fn parse_call(pid: u32, text: String) -> Option<Call> {
    let open = text.find('(')?;
    let name = text[..open].to_string();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    // `) = RET`, where strace may pad the `=` with spaces to align it.
    let end = text
        .rmatch_indices(" = ")
        .map(|(i, _)| i)
        .find(|&i| i > open && text[..i].trim_end().ends_with(')'));
    let (args, ret) = match end {
        Some(e) => {
            let args = text[open + 1..e].trim_end();
            (&args[..args.len() - 1], text[e + 3..].trim().to_string())
        }
        None => (text[open + 1..].trim_end_matches(')'), "?".to_string()),
    };
    Some(Call {
        pid,
        name,
        args: split_args(args),
        ret,
        text: text.clone(),
    })
}

/// Parses an `strace -f` log into calls ordered by the line where each call
/// started (so a clone comes before its child's first call).
fn parse_strace(log: &str) -> Vec<Call> {
    let mut pending: HashMap<u32, (usize, String)> = HashMap::new();
    let mut calls: Vec<(usize, u32, String)> = Vec::new();
    for (i, line) in log.lines().enumerate() {
        let Some((pid, rest)) = line.trim_end().split_once(char::is_whitespace) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let rest = rest.trim_start();
        if rest.starts_with("+++") || rest.starts_with("---") {
            continue;
        }
        if let Some(r) = rest.strip_prefix("<... ") {
            let tail = r.split_once(" resumed>").map_or("", |(_, t)| t);
            if let Some((start, head)) = pending.remove(&pid) {
                calls.push((start, pid, format!("{head}{tail}")));
            }
            continue;
        }
        if let Some(head) = rest.strip_suffix("<unfinished ...>") {
            pending.insert(pid, (i, head.trim_end().to_string()));
            continue;
        }
        calls.push((i, pid, rest.to_string()));
    }
    for (pid, (start, head)) in pending {
        calls.push((start, pid, format!("{head}) = ?")));
    }
    calls.sort_by_key(|c| c.0);
    calls
        .into_iter()
        .filter_map(|(_, pid, text)| parse_call(pid, text))
        .collect()
}

/// Where an fd came from, as far as the log shows.
#[derive(Debug, Clone)]
enum Origin {
    /// Made by the kernel for a real object (file, pipe, socket, ...).
    Kernel,
    /// A memfd (or a read-write reopen of one through `/proc/self/fd`) that
    /// nothing duplicated: the shim's shared state pages. It may be sized,
    /// mapped and stat'ed, not read, written or seeked.
    Internal(String),
    /// What the application may hold as a famfs fd: a duplicate of a memfd,
    /// an `O_PATH` reopen of one, a duplicate of either, or an fd the log
    /// never showed being made. The kernel must never use it.
    Placeholder(String),
}

/// Syscalls that return a new fd for a real kernel object (open and openat
/// are classified by their path: see [`open_origin`]).
const KERNEL_FD_MAKERS: &[&str] = &[
    "open_by_handle_at",
    "open_tree",
    "socket",
    "accept",
    "accept4",
    "eventfd",
    "eventfd2",
    "epoll_create",
    "epoll_create1",
    "timerfd_create",
    "signalfd",
    "signalfd4",
    "inotify_init",
    "inotify_init1",
    "fanotify_init",
    "pidfd_open",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
];

/// How a syscall uses an fd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Reads, writes, seeks or lists through it.
    Data,
    /// Stats it (fstat, fstatfs, newfstatat/statx with an empty path).
    Stat,
    /// Sizes or maps it (ftruncate, fallocate, mmap).
    Map,
    /// Resolves a relative path against it.
    Dirfd,
}

/// Syscalls whose first argument is an fd used as `Use`.
fn fd0_use(name: &str) -> Option<Use> {
    match name {
        "read" | "pread64" | "readv" | "preadv" | "preadv2" | "write" | "pwrite64" | "writev"
        | "pwritev" | "pwritev2" | "lseek" | "_llseek" | "getdents" | "getdents64"
        | "readahead" | "fchdir" => Some(Use::Data),
        "fstat" | "fstat64" | "fstatfs" | "fstatfs64" => Some(Use::Stat),
        "ftruncate" | "fallocate" => Some(Use::Map),
        _ => None,
    }
}

/// Syscalls that resolve a path relative to a dirfd: (dirfd index, path index).
fn dirfd_args(name: &str) -> &'static [(usize, usize)] {
    match name {
        "openat" | "openat2" | "newfstatat" | "fstatat64" | "statx" | "faccessat"
        | "faccessat2" | "readlinkat" | "mkdirat" | "mknodat" | "unlinkat" | "fchmodat"
        | "fchownat" | "futimesat" | "utimensat" | "name_to_handle_at" | "execveat" => &[(0, 1)],
        "renameat" | "renameat2" | "linkat" => &[(0, 1), (2, 3)],
        "symlinkat" => &[(1, 2)],
        _ => &[],
    }
}

/// Syscalls whose string arguments are data, not paths.
const DATA_BUFFER_CALLS: &[&str] = &[
    "read", "pread64", "readv", "preadv", "preadv2", "write", "pwrite64", "writev", "pwritev",
    "pwritev2", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
];

/// Whether `arg`, a quoted strace string, is `mnt` or a path under it. (The
/// virtual ancestors of a mount point, say `/famfs-test-X` of
/// `/famfs-test-X/mnt`, are not famfs paths: programs that lstat every
/// component of a path, as sqlite and bash's `cd` do, may ask the kernel.)
fn names_famfs_path(arg: &str, mnt: &str) -> bool {
    arg.strip_prefix('"')
        .and_then(|a| a.strip_prefix(mnt))
        .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('"'))
}

/// The fd a `/proc/self/fd/N`-style path (quoted, as strace prints it) names.
fn proc_fd_target(path: &str, pid: u32) -> Option<i64> {
    let p = path.strip_prefix('"')?.strip_suffix('"')?;
    let own = format!("/proc/{pid}/fd/");
    [
        "/proc/self/fd/",
        "/proc/thread-self/fd/",
        "/dev/fd/",
        own.as_str(),
    ]
    .iter()
    .find_map(|pre| p.strip_prefix(pre))
    .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    .and_then(|n| n.parse().ok())
}

/// The origin of an fd an open/openat/creat call returned: a reopen through
/// `/proc/self/fd/N` of a non-kernel fd is the shim's (see [`Origin`]),
/// everything else is a kernel object.
fn open_origin(c: &Call, table: &HashMap<i64, Origin>) -> Origin {
    let (path, flags) = match c.name.as_str() {
        "openat" | "openat2" => (c.arg(1), c.arg(2)),
        _ => (c.arg(0), c.arg(1)),
    };
    let Some(n) = proc_fd_target(path, c.pid) else {
        return Origin::Kernel;
    };
    match table.get(&n) {
        Some(Origin::Kernel) => Origin::Kernel,
        _ if flags.contains("O_PATH") => Origin::Placeholder(format!("is `{}`", c.text)),
        _ => Origin::Internal(format!("is `{}`", c.text)),
    }
}

/// Checks an `strace -f -y` log of programs run under the shim: returns one
/// message per violation (see the module documentation for the rules).
/// `mnt` is the virtual mount point.
fn leak_violations(log: &str, mnt: &str) -> Vec<String> {
    let calls = parse_strace(log);
    let mut tables: Vec<HashMap<i64, Origin>> = Vec::new();
    let mut table_of: HashMap<u32, usize> = HashMap::new();
    let mut exe: HashMap<u32, String> = HashMap::new();
    // Inherited fds this image looked up by their /proc/self/fd link and has
    // not stat'ed yet: the shim's adoption of fds inherited across exec.
    let mut adopting: HashMap<u32, HashSet<i64>> = HashMap::new();
    let mut bad = Vec::new();
    if let Some(first) = calls.first() {
        tables.push((0..3).map(|fd| (fd, Origin::Kernel)).collect());
        table_of.insert(first.pid, 0);
    }
    for c in &calls {
        let t = *table_of.entry(c.pid).or_insert_with(|| {
            tables.push(HashMap::new());
            tables.len() - 1
        });
        let who = format!("{}[{}]", exe.get(&c.pid).map_or("?", String::as_str), c.pid);
        // 1. Paths under the mount point: any string argument but the data
        //    of read/write-type calls and execve's argv.
        let path_args: &[String] = if DATA_BUFFER_CALLS.contains(&c.name.as_str()) {
            &[]
        } else if c.name == "execve" {
            &c.args[..c.args.len().min(1)]
        } else if c.name == "execveat" {
            &c.args[..c.args.len().min(2)]
        } else {
            &c.args
        };
        if path_args.iter().any(|a| names_famfs_path(a, mnt)) {
            bad.push(format!(
                "{who}: a famfs path reached the kernel: {}",
                c.text
            ));
        }
        // 2. Fds the kernel would use as files.
        let fd_at = |i: usize| -> Option<i64> { leading_int(c.arg(i)) };
        let mut used: Vec<(i64, Use)> = Vec::new();
        if let Some(u) = fd0_use(&c.name) {
            used.extend(fd_at(0).map(|fd| (fd, u)));
        }
        match c.name.as_str() {
            "mmap" | "mmap2" => {
                used.extend(fd_at(4).filter(|&fd| fd >= 0).map(|fd| (fd, Use::Map)))
            }
            "copy_file_range" | "splice" => used.extend(
                [fd_at(0), fd_at(2)]
                    .into_iter()
                    .flatten()
                    .map(|fd| (fd, Use::Data)),
            ),
            "sendfile" | "sendfile64" | "tee" => used.extend(
                [fd_at(0), fd_at(1)]
                    .into_iter()
                    .flatten()
                    .map(|fd| (fd, Use::Data)),
            ),
            _ => {}
        }
        for &(di, pi) in dirfd_args(&c.name) {
            let path = c.arg(pi);
            if path == "\"\"" {
                used.extend(fd_at(di).map(|fd| (fd, Use::Stat)));
            } else if path == "NULL" || (path.starts_with('"') && !path.starts_with("\"/")) {
                used.extend(fd_at(di).map(|fd| (fd, Use::Dirfd)));
            }
        }
        for (fd, u) in used {
            let verdict = match tables[t].get(&fd) {
                Some(Origin::Kernel) => None,
                Some(Origin::Internal(_)) if matches!(u, Use::Stat | Use::Map) => None,
                Some(Origin::Internal(how)) => Some(format!("the shim's own memfd, which {how}")),
                Some(Origin::Placeholder(_))
                    if u == Use::Stat
                        && adopting.get_mut(&c.pid).is_some_and(|s| s.remove(&fd)) =>
                {
                    None
                }
                Some(Origin::Placeholder(how)) => Some(format!("a placeholder, which {how}")),
                None => Some("an fd this process never opened".to_string()),
            };
            if let Some(what) = verdict {
                bad.push(format!("{who}: {} on fd {fd}, {what}: {}", c.name, c.text));
            }
        }
        // 3. Follow the fd table.
        let ret = c.ret_num();
        let ok = ret.is_some_and(|r| r >= 0);
        let dup_of = |tables: &Vec<HashMap<i64, Origin>>, fd: Option<i64>| -> Origin {
            match fd.and_then(|fd| tables[t].get(&fd)) {
                Some(Origin::Kernel) => Origin::Kernel,
                _ => Origin::Placeholder(format!("is `{}`", c.text)),
            }
        };
        match c.name.as_str() {
            "open" | "openat" | "openat2" | "creat" if ok => {
                let o = open_origin(c, &tables[t]);
                tables[t].insert(ret.unwrap(), o);
            }
            n if ok && KERNEL_FD_MAKERS.contains(&n) => {
                tables[t].insert(ret.unwrap(), Origin::Kernel);
            }
            "pipe" | "pipe2" | "socketpair" if ok => {
                let arr = if c.name == "socketpair" {
                    c.arg(3)
                } else {
                    c.arg(0)
                };
                for fd in strip_annotations(arr)
                    .trim_matches(|ch| ch == '[' || ch == ']')
                    .split(',')
                    .filter_map(leading_int)
                {
                    tables[t].insert(fd, Origin::Kernel);
                }
            }
            "memfd_create" | "memfd_secret" if ok => {
                let o = Origin::Internal(format!("is `{}`", c.text));
                tables[t].insert(ret.unwrap(), o);
            }
            "dup" | "dup2" | "dup3" | "pidfd_getfd" if ok => {
                let o = dup_of(&tables, fd_at(if c.name == "pidfd_getfd" { 1 } else { 0 }));
                tables[t].insert(ret.unwrap(), o);
            }
            "fcntl" | "fcntl64" if ok && c.arg(1).starts_with("F_DUPFD") => {
                let o = dup_of(&tables, fd_at(0));
                tables[t].insert(ret.unwrap(), o);
            }
            "close" if ret == Some(0) => {
                if let Some(fd) = fd_at(0) {
                    tables[t].remove(&fd);
                }
            }
            "close_range" if ret == Some(0) && !c.arg(2).contains("CLOEXEC") => {
                if let (Some(lo), Some(hi)) = (fd_at(0), leading_int(c.arg(1))) {
                    tables[t].retain(|&fd, _| fd < lo || fd > hi);
                }
            }
            "readlink" | "readlinkat" if ok => {
                let path = c.arg(if c.name == "readlink" { 0 } else { 1 });
                let target = c.arg(if c.name == "readlink" { 1 } else { 2 });
                if let (Some(n), true) = (proc_fd_target(path, c.pid), target.contains("memfd:")) {
                    adopting.entry(c.pid).or_default().insert(n);
                }
            }
            "clone" | "clone3" | "fork" | "vfork" if ok => {
                let child = ret.unwrap() as u32;
                if c.text.contains("CLONE_FILES") {
                    table_of.insert(child, t);
                } else {
                    let copy = tables[t].clone();
                    tables.push(copy);
                    table_of.insert(child, tables.len() - 1);
                }
                if let Some(e) = exe.get(&c.pid).cloned() {
                    exe.insert(child, e);
                }
            }
            "execve" | "execveat" if ret == Some(0) => {
                let path = c.arg(if c.name == "execve" { 0 } else { 1 });
                let base = path.trim_matches('"').rsplit('/').next().unwrap_or("");
                exe.insert(c.pid, base.to_string());
                adopting.remove(&c.pid);
            }
            _ => {}
        }
    }
    bad
}

/// `prog args` traced by strace into `log`; only `prog` runs under the shim.
fn strace_shim(fx: &Fx, log: &Path, prog: &str, args: &[&str]) -> Command {
    require_tool("strace", &["-V"], "apt-get install -y strace");
    let mut cmd = fx.shim("strace", &[] as &[&str]);
    // strace itself must not run under the shim: -E gives the tracee (and
    // whatever it executes) LD_PRELOAD, strace keeps a clean environment.
    cmd.env_remove("LD_PRELOAD");
    cmd.args([
        "-f",
        "-y",
        "-e",
        "trace=%file,%desc,%process,%network",
        "-o",
    ])
    .arg(log)
    .arg("-E")
    .arg(format!("LD_PRELOAD={}", preload_lib().display()))
    .arg(prog)
    .args(args);
    cmd
}

/// Runs `prog args` under strace and the shim; checks the log for leaks,
/// then asserts success and runs `check` on the output.
#[track_caller]
fn traced(fx: &Fx, name: &str, prog: &str, args: &[&str], check: impl FnOnce(&Out)) {
    let log = fx.env.dir().join(format!("strace-{name}.log"));
    let out = run(strace_shim(fx, &log, prog, args));
    let text = fs::read_to_string(&log).expect("strace log");
    assert!(
        text.lines().count() > 20 && text.contains("execve("),
        "strace log of {name} looks empty:\n{text}"
    );
    assert!(
        !Path::new(&fx.r.mnt).exists(),
        "{} must not exist in the kernel",
        fx.r.mnt
    );
    let bad = leak_violations(&text, &fx.r.mnt);
    assert!(
        bad.is_empty(),
        "{name}: {} leak(s) to the kernel (log {}):\n{}",
        bad.len(),
        log.display(),
        bad.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(out.success(), "traced {name}: {}", out.describe());
    check(&out);
}

#[test]
fn leak_checker_catches_what_it_should() {
    let mnt = "/famfs-test-0123/mnt";
    // What real programs and the shim's own bookkeeping do: not leaks.
    let ok_log = r#"100 execve("/usr/bin/cat", ["cat", "/famfs-test-0123/mnt/f"], 0x7ff /* 3 vars */) = 0
100 openat(AT_FDCWD</tmp>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3</etc/ld.so.cache>
100 newfstatat(AT_FDCWD</tmp>, "/famfs-test-0123", 0x7ffe, AT_SYMLINK_NOFOLLOW) = -1 ENOENT (No such file or directory)
100 access("file:/famfs-test-0123/mnt/db?immutable=1", F_OK) = -1 ENOENT (No such file or directory)
100 openat(AT_FDCWD</tmp>, "/famfs-test-0123/mntx", O_RDONLY) = -1 ENOENT (No such file or directory)
100 newfstatat(3</etc/ld.so.cache>, "", {st_mode=S_IFREG|0644, st_size=1, ...}, AT_EMPTY_PATH) = 0
100 mmap(NULL, 1, PROT_READ, MAP_PRIVATE, 3</etc/ld.so.cache>, 0) = 0x7f00
100 mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f00
100 memfd_create("famfs-placeholder", MFD_CLOEXEC) = 4</memfd:famfs-placeholder (deleted)>
100 open("/proc/self/fd/4", O_RDONLY|O_CLOEXEC|O_PATH) = 5</memfd:famfs-placeholder (deleted)>
100 close(4</memfd:famfs-placeholder (deleted)>) = 0
100 fcntl(5</memfd:famfs-placeholder (deleted)>, F_DUPFD, 0) = 6</memfd:famfs-placeholder (deleted)>
100 fcntl(6</memfd:famfs-placeholder (deleted)>, F_GETFD) = 0x1 (flags FD_CLOEXEC)
100 memfd_create("famfs-ofd", MFD_CLOEXEC) = 7</memfd:famfs-ofd (deleted)>
100 ftruncate(7</memfd:famfs-ofd (deleted)>, 8192) = 0
100 mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_SHARED, 7</memfd:famfs-ofd (deleted)>, 0) = 0x7f00
100 open("/proc/self/fd/7", O_RDONLY|O_CLOEXEC|O_PATH) = 8</memfd:famfs-ofd (deleted)>
100 close(7</memfd:famfs-ofd (deleted)>) = 0
100 dup3(8</memfd:famfs-ofd (deleted)>, 6</memfd:famfs-placeholder (deleted)>, 0) = 6</memfd:famfs-ofd (deleted)>
100 close(8</memfd:famfs-ofd (deleted)>) = 0
100 pipe2([3<pipe:[1]>, 4<pipe:[1]>], 0) = 0
100 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD <unfinished ...>
101 dup2(3<pipe:[1]>, 0</dev/null>) = 0<pipe:[1]>
100 <... clone resumed>, child_tidptr=0x7f) = 101
101 read(0<pipe:[1]>, "x", 1) = 1
101 execve("/usr/bin/head", ["head"], 0x7ff /* 3 vars */) = 0
101 readlink("/proc/self/fd/6", "/memfd:famfs-ofd (deleted)", 4096) = 26
101 newfstatat(6</memfd:famfs-ofd (deleted)>, "", {st_mode=S_IFREG|0777, st_size=8192, ...}, AT_EMPTY_PATH) = 0
101 openat(AT_FDCWD</tmp>, "/proc/self/fd/6", O_RDWR|O_CLOEXEC) = 9</memfd:famfs-ofd (deleted)>
101 mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_SHARED, 9</memfd:famfs-ofd (deleted)>, 0) = 0x7f00
101 close(9</memfd:famfs-ofd (deleted)>) = 0
100 write(1</dev/null>, "/famfs-test-0123/mnt/f\n", 23) = 23
100 read(3</pipe:[1]>, "", 10) = 0
100 openat(AT_FDCWD</tmp>, "/tmp/x", O_RDONLY)      = 9</tmp/x>
100 read(9</tmp/x>, "", 10) = 0
100 vfork( <unfinished ...>
102 read(9</tmp/x>, "", 10)   = 0
102 newfstatat(AT_FDCWD</tmp>, ".",  <unfinished ...>
102 <... newfstatat resumed>{st_mode=S_IFDIR|0777, st_size=4096, ...}, 0) = 0
100 <... vfork resumed>)              = 102
100 +++ exited with 0 +++
"#;
    assert_eq!(leak_violations(ok_log, mnt), Vec::<String>::new());
    // Leaks: a famfs path, and a placeholder (or a memfd) used as a file.
    let bad_log = r#"100 execve("/usr/bin/cat", ["cat"], 0x7ff /* 3 vars */) = 0
100 openat(AT_FDCWD</tmp>, "/famfs-test-0123/mnt/f", O_RDONLY) = -1 ENOENT (No such file or directory)
100 statx(AT_FDCWD</tmp>, "/famfs-test-0123/mnt", AT_STATX_SYNC_AS_STAT, STATX_ALL, 0x7ff) = -1 ENOENT (No such file or directory)
100 memfd_create("famfs", MFD_CLOEXEC) = 4</memfd:famfs (deleted)>
100 dup2(4</memfd:famfs (deleted)>, 7</memfd:famfs (deleted)>) = 7</memfd:famfs (deleted)>
100 clone(child_stack=NULL, flags=SIGCHLD) = 101
101 read(7</memfd:famfs (deleted)>, "", 10) = 0
100 read(4</memfd:famfs (deleted)>, "", 10) = 0
100 newfstatat(7</memfd:famfs (deleted)>, "", {st_mode=S_IFREG|0600, st_size=0, ...}, AT_EMPTY_PATH) = 0
100 mmap(NULL, 4096, PROT_READ, MAP_SHARED, 7</memfd:famfs (deleted)>, 0) = 0x7f00
100 openat(7</memfd:famfs (deleted)>, "sub/x", O_RDONLY) = -1 ENOTDIR (Not a directory)
100 read(9</x>, "", 10) = 0
100 copy_file_range(7</memfd:famfs (deleted)>, NULL, 1</tmp/o>, NULL, 100, 0) = 0
101 execve("/usr/bin/head", ["head"], 0x7ff /* 3 vars */) = 0
101 readlink("/proc/self/fd/7", "/memfd:famfs (deleted)", 4096) = 22
101 fstat(7</memfd:famfs (deleted)>, {st_mode=S_IFREG|0600, st_size=0, ...}) = 0
101 fstat(7</memfd:famfs (deleted)>, {st_mode=S_IFREG|0600, st_size=0, ...}) = 0
101 openat(AT_FDCWD</tmp>, "/proc/self/fd/7", O_RDONLY|O_PATH) = 8</memfd:famfs (deleted)>
101 lseek(8</memfd:famfs (deleted)>, 0, SEEK_CUR) = 0
100 +++ exited with 0 +++
"#;
    let bad = leak_violations(bad_log, mnt);
    let names: Vec<&str> = bad
        .iter()
        .map(|b| b.split(": ").nth(1).unwrap().split(' ').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "a",
            "a",
            "read",
            "read",
            "newfstatat",
            "mmap",
            "openat",
            "read",
            "copy_file_range",
            "fstat",
            "lseek"
        ],
        "{bad:#?}"
    );
}

#[test]
fn leak_coreutils() {
    let fx = fixture();
    let out_dir = fx.out_dir();
    let f = fx.m("data.bin");
    let script = format!(
        "set -e\n\
         cat {f} | sha256sum\n\
         head -c 100 {f} | wc -c\n\
         tail -c 100 {f} | wc -c\n\
         wc -c {f}\n\
         sha256sum {f}\n\
         cmp {f} {host}\n\
         dd if={f} bs=4096 skip=3 count=5 status=none | wc -c\n\
         stat -c %s {f}\n\
         stat -f -c %t {mnt}\n\
         find {tree} | wc -l\n\
         du -sb {f}\n\
         grep -c famfs {tree}/poem.txt\n\
         cp {f} {out}/copy.bin\n\
         cmp {out}/copy.bin {host}\n",
        host = fx.h("data.bin"),
        mnt = fx.m(""),
        tree = fx.m("tree"),
        out = out_dir.display(),
    );
    let sha = sha256_hex(&fx.data);
    traced(&fx, "coreutils", "bash", &["-c", &script], |out| {
        let want = format!(
            "{sha}  -\n100\n100\n{DATA_SIZE} {f}\n{sha}  {f}\n20480\n{DATA_SIZE}\n87b282fd\n\
             13\n{DATA_SIZE}\t{f}\n58\n"
        );
        assert_eq!(out.stdout, want, "{}", out.describe());
    });
}

#[test]
fn leak_ls_l() {
    let fx = fixture();
    traced(&fx, "ls", "ls", &["-lnR", &fx.m("tree")], |out| {
        assert!(
            out.stdout.contains(&format!(" {} ", poem_len())),
            "{}",
            out.describe()
        );
    });
}

#[test]
fn leak_bash_redirection_and_cd() {
    let fx = fixture();
    let f = fx.m("data.bin");
    let script = format!(
        "cat < {f} | wc -c; sha256sum < {f}; exec 3<{f}; head -c 100 <&3 | wc -c; \
         cat <&3 | wc -c; cd {notes} && cat todo.txt",
        notes = fx.m("tree/notes")
    );
    traced(&fx, "bash", "bash", &["-c", &script], |out| {
        assert_eq!(
            out.stdout,
            format!(
                "{DATA_SIZE}\n{}  -\n100\n{}\n{TODO}",
                sha256_hex(&fx.data),
                DATA_SIZE - 100
            ),
            "{}",
            out.describe()
        );
    });
}

const PY_LEAK: &str = r#"
import hashlib, mmap, os, subprocess, sys
m = sys.argv[1]
p = m + '/data.bin'
with open(p, 'rb') as f:
    f.seek(5)
    a = f.read(10)
    print(f.tell(), hashlib.sha256(a).hexdigest())
print(os.stat(p).st_size, sorted(os.listdir(m + '/tree')))
print(sorted(e.name for e in os.scandir(m + '/tree/bin')))
print(sum(len(fs) for _, _, fs in os.walk(m + '/tree')))
fd = os.open(p, os.O_RDONLY)
mm = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
print(hashlib.sha256(mm[:]).hexdigest() == hashlib.sha256(os.pread(fd, len(mm), 0)).hexdigest())
mm.close()
os.lseek(fd, 7, 0)
print(subprocess.run([sys.executable, '-c', 'import os,sys; print(len(os.read(int(sys.argv[1]), 9)))',
                      str(fd)], pass_fds=[fd], capture_output=True, text=True).stdout.strip(),
      os.lseek(fd, 0, 1))
"#;

#[test]
fn leak_python() {
    let fx = fixture();
    let want = format!(
        "15 {}\n{DATA_SIZE} ['bin', 'deep', 'empty.txt', 'notes', 'poem.txt']\n\
         ['blob.bin', 'run.sh']\n6\nTrue\n9 16\n",
        sha256_hex(&fx.data[5..15])
    );
    traced(
        &fx,
        "python",
        python(),
        &["-c", PY_LEAK, &fx.m("")],
        |out| {
            assert_eq!(out.stdout, want, "{}", out.describe());
        },
    );
}

#[test]
fn leak_sqlite3() {
    let fx = fixture();
    let db = sqlite_fixture(&fx);
    let host = host_ok(
        "sqlite3",
        &[format!("file:{db}?immutable=1").as_str(), SQL_QUERY],
    );
    let uri = format!("file:{}?immutable=1", fx.m("db.sqlite"));
    traced(&fx, "sqlite3", "sqlite3", &[&uri, SQL_QUERY], |out| {
        assert_eq!(out.stdout, host.stdout, "{}", out.describe());
    });
}

// ---------------------------------------------------------------------------
// Locks, ioctl and tracing

const PY_LOCKS: &str = r#"
import fcntl, json, os, struct, sys, termios
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
fcntl.flock(fd, fcntl.LOCK_UN)
fcntl.lockf(fd, fcntl.LOCK_EX)
fcntl.lockf(fd, fcntl.LOCK_UN)
os.lseek(fd, 1000, os.SEEK_SET)
left = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
try:
    fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    tty = "no error"
except OSError as e:
    tty = e.errno
print(json.dumps({"left": left, "tty": tty}))
"#;

/// flock and lockf succeed on a famfs file; FIONREAD tells the bytes left;
/// terminal ioctls fail with ENOTTY, as on any regular file.
#[test]
fn python_locks_and_ioctl() {
    let fx = fixture();
    let v = json_of(&py_shim(&fx, PY_LOCKS, &[&fx.r.p("data.bin")]));
    assert_eq!(v["left"], DATA_SIZE as u64 - 1000);
    assert_eq!(v["tty"], libc::ENOTTY);
}

/// FAMFS_LOG=debug traces famfs calls to stderr; without it the shim is
/// silent.
#[test]
fn famfs_log_traces_famfs_calls() {
    let fx = fixture();
    let path = fx.r.p("data.bin");
    let quiet = run(fx.env.shim("head", &["-c", "1", &path]));
    assert!(quiet.success(), "{}", quiet.describe());
    assert_eq!(quiet.stderr, "");
    let mut cmd = fx.env.shim("head", &["-c", "1", &path]);
    cmd.env("FAMFS_LOG", "debug");
    let traced = run(cmd);
    assert!(traced.success(), "{}", traced.describe());
    assert!(
        traced.stderr.contains("famfs open") && traced.stderr.contains(&path),
        "{}",
        traced.describe()
    );
}
