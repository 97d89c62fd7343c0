//! Programs that make file-system calls through glibc's `syscall()`
//! function, under the shim: a C program calling it directly, and Node.js,
//! whose libuv issues `statx` that way.

use famfs_tests::*;
use std::fs;
use std::process::Command;

struct Fx {
    env: Env,
    r: Region,
}

/// A region holding `d/data.bin` (100 KB of pattern), `d/sub/deep.txt`
/// and `d/m.js` (a module exporting a value), mounted on a directory that
/// exists in the kernel's namespace, as a user's mount point does (Node's
/// `realpathSync` lstat()s every ancestor of a path).
fn fixture() -> Fx {
    let env = Env::new();
    let dev = env.mkfs_region("64m");
    let mnt = env.dir().join("mnt");
    fs::create_dir(&mnt).unwrap();
    env.ok(&["mount", dev.to_str().unwrap(), mnt.to_str().unwrap()]);
    let r = Region {
        dev,
        mnt: mnt.to_str().unwrap().to_string(),
    };
    let host = env.dir().join("d");
    write_file(&host.join("data.bin"), &pattern(5, 100_000), 0o644);
    write_file(&host.join("sub/deep.txt"), b"deep down\n", 0o644);
    write_file(
        &host.join("m.js"),
        b"module.exports = { answer: 42 };\n",
        0o644,
    );
    env.ok(&["cp", "-r", host.to_str().unwrap(), &r.mnt]);
    Fx { env, r }
}

#[test]
fn c_program_calls_syscall_on_famfs() {
    let fx = fixture();
    let exe = compile_c("syscall_famfs", fx.env.dir(), &[]);
    let out = run(fx.env.shim(
        &exe,
        &[
            &fx.r.p("d/data.bin"),
            &fx.r.p("d"),
            &fx.r.p("d/missing.bin"),
        ],
    ));
    assert!(
        out.success() && !out.stdout.contains("FAIL"),
        "syscall_famfs under the shim:\n{}",
        out.describe()
    );
    assert!(out.stdout.lines().filter(|l| l.starts_with("ok ")).count() >= 19);
    // The program ends by execl'ing a shell that reads the file on stdin.
    let want = format!("exec-read {}", hex(&pattern(5, 8)));
    assert!(
        out.stdout.lines().any(|l| l == want),
        "no {want:?} line:\n{}",
        out.describe()
    );
}

const NODE: &str = r#"
const fs = require('fs');
const path = require('path');
const [dir] = process.argv.slice(1);
const out = {};
const data = path.join(dir, 'data.bin');
out.stat = fs.statSync(data).size;
out.lstat = fs.lstatSync(data).size;
const fd = fs.openSync(data, 'r');
out.fstat = fs.fstatSync(fd).size;
fs.closeSync(fd);
out.isDir = fs.statSync(path.join(dir, 'sub')).isDirectory();
out.realpath = fs.realpathSync(path.join(dir, 'sub', '..', 'data.bin')) === data;
out.recursive = fs.readdirSync(dir, { recursive: true }).sort();
out.module = require(path.join(dir, 'm.js')).answer;
try { fs.statSync(path.join(dir, 'missing')); out.missing = 'found'; }
catch (e) { out.missing = e.code; }
fs.promises.readFile(data).then((b) => {
  out.promises = b.length;
  let n = 0;
  fs.createReadStream(data, { highWaterMark: 4096 })
    .on('data', (c) => { n += c.length; })
    .on('end', () => { out.stream = n; console.log(JSON.stringify(out)); });
});
"#;

#[test]
fn node_sees_famfs_files() {
    let fx = fixture();
    if Command::new("node").arg("--version").output().is_err() {
        panic!("node is not installed: apt-get install nodejs");
    }
    let out = run(fx.env.shim("node", &["-e", NODE, &fx.r.p("d")]));
    assert!(out.success(), "node under the shim:\n{}", out.describe());
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("node printed {:?}: {e}", out.stdout));
    assert_eq!(v["stat"], 100_000, "{v}");
    assert_eq!(v["lstat"], 100_000, "{v}");
    assert_eq!(v["fstat"], 100_000, "{v}");
    assert_eq!(v["isDir"], true, "{v}");
    assert_eq!(v["realpath"], true, "{v}");
    assert_eq!(
        v["recursive"],
        serde_json::json!(["data.bin", "m.js", "sub", "sub/deep.txt"]),
        "{v}"
    );
    assert_eq!(v["module"], 42, "{v}");
    assert_eq!(v["missing"], "ENOENT", "{v}");
    assert_eq!(v["promises"], 100_000, "{v}");
    assert_eq!(v["stream"], 100_000, "{v}");
    let _ = fs::metadata(&fx.r.dev);
}

/// The temporary-name calls in a famfs directory: mkstemp is EPERM (glibc
/// would otherwise create the file with an internal open the shim cannot
/// see), mkdtemp makes a directory through the log, and `sed -i` fails
/// with "Operation not permitted", leaving the file as it was.
#[test]
fn temporary_names_in_famfs_follow_famfs_rules() {
    let fx = fixture();
    let py = r#"
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
d = sys.argv[1]
t = ctypes.create_string_buffer((d + "/tmpXXXXXX").encode())
fd = libc.mkstemp(t)
print("mkstemp", fd, errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno()))
t = ctypes.create_string_buffer((d + "/tmpXXXXXX.txt").encode())
fd = libc.mkstemps(t, 4)
print("mkstemps", fd, errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno()))
t = ctypes.create_string_buffer((d + "/bad").encode())
ctypes.set_errno(0)
print("mkstemp_bad_template", libc.mkstemp(t), errno.errorcode.get(ctypes.get_errno(), 0))
t = ctypes.create_string_buffer((d + "/dirXXXXXX").encode())
libc.mkdtemp.restype = ctypes.c_char_p
r = libc.mkdtemp(t)
name = r.decode() if r else None
print("mkdtemp", name is not None and os.path.isdir(name) and name != d + "/dirXXXXXX")
print("listed", os.path.basename(name) in os.listdir(d) if name else False)
"#;
    let out = run(fx.env.shim("python3", &["-c", py, &fx.r.p("d")]));
    assert!(out.success(), "{}", out.describe());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "mkstemp -1 EPERM",
            "mkstemps -1 EPERM",
            "mkstemp_bad_template -1 EINVAL",
            "mkdtemp True",
            "listed True"
        ],
        "{}",
        out.describe()
    );
    // The new directory is in the log: the CLI sees it.
    let ls = fx.env.ok(&["ls", &fx.r.p("d")]);
    assert!(ls.lines().any(|l| l.contains("dir")), "{ls}");

    let before = fx.env.ok_bytes(&["cat", &fx.r.p("d/sub/deep.txt")]);
    let out = run(fx
        .env
        .shim("sed", &["-i", "s/deep/DEEP/", &fx.r.p("d/sub/deep.txt")]));
    assert!(!out.success(), "sed -i succeeded: {}", out.describe());
    assert!(
        out.stderr.contains("Operation not permitted"),
        "{}",
        out.describe()
    );
    assert_eq!(fx.env.ok_bytes(&["cat", &fx.r.p("d/sub/deep.txt")]), before);
}

/// A statically linked program does not call libc's exported functions, so
/// the shim cannot serve it: a famfs path is a clean ENOENT from the
/// kernel, and nothing on the device changes.
#[test]
fn a_static_program_gets_enoent_and_changes_nothing() {
    let fx = fixture();
    let busybox = std::path::Path::new("/bin/busybox");
    assert!(
        busybox.exists(),
        "busybox is missing: apt-get install busybox-static"
    );
    let before = fx.r.meta();
    let out = run(fx.env.shim(busybox, &["cat", &fx.r.p("d/data.bin")]));
    assert!(!out.success(), "{}", out.describe());
    assert!(
        out.stderr.contains("No such file or directory"),
        "{}",
        out.describe()
    );
    let out = run(fx.env.shim(
        busybox,
        &["sh", "-c", &format!("echo x > {}", fx.r.p("d/new"))],
    ));
    assert!(!out.success(), "{}", out.describe());
    assert_meta_unchanged(&fx.r, &before, "a static program's attempts");
    fx.env.ok(&["fsck", &fx.r.mnt]);
}
