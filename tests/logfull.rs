//! A full 8 MiB log: 15420 entries, then "log full" from the CLI.
//!
//! Filling the log through 15420 CLI runs would be slow, so the entries are
//! appended with famfs-core's library API, as this host. The library reads
//! the host's uuid file from `FAMFS_SYSTEM_UUID_FILE` in this process's
//! environment, so this test has a test binary of its own: nothing else here
//! reads or writes the environment while it is set.

use famfs_core::dax::Access;
use famfs_core::famfs::{Created, Famfs, DEFAULT_LOG_ENTRIES};
use famfs_core::namespace::Meta;
use famfs_core::Error;
use famfs_tests::*;

#[test]
fn full_log_refuses_new_entries_and_changes_nothing() {
    assert_eq!(DEFAULT_LOG_ENTRIES, 15420);
    let env = Env::new();
    let r = env.region("64m");
    // Entry 0 through the CLI: a file to re-creat later.
    env.ok(&["creat", "-r", "-S", "8", "-s", "3000", &r.p("f")]);
    env.ok(&["mkdir", &r.p("top")]);

    std::env::set_var("FAMFS_SYSTEM_UUID_FILE", env.uuid_file());
    let mut fs = Famfs::open(&r.dev, Access::ReadWrite).expect("open as the master");
    assert_eq!(fs.role().unwrap().to_string(), "master");
    let meta = Meta {
        uid: 0,
        gid: 0,
        mode: 0o755,
    };
    for i in 2..DEFAULT_LOG_ENTRIES {
        fs.mkdir(&format!("top/d{i}"), meta, None)
            .unwrap_or_else(|e| panic!("library mkdir #{i}: {e}"));
    }
    assert_eq!(log_next_index(&r.dev), DEFAULT_LOG_ENTRIES);
    // The library itself refuses a 15421st entry, and re-creating an existing
    // file of the same size is still fine.
    match fs.mkdir("one_more", meta, None) {
        Err(Error::LogFull { entries }) => assert_eq!(entries, DEFAULT_LOG_ENTRIES),
        other => panic!("expected LogFull, got {other:?}"),
    }
    match fs.create_file("g", 1, meta, |_| Ok(())) {
        Err(Error::LogFull { .. }) => {}
        other => panic!("expected LogFull, got {other:?}"),
    }
    assert!(matches!(
        fs.create_file("f", 3000, meta, |_| Ok(())),
        Ok(Created::Existing(_))
    ));
    drop(fs);

    // The CLI refuses every new entry with "log full" and changes nothing.
    let src = env.dir().join("src");
    write_file(&src, b"abc", 0o644);
    let s = src.to_str().unwrap();
    let before = r.meta();
    for args in [
        vec!["mkdir", &r.p("new_dir")],
        vec!["mkdir", "-p", &r.p("a/b/c")],
        vec!["creat", "-s", "1", &r.p("new_file")],
        vec!["cp", s, &r.p("new_copy")],
    ] {
        let err = env.fail(&args);
        assert!(
            err.to_lowercase().contains("log full"),
            "`{}` should say log full: {err}",
            args.join(" ")
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_meta_unchanged(&r, &before, &args.join(" "));
    }
    // What needs no entry still works.
    env.ok(&["mkdir", "-p", &r.p("top")]);
    env.ok(&["creat", "-s", "3000", &r.p("f")]);
    env.ok(&["verify", "-S", "8", "-f", &r.p("f")]);
    assert_meta_unchanged(&r, &before, "no-op commands on a full log");

    // Everything replays; fsck and df say the log is full.
    let fsck = env.ok(&["fsck", r.dev_str()]);
    assert!(
        fsck.contains("15420/15420") || fsck.contains("15420 / 15420"),
        "fsck should report 15420/15420 entries:\n{fsck}"
    );
    let df = env.ok(&["df", &r.mnt]);
    assert!(
        df.contains("15420/15420") || df.contains("15420 / 15420"),
        "df should report 15420/15420 entries:\n{df}"
    );
    let names = env.ok(&["ls", &r.p("top")]);
    assert_eq!(names.lines().count() as u64, DEFAULT_LOG_ENTRIES - 2);
    assert!(names.lines().any(|l| l.trim() == "d15419"));
}
