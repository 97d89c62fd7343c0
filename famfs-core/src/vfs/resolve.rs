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
use crate::path::normalize;
use nix::errno::Errno;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

/// Where a path leads.
#[derive(Debug)]
pub enum Target {
    /// Not famfs: give the path to the kernel as it is.
    Kernel,
    /// Not famfs, but the kernel needs this absolute path instead (the
    /// path was relative to a famfs working directory or descriptor).
    KernelPath(CString),
    Famfs(FamfsPath),
}

/// A path inside a mount.
#[derive(Debug, Clone)]
pub struct FamfsPath {
    pub mount: Arc<Mount>,
    /// Relative to the mount point, normalised (`""` is the mount point).
    pub rel: String,
    /// The path ended in `/` (or `/.`, `/..`): it must name a directory.
    pub dir_required: bool,
}

impl FamfsPath {
    /// The absolute path.
    pub fn abs(&self) -> String {
        if self.rel.is_empty() {
            self.mount.mountpoint.clone()
        } else {
            format!("{}/{}", self.mount.mountpoint, self.rel)
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn ends_as_dir(path: &[u8]) -> bool {
    path.ends_with(b"/")
        || path.ends_with(b"/.")
        || path.ends_with(b"/..")
        || path == b"."
        || path == b".."
}

impl Vfs {
    /// Whether `path` might reach into a mount from outside one.
    fn may_name_a_mount(&self, path: &[u8]) -> bool {
        self.mounts
            .iter()
            .any(|m| contains(path, m.name.as_bytes()))
    }

    /// The mount holding absolute normalised `abs`, and the path within it.
    pub fn mount_of(&self, abs: &Path) -> Option<(Arc<Mount>, String)> {
        // The longest mount point wins (a mount inside another's path).
        let mut best: Option<(&Arc<Mount>, &Path)> = None;
        for m in &self.mounts {
            if let Ok(rel) = abs.strip_prefix(&m.mountpoint) {
                if best.map_or(true, |(b, _)| b.mountpoint.len() < m.mountpoint.len()) {
                    best = Some((m, rel));
                }
            }
        }
        let (m, rel) = best?;
        Some((m.clone(), rel.to_str()?.to_string()))
    }

    /// Resolves `path` relative to `dirfd` (AT_FDCWD for the working
    /// directory).
    pub fn resolve(&self, dirfd: i32, path: &[u8]) -> SysResult<Target> {
        if path.is_empty() || self.mounts.is_empty() {
            return Ok(Target::Kernel);
        }
        let named = self.may_name_a_mount(path);
        let (base, rewritten) = if path[0] == b'/' {
            if !named {
                return Ok(Target::Kernel);
            }
            (String::from("/"), false)
        } else if dirfd == libc::AT_FDCWD {
            match self.famfs_cwd() {
                Some(c) => (c, true),
                None if !named => return Ok(Target::Kernel),
                None => match self.kernel_cwd() {
                    Some(c) => (c, false),
                    None => return Ok(Target::Kernel),
                },
            }
        } else if let Some(of) = self.fds.get(dirfd) {
            if !of.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            (of.abs_path(), true)
        } else if !named {
            return Ok(Target::Kernel);
        } else {
            match std::fs::read_link(format!("/proc/self/fd/{dirfd}")) {
                Ok(p) if p.is_absolute() => (p.to_string_lossy().into_owned(), false),
                _ => return Ok(Target::Kernel),
            }
        };
        let abs = normalize(
            Path::new(std::ffi::OsStr::from_bytes(path)),
            Path::new(&base),
        );
        match self.mount_of(&abs) {
            Some((mount, rel)) => Ok(Target::Famfs(FamfsPath {
                mount,
                rel,
                dir_required: ends_as_dir(path),
            })),
            None if rewritten => {
                let mut bytes = abs.as_os_str().as_bytes().to_vec();
                if ends_as_dir(path) && bytes != b"/" {
                    bytes.push(b'/');
                }
                Ok(Target::KernelPath(
                    CString::new(bytes).map_err(|_| Errno::EINVAL)?,
                ))
            }
            None => Ok(Target::Kernel),
        }
    }
}
