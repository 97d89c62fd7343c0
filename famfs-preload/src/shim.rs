//! Entering the shim: the process-wide [`Vfs`], the re-entrancy guard (the
//! per-thread flag of [`fork_gate`]) and the conversion of results into
//! C's `-1` + `errno`.
//!
//! A hook asks [`enter`] for the Vfs. It gets none, and must call the real
//! function, when the shim is not active (no famfs mounted) or when the
//! call comes from the shim's own code on this thread (famfs-core opening
//! the device, allocating, tracing): those are the kernel's business. Every
//! famfs decision then runs under [`catch`], so a panic becomes EIO for the
//! application instead of unwinding into C or falling back to the real
//! function with a famfs descriptor.

use crate::fork_gate::{self, Entered};
use famfs_vfs::{SysResult, Vfs};
use nix::errno::Errno;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

static VFS: OnceLock<Vfs> = OnceLock::new();

/// The Vfs if the shim is up, whether or not this thread is inside it:
/// for stdio cookie callbacks, which serve a famfs descriptor even when
/// glibc calls them from within a hook (fclose inside freopen).
pub fn vfs_if_ready() -> Option<&'static Vfs> {
    VFS.get().filter(|v| v.is_active())
}

/// The Vfs if the shim has started (active or not).
#[inline]
pub fn vfs_if_started() -> Option<&'static Vfs> {
    VFS.get()
}

/// True when descriptor `fd` is certainly not famfs, decided with a few
/// plain loads and without touching the per-thread guard (a call into the
/// loader for a shared library's thread-local): the shim is up and `fd` is
/// not in the descriptor table. Otherwise the hook looks `fd` up once,
/// inside the shim.
#[inline]
pub fn fd_is_plain(fd: libc::c_int) -> bool {
    fd < 0
        || VFS
            .get()
            .is_some_and(|v| !v.is_active() || !v.fds.contains(fd))
}

/// Whether `fd` is the shim's own template descriptor (the one `close`
/// must refuse), decided as cheaply as [`fd_is_plain`].
#[inline]
pub fn fd_is_template(fd: libc::c_int) -> bool {
    VFS.get().is_some_and(|v| v.is_template(fd))
}

/// As [`fd_is_plain`] for a path relative to `dirfd`.
#[inline]
pub fn path_is_plain(dirfd: libc::c_int, path: &[u8]) -> bool {
    VFS.get().is_some_and(|v| v.path_is_plain(dirfd, path))
}

/// Proof that this thread is inside the shim; leaving clears the flag.
pub struct Inside {
    /// The process-wide file system view.
    pub vfs: &'static Vfs,
    errno: i32,
    /// This thread's mark: re-entrancy guard, and what a fork waits for.
    _entered: Entered,
}

fn errno() -> i32 {
    // SAFETY: __errno_location always returns this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Sets this thread's errno.
pub fn set_errno(e: i32) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = e };
}

fn init() -> Vfs {
    if let Some(spec) = std::env::var_os("FAMFS_LOG").filter(|v| !v.is_empty()) {
        use std::io::IsTerminal;
        use tracing_subscriber::filter::{LevelFilter, Targets};
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        // A level or `target=level` directives (no regex engine in every
        // preloaded process); an unparsable value means debug.
        let filter = spec
            .to_string_lossy()
            .parse::<Targets>()
            .unwrap_or_else(|_| Targets::new().with_default(LevelFilter::DEBUG));
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let _ = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_target(false)
                    .with_ansi(std::io::stderr().is_terminal() && !no_color),
            )
            .with(filter)
            .try_init();
    }
    Vfs::from_env()
}

/// Enters the shim, or returns None when the caller must go to libc.
#[inline]
pub fn enter() -> Option<Inside> {
    let entered = fork_gate::enter()?;
    let saved = errno();
    let vfs = catch_unwind(|| VFS.get_or_init(init)).ok()?;
    if !vfs.is_active() {
        set_errno(saved);
        return None;
    }
    Some(Inside {
        vfs,
        errno: saved,
        _entered: entered,
    })
}

/// What a hook decided.
pub enum Flow<T> {
    /// Not famfs: call the real function with the caller's arguments.
    Pass,
    /// Served (or refused) here.
    Done(SysResult<T>),
}

impl Inside {
    /// Runs `f` with panics turned into EIO. Restores the caller's errno
    /// when `f` succeeds, so a successful call never changes it.
    pub fn catch<T>(self, f: impl FnOnce(&'static Vfs) -> Flow<T>) -> Flow<T> {
        let vfs = self.vfs;
        let r = catch_unwind(AssertUnwindSafe(|| f(vfs))).unwrap_or_else(|_| {
            tracing::error!("famfs shim: internal error (panic); returning EIO");
            Flow::Done(Err(Errno::EIO))
        });
        if matches!(r, Flow::Done(Ok(_)) | Flow::Pass) {
            set_errno(self.errno);
        }
        r
    }
}

/// Runs a hook body: `f` decides; `real` is called (outside the shim)
/// when it passes. Returns the value the C function returns.
#[inline]
pub fn hook<T>(f: impl FnOnce(&'static Vfs) -> Flow<T>, real: impl FnOnce() -> T, fail: T) -> T {
    let flow = match enter() {
        None => Flow::Pass,
        Some(g) => g.catch(f),
    };
    match flow {
        Flow::Pass => real(),
        Flow::Done(Ok(v)) => v,
        Flow::Done(Err(e)) => {
            set_errno(e as i32);
            fail
        }
    }
}

/// Like [`hook`] for functions that return an errno value instead of
/// setting errno (posix_fadvise, posix_fallocate).
#[inline]
pub fn hook_errno(f: impl FnOnce(&'static Vfs) -> Flow<()>, real: impl FnOnce() -> i32) -> i32 {
    let flow = match enter() {
        None => Flow::Pass,
        Some(g) => g.catch(f),
    };
    match flow {
        Flow::Pass => real(),
        Flow::Done(Ok(())) => 0,
        Flow::Done(Err(e)) => e as i32,
    }
}

/// A path argument of a hooked C function: the caller's pointer, passed
/// on to libc untouched, and its bytes unless it is NULL.
#[derive(Clone, Copy)]
pub struct CPath<'a> {
    /// The caller's pointer.
    pub ptr: *const libc::c_char,
    /// The string it points to (without the NUL), None for NULL.
    pub bytes: Option<&'a [u8]>,
}

impl CPath<'_> {
    /// Reads the path argument `ptr`.
    ///
    /// # Safety
    /// `ptr` must be NULL or a NUL-terminated string that stays valid and
    /// unchanged for the call (every path-taking C function's contract).
    pub unsafe fn new(ptr: *const libc::c_char) -> Self {
        CPath {
            ptr,
            // SAFETY: forwarded contract.
            bytes: unsafe { cstr(ptr) },
        }
    }

    /// As [`path_is_plain`]; NULL is plain (the kernel's EFAULT).
    #[inline]
    pub fn is_plain(&self, dirfd: libc::c_int) -> bool {
        self.bytes.is_none_or(|b| path_is_plain(dirfd, b))
    }
}

/// An output argument of a hooked C function (a `struct stat *` and the
/// like): written once when famfs serves the call.
pub struct COut<T>(*mut T);

impl<T> Clone for COut<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for COut<T> {}

impl<T> COut<T> {
    /// The output argument `p`.
    ///
    /// # Safety
    /// `p` must be NULL or valid for writes of one `T` for the call.
    pub unsafe fn new(p: *mut T) -> Self {
        COut(p)
    }

    /// Stores `v` and returns 0, or EFAULT for NULL.
    pub fn put(self, v: T) -> SysResult<libc::c_int> {
        if self.0.is_null() {
            return Err(nix::errno::Errno::EFAULT);
        }
        // SAFETY: non-NULL, so valid for one write (the constructor's contract).
        unsafe { self.0.write(v) };
        Ok(0)
    }
}

/// The C string at `p` as bytes (None for NULL).
///
/// # Safety
/// `p` must be NULL or a valid NUL-terminated string.
pub unsafe fn cstr<'a>(p: *const libc::c_char) -> Option<&'a [u8]> {
    if p.is_null() {
        None
    } else {
        // SAFETY: per the contract.
        Some(unsafe { std::ffi::CStr::from_ptr(p) }.to_bytes())
    }
}

/// A mutable byte slice over a C buffer; EFAULT for NULL with a length.
///
/// # Safety
/// `p` must be valid for writes of `len` bytes (or NULL).
pub unsafe fn buf_mut<'a>(p: *mut libc::c_void, len: usize) -> SysResult<&'a mut [u8]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(Errno::EFAULT);
    }
    // SAFETY: per the contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(p.cast(), len) })
}

/// A byte slice over a C buffer; EFAULT for NULL with a length.
///
/// # Safety
/// `p` must be valid for reads of `len` bytes (or NULL).
pub unsafe fn buf<'a>(p: *const libc::c_void, len: usize) -> SysResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Errno::EFAULT);
    }
    // SAFETY: per the contract.
    Ok(unsafe { std::slice::from_raw_parts(p.cast(), len) })
}
