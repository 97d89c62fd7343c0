//! Compiles the variadic exec hooks, which stable Rust cannot define.
fn main() {
    println!("cargo:rerun-if-changed=csrc/execl.c");
    cc::Build::new()
        .file("csrc/execl.c")
        .warnings(true)
        .extra_warnings(true)
        .compile("famfs_execl");
}
