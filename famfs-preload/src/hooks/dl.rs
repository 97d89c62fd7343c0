//! dlopen and dlmopen of famfs paths: the loader gets a path it can open,
//! `/proc/self/fd/N` of a sealed copy of the library (famfs-vfs
//! `loadable`). Any other name, including a bare name the loader searches
//! for, goes to the loader untouched.

use super::with_path;
use crate::interpose::interpose;
use crate::shim::CPath;
use libc::{c_char, c_int, c_long, c_void};
use std::ffi::CString;

/// Serves a dlopen-like call: `real` gets the name the loader should
/// open. When the famfs side fails (no such file, a directory, ...), the
/// loader is asked to open the famfs path itself, which fails too, so the
/// program reads the reason from dlerror as usual.
fn dl_famfs(path: CPath<'_>, real: impl Fn(*const c_char) -> *mut c_void + Copy) -> *mut c_void {
    // Names without a slash are searched for by the loader (its path
    // lists, not files): not famfs's.
    if !path.bytes.is_some_and(|b| b.contains(&b'/')) {
        return real(path.ptr);
    }
    let mut famfs: Option<CString> = None;
    let kernel = std::cell::Cell::new(false);
    let r = with_path(
        libc::AT_FDCWD,
        path,
        std::ptr::null_mut(),
        |vfs, fp| {
            famfs = CString::new(vfs.loadable_path(&fp)?).ok();
            Ok(std::ptr::null_mut())
        },
        |p| {
            kernel.set(true);
            real(p)
        },
    );
    match famfs {
        Some(copy) => real(copy.as_ptr()),
        None if kernel.get() => r,
        None => real(path.ptr),
    }
}

interpose! {
    fn dlopen(path: *const c_char, flags: c_int) -> *mut c_void, real {
        // SAFETY: `path` is NULL or a C string, as dlopen(3) requires.
        let p = unsafe { CPath::new(path) };
        dl_famfs(p, |q| real(q, flags))
    }

    fn dlmopen(lmid: c_long, path: *const c_char, flags: c_int) -> *mut c_void, real {
        // SAFETY: `path` is NULL or a C string, as dlmopen(3) requires.
        let p = unsafe { CPath::new(path) };
        dl_famfs(p, |q| real(lmid, q, flags))
    }
}
