//! `.meta/.superblock` and `.meta/.log` in every mount: read-only files
//! holding the device's superblock region and log, as the reference famfs
//! tools expect them, through the shim and the CLI.

use famfs_tests::*;

/// Reads both files every way a program can (read, mmap, stat, listing)
/// and tries every way to change them; prints one line per check.
const PROBE: &str = r#"
import errno, hashlib, mmap, os, stat, sys
mnt = sys.argv[1]
def err(f):
    try:
        f()
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
print("root lists", sorted(os.listdir(mnt)))
print("meta lists", sorted(os.listdir(mnt + "/.meta")))
st = os.stat(mnt + "/.meta")
print("dir", stat.S_ISDIR(st.st_mode), oct(st.st_mode & 0o7777), st.st_uid)
for name in (".superblock", ".log"):
    p = mnt + "/.meta/" + name
    st = os.stat(p)
    print(name, "regular", stat.S_ISREG(st.st_mode), oct(st.st_mode & 0o7777), st.st_size)
    data = open(p, "rb").read()
    with open(p, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
        print(name, "read == mmap", bytes(m) == data)
        m.close()
    print(name, "sha256", hashlib.sha256(data).hexdigest())
    print(name, "write open", err(lambda: os.open(p, os.O_WRONLY)))
    print(name, "rdwr open", err(lambda: os.open(p, os.O_RDWR)))
print("mkdir below", err(lambda: os.mkdir(mnt + "/.meta/x")))
print("mkdir .meta", err(lambda: os.mkdir(mnt + "/.meta")))
print("below a file", err(lambda: os.stat(mnt + "/.meta/.log/x")))
print("missing", err(lambda: os.stat(mnt + "/.meta/nope")))
"#;

#[test]
fn meta_files_hold_the_superblock_and_log_and_refuse_changes() {
    let env = Env::new();
    let r = env.region("64m");
    probe_meta(&env, &r, |cmd| cmd.env("LD_PRELOAD", preload_lib()));
}

#[test]
fn meta_files_through_a_fuse_mount() {
    let env = Env::new();
    let m = env.fuse_region("64m");
    probe_meta(&env, &m, |cmd| cmd.env_remove("LD_PRELOAD"));
}

/// Runs [`PROBE`] on `r` as `setup` makes the Python process (under the
/// shim, or plain through a FUSE mount) and checks every line.
fn probe_meta(
    env: &Env,
    r: &Region,
    setup: impl FnOnce(&mut std::process::Command) -> &mut std::process::Command,
) {
    env.ok(&["mkdir", &r.p("dir")]);
    env.ok(&["creat", "-s", "4096", "-S", "1", &r.p("f")]);
    let mut cmd = env.shim("python3", &["-c", PROBE, &r.mnt]);
    setup(&mut cmd);
    let out = run(cmd);
    assert!(out.success(), "{}", out.describe());

    let sb = read_range(&r.dev, 0, 2 << 20);
    let log = read_range(&r.dev, 2 << 20, 8 << 20);
    let sb_line = format!(".superblock sha256 {}", sha256_hex(&sb));
    let log_line = format!(".log sha256 {}", sha256_hex(&log));
    let text: Vec<&str> = out.stdout.lines().collect();
    for want in [
        sb_line.as_str(),
        log_line.as_str(),
        "root lists ['.meta', 'dir', 'f']",
        "meta lists ['.log', '.superblock']",
        "dir True 0o755 0",
        ".superblock regular True 0o444 2097152",
        ".superblock read == mmap True",
        ".superblock write open EROFS",
        ".superblock rdwr open EROFS",
        ".log regular True 0o444 8388608",
        ".log read == mmap True",
        ".log write open EROFS",
        ".log rdwr open EROFS",
        "mkdir below EINVAL",
        "mkdir .meta EEXIST",
        "below a file ENOTDIR",
        "missing ENOENT",
    ] {
        assert!(
            text.contains(&want),
            "missing line {want:?} in\n{}",
            text.join("\n")
        );
    }
    // Nothing the probe tried reached the log.
    assert_eq!(read_range(&r.dev, 2 << 20, 8 << 20), log);
}

#[test]
fn the_cli_refuses_new_entries_at_meta() {
    let env = Env::new();
    let r = env.region("64m");
    let before = r.meta();
    let (top, below, file) = (r.p(".meta"), r.p(".meta/a/b"), r.p(".meta/f"));
    for args in [
        &["mkdir", top.as_str()][..],
        &["mkdir", "-p", below.as_str()],
        &["creat", "-s", "4096", file.as_str()],
    ] {
        let err = env.fail(args);
        assert!(err.contains(".meta"), "{args:?}: {err}");
    }
    assert_bytes_eq("the metadata", &r.meta(), &before, 0);
}

#[test]
fn chkread_compares_read_and_mmap_and_mkmeta_names_the_files() {
    let env = Env::new();
    let r = env.region("64m");
    env.ok(&["creat", "-s", "5m", "-S", "9", &r.p("f")]);
    let out = env.ok(&["chkread", &r.p("f")]);
    assert!(out.contains("Read and mmap match (5242880 bytes)"), "{out}");

    let out = env.ok(&["chkread", "-s", &r.p(".meta/.superblock")]);
    assert!(
        out.contains("superblock by mmap: valid, version 48"),
        "{out}"
    );
    assert!(
        out.contains("superblock by read: valid, version 48"),
        "{out}"
    );
    assert!(out.contains("Read and mmap match (2097152 bytes)"), "{out}");

    let out = env.ok(&["chkread", "-l", &r.p(".meta/.log")]);
    assert!(
        out.contains("log by read: valid, 1 of 15420 entries used"),
        "{out}"
    );
    assert!(out.contains("Read and mmap match (8388608 bytes)"), "{out}");

    let err = env.fail(&["chkread", &r.p("")]);
    assert!(err.contains("Is a directory"), "{err}");
    let err = env.fail(&["chkread", &r.p("nope")]);
    assert!(err.contains("No such file or directory"), "{err}");

    // famfs cat reads them from the device, as every program does.
    assert_eq!(
        env.ok_bytes(&["cat", &r.p(".meta/.superblock")]),
        read_range(&r.dev, 0, 2 << 20)
    );
    assert_eq!(
        env.ok_bytes(&["cat", &r.p(".meta/.log")]),
        read_range(&r.dev, 2 << 20, 8 << 20)
    );
    let err = env.fail(&["cat", &r.p(".meta")]);
    assert!(err.contains("is a directory"), "{err}");

    let out = env.ok(&["mkmeta", r.dev_str()]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [r.p(".meta/.superblock"), r.p(".meta/.log")]
    );
    env.ok(&["umount", &r.mnt]);
    let err = env.fail(&["mkmeta", r.dev_str()]);
    assert!(err.contains("not mounted"), "{err}");
}
