//! Interleaved allocation through the CLI: the reference tools' stripe test
//! (fill an 8 GiB region with interleaved files of random sizes until it is
//! out of space, verify every file, replay in fresh processes, no
//! collision), mount defaults, and the parameter rules.

use famfs_tests::*;
use rand::{Rng, SeedableRng};

const GIB: u64 = 1 << 30;

#[test]
fn stripe_test_fills_an_8g_region_with_interleaved_files() {
    let env = Env::new();
    let r = env.region("8g");
    // Deterministic sizes and seeds, so a failure reproduces.
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let mut files: Vec<(String, u32, u64)> = Vec::new();
    loop {
        // Random sizes from 2 MiB to 512 MiB, not chunk-aligned.
        let size = rng.gen_range(2 * MIB..512 * MIB) + rng.gen_range(0..4096);
        let seed: u32 = rng.gen();
        let path = r.p(&format!("f{:03}", files.len()));
        let out = env.famfs(&[
            "creat",
            "-N",
            "7",
            "-B",
            "8",
            "-C",
            "2m",
            "--stripe-seed",
            &rng.gen::<u64>().to_string(),
            "-S",
            &seed.to_string(),
            "-s",
            &size.to_string(),
            &path,
        ]);
        if !out.success() {
            assert!(
                out.stderr.contains("out of space") || out.stderr.contains("No space"),
                "the fill ends only when space runs out: {}",
                out.describe()
            );
            break;
        }
        files.push((path, seed, size));
        assert!(files.len() < 1000, "the region never filled up");
    }
    // The region holds several GiB of files, most of it interleaved.
    let total: u64 = files.iter().map(|f| f.2).sum();
    assert!(
        files.len() >= 10 && total > 5 * GIB,
        "{} files, {total} bytes",
        files.len()
    );

    for (path, seed, size) in &files {
        env.ok(&["verify", "-S", &seed.to_string(), "-f", path]);
        let map = env.ok(&["getmap", path]);
        let stat = env.ok(&["stat", path]);
        assert!(stat.contains(&size.to_string()), "{stat}");
        if *size >= 2 * MIB {
            assert!(map.contains("interleaved"), "{path}: {map}");
            assert!(map.contains("strips 7"), "{path}: {map}");
        }
    }
    // A fresh process replays the whole log: no collision, nothing bad.
    let fsck = env.ok(&["fsck", "-B", "8", &r.mnt]);
    assert!(fsck.contains("allocation collisions: 0"), "{fsck}");
    assert!(fsck.contains("bad entries: 0"), "{fsck}");
    // And the next (small, contiguous) file still fits somewhere.
    env.ok(&["creat", "-s", "1m", &r.p("last")]);
}

#[test]
fn mount_defaults_apply_and_flags_override_them() {
    let env = Env::new();
    let dev = env.mkfs_region("1g");
    let mnt = virtual_mountpoint();
    env.ok(&[
        "mount",
        "--stripe",
        "nbuckets=4,nstrips=3,chunk=4m",
        dev.to_str().unwrap(),
        &mnt,
    ]);
    let listed = env.ok(&["mounts"]);
    assert!(
        listed.contains("stripe nbuckets=4,nstrips=3,chunk=4 MiB"),
        "{listed}"
    );
    env.ok(&["creat", "-s", "40m", &format!("{mnt}/a")]);
    let a = env.ok(&["getmap", &format!("{mnt}/a")]);
    assert!(a.contains("chunk_size 0x400000 strips 3"), "{a}");
    env.ok(&["creat", "-N", "2", "-s", "40m", &format!("{mnt}/b")]);
    let b = env.ok(&["getmap", &format!("{mnt}/b")]);
    assert!(b.contains("chunk_size 0x400000 strips 2"), "{b}");
    // Smaller than one chunk: contiguous.
    env.ok(&["creat", "-s", "3m", &format!("{mnt}/small")]);
    let s = env.ok(&["getmap", &format!("{mnt}/small")]);
    assert!(!s.contains("interleaved"), "{s}");
    // cp follows the same defaults.
    let src = env.dir().join("src.bin");
    write_file(&src, &pattern(3, (20 * MIB) as usize), 0o644);
    env.ok(&["cp", src.to_str().unwrap(), &format!("{mnt}/c")]);
    let c = env.ok(&["getmap", &format!("{mnt}/c")]);
    assert!(c.contains("strips 3"), "{c}");
    assert_eq!(
        env.ok_bytes(&["cat", &format!("{mnt}/c")]),
        pattern(3, (20 * MIB) as usize)
    );
}

#[test]
fn bad_interleave_parameters_are_refused_and_change_nothing() {
    let env = Env::new();
    let r = env.region("1g");
    let before = r.meta();
    for args in [
        ["-N", "9", "-B", "8", "-C", "2m"],
        ["-N", "2", "-B", "8", "-C", "3m"],
        ["-N", "2", "-B", "8", "-C", "1m"],
        ["-N", "17", "-B", "20", "-C", "2m"],
        ["-N", "2", "-B", "65", "-C", "2m"],
        ["-N", "0", "-B", "8", "-C", "2m"],
    ] {
        let mut all = vec!["creat", "-s", "64m"];
        all.extend_from_slice(&args);
        let p = r.p("x");
        all.push(&p);
        let err = env.fail(&all);
        assert!(err.contains("interleave"), "{args:?}: {err}");
    }
    assert_meta_unchanged(&r, &before, "refused interleave parameters");
    let bad_mount = env.fail(&[
        "mount",
        "--stripe",
        "nbuckets=8,nstrips=9,chunk=2m",
        r.dev_str(),
        &virtual_mountpoint(),
    ]);
    assert!(bad_mount.contains("nstrips"), "{bad_mount}");
}

/// Interleaved files read the same through the shim (read and mmap) as
/// through the CLI.
#[test]
fn interleaved_files_under_the_shim() {
    let env = Env::new();
    let r = env.region("1g");
    let data = pattern(11, (37 * MIB + 5) as usize);
    let src = env.dir().join("src.bin");
    write_file(&src, &data, 0o644);
    env.ok(&[
        "cp",
        "-N",
        "5",
        "-B",
        "8",
        "-C",
        "2m",
        src.to_str().unwrap(),
        &r.p("f"),
    ]);
    assert!(env.ok(&["getmap", &r.p("f")]).contains("strips 5"));
    let script = r#"
import hashlib, mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
data = b"".join(iter(lambda: os.read(fd, 1 << 20), b""))
m = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ)
print(hashlib.sha256(data).hexdigest(), hashlib.sha256(m[:]).hexdigest())
"#;
    let out = run(env.shim("python3", &["-c", script, &r.p("f")]));
    assert!(out.success(), "{}", out.describe());
    let want = sha256_hex(&data);
    assert_eq!(out.stdout.trim(), format!("{want} {want}"));
}
