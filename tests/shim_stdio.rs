//! Standard streams on famfs descriptors made in the same process: a
//! shell's redirections of its builtins (`printf AB 1<> F`, `exec 3<> F`,
//! `echo x >> F`, `read` from `exec 4<`), and a C program's dup2 onto
//! stdout and stdin followed by stdio. glibc's own streams would use
//! internal system calls the shim cannot see (EBADF); the shim gives them
//! a famfs stream and gives glibc's back when the descriptor moves back.

use famfs_tests::*;

fn fixture() -> (Env, Region) {
    let env = Env::new();
    let r = env.region("64m");
    let host = env.dir().join("f.txt");
    write_file(&host, b"0123456789abcdef\n", 0o644);
    env.ok(&["cp", host.to_str().unwrap(), &r.p("f.txt")]);
    (env, r)
}

#[test]
fn bash_builtins_redirected_to_famfs() {
    let (env, r) = fixture();
    let f = r.p("f.txt");
    let script = r#"
F=$1
printf AB 1<> "$F"; echo "printf 1<>: $?"
exec 3<>"$F"; printf CD >&3; echo "exec 3<>: $?"; exec 3>&-
echo x >> "$F"; echo "echo >>: $?"
exec 4<"$F"; read -r -n 6 line <&4; echo "read: $line"; exec 4<&-
"#;
    let out = run(env.shim("bash", &["-c", script, "bash", &f]));
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        ["printf 1<>: 0", "exec 3<>: 0", "echo >>: 1", "read: CD2345"],
        "{}",
        out.describe()
    );
    assert!(
        out.stderr.contains("File too large"),
        "echo >> reports EFBIG: {}",
        out.describe()
    );
    assert_eq!(env.ok_bytes(&["cat", &f]), b"CD23456789abcdef\n");
}

#[test]
fn c_stdio_after_dup2_onto_stdout_and_stdin() {
    let (env, r) = fixture();
    let exe = compile_c("stdio_redirect", env.dir(), &[]);
    let out = run(env.shim(&exe, &[&r.p("f.txt")]));
    assert!(out.success(), "{}", out.describe());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        ["back on stdout", "file:HELLO", "stdin:HELLO56"],
        "{}",
        out.describe()
    );
    assert_eq!(env.ok_bytes(&["cat", &r.p("f.txt")]), b"HELLO56789abcdef\n");
}
