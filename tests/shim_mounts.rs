//! Mounts made after a program started: a process under the shim sees a
//! famfs mount added to the table while it runs, and stops seeing it once
//! it is unmounted, without a restart.

use famfs_tests::*;

/// Waits (up to 5 s) until the path exists, reads it, then waits for it to
/// go away again.
const READER: &str = r#"
import os, sys, time
p = sys.argv[1]
print("exists before:", os.path.exists(p), flush=True)
sys.stdin.readline()
t0 = time.monotonic()
while not os.path.exists(p) and time.monotonic() - t0 < 5:
    time.sleep(0.02)
print("read:", len(open(p, "rb").read()), flush=True)
sys.stdin.readline()
t0 = time.monotonic()
while os.path.exists(p) and time.monotonic() - t0 < 5:
    time.sleep(0.02)
print("exists after umount:", os.path.exists(p), flush=True)
"#;

#[test]
fn a_running_process_sees_mounts_added_and_removed() {
    let env = Env::new();
    let dev = env.mkfs_region("64m");
    let mnt = virtual_mountpoint();
    let file = format!("{mnt}/late.bin");
    let mut reader = env.shim_stepped("python3", &["-c", READER, &file]);
    assert_eq!(reader.line(), "exists before: False");
    env.ok(&["mount", dev.to_str().unwrap(), &mnt]);
    env.ok(&["creat", "-S", "3", "-s", "12345", &file]);
    reader.send("mounted");
    assert_eq!(reader.line(), "read: 12345");
    env.ok(&["umount", &mnt]);
    reader.send("unmounted");
    assert_eq!(reader.finish(), ["exists after umount: False"]);
}

/// `..` out of a mount reaches the kernel as the path it resolves to: the
/// mount point need not exist for the kernel, so the kernel could not walk
/// back out of it (`ls -la` of a mount showed `..` as unreadable).
#[test]
fn dotdot_out_of_a_mount_is_resolved_for_the_kernel() {
    let env = Env::new();
    let r = env.region("256M");
    assert!(
        !std::path::Path::new(&r.mnt).exists(),
        "the mount point is not in the kernel's namespace"
    );
    let up = format!("{}/../..", r.mnt);
    let out = run(env.shim("stat", &["-c", "%F %d %i", &up, "/"]));
    assert!(out.status.success(), "{}", out.describe());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.describe());
    assert!(lines[0].starts_with("directory "), "{}", out.describe());
    assert_eq!(lines[0], lines[1], "{up} is /: {}", out.describe());
}

/// Checks once, at each line on stdin, whether the path exists. A second
/// thread makes a path call every 5 ms meanwhile, so a clock-based look at
/// the mount table (every 200 ms) is never overdue when a line comes.
const CHECKER: &str = r#"
import os, sys, threading, time
p = sys.argv[1]
def busy():
    while True:
        os.path.exists("/nonexistent-famfs-checker")
        time.sleep(0.005)
threading.Thread(target=busy, daemon=True).start()
for step in sys.stdin:
    print(step.strip() + ":", os.path.exists(p), flush=True)
"#;

/// The lock file beside the host's mount table, whose first 8 bytes count
/// the table's updates.
fn lock_file(env: &Env) -> std::path::PathBuf {
    env.mounts_file().with_extension("lock")
}

/// A host with one mount (so its table's updates are counted), a second
/// region to mount later at a mount point no earlier mount shares a name
/// with, and [`CHECKER`] running under the shim on that mount point.
struct Late {
    env: Env,
    region: String,
    mnt: String,
    checker: Stepped,
}

impl Late {
    fn new() -> Late {
        let env = Env::new();
        let first = env.mkfs_region("64m");
        env.ok(&["mount", first.to_str().unwrap(), &virtual_mountpoint()]);
        assert_eq!(
            std::fs::read(lock_file(&env)).unwrap().len(),
            8,
            "the update count is in the lock file"
        );
        let region = env.path("late.img");
        env.ok(&["mkfs", "--size", "64m", &region]);
        let mnt = virtual_mountpoint().replace("/mnt", "/late");
        let mut checker = env.shim_stepped("python3", &["-c", CHECKER, &mnt]);
        checker.send("before");
        assert_eq!(checker.line(), "before: False");
        Late {
            env,
            region,
            mnt,
            checker,
        }
    }

    /// Mounts the second region.
    fn mount(&self) {
        self.env.ok(&["mount", &self.region, &self.mnt]);
    }

    /// Unmounts it; the checker must see it gone at once.
    fn unmount(mut self) {
        self.env.ok(&["umount", &self.mnt]);
        self.checker.send("unmounted");
        assert_eq!(self.checker.finish(), ["unmounted: False"]);
    }
}

/// Once the table's updates are counted, a running process notices a
/// mount at its very next path call, not up to 200 ms later as the clock
/// would allow: the mount point's name is one no earlier mount has, so
/// only the count sends the call into the shim. (With the count ignored,
/// this failed 3 runs in 3.)
#[test]
fn a_counted_mount_is_seen_at_the_next_call() {
    let mut late = Late::new();
    late.mount();
    late.checker.send("mounted");
    assert_eq!(late.checker.line(), "mounted: True");
    late.unmount();
}

/// A lock file cut short under a running process (its mapped count gone:
/// a real SIGBUS on the next load) costs the process nothing but the
/// clock's delay: it carries on, and still sees the next mount.
#[test]
fn a_truncated_update_count_is_survived() {
    let mut late = Late::new();
    std::fs::File::options()
        .write(true)
        .open(lock_file(&late.env))
        .unwrap()
        .set_len(0)
        .unwrap();
    late.checker.send("cut");
    assert_eq!(late.checker.line(), "cut: False");
    // The mount writes a fresh count; the clock's next look (200 ms) or
    // the count, whichever comes first, shows it.
    late.mount();
    let t0 = std::time::Instant::now();
    loop {
        late.checker.send("mounted");
        if late.checker.line() == "mounted: True" {
            break;
        }
        assert!(t0.elapsed().as_secs() < 5, "the mount was never seen");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    late.unmount();
}

/// Forks for `argv[2]` seconds while another thread makes path calls on
/// `argv[1]`; each child makes one call on it too. A child that has not
/// exited after 2 s is killed and counted as hung.
const FORKER: &str = r#"
import os, signal, sys, threading, time
p = sys.argv[1]
deadline = time.monotonic() + float(sys.argv[2])
def busy():
    while True:
        os.path.exists(p)
threading.Thread(target=busy, daemon=True).start()
forks = hung = 0
while time.monotonic() < deadline:
    pid = os.fork()
    if pid == 0:
        os.path.exists(p)
        os._exit(0)
    t0 = time.monotonic()
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() - t0 > 2:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            hung += 1
            break
        time.sleep(0.0005)
    forks += 1
print("forks:", forks, flush=True)
print("hung:", hung, flush=True)
"#;

/// A fork never copies a lock another thread holds inside the shim. Here
/// a second thread keeps meeting a mount that comes and goes, so it often
/// holds the table's re-reading lock or the new mount's file system lock
/// (held while its log is replayed) when the first thread forks; a child
/// born with one held waited for ever at its first call. (Without the
/// fork waiting for the shim to be left, 4 of 80-160 children hung in
/// each 8 s run; with it, none of 3100.)
#[test]
fn a_child_never_inherits_a_lock_held_inside_the_shim() {
    let late = Late::new();
    let target = format!("{}/x", late.mnt);
    let mut forker = late
        .env
        .shim("python3", &["-W", "ignore", "-c", FORKER, &target, "4"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut updates = 0;
    while forker.try_wait().unwrap().is_none() {
        late.mount();
        late.env.ok(&["umount", &late.mnt]);
        updates += 2;
    }
    let out = forker.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let forks: u32 = lines[0].strip_prefix("forks: ").unwrap().parse().unwrap();
    assert_eq!(lines[1], "hung: 0", "children hung at their first call");
    assert!(forks >= 100, "only {forks} forks: the test did not test");
    assert!(
        updates >= 20,
        "only {updates} table updates: the test did not test"
    );
}

/// The fork waits for the shim after the program's own fork handlers have
/// run: a thread that holds a lock of the program's while it calls into
/// famfs is not kept outside the shim by a fork whose handler waits for
/// that very lock (which would hang parent and thread for ever). With the
/// gate closed in the `fork` hook instead, before the program's handlers,
/// the program hung in 2 runs of 2; with it closed in a fork handler
/// registered at load, 6300-8000 forks in 3 s, none hung.
#[test]
fn a_fork_handler_and_a_thread_in_famfs_share_a_lock() {
    let late = Late::new();
    late.mount();
    late.env
        .ok(&["creat", "-s", "4096", &format!("{}/x", late.mnt)]);
    let exe = compile_c("fork_locks", late.env.dir(), &["-Werror"]);
    let out = run(late
        .env
        .shim(&exe, &[format!("{}/x", late.mnt).as_str(), "3"]));
    assert!(out.success(), "{}", out.describe());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.describe());
    let forks: u32 = lines[0].strip_prefix("forks ").unwrap().parse().unwrap();
    assert_eq!(lines[1], "hung 0", "{}", out.describe());
    assert!(forks >= 100, "only {forks} forks: the test did not test");
}
