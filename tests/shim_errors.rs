//! Memory errors under the shim: a region truncated under a running reader
//! raises a real SIGBUS inside the shim's copy; the application gets EIO,
//! keeps running, and every later access to the device fails the same way.

use famfs_tests::*;

/// Reads at the first file offset, then waits for a line on stdin (the
/// test truncates the region meanwhile), reads again twice, and opens and
/// reads another file on the same device.
const READER: &str = r#"
import errno, mmap, os, signal, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print("first", len(os.pread(fd, 4096, 0)), flush=True)
sys.stdin.readline()
for attempt in ("second", "third"):
    try:
        os.pread(fd, 4096, 0)
        print(attempt, "read ok", flush=True)
    except OSError as e:
        print(attempt, errno.errorcode[e.errno], flush=True)
try:
    fd2 = os.open(sys.argv[2], os.O_RDONLY)
    os.read(fd2, 10)
    print("other file read ok", flush=True)
except OSError as e:
    print("other file", errno.errorcode[e.errno], flush=True)
print("alive", flush=True)
"#;

#[test]
fn sigbus_on_truncated_region_gives_eio_and_the_reader_carries_on() {
    let env = Env::new();
    let r = env.region("256M");
    let src = env.dir().join("data.bin");
    write_file(&src, &pattern(7, (4 * MIB) as usize), 0o644);
    env.ok(&["cp", src.to_str().unwrap(), &r.p("a.bin")]);
    env.ok(&["cp", src.to_str().unwrap(), &r.p("b.bin")]);

    let mut reader = env.shim_stepped("python3", &["-c", READER, &r.p("a.bin"), &r.p("b.bin")]);
    assert_eq!(reader.line(), "first 4096", "before truncation");
    // Cut the region back to its metadata: every file page is gone, so the
    // next copy from the mapping faults with SIGBUS (BUS_ADRERR).
    truncate(&r.dev, META_LEN);
    reader.send("go");
    assert_eq!(
        reader.finish(),
        ["second EIO", "third EIO", "other file EIO", "alive"]
    );
}

/// The application's own SIGBUS handler still runs for faults in its own
/// mappings (the shim chains to it), and sigaction reports it; a fault in
/// the shim's copy is EIO.
#[test]
fn application_sigbus_handler_is_chained() {
    let env = Env::new();
    let r = env.region("256M");
    let src = env.dir().join("data.bin");
    write_file(&src, &pattern(9, (2 * MIB) as usize), 0o644);
    env.ok(&["cp", src.to_str().unwrap(), &r.p("a.bin")]);
    let exe = compile_c("sigbus_chain", env.dir(), &["-Werror"]);
    let out = run(env.shim(&exe, &[&r.p("a.bin"), r.dev_str(), &META_LEN.to_string()]));
    assert!(out.success(), "{}", out.describe());
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        [
            "mapped first byte 1",
            "app handler ran 1",
            "pread errno EIO",
            "handler reported ours",
            "alive"
        ],
        "{}",
        out.describe()
    );
}

/// `famfs cat` with its stdout a pipe the test does not drain: the CLI has
/// copied its first chunk and blocks writing it, the test truncates the
/// region under it, then drains. The next copy from the mapping faults
/// with a real SIGBUS, which the CLI reports as one line naming the device
/// and offset, exiting 1 instead of dying of the signal.
#[test]
fn sigbus_under_a_running_cli_copy_is_a_one_line_error() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let env = Env::new();
    let r = env.region("64M");
    let src = env.dir().join("data.bin");
    // 16 MiB right after the log: device offsets 10 MiB .. 26 MiB.
    write_file(&src, &pattern(8, (16 * MIB) as usize), 0o644);
    env.ok(&["cp", src.to_str().unwrap(), &r.p("big.bin")]);
    let mut child = env
        .command(&["cat", &r.p("big.bin")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = vec![0u8; 4096];
    out.read_exact(&mut first).unwrap();
    // Keep the first 2 MiB of file data; the rest of the file is gone.
    truncate(&r.dev, 12 * MIB);
    let mut rest = Vec::new();
    out.read_to_end(&mut rest).unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), None, "killed by a signal; stderr: {err}");
    assert_eq!(status.code(), Some(1), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("memory error at device offset 0xc00000") && err.contains(r.dev_str()),
        "names the device and the first lost offset: {err}"
    );
    let got = first.len() + rest.len();
    assert!(
        (got as u64) <= 2 * MIB && (got as u64) >= 4096,
        "printed {got} bytes: only what the device still held"
    );
    assert_eq!(&first[..], &pattern(8, 4096)[..]);
}

/// A panic inside the shim reaches the program as EIO from that one call
/// (forced here with `FAMFS_DEBUG_PANIC_ON_OPEN`), and the program keeps
/// using famfs. This runs the shipped libfamfs.so, whose unwinder is linked
/// in statically (famfs-preload/build.rs): if unwinding did not work there,
/// the panic would abort the program instead.
#[test]
fn a_panic_in_the_shim_is_eio_for_that_call_only() {
    let env = Env::new();
    let r = env.region("256M");
    let src = env.dir().join("data.bin");
    write_file(&src, &pattern(3, 8192), 0o644);
    env.ok(&["cp", src.to_str().unwrap(), &r.p("a.bin")]);
    env.ok(&["cp", src.to_str().unwrap(), &r.p("boom")]);
    let script = r#"
import errno, os, sys
for name in ("boom", "a.bin", "boom"):
    try:
        fd = os.open(sys.argv[1] + "/" + name, os.O_RDONLY)
        print(name, len(os.pread(fd, 8192, 0)), flush=True)
        os.close(fd)
    except OSError as e:
        print(name, errno.errorcode[e.errno], flush=True)
print("alive", flush=True)
"#;
    let mut cmd = env.shim("python3", &["-c", script, &r.mnt]);
    cmd.env("FAMFS_DEBUG_PANIC_ON_OPEN", "boom");
    let out = run(cmd);
    assert!(out.status.success(), "{}", out.describe());
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["boom EIO", "a.bin 8192", "boom EIO", "alive"],
        "{}",
        out.describe()
    );
    assert!(
        out.stderr.contains("FAMFS_DEBUG_PANIC_ON_OPEN"),
        "the panic message names its cause: {}",
        out.describe()
    );
}
