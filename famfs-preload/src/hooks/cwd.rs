//! The working directory, path canonicalisation, mkdir, and the namespace
//! changes famfs refuses (it has no delete, rename, links or attribute
//! changes: EPERM).

use super::{with_fd, with_path};
use crate::interpose::interpose;
use crate::shim::CPath;
use crate::shim::{self, Flow};
use famfs_vfs::{FamfsPath, SysResult, Vfs};
use libc::{c_char, c_int, gid_t, mode_t, size_t, timespec, uid_t};
use nix::errno::Errno;

interpose! {
    fn chdir(path: *const c_char) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as chdir(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| vfs.chdir(&fp).map(|_| 0), |p| {
            let r = real(p);
            if r == 0 {
                shim::hook(|vfs| { vfs.left_famfs_cwd(); Flow::Done(Ok(())) }, || (), ());
            }
            r
        })
    }
}

interpose! {
    fn fchdir(fd: c_int) -> c_int, real {
        with_fd(fd, -1, |vfs, of| vfs.fchdir(of).map(|_| 0), || {
            let r = real(fd);
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

interpose! {
    fn getcwd(buf: *mut c_char, size: size_t) -> *mut c_char, real {
        shim::hook(
            |vfs| match vfs.famfs_cwd() {
                None => Flow::Pass,
                Some(c) => Flow::Done(copy_path_out(&c, buf, size)),
            },
            || real(buf, size),
            std::ptr::null_mut(),
        )
    }
}

interpose! {
    fn get_current_dir_name() -> *mut c_char, real {
        shim::hook(
            |vfs| match vfs.famfs_cwd() {
                None => Flow::Pass,
                Some(c) => Flow::Done(copy_path_out(&c, std::ptr::null_mut(), 0)),
            },
            real,
            std::ptr::null_mut(),
        )
    }
}

/// realpath of a famfs path ([`Vfs::realpath`]) into the caller's buffer.
fn realpath_famfs(vfs: &Vfs, fp: FamfsPath, out: *mut c_char) -> SysResult<*mut c_char> {
    let abs = vfs.realpath(&fp)?;
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

interpose! {
    fn realpath(path: *const c_char, out: *mut c_char) -> *mut c_char, real {
        // SAFETY: `path` is NULL or a C string, as realpath(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, std::ptr::null_mut(), |vfs, fp| realpath_famfs(vfs, fp, out), |p| real(p, out))
    }
}

interpose! {
    fn canonicalize_file_name(path: *const c_char) -> *mut c_char, real {
        // SAFETY: `path` is NULL or a C string, as canonicalize_file_name(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, std::ptr::null_mut(), |vfs, fp| realpath_famfs(vfs, fp, std::ptr::null_mut()), real)
    }
}

interpose! {
    fn mkdir(path: *const c_char, mode: mode_t) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as mkdir(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| vfs.mkdir(&fp, mode).map(|_| 0), |p| real(p, mode))
    }
}

interpose! {
    fn mkdirat(dirfd: c_int, path: *const c_char, mode: mode_t) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as mkdirat(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(dirfd, path, -1, |vfs, fp| vfs.mkdir(&fp, mode).map(|_| 0), |p| real(dirfd, p, mode))
    }
}

/// A namespace change famfs refuses ([`Vfs::refuse_change`]).
fn refuse(vfs: &Vfs, fp: FamfsPath) -> SysResult<c_int> {
    vfs.refuse_change(&fp).map(|()| 0)
}

/// A new name famfs refuses ([`Vfs::refuse_new_name`]).
fn refuse_new(vfs: &Vfs, fp: FamfsPath) -> SysResult<c_int> {
    vfs.refuse_new_name(&fp).map(|()| 0)
}

/// Two-path calls: famfs on either side is refused.
fn two_paths(
    d1: c_int,
    p1: CPath<'_>,
    d2: c_int,
    p2: CPath<'_>,
    real: impl FnOnce(*const c_char, *const c_char) -> c_int,
) -> c_int {
    with_path(d1, p1, -1, refuse, |q1| {
        with_path(d2, p2, -1, refuse_new, |q2| real(q1, q2))
    })
}

interpose! {
    fn unlink | rmdir(path: *const c_char) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as unlink(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, -1, refuse, real)
    }
}

interpose! {
    fn unlinkat(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as unlinkat(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(dirfd, path, -1, refuse, |p| real(dirfd, p, flags))
    }
}

interpose! {
    fn rename | link(old: *const c_char, new: *const c_char) -> c_int, real {
        // SAFETY: both paths are NULL or C strings, as the call requires.
        let (old, new) = unsafe { (CPath::new(old), CPath::new(new)) };
        two_paths(libc::AT_FDCWD, old, libc::AT_FDCWD, new, real)
    }
}

interpose! {
    fn renameat(d1: c_int, old: *const c_char, d2: c_int, new: *const c_char) -> c_int, real {
        // SAFETY: both paths are NULL or C strings, as the call requires.
        let (old, new) = unsafe { (CPath::new(old), CPath::new(new)) };
        two_paths(d1, old, d2, new, |a, b| real(d1, a, d2, b))
    }
}

interpose! {
    fn renameat2(d1: c_int, old: *const c_char, d2: c_int, new: *const c_char, flags: libc::c_uint) -> c_int, real {
        // SAFETY: both paths are NULL or C strings, as the call requires.
        let (old, new) = unsafe { (CPath::new(old), CPath::new(new)) };
        two_paths(d1, old, d2, new, |a, b| real(d1, a, d2, b, flags))
    }
}

interpose! {
    fn linkat(d1: c_int, old: *const c_char, d2: c_int, new: *const c_char, flags: c_int) -> c_int, real {
        // SAFETY: both paths are NULL or C strings, as the call requires.
        let (old, new) = unsafe { (CPath::new(old), CPath::new(new)) };
        two_paths(d1, old, d2, new, |a, b| real(d1, a, d2, b, flags))
    }
}

interpose! {
    fn symlink(target: *const c_char, new: *const c_char) -> c_int, real {
        // SAFETY: `new` is NULL or a C string, as symlink(3) requires.
        let new = unsafe { CPath::new(new) };
        // The target is only text; the new name decides.
        with_path(libc::AT_FDCWD, new, -1, refuse_new, |p| real(target, p))
    }
}

interpose! {
    fn symlinkat(target: *const c_char, dirfd: c_int, new: *const c_char) -> c_int, real {
        // SAFETY: `new` is NULL or a C string, as symlinkat(3) requires.
        let new = unsafe { CPath::new(new) };
        with_path(dirfd, new, -1, refuse_new, |p| real(target, dirfd, p))
    }
}

interpose! {
    fn chmod(path: *const c_char, mode: mode_t) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as chmod(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, -1, refuse, |p| real(p, mode))
    }
}

interpose! {
    fn fchmodat(dirfd: c_int, path: *const c_char, mode: mode_t, flags: c_int) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as fchmodat(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(dirfd, path, -1, refuse, |p| real(dirfd, p, mode, flags))
    }
}

interpose! {
    fn fchmod(fd: c_int, mode: mode_t) -> c_int, real {
        with_fd(fd, -1, |_, _| Err(Errno::EPERM), || real(fd, mode))
    }
}

interpose! {
    fn chown | lchown(path: *const c_char, uid: uid_t, gid: gid_t) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as chown(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, -1, refuse, |p| real(p, uid, gid))
    }
}

interpose! {
    fn fchownat(dirfd: c_int, path: *const c_char, uid: uid_t, gid: gid_t, flags: c_int) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as fchownat(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(dirfd, path, -1, refuse, |p| real(dirfd, p, uid, gid, flags))
    }
}

interpose! {
    fn fchown(fd: c_int, uid: uid_t, gid: gid_t) -> c_int, real {
        with_fd(fd, -1, |_, _| Err(Errno::EPERM), || real(fd, uid, gid))
    }
}

interpose! {
    fn utimensat(dirfd: c_int, path: *const c_char, times: *const timespec, flags: c_int) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as utimensat(3) requires.
        let path = unsafe { CPath::new(path) };
        if path.bytes.is_none() {
            return with_fd(dirfd, -1, |_, _| Err(Errno::EPERM), || real(dirfd, path.ptr, times, flags));
        }
        with_path(dirfd, path, -1, refuse, |p| real(dirfd, p, times, flags))
    }
}

interpose! {
    fn futimens(fd: c_int, times: *const timespec) -> c_int, real {
        with_fd(fd, -1, |_, _| Err(Errno::EPERM), || real(fd, times))
    }
}

interpose! {
    fn utimes(path: *const c_char, times: *const libc::timeval) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as utimes(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, -1, refuse, |p| real(p, times))
    }
}

interpose! {
    fn utime(path: *const c_char, times: *const libc::utimbuf) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as utime(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, -1, refuse, |p| real(p, times))
    }
}
