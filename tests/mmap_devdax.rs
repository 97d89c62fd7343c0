//! mmap through the shim under devdax's rules, on a simulated region.
//!
//! `tests/c/mmap_devdax.c` maps famfs files at odd page offsets and
//! lengths, shared and private, simple and interleaved, then unmaps parts,
//! changes protection, advises, remaps and maps at fixed addresses, and
//! compares every byte with pread. While it runs it checks that every
//! mapping of the region file in /proc/self/maps starts, ends and sits at
//! a device offset that are multiples of the device's 2 MiB alignment, as a
//! real devdax device demands (the VM checks in `tests/vm` run the same
//! program on a real `/dev/dax`).

use famfs_tests::*;
use std::fs;

#[test]
fn mmap_keeps_the_device_alignment() {
    let env = Env::new();
    let r = env.region("128m");
    let host = env.dir().join("host");
    fs::create_dir_all(&host).unwrap();
    let big = host.join("big.bin");
    let small = host.join("small.bin");
    let scratch = host.join("scratch.bin");
    write_file(&big, &pattern(3, (9 * MIB + 12345) as usize), 0o644);
    write_file(&small, b"twenty-seven bytes of text\n", 0o644);
    write_file(&scratch, &pattern(4, 65536), 0o644);
    for f in [&big, &small, &scratch] {
        env.ok(&["cp", f.to_str().unwrap(), &r.mnt]);
    }
    env.ok(&[
        "creat",
        "-N",
        "2",
        "-B",
        "4",
        "-C",
        "2m",
        "-S",
        "7",
        "-s",
        "9m",
        &r.p("ilv.bin"),
    ]);
    let exe = compile_c("mmap_devdax", env.dir(), &[]);
    let out = run(env.shim(
        &exe,
        &[
            "2097152",
            r.dev_str(),
            &r.p("big.bin"),
            &r.p("ilv.bin"),
            &r.p("small.bin"),
            &r.p("scratch.bin"),
        ],
    ));
    let fails: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("FAIL"))
        .collect();
    assert!(
        out.success() && fails.is_empty() && out.stdout.contains("ok no_device_mapping_left"),
        "mmap_devdax under the shim:\n{}",
        out.describe()
    );
    // The scratch file's bytes are restored.
    assert_eq!(
        env.ok_bytes(&["cat", &r.p("scratch.bin")]),
        pattern(4, 65536),
        "scratch file changed"
    );
}
