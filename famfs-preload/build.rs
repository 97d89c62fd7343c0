//! Compiles the shim's C part: the variadic hooks (execl, execlp, execle
//! and syscall: stable Rust cannot define variadic functions) and a stdio
//! stream helper, and exports the hooks from libfamfs.so.
fn main() {
    println!("cargo:rerun-if-changed=csrc/shim.c");
    println!("cargo:rerun-if-changed=exports.map");
    cc::Build::new()
        .file("csrc/shim.c")
        .warnings(true)
        .extra_warnings(true)
        .compile("famfs_csrc");
    link_unwinder_statically();
    // rustc's version script exports only Rust symbols; the linker merges
    // this one in, so the C hooks are exported too.
    let map =
        std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("exports.map");
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
        map.display()
    );
}

/// Links GCC's unwinder (libgcc_eh.a, the static twin of libgcc_s.so.1)
/// into libfamfs.so, whole and ahead of the Rust libraries, so the
/// `-lgcc_s` that std asks for satisfies nothing and `--as-needed` drops
/// it. Loading libgcc_s.so.1 into every process was most of the shim's
/// cost at process start (about 0.1 ms of 0.15). The unwinder only ever
/// unwinds the shim's own panics, which every hook catches before they
/// could leave the library, and its symbols stay local (the version
/// scripts export the hooks alone), so a program's own exceptions keep
/// using its libgcc_s. Without a libgcc_eh.a (not GCC), libgcc_s stays.
fn link_unwinder_statically() {
    let cc = cc::Build::new().get_compiler();
    let Ok(out) = std::process::Command::new(cc.path())
        .arg("-print-file-name=libgcc_eh.a")
        .output()
    else {
        return;
    };
    let path = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !out.status.success() || !path.is_absolute() || !path.exists() {
        println!("cargo:warning=libgcc_eh.a not found; libfamfs.so will load libgcc_s.so.1");
        return;
    }
    let dir = path.parent().expect("an absolute file path has a parent");
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=static:+whole-archive=gcc_eh");
}
