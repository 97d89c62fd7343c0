//! stat in all its names (including glibc's old `__xstat` family), statx,
//! access, statfs and statvfs, readlink.

use super::{with_fd, with_path};
use famfs_vfs::{FamfsPath, SysResult, Vfs};
use libc::{c_char, c_int, c_uint, size_t, ssize_t};
use nix::errno::Errno;
use redhook::{hook, real};

/// # Safety
/// `out` must be NULL or valid for writes of one `T`.
unsafe fn put<T>(out: *mut T, v: T) -> SysResult<c_int> {
    if out.is_null() {
        return Err(Errno::EFAULT);
    }
    // SAFETY: per the contract.
    unsafe { out.write(v) };
    Ok(0)
}

fn stat_at(vfs: &Vfs, fp: FamfsPath, out: *mut libc::stat) -> SysResult<c_int> {
    // SAFETY: `out` comes from the caller of a stat function.
    unsafe { put(out, vfs.stat(&fp)?) }
}

fn fstat_fd(vfs: &Vfs, of: &famfs_vfs::OpenFile, out: *mut libc::stat) -> SysResult<c_int> {
    // SAFETY: as above.
    unsafe { put(out, vfs.fstat(of)?) }
}

/// fstatat's shape: AT_EMPTY_PATH with "" means the descriptor itself.
///
/// # Safety
/// `path` must be NULL or a valid C string; `out` valid for one stat.
unsafe fn fstatat_famfs(
    dirfd: c_int,
    path: *const c_char,
    out: *mut libc::stat,
    flags: c_int,
    real: impl FnOnce(*const c_char) -> c_int,
) -> c_int {
    // SAFETY: forwarded contract.
    let empty = !path.is_null() && unsafe { *path } == 0;
    if empty && flags & libc::AT_EMPTY_PATH != 0 {
        return with_fd(dirfd, -1, |vfs, of| fstat_fd(vfs, of, out), || real(path));
    }
    // SAFETY: forwarded contract.
    unsafe { with_path(dirfd, path, -1, |vfs, fp| stat_at(vfs, fp, out), real) }
}

hook! {
    unsafe fn stat(path: *const c_char, out: *mut libc::stat) -> c_int => famfs_stat {
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| stat_at(vfs, fp, out), |p| real!(stat)(p, out))
    }
}

hook! {
    unsafe fn stat64(path: *const c_char, out: *mut libc::stat) -> c_int => famfs_stat64 {
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| stat_at(vfs, fp, out), |p| real!(stat64)(p, out))
    }
}

hook! {
    unsafe fn lstat(path: *const c_char, out: *mut libc::stat) -> c_int => famfs_lstat {
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| stat_at(vfs, fp, out), |p| real!(lstat)(p, out))
    }
}

hook! {
    unsafe fn lstat64(path: *const c_char, out: *mut libc::stat) -> c_int => famfs_lstat64 {
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| stat_at(vfs, fp, out), |p| real!(lstat64)(p, out))
    }
}

hook! {
    unsafe fn fstat(fd: c_int, out: *mut libc::stat) -> c_int => famfs_fstat {
        with_fd(fd, -1, |vfs, of| fstat_fd(vfs, of, out), || real!(fstat)(fd, out))
    }
}

hook! {
    unsafe fn fstat64(fd: c_int, out: *mut libc::stat) -> c_int => famfs_fstat64 {
        with_fd(fd, -1, |vfs, of| fstat_fd(vfs, of, out), || real!(fstat64)(fd, out))
    }
}

hook! {
    unsafe fn fstatat(dirfd: c_int, path: *const c_char, out: *mut libc::stat, flags: c_int) -> c_int => famfs_fstatat {
        fstatat_famfs(dirfd, path, out, flags, |p| real!(fstatat)(dirfd, p, out, flags))
    }
}

hook! {
    unsafe fn fstatat64(dirfd: c_int, path: *const c_char, out: *mut libc::stat, flags: c_int) -> c_int => famfs_fstatat64 {
        fstatat_famfs(dirfd, path, out, flags, |p| real!(fstatat64)(dirfd, p, out, flags))
    }
}

// The pre-2.33 names old binaries import; `ver` is the struct version.
hook! {
    unsafe fn __xstat(ver: c_int, path: *const c_char, out: *mut libc::stat) -> c_int => famfs_xstat {
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| stat_at(vfs, fp, out), |p| real!(__xstat)(ver, p, out))
    }
}

hook! {
    unsafe fn __xstat64(ver: c_int, path: *const c_char, out: *mut libc::stat) -> c_int => famfs_xstat64 {
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| stat_at(vfs, fp, out), |p| real!(__xstat64)(ver, p, out))
    }
}

hook! {
    unsafe fn __lxstat(ver: c_int, path: *const c_char, out: *mut libc::stat) -> c_int => famfs_lxstat {
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| stat_at(vfs, fp, out), |p| real!(__lxstat)(ver, p, out))
    }
}

hook! {
    unsafe fn __lxstat64(ver: c_int, path: *const c_char, out: *mut libc::stat) -> c_int => famfs_lxstat64 {
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| stat_at(vfs, fp, out), |p| real!(__lxstat64)(ver, p, out))
    }
}

hook! {
    unsafe fn __fxstat(ver: c_int, fd: c_int, out: *mut libc::stat) -> c_int => famfs_fxstat {
        with_fd(fd, -1, |vfs, of| fstat_fd(vfs, of, out), || real!(__fxstat)(ver, fd, out))
    }
}

hook! {
    unsafe fn __fxstat64(ver: c_int, fd: c_int, out: *mut libc::stat) -> c_int => famfs_fxstat64 {
        with_fd(fd, -1, |vfs, of| fstat_fd(vfs, of, out), || real!(__fxstat64)(ver, fd, out))
    }
}

hook! {
    unsafe fn __fxstatat(ver: c_int, dirfd: c_int, path: *const c_char, out: *mut libc::stat, flags: c_int) -> c_int => famfs_fxstatat {
        fstatat_famfs(dirfd, path, out, flags, |p| real!(__fxstatat)(ver, dirfd, p, out, flags))
    }
}

hook! {
    unsafe fn __fxstatat64(ver: c_int, dirfd: c_int, path: *const c_char, out: *mut libc::stat, flags: c_int) -> c_int => famfs_fxstatat64 {
        fstatat_famfs(dirfd, path, out, flags, |p| real!(__fxstatat64)(ver, dirfd, p, out, flags))
    }
}

hook! {
    unsafe fn statx(dirfd: c_int, path: *const c_char, flags: c_int, mask: c_uint, out: *mut libc::statx) -> c_int => famfs_statx {
        let empty = !path.is_null() && *path == 0;
        if empty && flags & libc::AT_EMPTY_PATH != 0 {
            return with_fd(dirfd, -1, |vfs, of| put(out, vfs.fstatx(of)?), || real!(statx)(dirfd, path, flags, mask, out));
        }
        with_path(dirfd, path, -1, |vfs, fp| put(out, vfs.statx(&fp)?), |p| real!(statx)(dirfd, p, flags, mask, out))
    }
}

hook! {
    unsafe fn access(path: *const c_char, mode: c_int) -> c_int => famfs_access {
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| vfs.access(&fp, mode, false).map(|_| 0), |p| real!(access)(p, mode))
    }
}

hook! {
    unsafe fn faccessat(dirfd: c_int, path: *const c_char, mode: c_int, flags: c_int) -> c_int => famfs_faccessat {
        with_path(dirfd, path, -1, |vfs, fp| vfs.access(&fp, mode, flags & libc::AT_EACCESS != 0).map(|_| 0), |p| real!(faccessat)(dirfd, p, mode, flags))
    }
}

hook! {
    unsafe fn euidaccess(path: *const c_char, mode: c_int) -> c_int => famfs_euidaccess {
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| vfs.access(&fp, mode, true).map(|_| 0), |p| real!(euidaccess)(p, mode))
    }
}

hook! {
    unsafe fn eaccess(path: *const c_char, mode: c_int) -> c_int => famfs_eaccess {
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| vfs.access(&fp, mode, true).map(|_| 0), |p| real!(eaccess)(p, mode))
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

hook! {
    unsafe fn statfs(path: *const c_char, out: *mut libc::statfs) -> c_int => famfs_statfs {
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| { vfs.lookup(&fp)?; put(out, vfs.statfs(fp.mount)?) }, |p| real!(statfs)(p, out))
    }
}

hook! {
    unsafe fn statfs64(path: *const c_char, out: *mut libc::statfs) -> c_int => famfs_statfs64 {
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| { vfs.lookup(&fp)?; put(out, vfs.statfs(fp.mount)?) }, |p| real!(statfs64)(p, out))
    }
}

hook! {
    unsafe fn fstatfs(fd: c_int, out: *mut libc::statfs) -> c_int => famfs_fstatfs {
        with_fd(fd, -1, |vfs, of| put(out, vfs.statfs(of.mount())?), || real!(fstatfs)(fd, out))
    }
}

hook! {
    unsafe fn fstatfs64(fd: c_int, out: *mut libc::statfs) -> c_int => famfs_fstatfs64 {
        with_fd(fd, -1, |vfs, of| put(out, vfs.statfs(of.mount())?), || real!(fstatfs64)(fd, out))
    }
}

hook! {
    unsafe fn statvfs(path: *const c_char, out: *mut libc::statvfs) -> c_int => famfs_statvfs {
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| { vfs.lookup(&fp)?; put(out, statvfs_of(&vfs.statfs(fp.mount)?)) }, |p| real!(statvfs)(p, out))
    }
}

hook! {
    unsafe fn statvfs64(path: *const c_char, out: *mut libc::statvfs) -> c_int => famfs_statvfs64 {
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| { vfs.lookup(&fp)?; put(out, statvfs_of(&vfs.statfs(fp.mount)?)) }, |p| real!(statvfs64)(p, out))
    }
}

hook! {
    unsafe fn fstatvfs(fd: c_int, out: *mut libc::statvfs) -> c_int => famfs_fstatvfs {
        with_fd(fd, -1, |vfs, of| put(out, statvfs_of(&vfs.statfs(of.mount())?)), || real!(fstatvfs)(fd, out))
    }
}

hook! {
    unsafe fn fstatvfs64(fd: c_int, out: *mut libc::statvfs) -> c_int => famfs_fstatvfs64 {
        with_fd(fd, -1, |vfs, of| put(out, statvfs_of(&vfs.statfs(of.mount())?)), || real!(fstatvfs64)(fd, out))
    }
}

/// famfs has no symbolic links: readlink of an existing node is EINVAL.
fn not_a_link(vfs: &Vfs, fp: FamfsPath) -> SysResult<ssize_t> {
    vfs.lookup(&fp)?;
    Err(Errno::EINVAL)
}

hook! {
    unsafe fn readlink(path: *const c_char, buf: *mut c_char, len: size_t) -> ssize_t => famfs_readlink {
        with_path(libc::AT_FDCWD, path, -1, not_a_link, |p| real!(readlink)(p, buf, len))
    }
}

hook! {
    unsafe fn readlinkat(dirfd: c_int, path: *const c_char, buf: *mut c_char, len: size_t) -> ssize_t => famfs_readlinkat {
        with_path(dirfd, path, -1, not_a_link, |p| real!(readlinkat)(dirfd, p, buf, len))
    }
}

// famfs keeps no extended attributes: reads find none (as ls -l, cp -a and
// ACL tools ask), writes are not supported.

fn no_xattr(vfs: &Vfs, fp: FamfsPath) -> SysResult<ssize_t> {
    vfs.lookup(&fp)?;
    Err(Errno::ENODATA)
}

fn empty_xattr_list(vfs: &Vfs, fp: FamfsPath) -> SysResult<ssize_t> {
    vfs.lookup(&fp)?;
    Ok(0)
}

fn xattr_unsupported(vfs: &Vfs, fp: FamfsPath) -> SysResult<c_int> {
    vfs.lookup(&fp)?;
    Err(Errno::ENOTSUP)
}

type Void = libc::c_void;

hook! {
    unsafe fn getxattr(path: *const c_char, name: *const c_char, value: *mut Void, size: size_t) -> ssize_t => famfs_getxattr {
        with_path(libc::AT_FDCWD, path, -1, no_xattr, |p| real!(getxattr)(p, name, value, size))
    }
}

hook! {
    unsafe fn lgetxattr(path: *const c_char, name: *const c_char, value: *mut Void, size: size_t) -> ssize_t => famfs_lgetxattr {
        with_path(libc::AT_FDCWD, path, -1, no_xattr, |p| real!(lgetxattr)(p, name, value, size))
    }
}

hook! {
    unsafe fn fgetxattr(fd: c_int, name: *const c_char, value: *mut Void, size: size_t) -> ssize_t => famfs_fgetxattr {
        with_fd(fd, -1, |_, _| Err(Errno::ENODATA), || real!(fgetxattr)(fd, name, value, size))
    }
}

hook! {
    unsafe fn listxattr(path: *const c_char, list: *mut c_char, size: size_t) -> ssize_t => famfs_listxattr {
        with_path(libc::AT_FDCWD, path, -1, empty_xattr_list, |p| real!(listxattr)(p, list, size))
    }
}

hook! {
    unsafe fn llistxattr(path: *const c_char, list: *mut c_char, size: size_t) -> ssize_t => famfs_llistxattr {
        with_path(libc::AT_FDCWD, path, -1, empty_xattr_list, |p| real!(llistxattr)(p, list, size))
    }
}

hook! {
    unsafe fn flistxattr(fd: c_int, list: *mut c_char, size: size_t) -> ssize_t => famfs_flistxattr {
        with_fd(fd, -1, |_, _| Ok(0), || real!(flistxattr)(fd, list, size))
    }
}

hook! {
    unsafe fn setxattr(path: *const c_char, name: *const c_char, value: *const Void, size: size_t, flags: c_int) -> c_int => famfs_setxattr {
        with_path(libc::AT_FDCWD, path, -1, xattr_unsupported, |p| real!(setxattr)(p, name, value, size, flags))
    }
}

hook! {
    unsafe fn lsetxattr(path: *const c_char, name: *const c_char, value: *const Void, size: size_t, flags: c_int) -> c_int => famfs_lsetxattr {
        with_path(libc::AT_FDCWD, path, -1, xattr_unsupported, |p| real!(lsetxattr)(p, name, value, size, flags))
    }
}

hook! {
    unsafe fn fsetxattr(fd: c_int, name: *const c_char, value: *const Void, size: size_t, flags: c_int) -> c_int => famfs_fsetxattr {
        with_fd(fd, -1, |_, _| Err(Errno::ENOTSUP), || real!(fsetxattr)(fd, name, value, size, flags))
    }
}

hook! {
    unsafe fn removexattr(path: *const c_char, name: *const c_char) -> c_int => famfs_removexattr {
        with_path(libc::AT_FDCWD, path, -1, xattr_unsupported, |p| real!(removexattr)(p, name))
    }
}

hook! {
    unsafe fn lremovexattr(path: *const c_char, name: *const c_char) -> c_int => famfs_lremovexattr {
        with_path(libc::AT_FDCWD, path, -1, xattr_unsupported, |p| real!(lremovexattr)(p, name))
    }
}

hook! {
    unsafe fn fremovexattr(fd: c_int, name: *const c_char) -> c_int => famfs_fremovexattr {
        with_fd(fd, -1, |_, _| Err(Errno::ENOTSUP), || real!(fremovexattr)(fd, name))
    }
}
