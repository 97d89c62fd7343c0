//! Compiles the shim's C part: the variadic exec hooks (stable Rust cannot
//! define variadic functions) and a stdio stream helper.
fn main() {
    println!("cargo:rerun-if-changed=csrc/shim.c");
    cc::Build::new()
        .file("csrc/shim.c")
        .warnings(true)
        .extra_warnings(true)
        .compile("famfs_csrc");
}
