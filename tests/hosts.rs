//! Several hosts on one region: one master and three
//! clients, each with its own system uuid (`FAMFS_SYSTEM_UUID_FILE`) and
//! mount table, all mounting the same simulated region.
//!
//! - Clients refuse every append — CLI `creat`, `cp`, `cp -r`, `mkdir`,
//!   `mkdir -p`, and `mkdir`/`open(O_CREAT)` under the shim — with a role
//!   error (exit 1 naming client and master; EPERM under the shim), and
//!   not one byte of the region changes.
//! - A client process under the shim that has already replayed the log sees
//!   a file the master creates afterwards in one lookup, by replaying only
//!   the new entries (its `FAMFS_LOG=debug` trace says how many); the CLI
//!   on a client sees it on its first command.
//! - Clients keep serving reads under the shim while the master appends:
//!   three scan readers (`tests/c/famfs_reader.c`) list and verify files
//!   throughout a long `famfs cp` and interleaved `creat`s on the master.

use famfs_tests::consistency::{content_name, Checker};
use famfs_tests::reader;
use famfs_tests::*;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

/// A master with a region holding a directory and a file, and three
/// clients that mounted it. Returns (master, region as the master mounted
/// it, clients with their mounts).
fn cluster(size: &str) -> (Env, Region, Vec<(Env, Region)>) {
    let master = Env::new();
    let r = master.region(size);
    master.ok(&["mkdir", &r.p("shared")]);
    master.ok(&[
        "creat",
        "-r",
        "-S",
        "5",
        "-s",
        "70000",
        &r.p(&content_name("first", 5, 70000)),
    ]);
    let clients: Vec<(Env, Region)> = (0..3)
        .map(|_| {
            let c = Env::new();
            let m = c.mount(&r.dev);
            (c, m)
        })
        .collect();
    let mut uuids: Vec<&str> = clients.iter().map(|(c, _)| c.uuid()).collect();
    uuids.push(master.uuid());
    uuids.sort_unstable();
    uuids.dedup();
    assert_eq!(uuids.len(), 4, "four distinct system uuids");
    for (c, m) in &clients {
        let fsck = c.ok(&["fsck", &m.mnt]);
        assert!(fsck.contains("this host: client"), "{fsck}");
    }
    (master, r, clients)
}

#[test]
fn clients_refuse_to_append_and_write_nothing() {
    let (master, r, clients) = cluster("32m");
    let whole = || std::fs::read(&r.dev).unwrap();
    let before = whole();
    for (i, (c, m)) in clients.iter().enumerate() {
        let src = c.dir().join("src");
        write_file(&src.join("a"), b"from a client", 0o644);
        let s = src.to_str().unwrap();
        let (copy_src, new, shared_new, striped, copy, shared, d, xy) = (
            src.join("a").to_string_lossy().into_owned(),
            m.p("new"),
            m.p("shared/new"),
            m.p("striped"),
            m.p("copy"),
            m.p("shared"),
            m.p("d"),
            m.p("shared/x/y"),
        );
        let commands: [Vec<&str>; 7] = [
            vec!["creat", "-s", "4096", &new],
            vec!["creat", "-r", "-S", "3", "-s", "10k", &shared_new],
            vec![
                "creat", "-N", "1", "-B", "2", "-C", "2m", "-s", "3m", &striped,
            ],
            vec!["cp", &copy_src, &copy],
            vec!["cp", "-r", s, &shared],
            vec!["mkdir", &d],
            vec!["mkdir", "-p", &xy],
        ];
        for args in commands {
            let out = c.famfs(&args);
            let what = format!("client {i}: famfs {}", args.join(" "));
            assert_eq!(out.code(), Some(1), "{what}: {}", out.describe());
            let err = out.stderr.trim();
            assert_eq!(err.lines().count(), 1, "{what}: one line: {err}");
            assert!(
                err.contains("is a client")
                    && err.contains(c.uuid())
                    && err.contains(master.uuid()),
                "{what}: the role error names this host and the master: {err}"
            );
            assert_bytes_eq(&format!("{what}: the region"), &whole(), &before, 0);
        }
    }

    // The same through the shim: EPERM, and nothing written.
    let (c, m) = &clients[0];
    let script = r#"
import errno, os, sys
for what, call in (
    ("mkdir", lambda: os.mkdir(sys.argv[1] + "/d")),
    ("mkdir in a subdirectory", lambda: os.mkdir(sys.argv[1] + "/shared/d")),
    ("open O_CREAT", lambda: os.open(sys.argv[1] + "/f", os.O_CREAT | os.O_WRONLY, 0o644)),
    ("open O_CREAT|O_EXCL", lambda: os.open(sys.argv[1] + "/shared/f", os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)),
):
    try:
        call()
        print(what, "succeeded")
    except OSError as e:
        print(what, errno.errorcode[e.errno])
print("listed", sorted(os.listdir(sys.argv[1])))
"#;
    let out = run(c.shim("python3", &["-c", script, &m.mnt]));
    assert!(out.success(), "{}", out.describe());
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        [
            "mkdir EPERM",
            "mkdir in a subdirectory EPERM",
            "open O_CREAT EPERM",
            "open O_CREAT|O_EXCL EPERM",
            "listed ['.meta', 'first_s5_n70000', 'shared']",
        ],
        "{}",
        out.describe()
    );
    assert_bytes_eq("the region after the shim calls", &whole(), &before, 0);

    // The master still appends.
    master.ok(&["mkdir", &r.p("after")]);
}

/// One `famfs_reader lookup` process under the shim: a line in, a line out.
struct Lookup {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Lookup {
    fn start(env: &Env, exe: &std::path::Path) -> Lookup {
        let mut cmd = env.shim(exe, &["lookup"]);
        cmd.env("FAMFS_LOG", "famfs_core=debug,famfs_vfs=debug")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("lookup process");
        let out = BufReader::new(child.stdout.take().unwrap());
        Lookup { child, out }
    }

    /// One stat of `path`: `ok SIZE` or `err ERRNO`.
    fn stat(&mut self, path: &str) -> String {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{path}").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        line.trim().to_string()
    }

    /// Ends the process; returns its trace.
    fn finish(mut self) -> String {
        drop(self.child.stdin.take());
        let out = self.child.wait_with_output().unwrap();
        assert!(out.status.success(), "lookup process: {:?}", out.status);
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// `text` without ANSI colour sequences (the trace is coloured).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The entry counts of the shim's incremental replays, from its trace.
fn replays(trace: &str) -> Vec<u64> {
    strip_ansi(trace)
        .lines()
        .filter(|l| l.contains("replayed new log entries"))
        .map(|l| {
            let at = l.find("entries=").expect("entries field") + "entries=".len();
            l[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect()
}

#[test]
fn clients_see_new_files_in_one_lookup() {
    let (master, r, clients) = cluster("256m");
    let exe = reader::build(master.dir());
    let mut procs: Vec<Lookup> = clients
        .iter()
        .map(|(c, _)| Lookup::start(c, &exe))
        .collect();
    // Each process mounts and replays the log on its first lookup.
    for (p, (_, m)) in procs.iter_mut().zip(&clients) {
        assert_eq!(p.stat(&m.p("first_s5_n70000")), "ok 70000");
    }
    // Rounds: a file; a file in a new directory (two entries); an
    // interleaved file; a file in an existing directory.
    let rounds: [(&[&str], String, u64, u64); 4] = [
        (&[], content_name("a", 11, 1), 1, 1),
        (
            &["d1"],
            format!("d1/{}", content_name("b", 12, 300_000)),
            300_000,
            2,
        ),
        (&[], content_name("c", 13, 5 << 20), 5 << 20, 1),
        (
            &[],
            format!("shared/{}", content_name("e", 14, 4096)),
            4096,
            1,
        ),
    ];
    let mut expected_replays = Vec::new();
    for (dirs, rel, size, entries) in &rounds {
        for (p, (_, m)) in procs.iter_mut().zip(&clients) {
            assert_eq!(
                p.stat(&m.p(rel)),
                "err ENOENT",
                "{rel} before the master made it"
            );
        }
        for d in *dirs {
            master.ok(&["mkdir", &r.p(d)]);
        }
        let (seed, _) = famfs_tests::consistency::parse_content_name(rel).unwrap();
        let mut args = vec![
            "creat".to_string(),
            "-r".into(),
            "-S".into(),
            seed.to_string(),
            "-s".into(),
            size.to_string(),
        ];
        if *size > 2 * MIB {
            args.extend(["-N", "2", "-B", "4", "-C", "2m"].map(String::from));
        }
        args.push(r.p(rel));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        master.ok(&args);
        // Exactly one lookup on each client finds it.
        for (i, (p, (c, m))) in procs.iter_mut().zip(&clients).enumerate() {
            assert_eq!(p.stat(&m.p(rel)), format!("ok {size}"), "client {i}: {rel}");
            // And the CLI on that client, in one command.
            c.ok(&["verify", "-S", &seed.to_string(), "-f", &m.p(rel)]);
        }
        expected_replays.push(*entries);
    }
    for (i, p) in procs.into_iter().enumerate() {
        let trace = p.finish();
        // Opening the mount replayed the whole log (not traced as a
        // catch-up); each round then replayed only its own new entries.
        let seen = replays(&trace);
        assert_eq!(
            seen, expected_replays,
            "client {i}: incremental replays (trace:\n{trace})"
        );
    }
    Checker::new(&r.dev).check("after the rounds");
}

#[test]
fn clients_keep_reading_while_the_master_appends() {
    let (master, r, clients) = cluster("2g");
    let exe = reader::build(master.dir());
    // Files to copy in one long `famfs cp`, then a few interleaved creats.
    let src = master.dir().join("src");
    let mut names = vec![content_name("first", 5, 70000)];
    let mut args = vec!["cp".to_string()];
    for i in 0..300u32 {
        let size = 1 + u64::from(i * 7919 % 60_000);
        let name = content_name(&format!("m{i:03}"), 1000 + i, size);
        write_file(&src.join(&name), &pattern(1000 + i, size as usize), 0o644);
        args.push(src.join(&name).to_string_lossy().into_owned());
        names.push(name);
    }
    args.push(r.mnt.clone());

    let stop = master.dir().join("stop");
    let readers: Vec<_> = clients
        .iter()
        .map(|(c, m)| reader::start_scan(c, &exe, &m.mnt, &stop))
        .collect();
    // Each reader has listed (and checked) the one file there was before
    // the master starts appending.
    assert!(readers.iter().all(|s| s.first == 1));
    let args_ref: Vec<&str> = args.iter().map(String::as_str).collect();
    master.ok(&args_ref);
    for i in 0..6u32 {
        let size = (2 << 20) + 4096 * u64::from(i) + 3;
        let name = content_name(&format!("big{i}"), 2000 + i, size);
        master.ok(&[
            "creat",
            "-r",
            "-S",
            &(2000 + i).to_string(),
            "-s",
            &size.to_string(),
            "-N",
            "2",
            "-B",
            "4",
            "-C",
            "2m",
            &r.p(&name),
        ]);
        names.push(name);
    }
    let snap = Checker::new(&r.dev).check("after the master's appends");
    assert_eq!(snap.files.len(), names.len());
    std::fs::write(&stop, b"").unwrap();
    for (i, c) in readers.into_iter().enumerate() {
        let rep = reader::finish(c, &format!("client {i} reader"));
        assert_eq!(rep.final_count as usize, names.len(), "client {i}");
        assert_eq!(rep.verified as usize, names.len(), "client {i}");
        assert!(
            rep.partial > 0 && rep.rereads > 0,
            "client {i} never read while the master appended: {rep:?}"
        );
    }
}
