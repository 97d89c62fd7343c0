//! The README's walkthrough ("Using the CLI"), extracted from README.md and
//! run as pasted in a fresh bash with a fresh HOME: `make install` builds
//! and installs into it, then every command must succeed. A README that
//! stops working fails here instead of on a newcomer's machine.

use famfs_tests::*;
use std::process::Command;

/// The first ```sh block after the "## Using the CLI" heading.
fn walkthrough() -> String {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let at = readme
        .find("## Using the CLI")
        .expect("README.md has a 'Using the CLI' section");
    let rest = &readme[at..];
    let start = rest.find("```sh\n").expect("a ```sh block") + "```sh\n".len();
    let end = rest[start..].find("```").expect("the block ends") + start;
    rest[start..end].to_string()
}

#[test]
fn readme_walkthrough_runs_as_pasted() {
    let script = walkthrough();
    assert!(script.contains("make install"), "{script}");
    let home = tempfile::tempdir().unwrap();
    // The walkthrough's own scratch directory, fresh as on a new machine.
    let _ = std::fs::remove_dir_all("/tmp/famfs");
    let mut cmd = Command::new("bash");
    cmd.arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(&script)
        .current_dir(workspace_root())
        .env("HOME", home.path())
        .env_remove("FAMFS_MOUNTS")
        .env_remove("FAMFS_SYSTEM_UUID_FILE")
        .env_remove("LD_PRELOAD")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS");
    let out = run(cmd);
    let _ = std::fs::remove_dir_all("/tmp/famfs");
    assert!(
        out.success(),
        "README walkthrough failed:\n{}",
        out.describe()
    );
    // It did what it says: the random file verified, the shim hashed it,
    // man pages and completions are installed.
    assert!(out.stdout.contains("random.bin"), "{}", out.describe());
    let man = home.path().join(".local/share/man/man1/famfs-creat.1");
    assert!(man.exists(), "no {}", man.display());
    let bash = home
        .path()
        .join(".local/share/bash-completion/completions/famfs");
    assert!(std::fs::read_to_string(bash).unwrap().contains("_famfs"));
}
