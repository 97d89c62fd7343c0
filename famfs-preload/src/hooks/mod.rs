//! The interposed C functions, one module per family. Each hook resolves
//! whether its path or descriptor is famfs; if not, the real libc function
//! runs with the caller's arguments untouched.

pub mod cwd;
pub mod dir;
pub mod dl;
pub mod fd;
pub mod io;
pub mod mmap;
pub mod open;
pub mod process;
pub mod stat;
pub mod stdio;
pub mod syscall;
pub mod temp;

use crate::shim::{self, CPath, Flow};
use famfs_vfs::{FamfsPath, OpenFile, SysResult, Target, Vfs};
use libc::c_char;
use std::ffi::CString;
use std::sync::Arc;

/// Runs a path-taking call: `famfs` serves a famfs path; `real` gets the
/// path for the kernel (the caller's, or an absolute one when the path was
/// relative to a famfs working directory or descriptor).
pub fn with_path<T>(
    dirfd: i32,
    cpath: CPath<'_>,
    fail: T,
    famfs: impl FnOnce(&'static Vfs, FamfsPath) -> SysResult<T>,
    real: impl FnOnce(*const c_char) -> T,
) -> T {
    if cpath.is_plain(dirfd) {
        return real(cpath.ptr);
    }
    with_unplain_path(dirfd, cpath, fail, famfs, real)
}

/// [`with_path`] for a hook that has just found the path not plain (its
/// `plain` test in `interpose!`), so the test is not made twice.
pub fn with_unplain_path<T>(
    dirfd: i32,
    cpath: CPath<'_>,
    fail: T,
    famfs: impl FnOnce(&'static Vfs, FamfsPath) -> SysResult<T>,
    real: impl FnOnce(*const c_char) -> T,
) -> T {
    let path = cpath.ptr;
    let Some(p) = cpath.bytes else {
        return real(path);
    };
    let mut rewritten: Option<CString> = None;
    let flow = match shim::enter() {
        None => Flow::Pass,
        Some(g) => g.catch(|vfs| match vfs.resolve_unplain(dirfd, p) {
            Err(e) => Flow::Done(Err(e)),
            Ok(Target::Kernel) => Flow::Pass,
            Ok(Target::KernelPath(c)) => {
                rewritten = Some(c);
                Flow::Pass
            }
            Ok(Target::Famfs(fp)) => {
                tracing::debug!(path = %fp.abs(), "famfs path call");
                Flow::Done(famfs(vfs, fp))
            }
        }),
    };
    match flow {
        Flow::Pass => real(rewritten.as_ref().map_or(path, |c| c.as_ptr())),
        Flow::Done(Ok(v)) => v,
        Flow::Done(Err(e)) => {
            shim::set_errno(e as i32);
            fail
        }
    }
}

/// Runs a read of a famfs descriptor (read, pread and their vector and
/// fortified forms), the call the shim serves most. Serving one copies from
/// device memory into the caller's buffer: no system call, lock or
/// allocation on success, and nothing that could re-enter a hook with
/// shim state held. So, unlike [`with_fd`], it skips the re-entrancy guard
/// (a per-thread variable, which a preloaded library reaches through the
/// loader), the errno bookkeeping and a second unwind frame: the hook's
/// own `catch_unwind` still turns a panic into EIO. Fewer instructions
/// here is not only time saved: the processor overlaps a read's memory
/// misses with the next read's only when little code runs between them.
pub fn with_fd_read<T>(
    fd: i32,
    fail: T,
    famfs: impl FnOnce(&OpenFile) -> SysResult<T>,
    real: impl FnOnce() -> T,
) -> T {
    let vfs = match shim::vfs_if_started() {
        Some(vfs) if vfs.is_active() => vfs,
        Some(_) => return real(),
        // The first call of a new image may read a descriptor it inherited,
        // which only starting the shim adopts.
        None => return with_fd(fd, fail, |_, of| famfs(of), real),
    };
    match vfs.fds.with(fd, |of| famfs(of)) {
        None => real(),
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            shim::set_errno(e as i32);
            fail
        }
    }
}

/// Runs a descriptor-taking call: `famfs` serves a famfs descriptor,
/// borrowing its open file from the table (no lock or reference count);
/// anything else goes to `real`.
pub fn with_fd<T>(
    fd: i32,
    fail: T,
    famfs: impl FnOnce(&'static Vfs, &Arc<OpenFile>) -> SysResult<T>,
    real: impl FnOnce() -> T,
) -> T {
    if shim::fd_is_plain(fd) {
        return real();
    }
    shim::hook(
        |vfs| {
            vfs.fds
                .with(fd, |of| Flow::Done(famfs(vfs, of)))
                .unwrap_or(Flow::Pass)
        },
        real,
        fail,
    )
}
