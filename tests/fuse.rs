//! famfs through a real kernel FUSE mount (`famfs mount --fuse`), read by
//! programs without the shim: a static Go program, static busybox, fio on
//! io_uring, node, Python, coreutils, tar; every refused call with its
//! errno; the kernel's permission checks; two hosts; a killed daemon; a
//! memory error; and the shim and FUSE together.
//!
//! These need root (or fusermount3) and /dev/fuse, as CI has.

use famfs_tests::*;
use std::path::Path;
use std::process::Command;

/// A tree of files with known contents: (path, size, seed).
const TREE: &[(&str, &str, &str)] = &[
    ("top", "3m", "11"),
    ("d1/small", "4096", "12"),
    ("d1/d2/odd", "1234567", "13"),
    ("d1/d2/big", "9m", "14"),
];

fn make_tree(env: &Env, r: &Region) {
    env.ok(&["mkdir", "-p", &r.p("d1/d2")]);
    for (rel, size, seed) in TREE {
        env.ok(&["creat", "-s", size, "-S", seed, &r.p(rel)]);
    }
}

/// `sha256  rel` lines of the tree, read by the CLI from the device.
fn expected_sums(env: &Env, r: &Region) -> Vec<String> {
    let mut v: Vec<String> = TREE
        .iter()
        .map(|(rel, _, _)| format!("{}  {rel}", sha256_hex(&env.ok_bytes(&["cat", &r.p(rel)]))))
        .collect();
    v.sort();
    v
}

/// Where file `path` starts on its device (`famfs getmap`).
fn device_offset(env: &Env, path: &str) -> u64 {
    let fmap = env.ok(&["getmap", path]);
    let mut words = fmap.split_whitespace();
    words
        .find(|w| *w == "offset")
        .and_then(|_| words.next())
        .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| panic!("no device offset in getmap output:\n{fmap}"))
}

fn plain(program: &str, args: &[&str]) -> Out {
    let mut cmd = Command::new(program);
    cmd.args(args).env_remove("LD_PRELOAD");
    run(cmd)
}

#[track_caller]
fn plain_ok(program: &str, args: &[&str]) -> String {
    let out = plain(program, args);
    assert!(out.success(), "{}", out.describe());
    out.stdout
}

const GO_HASH: &str = r#"package main

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

func main() {
	root := os.Args[1]
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() && rel == ".meta" {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("%x  %s", sha256.Sum256(b), rel))
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
}
"#;

#[test]
fn a_static_go_program_hashes_every_file() {
    let env = Env::new();
    let m = env.fuse_region("256m");
    make_tree(&env, &m);
    let dir = env.dir().join("gohash");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.go"), GO_HASH).unwrap();
    let mut build = Command::new("go");
    build
        .args(["build", "-o", "gohash", "main.go"])
        .current_dir(&dir)
        .env("CGO_ENABLED", "0")
        .env("GO111MODULE", "off")
        .env("GOCACHE", dir.join("cache"))
        .env("HOME", &dir);
    let out = run(build);
    assert!(
        out.success(),
        "go build (apt-get install golang-go): {}",
        out.describe()
    );
    let exe = dir.join("gohash");
    let ldd = plain("ldd", &[exe.to_str().unwrap()]);
    assert!(
        ldd.stdout.contains("not a dynamic executable")
            || ldd.stderr.contains("not a dynamic executable"),
        "{}",
        ldd.describe()
    );
    let got = plain_ok(exe.to_str().unwrap(), &[&m.mnt]);
    assert_eq!(got.lines().collect::<Vec<_>>(), expected_sums(&env, &m));
}

#[test]
fn busybox_node_python_and_coreutils_see_the_tree() {
    let env = Env::new();
    let m = env.fuse_region("256m");
    make_tree(&env, &m);
    let want = expected_sums(&env, &m);

    // Static busybox: raw system calls, no libc to interpose.
    for (rel, _, _) in TREE {
        let p = m.p(rel);
        let sum = plain_ok("busybox", &["sha256sum", &p]);
        let want_line = want
            .iter()
            .find(|l| l.ends_with(&format!("  {rel}")))
            .unwrap();
        assert_eq!(
            sum.split_whitespace().next(),
            want_line.split_whitespace().next()
        );
        let cat = plain("busybox", &["cat", &p]);
        assert_eq!(sha256_hex(&cat.stdout_bytes), want_line[..64]);
    }

    let node = plain_ok(
        "node",
        &[
            "-e",
            "const fs=require('fs');const m=process.argv[1];\
             const s=fs.statSync(m+'/d1/d2/odd');\
             console.log(s.size, s.isFile(), fs.readdirSync(m+'/d1').sort().join(','),\
             fs.readdirSync(m).sort().join(','));",
            &m.mnt,
        ],
    );
    assert_eq!(node.trim(), "1234567 true d2,small .meta,d1,top");

    let py = plain_ok(
        "python3",
        &[
            "-c",
            "import hashlib,mmap,os,sys\n\
             m=sys.argv[1]\n\
             for d,subs,files in os.walk(m):\n\
             \x20 subs[:]=[s for s in subs if s!='.meta']\n\
             \x20 for f in sorted(files):\n\
             \x20   p=os.path.join(d,f)\n\
             \x20   b=open(p,'rb').read()\n\
             \x20   with open(p,'rb') as fh:\n\
             \x20     mm=mmap.mmap(fh.fileno(),0,prot=mmap.PROT_READ)\n\
             \x20     assert bytes(mm)==b, p\n\
             \x20     mm.close()\n\
             \x20   print(hashlib.sha256(b).hexdigest()+'  '+os.path.relpath(p,m))\n",
            &m.mnt,
        ],
    );
    let mut py: Vec<&str> = py.lines().collect();
    py.sort();
    assert_eq!(py, want);

    let ls = plain_ok("ls", &["-l", &m.p("d1/d2")]);
    assert!(ls.contains(" 1234567 ") && ls.contains(" odd"), "{ls}");
    assert!(ls.lines().all(|l| !l.contains('?')), "{ls}");
    let find = plain_ok(
        "find",
        &[
            &m.mnt,
            "-path",
            &m.p(".meta"),
            "-prune",
            "-o",
            "-type",
            "f",
            "-print",
        ],
    );
    let mut found: Vec<&str> = find.lines().collect();
    found.sort();
    let mut want_paths: Vec<String> = TREE.iter().map(|(rel, _, _)| m.p(rel)).collect();
    want_paths.sort();
    assert_eq!(found, want_paths);

    // tar of the tree, unpacked elsewhere, holds the same bytes.
    let tarball = env.path("tree.tar");
    plain_ok(
        "tar",
        &["-C", &m.mnt, "-cf", &tarball, "--exclude=.meta", "."],
    );
    let out_dir = env.path("untar");
    std::fs::create_dir_all(&out_dir).unwrap();
    plain_ok("tar", &["-C", &out_dir, "-xf", &tarball]);
    for (rel, _, _) in TREE {
        let a = std::fs::read(Path::new(&out_dir).join(rel)).unwrap();
        assert_eq!(a, env.ok_bytes(&["cat", &m.p(rel)]), "{rel}");
    }
}

#[test]
fn fio_on_io_uring_writes_and_verifies_in_place() {
    let env = Env::new();
    let m = env.fuse_region("128m");
    env.ok(&["creat", "-s", "8m", &m.p("fio")]);
    let f = m.p("fio");
    let common = [
        "--ioengine=io_uring",
        "--bs=64k",
        "--size=8m",
        "--iodepth=8",
        "--verify=crc32c",
        "--fallocate=none",
    ];
    let fio = |extra: &[&str]| {
        let mut args = vec!["--name=famfs".to_string(), format!("--filename={f}")];
        args.extend(common.iter().map(|s| s.to_string()));
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut cmd = Command::new("fio");
        cmd.args(&args).env_remove("LD_PRELOAD");
        run(cmd)
    };
    let w = fio(&["--rw=write", "--do_verify=1"]);
    assert!(
        w.success() && w.stdout.contains("err= 0"),
        "{}",
        w.describe()
    );
    let r = fio(&["--rw=read", "--verify_only=1"]);
    assert!(
        r.success() && r.stdout.contains("err= 0"),
        "{}",
        r.describe()
    );
    // The verification is real: a byte changed on the device is found.
    let dev_off = device_offset(&env, &f);
    flip_byte(&m.dev, dev_off + 100_000);
    let bad = fio(&["--rw=read", "--verify_only=1"]);
    assert!(
        !bad.success() || !bad.stdout.contains("err= 0"),
        "a corrupted file verified: {}",
        bad.describe()
    );
}

/// Tries every call famfs refuses, through the kernel.
const REFUSALS: &str = r#"
import errno, os, sys
m = sys.argv[1]
def e(f):
    try:
        r = f()
        return "ok" if r is None or isinstance(r, int) and r >= 0 else str(r)
    except OSError as x:
        return errno.errorcode[x.errno]
f = m + "/f"
def wr(off, data, flags=os.O_WRONLY):
    fd = os.open(f, flags)
    try:
        return os.pwrite(fd, data, off)
    finally:
        os.close(fd)
def append():
    fd = os.open(f, os.O_WRONLY | os.O_APPEND)
    try:
        return os.write(fd, b"x")
    finally:
        os.close(fd)
print("create", e(lambda: os.close(os.open(m + "/new", os.O_CREAT | os.O_WRONLY, 0o644))))
print("excl existing", e(lambda: os.open(f, os.O_CREAT | os.O_EXCL | os.O_WRONLY)))
print("mknod", e(lambda: os.mkfifo(m + "/fifo")))
print("unlink", e(lambda: os.unlink(f)))
print("rmdir", e(lambda: os.rmdir(m + "/d")))
print("rename", e(lambda: os.rename(f, m + "/g")))
print("link", e(lambda: os.link(f, m + "/g")))
print("symlink", e(lambda: os.symlink("f", m + "/s")))
print("chmod", e(lambda: os.chmod(f, 0o600)))
print("chown", e(lambda: os.chown(f, 1, 1)))
print("utime", e(lambda: os.utime(f, (1, 1))))
print("truncate shorter", e(lambda: os.truncate(f, 10)))
print("truncate longer", e(lambda: os.truncate(f, 1 << 30)))
print("truncate same", e(lambda: os.truncate(f, 8192)))
print("o_trunc", e(lambda: os.open(f, os.O_WRONLY | os.O_TRUNC)))
print("write at eof", e(lambda: wr(8192, b"x")))
print("write across eof", e(lambda: wr(8190, b"abcd")))
print("append", e(append))
print("setxattr", e(lambda: os.setxattr(f, "user.x", b"1")))
print("getxattr", e(lambda: os.getxattr(f, "user.x")))
print("listxattr", os.listxattr(f))
print("missing", e(lambda: os.stat(m + "/nope")))
print("meta write", e(lambda: os.open(m + "/.meta/.log", os.O_WRONLY)))
print("mkdir", e(lambda: os.mkdir(m + "/newdir", 0o750)))
st = os.stat(m + "/newdir")
print("mkdir mode", oct(st.st_mode & 0o777))
print("mkdir again", e(lambda: os.mkdir(m + "/newdir")))
print("mkdir long", e(lambda: os.mkdir(m + "/" + "x" * 90)))
print("rmdir new", e(lambda: os.rmdir(m + "/newdir")))
"#;

#[test]
fn every_refused_call_has_its_errno() {
    let env = Env::new();
    let m = env.fuse_region("64m");
    env.ok(&["creat", "-s", "8192", "-S", "3", &m.p("f")]);
    env.ok(&["mkdir", &m.p("d")]);
    let out = plain_ok("python3", &["-c", REFUSALS, &m.mnt]);
    let want = [
        "create EPERM",
        "excl existing EEXIST",
        "mknod EPERM",
        "unlink EPERM",
        "rmdir EPERM",
        "rename EPERM",
        "link EPERM",
        "symlink EPERM",
        "chmod EPERM",
        "chown EPERM",
        "utime EPERM",
        "truncate shorter EPERM",
        "truncate longer EPERM",
        "truncate same ok",
        "o_trunc EPERM",
        "write at eof EFBIG",
        "write across eof ok",
        "append EFBIG",
        "setxattr ENOTSUP",
        "getxattr ENODATA",
        "listxattr []",
        "missing ENOENT",
        "meta write EROFS",
        "mkdir ok",
        "mkdir mode 0o750",
        "mkdir again EEXIST",
        "mkdir long ENAMETOOLONG",
        "rmdir new EPERM",
    ];
    assert_eq!(out.lines().collect::<Vec<_>>(), want, "{out}");
    // The write across EOF wrote what fits, and the size is unchanged.
    let bytes = env.ok_bytes(&["cat", &m.p("f")]);
    assert_eq!(bytes.len(), 8192);
    assert_eq!(&bytes[8190..], b"ab");
    // The new directory is in the log, for the shim and the CLI too.
    assert!(env.ok(&["ls", &m.mnt]).contains("newdir"));
}

#[test]
fn the_kernel_enforces_modes_for_other_users() {
    let env = Env::new();
    let m = env.fuse_region("64m");
    env.ok(&[
        "creat",
        "-s",
        "4096",
        "-S",
        "5",
        "-m",
        "0600",
        &m.p("secret"),
    ]);
    env.ok(&[
        "creat",
        "-s",
        "4096",
        "-S",
        "6",
        "-m",
        "0644",
        &m.p("public"),
    ]);
    let as_nobody = |args: &[&str]| {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .args(args)
            .env_remove("LD_PRELOAD");
        run(cmd)
    };
    let secret = as_nobody(&["cat", &m.p("secret")]);
    assert!(
        !secret.success() && secret.stderr.contains("Permission denied"),
        "{}",
        secret.describe()
    );
    let public = as_nobody(&["cat", &m.p("public")]);
    assert!(public.success(), "{}", public.describe());
    assert_eq!(public.stdout_bytes, env.ok_bytes(&["cat", &m.p("public")]));
    let write = as_nobody(&["sh", "-c", &format!("printf x > {}", m.p("public"))]);
    assert!(
        !write.success() && write.stderr.contains("Permission denied"),
        "{}",
        write.describe()
    );
    // Root reads the 0600 file.
    assert_eq!(
        plain("cat", &[&m.p("secret")]).stdout_bytes,
        env.ok_bytes(&["cat", &m.p("secret")])
    );
}

#[test]
fn a_client_mount_sees_what_the_master_logs_on_its_next_lookup() {
    let master = Env::new();
    let client = Env::new();
    let dev = master.mkfs_region("128m");
    let mm = master.fuse_mount(&dev);
    let cm = client.fuse_mount(&dev);
    // Looked up (and missed) before it exists: not cached as missing.
    assert!(!plain("stat", &[&cm.p("later")]).success());
    let ls_before = plain_ok("ls", &[&cm.mnt]);
    assert!(!ls_before.contains("later"));
    master.ok(&["creat", "-s", "5m", "-S", "21", &mm.p("later")]);
    plain_ok("mkdir", &[&mm.p("made-by-fuse")]);
    let seen = plain("cat", &[&cm.p("later")]);
    assert!(seen.success(), "{}", seen.describe());
    assert_eq!(seen.stdout_bytes, master.ok_bytes(&["cat", &mm.p("later")]));
    let ls = plain_ok("ls", &[&cm.mnt]);
    assert!(ls.contains("later") && ls.contains("made-by-fuse"), "{ls}");
    // The client is not the master: its mkdir is refused.
    let out = plain("mkdir", &[&cm.p("by-client")]);
    assert!(
        !out.success() && out.stderr.contains("Operation not permitted"),
        "{}",
        out.describe()
    );
}

#[test]
fn a_killed_daemon_gives_enotconn_and_umount_cleans_up() {
    let env = Env::new();
    let dev = env.mkfs_region("64m");
    let m = env.fuse_mount(&dev);
    env.ok(&["creat", "-s", "4096", "-S", "9", &m.p("f")]);
    let want = env.ok_bytes(&["cat", &m.p("f")]);
    assert_eq!(plain("cat", &[&m.p("f")]).stdout_bytes, want);
    let pid = m.daemon_pid();
    // SAFETY: kill(2) of the daemon's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let start = std::time::Instant::now();
    while Path::new(&format!("/proc/{pid}")).exists() && start.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let dead = plain("cat", &[&m.p("f")]);
    assert!(
        !dead.success() && dead.stderr.contains("Transport endpoint is not connected"),
        "{}",
        dead.describe()
    );
    assert!(env
        .ok(&["mounts"])
        .contains(&format!("fuse daemon {pid} dead")));
    env.ok(&["umount", &m.mnt]);
    assert!(!env.ok(&["mounts"]).contains(&m.mnt));
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&m.mnt), "still in the kernel's mounts");
    // A new mount at the same place serves again.
    env.ok(&["mount", "--fuse", dev.to_str().unwrap(), &m.mnt]);
    assert_eq!(plain("cat", &[&m.p("f")]).stdout_bytes, want);
    assert!(env.ok(&["mounts"]).contains("running"));
}

#[test]
fn a_memory_error_is_an_error_for_the_reader_and_the_daemon_lives() {
    let env = Env::new();
    let m = env.fuse_region("64m");
    env.ok(&["creat", "-s", "4m", "-S", "4", &m.p("bad")]);
    let off = device_offset(&env, &m.p("bad"));
    env.ok(&[
        "debug",
        "poison",
        m.dev_str(),
        &(off + 1_048_576).to_string(),
        "4096",
    ]);
    let out = plain(
        "dd",
        &[&format!("if={}", m.p("bad")), "of=/dev/null", "bs=1M"],
    );
    assert!(!out.success(), "{}", out.describe());
    assert!(
        out.stderr.contains("Input/output error")
            || out.stderr.contains("Memory page has hardware error"),
        "{}",
        out.describe()
    );
    // The daemon still answers.
    assert!(plain_ok("ls", &[&m.mnt]).contains("bad"));
    assert!(plain("stat", &[&m.p("bad")]).success());
    assert!(env.ok(&["mounts"]).contains("running"));
}

#[test]
fn shim_and_fuse_together() {
    let env = Env::new();
    let m = env.fuse_region("64m");
    let host = env.dir().join("f.txt");
    write_file(&host, b"0123456789abcdef\n", 0o644);
    env.ok(&["cp", host.to_str().unwrap(), &m.p("f.txt")]);
    // stdio on a famfs descriptor dup2'd onto stdin and stdout.
    let exe = compile_c("stdio_redirect", env.dir(), &[]);
    let out = run(env.shim(&exe, &[&m.p("f.txt")]));
    assert!(out.success(), "{}", out.describe());
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["back on stdout", "file:HELLO", "stdin:HELLO56"]
    );
    // A static child exec'd without the shim reads the descriptor the shim
    // opened: it is the kernel's (FUSE) open of the same file.
    let mut cmd = env.shim(
        "sh",
        &[
            "-c",
            &format!("exec env -u LD_PRELOAD busybox cat < {}", m.p("f.txt")),
        ],
    );
    cmd.env_remove("FAMFS_LOG");
    let out = run(cmd);
    assert!(out.success(), "{}", out.describe());
    assert_eq!(out.stdout, "HELLO56789abcdef\n");
}

#[test]
fn mmap_at_odd_offsets_reaches_device_memory() {
    let env = Env::new();
    let m = env.fuse_region("64m");
    env.ok(&["creat", "-s", "3000000", "-S", "8", &m.p("f")]);
    let out = plain_ok(
        "python3",
        &[
            "-c",
            "import mmap,os,sys\n\
             p=sys.argv[1]\n\
             fd=os.open(p,os.O_RDWR)\n\
             size=os.fstat(fd).st_size\n\
             for off in (4096*3, 4096*513, 2097152+4096*7):\n\
             \x20 n=min(12345, size-off)\n\
             \x20 mm=mmap.mmap(fd,n,offset=off)\n\
             \x20 assert mm[:n]==os.pread(fd,n,off)\n\
             \x20 mm[7:13]=b'FAMFS!'\n\
             \x20 mm.flush(); mm.close()\n\
             tail=mmap.mmap(fd,size-2998272,offset=2998272)\n\
             tail[-1:]=b'Z'; tail.flush(); tail.close()\n\
             os.close(fd)\n\
             print('ok')\n",
            &m.p("f"),
        ],
    );
    assert_eq!(out.trim(), "ok");
    // The CLI reads the device itself: the stores are there.
    let b = env.ok_bytes(&["cat", &m.p("f")]);
    assert_eq!(b.len(), 3_000_000);
    for off in [4096 * 3 + 7, 4096 * 513 + 7, 2097152 + 4096 * 7 + 7] {
        assert_eq!(&b[off..off + 6], b"FAMFS!", "at {off}");
    }
    assert_eq!(b[2_999_999], b'Z');
}

#[test]
fn mount_options_and_lifecycle() {
    let env = Env::new();
    let dev = env.mkfs_region("64m");
    let mnt = env.path("made/by/mount");
    // The mount point is created; -t and -v are taken.
    let said = env.ok(&["mount", "-f", "-v", "-t", "5", dev.to_str().unwrap(), &mnt]);
    assert!(
        said.contains("FUSE daemon") && said.contains(&mnt),
        "{said}"
    );
    assert!(Path::new(&mnt).is_dir());
    let err = env.fail(&["mount", "--fuse", dev.to_str().unwrap(), &mnt]);
    assert!(err.contains("already a famfs mount point"), "{err}");
    let list = env.ok(&["mounts"]);
    assert!(
        list.contains("fuse daemon") && list.contains("running"),
        "{list}"
    );
    env.ok(&["umount", &mnt]);
    assert!(!std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(&mnt));
    // FUSE options without --fuse are an error, not ignored.
    let err = env.fail(&["mount", "-t", "5", dev.to_str().unwrap(), &mnt]);
    assert!(err.contains("--fuse"), "{err}");
    // A device that is not famfs: the daemon's reason, nothing recorded.
    let junk = env.path("junk.img");
    std::fs::write(&junk, vec![0u8; 4 << 20]).unwrap();
    let err = env.fail(&["mount", "--fuse", &junk, &env.path("m2")]);
    assert!(!err.is_empty());
    assert!(!env.ok(&["mounts"]).contains("m2"));
}

#[test]
fn a_damaged_log_entry_is_eio_through_fuse_as_under_the_shim() {
    let env = Env::new();
    let m = env.fuse_region("64m");
    env.ok(&["creat", "-s", "4096", "-S", "1", &m.p("before")]);
    env.ok(&["creat", "-s", "4096", "-S", "2", &m.p("after")]);
    // The daemon replayed an empty log at mount; entry 1 is damaged before
    // it catches up.
    flip_byte(&m.dev, entry_offset(1) + entry_off::FILE_RELPATH as u64);
    let before = plain("cat", &[&m.p("before")]);
    assert!(before.success(), "{}", before.describe());
    assert_eq!(before.stdout_bytes, env.ok_bytes(&["cat", &m.p("before")]));
    // Past the damage, nothing is "missing": it may be in the unreadable
    // part of the log.
    for name in ["after", "never-logged"] {
        let out = plain("stat", &[&m.p(name)]);
        assert!(
            !out.success() && out.stderr.contains("Input/output error"),
            "{name}: {}",
            out.describe()
        );
    }
    // The shim answers the same on the same mount point.
    let out = run(env.shim("stat", &[&m.p("after")]));
    assert!(
        out.stderr.contains("Input/output error"),
        "{}",
        out.describe()
    );
    assert!(env.ok(&["mounts"]).contains("running"));
}
