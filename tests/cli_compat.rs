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
