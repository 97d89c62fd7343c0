//! stdio streams on famfs files.
//!
//! glibc's FILE reads and writes through internal system calls the shim
//! cannot see, so a stream on a famfs file is a `fopencookie` stream whose
//! callbacks call read, write, lseek and close on the famfs descriptor,
//! which the shim serves. Every stdio function then works on it.

use super::with_path;
use crate::interpose::interpose;
use crate::shim::{self, CPath};
use famfs_vfs::SysResult;
use libc::{c_char, c_int, c_void, off64_t, size_t, ssize_t, FILE};
use nix::errno::Errno;
use std::sync::atomic::Ordering;

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

// The cookie is the descriptor number. The callbacks go to the Vfs
// directly, not through libc: glibc may call them from inside a hook (a
// flush or close during freopen), where libc calls would bypass the shim.

/// Runs `f` on the open file behind cookie `c`; -1 with errno otherwise.
fn on_cookie<T: Copy>(
    c: *mut c_void,
    fail: T,
    f: impl FnOnce(&famfs_vfs::OpenFile) -> SysResult<T>,
) -> T {
    let Some(vfs) = shim::vfs_if_ready() else {
        shim::set_errno(libc::EBADF);
        return fail;
    };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let of = vfs.fds.get(c as usize as c_int).ok_or(Errno::EBADF)?;
        f(&of)
    }))
    .unwrap_or(Err(Errno::EIO));
    r.unwrap_or_else(|e| {
        shim::set_errno(e as c_int);
        fail
    })
}

unsafe extern "C" fn cookie_read(c: *mut c_void, buf: *mut c_char, n: size_t) -> ssize_t {
    on_cookie(c, -1, |of| {
        // SAFETY: stdio passes a buffer of n bytes.
        let b = unsafe { shim::buf_mut(buf.cast(), n) }?;
        of.read(b).map(|n| n as ssize_t)
    })
}

unsafe extern "C" fn cookie_write(c: *mut c_void, buf: *const c_char, n: size_t) -> ssize_t {
    on_cookie(c, -1, |of| {
        // SAFETY: stdio passes n bytes.
        let b = unsafe { shim::buf(buf.cast(), n) }?;
        of.write(b).map(|n| n as ssize_t)
    })
}

unsafe extern "C" fn cookie_seek(c: *mut c_void, off: *mut off64_t, whence: c_int) -> c_int {
    on_cookie(c, -1, |of| {
        // SAFETY: stdio passes a valid offset pointer.
        let at = unsafe { &mut *off };
        *at = of.lseek(*at, whence)? as off64_t;
        Ok(0)
    })
}

unsafe extern "C" fn cookie_close(c: *mut c_void) -> c_int {
    let fd = c as usize as c_int;
    if DETACHED.lock().contains(&fd) {
        // A standard stream the program moved off famfs: the descriptor
        // is no longer the stream's to close.
        DETACHED.lock().retain(|&d| d != fd);
        return 0;
    }
    if let Some(vfs) = shim::vfs_if_ready() {
        vfs.forget(fd);
    }
    // SAFETY: the stream owned the placeholder; the table no longer maps it,
    // so this is a plain kernel close wherever it is called from.
    unsafe { libc::close(fd) }
}

/// Descriptors whose cookie stream is being retired without closing them.
static DETACHED: parking_lot::Mutex<Vec<c_int>> = parking_lot::Mutex::new(Vec::new());

/// Streams the shim made (cookie streams), so freopen and fclose know them.
static STREAMS: parking_lot::Mutex<Vec<usize>> = parking_lot::Mutex::new(Vec::new());

fn is_ours(f: *mut FILE) -> bool {
    STREAMS.lock().contains(&(f as usize))
}

fn unregister(f: *mut FILE) {
    STREAMS.lock().retain(|&p| p != f as usize);
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
    STREAMS.lock().push(f as usize);
    Ok(f)
}

/// A program whose stdin, stdout or stderr is an inherited famfs file:
/// glibc's standard streams would read and write descriptors 0..2 through
/// internal calls the shim cannot see, so each becomes a cookie stream on
/// the same descriptor before main runs.
pub fn adopt_std_streams(vfs: &famfs_vfs::Vfs) {
    for fd in 0..=2 {
        follow_std(vfs, fd);
    }
}

/// glibc's own standard streams, kept while a famfs cookie stream stands
/// in for one (index = descriptor), to put back when the descriptor stops
/// being famfs.
static ORIGINAL: [std::sync::atomic::AtomicPtr<FILE>; 3] = [
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()),
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()),
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()),
];

fn std_global(fd: c_int) -> *mut *mut FILE {
    match fd {
        0 => std::ptr::addr_of_mut!(stdin),
        1 => std::ptr::addr_of_mut!(stdout),
        _ => std::ptr::addr_of_mut!(stderr),
    }
}

/// Before a descriptor of 0, 1 or 2 is replaced (dup2, dup3, close):
/// output the program buffered in that standard stream goes where the
/// descriptor pointed until now.
pub fn before_std_change(fd: c_int) {
    if (0..=2).contains(&fd) {
        // SAFETY: glibc's standard stream global for `fd`; fflush of a
        // valid stream (or NULL, which flushes all) is always allowed.
        unsafe { libc::fflush(*std_global(fd)) };
    }
}

/// After descriptor `fd` (0, 1 or 2) changed: if it is now famfs, the
/// standard stream becomes a cookie stream on it (glibc's own stream
/// would read and write it with internal calls the shim cannot see, so
/// `dup2(famfs_fd, 1); printf(...)` and a shell's `printf AB 1<> F` would
/// fail with EBADF); if it no longer is, glibc's stream comes back.
pub fn follow_std(vfs: &famfs_vfs::Vfs, fd: c_int) {
    if !(0..=2).contains(&fd) {
        return;
    }
    let global = std_global(fd);
    // SAFETY: glibc's standard stream global for `fd`, read and written
    // by the thread that changes the descriptor, as a program that
    // reassigns stdout itself would.
    let current = unsafe { *global };
    let ours = is_ours(current) && current != ORIGINAL[fd as usize].load(Ordering::Acquire);
    match vfs.fds.get(fd) {
        Some(of) => {
            if ours {
                return;
            }
            let mode = match (of.readable(), of.writable()) {
                (true, true) => c"r+",
                (true, false) => c"r",
                (false, true) => c"w",
                (false, false) => return,
            };
            match stream(fd, mode.as_ptr()) {
                Ok(f) => {
                    ORIGINAL[fd as usize].store(current, Ordering::Release);
                    // SAFETY: as above.
                    unsafe { *global = f };
                }
                Err(e) => {
                    tracing::warn!(fd, errno = %e, "cannot give a famfs standard stream to stdio")
                }
            }
        }
        None if ours => {
            let original = ORIGINAL[fd as usize].swap(std::ptr::null_mut(), Ordering::AcqRel);
            if original.is_null() {
                return;
            }
            unregister(current);
            DETACHED.lock().push(fd);
            // SAFETY: our cookie stream, retired without closing `fd`
            // (DETACHED); glibc's stream goes back in the global.
            unsafe {
                libc::fclose(current);
                *global = original;
            }
        }
        None => {}
    }
}

/// fopen of a famfs path.
///
fn fopen_famfs(
    vfs: &famfs_vfs::Vfs,
    fp: famfs_vfs::FamfsPath,
    mode: CPath<'_>,
) -> SysResult<*mut FILE> {
    let flags = mode_flags(mode.bytes.ok_or(Errno::EFAULT)?)?;
    let fd = vfs.open(&fp, flags)?;
    stream(fd, mode.ptr).inspect_err(|_| {
        // SAFETY: our descriptor.
        unsafe { libc::close(fd) };
    })
}

interpose! {
    fn fopen | fopen64(path: *const c_char, mode: *const c_char) -> *mut FILE, real {
        // SAFETY: `path` is NULL or a C string and `mode` a C string, as
        // fopen(3) requires.
        let (path, cmode) = unsafe { (CPath::new(path), CPath::new(mode)) };
        with_path(libc::AT_FDCWD, path, std::ptr::null_mut(), |vfs, fp| fopen_famfs(vfs, fp, cmode), |p| real(p, mode))
    }
}

interpose! {
    fn fdopen(fd: c_int, mode: *const c_char) -> *mut FILE, real {
        // SAFETY: `mode` is a C string, as fdopen(3) requires.
        let cmode = unsafe { CPath::new(mode) };
        super::with_fd(fd, std::ptr::null_mut(), |_, of| {
            let flags = mode_flags(cmode.bytes.ok_or(Errno::EFAULT)?)?;
            let want_write = flags & libc::O_ACCMODE != libc::O_RDONLY;
            let want_read = flags & libc::O_ACCMODE != libc::O_WRONLY;
            if (want_write && !of.writable()) || (want_read && !of.readable()) {
                return Err(Errno::EINVAL);
            }
            stream(fd, mode)
        }, || real(fd, mode))
    }
}

/// freopen where the shim is involved (the new path is famfs, or `old` is
/// a stream the shim made, which glibc's freopen cannot reopen): `new`
/// replaces `old`, which is closed. When `old` is stdin, stdout or stderr
/// the global now names the new stream, which is what programs that
/// freopen a standard stream use afterwards.
///
/// # Safety
/// `old` must be a valid stream.
unsafe fn replace_stream(old: *mut FILE, new: *mut FILE) -> *mut FILE {
    if new.is_null() {
        return new;
    }
    unregister(old);
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
    new
}

interpose! {
    fn freopen | freopen64(path: *const c_char, mode: *const c_char, old: *mut FILE) -> *mut FILE, real {
        // SAFETY: `path` is NULL or a C string, `mode` a C string and `old`
        // an open stream, as freopen(3) requires.
        let (path, cmode) = unsafe { (CPath::new(path), CPath::new(mode)) };
        let ours = is_ours(old);
        if path.bytes.is_none() {
            // Reopening the same stream with a new mode: a cookie stream
            // keeps its descriptor and access.
            return if ours { old } else { real(path.ptr, mode, old) };
        }
        with_path(libc::AT_FDCWD, path, std::ptr::null_mut(), |vfs, fp| {
            let new = fopen_famfs(vfs, fp, cmode)?;
            // SAFETY: `old` is the caller's open stream (freopen(3)).
            Ok(unsafe { replace_stream(old, new) })
        }, |p| if ours {
            // SAFETY: `p` and `mode` are C strings (above); `old` is the
            // caller's open stream.
            unsafe { replace_stream(old, libc::fopen(p, mode)) }
        } else {
            real(p, mode, old)
        })
    }
}

interpose! {
    fn fclose(f: *mut FILE) -> c_int, real {
        if !f.is_null() && is_ours(f) {
            unregister(f);
        }
        real(f)
    }
}
