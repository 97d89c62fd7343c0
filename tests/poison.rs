//! Simulated memory errors (`famfs debug poison`): reading or mapping a
//! poisoned range fails with EHWPOISON through the CLI and the shim, marks
//! the device in the process that hit it, reaches processes already
//! running, and `famfs fsck` reports the device and the files in error.

use famfs_tests::*;

/// The device offset of a file's first extent, from `getmap`.
fn first_offset(env: &Env, path: &str) -> u64 {
    let map = env.ok(&["getmap", path]);
    let hex = map
        .lines()
        .find_map(|l| l.split("offset 0x").nth(1))
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("no offset in {map}"));
    u64::from_str_radix(hex, 16).unwrap()
}

/// Reads (and maps) each file given, in order, printing the outcome.
const READER: &str = r#"
import errno, mmap, os, sys
def attempt(what, f):
    try:
        f()
        print(what, "ok", flush=True)
    except OSError as e:
        # Python 3.11's errno module has no EHWPOISON (133 on Linux).
        name = "EHWPOISON" if e.errno == 133 else errno.errorcode[e.errno]
        print(what, name, flush=True)
for op in sys.argv[1:]:
    kind, path = op.split("=", 1)
    if kind == "wait":
        sys.stdin.readline()
        continue
    def read():
        with open(path, "rb") as f:
            f.read()
    def map_():
        fd = os.open(path, os.O_RDONLY)
        try:
            m = mmap.mmap(fd, os.fstat(fd).st_size, prot=mmap.PROT_READ)
            m.close()
        finally:
            os.close(fd)
    attempt(kind + " " + os.path.basename(path), read if kind == "read" else map_)
"#;

fn reader(env: &Env, ops: &[String]) -> Vec<String> {
    let args: Vec<&str> = ["-c", READER]
        .into_iter()
        .chain(ops.iter().map(String::as_str))
        .collect();
    let out = run(env.shim("python3", &args));
    assert!(out.success(), "{}", out.describe());
    out.stdout.lines().map(str::to_string).collect()
}

#[test]
fn poisoned_memory_fails_with_ehwpoison_in_the_cli_and_the_shim() {
    let env = Env::new();
    let r = env.region("128m");
    let src = env.dir().join("src.bin");
    write_file(&src, &pattern(3, 4 * MIB as usize), 0o644);
    for name in ["a", "b"] {
        env.ok(&["cp", src.to_str().unwrap(), &r.p(name)]);
    }
    let a_off = first_offset(&env, &r.p("a"));
    let target = (a_off + MIB + 100).to_string();
    let out = env.ok(&["debug", "poison", r.dev_str(), &target, "10"]);
    assert!(out.contains("poisoned"), "{out}");

    // The CLI: a fails with a memory error, b is fine.
    let cat = env.famfs(&["cat", &r.p("a")]);
    assert!(!cat.success(), "{}", cat.describe());
    assert!(cat.stderr.contains("memory error"), "{}", cat.describe());
    let err = env.fail(&["verify", "-S", "3", "-f", &r.p("a")]);
    assert!(err.contains("memory error"), "{err}");
    assert_eq!(
        env.ok_bytes(&["cat", &r.p("b")]),
        pattern(3, 4 * MIB as usize)
    );

    // The shim: b is fine until a is touched; then the device is marked
    // and every file on it fails, as the kernel marks a dax device.
    let ops: Vec<String> = ["read=b", "map=b", "read=a", "map=a", "read=a", "read=b"]
        .iter()
        .map(|o| {
            let (k, n) = o.split_once('=').unwrap();
            format!("{k}={}", r.p(n))
        })
        .collect();
    assert_eq!(
        reader(&env, &ops),
        [
            "read b ok",
            "map b ok",
            "read a EHWPOISON",
            "map a EHWPOISON",
            "read a EHWPOISON",
            "read b EHWPOISON",
        ]
    );
    // A mapping of a alone (a fresh process) is refused too.
    assert_eq!(
        reader(&env, &[format!("map={}", r.p("a"))]),
        ["map a EHWPOISON"]
    );

    // fsck names the device and the file, and fails.
    let out = env.famfs(&["fsck", &r.mnt]);
    assert!(!out.success(), "{}", out.describe());
    assert!(
        out.stdout.contains("device 0 in error: 1 poisoned range"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("file in error: a\n"), "{}", out.stdout);
    assert!(!out.stdout.contains("file in error: b"), "{}", out.stdout);

    // Cleared, everything reads again.
    env.ok(&["debug", "poison", "--clear", r.dev_str()]);
    env.ok(&["fsck", &r.mnt]);
    assert_eq!(reader(&env, &[format!("read={}", r.p("a"))]), ["read a ok"]);
}

#[test]
fn a_running_reader_sees_new_poison_on_its_next_read() {
    let env = Env::new();
    let r = env.region("128m");
    env.ok(&["creat", "-S", "1", "-s", "3m", &r.p("f")]);
    let off = first_offset(&env, &r.p("f")).to_string();
    let mut reader = env.shim_stepped(
        "python3",
        &[
            "-c",
            READER,
            &format!("read={}", r.p("f")),
            "wait=",
            &format!("read={}", r.p("f")),
        ],
    );
    assert_eq!(reader.line(), "read f ok");
    env.ok(&["debug", "poison", r.dev_str(), &off, "4k"]);
    reader.send("");
    assert_eq!(reader.finish(), ["read f EHWPOISON"]);
}

#[test]
fn poison_refuses_what_it_cannot_simulate() {
    let env = Env::new();
    let r = env.region("64m");
    let meta = r.meta();
    for (args, want) in [
        (vec!["1m", "4k"], "superblock region"),
        (vec!["64m", "1"], "outside the device"),
    ] {
        let mut all = vec!["debug", "poison", r.dev_str()];
        all.extend(args);
        let err = env.fail(&all);
        assert!(err.contains(want), "{all:?}: {err}");
    }
    env.fail_code(&["debug", "poison", r.dev_str(), "x", "1"], 2);
    env.fail_code(&["debug", "poison", r.dev_str(), "4m"], 2);
    let err = env.fail(&["debug", "poison", "/nonexistent.img", "4m", "1"]);
    assert!(err.contains("No such file"), "{err}");
    assert_meta_unchanged(&r, &meta, "refused poison");
}
