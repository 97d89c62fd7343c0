//! Resource limits: descriptor exhaustion under the shim
//! (`tests/c/fd_limits.c`, with RLIMIT_NOFILE lowered). The first famfs
//! call when the table is full, opens until the table is full, and opendir,
//! fopen and dup then, all fail with EMFILE and the process carries on;
//! freeing descriptors makes every call work again. (The shim's memory for
//! a full log is measured in `shim_memory.rs`.)

use famfs_tests::*;

#[test]
fn descriptor_exhaustion_gives_emfile_not_a_crash() {
    let env = Env::new();
    let r = env.region("64m");
    env.ok(&["creat", "-r", "-S", "4", "-s", "100000", &r.p("f")]);
    env.ok(&["mkdir", &r.p("d")]);
    env.ok(&["creat", "-s", "10", &r.p("d/g")]);
    let exe = compile_c("fd_limits", env.dir(), &["-Werror"]);
    for limit in ["24", "64", "200"] {
        let out = run(env.shim(&exe, &[&r.p("f"), &r.p("d"), limit]));
        assert!(
            out.success() && out.stdout.lines().last() == Some("done"),
            "limit {limit}: {}",
            out.describe()
        );
        assert_eq!(
            out.stdout.lines().filter(|l| l.starts_with("ok ")).count(),
            14,
            "limit {limit}: {}",
            out.stdout
        );
    }
}
