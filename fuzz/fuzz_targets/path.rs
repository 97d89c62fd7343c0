//! Path rules. Lexical normalisation (`famfs_core::path::normalize_bytes`,
//! the one normaliser, and its `Path` form `normalize`) must agree with a
//! simple stack model on any bytes and be idempotent; the log
//! path check (`check_relpath`, `to_relpath`) must accept exactly the paths
//! the contract allows, and an accepted path is already normal.
//!
//! Input: `BASE \0 PATH` (no NUL: the whole input is the path, base `/`).

#![no_main]

use famfs_core::path::{check_relpath, normalize, normalize_bytes, relative_to, to_relpath};

use libfuzzer_sys::fuzz_target;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `path` taken from `base` unless absolute; `.` and empty components
/// dropped, `..` pops (never above `/`).
fn model(base: &[u8], path: &[u8]) -> Vec<u8> {
    let mut stack: Vec<&[u8]> = Vec::new();
    let from_base = if path.first() == Some(&b'/') {
        &[][..]
    } else {
        base
    };
    for comp in from_base
        .split(|&c| c == b'/')
        .chain(path.split(|&c| c == b'/'))
    {
        match comp {
            b"" | b"." => {}
            b".." => {
                stack.pop();
            }
            c => stack.push(c),
        }
    }
    if stack.is_empty() {
        return b"/".to_vec();
    }
    stack
        .iter()
        .flat_map(|c| [&b"/"[..], c])
        .flatten()
        .copied()
        .collect()
}

/// The contract's log path rule.
fn relpath_ok(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 79
        && p.split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\0'))
}

fn as_path(b: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(b))
}

fuzz_target!(|data: &[u8]| {
    let (base, path) = match data.iter().position(|&c| c == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"/"[..], data),
    };
    let want = model(base, path);

    let bytes = normalize_bytes(&model(base, b""), path);
    assert_eq!(bytes, want, "normalize_bytes");
    let lib = normalize(as_path(path), as_path(base));
    assert_eq!(
        lib.as_os_str().as_bytes(),
        want.as_slice(),
        "path::normalize"
    );
    // Idempotent, and in normal form.
    assert_eq!(normalize_bytes(b"/", &want), want);
    assert_eq!(normalize(as_path(&want), Path::new("/")), as_path(&want));
    assert!(want == b"/" || !want.ends_with(b"/"));
    assert!(want[1..]
        .split(|&c| c == b'/')
        .all(|c| want == b"/" || !matches!(c, b"" | b"." | b"..")));

    // Under a mount point (the normalised base), the relative path joins
    // back to the whole.
    let mount = model(base, b"");
    if let Some(rel) = relative_to(as_path(&want), as_path(&mount)) {
        assert_eq!(as_path(&mount).join(rel), as_path(&want));
    }

    if let Ok(p) = std::str::from_utf8(path) {
        let accepted = check_relpath(p).is_ok();
        assert_eq!(accepted, relpath_ok(p), "check_relpath({p:?})");
        assert_eq!(to_relpath(as_path(path)).is_ok(), accepted);
        if accepted {
            assert_eq!(
                &model(b"/", path)[1..],
                path,
                "a log path is already normal"
            );
        }
    }
});
