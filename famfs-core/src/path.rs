//! Paths: the log's relative paths, and absolute paths under a mount point.
//!
//! The log stores each file's path relative to the mount point, at most 79
//! bytes. Paths coming from the log are untrusted and must be plain relative
//! paths (no leading `/`, no `.` or `..`, no empty components); paths coming
//! from users are normalised lexically (`.`, `..`, repeated and trailing
//! slashes) against the current directory, because the mount point need not
//! exist in the kernel's namespace and so cannot be resolved by it.

use crate::error::{Error, Result};
use crate::format::MAX_RELPATH;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

fn invalid(path: &str, reason: &str) -> Error {
    Error::InvalidPath {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

/// Checks a relative path as stored in a log entry.
pub fn check_relpath(path: &str) -> Result<()> {
    if path.is_empty() {
        return Err(invalid(path, "empty path"));
    }
    if path.len() > MAX_RELPATH {
        return Err(Error::PathTooLong {
            path: path.to_string(),
            len: path.len(),
            max: MAX_RELPATH,
        });
    }
    if path.starts_with('/') {
        return Err(invalid(path, "absolute path in the log (must be relative)"));
    }
    // One pass over the bytes (replay checks every entry's path), each
    // component judged at its end, in order, as a split would.
    let b = path.as_bytes();
    let (mut start, mut nul) = (0, false);
    for i in 0..=b.len() {
        if i < b.len() && b[i] != b'/' {
            nul |= b[i] == 0;
            continue;
        }
        match &b[start..i] {
            [] => return Err(invalid(path, "empty component")),
            b"." | b".." => return Err(invalid(path, "'.' or '..' component")),
            _ if nul => return Err(invalid(path, "NUL byte")),
            _ => {}
        }
        (start, nul) = (i + 1, false);
    }
    Ok(())
}

/// Normalises `path` lexically into an absolute path: relative paths are
/// taken from `cwd`; `.` is dropped, `..` removes the previous component
/// (and stays at `/` at the root), repeated and trailing slashes vanish.
///
/// Example: `cwd=/mnt/famfs/a`, `path=../b//./c/` gives `/mnt/famfs/b/c`.
pub fn normalize(path: &Path, cwd: &Path) -> PathBuf {
    let bytes = normalize_bytes(cwd.as_os_str().as_bytes(), path.as_os_str().as_bytes());
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

/// [`normalize`] on bytes, without building `Path` components (the shim
/// runs it on every relative path it sees): `path` taken from `base`
/// unless absolute; `.` dropped, `..` pops a component (and stays at `/`),
/// repeated and trailing slashes folded.
///
/// Example: base `/mnt/famfs/a`, path `../b//./c/` gives `/mnt/famfs/b/c`.
pub fn normalize_bytes(base: &[u8], path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(base.len() + path.len() + 1);
    let push = |out: &mut Vec<u8>, comp: &[u8]| match comp {
        b"" | b"." => {}
        b".." => {
            let cut = out.iter().rposition(|&c| c == b'/').unwrap_or(0);
            out.truncate(cut);
        }
        c => {
            out.push(b'/');
            out.extend_from_slice(c);
        }
    };
    if path.first() != Some(&b'/') {
        for comp in base.split(|&c| c == b'/') {
            push(&mut out, comp);
        }
    }
    for comp in path.split(|&c| c == b'/') {
        push(&mut out, comp);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// If `abs` (normalised) lies under `mountpoint` (normalised), returns the
/// path relative to it: `""` for the mount point itself.
pub fn relative_to<'a>(abs: &'a Path, mountpoint: &Path) -> Option<&'a Path> {
    abs.strip_prefix(mountpoint).ok()
}

/// Turns a path relative to a mount into the log's form, refusing what the
/// log cannot hold: non-UTF-8 names and paths over 79 bytes are errors, never
/// truncated.
pub fn to_relpath(rel: &Path) -> Result<String> {
    let s = rel.to_str().ok_or_else(|| {
        invalid(
            &rel.to_string_lossy(),
            "not valid UTF-8 (famfs stores UTF-8 paths)",
        )
    })?;
    check_relpath(s)?;
    Ok(s.to_string())
}

/// The parent of a relative path (`""` for a top-level name).
pub fn parent(relpath: &str) -> &str {
    relpath.rsplit_once('/').map_or("", |(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relpaths_from_the_log() {
        assert!(check_relpath("a").is_ok());
        assert!(check_relpath("dir2/sub1/f").is_ok());
        assert!(check_relpath(&"x".repeat(79)).is_ok());
        assert!(matches!(
            check_relpath(&"x".repeat(80)),
            Err(Error::PathTooLong { len: 80, .. })
        ));
        for bad in ["", "/abs", "a//b", "a/", "./a", "a/../b", "..", "a/."] {
            assert!(check_relpath(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn normalisation() {
        let cwd = Path::new("/mnt/famfs/a");
        let n = |p: &str| normalize(Path::new(p), cwd);
        assert_eq!(n("../b//./c/"), PathBuf::from("/mnt/famfs/b/c"));
        assert_eq!(n("x"), PathBuf::from("/mnt/famfs/a/x"));
        assert_eq!(n("/../../"), PathBuf::from("/"));
        assert_eq!(n("//mnt///famfs/"), PathBuf::from("/mnt/famfs"));
        assert_eq!(n("."), PathBuf::from("/mnt/famfs/a"));
        assert_eq!(
            normalize(Path::new("y"), Path::new("rel/../cwd")),
            PathBuf::from("/cwd/y")
        );
    }

    #[test]
    fn relative_to_mount() {
        let m = Path::new("/mnt/famfs");
        assert_eq!(
            relative_to(Path::new("/mnt/famfs/a/b"), m),
            Some(Path::new("a/b"))
        );
        assert_eq!(relative_to(Path::new("/mnt/famfs"), m), Some(Path::new("")));
        assert_eq!(relative_to(Path::new("/mnt/famfsx"), m), None);
        assert_eq!(to_relpath(Path::new("a/b")).unwrap(), "a/b");
        assert!(to_relpath(Path::new("")).is_err());
    }

    #[test]
    fn parents() {
        assert_eq!(parent("a/b/c"), "a/b");
        assert_eq!(parent("a"), "");
    }
}
