//! Shared libraries kept on famfs, loaded under the shim: a C program's
//! dlopen + dlsym + call, ctypes.CDLL of zlib, and the import of a Python C
//! extension module from a famfs directory.

use famfs_tests::*;
use std::path::Path;
use std::process::Command;

/// `PROGRAM ARGS` on the host (no shim), which must succeed; its stdout.
fn host_ok(prog: &str, args: &[&str]) -> String {
    let mut c = Command::new(prog);
    c.args(args);
    let out = run(c);
    assert!(out.success(), "{}", out.describe());
    out.stdout
}

#[test]
fn c_program_dlopens_a_library_on_famfs() {
    let env = Env::new();
    let r = env.region("64m");
    let lib = env.dir().join("libdl_add.so");
    let cc = std::env::var("CC")
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "cc".into());
    let out = run({
        let mut c = Command::new(cc);
        c.args(["-shared", "-fPIC", "-o"])
            .arg(&lib)
            .arg(workspace_root().join("tests/c/dl_add.c"));
        c
    });
    assert!(out.success(), "building the library: {}", out.describe());
    env.ok(&["cp", lib.to_str().unwrap(), &r.p("libdl_add.so")]);
    let exe = compile_c("dlopen_famfs", env.dir(), &["-ldl"]);
    let out = run(env.shim(&exe, &[&r.p("libdl_add.so"), &r.p("nope.so")]));
    assert!(
        out.success() && !out.stdout.contains("FAIL"),
        "{}",
        out.describe()
    );
}

#[test]
fn python_loads_ctypes_and_extension_modules_from_famfs() {
    let env = Env::new();
    let r = env.region("64m");
    let zlib = Path::new("/usr/lib/x86_64-linux-gnu/libz.so.1");
    assert!(zlib.exists(), "zlib is missing: apt-get install zlib1g");
    let zlib = std::fs::canonicalize(zlib).unwrap();
    env.ok(&["cp", zlib.to_str().unwrap(), &r.p("libz.so.1")]);
    // A C extension of the interpreter's own, copied into a famfs directory.
    let ext = host_ok(
        "python3",
        &["-c", "import _bisect; print(_bisect.__file__)"],
    );
    let ext = ext.trim();
    let name = Path::new(ext).file_name().unwrap().to_str().unwrap();
    env.ok(&["mkdir", &r.p("ext")]);
    env.ok(&["cp", ext, &r.p(&format!("ext/{name}"))]);
    let py = r#"
import ctypes, importlib.util, sys
z = ctypes.CDLL(sys.argv[1])
z.zlibVersion.restype = ctypes.c_char_p
print("zlib", z.zlibVersion().decode())
spec = importlib.util.spec_from_file_location("_bisect", sys.argv[2])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
print("bisect", m.bisect_left([1, 2, 3, 4], 3), m.__file__ == sys.argv[2])
"#;
    let out = run(env.shim(
        "python3",
        &["-c", py, &r.p("libz.so.1"), &r.p(&format!("ext/{name}"))],
    ));
    assert!(out.success(), "{}", out.describe());
    let host = host_ok(
        "python3",
        &["-c", "import zlib; print(zlib.ZLIB_RUNTIME_VERSION)"],
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        [format!("zlib {}", host.trim()).as_str(), "bisect 2 True"],
        "{}",
        out.describe()
    );
}
