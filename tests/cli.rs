//! End-to-end tests of every `famfs` subcommand, including the error paths.
//!
//! Each test plays its own host(s) ([`Env`]) with a private mount table and
//! system uuid, on sparse simulated regions in a temporary directory, with
//! virtual mount points that do not exist in the kernel's namespace. Error
//! paths check the exit status, that the message is one clear line, and that
//! the device's metadata (superblock region + log) did not change.

use famfs_tests::*;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

// ---------------------------------------------------------------------------
// Output parsers

/// One line of `famfs ls -l`: `drwxr-xr-x  uid gid size name`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LsEntry {
    mode: String,
    uid: u32,
    gid: u32,
    size: u64,
    name: String,
}

fn parse_ls_l(text: &str) -> Vec<LsEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("total"))
        .map(|l| {
            // mode links uid gid size month day time-or-year name
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(f.len() >= 9, "unexpected ls -ln line {l:?}");
            LsEntry {
                mode: f[0].to_string(),
                uid: f[2].parse().unwrap_or_else(|_| panic!("uid in {l:?}")),
                gid: f[3].parse().unwrap_or_else(|_| panic!("gid in {l:?}")),
                size: f[4].parse().unwrap_or_else(|_| panic!("size in {l:?}")),
                name: f[8..].join(" "),
            }
        })
        .collect()
}

fn ls_l(env: &Env, path: &str) -> Vec<LsEntry> {
    parse_ls_l(&env.ok(&["ls", "-ln", path]))
}

/// The `ls -l` entry for `name` in directory `dir`.
#[track_caller]
fn ls_entry(env: &Env, dir: &str, name: &str) -> LsEntry {
    let all = ls_l(env, dir);
    all.iter()
        .find(|e| e.name == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} not in `ls -l {dir}`: {all:?}"))
}

fn ls_names(env: &Env, path: &str) -> Vec<String> {
    env.ok(&["ls", path])
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// (used, total) log entries as `famfs fsck` reports them.
#[track_caller]
fn fsck_log_entries(env: &Env, target: &str) -> (u64, u64) {
    let out = env.ok(&["fsck", target]);
    fractions_on(&out, "log entries")[0]
}

/// Asserts `stderr` is one line `famfs <cmd>: ...` containing every needle
/// (case-insensitive).
#[track_caller]
fn assert_msg(stderr: &str, cmd: &str, needles: &[&str]) {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got:\n{stderr}");
    assert!(
        lines[0].starts_with(&format!("famfs {cmd}: ")),
        "error line should start with `famfs {cmd}: `: {stderr}"
    );
    let low = stderr.to_lowercase();
    for n in needles {
        assert!(
            low.contains(&n.to_lowercase()),
            "error should mention {n:?}: {stderr}"
        );
    }
}

/// Runs a failing command and checks the message and that the metadata
/// of `region` did not change.
#[track_caller]
fn fail_unchanged(env: &Env, region: &Region, args: &[&str], needles: &[&str]) -> String {
    let before = region.meta();
    let err = env.fail(args);
    assert_msg(&err, args[0], needles);
    assert_meta_unchanged(region, &before, &args.join(" "));
    err
}

/// A JSON number field that may be spelled in several ways.
fn json_u64(v: &serde_json::Value, keys: &[&str]) -> u64 {
    for k in keys {
        if let Some(x) = v.get(*k).and_then(serde_json::Value::as_u64) {
            return x;
        }
    }
    panic!("none of {keys:?} in {v}")
}

/// Device offset of byte `off` of a simply-mapped file, from `getmap --json`.
fn device_offset_of(env: &Env, path: &str, off: u64) -> u64 {
    let out = env.ok(&["getmap", "--json", path]);
    let v: serde_json::Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("getmap --json is not JSON ({e}):\n{out}"));
    let exts = find_array(&v, "extents")
        .unwrap_or_else(|| panic!("no \"extents\" array in getmap --json output:\n{out}"));
    let mut o = off;
    for e in exts {
        let ofs = json_u64(e, &["offset", "dax_offset", "ofs"]);
        let len = json_u64(e, &["len", "length"]);
        if o < len {
            return ofs + o;
        }
        o -= len;
    }
    panic!("offset {off} not mapped by {out}")
}

fn is_sparse(path: &Path) -> bool {
    let m = fs::metadata(path).unwrap();
    m.blocks() * 512 < m.len()
}

/// `-u UID -g GID` for the test's own ids (what the defaults must give).
fn me() -> (u32, u32) {
    (euid(), egid())
}

// ---------------------------------------------------------------------------
// mkfs

#[test]
fn mkfs_size_creates_a_sparse_region() {
    let env = Env::new();
    let dev = env.path("r.img");
    let out = env.ok(&["mkfs", "--size", "64m", &dev]);
    let m = fs::metadata(&dev).expect("mkfs --size must create the region");
    assert_eq!(m.len(), 64 * MIB);
    assert!(is_sparse(Path::new(&dev)), "region should be sparse");
    assert!(out.contains(&dev), "summary should name the device:\n{out}");
    assert!(
        out.contains("15420"),
        "summary should give the log entries:\n{out}"
    );
    // The superblock records this host as the master, and the fs uuid shown.
    let sb = read_range(Path::new(&dev), 0, 200);
    assert_eq!(le_u64(&sb, 0), 0x87b2_82ff);
    assert_eq!(le_u64(&sb, 8), 48);
    assert_eq!(le_u64(&sb, 24), 8 * MIB);
    assert_eq!(format_uuid(&sb[80..96]), env.uuid());
    let fs_uuid = format_uuid(&sb[48..64]);
    assert!(
        out.contains(&fs_uuid),
        "summary should give the fs uuid {fs_uuid}:\n{out}"
    );
    assert_eq!(le_u64(&sb, 112), 64 * MIB, "dd_size");
    // An empty log.
    assert_eq!(log_next_index(Path::new(&dev)), 0);
    // And it mounts, empty.
    let r = env.mount(Path::new(&dev));
    assert!(ls_names(&env, &r.mnt).is_empty());
}

#[test]
fn mkfs_size_refuses_an_existing_path() {
    let env = Env::new();
    let plain = env.dir().join("plain.bin");
    write_file(&plain, b"precious data", 0o644);
    for args in [
        vec!["mkfs", "--size", "64m", plain.to_str().unwrap()],
        vec!["mkfs", "--force", "--size", "64m", plain.to_str().unwrap()],
    ] {
        let err = env.fail(&args);
        assert_msg(&err, "mkfs", &[plain.to_str().unwrap()]);
        assert_eq!(fs::read(&plain).unwrap(), b"precious data", "{args:?}");
    }
    // An existing region with a file system is not overwritten either.
    let r = env.region("64m");
    env.ok(&["mkdir", &r.p("keep")]);
    let before = r.meta();
    env.fail(&["mkfs", "--size", "64m", r.dev_str()]);
    assert_meta_unchanged(&r, &before, "mkfs --size on an existing region");
    assert_eq!(fs::metadata(&r.dev).unwrap().len(), 64 * MIB);
}

#[test]
fn mkfs_refuses_a_valid_fs_without_force() {
    let env = Env::new();
    let r = env.region("64m");
    env.ok(&["mkdir", &r.p("d")]);
    let err = fail_unchanged(&env, &r, &["mkfs", r.dev_str()], &["--force"]);
    assert!(err.contains(r.dev_str()), "{err}");
    let old_uuid = format_uuid(&r.meta()[48..64]);

    env.ok(&["mkfs", "--force", r.dev_str()]);
    let meta = r.meta();
    let new_uuid = format_uuid(&meta[48..64]);
    assert_ne!(old_uuid, new_uuid, "mkfs --force must write a new fs uuid");
    assert_eq!(
        le_u64(&meta, (LOG_OFFSET as usize) + log_off::NEXT_INDEX),
        0
    );
    assert!(
        meta[LOG_OFFSET as usize + LOG_HEADER_SIZE as usize..]
            .iter()
            .all(|&b| b == 0),
        "the old log entries must be wiped"
    );

    // The old mount now points at another file system: refused.
    let err = env.fail(&["ls", &r.mnt]);
    assert_msg(&err, "ls", &["reformatted"]);
    env.ok(&["umount", &r.mnt]);
    let r2 = env.mount(&r.dev);
    assert!(ls_names(&env, &r2.mnt).is_empty(), "fresh fs must be empty");
}

#[test]
fn mkfs_kill_then_mount_fails() {
    let env = Env::new();
    let r = env.region("64m");
    env.ok(&["mkdir", &r.p("d")]);
    env.ok(&["mkfs", "--kill", r.dev_str()]);
    let sb = read_range(&r.dev, 0, 200);
    assert!(
        famfs_core::format::Superblock::decode(&sb).is_err(),
        "mkfs --kill must invalidate the superblock"
    );
    env.ok(&["umount", &r.mnt]);
    let mnt = virtual_mountpoint();
    let err = env.fail(&["mount", r.dev_str(), &mnt]);
    assert_msg(&err, "mount", &["superblock"]);
    assert_eq!(
        env.ok(&["mounts"]).trim(),
        "",
        "a failed mount records nothing"
    );
    let err = env.fail(&["fsck", r.dev_str()]);
    assert!(err.to_lowercase().contains("superblock"), "{err}");
    // mkfs without --force works again on a killed device.
    env.ok(&["mkfs", r.dev_str()]);
    env.mount(&r.dev);
}

#[test]
fn mkfs_loglen_checks() {
    let env = Env::new();
    let r = env.region("64m");
    for bad in ["12345", "4m", "9m", "0", "x"] {
        let before = r.meta();
        let out = env.famfs(&["mkfs", "--force", "--loglen", bad, r.dev_str()]);
        assert!(
            matches!(out.code(), Some(1 | 2)),
            "--loglen {bad} should be refused: {}",
            out.describe()
        );
        assert_meta_unchanged(&r, &before, &format!("mkfs --loglen {bad}"));
    }
    // --size with a bad --loglen creates nothing.
    let dev = env.path("bad-loglen.img");
    let out = env.famfs(&["mkfs", "--size", "64m", "--loglen", "12345", &dev]);
    assert!(!out.success(), "{}", out.describe());
    assert!(
        !Path::new(&dev).exists(),
        "mkfs --size with a bad --loglen left {dev} behind"
    );

    // A 16 MiB log holds (16 MiB - 48) / 544 = 30840 entries.
    let dev = env.path("big-log.img");
    let out = env.ok(&["mkfs", "--size", "64m", "--loglen", "16m", &dev]);
    assert!(out.contains("30840"), "{out}");
    let sb = read_range(Path::new(&dev), 0, 200);
    assert_eq!(le_u64(&sb, 24), 16 * MIB);
    assert_eq!(fsck_log_entries(&env, &dev), (0, 30840));
    let r = env.mount(Path::new(&dev));
    env.ok(&["creat", "-s", "1", &r.p("f")]);
    // The first file goes right after the 16 MiB log.
    assert_eq!(device_offset_of(&env, &r.p("f"), 0), 18 * MIB);
}

#[test]
fn mkfs_missing_device_and_too_small() {
    let env = Env::new();
    let missing = env.path("no/such/dir/dev");
    let err = env.fail(&["mkfs", &missing]);
    assert_msg(&err, "mkfs", &[&missing]);
    let err = env.fail(&["mkfs", "--size", "64m", &missing]);
    assert_msg(&err, "mkfs", &[&missing]);
    assert!(!Path::new(&missing).exists());
    // Superblock region + log + one allocation unit is the minimum.
    let small = env.path("small.img");
    let err = env.fail(&["mkfs", "--size", "10m", &small]);
    assert_msg(&err, "mkfs", &[]);
    assert!(
        !Path::new(&small).exists() || read_range(Path::new(&small), 0, 8) == [0; 8],
        "a too-small region must not get a superblock"
    );
}

// ---------------------------------------------------------------------------
// mount, umount, mounts

#[test]
fn mount_umount_mounts() {
    let env = Env::new();
    let dev = env.mkfs_region("64m");
    let mnt = virtual_mountpoint();
    assert!(!Path::new(&mnt).exists());
    env.ok(&["mount", dev.to_str().unwrap(), &mnt]);
    assert!(
        !Path::new(&mnt).exists(),
        "mount must not create the mount point"
    );
    let fs_uuid = format_uuid(&read_range(&dev, 48, 16));
    let listed = env.ok(&["mounts"]);
    let line = listed
        .lines()
        .find(|l| l.contains(&mnt))
        .unwrap_or_else(|| panic!("mount not listed:\n{listed}"));
    let canon = fs::canonicalize(&dev).unwrap();
    assert!(
        line.starts_with(&format!(
            "{} on {mnt} (uuid {fs_uuid}, mounted at ",
            canon.display()
        )),
        "mounts line: {line:?}"
    );

    // Double mounts are refused.
    let err = env.fail(&["mount", dev.to_str().unwrap(), &mnt]);
    assert_msg(&err, "mount", &[&mnt]);
    let other = virtual_mountpoint();
    let err = env.fail(&["mount", dev.to_str().unwrap(), &other]);
    assert_msg(&err, "mount", &["already mounted"]);
    let dev2 = env.mkfs_region("64m");
    env.fail(&["mount", dev2.to_str().unwrap(), &mnt]);
    // Nested mount points are refused too.
    env.fail(&["mount", dev2.to_str().unwrap(), &format!("{mnt}/sub")]);
    assert_eq!(env.ok(&["mounts"]).lines().count(), 1);

    // Relative device paths are recorded canonically.
    let mnt2 = virtual_mountpoint();
    let rel = dev2.file_name().unwrap().to_str().unwrap();
    env.ok(&["mount", rel, &mnt2]);
    let listed = env.ok(&["mounts"]);
    assert!(
        listed.contains(&format!(
            "{} on {mnt2} ",
            fs::canonicalize(&dev2).unwrap().display()
        )),
        "{listed}"
    );

    env.ok(&["umount", &mnt]);
    env.ok(&["umount", &mnt2]);
    assert_eq!(env.ok(&["mounts"]).trim(), "");
    let err = env.fail(&["umount", &mnt]);
    assert_msg(&err, "umount", &[&mnt]);
    let err = env.fail(&["umount", "/famfs-test-never-mounted"]);
    assert_msg(&err, "umount", &["/famfs-test-never-mounted"]);
    // Paths under an unmounted mount point are no longer famfs paths.
    let err = env.fail(&["ls", &mnt]);
    assert_msg(&err, "ls", &["not under any famfs mount point"]);
}

#[test]
fn mount_missing_device_records_nothing() {
    let env = Env::new();
    let missing = env.path("missing.img");
    let mnt = virtual_mountpoint();
    let err = env.fail(&["mount", &missing, &mnt]);
    assert_msg(&err, "mount", &[&missing]);
    assert_eq!(env.ok(&["mounts"]).trim(), "");
    // A file that is not a famfs device.
    let junk = env.dir().join("junk.img");
    write_file(&junk, &vec![0x5a; 12 << 20], 0o644);
    let err = env.fail(&["mount", junk.to_str().unwrap(), &mnt]);
    assert_msg(&err, "mount", &["superblock"]);
    assert_eq!(env.ok(&["mounts"]).trim(), "");
}

// ---------------------------------------------------------------------------
// mkdir

#[test]
fn mkdir_plain_parents_modes_and_owners() {
    let env = Env::new();
    let r = env.region("64m");
    let (uid, gid) = me();
    env.ok(&["mkdir", &r.p("a")]);
    let a = ls_entry(&env, &r.mnt, "a");
    assert_eq!((a.mode.as_str(), a.uid, a.gid), ("drwxr-xr-x", uid, gid));

    env.ok(&["mkdir", "-p", &r.p("p/q/r/s")]);
    assert_eq!(ls_names(&env, &r.p("p/q/r")), ["s"]);
    assert_eq!(ls_entry(&env, &r.p("p/q"), "r").mode, "drwxr-xr-x");
    // -p on an existing tree is fine and logs nothing.
    let before = r.meta();
    env.ok(&["mkdir", "-p", &r.p("p/q/r/s")]);
    env.ok(&["mkdir", "-p", &r.p("p")]);
    assert_meta_unchanged(&r, &before, "mkdir -p of existing dirs");

    env.ok(&[
        "mkdir",
        "-m",
        "0700",
        "-u",
        "1000",
        "-g",
        "1001",
        &r.p("a/private"),
    ]);
    let p = ls_entry(&env, &r.p("a"), "private");
    assert_eq!((p.mode.as_str(), p.uid, p.gid), ("drwx------", 1000, 1001));
    env.ok(&["mkdir", "-m", "751", &r.p("a/m751")]);
    assert_eq!(ls_entry(&env, &r.p("a"), "m751").mode, "drwxr-x--x");

    // Several paths in one command.
    env.ok(&["mkdir", &r.p("x"), &r.p("y"), &r.p("x/z")]);
    assert_eq!(ls_names(&env, &r.mnt), ["a", "p", "x", "y"]);
    assert_eq!(ls_names(&env, &r.p("x")), ["z"]);

    // Trailing slashes and dot components are normalised.
    env.ok(&["mkdir", &format!("{}/./x/../w/", r.mnt)]);
    assert!(ls_names(&env, &r.mnt).contains(&"w".to_string()));
    assert_eq!(log_next_index(&r.dev), 11);
}

#[test]
fn mkdir_errors_change_nothing() {
    let env = Env::new();
    let r = env.region("64m");
    env.ok(&["mkdir", &r.p("d")]);
    env.ok(&["creat", "-s", "4k", &r.p("f")]);
    fail_unchanged(&env, &r, &["mkdir", &r.p("d")], &["exists"]);
    fail_unchanged(&env, &r, &["mkdir", &r.p("f")], &["exists"]);
    fail_unchanged(&env, &r, &["mkdir", &r.p("nope/sub")], &["no such file"]);
    fail_unchanged(&env, &r, &["mkdir", &r.p("f/sub")], &["not a directory"]);
    fail_unchanged(
        &env,
        &r,
        &["mkdir", "-p", &r.p("f/sub/deeper")],
        &["not a directory"],
    );
    let before = r.meta();
    env.fail_code(&["mkdir", "-m", "9", &r.p("bad-mode")], 2);
    assert_meta_unchanged(&r, &before, "mkdir -m 9");
    let outside = env.path("not-famfs");
    fail_unchanged(
        &env,
        &r,
        &["mkdir", &outside],
        &["not under any famfs mount point"],
    );
    assert!(!Path::new(&outside).exists());
    // The mount point itself exists.
    let before = r.meta();
    env.fail(&["mkdir", &r.mnt]);
    assert_meta_unchanged(&r, &before, "mkdir MOUNTPOINT");
}

// ---------------------------------------------------------------------------
// creat

#[test]
fn creat_zero_content() {
    let env = Env::new();
    let r = env.region("64m");
    let (uid, gid) = me();
    env.ok(&["creat", "-s", "10000", &r.p("z")]);
    let data = env.ok_bytes(&["cat", &r.p("z")]);
    assert_eq!(data.len(), 10000);
    assert!(
        data.iter().all(|&b| b == 0),
        "creat without -r must give zeros"
    );
    let e = ls_entry(&env, &r.mnt, "z");
    assert_eq!(
        e,
        LsEntry {
            mode: "-rw-r--r--".into(),
            uid,
            gid,
            size: 10000,
            name: "z".into()
        }
    );
    // Space is zeroed even where a former file system left data.
    let dev = r.dev.clone();
    let off = device_offset_of(&env, &r.p("z"), 0);
    write_range(&dev, off + 2 * MIB + 5, b"stale"); // the next unit
    env.ok(&["creat", "-s", "3m", &r.p("z2")]);
    let z2 = env.ok_bytes(&["cat", &r.p("z2")]);
    assert!(
        z2.iter().all(|&b| b == 0),
        "stale bytes leaked into a new file"
    );
}

#[test]
fn creat_random_and_verify() {
    let env = Env::new();
    let r = env.region("64m");
    let size = 3 * MIB + 5;
    env.ok(&[
        "creat",
        "-r",
        "-S",
        "7",
        "-s",
        &size.to_string(),
        &r.p("rnd"),
    ]);
    env.ok(&["verify", "-S", "7", "-f", &r.p("rnd")]);
    let data = env.ok_bytes(&["cat", &r.p("rnd")]);
    assert_bytes_eq("creat -r -S 7", &data, &pattern(7, size as usize), 0);
    let err = env.fail(&["verify", "-S", "8", "-f", &r.p("rnd")]);
    assert!(
        err.contains(&format!("{}: mismatch at offset 0", r.p("rnd"))),
        "{err}"
    );

    // Contract test vectors through the CLI.
    env.ok(&["creat", "-r", "-S", "1", "-s", "16", &r.p("v1")]);
    assert_eq!(
        hex(&env.ok_bytes(&["cat", &r.p("v1")])),
        "284991ee66b6fb343a87ca18de441778"
    );
    env.ok(&["creat", "-r", "-S", "42", "-s", "16", &r.p("v42")]);
    assert_eq!(
        hex(&env.ok_bytes(&["cat", &r.p("v42")])),
        "985f52e27afb0c3df88c822b402249e5"
    );

    // -r without -S picks a seed and prints it.
    let out = env.ok(&["creat", "-r", "-s", "100000", &r.p("auto")]);
    let seed: u32 = out
        .split(|c: char| !c.is_ascii_digit())
        .filter(|t| !t.is_empty())
        .find_map(|t| {
            let s: u32 = t.parse().ok()?;
            (pattern(s, 100_000) == env.ok_bytes(&["cat", &r.p("auto")])).then_some(s)
        })
        .unwrap_or_else(|| panic!("creat -r did not print the seed it used: {out:?}"));
    env.ok(&["verify", "-S", &seed.to_string(), "-f", &r.p("auto")]);
    // verify on a zero file fails at the first non-pattern byte.
    env.ok(&["creat", "-s", "4k", &r.p("zeros")]);
    let err = env.fail(&["verify", "-S", "1", "-f", &r.p("zeros")]);
    assert!(err.contains("mismatch at offset"), "{err}");
}

#[test]
fn creat_same_size_is_a_noop_other_size_fails() {
    let env = Env::new();
    let r = env.region("64m");
    env.ok(&["creat", "-r", "-S", "5", "-s", "5000", &r.p("f")]);
    let before = r.meta();
    // Same size (or none given): exit 0, nothing logged; without a seed the
    // content is untouched.
    env.ok(&["creat", "-s", "5000", &r.p("f")]);
    env.ok(&["creat", &r.p("f")]);
    env.ok(&["verify", "-S", "5", "-f", &r.p("f")]);
    // With a seed the file is re-randomized in place, as the reference CLI
    // does, with or without -s.
    env.ok(&["creat", "-r", "-S", "9", "-s", "5000", &r.p("f")]);
    env.ok(&["verify", "-S", "9", "-f", &r.p("f")]);
    env.fail(&["verify", "-S", "5", "-f", &r.p("f")]);
    env.ok(&["creat", "-r", "-S", "0x5", &r.p("f")]);
    env.ok(&["verify", "-S", "5", "-f", &r.p("f")]);
    assert_meta_unchanged(&r, &before, "re-creat with the same size");
    let err = fail_unchanged(
        &env,
        &r,
        &["creat", "-s", "5001", &r.p("f")],
        &["5000", "5001"],
    );
    assert!(err.contains("f"), "{err}");
    fail_unchanged(&env, &r, &["creat", "-s", "4k", &r.p("f")], &[]);
}

#[test]
fn creat_size_suffixes() {
    let env = Env::new();
    let r = env.region("128m");
    for (spec, bytes) in [
        ("1500", 1500u64),
        ("4k", 4096),
        ("4K", 4096),
        ("2m", 2 * MIB),
        ("3M", 3 * MIB),
    ] {
        let name = format!("s_{spec}");
        env.ok(&["creat", "-s", spec, &r.p(&name)]);
        assert_eq!(ls_entry(&env, &r.mnt, &name).size, bytes, "-s {spec}");
    }
    let out = env.famfs(&["creat", "-s", "1g", &r.p("too_big")]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    assert_msg(&out.stderr, "creat", &["out of space"]);
    for bad in ["0", "12x", "1.5m", "-4", ""] {
        let before = r.meta();
        let out = env.famfs(&["creat", "-s", bad, &r.p("bad")]);
        assert!(
            matches!(out.code(), Some(1 | 2)),
            "-s {bad:?} should be refused: {}",
            out.describe()
        );
        assert_meta_unchanged(&r, &before, &format!("creat -s {bad:?}"));
    }
}

#[test]
fn creat_path_length_limit() {
    let env = Env::new();
    let r = env.region("64m");
    env.ok(&["mkdir", &r.p("d")]);
    // 79 bytes relative to the mount: fine.
    let ok79 = format!("d/{}", "a".repeat(77));
    assert_eq!(ok79.len(), 79);
    env.ok(&["creat", "-s", "1", &r.p(&ok79)]);
    assert_eq!(ls_names(&env, &r.p("d")), ["a".repeat(77)]);
    // 80 bytes: refused, never truncated, nothing logged.
    let long80 = format!("d/{}", "b".repeat(78));
    let (used, total) = fsck_log_entries(&env, &r.mnt);
    assert_eq!((used, total), (2, 15420));
    let err = fail_unchanged(&env, &r, &["creat", "-s", "1", &r.p(&long80)], &["79"]);
    assert!(
        err.contains(&"b".repeat(78)),
        "message should show the path: {err}"
    );
    assert_eq!(fsck_log_entries(&env, &r.mnt), (used, total));
    fail_unchanged(&env, &r, &["mkdir", &r.p(&long80)], &["79"]);
    fail_unchanged(
        &env,
        &r,
        &["mkdir", "-p", &r.p(&format!("{long80}/x"))],
        &["79"],
    );
    let src = env.dir().join("src.bin");
    write_file(&src, b"x", 0o644);
    fail_unchanged(
        &env,
        &r,
        &["cp", src.to_str().unwrap(), &r.p(&long80)],
        &["79"],
    );
    assert_eq!(fsck_log_entries(&env, &r.mnt), (used, total));
    assert!(!ls_names(&env, &r.p("d")).iter().any(|n| n.starts_with('b')));
}

// ---------------------------------------------------------------------------
// cp

#[test]
fn cp_single_file_and_into_dirs() {
    let env = Env::new();
    let r = env.region("64m");
    let (uid, gid) = me();
    let src = env.dir().join("five_k.bin");
    write_file(&src, &[b'A'; 5000], 0o644);
    let s = src.to_str().unwrap();
    env.ok(&["cp", s, &r.p("copy.bin")]);
    assert_eq!(env.ok_bytes(&["cat", &r.p("copy.bin")]), vec![b'A'; 5000]);
    assert_eq!(
        ls_entry(&env, &r.mnt, "copy.bin"),
        LsEntry {
            mode: "-rw-r--r--".into(),
            uid,
            gid,
            size: 5000,
            name: "copy.bin".into()
        }
    );
    // Into an existing directory, with or without a trailing slash.
    env.ok(&["mkdir", &r.p("d1"), &r.p("d2")]);
    env.ok(&["cp", s, &r.p("d1")]);
    env.ok(&["cp", s, &format!("{}/", r.p("d2"))]);
    assert_eq!(ls_names(&env, &r.p("d1")), ["five_k.bin"]);
    assert_eq!(ls_names(&env, &r.p("d2")), ["five_k.bin"]);
    assert_eq!(
        env.ok_bytes(&["cat", &r.p("d2/five_k.bin")]),
        vec![b'A'; 5000]
    );
    // A trailing slash on a missing directory is an error, nothing created.
    fail_unchanged(&env, &r, &["cp", s, &format!("{}/", r.p("nodir"))], &[]);
    // Empty files have no extent: famfs files are at least one byte.
    let empty = env.dir().join("empty");
    write_file(&empty, b"", 0o644);
    let out = env.famfs(&["cp", empty.to_str().unwrap(), &r.p("empty")]);
    if out.success() {
        assert_eq!(ls_entry(&env, &r.mnt, "empty").size, 0);
        assert_eq!(env.ok_bytes(&["cat", &r.p("empty")]), b"");
    }
    // -v names what it copies.
    let out = env.ok(&["cp", "-v", s, &r.p("verbose.bin")]);
    assert!(out.contains("verbose.bin"), "cp -v: {out:?}");
    // A larger file spanning several allocation units.
    let big = env.dir().join("big.bin");
    let data = pattern(77, (5 * MIB + 123) as usize);
    write_file(&big, &data, 0o644);
    env.ok(&["cp", big.to_str().unwrap(), &r.p("big.bin")]);
    assert_bytes_eq("cp big", &env.ok_bytes(&["cat", &r.p("big.bin")]), &data, 0);
    env.ok(&["verify", "-S", "77", "-f", &r.p("big.bin")]);
}

#[test]
fn cp_multiple_sources_into_a_dir() {
    let env = Env::new();
    let r = env.region("64m");
    let mut srcs = Vec::new();
    for (i, name) in ["one", "two", "three"].iter().enumerate() {
        let p = env.dir().join(name);
        write_file(&p, &pattern(i as u32, 1000 + i * 777), 0o644);
        srcs.push(p.to_string_lossy().into_owned());
    }
    env.ok(&["mkdir", &r.p("dest")]);
    let mut args: Vec<&str> = vec!["cp"];
    args.extend(srcs.iter().map(String::as_str));
    args.push(&r.mnt);
    let dest = r.p("dest");
    *args.last_mut().unwrap() = &dest;
    env.ok(&args);
    assert_eq!(ls_names(&env, &dest), ["one", "three", "two"]);
    for (i, name) in ["one", "two", "three"].iter().enumerate() {
        assert_eq!(
            env.ok_bytes(&["cat", &r.p(&format!("dest/{name}"))]),
            pattern(i as u32, 1000 + i * 777)
        );
    }
    // Several sources need an existing directory.
    let missing = r.p("missing");
    *args.last_mut().unwrap() = &missing;
    fail_unchanged(&env, &r, &args, &[]);
    env.ok(&["creat", "-s", "1", &r.p("file")]);
    let file = r.p("file");
    *args.last_mut().unwrap() = &file;
    fail_unchanged(&env, &r, &args, &["not a directory"]);
}

#[test]
fn cp_recursive() {
    let env = Env::new();
    let r = env.region("64m");
    let tree = env.dir().join("tree");
    write_file(&tree.join("x"), b"xx", 0o644);
    write_file(&tree.join("sub/y"), &pattern(3, 70_000), 0o600);
    write_file(&tree.join("sub/deeper/z"), b"zzz", 0o755);
    fs::create_dir_all(tree.join("emptydir")).unwrap();
    let t = tree.to_str().unwrap();

    // Existing DIR: DIR/basename(SRC) with the whole tree.
    env.ok(&["mkdir", &r.p("dest")]);
    env.ok(&["cp", "-r", t, &r.p("dest")]);
    assert_eq!(ls_names(&env, &r.p("dest")), ["tree"]);
    let check = |base: &str| {
        assert_eq!(
            ls_names(&env, &r.p(base)),
            ["emptydir", "sub", "x"],
            "{base}"
        );
        assert_eq!(
            ls_names(&env, &r.p(&format!("{base}/sub"))),
            ["deeper", "y"]
        );
        assert_eq!(env.ok_bytes(&["cat", &r.p(&format!("{base}/x"))]), b"xx");
        assert_eq!(
            env.ok_bytes(&["cat", &r.p(&format!("{base}/sub/y"))]),
            pattern(3, 70_000)
        );
        assert_eq!(
            env.ok_bytes(&["cat", &r.p(&format!("{base}/sub/deeper/z"))]),
            b"zzz"
        );
        assert_eq!(
            ls_entry(&env, &r.p(&format!("{base}/sub")), "y").mode,
            "-rw-------"
        );
        assert_eq!(
            ls_entry(&env, &r.p(&format!("{base}/sub/deeper")), "z").mode,
            "-rwxr-xr-x"
        );
        assert_eq!(
            ls_entry(&env, &r.p(base), "sub").mode.chars().next(),
            Some('d')
        );
    };
    check("dest/tree");
    // Missing DIR: created, holding SRC's contents.
    env.ok(&["cp", "-r", t, &r.p("fresh")]);
    check("fresh");
    // Into the mount point itself.
    env.ok(&["cp", "-r", t, &r.mnt]);
    check("tree");
}

#[test]
fn cp_restart_rewrites_same_size_file() {
    let env = Env::new();
    let r = env.region("64m");
    let src = env.dir().join("src.bin");
    write_file(&src, &pattern(1, 300_000), 0o644);
    let s = src.to_str().unwrap();
    env.ok(&["cp", s, &r.p("f")]);
    assert_eq!(env.ok_bytes(&["cat", &r.p("f")]), pattern(1, 300_000));
    // Same size, new contents: rewritten in place, nothing logged.
    write_file(&src, &pattern(2, 300_000), 0o644);
    let before = r.meta();
    env.ok(&["cp", s, &r.p("f")]);
    assert_meta_unchanged(&r, &before, "restarted cp");
    assert_eq!(env.ok_bytes(&["cat", &r.p("f")]), pattern(2, 300_000));
    // Other size: error, contents untouched.
    write_file(&src, &pattern(3, 300_001), 0o644);
    fail_unchanged(&env, &r, &["cp", s, &r.p("f")], &["300000", "300001"]);
    assert_eq!(env.ok_bytes(&["cat", &r.p("f")]), pattern(2, 300_000));
}

#[test]
fn cp_modes_owners_and_umask() {
    let env = Env::new();
    let r = env.region("64m");
    let (uid, gid) = me();
    for (name, mode, want) in [
        ("m755", 0o755, "-rwxr-xr-x"),
        ("m666", 0o666, "-rw-r--r--"),
        ("m600", 0o600, "-rw-------"),
        ("m777", 0o777, "-rwxr-xr-x"),
    ] {
        let p = env.dir().join(name);
        write_file(&p, name.as_bytes(), mode);
        env.ok(&["cp", p.to_str().unwrap(), &r.p(name)]);
        let e = ls_entry(&env, &r.mnt, name);
        assert_eq!((e.mode.as_str(), e.uid, e.gid), (want, uid, gid), "{name}");
    }
    let p = env.dir().join("m755");
    env.ok(&[
        "cp",
        "-m",
        "0640",
        "-u",
        "1234",
        "-g",
        "4321",
        p.to_str().unwrap(),
        &r.p("forced"),
    ]);
    let e = ls_entry(&env, &r.mnt, "forced");
    assert_eq!((e.mode.as_str(), e.uid, e.gid), ("-rw-r-----", 1234, 4321));
    // Symlinks are followed.
    let link = env.dir().join("link");
    std::os::unix::fs::symlink(&p, &link).unwrap();
    env.ok(&["cp", link.to_str().unwrap(), &r.p("via_link")]);
    assert_eq!(env.ok_bytes(&["cat", &r.p("via_link")]), b"m755");
}

#[test]
fn cp_directory_without_r_is_omitted() {
    let env = Env::new();
    let r = env.region("64m");
    let dir = env.dir().join("adir");
    write_file(&dir.join("inner"), b"inner", 0o644);
    let file = env.dir().join("afile");
    write_file(&file, b"afile", 0o644);
    env.ok(&["mkdir", &r.p("d")]);
    let out = env.famfs(&[
        "cp",
        dir.to_str().unwrap(),
        file.to_str().unwrap(),
        &r.p("d"),
    ]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    assert!(
        out.stderr.contains("omitting directory"),
        "{}",
        out.describe()
    );
    assert!(
        out.stderr.contains(dir.to_str().unwrap()),
        "{}",
        out.describe()
    );
    // The rest was copied.
    assert_eq!(ls_names(&env, &r.p("d")), ["afile"]);
    assert_eq!(env.ok_bytes(&["cat", &r.p("d/afile")]), b"afile");
}

#[test]
fn cp_errors() {
    let env = Env::new();
    let r = env.region("64m");
    let src = env.dir().join("src");
    write_file(&src, b"data", 0o644);
    let s = src.to_str().unwrap();
    // Destination outside any famfs mount.
    let outside = env.path("plain-dest");
    fail_unchanged(
        &env,
        &r,
        &["cp", s, &outside],
        &["not under any famfs mount point"],
    );
    assert!(!Path::new(&outside).exists());
    // Missing source.
    let missing = env.path("nope");
    fail_unchanged(&env, &r, &["cp", &missing, &r.p("x")], &[&missing]);
    // Not a regular file.
    fail_unchanged(&env, &r, &["cp", "/dev/null", &r.p("null")], &["/dev/null"]);
    // Missing parent directory in famfs.
    fail_unchanged(&env, &r, &["cp", s, &r.p("no/such/dir/x")], &[]);
    // Usage: one argument.
    let out = env.famfs(&["cp", s]);
    assert!(matches!(out.code(), Some(1 | 2)), "{}", out.describe());
}

// ---------------------------------------------------------------------------
// verify

#[test]
fn verify_reports_the_corrupted_offset() {
    let env = Env::new();
    let r = env.region("64m");
    let size = 5 * MIB + 999;
    env.ok(&["creat", "-r", "-S", "3", "-s", &size.to_string(), &r.p("f")]);
    env.ok(&["verify", "-S", "3", "-f", &r.p("f")]);
    for file_off in [3 * MIB + 17, size - 1, 0] {
        let dev_off = device_offset_of(&env, &r.p("f"), file_off);
        flip_byte(&r.dev, dev_off);
        let out = env.famfs(&["verify", "-S", "3", "-f", &r.p("f")]);
        assert_eq!(out.code(), Some(1), "{}", out.describe());
        assert!(
            out.stderr
                .contains(&format!("{}: mismatch at offset {file_off}", r.p("f"))),
            "expected offset {file_off}: {}",
            out.describe()
        );
        flip_byte(&r.dev, dev_off);
        env.ok(&["verify", "-S", "3", "-f", &r.p("f")]);
    }
    let err = env.fail(&["verify", "-S", "3", "-f", &r.p("missing")]);
    assert!(err.contains("missing"), "{err}");
    env.ok(&["mkdir", &r.p("dir")]);
    let err = env.fail(&["verify", "-S", "3", "-f", &r.p("dir")]);
    assert!(err.to_lowercase().contains("directory"), "{err}");
}

// ---------------------------------------------------------------------------
// ls, stat, cat, df, getmap

#[test]
fn ls_lists_sorted_with_details() {
    let mut env = Env::new();
    let r = env.region("64m");
    let (uid, gid) = me();
    env.ok(&["mkdir", &r.p("zeta"), &r.p("alpha"), &r.p("Mid")]);
    env.ok(&["creat", "-s", "123", &r.p("beta")]);
    env.ok(&[
        "creat",
        "-s",
        "7",
        "-m",
        "0640",
        "-u",
        "5",
        "-g",
        "6",
        &r.p("alpha/f"),
    ]);
    let names = ls_names(&env, &r.mnt);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert_eq!(names.len(), 4);
    for n in ["zeta", "alpha", "Mid", "beta"] {
        assert!(names.contains(&n.to_string()), "{n} missing: {names:?}");
    }
    let long = ls_l(&env, &r.mnt);
    assert_eq!(long.len(), 4);
    let beta = long.iter().find(|e| e.name == "beta").unwrap();
    assert_eq!(
        (beta.mode.as_str(), beta.uid, beta.gid, beta.size),
        ("-rw-r--r--", uid, gid, 123)
    );
    assert!(long
        .iter()
        .filter(|e| e.name != "beta")
        .all(|e| e.mode == "drwxr-xr-x"));
    assert_eq!(
        ls_l(&env, &r.p("alpha")),
        [LsEntry {
            mode: "-rw-r-----".into(),
            uid: 5,
            gid: 6,
            size: 7,
            name: "f".into()
        }]
    );
    // ls of a file names the file.
    let out = env.ok(&["ls", &r.p("beta")]);
    assert!(out.lines().any(|l| l.trim().ends_with("beta")), "{out}");
    let out = env.ok(&["ls", "-ln", &r.p("alpha/f")]);
    assert_eq!(parse_ls_l(&out).len(), 1, "{out}");
    assert_eq!(parse_ls_l(&out)[0].size, 7);
    // Several paths.
    let out = env.ok(&["ls", &r.p("alpha"), &r.p("zeta")]);
    assert!(out.contains('f'), "{out}");
    // Errors.
    let err = env.fail(&["ls", &r.p("nope")]);
    assert_msg(&err, "ls", &["nope", "no such file"]);

    // Relative paths resolve against the cwd; PATH defaults to the cwd.
    let real = env.dir().join("realmnt");
    fs::create_dir(&real).unwrap();
    let r2 = Region {
        dev: env.mkfs_region("64m"),
        mnt: real.to_string_lossy().into_owned(),
    };
    env.ok(&["mount", r2.dev_str(), &r2.mnt]);
    env.ok(&["mkdir", &r2.p("in_real")]);
    env.ok(&["creat", "-s", "1", &r2.p("in_real/file")]);
    env.set_cwd(&real);
    assert_eq!(env.ok(&["ls"]).trim(), "in_real");
    assert_eq!(env.ok(&["ls", "in_real"]).trim(), "file");
    env.ok(&["mkdir", "rel_dir"]);
    assert_eq!(
        env.ok(&["ls", "in_real/../rel_dir/.."])
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["in_real", "rel_dir"]
    );
    assert_eq!(env.ok(&["ls", "./in_real//"]).trim(), "file");
    assert!(
        fs::read_dir(&real).unwrap().next().is_none(),
        "famfs must not touch the kernel directory"
    );
}

#[test]
fn stat_reports_everything() {
    let env = Env::new();
    let r = env.region("64m");
    env.ok(&["mkdir", "-m", "0711", "-u", "10", "-g", "20", &r.p("d")]);
    env.ok(&[
        "creat",
        "-s",
        "3m",
        "-m",
        "0604",
        "-u",
        "30",
        "-g",
        "40",
        &r.p("d/f"),
    ]);
    let out = env.ok(&["stat", &r.p("d/f")]);
    let low = out.to_lowercase();
    assert!(
        out.contains(&r.p("d/f")) || out.contains("d/f"),
        "path: {out}"
    );
    assert!(low.contains("file"), "type: {out}");
    assert!(out.contains(&(3 * MIB).to_string()), "size: {out}");
    assert!(out.contains("604"), "mode: {out}");
    assert_eq!(number_after(&out, "uid"), 30, "{out}");
    assert_eq!(number_after(&out, "gid"), 40, "{out}");
    assert!(low.contains("inode"), "inode: {out}");
    assert!(
        out.contains(&(4 * MIB).to_string()),
        "allocated bytes (2 units): {out}"
    );
    assert!(low.contains("extent"), "extent count: {out}");
    let out = env.ok(&["stat", &r.p("d")]);
    let low = out.to_lowercase();
    assert!(low.contains("dir"), "type: {out}");
    assert!(out.contains("711"), "mode: {out}");
    assert_eq!(number_after(&out, "uid"), 10, "{out}");
    assert_eq!(number_after(&out, "gid"), 20, "{out}");
    // Inodes are stable across commands (log order) and distinct.
    let ino_f = number_after(&env.ok(&["stat", &r.p("d/f")]), "inode");
    let ino_d = number_after(&env.ok(&["stat", &r.p("d")]), "inode");
    assert_ne!(ino_f, ino_d);
    assert_eq!(
        ino_f,
        number_after(&env.ok(&["stat", &r.p("d/f")]), "inode")
    );
    let out = env.ok(&["stat", &r.mnt]);
    assert!(out.to_lowercase().contains("dir"), "{out}");
    let err = env.fail(&["stat", &r.p("d/none")]);
    assert_msg(&err, "stat", &["no such file"]);
    let err = env.fail(&["stat", &r.p("d/f/x")]);
    assert_msg(&err, "stat", &["not a directory"]);
}

#[test]
fn cat_concatenates_and_reports_errors() {
    let env = Env::new();
    let r = env.region("64m");
    let a = env.dir().join("a");
    write_file(&a, b"hello ", 0o644);
    let b = env.dir().join("b");
    write_file(&b, b"world\n", 0o644);
    env.ok(&["cp", a.to_str().unwrap(), b.to_str().unwrap(), &r.mnt]);
    assert_eq!(
        env.ok_bytes(&["cat", &r.p("a"), &r.p("b")]),
        b"hello world\n"
    );
    assert_eq!(
        env.ok_bytes(&["cat", &r.p("a"), &r.p("a")]),
        b"hello hello "
    );
    env.ok(&["mkdir", &r.p("d")]);
    let out = env.famfs(&["cat", &r.p("a"), &r.p("d"), &r.p("b")]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    assert_eq!(
        out.stdout_bytes, b"hello world\n",
        "cat carries on after an error"
    );
    assert!(
        out.stderr.to_lowercase().contains("is a directory"),
        "{}",
        out.describe()
    );
    let err = env.fail(&["cat", &r.p("missing")]);
    assert_msg(&err, "cat", &["missing"]);
    // A multi-unit file comes out whole.
    env.ok(&["creat", "-r", "-S", "11", "-s", "4194311", &r.p("big")]);
    let data = env.ok_bytes(&["cat", &r.p("big")]);
    assert_bytes_eq("cat big", &data, &pattern(11, 4_194_311), 0);
}

#[test]
fn df_reports_space_and_log() {
    let env = Env::new();
    let r = env.region("64m");
    let out = env.ok(&["df", &r.mnt]);
    assert!(out.contains(&r.mnt), "{out}");
    assert!(
        out.contains("0/15420") || out.contains("0 / 15420"),
        "log entries used/total: {out}"
    );
    env.ok(&["mkdir", &r.p("d")]);
    env.ok(&["creat", "-s", "5m", &r.p("d/f")]);
    let out = env.ok(&["df", &r.mnt]);
    assert!(
        out.contains("2/15420") || out.contains("2 / 15420"),
        "{out}"
    );
    // 64 MiB - 10 MiB metadata = 54 MiB of file space; 6 MiB used by d/f.
    let text = out.replace(',', "");
    let nums: Vec<u64> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|t| t.parse().ok())
        .collect();
    let has = |n: u64| nums.contains(&n) || nums.contains(&(n >> 10)) || nums.contains(&(n >> 20));
    assert!(has(6 * MIB) || has(16 * MIB), "used: {out}");
    assert!(has(48 * MIB), "free: {out}");
    assert!(out.contains('%'), "use%: {out}");
    // Without an argument: every mount.
    let r2 = env.region("64m");
    let all = env.ok(&["df"]);
    assert!(all.contains(&r.mnt) && all.contains(&r2.mnt), "{all}");
    let err = env.fail(&["df", "/famfs-test-nothing-here"]);
    assert!(err.contains("/famfs-test-nothing-here"), "{err}");
}

#[test]
fn getmap_plain_and_json() {
    let env = Env::new();
    let r = env.region("64m");
    env.ok(&["creat", "-s", "1", &r.p("a")]);
    env.ok(&["creat", "-s", "5m", &r.p("b")]);
    // First fit, contiguous, 2 MiB units: a at 10 MiB, b at 12 MiB (6 MiB).
    assert_eq!(device_offset_of(&env, &r.p("a"), 0), 10 * MIB);
    assert_eq!(device_offset_of(&env, &r.p("b"), 0), 12 * MIB);
    assert_eq!(device_offset_of(&env, &r.p("b"), 5 * MIB - 1), 17 * MIB - 1);
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["getmap", "--json", &r.p("b")])).unwrap();
    let exts = find_array(&v, "extents").unwrap();
    assert_eq!(exts.len(), 1, "{v}");
    assert_eq!(json_u64(&exts[0], &["len", "length"]), 6 * MIB);
    assert_eq!(json_u64(&exts[0], &["devindex", "dev_index", "device"]), 0);
    let text = env.ok(&["getmap", &r.p("b")]);
    let t = text.to_lowercase();
    assert!(
        t.contains(&(12 * MIB).to_string()) || t.contains(&format!("{:#x}", 12 * MIB)),
        "offset: {text}"
    );
    assert!(
        t.contains(&(6 * MIB).to_string()) || t.contains(&format!("{:#x}", 6 * MIB)),
        "length: {text}"
    );
    env.ok(&["mkdir", &r.p("d")]);
    let err = env.fail(&["getmap", &r.p("d")]);
    assert!(err.to_lowercase().contains("directory"), "{err}");
    env.fail(&["getmap", &r.p("none")]);
}

// ---------------------------------------------------------------------------
// logplay and fsck

/// A small tree: 2 dirs, 3 files (5 entries).
fn populate(env: &Env, r: &Region) {
    env.ok(&["mkdir", &r.p("d1")]);
    env.ok(&["mkdir", &r.p("d1/d2")]);
    env.ok(&["creat", "-s", "1", &r.p("f1")]);
    env.ok(&["creat", "-s", "3m", &r.p("d1/f2")]);
    env.ok(&["creat", "-r", "-S", "4", "-s", "4k", &r.p("d1/d2/f3")]);
}

#[test]
fn logplay_reports_and_writes_nothing() {
    let env = Env::new();
    let r = env.region("64m");
    populate(&env, &r);
    let before = r.meta();
    let out = env.ok(&["logplay", &r.mnt]);
    assert_eq!(number_after(&out, "entries"), 5, "{out}");
    assert_eq!(number_after(&out, "files"), 3, "{out}");
    assert_eq!(count_of(&out, &["directories", "dirs"]), 2, "{out}");
    assert_eq!(number_after(&out, "duplicate"), 0, "{out}");
    let out_n = env.ok(&["logplay", "-n", &r.mnt]);
    for p in ["d1", "d1/d2", "f1", "d1/f2", "d1/d2/f3"] {
        assert!(
            out_n.lines().any(|l| l.contains(p)),
            "logplay -n should list {p}:\n{out_n}"
        );
    }
    env.ok(&["logplay", "-v", &r.mnt]);
    env.ok(&["logplay", "-n", "-v", &r.mnt]);
    assert_meta_unchanged(&r, &before, "logplay");
    let err = env.fail(&["logplay", "/famfs-test-not-mounted"]);
    assert!(err.contains("/famfs-test-not-mounted"), "{err}");
}

#[test]
fn fsck_clean_counts_and_options() {
    let env = Env::new();
    let r = env.region("64m");
    populate(&env, &r);
    let before = r.meta();
    for target in [r.dev_str(), r.mnt.as_str()] {
        let out = env.ok(&["fsck", target]);
        let low = out.to_lowercase();
        assert!(low.contains("master"), "role: {out}");
        assert!(out.contains(env.uuid()), "system uuid: {out}");
        assert!(
            out.contains(&format_uuid(&before[48..64])),
            "fs uuid: {out}"
        );
        assert_eq!(fractions_on(&out, "log entries")[0], (5, 15420), "{out}");
        assert_eq!(number_after(&out, "files"), 3, "{out}");
        assert_eq!(count_of(&out, &["directories", "dirs"]), 2, "{out}");
        assert!(low.contains("collision"), "collisions line: {out}");
        assert!(low.contains("48"), "version: {out}");
        // 54 MiB capacity; 2 + 4 + 2 MiB allocated; 46 MiB free.
        assert!(
            out.contains(&(54 * MIB).to_string()),
            "capacity in bytes: {out}"
        );
        assert!(
            out.contains(&(46 * MIB).to_string()),
            "free in bytes: {out}"
        );
    }
    let h = env.ok(&["fsck", "-h", r.dev_str()]);
    assert!(
        h.contains("54 MiB") && h.contains("46 MiB"),
        "human units: {h}"
    );
    let v = env.ok(&["fsck", "-v", r.dev_str()]);
    for p in ["d1", "d1/d2", "f1", "d1/f2", "d1/d2/f3"] {
        assert!(
            v.lines().any(|l| l.contains(p)),
            "fsck -v should list {p}:\n{v}"
        );
    }
    let help = env.ok(&["fsck", "--help"]);
    assert!(help.contains("Usage"), "{help}");
    assert_meta_unchanged(&r, &before, "fsck");
    // Another host sees itself as a client.
    let client = Env::new();
    let out = client.ok(&["fsck", r.dev_str()]);
    assert!(out.to_lowercase().contains("client"), "{out}");
    assert!(!out.to_lowercase().contains("role: master"), "{out}");
}

#[test]
fn fsck_reports_allocation_collisions() {
    let env = Env::new();
    let r = env.region("64m");
    env.ok(&["creat", "-s", "2m", &r.p("a")]);
    env.ok(&["creat", "-s", "2m", &r.p("b")]);
    // Point b's extent at a's memory and re-seal the entry.
    let at = entry_offset(1);
    let mut e = read_range(&r.dev, at, LOG_ENTRY_SIZE as usize);
    let ext_ofs = entry_off::FMAP_EXTENTS + 8;
    assert_eq!(le_u64(&e, ext_ofs), 12 * MIB);
    e[ext_ofs..ext_ofs + 8].copy_from_slice(&(10 * MIB).to_le_bytes());
    let crc = u64::from(crc32(&e[..entry_off::CRC]));
    e[entry_off::CRC..].copy_from_slice(&crc.to_le_bytes());
    write_range(&r.dev, at, &e);
    let out = env.famfs(&["fsck", r.dev_str()]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    let all = format!("{}{}", out.stdout, out.stderr).to_lowercase();
    assert!(all.contains("collision"), "{}", out.describe());
    // a is still readable; b is refused.
    env.ok(&["cat", &r.p("a")]);
    env.fail(&["cat", &r.p("b")]);
}

// ---------------------------------------------------------------------------
// Error paths: usage, devices, damaged metadata

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    for args in [
        vec![],
        vec!["no-such-subcommand"],
        vec!["mkdir"],
        vec!["creat"],
        vec!["mkfs"],
        vec!["mkfs", "--bogus", "/tmp/x"],
        vec!["mount", "/tmp/x"],
        vec!["verify", "-f", "/famfs-test-x/f"],
        vec!["fsck", "--verbose-nonsense", "/tmp/x"],
    ] {
        let out = env.famfs(&args);
        assert_eq!(out.code(), Some(2), "{}", out.describe());
        assert!(!out.stderr.is_empty(), "{}", out.describe());
    }
    let out = env.famfs(&["help", "mkdir"]);
    assert!(out.success(), "{}", out.describe());
    assert!(out.stdout.contains("Usage"), "{}", out.describe());
    let out = env.famfs(&["--help"]);
    assert!(out.success(), "{}", out.describe());
    for sub in [
        "mkfs", "mount", "umount", "mounts", "mkdir", "creat", "cp", "verify", "ls", "stat", "cat",
        "df", "getmap", "logplay", "fsck",
    ] {
        assert!(out.stdout.contains(sub), "--help should list {sub}");
    }
}

#[test]
fn missing_device_errors() {
    let env = Env::new();
    let missing = env.path("gone.img");
    for args in [
        vec!["fsck", missing.as_str()],
        vec!["mkfs", missing.as_str()],
        vec!["mount", missing.as_str(), "/famfs-test-x/mnt"],
    ] {
        let err = env.fail(&args);
        assert_msg(&err, args[0], &[&missing]);
    }
    // A mounted device that disappeared.
    let r = env.region("64m");
    fs::rename(&r.dev, env.dir().join("moved.img")).unwrap();
    let err = env.fail(&["ls", &r.mnt]);
    assert_msg(&err, "ls", &[r.dev_str()]);
    let err = env.fail(&["logplay", &r.mnt]);
    assert!(err.contains(r.dev_str()), "{err}");
    env.ok(&["umount", &r.mnt]);
}

#[test]
fn corrupted_superblock_crc() {
    let env = Env::new();
    let r = env.region("64m");
    populate(&env, &r);
    flip_byte(&r.dev, 50); // inside the fs uuid, covered by the crc
    let before = r.meta();
    for args in [
        vec!["fsck", r.dev_str()],
        vec!["logplay", r.mnt.as_str()],
        vec!["ls", r.mnt.as_str()],
        vec!["mkdir", &r.p("new")],
    ] {
        let err = fail_unchanged(&env, &r, &args, &["crc"]);
        assert!(err.to_lowercase().contains("superblock"), "{err}");
    }
    env.ok(&["umount", &r.mnt]);
    let mnt = virtual_mountpoint();
    let err = env.fail(&["mount", r.dev_str(), &mnt]);
    assert_msg(&err, "mount", &["superblock", "crc"]);
    assert_eq!(env.ok(&["mounts"]).trim(), "");
    assert_bytes_eq("after failed mount", &r.meta(), &before, 0);
}

#[test]
fn wrong_superblock_version() {
    let env = Env::new();
    let r = env.region("64m");
    env.ok(&["mkdir", &r.p("d")]);
    write_range(&r.dev, sb_off::VERSION as u64, &47u64.to_le_bytes());
    fix_superblock_crc(&r.dev);
    fail_unchanged(
        &env,
        &r,
        &["fsck", r.dev_str()],
        &["wrong superblock version", "47"],
    );
    fail_unchanged(
        &env,
        &r,
        &["logplay", &r.mnt],
        &["wrong superblock version"],
    );
    fail_unchanged(&env, &r, &["ls", &r.mnt], &["wrong superblock version"]);
    env.ok(&["umount", &r.mnt]);
    let mnt = virtual_mountpoint();
    fail_unchanged(
        &env,
        &r,
        &["mount", r.dev_str(), &mnt],
        &["wrong superblock version"],
    );
    assert_eq!(env.ok(&["mounts"]).trim(), "");
}

#[test]
fn corrupted_log_header() {
    let env = Env::new();
    let r = env.region("64m");
    env.ok(&["mkdir", &r.p("d")]);
    let good = r.meta();
    // Bad magic.
    flip_byte(&r.dev, LOG_OFFSET + 1);
    for args in [
        vec!["fsck", r.dev_str()],
        vec!["logplay", r.mnt.as_str()],
        vec!["mkdir", &r.p("e")],
    ] {
        fail_unchanged(&env, &r, &args, &["log", "magic"]);
    }
    let mnt = virtual_mountpoint();
    fail_unchanged(&env, &r, &["mount", r.dev_str(), &mnt], &["magic"]);
    flip_byte(&r.dev, LOG_OFFSET + 1);
    assert_bytes_eq("restored", &r.meta(), &good, 0);
    // Bad crc: the length field is covered by it.
    flip_byte(&r.dev, LOG_OFFSET + log_off::LEN as u64 + 5);
    for args in [
        vec!["fsck", r.dev_str()],
        vec!["logplay", r.mnt.as_str()],
        vec!["creat", "-s", "1", &r.p("f")],
    ] {
        fail_unchanged(&env, &r, &args, &["log", "crc"]);
    }
    fail_unchanged(&env, &r, &["mount", r.dev_str(), &mnt], &["crc"]);
    assert_eq!(env.ok(&["mounts"]).lines().count(), 1);
}

#[test]
fn corrupted_log_entry() {
    let env = Env::new();
    let r = env.region("64m");
    env.ok(&["mkdir", &r.p("a")]);
    env.ok(&["mkdir", &r.p("b")]);
    env.ok(&["creat", "-s", "1", &r.p("c")]);
    // Flip a byte of entry 1's relpath (inside the crc-covered bytes).
    flip_byte(&r.dev, entry_offset(1) + entry_off::MKDIR_RELPATH as u64);
    for args in [vec!["fsck", r.dev_str()], vec!["logplay", r.mnt.as_str()]] {
        let before = r.meta();
        let out = env.famfs(&args);
        assert_eq!(out.code(), Some(1), "{}", out.describe());
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(
            all.contains("log entry 1"),
            "should name log entry 1: {}",
            out.describe()
        );
        assert_meta_unchanged(&r, &before, &args.join(" "));
    }
    // fsck -v still lists the good entry before the bad one.
    let out = env.famfs(&["fsck", "-v", r.dev_str()]);
    assert_eq!(out.code(), Some(1));
    // The master refuses to append after a bad entry.
    for args in [
        vec!["mkdir", &r.p("z")],
        vec!["creat", "-s", "1", &r.p("z")],
    ] {
        let before = r.meta();
        let err = env.fail(&args);
        assert_meta_unchanged(&r, &before, &args.join(" "));
        assert!(err.contains("log entry 1"), "{err}");
        assert!(
            !err.contains("log entry 1: log entry 1"),
            "the entry is named twice: {err}"
        );
        assert_msg(&err, args[0], &["log entry 1", "crc"]);
    }
    env.ok(&["umount", &r.mnt]);
    let mnt = virtual_mountpoint();
    fail_unchanged(&env, &r, &["mount", r.dev_str(), &mnt], &["log entry 1"]);
    assert_eq!(env.ok(&["mounts"]).trim(), "", "nothing recorded");

    // A seqnum that is not its index is just as bad.
    let env = Env::new();
    let r = env.region("64m");
    env.ok(&["mkdir", &r.p("a")]);
    env.ok(&["mkdir", &r.p("b")]);
    let at = entry_offset(1);
    let mut e = read_range(&r.dev, at, LOG_ENTRY_SIZE as usize);
    e[0] = 7;
    let crc = u64::from(crc32(&e[..entry_off::CRC]));
    e[entry_off::CRC..].copy_from_slice(&crc.to_le_bytes());
    write_range(&r.dev, at, &e);
    let out = env.famfs(&["fsck", r.dev_str()]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("log entry 1"),
        "{}",
        out.describe()
    );
}

#[test]
fn out_of_space() {
    let env = Env::new();
    let r = env.region("64m");
    // 64 MiB - 10 MiB metadata = 27 units of 2 MiB.
    let mut made = 0;
    loop {
        let name = r.p(&format!("f{made}"));
        let out = env.famfs(&["creat", "-s", "2m", &name]);
        if !out.success() {
            assert_eq!(out.code(), Some(1), "{}", out.describe());
            assert_msg(&out.stderr, "creat", &["out of space"]);
            break;
        }
        made += 1;
        assert!(made <= 27, "more files than the region can hold");
    }
    assert_eq!(made, 27);
    fail_unchanged(
        &env,
        &r,
        &["creat", "-s", "1", &r.p("one_more")],
        &["out of space"],
    );
    let src = env.dir().join("src");
    write_file(&src, b"abc", 0o644);
    fail_unchanged(
        &env,
        &r,
        &["cp", src.to_str().unwrap(), &r.p("cp_more")],
        &["out of space"],
    );
    // Directories need no space.
    env.ok(&["mkdir", &r.p("still_ok")]);
    let (used, _) = fsck_log_entries(&env, r.dev_str());
    assert_eq!(used, 28);
    env.ok(&["fsck", r.dev_str()]);

    // A request larger than the largest free run fails even with room left.
    let env = Env::new();
    let r = env.region("64m");
    env.ok(&["creat", "-s", "50m", &r.p("big")]);
    fail_unchanged(
        &env,
        &r,
        &["creat", "-s", "6m", &r.p("six")],
        &["out of space"],
    );
    env.ok(&["creat", "-s", "4m", &r.p("four")]);
}

#[test]
fn duplicate_paths() {
    let env = Env::new();
    let r = env.region("64m");
    env.ok(&["mkdir", &r.p("d")]);
    env.ok(&["creat", "-s", "10", &r.p("f")]);
    fail_unchanged(&env, &r, &["creat", "-s", "10", &r.p("d")], &["d"]);
    fail_unchanged(&env, &r, &["mkdir", &r.p("f")], &["exists"]);
    fail_unchanged(&env, &r, &["mkdir", "-p", &r.p("f")], &[]);
    fail_unchanged(
        &env,
        &r,
        &["creat", "-s", "10", &r.p("f/x")],
        &["not a directory"],
    );
    fail_unchanged(&env, &r, &["creat", "-s", "10", &r.mnt], &[]);
    // cp onto a directory copies into it; onto a file of another size fails.
    let src = env.dir().join("f");
    write_file(&src, b"0123456789x", 0o644);
    fail_unchanged(
        &env,
        &r,
        &["cp", src.to_str().unwrap(), &r.p("f")],
        &["10", "11"],
    );
}

#[test]
fn client_host_cannot_append() {
    let master = Env::new();
    let r = master.region("64m");
    master.ok(&["mkdir", &r.p("shared")]);
    let client = Env::new();
    assert_ne!(client.uuid(), master.uuid());
    let c = client.mount(&r.dev);
    let src = client.dir().join("src");
    write_file(&src, b"from the client", 0o644);
    for args in [
        vec!["mkdir".to_string(), c.p("x")],
        vec!["mkdir".into(), "-p".into(), c.p("y/z")],
        vec!["creat".into(), "-s".into(), "1".into(), c.p("f")],
        vec!["cp".into(), src.to_string_lossy().into_owned(), c.p("g")],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let err = fail_unchanged(&client, &r, &args, &["client", "master"]);
        assert!(
            err.contains(client.uuid()) || err.contains(master.uuid()),
            "{err}"
        );
    }
    // The client reads what the master adds, without remounting.
    master.ok(&["creat", "-r", "-S", "21", "-s", "12345", &r.p("shared/new")]);
    assert_eq!(ls_names(&client, &c.p("shared")), ["new"]);
    assert_eq!(
        client.ok_bytes(&["cat", &c.p("shared/new")]),
        pattern(21, 12345)
    );
    client.ok(&["verify", "-S", "21", "-f", &c.p("shared/new")]);
    let out = client.ok(&["fsck", &c.mnt]);
    assert!(out.to_lowercase().contains("client"), "{out}");
    assert!(master
        .ok(&["fsck", &r.mnt])
        .to_lowercase()
        .contains("master"));
    // A same-size re-creat is a no-op even on a client? No: a client may
    // not write, but an existing file of the same size needs no write.
    // Either way nothing may change.
    let before = r.meta();
    let _ = client.famfs(&["creat", "-s", "12345", &c.p("shared/new")]);
    assert_meta_unchanged(&r, &before, "client re-creat");
}

#[test]
fn mount_point_lookup_is_lexical() {
    let env = Env::new();
    let r = env.region("64m");
    env.ok(&["mkdir", &format!("{}//a/./b/..", r.mnt)]);
    assert_eq!(ls_names(&env, &r.mnt), ["a"]);
    env.ok(&["creat", "-s", "1", &format!("{}/a/../a/f", r.mnt)]);
    assert_eq!(ls_names(&env, &format!("{}/a/", r.mnt)), ["f"]);
    // A sibling path that merely shares a prefix is not under the mount.
    let err = env.fail(&["ls", &format!("{}x", r.mnt)]);
    assert_msg(&err, "ls", &["not under any famfs mount point"]);
}

/// Appends a hand-made entry to the log of `dev`, as a writer would.
fn append_raw_entry(dev: &Path, entry: &famfs_core::format::LogEntry) {
    let index = log_next_index(dev);
    let bytes = entry.encode(index).expect("encodable entry");
    write_range(dev, entry_offset(index), &bytes);
    for field in [log_off::NEXT_SEQNUM, log_off::NEXT_INDEX] {
        write_range(dev, LOG_OFFSET + field as u64, &(index + 1).to_le_bytes());
    }
}

#[test]
fn replay_first_entry_wins_and_duplicates_are_counted() {
    use famfs_core::fmap::{Extent, Fmap};
    use famfs_core::format::{FileEntry, LogEntry, MkdirEntry};
    let env = Env::new();
    let r = env.region("64m");
    env.ok(&["mkdir", &r.p("a")]);
    env.ok(&["creat", "-r", "-S", "2", "-s", "5000", &r.p("f")]);
    append_raw_entry(
        &r.dev,
        &LogEntry::Mkdir(MkdirEntry {
            uid: 77,
            gid: 77,
            mode: 0o700,
            relpath: "a".into(),
        }),
    );
    append_raw_entry(
        &r.dev,
        &LogEntry::File(FileEntry {
            size: 9999,
            flags: 2,
            uid: 88,
            gid: 88,
            mode: 0o600,
            relpath: "f".into(),
            fmap: Fmap::Simple(vec![Extent {
                devindex: 0,
                offset: 14 * MIB,
                len: 2 * MIB,
            }]),
        }),
    );
    let before = r.meta();
    let out = env.ok(&["logplay", &r.mnt]);
    assert_eq!(number_after(&out, "entries"), 4, "{out}");
    assert_eq!(count_of(&out, &["duplicate"]), 2, "{out}");
    assert_eq!(count_of(&out, &["files"]), 1, "{out}");
    assert_eq!(count_of(&out, &["directories", "dirs"]), 1, "{out}");
    let out = env.ok(&["fsck", r.dev_str()]);
    assert_eq!(count_of(&out, &["duplicate"]), 2, "{out}");
    assert_eq!(fractions_on(&out, "log entries")[0], (4, 15420));
    // The first entry wins.
    let a = ls_entry(&env, &r.mnt, "a");
    assert_eq!((a.mode.as_str(), a.uid), ("drwxr-xr-x", euid()));
    let f = ls_entry(&env, &r.mnt, "f");
    assert_eq!((f.size, f.mode.as_str()), (5000, "-rw-r--r--"));
    env.ok(&["verify", "-S", "2", "-f", &r.p("f")]);
    // The loser's memory stays claimed: the next file goes elsewhere.
    env.ok(&["creat", "-s", "1", &r.p("g")]);
    let g = device_offset_of(&env, &r.p("g"), 0);
    assert!(g != 14 * MIB && g != 10 * MIB, "g allocated at {g:#x}");
    assert_eq!(g, 12 * MIB);
    assert_eq!(
        r.meta()[..LOG_OFFSET as usize],
        before[..LOG_OFFSET as usize]
    );
}

#[test]
fn cp_large_file_without_terminal_prints_no_progress() {
    let env = Env::new();
    let r = env.region("128m");
    let src = env.dir().join("zeros64m");
    let f = fs::File::create(&src).unwrap();
    f.set_len(64 * MIB + 3).unwrap();
    write_range(&src, 33 * MIB, b"marker");
    drop(f);
    let out = env.famfs(&["cp", src.to_str().unwrap(), &r.p("big")]);
    assert!(out.success(), "{}", out.describe());
    assert_eq!(
        out.stderr, "",
        "no progress bar when stderr is not a terminal"
    );
    let e = ls_entry(&env, &r.mnt, "big");
    assert_eq!(e.size, 64 * MIB + 3);
    let off = device_offset_of(&env, &r.p("big"), 33 * MIB);
    assert_eq!(read_range(&r.dev, off, 6), b"marker");
    assert_eq!(
        sha256_hex(&env.ok_bytes(&["cat", &r.p("big")])),
        sha256_hex(&fs::read(&src).unwrap())
    );
}

#[test]
fn cp_large_file_on_a_terminal_shows_progress() {
    // `script` (util-linux) runs the copy with a real pseudo-terminal as
    // its stdout and stderr.
    let env = Env::new();
    let r = env.region("128m");
    let src = env.dir().join("zeros64m");
    fs::File::create(&src).unwrap().set_len(64 * MIB).unwrap();
    let cmdline = format!(
        "{} cp {} {}",
        famfs_bin().display(),
        src.display(),
        r.p("big")
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &cmdline, "/dev/null"]);
    cmd.env("FAMFS_MOUNTS", env.mounts_file())
        .env("FAMFS_SYSTEM_UUID_FILE", env.uuid_file());
    let out = run(cmd);
    assert!(out.success(), "{}", out.describe());
    assert!(
        out.stdout.contains("MiB/64.00 MiB"),
        "expected a progress bar on the terminal: {}",
        out.describe()
    );
    assert_eq!(ls_entry(&env, &r.mnt, "big").size, 64 * MIB);
}

#[test]
fn concurrent_writers_on_one_host_serialise() {
    let env = Env::new();
    let r = env.region("128m");
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..8u32)
            .map(|i| {
                let (env, r) = (&env, &r);
                s.spawn(move || {
                    env.famfs(&["mkdir", "-p", &r.p("shared/tree")]);
                    env.famfs(&[
                        "creat",
                        "-S",
                        &i.to_string(),
                        "-s",
                        "3m",
                        &r.p(&format!("shared/tree/f{i}")),
                    ])
                })
            })
            .collect();
        for h in hs {
            let out = h.join().unwrap();
            assert!(out.success(), "{}", out.describe());
        }
    });
    // Two directories logged once each, eight files, no collisions.
    let out = env.ok(&["fsck", r.dev_str()]);
    assert_eq!(fractions_on(&out, "log entries")[0], (10, 15420), "{out}");
    assert_eq!(count_of(&out, &["collisions"]), 0, "{out}");
    assert_eq!(count_of(&out, &["duplicate"]), 0, "{out}");
    for i in 0..8 {
        env.ok(&[
            "verify",
            "-S",
            &i.to_string(),
            "-f",
            &r.p(&format!("shared/tree/f{i}")),
        ]);
    }
}
