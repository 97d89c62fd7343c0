//! Concurrent writers on one host.
//!
//! Eight `famfs cp` processes start at once, each copying 200 host files of
//! mixed sizes (1 byte to a few MiB) into the same mount point; half of them
//! pass `-N 2 -B 8 -C 2m`, so their files over one chunk are interleaved.
//! Meanwhile two readers run under the shim (`tests/c/famfs_reader.c`,
//! LD_PRELOAD=libfamfs.so): they list the mount point over and over and
//! read (or map) every new file completely, checking it against the
//! pattern its name states, so they can only pass if every file they ever
//! saw was complete.
//!
//! Afterwards: exactly 1600 log entries, 1600 distinct files, no bad entry,
//! no allocation collision, every file verifies, `famfs fsck` is clean, and
//! each reader saw intermediate states, checked all 1600 files and found
//! nothing wrong. `make stress` runs a larger variant (8 writers × 1000
//! files, four readers).

use famfs_core::dax::Access;
use famfs_core::famfs::Famfs;
use famfs_tests::consistency::{content_name, Checker};
use famfs_tests::reader;
use famfs_tests::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// Mixed sizes: mostly small, some medium, and every 25th file over one
/// 2 MiB chunk (those of striped writers are interleaved).
fn file_size(rng: &mut StdRng, i: usize) -> u64 {
    if i % 25 == 24 {
        return rng.gen_range((2 << 20) + 1..=5 << 20);
    }
    match rng.gen_range(0..100) {
        0..=79 => rng.gen_range(1..=16 << 10),
        80..=96 => rng.gen_range(16 << 10..=256 << 10),
        _ => rng.gen_range(256 << 10..=2 << 20),
    }
}

fn run_concurrent(writers: usize, files_per_writer: usize, readers: usize, region: &str) {
    let mut rng = StdRng::seed_from_u64(test_seed());
    let env = Env::new();
    let r = env.region(region);
    let exe = reader::build(env.dir());
    let total = writers * files_per_writer;

    // The log and the region must hold everything: one entry per file, and
    // at most 3 allocation units of 2 MiB per file (5 MiB, or two strips).
    let capacity = Famfs::open(&r.dev, Access::ReadOnly)
        .unwrap()
        .log_header()
        .unwrap()
        .capacity();
    assert!(
        capacity as usize >= total,
        "the log holds only {capacity} entries"
    );

    let t0 = Instant::now();
    // Host sources: writer w's files, named so their content is checkable.
    let mut names = BTreeSet::new();
    let mut writer_args = Vec::new();
    let mut planned_alloc = 0u64;
    let mut striped_big = 0usize;
    for w in 0..writers {
        let dir = env.dir().join(format!("src{w}"));
        let mut args = vec!["cp".to_string()];
        if w % 2 == 0 {
            args.extend(["-N", "2", "-B", "8", "-C", "2m"].map(String::from));
        }
        for i in 0..files_per_writer {
            let size = file_size(&mut rng, i);
            let seed = (w * 100_000 + i) as u32;
            let name = content_name(&format!("w{w}_{i:04}"), seed, size);
            write_file(&dir.join(&name), &pattern(seed, size as usize), 0o644);
            // Whole 2 MiB units; an interleaved file has two strips of
            // whole chunks.
            let striped = w % 2 == 0 && size > 2 * MIB;
            planned_alloc += if striped {
                striped_big += 1;
                2 * size.div_ceil(4 * MIB) * 2 * MIB
            } else {
                size.div_ceil(2 * MIB) * 2 * MIB
            };
            args.push(dir.join(&name).to_string_lossy().into_owned());
            names.insert(name);
        }
        args.push(r.mnt.clone());
        writer_args.push(args);
    }
    let region_bytes = std::fs::metadata(&r.dev).unwrap().len();
    assert!(
        planned_alloc < region_bytes / 2,
        "region too small: {planned_alloc} bytes planned on {region_bytes}"
    );

    println!("sources written in {:.1?}", t0.elapsed());
    let stop = env.dir().join("stop");
    let mut reader_children: Vec<reader::Scan> = (0..readers)
        .map(|_| reader::start_scan(&env, &exe, &r.mnt, &stop))
        .collect();
    assert!(reader_children.iter().all(|s| s.first == 0));

    let start = Instant::now();
    let writer_children: Vec<Child> = writer_args
        .iter()
        .map(|args| {
            let mut cmd: Command = env.command(args);
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            cmd.spawn().expect("start a writer")
        })
        .collect();
    for (w, c) in writer_children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "writer {w} failed ({:?}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let writing = start.elapsed();

    // The log: one entry per file, every file complete, nothing shared.
    let snap = Checker::new(&r.dev).check("after the concurrent writers");
    assert_eq!(snap.next_index as usize, total, "log entries");
    assert_eq!(snap.files.len(), total, "distinct files");
    assert_eq!(snap.files, names, "the files are exactly the ones copied");
    assert_eq!(snap.newly_verified, total);
    let fsck = env.famfs(&["fsck", r.dev_str()]);
    assert!(fsck.success(), "fsck: {}", fsck.describe());
    assert_eq!(number_after(&fsck.stdout, "allocation collisions"), 0);
    // Exactly the striped writers' files over one chunk are interleaved.
    let fs = Famfs::open(&r.dev, Access::ReadOnly).unwrap();
    let interleaved = fs
        .replay()
        .namespace()
        .nodes()
        .filter_map(|n| n.as_file())
        .filter(|f| f.fmap.is_interleaved())
        .count();
    assert_eq!(interleaved, striped_big, "interleaved files");
    drop(fs);

    println!("checked in {:.1?}", t0.elapsed());
    std::fs::write(&stop, b"").unwrap();
    for (i, c) in reader_children.drain(..).enumerate() {
        let rep = reader::finish(c, &format!("reader {i}"));
        assert_eq!(rep.final_count as usize, total, "reader {i}: last listing");
        assert_eq!(rep.verified as usize, total, "reader {i}: files checked");
        // It must have watched the namespace grow, not just read the end
        // result: otherwise it proved nothing about concurrent appends.
        assert!(
            rep.partial > 0 && rep.grew > 1,
            "reader {i} never saw the log mid-way: {rep:?}"
        );
    }
    println!(
        "{writers} writers x {files_per_writer} files ({} MiB planned allocation) in {writing:.1?}",
        planned_alloc / MIB
    );
    println!("{interleaved} interleaved files");
}

#[test]
fn eight_writers_and_shim_readers_at_once() {
    run_concurrent(8, 200, 2, "16g");
}

#[test]
#[ignore = "long: make stress"]
fn stress_eight_writers_and_shim_readers_at_once() {
    run_concurrent(8, 1000, 4, "64g");
}
