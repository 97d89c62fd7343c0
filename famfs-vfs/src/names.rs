//! The namespace calls famfs answers without data or refuses: it has no
//! delete, rename, links, symbolic links, attribute changes or extended
//! attributes. An existing node gives the refusal; a missing one its
//! lookup error, as the kernel checks the path first.

use super::{FamfsPath, SysResult, Vfs};
use nix::errno::Errno;

impl Vfs {
    /// unlink, rmdir, rename's source, chmod, chown, utimes, truncate of a
    /// directory: EPERM for an existing node.
    pub fn refuse_change(&self, fp: &FamfsPath) -> SysResult<()> {
        self.lookup(fp)?;
        Err(Errno::EPERM)
    }

    /// A call that would create a name (link, symlink, rename's
    /// destination): EPERM whether or not the name exists.
    pub fn refuse_new_name(&self, _fp: &FamfsPath) -> SysResult<()> {
        Err(Errno::EPERM)
    }

    /// readlink: famfs has no symbolic links, so an existing node is
    /// EINVAL.
    pub fn readlink(&self, fp: &FamfsPath) -> SysResult<()> {
        self.lookup(fp)?;
        Err(Errno::EINVAL)
    }

    /// getxattr: no attributes (ENODATA) on an existing node.
    pub fn getxattr(&self, fp: &FamfsPath) -> SysResult<usize> {
        self.lookup(fp)?;
        Err(Errno::ENODATA)
    }

    /// listxattr: an empty list for an existing node.
    pub fn listxattr(&self, fp: &FamfsPath) -> SysResult<usize> {
        self.lookup(fp)?;
        Ok(0)
    }

    /// setxattr and removexattr: not supported on an existing node.
    pub fn setxattr(&self, fp: &FamfsPath) -> SysResult<()> {
        self.lookup(fp)?;
        Err(Errno::ENOTSUP)
    }

    /// realpath: the normalised absolute path of an existing node
    /// (ENAMETOOLONG past PATH_MAX).
    pub fn realpath(&self, fp: &FamfsPath) -> SysResult<String> {
        self.lookup(fp)?;
        let abs = fp.abs();
        if abs.len() >= libc::PATH_MAX as usize {
            return Err(Errno::ENAMETOOLONG);
        }
        Ok(abs)
    }
}
