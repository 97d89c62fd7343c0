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
    // rustc's version script exports only Rust symbols; the linker merges
    // this one in, so the C hooks are exported too.
    let map =
        std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("exports.map");
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
        map.display()
    );
}
