//! mkstemp and its variants, and mkdtemp: glibc opens or makes the
//! temporary name with internal calls the shim cannot see, so a template
//! in a famfs directory is served whole by famfs-vfs (`temp`): a new file
//! is EPERM (`sed -i` then fails cleanly, the file intact), a temporary
//! directory is made through the log.

use super::with_path;
use crate::interpose::interpose;
use crate::shim::CPath;
use libc::{c_char, c_int};

interpose! {
    fn mkstemp | mkstemp64(template: *mut c_char) -> c_int, real {
        // SAFETY: `template` is a C string, as mkstemp(3) requires.
        let t = unsafe { CPath::new(template) };
        with_path(libc::AT_FDCWD, t, -1, |vfs, fp| vfs.mkstemp(&fp, 0).map(|()| -1), |_| real(template))
    }

    fn mkostemp | mkostemp64(template: *mut c_char, flags: c_int) -> c_int, real {
        // SAFETY: `template` is a C string, as mkostemp(3) requires.
        let t = unsafe { CPath::new(template) };
        with_path(libc::AT_FDCWD, t, -1, |vfs, fp| vfs.mkstemp(&fp, 0).map(|()| -1), |_| real(template, flags))
    }

    fn mkstemps | mkstemps64(template: *mut c_char, suffix: c_int) -> c_int, real {
        // SAFETY: `template` is a C string, as mkstemps(3) requires.
        let t = unsafe { CPath::new(template) };
        let n = usize::try_from(suffix).unwrap_or(usize::MAX);
        with_path(libc::AT_FDCWD, t, -1, |vfs, fp| vfs.mkstemp(&fp, n).map(|()| -1), |_| real(template, suffix))
    }

    fn mkostemps | mkostemps64(template: *mut c_char, suffix: c_int, flags: c_int) -> c_int, real {
        // SAFETY: `template` is a C string, as mkostemps(3) requires.
        let t = unsafe { CPath::new(template) };
        let n = usize::try_from(suffix).unwrap_or(usize::MAX);
        with_path(libc::AT_FDCWD, t, -1, |vfs, fp| vfs.mkstemp(&fp, n).map(|()| -1), |_| real(template, suffix, flags))
    }

    fn mkdtemp(template: *mut c_char) -> *mut c_char, real {
        // SAFETY: `template` is a C string, as mkdtemp(3) requires.
        let t = unsafe { CPath::new(template) };
        let len = t.bytes.map_or(0, <[u8]>::len);
        with_path(libc::AT_FDCWD, t, std::ptr::null_mut(), |vfs, fp| {
            let name = vfs.mkdtemp(&fp)?;
            // SAFETY: the template is a writable string of `len` bytes
            // ending in the six X's the name replaces (mkdtemp(3); the
            // famfs side checked the X's are there).
            unsafe {
                std::ptr::copy_nonoverlapping(name.as_ptr(), template.add(len - 6).cast(), 6);
            }
            Ok(template)
        }, |_| real(template))
    }
}
