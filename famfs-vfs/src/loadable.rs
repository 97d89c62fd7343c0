//! Shared libraries kept on famfs (`dlopen`, and so `ctypes.CDLL` and
//! Python extension modules): the dynamic loader opens and maps the file
//! itself, with system calls the shim cannot see, so a famfs library is
//! handed to it as a sealed in-memory copy (a memfd) that it can open as
//! `/proc/self/fd/N`. One copy is made per library and kept for the
//! process's life, so a second `dlopen` of the same path names the same
//! file and gets the same handle. Cost: one copy of the library in memory,
//! made on its first `dlopen`.

use super::{FamfsPath, SysResult, Vfs};
use nix::errno::Errno;
use parking_lot::Mutex;
use std::collections::HashMap;

/// famfs path → the memfd holding its copy.
#[derive(Default)]
pub(crate) struct Loadables(Mutex<HashMap<String, i32>>);

/// Bytes copied at a time.
const CHUNK: usize = 1 << 20;

impl Vfs {
    /// The path the dynamic loader can open for the famfs file at `fp`:
    /// `/proc/self/fd/N` of a sealed copy of it, made on first use.
    pub fn loadable_path(&self, fp: &FamfsPath) -> SysResult<String> {
        let abs = fp.abs();
        let mut known = self.loadables.0.lock();
        if let Some(fd) = known.get(&abs) {
            return Ok(format!("/proc/self/fd/{fd}"));
        }
        let fd = self.open(fp, libc::O_RDONLY | libc::O_CLOEXEC)?;
        let copy = self.sealed_copy(fd, &abs);
        // The famfs descriptor was only needed for the copy.
        self.forget(fd);
        // SAFETY: closing the placeholder this function opened.
        unsafe { libc::close(fd) };
        let copy = copy?;
        known.insert(abs, copy);
        Ok(format!("/proc/self/fd/{copy}"))
    }

    /// A memfd holding the bytes of famfs descriptor `fd`, sealed against
    /// any change.
    fn sealed_copy(&self, fd: i32, abs: &str) -> SysResult<i32> {
        let of = self.fds.get(fd).ok_or(Errno::EBADF)?;
        let size = of.file().ok_or(Errno::EISDIR)?.size();
        let name = format!("famfs:{}\0", abs.rsplit('/').next().unwrap_or(""));
        // SAFETY: a NUL-terminated name; the flags allow sealing.
        let m = unsafe {
            libc::memfd_create(
                name.as_ptr().cast(),
                libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
            )
        };
        if m < 0 {
            return Err(Errno::last());
        }
        let result = (|| {
            let mut buf = vec![0u8; CHUNK.min(size as usize).max(1)];
            let mut off = 0u64;
            while off < size {
                let n = of.pread(off, &mut buf)?;
                if n == 0 {
                    break;
                }
                let mut w = 0;
                while w < n {
                    // SAFETY: writing bytes of `buf` to our memfd.
                    let k = unsafe {
                        libc::pwrite(m, buf[w..n].as_ptr().cast(), n - w, (off + w as u64) as i64)
                    };
                    if k < 0 {
                        return Err(Errno::last());
                    }
                    w += k as usize;
                }
                off += n as u64;
            }
            let seals =
                libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
            // SAFETY: sealing our memfd.
            if unsafe { libc::fcntl(m, libc::F_ADD_SEALS, seals) } < 0 {
                return Err(Errno::last());
            }
            Ok(())
        })();
        match result {
            Ok(()) => Ok(m),
            Err(e) => {
                // SAFETY: closing our memfd.
                unsafe { libc::close(m) };
                Err(e)
            }
        }
    }
}
