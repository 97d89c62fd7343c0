//! Copies between descriptors (`copy_file_range`, `sendfile`) where
//! either side is famfs: a famfs side is copied through its `FileData`, the
//! other may be any kernel descriptor, through a bounce buffer.

use super::{OpenFile, SysResult, Vfs};
use nix::errno::Errno;
use std::sync::Arc;

/// Bytes moved per round of a copy.
const COPY_CHUNK: usize = 1 << 20;

/// One side of a copy: a famfs open file or a kernel descriptor.
pub enum Side {
    /// A famfs open file.
    Famfs(Arc<OpenFile>),
    /// Any other descriptor.
    Kernel(i32),
}

fn result(r: isize) -> SysResult<usize> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as usize)
    }
}

impl Side {
    fn read(&self, b: &mut [u8], off: Option<i64>) -> SysResult<usize> {
        match (self, off) {
            (Side::Famfs(of), Some(o)) => of.pread(super::file_offset(o)?, b),
            (Side::Famfs(of), None) => of.read(b),
            // Called from within the shim, so these reach the kernel.
            (Side::Kernel(fd), Some(o)) => {
                // SAFETY: `b` is a valid buffer of `b.len()` bytes.
                result(unsafe { libc::pread64(*fd, b.as_mut_ptr().cast(), b.len(), o) })
            }
            (Side::Kernel(fd), None) => {
                // SAFETY: as above.
                result(unsafe { libc::read(*fd, b.as_mut_ptr().cast(), b.len()) })
            }
        }
    }

    fn write(&self, b: &[u8], off: Option<i64>) -> SysResult<usize> {
        match (self, off) {
            (Side::Famfs(of), Some(o)) => of.pwrite(super::file_offset(o)?, b),
            (Side::Famfs(of), None) => of.write(b),
            (Side::Kernel(fd), Some(o)) => {
                // SAFETY: `b` is a valid buffer of `b.len()` bytes.
                result(unsafe { libc::pwrite64(*fd, b.as_ptr().cast(), b.len(), o) })
            }
            (Side::Kernel(fd), None) => {
                // SAFETY: as above.
                result(unsafe { libc::write(*fd, b.as_ptr().cast(), b.len()) })
            }
        }
    }
}

impl Vfs {
    /// The side of a copy descriptor `fd` is.
    pub fn side(&self, fd: i32) -> Side {
        self.fds.get(fd).map_or(Side::Kernel(fd), Side::Famfs)
    }

    /// `copy_file_range`: copies up to `len` bytes; `off_in`/`off_out`
    /// are used and updated when given (the file offsets are then left
    /// alone), else the file offsets move. A failure after some bytes
    /// moved reports the bytes, as the kernel does.
    pub fn copy_range(
        &self,
        src: &Side,
        off_in: Option<&mut i64>,
        dst: &Side,
        off_out: Option<&mut i64>,
        len: usize,
        flags: u32,
    ) -> SysResult<usize> {
        if flags != 0 {
            return Err(Errno::EINVAL);
        }
        let mut oin = off_in.as_ref().map(|o| **o);
        let mut oout = off_out.as_ref().map(|o| **o);
        let mut bounce = vec![0u8; len.min(COPY_CHUNK)];
        let mut done = 0usize;
        while done < len {
            let want = (len - done).min(bounce.len());
            let n = match src.read(&mut bounce[..want], oin) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            let mut w = 0;
            while w < n {
                match dst.write(&bounce[w..n], oout.map(|o| o + w as i64)) {
                    Ok(0) => break,
                    Ok(k) => w += k,
                    Err(e) if done + w == 0 => return Err(e),
                    Err(_) => break,
                }
            }
            oin = oin.map(|o| o + w as i64);
            oout = oout.map(|o| o + w as i64);
            done += w;
            if w < n || n < want {
                break;
            }
        }
        if let (Some(p), Some(v)) = (off_in, oin) {
            *p = v;
        }
        if let (Some(p), Some(v)) = (off_out, oout) {
            *p = v;
        }
        Ok(done)
    }

    /// `sendfile(out_fd, in_fd, offset, count)`: `offset` (if given) is
    /// the input offset, updated; the output is written at its file offset.
    pub fn sendfile(
        &self,
        out_fd: i32,
        in_fd: i32,
        offset: Option<&mut i64>,
        count: usize,
    ) -> SysResult<usize> {
        let (src, dst) = (self.side(in_fd), self.side(out_fd));
        self.copy_range(&src, offset, &dst, None, count, 0)
    }
}
