//! The working directory, path canonicalisation, mkdir, and the namespace
//! changes famfs refuses (it has no delete, rename, links or attribute
//! changes: EPERM).

use super::{with_fd, with_path};
use crate::shim::{self, Flow};
use famfs_vfs::{FamfsPath, SysResult, Vfs};
use libc::{c_char, c_int, gid_t, mode_t, size_t, timespec, uid_t};
use nix::errno::Errno;
use redhook::{hook, real};

hook! {
    unsafe fn chdir(path: *const c_char) -> c_int => famfs_chdir {
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| vfs.chdir(&fp).map(|_| 0), |p| {
            let r = real!(chdir)(p);
            if r == 0 {
                shim::hook(|vfs| { vfs.left_famfs_cwd(); Flow::Done(Ok(())) }, || (), ());
            }
            r
        })
    }
}

hook! {
    unsafe fn fchdir(fd: c_int) -> c_int => famfs_fchdir {
        with_fd(fd, -1, |vfs, of| vfs.fchdir(of).map(|_| 0), || {
            let r = real!(fchdir)(fd);
            if r == 0 {
                shim::hook(|vfs| { vfs.left_famfs_cwd(); Flow::Done(Ok(())) }, || (), ());
            }
            r
        })
    }
}

/// Copies a path `s` into the caller's buffer, or a malloc'd one (glibc's
/// extension for a NULL buffer).
fn copy_path_out(s: &str, buf: *mut c_char, size: size_t) -> SysResult<*mut c_char> {
    let need = s.len() + 1;
    let out = if buf.is_null() {
        let n = if size == 0 { need } else { size };
        if n < need {
            return Err(Errno::ERANGE);
        }
        // SAFETY: allocation the caller frees.
        let p = unsafe { libc::malloc(n) } as *mut c_char;
        if p.is_null() {
            return Err(Errno::ENOMEM);
        }
        p
    } else {
        if size == 0 {
            return Err(Errno::EINVAL);
        }
        if size < need {
            return Err(Errno::ERANGE);
        }
        buf
    };
    // SAFETY: `out` has room for need bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(s.as_ptr(), out.cast(), s.len());
        *out.add(s.len()) = 0;
    }
    Ok(out)
}

hook! {
    unsafe fn getcwd(buf: *mut c_char, size: size_t) -> *mut c_char => famfs_getcwd {
        shim::hook(
            |vfs| match vfs.famfs_cwd() {
                None => Flow::Pass,
                Some(c) => Flow::Done(copy_path_out(&c, buf, size)),
            },
            || real!(getcwd)(buf, size),
            std::ptr::null_mut(),
        )
    }
}

hook! {
    unsafe fn get_current_dir_name() -> *mut c_char => famfs_get_current_dir_name {
        shim::hook(
            |vfs| match vfs.famfs_cwd() {
                None => Flow::Pass,
                Some(c) => Flow::Done(copy_path_out(&c, std::ptr::null_mut(), 0)),
            },
            || real!(get_current_dir_name)(),
            std::ptr::null_mut(),
        )
    }
}

/// realpath of a famfs path: the normalised absolute path, which must exist.
fn realpath_famfs(vfs: &Vfs, fp: FamfsPath, out: *mut c_char) -> SysResult<*mut c_char> {
    vfs.lookup(&fp)?;
    let abs = fp.abs();
    if abs.len() >= libc::PATH_MAX as usize {
        return Err(Errno::ENAMETOOLONG);
    }
    copy_path_out(
        &abs,
        out,
        if out.is_null() {
            0
        } else {
            libc::PATH_MAX as usize
        },
    )
}

hook! {
    unsafe fn realpath(path: *const c_char, out: *mut c_char) -> *mut c_char => famfs_realpath {
        with_path(libc::AT_FDCWD, path, std::ptr::null_mut(), |vfs, fp| realpath_famfs(vfs, fp, out), |p| real!(realpath)(p, out))
    }
}

hook! {
    unsafe fn canonicalize_file_name(path: *const c_char) -> *mut c_char => famfs_canonicalize_file_name {
        with_path(libc::AT_FDCWD, path, std::ptr::null_mut(), |vfs, fp| realpath_famfs(vfs, fp, std::ptr::null_mut()), |p| real!(canonicalize_file_name)(p))
    }
}

hook! {
    unsafe fn mkdir(path: *const c_char, mode: mode_t) -> c_int => famfs_mkdir {
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| vfs.mkdir(&fp, mode).map(|_| 0), |p| real!(mkdir)(p, mode))
    }
}

hook! {
    unsafe fn mkdirat(dirfd: c_int, path: *const c_char, mode: mode_t) -> c_int => famfs_mkdirat {
        with_path(dirfd, path, -1, |vfs, fp| vfs.mkdir(&fp, mode).map(|_| 0), |p| real!(mkdirat)(dirfd, p, mode))
    }
}

/// famfs cannot delete, rename, link or change attributes: an existing
/// node gives EPERM (a missing one its lookup error).
fn refuse(vfs: &Vfs, fp: FamfsPath) -> SysResult<c_int> {
    vfs.lookup(&fp)?;
    Err(Errno::EPERM)
}

/// Like `refuse` for calls that create a new name (link, symlink target
/// name, rename destination): EPERM whether or not it exists.
fn refuse_new(_vfs: &Vfs, _fp: FamfsPath) -> SysResult<c_int> {
    Err(Errno::EPERM)
}

/// Two-path calls: famfs on either side is refused.
///
/// # Safety
/// Both paths must be NULL or valid C strings.
unsafe fn two_paths(
    d1: c_int,
    p1: *const c_char,
    d2: c_int,
    p2: *const c_char,
    real: impl FnOnce(*const c_char, *const c_char) -> c_int,
) -> c_int {
    // SAFETY: forwarded contract; `q1` lives while the closure runs.
    unsafe {
        with_path(d1, p1, -1, refuse, |q1| {
            with_path(d2, p2, -1, refuse_new, |q2| real(q1, q2))
        })
    }
}

hook! {
    unsafe fn unlink(path: *const c_char) -> c_int => famfs_unlink {
        with_path(libc::AT_FDCWD, path, -1, refuse, |p| real!(unlink)(p))
    }
}

hook! {
    unsafe fn unlinkat(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int => famfs_unlinkat {
        with_path(dirfd, path, -1, refuse, |p| real!(unlinkat)(dirfd, p, flags))
    }
}

hook! {
    unsafe fn rmdir(path: *const c_char) -> c_int => famfs_rmdir {
        with_path(libc::AT_FDCWD, path, -1, refuse, |p| real!(rmdir)(p))
    }
}

hook! {
    unsafe fn rename(old: *const c_char, new: *const c_char) -> c_int => famfs_rename {
        two_paths(libc::AT_FDCWD, old, libc::AT_FDCWD, new, |a, b| real!(rename)(a, b))
    }
}

hook! {
    unsafe fn renameat(d1: c_int, old: *const c_char, d2: c_int, new: *const c_char) -> c_int => famfs_renameat {
        two_paths(d1, old, d2, new, |a, b| real!(renameat)(d1, a, d2, b))
    }
}

hook! {
    unsafe fn renameat2(d1: c_int, old: *const c_char, d2: c_int, new: *const c_char, flags: libc::c_uint) -> c_int => famfs_renameat2 {
        two_paths(d1, old, d2, new, |a, b| real!(renameat2)(d1, a, d2, b, flags))
    }
}

hook! {
    unsafe fn link(old: *const c_char, new: *const c_char) -> c_int => famfs_link {
        two_paths(libc::AT_FDCWD, old, libc::AT_FDCWD, new, |a, b| real!(link)(a, b))
    }
}

hook! {
    unsafe fn linkat(d1: c_int, old: *const c_char, d2: c_int, new: *const c_char, flags: c_int) -> c_int => famfs_linkat {
        two_paths(d1, old, d2, new, |a, b| real!(linkat)(d1, a, d2, b, flags))
    }
}

hook! {
    unsafe fn symlink(target: *const c_char, new: *const c_char) -> c_int => famfs_symlink {
        // The target is only text; the new name decides.
        with_path(libc::AT_FDCWD, new, -1, refuse_new, |p| real!(symlink)(target, p))
    }
}

hook! {
    unsafe fn symlinkat(target: *const c_char, dirfd: c_int, new: *const c_char) -> c_int => famfs_symlinkat {
        with_path(dirfd, new, -1, refuse_new, |p| real!(symlinkat)(target, dirfd, p))
    }
}

hook! {
    unsafe fn chmod(path: *const c_char, mode: mode_t) -> c_int => famfs_chmod {
        with_path(libc::AT_FDCWD, path, -1, refuse, |p| real!(chmod)(p, mode))
    }
}

hook! {
    unsafe fn fchmodat(dirfd: c_int, path: *const c_char, mode: mode_t, flags: c_int) -> c_int => famfs_fchmodat {
        with_path(dirfd, path, -1, refuse, |p| real!(fchmodat)(dirfd, p, mode, flags))
    }
}

hook! {
    unsafe fn fchmod(fd: c_int, mode: mode_t) -> c_int => famfs_fchmod {
        with_fd(fd, -1, |_, _| Err(Errno::EPERM), || real!(fchmod)(fd, mode))
    }
}

hook! {
    unsafe fn chown(path: *const c_char, uid: uid_t, gid: gid_t) -> c_int => famfs_chown {
        with_path(libc::AT_FDCWD, path, -1, refuse, |p| real!(chown)(p, uid, gid))
    }
}

hook! {
    unsafe fn lchown(path: *const c_char, uid: uid_t, gid: gid_t) -> c_int => famfs_lchown {
        with_path(libc::AT_FDCWD, path, -1, refuse, |p| real!(lchown)(p, uid, gid))
    }
}

hook! {
    unsafe fn fchownat(dirfd: c_int, path: *const c_char, uid: uid_t, gid: gid_t, flags: c_int) -> c_int => famfs_fchownat {
        with_path(dirfd, path, -1, refuse, |p| real!(fchownat)(dirfd, p, uid, gid, flags))
    }
}

hook! {
    unsafe fn fchown(fd: c_int, uid: uid_t, gid: gid_t) -> c_int => famfs_fchown {
        with_fd(fd, -1, |_, _| Err(Errno::EPERM), || real!(fchown)(fd, uid, gid))
    }
}

hook! {
    unsafe fn utimensat(dirfd: c_int, path: *const c_char, times: *const timespec, flags: c_int) -> c_int => famfs_utimensat {
        if path.is_null() {
            return with_fd(dirfd, -1, |_, _| Err(Errno::EPERM), || real!(utimensat)(dirfd, path, times, flags));
        }
        with_path(dirfd, path, -1, refuse, |p| real!(utimensat)(dirfd, p, times, flags))
    }
}

hook! {
    unsafe fn futimens(fd: c_int, times: *const timespec) -> c_int => famfs_futimens {
        with_fd(fd, -1, |_, _| Err(Errno::EPERM), || real!(futimens)(fd, times))
    }
}

hook! {
    unsafe fn utimes(path: *const c_char, times: *const libc::timeval) -> c_int => famfs_utimes {
        with_path(libc::AT_FDCWD, path, -1, refuse, |p| real!(utimes)(p, times))
    }
}

hook! {
    unsafe fn utime(path: *const c_char, times: *const libc::utimbuf) -> c_int => famfs_utime {
        with_path(libc::AT_FDCWD, path, -1, refuse, |p| real!(utime)(p, times))
    }
}
