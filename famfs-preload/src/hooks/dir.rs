//! Directory streams on famfs directories.
//!
//! glibc's `DIR` is opaque and its functions call the kernel internally, so
//! a famfs directory stream is the shim's own [`FamfsDir`], handed out as a
//! `DIR *`. The shim remembers which pointers are its own; every other
//! `DIR *` goes to glibc untouched. The stream's position is the open
//! file's shared offset: the index of the next entry.

use super::with_path;
use crate::interpose::interpose;
use crate::shim::CPath;
use crate::shim::{self, Flow};
use famfs_vfs::{DirEntry, OpenFile, SysResult, Vfs};
use libc::{c_char, c_int, c_long, c_void, dirent, dirent64, size_t, ssize_t, DIR};
use nix::errno::Errno;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A famfs directory stream.
struct FamfsDir {
    fd: c_int,
    /// The entry readdir returns a pointer to (valid until the next call).
    entry: dirent64,
}

/// Addresses of live FamfsDirs.
static DIRS: Mutex<Vec<usize>> = Mutex::new(Vec::new());
static NDIRS: AtomicUsize = AtomicUsize::new(0);

fn ours(d: *mut DIR) -> Option<&'static mut FamfsDir> {
    if NDIRS.load(Ordering::Acquire) == 0 || d.is_null() {
        return None;
    }
    if DIRS.lock().contains(&(d as usize)) {
        // SAFETY: the address is a live FamfsDir we allocated.
        Some(unsafe { &mut *(d as *mut FamfsDir) })
    } else {
        None
    }
}

fn new_stream(fd: c_int) -> *mut DIR {
    // SAFETY: dirent64 is plain data.
    let entry: dirent64 = unsafe { std::mem::zeroed() };
    let p = Box::into_raw(Box::new(FamfsDir { fd, entry }));
    DIRS.lock().push(p as usize);
    NDIRS.fetch_add(1, Ordering::AcqRel);
    p.cast()
}

fn drop_stream(d: *mut DIR) -> c_int {
    let mut dirs = DIRS.lock();
    let Some(i) = dirs.iter().position(|&a| a == d as usize) else {
        return -1;
    };
    dirs.swap_remove(i);
    NDIRS.fetch_sub(1, Ordering::AcqRel);
    // SAFETY: allocated by new_stream and now unregistered.
    let b = unsafe { Box::from_raw(d as *mut FamfsDir) };
    b.fd
}

fn d_type(e: &DirEntry) -> u8 {
    if e.is_dir {
        libc::DT_DIR
    } else {
        libc::DT_REG
    }
}

/// Fills a dirent64 with `e` at position `pos`.
fn fill(out: &mut dirent64, e: &DirEntry, pos: u64) {
    out.d_ino = e.ino;
    out.d_off = (pos + 1) as i64;
    out.d_reclen = std::mem::size_of::<dirent64>() as u16;
    out.d_type = d_type(e);
    let n = e.name.len().min(out.d_name.len() - 1);
    for (d, s) in out.d_name.iter_mut().zip(e.name.as_bytes()[..n].iter()) {
        *d = *s as c_char;
    }
    out.d_name[n] = 0;
}

/// The next entry of `of`'s listing, advancing the position.
fn next_entry(of: &OpenFile) -> SysResult<Option<(DirEntry, u64)>> {
    let list = of.listing()?;
    let st = of.state();
    let pos = st.offset.fetch_add(1, Ordering::AcqRel);
    match list.get(pos as usize) {
        Some(e) => Ok(Some((e.clone(), pos))),
        None => {
            st.offset
                .store(pos.min(list.len() as u64), Ordering::Release);
            Ok(None)
        }
    }
}

fn open_dir(vfs: &Vfs, fp: famfs_vfs::FamfsPath) -> SysResult<*mut DIR> {
    let fd = vfs.open(&fp, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC)?;
    Ok(new_stream(fd))
}

interpose! {
    fn opendir(path: *const c_char) -> *mut DIR, real {
        // SAFETY: `path` is NULL or a C string, as opendir(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, std::ptr::null_mut(), open_dir, real)
    }
}

interpose! {
    fn fdopendir(fd: c_int) -> *mut DIR, real {
        super::with_fd(fd, std::ptr::null_mut(), |_, of| {
            if !of.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            Ok(new_stream(fd))
        }, || real(fd))
    }
}

/// readdir on a famfs stream, served inside the shim like every hook body
/// (a panic is EIO): NULL at the end with errno unchanged.
fn readdir_famfs(d: &mut FamfsDir) -> SysResult<*mut dirent64> {
    match shim::enter().map(|g| g.catch(|vfs| Flow::Done(readdir_next(vfs, d)))) {
        Some(Flow::Done(r)) => r,
        // A shim stream read from the shim's own code: not ours to serve.
        None | Some(Flow::Pass) => Err(Errno::EBADF),
    }
}

fn readdir_next(vfs: &Vfs, d: &mut FamfsDir) -> SysResult<*mut dirent64> {
    let of = vfs.fds.get(d.fd).ok_or(Errno::EBADF)?;
    match next_entry(&of)? {
        Some((e, pos)) => {
            fill(&mut d.entry, &e, pos);
            Ok(&mut d.entry)
        }
        None => Ok(std::ptr::null_mut()),
    }
}

fn readdir_any(d: *mut DIR, real: impl FnOnce() -> *mut dirent64) -> *mut dirent64 {
    match ours(d) {
        None => real(),
        Some(fd) => match readdir_famfs(fd) {
            Ok(p) => p,
            Err(e) => {
                shim::set_errno(e as i32);
                std::ptr::null_mut()
            }
        },
    }
}

interpose! {
    fn readdir(d: *mut DIR) -> *mut dirent, real {
        readdir_any(d, || real(d).cast()).cast()
    }
}

interpose! {
    fn readdir64(d: *mut DIR) -> *mut dirent64, real {
        readdir_any(d, || real(d))
    }
}

fn readdir_r_any(
    d: *mut DIR,
    entry: *mut dirent64,
    result: *mut *mut dirent64,
    real: impl FnOnce() -> c_int,
) -> c_int {
    let Some(fd) = ours(d) else {
        return real();
    };
    match readdir_famfs(fd) {
        Ok(p) => {
            // SAFETY: the caller passes valid entry and result pointers.
            unsafe {
                if p.is_null() {
                    *result = std::ptr::null_mut();
                } else {
                    *entry = *p;
                    *result = entry;
                }
            }
            0
        }
        Err(e) => e as c_int,
    }
}

interpose! {
    fn readdir_r(d: *mut DIR, entry: *mut dirent, result: *mut *mut dirent) -> c_int, real {
        readdir_r_any(d, entry.cast(), result.cast(), || real(d, entry, result))
    }
}

interpose! {
    fn readdir64_r(d: *mut DIR, entry: *mut dirent64, result: *mut *mut dirent64) -> c_int, real {
        readdir_r_any(d, entry, result, || real(d, entry, result))
    }
}

interpose! {
    fn closedir(d: *mut DIR) -> c_int, real {
        if ours(d).is_none() {
            return real(d);
        }
        let fd = drop_stream(d);
        // SAFETY: closing the descriptor the stream owned, which is ours now.
        unsafe { libc::close(fd) }
    }
}

fn famfs_of(d: &FamfsDir) -> Option<Arc<OpenFile>> {
    shim::hook(|vfs| Flow::Done(Ok(vfs.fds.get(d.fd))), || None, None)
}

interpose! {
    fn rewinddir(d: *mut DIR) -> (), real {
        match ours(d) {
            None => real(d),
            Some(fd) => {
                if let Some(of) = famfs_of(fd) {
                    of.drop_listing();
                    of.state().offset.store(0, Ordering::Release);
                }
            }
        }
    }
}

interpose! {
    fn telldir(d: *mut DIR) -> c_long, real {
        match ours(d) {
            None => real(d),
            Some(fd) => famfs_of(fd).map_or(-1, |of| of.state().offset.load(Ordering::Acquire) as c_long),
        }
    }
}

interpose! {
    fn seekdir(d: *mut DIR, loc: c_long) -> (), real {
        match ours(d) {
            None => real(d, loc),
            Some(fd) => {
                if let Some(of) = famfs_of(fd) {
                    of.state().offset.store(loc.max(0) as u64, Ordering::Release);
                }
            }
        }
    }
}

interpose! {
    fn dirfd(d: *mut DIR) -> c_int, real {
        match ours(d) {
            None => real(d),
            Some(fd) => fd.fd,
        }
    }
}

/// getdents64 on a famfs directory descriptor: packs linux_dirent64
/// records from the current position.
fn getdents_famfs(of: &OpenFile, buf: *mut c_void, len: size_t) -> SysResult<ssize_t> {
    if buf.is_null() {
        return Err(Errno::EFAULT);
    }
    let list = of.listing()?;
    let st = of.state();
    let mut pos = st.offset.load(Ordering::Acquire) as usize;
    let mut used = 0usize;
    while let Some(e) = list.get(pos) {
        // ino(8) off(8) reclen(2) type(1) name NUL, padded to 8.
        let reclen = (19 + e.name.len() + 1).div_ceil(8) * 8;
        if used + reclen > len {
            if used == 0 {
                return Err(Errno::EINVAL);
            }
            break;
        }
        let mut rec = vec![0u8; reclen];
        rec[0..8].copy_from_slice(&e.ino.to_ne_bytes());
        rec[8..16].copy_from_slice(&((pos + 1) as i64).to_ne_bytes());
        rec[16..18].copy_from_slice(&(reclen as u16).to_ne_bytes());
        rec[18] = d_type(e);
        rec[19..19 + e.name.len()].copy_from_slice(e.name.as_bytes());
        // SAFETY: `used + reclen <= len`, inside the caller's buffer.
        unsafe { std::ptr::copy_nonoverlapping(rec.as_ptr(), buf.cast::<u8>().add(used), reclen) };
        used += reclen;
        pos += 1;
    }
    st.offset.store(pos as u64, Ordering::Release);
    Ok(used as ssize_t)
}

interpose! {
    fn getdents64(fd: c_int, buf: *mut c_void, len: size_t) -> ssize_t, real {
        super::with_fd(fd, -1, |_, of| {
            if !of.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            getdents_famfs(of, buf, len)
        }, || real(fd, buf, len))
    }
}

type Filter = Option<unsafe extern "C" fn(*const dirent) -> c_int>;
type Compar = Option<unsafe extern "C" fn(*mut *const dirent, *mut *const dirent) -> c_int>;

/// scandir of a famfs directory: entries in malloc'd dirents the caller
/// frees, filtered and sorted as asked.
fn scandir_famfs(
    vfs: &Vfs,
    fp: famfs_vfs::FamfsPath,
    namelist: *mut *mut *mut dirent,
    filter: Filter,
    compar: Compar,
) -> SysResult<c_int> {
    if namelist.is_null() {
        return Err(Errno::EFAULT);
    }
    let node = vfs.lookup(&fp)?;
    if !node.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let list = fp.mount.list(node.ino)?;
    let mut out: Vec<*mut dirent> = Vec::with_capacity(list.len());
    for (pos, e) in list.iter().enumerate() {
        // SAFETY: malloc of a plain struct the caller will free().
        let p = unsafe { libc::malloc(std::mem::size_of::<dirent64>()) } as *mut dirent64;
        if p.is_null() {
            for q in out {
                // SAFETY: ours, from malloc.
                unsafe { libc::free(q.cast()) };
            }
            return Err(Errno::ENOMEM);
        }
        // SAFETY: fresh allocation of the right size; zero then fill.
        unsafe {
            p.write(std::mem::zeroed());
            fill(&mut *p, e, pos as u64);
        }
        if let Some(f) = filter {
            // SAFETY: the caller's filter takes a dirent, which `p` is.
            if unsafe { f(p as *const dirent) } == 0 {
                // SAFETY: ours, from malloc.
                unsafe { libc::free(p.cast()) };
                continue;
            }
        }
        out.push(p.cast());
    }
    // SAFETY: array for the caller to free().
    let arr = unsafe { libc::malloc(std::mem::size_of::<*mut dirent>() * out.len().max(1)) }
        as *mut *mut dirent;
    if arr.is_null() {
        for q in out {
            // SAFETY: ours, from malloc.
            unsafe { libc::free(q.cast()) };
        }
        return Err(Errno::ENOMEM);
    }
    // SAFETY: `arr` has room for out.len() pointers.
    unsafe { std::ptr::copy_nonoverlapping(out.as_ptr(), arr, out.len()) };
    if let Some(c) = compar {
        // SAFETY: scandir's comparator takes `const struct dirent **`, the
        // same ABI as qsort's `const void *` pair.
        unsafe {
            let c: unsafe extern "C" fn(*const c_void, *const c_void) -> c_int =
                std::mem::transmute(c);
            libc::qsort(
                arr.cast(),
                out.len(),
                std::mem::size_of::<*mut dirent>(),
                Some(c),
            );
        }
    }
    // SAFETY: the caller passed a valid out pointer.
    unsafe { *namelist = arr };
    Ok(out.len() as c_int)
}

interpose! {
    fn scandir | scandir64(path: *const c_char, namelist: *mut *mut *mut dirent, filter: Filter, compar: Compar) -> c_int, real {
        // SAFETY: `path` is NULL or a C string, as scandir(3) requires.
        let path = unsafe { CPath::new(path) };
        with_path(libc::AT_FDCWD, path, -1, |vfs, fp| scandir_famfs(vfs, fp, namelist, filter, compar), |p| real(p, namelist, filter, compar))
    }
}
