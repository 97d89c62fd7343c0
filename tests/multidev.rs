//! Files over several devices: `famfs devadd`, files striped over four
//! simulated regions and read back by the CLI and by programs under the shim
//! (read and mmap), a device missing at mount, and a memory error on one
//! device failing only the files that touch it.

use famfs_tests::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// A file system of a 256 MiB primary and `extra` 128 MiB devices.
fn multi(env: &Env, extra: usize) -> (Region, Vec<PathBuf>) {
    let r = env.region("256m");
    let mut devs = vec![r.dev.clone()];
    for i in 1..=extra {
        let dev = env.dir().join(format!("extra{i}.img"));
        let out = env.ok(&["devadd", "-s", "128m", &r.mnt, dev.to_str().unwrap()]);
        assert!(out.contains(&format!("device {i} of")), "{out}");
        devs.push(dev);
    }
    (r, devs)
}

/// The device indexes `getmap` shows for a file.
fn devices_of(env: &Env, path: &str) -> BTreeSet<u32> {
    env.ok(&["getmap", path])
        .lines()
        .filter_map(|l| l.split("devindex ").nth(1))
        .map(|rest| rest.split(' ').next().unwrap().parse().unwrap())
        .collect()
}

/// `famfs creat -S seed -s size ARGS... path`.
fn creat(env: &Env, path: &str, seed: u32, size: u64, args: &[&str]) {
    let (seed, size) = (seed.to_string(), size.to_string());
    let mut all = vec!["creat", "-S", &seed, "-s", &size];
    all.extend_from_slice(args);
    all.push(path);
    env.ok(&all);
}

/// Prints, for each file, the sha256 of its bytes read with read() and
/// with mmap, or the errno name of the first call that failed.
const READ_BOTH: &str = r#"
import errno, hashlib, mmap, os, sys
for path in sys.argv[1:]:
    try:
        with open(path, "rb") as f:
            by_read = hashlib.sha256(f.read()).hexdigest()
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            with mmap.mmap(f.fileno(), size, prot=mmap.PROT_READ) as m:
                by_mmap = hashlib.sha256(m[:]).hexdigest()
        print(path, by_read, by_mmap, flush=True)
    except OSError as e:
        print(path, errno.errorcode[e.errno], flush=True)
"#;

/// Runs [`READ_BOTH`] under the shim; path -> the rest of its line.
fn read_under_shim(env: &Env, paths: &[String]) -> BTreeMap<String, String> {
    let out = run(env.shim(
        "python3",
        &[&["-c", READ_BOTH][..], &str_refs(paths)].concat(),
    ));
    assert!(out.success(), "{}", out.describe());
    out.stdout
        .lines()
        .map(|l| {
            let (p, rest) = l.split_once(' ').unwrap();
            (p.to_string(), rest.to_string())
        })
        .collect()
}

/// `n` files `f0..` of `size` bytes, each interleaved over 2 strips on one
/// device chosen at random (seeds from `seed0`): (path, seed, devices).
fn one_device_files(
    env: &Env,
    r: &Region,
    n: u32,
    size: u64,
    seed0: u32,
) -> Vec<(String, u32, BTreeSet<u32>)> {
    (0..n)
        .map(|i| {
            let path = r.p(&format!("f{i}"));
            let seed = seed0 + i;
            let s = seed.to_string();
            let placement = ["-N", "2", "-B", "2", "-C", "2m", "--devices", "1"];
            creat(
                env,
                &path,
                seed,
                size,
                &[&placement[..], &["--stripe-seed", &s]].concat(),
            );
            let used = devices_of(env, &path);
            assert_eq!(used.len(), 1, "{path}");
            (path, seed, used)
        })
        .collect()
}

/// `famfs mount --device D... PRIMARY MOUNTPOINT` for region `r`.
fn mount_with(env: &Env, r: &Region, devs: &[&PathBuf]) -> Out {
    let mut args = vec!["mount"];
    for d in devs {
        args.extend(["--device", d.to_str().unwrap()]);
    }
    args.extend([r.dev_str(), r.mnt.as_str()]);
    env.famfs(&args)
}

fn str_refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn files_striped_over_four_regions_read_back_by_cli_and_shim() {
    let env = Env::new();
    let (r, _devs) = multi(&env, 3);
    // (path, seed, size, extra creat args, devices expected)
    let files: Vec<(String, u32, u64, Vec<&str>, usize)> = vec![
        (
            r.p("all8"),
            1,
            40 * MIB + 123,
            vec!["-N", "8", "-B", "8", "-C", "2m"],
            4,
        ),
        (
            r.p("all4"),
            2,
            17 * MIB + 5,
            vec!["-N", "4", "-B", "4", "-C", "4m"],
            4,
        ),
        (
            r.p("two"),
            3,
            24 * MIB,
            vec!["-N", "6", "-B", "8", "-C", "2m", "--devices", "2"],
            2,
        ),
        (
            r.p("three"),
            4,
            9 * MIB + 1,
            vec!["-N", "3", "-B", "4", "-C", "2m", "--devices", "3"],
            3,
        ),
        (r.p("flat"), 5, 5 * MIB + 7, vec![], 1),
        (
            r.p("tiny"),
            6,
            100,
            vec!["-N", "4", "-B", "4", "-C", "2m"],
            1,
        ),
    ];
    for (path, seed, size, args, ndev) in &files {
        creat(&env, path, *seed, *size, args);
        let used = devices_of(&env, path);
        assert_eq!(used.len(), *ndev, "{path} spans {used:?}");
    }
    // Every file verifies through the CLI (a fresh process, devices opened
    // lazily from the mount table's paths) ...
    for (path, seed, _, _, _) in &files {
        env.ok(&["verify", "-S", &seed.to_string(), "-f", path]);
    }
    // ... and reads identically through read() and mmap under the shim.
    let paths: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
    let got = read_under_shim(&env, &paths);
    for (path, seed, size, _, _) in &files {
        let want = sha256_hex(&pattern(*seed, *size as usize));
        assert_eq!(got[path], format!("{want} {want}"), "{path}");
        // famfs cat too.
        assert_eq!(sha256_hex(&env.ok_bytes(&["cat", path])), want, "{path}");
    }
    let fsck = env.ok(&["fsck", &r.mnt]);
    for want in [
        "devices: 4",
        "multi-device extension in use",
        "allocation collisions: 0",
        "bad entries: 0",
    ] {
        assert!(fsck.contains(want), "{want}: {fsck}");
    }
    assert_eq!(fsck.matches("not found").count(), 0, "{fsck}");
    // Space counts every device.
    let df = env.ok(&["df", &r.mnt]);
    let capacity = (256 - 10 + 3 * (128 - 2)) * MIB;
    assert!(df.contains(&capacity.to_string()), "{df}");
}

#[test]
fn devadd_refuses_bad_devices_and_changes_nothing() {
    let env = Env::new();
    let (r, devs) = multi(&env, 1);
    let meta = r.meta();
    let other = env.mkfs_region("64m");
    let small = env.dir().join("small.img");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![r.dev_str()], "primary device"),
        (vec![devs[1].to_str().unwrap()], "already device 1"),
        (
            vec![other.to_str().unwrap()],
            "already holds a famfs superblock",
        ),
        (vec!["/nonexistent/dev.img"], "No such file"),
        (vec!["-s", "2m", small.to_str().unwrap()], "at least"),
    ];
    for (args, want) in cases {
        let mut all = vec!["devadd", &r.mnt];
        // Options go before the positional device.
        all.splice(1..1, args[..args.len() - 1].iter().copied());
        all.push(args[args.len() - 1]);
        let err = env.fail(&all);
        assert!(err.contains(want), "{all:?}: {err}");
        assert_meta_unchanged(&r, &meta, &format!("{all:?}"));
    }
    assert!(!small.exists(), "a refused new region is removed");
    // Not a mount point.
    let err = env.fail(&["devadd", &r.p("sub"), "/tmp/x.img"]);
    assert!(
        err.contains("not under") || err.contains("not a mount point"),
        "{err}"
    );
    // --force takes over another file system's device.
    let out = env.ok(&["devadd", "--force", &r.mnt, other.to_str().unwrap()]);
    assert!(out.contains("device 2 of"), "{out}");
    // A client may not add devices.
    let client = Env::new();
    client.ok(&["mount", r.dev_str(), &r.mnt]);
    let meta = r.meta();
    let dev3 = client.dir().join("d3.img");
    let err = client.fail(&["devadd", "-s", "64m", &r.mnt, dev3.to_str().unwrap()]);
    assert!(err.contains("client"), "{err}");
    assert_meta_unchanged(&r, &meta, "devadd from a client");
}

#[test]
fn a_device_missing_at_mount_fails_only_the_files_that_use_it() {
    let env = Env::new();
    let (r, devs) = multi(&env, 3);
    let mut files = one_device_files(&env, &r, 8, 6 * MIB, 100);
    let all = {
        let path = r.p("everywhere");
        creat(&env, &path, 7, 9 * MIB, &["-N", "4", "-B", "4", "-C", "2m"]);
        files.push((path.clone(), 7, devices_of(&env, &path)));
        path
    };
    assert_eq!(files.last().unwrap().2.len(), 4, "{all} spans all devices");
    // Take device 2 away; mount again naming only devices 1 and 3.
    let uuid2 = env
        .ok(&["fsck", &r.mnt])
        .lines()
        .find_map(|l| l.strip_prefix("device 2: uuid "))
        .map(|l| l.split(',').next().unwrap().to_string())
        .unwrap();
    let hidden = env.dir().join("hidden.img");
    std::fs::rename(&devs[2], &hidden).unwrap();
    env.ok(&["umount", &r.mnt]);
    let out = mount_with(&env, &r, &[&devs[1], &devs[3]]);
    assert!(out.success(), "{}", out.describe());
    assert!(
        out.stderr.contains(&uuid2) && out.stderr.contains("EIO"),
        "the mount warns about the missing device: {}",
        out.describe()
    );
    // A path that is not a secondary device of this file system is refused.
    env.ok(&["umount", &r.mnt]);
    let err = env.fail(&["mount", "--device", r.dev_str(), r.dev_str(), &r.mnt]);
    assert!(err.contains("primary"), "{err}");
    let out = mount_with(&env, &r, &[&devs[1], &devs[3]]);
    assert!(out.success(), "{}", out.describe());

    let paths: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
    let shim = read_under_shim(&env, &paths);
    let (mut failed, mut served) = (0, 0);
    for (path, seed, used) in &files {
        let cat = env.famfs(&["cat", path]);
        if used.contains(&2) {
            failed += 1;
            assert!(!cat.success(), "{path} is on the missing device");
            assert!(cat.stderr.contains(&uuid2), "{}", cat.describe());
            assert_eq!(shim[path], "EIO", "{path} under the shim");
        } else {
            served += 1;
            let want = sha256_hex(&pattern(*seed, 6 * MIB as usize));
            assert_eq!(sha256_hex(&cat.stdout_bytes), want, "{path}");
            assert_eq!(shim[path], format!("{want} {want}"), "{path}");
        }
    }
    assert!(
        failed >= 2 && served >= 1,
        "{failed} failed, {served} served"
    );
    // The device comes back: every file reads again, in new processes.
    std::fs::rename(&hidden, &devs[2]).unwrap();
    env.ok(&["umount", &r.mnt]);
    let out = mount_with(&env, &r, &devs[1..].iter().collect::<Vec<_>>());
    assert!(out.success(), "{}", out.describe());
    for (path, seed, _) in &files {
        env.ok(&["verify", "-S", &seed.to_string(), "-f", path]);
    }
}

/// Reads the first page of each file, waits for a line on stdin (the test
/// truncates one device meanwhile), then reads each again and reports.
const READER: &str = r#"
import errno, os, sys
fds = [os.open(p, os.O_RDONLY) for p in sys.argv[1:]]
print("first", sum(len(os.pread(fd, 4096, 0)) for fd in fds), flush=True)
sys.stdin.readline()
for p, fd in zip(sys.argv[1:], fds):
    out = []
    for attempt in range(2):
        try:
            os.pread(fd, 1 << 20, 0)
            out.append("ok")
        except OSError as e:
            out.append(errno.errorcode[e.errno])
    print(p, *out, flush=True)
print("alive", flush=True)
"#;

#[test]
fn a_memory_error_on_one_device_fails_only_the_files_that_touch_it() {
    let env = Env::new();
    let (r, devs) = multi(&env, 3);
    let files: Vec<(String, BTreeSet<u32>)> = one_device_files(&env, &r, 8, 4 * MIB, 0)
        .into_iter()
        .map(|(p, _, used)| (p, used))
        .collect();
    // The device to fail: one that some files use and others do not.
    let victim = (1..=3u32)
        .find(|d| {
            let n = files.iter().filter(|f| f.1.contains(d)).count();
            n > 0 && n < files.len()
        })
        .expect("files spread over the secondary devices");
    let paths: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
    let mut reader = env.shim_stepped(
        "python3",
        &[&["-c", READER][..], &str_refs(&paths)].concat(),
    );
    assert_eq!(reader.line(), format!("first {}", 4096 * files.len()));
    // Cut the victim back to its superblock region: its file pages are gone
    // and the next copy from them faults with a real SIGBUS.
    truncate(&devs[victim as usize], 2 * MIB);
    reader.send("go");
    let lines = reader.finish();
    assert_eq!(lines.last().map(String::as_str), Some("alive"), "{lines:?}");
    for (path, used) in &files {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("{path} ")))
            .unwrap();
        let want = if used.contains(&victim) {
            "EIO EIO"
        } else {
            "ok ok"
        };
        assert_eq!(
            &line[path.len() + 1..],
            want,
            "{path} on {used:?}, device {victim} failed"
        );
    }
}
