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
