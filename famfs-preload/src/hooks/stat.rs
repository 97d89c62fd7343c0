//! stat in all its names (including glibc's old `__xstat` family), statx,
//! access, statfs and statvfs, readlink.

use super::{with_fd, with_path};
use crate::interpose::interpose;
use crate::shim::{COut, CPath};
use famfs_vfs::{FamfsPath, SysResult, Vfs};
use libc::{c_char, c_int, c_uint, size_t, ssize_t};
use nix::errno::Errno;

fn stat_at(vfs: &Vfs, fp: FamfsPath, out: COut<libc::stat>) -> SysResult<c_int> {
    out.put(vfs.stat(&fp)?)
}

fn fstat_fd(vfs: &Vfs, of: &famfs_vfs::OpenFile, out: COut<libc::stat>) -> SysResult<c_int> {
    out.put(vfs.fstat(of)?)
}

/// fstatat's shape: AT_EMPTY_PATH with "" means the descriptor itself.
fn fstatat_famfs(
    dirfd: c_int,
    path: CPath<'_>,
    out: COut<libc::stat>,
    flags: c_int,
    real: impl FnOnce(*const c_char) -> c_int,
) -> c_int {
    if path.bytes == Some(b"") && flags & libc::AT_EMPTY_PATH != 0 {
        return with_fd(
            dirfd,
            -1,
            |vfs, of| fstat_fd(vfs, of, out),
            || real(path.ptr),
        );
    }
    with_path(dirfd, path, -1, |vfs, fp| stat_at(vfs, fp, out), real)
}

interpose! {
    fn stat | stat64 | lstat | lstat64(path: *const c_char, out: *mut libc::stat) -> c_int, real {
        // SAFETY: `out` is NULL or valid for one libc::stat, as stat(2) requires.
        let out_c = unsafe { COut::new(out) };
        // SAFETY: `path` is NULL or a C string, as stat(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| stat_at(vfs, fp, out_c), |p| real(p, out))
    }
}

interpose! {
    fn fstat | fstat64(fd: c_int, out: *mut libc::stat) -> c_int, real {
        // SAFETY: `out` is NULL or valid for one libc::stat, as fstat(2) requires.
        let out_c = unsafe { COut::new(out) };
        with_fd(fd, -1, |vfs, of| fstat_fd(vfs, of, out_c), || real(fd, out))
    }
}

interpose! {
    fn fstatat | fstatat64(dirfd: c_int, path: *const c_char, out: *mut libc::stat, flags: c_int) -> c_int, real {
        // SAFETY: `out` is NULL or valid for one libc::stat, as fstatat(2) requires.
        let out_c = unsafe { COut::new(out) };
        // SAFETY: `path` is NULL or a C string, as fstatat(2) requires.
        let path = unsafe { CPath::new(path) };
        fstatat_famfs(dirfd, path, out_c, flags, |p| real(dirfd, p, out, flags))
    }
}

// The pre-2.33 names old binaries import; `ver` is the struct version.
interpose! {
    fn __xstat | __xstat64 | __lxstat | __lxstat64(ver: c_int, path: *const c_char, out: *mut libc::stat) -> c_int, real {
        // SAFETY: `out` is NULL or valid for one libc::stat, as __xstat(2) requires.
        let out_c = unsafe { COut::new(out) };
        // SAFETY: `path` is NULL or a C string, as __xstat(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| stat_at(vfs, fp, out_c), |p| real(ver, p, out))
    }
}

interpose! {
    fn __fxstat | __fxstat64(ver: c_int, fd: c_int, out: *mut libc::stat) -> c_int, real {
        // SAFETY: `out` is NULL or valid for one libc::stat, as __fxstat(2) requires.
        let out_c = unsafe { COut::new(out) };
        with_fd(fd, -1, |vfs, of| fstat_fd(vfs, of, out_c), || real(ver, fd, out))
    }
}

interpose! {
    fn __fxstatat | __fxstatat64(ver: c_int, dirfd: c_int, path: *const c_char, out: *mut libc::stat, flags: c_int) -> c_int, real {
        // SAFETY: `out` is NULL or valid for one libc::stat, as __fxstatat(2) requires.
        let out_c = unsafe { COut::new(out) };
        // SAFETY: `path` is NULL or a C string, as __fxstatat(2) requires.
        let path = unsafe { CPath::new(path) };
        fstatat_famfs(dirfd, path, out_c, flags, |p| real(ver, dirfd, p, out, flags))
    }
}

interpose! {
    fn statx(dirfd: c_int, path: *const c_char, flags: c_int, mask: c_uint, out: *mut libc::statx) -> c_int, real {
        // SAFETY: `out` is NULL or valid for one libc::statx, as statx(2) requires.
        let out_c = unsafe { COut::new(out) };
        // SAFETY: `path` is NULL or a C string, as statx(3) requires.
        let path = unsafe { CPath::new(path) };
        if path.bytes == Some(b"") && flags & libc::AT_EMPTY_PATH != 0 {
            return with_fd(dirfd, -1, |vfs, of| out_c.put(vfs.fstatx(of)?), || real(dirfd, path.ptr, flags, mask, out));
        }
        with_path(dirfd, path, -1, |vfs, fp| out_c.put(vfs.statx(&fp)?), |p| real(dirfd, p, flags, mask, out))
    }
}

interpose! {
    fn access(path: *const c_char, mode: c_int) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as access(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| vfs.access(&fp, mode, false).map(|_| 0), |p| real(p, mode))
    }
}

interpose! {
    fn faccessat(dirfd: c_int, path: *const c_char, mode: c_int, flags: c_int) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as faccessat(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(dirfd, path, -1, |vfs, fp| vfs.access(&fp, mode, flags & libc::AT_EACCESS != 0).map(|_| 0), |p| real(dirfd, p, mode, flags))
    }
}

interpose! {
    fn euidaccess | eaccess(path: *const c_char, mode: c_int) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as euidaccess(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| vfs.access(&fp, mode, true).map(|_| 0), |p| real(p, mode))
    }
}

fn statvfs_of(s: &libc::statfs) -> libc::statvfs {
    // SAFETY: plain data; all-zero is valid.
    let mut v: libc::statvfs = unsafe { std::mem::zeroed() };
    v.f_bsize = s.f_bsize as _;
    v.f_frsize = s.f_frsize as _;
    v.f_blocks = s.f_blocks;
    v.f_bfree = s.f_bfree;
    v.f_bavail = s.f_bavail;
    v.f_files = s.f_files;
    v.f_ffree = s.f_ffree;
    v.f_favail = s.f_ffree;
    v.f_namemax = s.f_namelen as _;
    // SAFETY: fsid_t is two ints.
    let id: [i32; 2] = unsafe { std::mem::transmute(s.f_fsid) };
    v.f_fsid = (id[0] as u32 as u64 | ((id[1] as u32 as u64) << 32)) as _;
    v
}

interpose! {
    fn statfs | statfs64(path: *const c_char, out: *mut libc::statfs) -> c_int, real {
        // SAFETY: `out` is NULL or valid for one libc::statfs, as statfs(2) requires.
        let out_c = unsafe { COut::new(out) };
        // SAFETY: `path` is NULL or a C string, as statfs(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| { vfs.lookup(&fp)?; out_c.put(vfs.statfs(fp.mount)?) }, |p| real(p, out))
    }
}

interpose! {
    fn fstatfs | fstatfs64(fd: c_int, out: *mut libc::statfs) -> c_int, real {
        // SAFETY: `out` is NULL or valid for one libc::statfs, as fstatfs(2) requires.
        let out_c = unsafe { COut::new(out) };
        with_fd(fd, -1, |vfs, of| out_c.put(vfs.statfs(of.mount())?), || real(fd, out))
    }
}

interpose! {
    fn statvfs | statvfs64(path: *const c_char, out: *mut libc::statvfs) -> c_int, real {
        // SAFETY: `out` is NULL or valid for one libc::statvfs, as statvfs(2) requires.
        let out_c = unsafe { COut::new(out) };
        // SAFETY: `path` is NULL or a C string, as statvfs(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| { vfs.lookup(&fp)?; out_c.put(statvfs_of(&vfs.statfs(fp.mount)?)) }, |p| real(p, out))
    }
}

interpose! {
    fn fstatvfs | fstatvfs64(fd: c_int, out: *mut libc::statvfs) -> c_int, real {
        // SAFETY: `out` is NULL or valid for one libc::statvfs, as fstatvfs(2) requires.
        let out_c = unsafe { COut::new(out) };
        with_fd(fd, -1, |vfs, of| out_c.put(statvfs_of(&vfs.statfs(of.mount())?)), || real(fd, out))
    }
}

/// readlink of a famfs path ([`Vfs::readlink`]).
fn not_a_link(vfs: &Vfs, fp: FamfsPath) -> SysResult<ssize_t> {
    vfs.readlink(&fp).map(|()| 0)
}

interpose! {
    fn readlink(path: *const c_char, buf: *mut c_char, len: size_t) -> ssize_t, real {
        // SAFETY: `path` is NULL or a C string, as readlink(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, -1, not_a_link, |p| real(p, buf, len))
    }
}

interpose! {
    fn readlinkat(dirfd: c_int, path: *const c_char, buf: *mut c_char, len: size_t) -> ssize_t, real {
        // SAFETY: `path` is NULL or a C string, as readlinkat(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(dirfd, path, -1, not_a_link, |p| real(dirfd, p, buf, len))
    }
}

// famfs keeps no extended attributes: reads find none (as ls -l, cp -a and
// ACL tools ask), writes are not supported.

fn no_xattr(vfs: &Vfs, fp: FamfsPath) -> SysResult<ssize_t> {
    vfs.getxattr(&fp).map(|n| n as ssize_t)
}

fn empty_xattr_list(vfs: &Vfs, fp: FamfsPath) -> SysResult<ssize_t> {
    vfs.listxattr(&fp).map(|n| n as ssize_t)
}

fn xattr_unsupported(vfs: &Vfs, fp: FamfsPath) -> SysResult<c_int> {
    vfs.setxattr(&fp).map(|()| 0)
}

type Void = libc::c_void;

interpose! {
    fn getxattr | lgetxattr(path: *const c_char, name: *const c_char, value: *mut Void, size: size_t) -> ssize_t, real {
        // SAFETY: `path` is NULL or a C string, as getxattr(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, -1, no_xattr, |p| real(p, name, value, size))
    }
}

interpose! {
    fn fgetxattr(fd: c_int, name: *const c_char, value: *mut Void, size: size_t) -> ssize_t, real {
        with_fd(fd, -1, |_, _| Err(Errno::ENODATA), || real(fd, name, value, size))
    }
}

interpose! {
    fn listxattr | llistxattr(path: *const c_char, list: *mut c_char, size: size_t) -> ssize_t, real {
        // SAFETY: `path` is NULL or a C string, as listxattr(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, -1, empty_xattr_list, |p| real(p, list, size))
    }
}

interpose! {
    fn flistxattr(fd: c_int, list: *mut c_char, size: size_t) -> ssize_t, real {
        with_fd(fd, -1, |_, _| Ok(0), || real(fd, list, size))
    }
}

interpose! {
    fn setxattr | lsetxattr(path: *const c_char, name: *const c_char, value: *const Void, size: size_t, flags: c_int) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as setxattr(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, -1, xattr_unsupported, |p| real(p, name, value, size, flags))
    }
}

interpose! {
    fn fsetxattr(fd: c_int, name: *const c_char, value: *const Void, size: size_t, flags: c_int) -> c_int, real {
        with_fd(fd, -1, |_, _| Err(Errno::ENOTSUP), || real(fd, name, value, size, flags))
    }
}

interpose! {
    fn removexattr | lremovexattr(path: *const c_char, name: *const c_char) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as removexattr(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, -1, xattr_unsupported, |p| real(p, name))
    }
}

interpose! {
    fn fremovexattr(fd: c_int, name: *const c_char) -> c_int, real {
        with_fd(fd, -1, |_, _| Err(Errno::ENOTSUP), || real(fd, name))
    }
}
