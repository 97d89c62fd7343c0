//! The shim's memory for a full log.
//!
//! A 32 GiB sparse region whose 8 MiB log holds all 15420 entries: 20
//! directories and 15400 files (one 2 MiB unit each), appended through the
//! library as in `logfull.rs` (the files are allocated and logged, their
//! contents never written, so filling takes seconds). `tests/c/mem_usage.c`
//! reports VmRSS, RssAnon, RssFile, VmHWM and malloc's heap around its first
//! lookup: without the shim, under the shim on a one-entry log, and under
//! the shim on the full log. Run
//! `cargo test -p famfs-tests --test shim_memory -- --nocapture` to see the
//! numbers; the test holds the shim to generous bounds.
//!
//! The library reads this host's uuid file from `FAMFS_SYSTEM_UUID_FILE` in
//! this process's environment, so this test has a binary of its own.

use famfs_core::dax::Access;
use famfs_core::famfs::{Famfs, DEFAULT_LOG_ENTRIES};
use famfs_core::namespace::Meta;
use famfs_tests::*;
use std::collections::BTreeMap;
use std::process::Command;

/// `mem_usage` figures: label -> (name -> value) for `before` and `after`.
/// Its lookup must have found the path (under the shim) or not (without).
fn usage(out: &Out, found: bool) -> BTreeMap<String, BTreeMap<String, i64>> {
    assert!(out.success(), "{}", out.describe());
    let stat = if found {
        "stat 0".to_string()
    } else {
        format!("stat {}", libc::ENOENT)
    };
    assert!(out.stdout.lines().any(|l| l == stat), "{}", out.describe());
    out.stdout
        .lines()
        .filter(|l| l.starts_with("before ") || l.starts_with("after "))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let fields = w[1..]
                .chunks(2)
                .map(|p| (p[0].to_string(), p[1].parse().unwrap()))
                .collect();
            (w[0].to_string(), fields)
        })
        .collect()
}

/// Fills the log of `r` to its last entry as `env`'s host: 20 directories
/// and 15400 files of 1 to 5 bytes, through the library.
fn fill_log(env: &Env, r: &Region) {
    std::env::set_var("FAMFS_SYSTEM_UUID_FILE", env.uuid_file());
    let mut fs = Famfs::open(&r.dev, Access::ReadWrite).expect("open as the master");
    let meta = Meta {
        uid: 0,
        gid: 0,
        mode: 0o755,
    };
    let dirs = 20;
    for d in 0..dirs {
        fs.mkdir(&format!("d{d:02}"), meta, None).unwrap();
    }
    let files = DEFAULT_LOG_ENTRIES - dirs;
    for i in 0..files {
        let path = format!("d{:02}/file{:04}", i % dirs, i / dirs);
        fs.create_file(&path, 1 + i % 5, meta, |_| Ok(()))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    assert_eq!(
        log_next_index(&r.dev),
        DEFAULT_LOG_ENTRIES,
        "the log is full"
    );
}

#[test]
fn shim_memory_for_a_full_log() {
    let env = Env::new();
    let exe = compile_c("mem_usage", env.dir(), &["-Werror"]);
    let small = env.region("64m");
    env.ok(&["mkdir", &small.p("d00")]);
    let full = env.region("32g");
    let start = std::time::Instant::now();
    fill_log(&env, &full);
    println!(
        "filled the log ({DEFAULT_LOG_ENTRIES} entries) in {:.1?}",
        start.elapsed()
    );

    let without = usage(
        &run({
            let mut c = Command::new(&exe);
            c.arg(full.p("d00"));
            c
        }),
        false,
    );
    let one = usage(&run(env.shim(&exe, &[&small.p("d00")])), true);
    let all = usage(&run(env.shim(&exe, &[&full.p("d19/file0769")])), true);
    println!("after the first lookup (KiB; heap in bytes):");
    for (label, u) in [
        ("no shim", &without),
        ("shim, 1-entry log", &one),
        ("shim, full log (15420 entries)", &all),
    ] {
        let a = &u["after"];
        println!(
            "  {label:32} rss {:>7}  anon {:>7}  file {:>7}  hwm {:>7}  heap {:>10}",
            a["rss"], a["anon"], a["file"], a["hwm"], a["heap"]
        );
    }
    let extra_rss = all["after"]["rss"] - without["after"]["rss"];
    let extra_heap = all["after"]["heap"] - without["after"]["heap"];
    println!(
        "the shim with a full log: +{extra_rss} KiB RSS, +{} KiB heap over the same program without it",
        extra_heap / 1024
    );
    // Generous bounds: a regression to, say, a copy of the log per entry
    // would break them; normal variation would not.
    assert!(
        extra_rss < 128 << 10,
        "the shim's RSS for a full log: {extra_rss} KiB"
    );
    assert!(
        extra_heap < 64 << 20,
        "the shim's heap for a full log: {extra_heap} bytes"
    );
}
