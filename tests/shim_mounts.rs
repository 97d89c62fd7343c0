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
