//! Path resolution: does a path name a famfs node, and which?
//!
//! The kernel never sees famfs paths (mount points need not exist there), so
//! the shim resolves every path it is given lexically: relative paths are
//! taken from the working directory or from a directory descriptor, and
//! `.`, `..`, repeated and trailing slashes are folded. Symbolic links on
//! the way into a mount are not followed (famfs has none inside).
//!
//! The common case must cost almost nothing: a path can only reach into a
//! mount from outside by naming the mount point's last component, so a path
//! that contains no mount's name goes to the kernel untouched without any
//! allocation or system call.

use super::mount::Mount;
use super::{SysResult, Vfs};
use nix::errno::Errno;
use std::borrow::Cow;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

/// Where a path leads.
#[derive(Debug)]
pub enum Target<'a> {
    /// Not famfs: give the path to the kernel as it is.
    Kernel,
    /// Not famfs, but the kernel needs this absolute path instead (the
    /// path was relative to a famfs working directory or descriptor).
    KernelPath(CString),
    /// A famfs path.
    Famfs(FamfsPath<'a>),
}

/// A path inside a mount, borrowed from the caller's path where it can be
/// (an absolute path that is already normal resolves without allocating).
#[derive(Debug, Clone)]
pub struct FamfsPath<'a> {
    /// The mount holding it.
    pub mount: &'a Arc<Mount>,
    /// Relative to the mount point, normalised (`""` is the mount point).
    pub rel: Cow<'a, str>,
    /// The path ended in `/` (or `/.`, `/..`): it must name a directory.
    pub dir_required: bool,
}

impl FamfsPath<'_> {
    /// The absolute path.
    pub fn abs(&self) -> String {
        if self.rel.is_empty() {
            self.mount.mountpoint.clone()
        } else {
            format!("{}/{}", self.mount.mountpoint, self.rel)
        }
    }
}

pub use famfs_core::path::normalize_bytes as normalize;

/// Whether absolute `path` is already normal: no empty, `.` or `..`
/// component, no trailing slash (so [`normalize`] would return it as is).
fn is_normal(path: &[u8]) -> bool {
    path == b"/" || path.first() == Some(&b'/') && is_normal_rel(&path[1..])
}

/// `rel` (after a mount point) as a normal relative path and a `str`, if it
/// is both: ASCII with no empty, `.` or `..` component (`""`, the mount
/// point itself, is normal). One pass over the bytes, the common case of
/// every open; anything else takes the general resolution.
fn normal_ascii_rel(rel: &[u8]) -> Option<&str> {
    if !rel.is_ascii() || !is_normal_rel(rel) {
        return None;
    }
    // SAFETY: ASCII is valid UTF-8.
    Some(unsafe { std::str::from_utf8_unchecked(rel) })
}

/// Whether every `/`-separated component of non-empty `rel` is neither
/// empty nor `.` nor `..`. A component that is all dots, at most two of
/// them, is one of those three.
fn is_normal_rel(rel: &[u8]) -> bool {
    if rel.is_empty() {
        return true;
    }
    let (mut len, mut dots) = (0usize, 0usize);
    for &c in rel {
        if c == b'/' {
            if len == dots && dots <= 2 {
                return false;
            }
            (len, dots) = (0, 0);
        } else {
            len += 1;
            dots += usize::from(c == b'.');
        }
    }
    !(len == dots && dots <= 2)
}

fn ends_as_dir(path: &[u8]) -> bool {
    path.ends_with(b"/")
        || path.ends_with(b"/.")
        || path.ends_with(b"/..")
        || path == b"."
        || path == b".."
}

impl Vfs {
    /// True when `path` (relative to `dirfd`) certainly does not lead into
    /// famfs: the check the shim makes before anything else, with no lock,
    /// allocation or system call. False means "resolve it".
    #[inline]
    pub fn path_is_plain(&self, dirfd: i32, path: &[u8]) -> bool {
        // Time to look at the mount table again: resolve inside the shim,
        // which does.
        if self.mounts.due() {
            return false;
        }
        if self.mounts.may_be_named(path) {
            return false;
        }
        match path.first().copied() {
            None | Some(b'/') => true,
            // With no mount, nothing is famfs (asked only here: an absolute
            // path, the common case, needs no more loads than the names').
            Some(_) if self.mounts().is_empty() => true,
            Some(_) if dirfd == libc::AT_FDCWD => {
                !self.cwd_in_famfs.load(std::sync::atomic::Ordering::Acquire)
            }
            Some(_) => !self.fds.contains(dirfd),
        }
    }

    /// The mount holding absolute normalised `abs`, and the path within it.
    pub fn mount_of<'p>(&self, abs: &'p Path) -> Option<(&Arc<Mount>, &'p str)> {
        self.mount_of_bytes(abs.as_os_str().as_bytes())
    }

    fn mount_of_bytes<'p>(&self, abs: &'p [u8]) -> Option<(&Arc<Mount>, &'p str)> {
        let (m, start) = self.mount_at(abs)?;
        Some((m, std::str::from_utf8(&abs[start..]).ok()?))
    }

    /// The mount holding absolute normalised `abs` and where the path
    /// within it starts in `abs`.
    fn mount_at(&self, abs: &[u8]) -> Option<(&Arc<Mount>, usize)> {
        famfs_core::mounts::longest_mount(self.mounts(), |m| m.mountpoint.as_bytes(), abs)
    }

    /// `x/..` is only the parent of `x` if `x` is a directory: the kernel
    /// walks the path and fails with ENOENT or ENOTDIR where `x` is missing
    /// or a file. Do the same for every `..` that steps back out of a famfs
    /// node (rare enough that the extra lookups do not matter). Returns
    /// whether one did: the kernel cannot walk such a path (the mount point
    /// need not exist for it), so it must be given the path resolved.
    fn check_dotdot(&self, base: &[u8], path: &[u8]) -> SysResult<bool> {
        let mut through_famfs = false;
        let mut prefix: Vec<u8> = if path.first() == Some(&b'/') {
            Vec::new()
        } else {
            normalize(b"/", base)
        };
        if prefix == b"/" {
            prefix.clear();
        }
        for comp in path.split(|&c| c == b'/') {
            match comp {
                b"" | b"." => {}
                b".." => {
                    if let Some((m, rel)) = self.mount_of_bytes(&prefix) {
                        if !m.lookup(rel)?.is_dir() {
                            return Err(Errno::ENOTDIR);
                        }
                        through_famfs = true;
                    }
                    let cut = prefix.iter().rposition(|&c| c == b'/').unwrap_or(0);
                    prefix.truncate(cut);
                }
                c => {
                    prefix.push(b'/');
                    prefix.extend_from_slice(c);
                }
            }
        }
        Ok(through_famfs)
    }

    /// Resolves `path` relative to `dirfd` (AT_FDCWD for the working
    /// directory).
    pub fn resolve<'a>(&'a self, dirfd: i32, path: &'a [u8]) -> SysResult<Target<'a>> {
        if self.path_is_plain(dirfd, path) {
            return Ok(Target::Kernel);
        }
        self.resolve_unplain(dirfd, path)
    }

    /// [`Vfs::resolve`] for a caller that has just seen
    /// [`Vfs::path_is_plain`] return false (the shim's hooks check that
    /// before entering the shim), so the cheap tests are not made twice.
    pub fn resolve_unplain<'a>(&'a self, dirfd: i32, path: &'a [u8]) -> SysResult<Target<'a>> {
        self.mounts.refresh_if_due();
        let absolute = path.first() == Some(&b'/');
        // Most paths are absolute and already normal: look them up as given.
        if absolute && path.last() != Some(&b'/') {
            if let Some((mount, start)) = self.mount_at(path) {
                if let Some(rel) = normal_ascii_rel(&path[start..]) {
                    return Ok(Target::Famfs(FamfsPath {
                        mount,
                        rel: Cow::Borrowed(rel),
                        dir_required: false,
                    }));
                }
            } else if is_normal(path) {
                return Ok(Target::Kernel);
            }
        }
        let (base, mut rewritten): (Cow<str>, bool) = if absolute {
            (Cow::Borrowed("/"), false)
        } else if dirfd == libc::AT_FDCWD {
            match self.famfs_cwd() {
                Some(c) => (c.into(), true),
                None => match self.kernel_cwd() {
                    Some(c) => (c.into(), false),
                    None => return Ok(Target::Kernel),
                },
            }
        } else if let Some(of) = self.fds.get(dirfd) {
            if !of.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            (of.abs_path().into(), true)
        } else {
            // A kernel directory and a path naming a mount: where is it?
            match std::fs::read_link(format!("/proc/self/fd/{dirfd}")) {
                Ok(p) if p.is_absolute() => (p.to_string_lossy().into_owned().into(), false),
                _ => return Ok(Target::Kernel),
            }
        };
        if path.windows(2).any(|w| w == b"..") {
            rewritten |= self.check_dotdot(base.as_bytes(), path)?;
        }
        let abs = normalize(base.as_bytes(), path);
        if let Some((mount, start)) = self.mount_at(&abs) {
            // A path that is not UTF-8 cannot name a famfs file; the kernel
            // gets it (and finds nothing), as for any path outside famfs.
            if let Ok(rel) = std::str::from_utf8(&abs[start..]) {
                return Ok(Target::Famfs(FamfsPath {
                    mount,
                    rel: Cow::Owned(rel.to_owned()),
                    dir_required: ends_as_dir(path),
                }));
            }
        }
        if !rewritten {
            return Ok(Target::Kernel);
        }
        let mut bytes = abs;
        if ends_as_dir(path) && bytes != b"/" {
            bytes.push(b'/');
        }
        Ok(Target::KernelPath(
            CString::new(bytes).map_err(|_| Errno::EINVAL)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{is_normal, normal_ascii_rel, normalize};

    #[test]
    fn normal_relative_paths() {
        for ok in ["", "a", "a/b", "..a/b.c", "a/...", "a/.b", "c4096"] {
            assert_eq!(normal_ascii_rel(ok.as_bytes()), Some(ok), "{ok:?}");
        }
        for bad in [
            "/", "a/", "a//b", ".", "..", "a/.", "a/..", "./a", "../a", "a/./b", "é",
        ] {
            assert_eq!(normal_ascii_rel(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn normalize_folds_like_the_path_module() {
        let cases = [
            ("/", "/a/b", "/a/b"),
            ("/x", "a//b/./c/", "/x/a/b/c"),
            ("/mnt/famfs/a", "../b//./c/", "/mnt/famfs/b/c"),
            ("/", "../../..", "/"),
            ("/a/b", "..", "/a"),
            ("/a", "/..//x/..", "/"),
            ("/a", "", "/a"),
            ("/", "/", "/"),
            ("/", "/a/b/", "/a/b"),
            ("/", "/a/./b", "/a/b"),
            ("/", "/a/..", "/"),
            ("/", "/.", "/"),
            ("/", "/..a/b.c", "/..a/b.c"),
        ];
        for (base, path, want) in cases {
            let got = normalize(base.as_bytes(), path.as_bytes());
            if path.starts_with('/') {
                assert_eq!(is_normal(path.as_bytes()), got == path.as_bytes(), "{path}");
            }
            assert_eq!(std::str::from_utf8(&got).unwrap(), want, "{base} + {path}");
            let lib =
                famfs_core::path::normalize(std::path::Path::new(path), std::path::Path::new(base));
            assert_eq!(
                lib.to_str().unwrap(),
                want,
                "path module on {base} + {path}"
            );
        }
    }
}
