//! The calls that would change a file's size or its allocation, and the
//! ones that ask the kernel to manage caching: famfs files are
//! preallocated and are memory, so sizes never change and there is no
//! page cache to advise or sync.

use super::{FamfsPath, InfoKind, OpenFile, SysResult, Vfs};
use nix::errno::Errno;

impl Vfs {
    /// `truncate(path, len)`: only to the size the file has (a no-op).
    pub fn truncate(&self, fp: &FamfsPath, len: i64) -> SysResult<()> {
        match self.lookup(fp)?.kind {
            InfoKind::Dir => Err(Errno::EISDIR),
            InfoKind::File { size, .. } if size as i64 == len => Ok(()),
            _ => Err(Errno::EPERM),
        }
    }

    /// `splice` with a famfs side: EIO, as the kernel's famfs answers.
    pub fn splice(&self) -> SysResult<()> {
        Err(Errno::EIO)
    }
}

impl OpenFile {
    /// The end `new_end` asked of a file by ftruncate (`is_truncate`) or
    /// fallocate: a no-op is allowed (for fallocate, any end within the
    /// file), any change of size is EPERM.
    fn keep_size(&self, new_end: i64, is_truncate: bool) -> SysResult<()> {
        let f = self.file().ok_or(Errno::EISDIR)?;
        if !self.writable() {
            return Err(if is_truncate {
                Errno::EINVAL
            } else {
                Errno::EBADF
            });
        }
        if new_end < 0 {
            return Err(Errno::EINVAL);
        }
        let size = f.size() as i64;
        if new_end == size || (!is_truncate && new_end <= size) {
            Ok(())
        } else {
            Err(Errno::EPERM)
        }
    }

    /// `ftruncate(fd, len)`: only to the size the file has.
    pub fn ftruncate(&self, len: i64) -> SysResult<()> {
        self.keep_size(len, true)
    }

    /// `fallocate(fd, mode, off, len)` (and `posix_fallocate` with mode
    /// 0): allowed only where it changes nothing, since the file is
    /// already allocated; punching holes or zeroing ranges is EPERM.
    pub fn fallocate(&self, mode: i32, off: i64, len: i64) -> SysResult<()> {
        if off < 0 || len <= 0 {
            return Err(Errno::EINVAL);
        }
        if mode != 0 && mode != libc::FALLOC_FL_KEEP_SIZE {
            return Err(Errno::EPERM);
        }
        self.keep_size(off.checked_add(len).ok_or(Errno::EFBIG)?, false)
    }

    /// `posix_fadvise`: checked, then nothing to do (the memory is the
    /// file; there is no page cache).
    pub fn fadvise(&self, len: i64, advice: i32) -> SysResult<()> {
        if self.is_dir() {
            return Err(Errno::ESPIPE);
        }
        if len < 0 || !(0..=5).contains(&advice) {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    /// `readahead`: nothing to read ahead of memory; EINVAL on a directory.
    pub fn readahead(&self) -> SysResult<()> {
        self.file().map(|_| ()).ok_or(Errno::EINVAL)
    }

    /// `fsync`, `fdatasync`, `syncfs`: writes already reached memory and
    /// were written back from the CPU caches; nothing is left to do.
    pub fn sync(&self) -> SysResult<()> {
        Ok(())
    }
}
