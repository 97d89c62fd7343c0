//! stdio streams on famfs files.
//!
//! glibc's FILE reads and writes through internal system calls the shim
//! cannot see, so a stream on a famfs file is a `fopencookie` stream whose
//! callbacks call read, write, lseek and close on the famfs descriptor,
//! which the shim serves. Every stdio function then works on it.

use super::with_path;
use crate::shim::cstr;
use famfs_core::vfs::SysResult;
use libc::{c_char, c_int, c_void, off64_t, size_t, ssize_t, FILE};
use nix::errno::Errno;
use redhook::{hook, real};

#[repr(C)]
struct CookieIoFunctions {
    read: Option<unsafe extern "C" fn(*mut c_void, *mut c_char, size_t) -> ssize_t>,
    write: Option<unsafe extern "C" fn(*mut c_void, *const c_char, size_t) -> ssize_t>,
    seek: Option<unsafe extern "C" fn(*mut c_void, *mut off64_t, c_int) -> c_int>,
    close: Option<unsafe extern "C" fn(*mut c_void) -> c_int>,
}

extern "C" {
    fn fopencookie(cookie: *mut c_void, mode: *const c_char, funcs: CookieIoFunctions)
        -> *mut FILE;
    static mut stdin: *mut FILE;
    static mut stdout: *mut FILE;
    static mut stderr: *mut FILE;
    /// csrc/shim.c: sets a stream's descriptor number.
    fn famfs_set_stream_fd(f: *mut FILE, fd: c_int);
}

// The cookie is the descriptor number.
unsafe extern "C" fn cookie_read(c: *mut c_void, buf: *mut c_char, n: size_t) -> ssize_t {
    // SAFETY: stdio passes a buffer of n bytes; the read hook serves it.
    unsafe { libc::read(c as usize as c_int, buf.cast(), n) }
}

unsafe extern "C" fn cookie_write(c: *mut c_void, buf: *const c_char, n: size_t) -> ssize_t {
    // SAFETY: as above. stdio treats 0 as an error; a famfs write past EOF
    // fails with EFBIG, which stdio reports.
    let r = unsafe { libc::write(c as usize as c_int, buf.cast(), n) };
    if r == 0 && n > 0 {
        return -1;
    }
    r
}

unsafe extern "C" fn cookie_seek(c: *mut c_void, off: *mut off64_t, whence: c_int) -> c_int {
    // SAFETY: stdio passes a valid offset pointer.
    unsafe {
        let r = libc::lseek64(c as usize as c_int, *off, whence);
        if r < 0 {
            return -1;
        }
        *off = r;
    }
    0
}

unsafe extern "C" fn cookie_close(c: *mut c_void) -> c_int {
    // SAFETY: the stream owns the descriptor.
    unsafe { libc::close(c as usize as c_int) }
}

/// open(2) flags for an fopen mode string.
fn mode_flags(mode: &[u8]) -> SysResult<c_int> {
    let (first, rest) = mode.split_first().ok_or(Errno::EINVAL)?;
    let plus = rest.contains(&b'+');
    let mut f = match (first, plus) {
        (b'r', false) => libc::O_RDONLY,
        (b'r', true) => libc::O_RDWR,
        (b'w', false) => libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
        (b'w', true) => libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC,
        (b'a', false) => libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND,
        (b'a', true) => libc::O_RDWR | libc::O_CREAT | libc::O_APPEND,
        _ => return Err(Errno::EINVAL),
    };
    for &c in rest {
        match c {
            b'e' => f |= libc::O_CLOEXEC,
            b'x' => f |= libc::O_EXCL,
            _ => {}
        }
    }
    Ok(f)
}

/// A stream on famfs descriptor `fd` (which the stream then owns).
fn stream(fd: c_int, mode: *const c_char) -> SysResult<*mut FILE> {
    let funcs = CookieIoFunctions {
        read: Some(cookie_read),
        write: Some(cookie_write),
        seek: Some(cookie_seek),
        close: Some(cookie_close),
    };
    // SAFETY: valid mode string from the caller; the cookie is an integer.
    let f = unsafe { fopencookie(fd as usize as *mut c_void, mode, funcs) };
    if f.is_null() {
        return Err(Errno::last());
    }
    // SAFETY: `f` is the stream just made.
    unsafe { famfs_set_stream_fd(f, fd) };
    Ok(f)
}

/// A program whose stdin, stdout or stderr is an inherited famfs file:
/// glibc's standard streams would read and write descriptors 0..2 through
/// internal calls the shim cannot see, so each becomes a cookie stream on
/// the same descriptor before main runs.
pub fn adopt_std_streams(vfs: &famfs_core::vfs::Vfs) {
    let globals = [
        std::ptr::addr_of_mut!(stdin),
        std::ptr::addr_of_mut!(stdout),
        std::ptr::addr_of_mut!(stderr),
    ];
    for (fd, global) in globals.into_iter().enumerate() {
        let Some(of) = vfs.fds.get(fd as c_int) else {
            continue;
        };
        let mode = match (of.readable(), of.writable()) {
            (true, true) => c"r+",
            (true, false) => c"r",
            (false, true) => c"w",
            (false, false) => continue,
        };
        match stream(fd as c_int, mode.as_ptr()) {
            // SAFETY: glibc's standard stream globals; this runs before
            // main, when nothing else uses them.
            Ok(f) => unsafe { *global = f },
            Err(e) => {
                tracing::warn!(fd, errno = %e, "cannot give a famfs standard stream to stdio")
            }
        }
    }
}

/// fopen of a famfs path.
///
/// # Safety
/// `mode` must be a valid C string.
unsafe fn fopen_famfs(
    vfs: &famfs_core::vfs::Vfs,
    fp: famfs_core::vfs::FamfsPath,
    mode: *const c_char,
) -> SysResult<*mut FILE> {
    // SAFETY: forwarded contract.
    let flags = mode_flags(unsafe { cstr(mode) }.ok_or(Errno::EFAULT)?)?;
    let fd = vfs.open(&fp, flags)?;
    stream(fd, mode).inspect_err(|_| {
        // SAFETY: our descriptor.
        unsafe { libc::close(fd) };
    })
}

hook! {
    unsafe fn fopen(path: *const c_char, mode: *const c_char) -> *mut FILE => famfs_fopen {
        with_path(libc::AT_FDCWD, path, std::ptr::null_mut(), |vfs, fp| fopen_famfs(vfs, fp, mode), |p| real!(fopen)(p, mode))
    }
}

hook! {
    unsafe fn fopen64(path: *const c_char, mode: *const c_char) -> *mut FILE => famfs_fopen64 {
        with_path(libc::AT_FDCWD, path, std::ptr::null_mut(), |vfs, fp| fopen_famfs(vfs, fp, mode), |p| real!(fopen64)(p, mode))
    }
}

hook! {
    unsafe fn fdopen(fd: c_int, mode: *const c_char) -> *mut FILE => famfs_fdopen {
        super::with_fd(fd, std::ptr::null_mut(), |_, of| {
            let flags = mode_flags(cstr(mode).ok_or(Errno::EFAULT)?)?;
            let want_write = flags & libc::O_ACCMODE != libc::O_RDONLY;
            let want_read = flags & libc::O_ACCMODE != libc::O_WRONLY;
            if (want_write && !of.writable()) || (want_read && !of.readable()) {
                return Err(Errno::EINVAL);
            }
            stream(fd, mode)
        }, || real!(fdopen)(fd, mode))
    }
}

/// freopen onto a famfs path: a new cookie stream replaces `old`. When
/// `old` is stdin, stdout or stderr the global now names the new stream,
/// which is what programs that freopen a standard stream use afterwards.
///
/// # Safety
/// `old` must be a valid stream; `mode` a valid C string.
unsafe fn freopen_famfs(
    vfs: &famfs_core::vfs::Vfs,
    fp: famfs_core::vfs::FamfsPath,
    mode: *const c_char,
    old: *mut FILE,
) -> SysResult<*mut FILE> {
    // SAFETY: forwarded contract.
    let new = unsafe { fopen_famfs(vfs, fp, mode) }?;
    // SAFETY: the standard stream globals are glibc's; `old` is valid.
    unsafe {
        libc::fclose(old);
        let globals = [
            std::ptr::addr_of_mut!(stdin),
            std::ptr::addr_of_mut!(stdout),
            std::ptr::addr_of_mut!(stderr),
        ];
        for g in globals {
            if *g == old {
                *g = new;
            }
        }
    }
    Ok(new)
}

hook! {
    unsafe fn freopen(path: *const c_char, mode: *const c_char, old: *mut FILE) -> *mut FILE => famfs_freopen {
        if path.is_null() {
            return real!(freopen)(path, mode, old);
        }
        with_path(libc::AT_FDCWD, path, std::ptr::null_mut(), |vfs, fp| freopen_famfs(vfs, fp, mode, old), |p| real!(freopen)(p, mode, old))
    }
}

hook! {
    unsafe fn freopen64(path: *const c_char, mode: *const c_char, old: *mut FILE) -> *mut FILE => famfs_freopen64 {
        if path.is_null() {
            return real!(freopen64)(path, mode, old);
        }
        with_path(libc::AT_FDCWD, path, std::ptr::null_mut(), |vfs, fp| freopen_famfs(vfs, fp, mode, old), |p| real!(freopen64)(p, mode, old))
    }
}
