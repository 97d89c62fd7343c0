//! The reference famfs CLI's spellings, as its documentation gives them
//! (cxl-micron-reskit/famfs, markdown/famfs-cli-reference.md): `-?` for
//! help, sizes and numbers read as C's strtoull with base 0 (`0x800000`),
//! the long option names, repeated verbosity flags, `verify -q`, and the
//! creat rules for existing files.

use famfs_tests::*;

#[test]
fn question_mark_is_help() {
    let env = Env::new();
    for sub in [
        "creat", "cp", "mkdir", "verify", "fsck", "logplay", "mount", "getmap",
    ] {
        let out = env.famfs(&[sub, "-?"]);
        assert!(out.success(), "{}", out.describe());
        assert!(out.stdout.contains("Usage"), "{}", out.describe());
    }
}

#[test]
fn reference_sizes_long_names_and_verbosity() {
    let env = Env::new();
    let r = env.region("256m");
    // 0x sizes and numbers, --randomize, --seed, --mode, -v.
    let out = env.ok(&[
        "creat",
        "--randomize",
        "--seed",
        "0x2a",
        "--size",
        "0x800000",
        "-m",
        "0644",
        "-v",
        &r.p("hex.bin"),
    ]);
    assert!(out.contains("created") && out.contains("8388608"), "{out}");
    env.ok(&["verify", "--seed", "42", "--filename", &r.p("hex.bin")]);
    // Interleave options by their reference long names.
    env.ok(&[
        "creat",
        "--nstrips",
        "2",
        "--nbuckets",
        "0x4",
        "--chunksize",
        "2m",
        "-S",
        "3",
        "-s",
        "9m",
        &r.p("ilv.bin"),
    ]);
    let map = env.ok(&["getmap", &r.p("ilv.bin")]);
    assert!(map.contains("interleaved"), "{map}");
    // mkdir -pv says what it created, and only that.
    let out = env.ok(&["mkdir", "-pv", &r.p("a/b/c")]);
    let made: Vec<&str> = out.lines().collect();
    assert_eq!(made.len(), 3, "{out}");
    assert!(made[2].contains("a/b/c"), "{out}");
    let out = env.ok(&["mkdir", "-pv", &r.p("a/b/c/d")]);
    assert_eq!(out.lines().count(), 1, "{out}");
    // cp -vvv and fsck -vv and --human, logplay --dryrun.
    let src = env.dir().join("src.bin");
    write_file(&src, &pattern(1, 5000), 0o644);
    let out = env.ok(&["cp", "-vvv", src.to_str().unwrap(), &r.p("a/")]);
    assert!(out.contains("src.bin"), "{out}");
    env.ok(&["fsck", "-vv", "--human", &r.mnt]);
    env.ok(&["logplay", "--dryrun", &r.mnt]);
    // verify -q: nothing printed, the exit status tells.
    let ok = env.famfs(&["verify", "-q", "-S", "42", "-f", &r.p("hex.bin")]);
    assert!(
        ok.success() && ok.stdout.is_empty() && ok.stderr.is_empty(),
        "{}",
        ok.describe()
    );
    let bad = env.famfs(&["verify", "-q", "-S", "43", "-f", &r.p("hex.bin")]);
    assert_eq!(bad.code(), Some(1), "{}", bad.describe());
    assert!(
        bad.stdout.is_empty() && bad.stderr.is_empty(),
        "{}",
        bad.describe()
    );
}

#[test]
fn creat_of_a_new_file_needs_a_size() {
    let env = Env::new();
    let r = env.region("64m");
    let before = r.meta();
    let err = env.fail(&["creat", "-r", "-S", "1", &r.p("new.bin")]);
    assert!(err.contains("needs a size"), "{err}");
    assert_meta_unchanged(&r, &before, "creat without a size");
}

/// `famfs cp` reads famfs sources itself: a file or a tree on the same
/// mount or another one is copied without the shim (the mount points are
/// virtual paths the kernel does not have).
#[test]
fn cp_from_famfs_to_famfs() {
    let env = Env::new();
    let a = env.region("128m");
    let b = env.region("64m");
    env.ok(&["mkdir", "-p", &a.p("tree/sub")]);
    env.ok(&["creat", "-S", "1", "-s", "3m", &a.p("tree/one.bin")]);
    env.ok(&[
        "creat",
        "-S",
        "2",
        "-s",
        "4097",
        "-m",
        "0600",
        &a.p("tree/sub/two.bin"),
    ]);
    // A file on the same mount.
    env.ok(&["cp", &a.p("tree/one.bin"), &a.p("copy.bin")]);
    env.ok(&["verify", "-S", "1", "-f", &a.p("copy.bin")]);
    // A tree onto another mount, GNU cp -r rules (DEST/basename).
    let out = env.ok(&["cp", "-rv", &a.p("tree"), &b.mnt]);
    assert!(out.contains("two.bin"), "{out}");
    env.ok(&["verify", "-S", "1", "-f", &b.p("tree/one.bin")]);
    env.ok(&["verify", "-S", "2", "-f", &b.p("tree/sub/two.bin")]);
    let st = env.ok(&["stat", &b.p("tree/sub/two.bin")]);
    assert!(st.contains("600"), "mode kept: {st}");
    // Again: same sizes, rewritten in place (restartable), nothing new.
    let before = b.meta();
    env.ok(&["cp", "-r", &a.p("tree"), &b.mnt]);
    assert_meta_unchanged(&b, &before, "a second cp -r of the same tree");
    // A directory into itself is refused, and changes nothing.
    let before = a.meta();
    let err = env.fail(&["cp", "-r", &a.p("tree"), &a.p("tree/sub")]);
    assert!(err.contains("into itself"), "{err}");
    assert_meta_unchanged(&a, &before, "cp -r of a directory into itself");
    // A missing famfs source is an error naming it.
    let err = env.fail(&["cp", &a.p("nope"), &b.mnt]);
    assert!(err.contains("nope"), "{err}");
}

/// `df -h` (binary units; -h is not help here) with columns as wide as
/// their widest cell, and `ls -l` as coreutils prints it.
#[test]
fn df_human_and_ls_long_like_coreutils() {
    let env = Env::new();
    let r = env.region("128m");
    env.ok(&["creat", "-s", "5000", &r.p("f")]);
    env.ok(&["mkdir", &r.p("d")]);
    let out = env.ok(&["df", "-h", &r.mnt]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[1].contains("MiB"), "{out}");
    // Columns line up: "Use%" ends where the percentage ends.
    let end = |l: &str, pat: &str| l.find(pat).map(|i| i + pat.len());
    let pct = lines[1]
        .split_whitespace()
        .find(|w| w.ends_with('%'))
        .unwrap();
    assert_eq!(end(lines[0], "Use%"), end(lines[1], pct), "{out}");
    let out = env.ok(&["df", &r.mnt]);
    assert!(!out.contains("MiB"), "{out}");

    let out = env.ok(&["ls", "-l", &r.mnt]);
    let user = run({
        let mut c = std::process::Command::new("id");
        c.arg("-un");
        c
    })
    .stdout
    .trim()
    .to_string();
    for l in out.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        assert_eq!(
            f.len(),
            9,
            "mode links owner group size month day time name: {l}"
        );
        assert_eq!(f[2], user, "{l}");
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("drwx") && l.ends_with(" d")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains(" 5000 ") && l.ends_with(" f")),
        "{out}"
    );
}

/// Interleaving asked for with -N alone takes as many buckets as strips
/// and a 2 MiB chunk; `famfs --help` names the environment variables.
#[test]
fn nstrips_alone_has_useful_defaults_and_help_names_the_environment() {
    let env = Env::new();
    let r = env.region("256m");
    let src = env.dir().join("s.bin");
    write_file(&src, &pattern(4, (9 << 20) + 5), 0o644);
    env.ok(&["cp", "-N", "4", src.to_str().unwrap(), &r.p("s.bin")]);
    let map = env.ok(&["getmap", &r.p("s.bin")]);
    assert!(
        map.contains("interleaved") && map.contains("strips 4"),
        "{map}"
    );
    assert!(map.contains("chunk_size 0x200000"), "{map}");
    assert_eq!(
        env.ok_bytes(&["cat", &r.p("s.bin")]),
        pattern(4, (9 << 20) + 5)
    );
    let out = env.famfs(&["--help"]);
    for var in [
        "FAMFS_MOUNTS",
        "FAMFS_SYSTEM_UUID_FILE",
        "FAMFS_LOG",
        "NO_COLOR",
    ] {
        assert!(out.stdout.contains(var), "{var}: {}", out.describe());
    }
}

/// flush, clone and check, as the reference CLI has them: flush writes a
/// file's cache lines back (its bytes are unchanged), clone makes a file
/// share another's memory (a test aid), which check and fsck then report
/// (check's exit status has bit 1 set).
#[test]
fn flush_clone_and_check() {
    let env = Env::new();
    let r = env.region("64m");
    env.ok(&["creat", "-S", "9", "-s", "3m", &r.p("a.bin")]);
    let out = env.ok(&["flush", "-v", &r.p("a.bin")]);
    assert!(out.contains("flushed"), "{out}");
    env.ok(&["verify", "-S", "9", "-f", &r.p("a.bin")]);
    let out = env.famfs(&["check", &r.mnt]);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(
        out.stdout.contains("1 files checked, 0 unusable"),
        "{}",
        out.describe()
    );

    env.ok(&["clone", &r.p("a.bin"), &r.p("b.bin")]);
    let out = env.famfs(&["check", &r.mnt]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    assert!(out.stderr.contains("b.bin"), "{}", out.describe());
    let out = env.famfs(&["fsck", &r.mnt]);
    assert!(
        !out.success(),
        "fsck must report the collision: {}",
        out.describe()
    );
    // The original is intact; the clone is refused.
    env.ok(&["verify", "-S", "9", "-f", &r.p("a.bin")]);
    env.fail(&["cat", &r.p("b.bin")]);
    // Refusals: an existing name, a directory, another file system.
    env.ok(&["mkdir", &r.p("d")]);
    env.fail(&["clone", &r.p("a.bin"), &r.p("b.bin")]);
    env.fail(&["clone", &r.p("d"), &r.p("c.bin")]);
}

/// A device added with devadd is found again after umount and mount, with
/// no --device: this host remembers it (and would find a /dev/dax device
/// by its uuid).
#[test]
fn devices_are_found_again_on_remount() {
    let env = Env::new();
    let dev = env.mkfs_region("256m");
    let r = env.mount(&dev);
    let second = env.dir().join("second.img");
    env.ok(&["devadd", "-s", "256m", &r.mnt, second.to_str().unwrap()]);
    env.ok(&[
        "creat",
        "-N",
        "2",
        "-B",
        "2",
        "-C",
        "2m",
        "--devices",
        "all",
        "-S",
        "5",
        "-s",
        "9m",
        &r.p("wide.bin"),
    ]);
    let map = env.ok(&["getmap", &r.p("wide.bin")]);
    assert!(map.contains("devindex 1"), "{map}");
    env.ok(&["umount", &r.mnt]);
    let out = env.famfs(&["mount", dev.to_str().unwrap(), &r.mnt]);
    assert!(out.success(), "{}", out.describe());
    assert!(!out.stderr.contains("warning"), "{}", out.describe());
    env.ok(&["verify", "-S", "5", "-f", &r.p("wide.bin")]);
    let mounts = env.ok(&["mounts"]);
    assert!(mounts.contains("second.img"), "{mounts}");
}

/// creat --multi FILE,SIZE[,SEED] and verify --multi FILE,SEED with -t.
#[test]
fn multi_creat_and_parallel_verify() {
    let env = Env::new();
    let r = env.region("128m");
    let (a, b, c) = (r.p("a.bin"), r.p("b.bin"), r.p("c.bin"));
    env.ok(&[
        "creat",
        "--multi",
        &format!("{a},3m,11"),
        "-M",
        &format!("{b},0x1000,12"),
        "-M",
        &format!("{c},5000"),
    ]);
    assert_eq!(env.ok_bytes(&["cat", &c]), vec![0u8; 5000]);
    let out = env.ok(&[
        "verify",
        "-t",
        "2",
        "-v",
        "--multi",
        &format!("{a},11"),
        "-m",
        &format!("{b},12"),
    ]);
    assert_eq!(out.lines().count(), 2, "{out}");
    let bad = env.famfs(&[
        "verify",
        "--threadct",
        "2",
        "-m",
        &format!("{a},11"),
        "-m",
        &format!("{b},13"),
    ]);
    assert_eq!(bad.code(), Some(1), "{}", bad.describe());
    assert!(
        bad.stderr.contains("b.bin") && !bad.stderr.contains("a.bin"),
        "{}",
        bad.describe()
    );
    // A bad --multi argument is refused before anything is created.
    let before = r.meta();
    env.fail(&["creat", "-M", &r.p("d.bin")]);
    assert_meta_unchanged(&r, &before, "creat --multi without a size");
}

/// cp --compare reads every copied file back against its source (a kernel
/// file or a famfs one); -t is accepted.
#[test]
fn cp_compare_reads_copies_back() {
    let env = Env::new();
    let r = env.region("64m");
    let src = env.dir().join("c.bin");
    write_file(&src, &pattern(6, 3_000_001), 0o644);
    env.ok(&["cp", "-c", "-t", "4", src.to_str().unwrap(), &r.p("c.bin")]);
    env.ok(&["cp", "--compare", &r.p("c.bin"), &r.p("c2.bin")]);
    assert_eq!(
        env.ok_bytes(&["cat", &r.p("c2.bin")]),
        pattern(6, 3_000_001)
    );
}

#[test]
fn logplay_shadow_writes_the_reference_yaml_tree() {
    let env = Env::new();
    let r = env.region("256m");
    env.ok(&["mkdir", "-p", &r.p("d/e")]);
    env.ok(&["creat", "-s", "3m", "-S", "1", &r.p("d/e/f")]);
    env.ok(&["creat", "-N", "2", "-B", "4", "-s", "9m", &r.p("striped")]);
    let before = r.meta();
    let dir = env.dir().join("shadowpath");
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let (dir_s, root_s) = (dir.to_str().unwrap(), root.to_str().unwrap());

    // The rules the reference's script checks.
    let err = env.fail(&[
        "logplay",
        "--shadow",
        &format!("{root_s}/frob"),
        "--daxdev",
        r.dev_str(),
    ]);
    assert!(err.contains("frob"), "{err}");
    // Usage errors (clap's exit 2): --daxdev needs --shadow and no mount.
    env.fail_code(&["logplay", "--daxdev", r.dev_str(), root_s], 2);
    env.fail(&[
        "logplay",
        "--shadow",
        "/etc/passwd",
        "--daxdev",
        r.dev_str(),
    ]);
    env.fail(&["logplay", "--shadow", root_s, "--daxdev", "/no/such/dax"]);
    env.fail_code(&["logplay", "-m", "-r", &r.mnt], 2);

    // From the device, into DIR (which has root/ in it).
    let out = env.ok(&["logplay", "--shadow", dir_s, "--daxdev", r.dev_str(), "-vv"]);
    assert!(
        out.contains("directories created 2, existed 0; files created 2, existed 0; yaml checked 0; errors 0"),
        "{out}"
    );
    let f = std::fs::read_to_string(root.join("d/e/f")).unwrap();
    assert!(
        f.starts_with("---\nfile:\n  path: d/e/f\n  size: 3145728\n"),
        "{f}"
    );
    assert!(
        f.contains("  nextents: 1\n  simple_ext_list:\n  - devindex: 0\n    offset: 0x"),
        "{f}"
    );
    let s = std::fs::read_to_string(root.join("striped")).unwrap();
    assert!(
        s.contains("  striped_ext_list:\n  - nstrips: 2\n    chunk_size: 0x200000\n"),
        "{s}"
    );
    assert!(root.join("d/e").is_dir());

    // Again, from the mount, with the YAML read back: everything exists.
    let out = env.ok(&["logplay", "--shadow", root_s, "--shadowtest", &r.mnt]);
    assert!(
        out.contains("directories created 0, existed 2; files created 0, existed 2; yaml checked 2; errors 0"),
        "{out}"
    );
    // A damaged YAML file is found by --shadowtest.
    std::fs::write(
        root.join("d/e/f"),
        f.replace("size: 3145728", "size: 3145729"),
    )
    .unwrap();
    let err = env.fail(&["logplay", "-S", root_s, "-s", &r.mnt]);
    assert!(err.contains("differs from log entry"), "{err}");
    // Dry run writes nothing; the reference's access options are accepted.
    let fresh = env.dir().join("fresh/root");
    std::fs::create_dir_all(&fresh).unwrap();
    env.ok(&["logplay", "-n", "-S", fresh.to_str().unwrap(), &r.mnt]);
    assert_eq!(std::fs::read_dir(&fresh).unwrap().count(), 0);
    env.ok(&["logplay", "-r", "-c", &r.mnt]);
    env.ok(&["logplay", "-m", &r.mnt]);
    env.ok(&["fsck", "-m", r.dev_str()]);
    env.ok(&["fsck", "--read", &r.mnt]);
    env.fail_code(&["fsck", "-m", "-r", r.dev_str()], 2);
    assert_bytes_eq("the metadata", &r.meta(), &before, 0);
}

#[test]
fn quiet_getmap_and_check_and_verbose_mount() {
    let env = Env::new();
    let dev = env.dir().join("quiet.img");
    let out = env.ok(&["mkfs", "-v", "--size", "64m", dev.to_str().unwrap()]);
    assert!(out.contains("log entries"), "{out}");
    let mnt = virtual_mountpoint();
    let out = env.ok(&["mount", "-v", dev.to_str().unwrap(), &mnt]);
    assert_eq!(
        out.trim(),
        format!(
            "mounted {} at {mnt}: 0 files, 0 directories, 1 devices",
            std::fs::canonicalize(&dev).unwrap().display()
        )
    );
    let r = Region { dev, mnt };
    env.ok(&["creat", "-s", "4096", &r.p("f")]);
    env.ok(&["mkdir", &r.p("d")]);
    let status = |args: &[&str]| {
        let out = env.famfs(args);
        assert_eq!(out.stdout, "", "{}", out.describe());
        out.code()
    };
    assert_eq!(status(&["getmap", "-q", &r.p("f")]), Some(0));
    assert_eq!(status(&["getmap", "--quiet", "-c", &r.p("d")]), Some(1));
    assert_eq!(status(&["getmap", "-q", &r.p("missing")]), Some(1));
    assert_eq!(status(&["getmap", "-q", "/etc/passwd"]), Some(1));
    env.ok(&["clone", &r.p("f"), &r.p("g")]);
    assert_eq!(status(&["getmap", "-q", &r.p("g")]), Some(2));
    let out = env.famfs(&["check", "-q", &r.mnt]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    assert!(!out.stdout.contains("files checked"), "{}", out.describe());
    assert!(out.stderr.contains("g"), "{}", out.describe());
}

/// docs/cli-spec.md "Reference options, one by one", checked spelling by
/// spelling: every reference option the table accepts works in a real
/// invocation (short and long name), and every one it refuses is a usage
/// error (exit 2) that changes nothing.
#[test]
fn every_reference_option_does_what_the_table_says() {
    let env = Env::new();
    let r = env.region("256m");
    env.ok(&["creat", "-s", "4m", "-S", "5", &r.p("seed5")]);
    let src = env.dir().join("src.bin");
    write_file(&src, &pattern(2, 70_000), 0o644);
    let srcdir = env.dir().join("srcdir");
    std::fs::create_dir_all(&srcdir).unwrap();
    write_file(&srcdir.join("x"), &pattern(3, 100), 0o644);
    let shadow = env.dir().join("shadow/root");
    std::fs::create_dir_all(&shadow).unwrap();
    let (src, srcdir, shadow) = (
        src.to_str().unwrap().to_string(),
        srcdir.to_str().unwrap().to_string(),
        shadow.to_str().unwrap().to_string(),
    );
    let fresh = |n: &str| r.p(&format!("n/{n}"));
    env.ok(&["mkdir", &r.p("n")]);
    let spare = env.dir().join("spare.img");
    let spare = spare.to_str().unwrap();
    let spare_mnt = virtual_mountpoint();

    let accepted: Vec<Vec<String>> = [
        // mkfs
        vec!["mkfs", "-v", "--size", "64m", spare],
        vec!["mkfs", "-f", "-l", "8m", spare],
        vec!["mkfs", "--force", "--loglen", "16m", "--verbose", spare],
        // mount
        vec!["mount", "-v", spare, &spare_mnt],
        vec!["umount", &spare_mnt],
        vec!["mount", "--verbose", spare, &spare_mnt],
        vec!["umount", &spare_mnt],
        vec!["mkfs", "-k", spare],
        vec!["mkfs", "--kill", spare],
        // fsck
        vec!["fsck", "-h", "-v", "-B", "2", "-m", &r.dev_str()],
        vec![
            "fsck",
            "--human",
            "--verbose",
            "--nbuckets",
            "2",
            "--read",
            &r.mnt,
        ],
        // logplay
        vec!["logplay", "-n", "-v", "-m", "-c", &r.mnt],
        vec![
            "logplay",
            "--dryrun",
            "--verbose",
            "--read",
            "--client",
            &r.mnt,
        ],
        vec!["logplay", "-S", &shadow, "-s", "-d", r.dev_str()],
        vec![
            "logplay",
            "--shadow",
            &shadow,
            "--shadowtest",
            "--daxdev",
            r.dev_str(),
        ],
        // creat
        vec![
            "creat",
            "-s",
            "1m",
            "-S",
            "1",
            "-r",
            "-m",
            "0600",
            "-u",
            "0",
            "-g",
            "0",
            "-v",
            &fresh("c1"),
        ],
        vec![
            "creat",
            "--size",
            "1m",
            "--seed",
            "1",
            "--randomize",
            "--mode",
            "0600",
            "--verbose",
            &fresh("c2"),
        ],
        vec![
            "creat",
            "-N",
            "2",
            "-B",
            "4",
            "-C",
            "2m",
            "-s",
            "5m",
            &fresh("c3"),
        ],
        vec![
            "creat",
            "--nstrips",
            "2",
            "--nbuckets",
            "4",
            "--chunksize",
            "2m",
            "-s",
            "5m",
            &fresh("c4"),
        ],
        vec!["creat", "-M", &format!("{},1m,7", fresh("c5")), "-t", "2"],
        vec![
            "creat",
            "--multi",
            &format!("{},1m", fresh("c6")),
            "--threadct",
            "2",
        ],
        // cp
        vec![
            "cp",
            "-m",
            "0640",
            "-u",
            "0",
            "-g",
            "0",
            "-v",
            "-c",
            "-t",
            "2",
            &src,
            &fresh("p1"),
        ],
        vec![
            "cp",
            "--mode",
            "0640",
            "--verbose",
            "--compare",
            "--threadct",
            "2",
            &src,
            &fresh("p2"),
        ],
        vec!["cp", "-r", &srcdir, &fresh("p3")],
        vec![
            "cp",
            "--recursive",
            "-N",
            "1",
            "-B",
            "1",
            "-C",
            "2m",
            &srcdir,
            &fresh("p4"),
        ],
        vec![
            "cp",
            "--nstrips",
            "1",
            "--nbuckets",
            "1",
            "--chunksize",
            "2m",
            &src,
            &fresh("p5"),
        ],
        // mkdir
        vec![
            "mkdir",
            "-p",
            "-v",
            "-m",
            "0700",
            "-u",
            "0",
            "-g",
            "0",
            &fresh("d1/a"),
        ],
        vec!["mkdir", "--parents", "--mode", "0700", &fresh("d2/a")],
        // verify
        vec!["verify", "-f", &r.p("seed5"), "-S", "5", "-q"],
        vec![
            "verify",
            "--filename",
            &r.p("seed5"),
            "--seed",
            "5",
            "--quiet",
        ],
        vec!["verify", "-m", &format!("{},5", r.p("seed5")), "-t", "2"],
        vec![
            "verify",
            "--multi",
            &format!("{},5", r.p("seed5")),
            "--threadct",
            "1",
        ],
        // check, getmap, then clone (after check: it leaves a collision,
        // which check reports), flush, chkread, mkmeta
        vec!["check", "-v", &r.mnt],
        vec!["check", "--verbose", "-q", &r.mnt],
        vec!["getmap", "-q", "-c", &r.p("seed5")],
        vec!["getmap", "--quiet", &r.p("seed5")],
        vec!["clone", "-v", &r.p("seed5"), &fresh("cl")],
        vec!["flush", "-v", &r.p("seed5")],
        vec!["chkread", "-s", &r.p(".meta/.superblock")],
        vec!["chkread", "-l", &r.p(".meta/.log")],
        vec!["mkmeta", "-v", r.dev_str()],
        vec!["mkmeta", "--verbose", r.dev_str()],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(str::to_string).collect())
    .collect();
    for args in &accepted {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = env.famfs(&args);
        assert!(out.success(), "accepted per the table: {}", out.describe());
    }

    let before = r.meta();
    let refused: &[&[&str]] = &[
        &["mkfs", "-D", spare],
        &["mkfs", "--nodax", spare],
        &["mkfs", "-M", spare],
        &["mkfs", "--set-daxmode", spare],
        &["mkfs", "-F", spare],
        &["mkfs", "--nofuse", spare],
        &["mkfs", "--fuse", spare],
        &["fsck", "-f", &r.mnt],
        &["fsck", "--force", &r.mnt],
        &["fsck", "-M", &r.mnt],
        &["fsck", "-L", &r.mnt],
        &["fsck", "--load-module", &r.mnt],
        &["fsck", "-F", &r.mnt],
        &["fsck", "--fuse", &r.mnt],
        &["fsck", "-D", &r.mnt],
        &["logplay", "-M", &r.mnt],
        &["logplay", "--set-daxmode", &r.mnt],
    ];
    for args in refused {
        env.fail_code(args, 2);
    }
    for opt in [
        "-r",
        "-m",
        "-F",
        "-p",
        "-D",
        "-M",
        "-L",
        "-R",
        "-b",
        "--read",
        "--mmap",
        "--nofuse",
        "--nodefaultperm",
        "--dummy",
        "--set-daxmode",
        "--load-module",
        "--remount",
    ] {
        env.fail_code(&["mount", opt, r.dev_str(), &virtual_mountpoint()], 2);
    }
    for opt in ["-c", "--cache", "-S", "--shadow"] {
        env.fail_code(&["mount", opt, "1", r.dev_str(), &virtual_mountpoint()], 2);
    }
    // FUSE tuning (tests/fuse.rs mounts with them) is an error without
    // --fuse (-f), not silently ignored.
    for args in [
        &["-d"][..],
        &["--debug"],
        &["-u"],
        &["--nouseraccess"],
        &["-t", "1"],
        &["--timeout", "1"],
    ] {
        let mut v = vec!["mount"];
        v.extend_from_slice(args);
        let mnt = virtual_mountpoint();
        v.extend_from_slice(&[r.dev_str(), &mnt]);
        let err = env.fail(&v);
        assert!(err.contains("--fuse"), "{v:?}: {err}");
    }
    assert_bytes_eq("the metadata", &r.meta(), &before, 0);
}
