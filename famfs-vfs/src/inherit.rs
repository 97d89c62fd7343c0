//! Open famfs files across fork and exec.
//!
//! POSIX says a descriptor inherited by fork shares its offset with the
//! parent's, and one inherited across exec stays open in the new image. The
//! kernel keeps that state in the open file description; ours lives in
//! process memory, which fork copies and exec discards. So before a fork,
//! spawn or exec the shim makes every open famfs file *durable*:
//!
//! 1. its offset and flags move to a small shared page, a memfd named
//!    `famfs-ofd` that also records the mount point, path and inode;
//! 2. each of its descriptors is replaced (same number, same FD_CLOEXEC) by
//!    an `O_PATH` descriptor of that memfd, so the kernel carries the page's
//!    identity wherever the descriptor goes (dup, fork, exec, spawn).
//!
//! A forked child shares the page mapping; a new image finds its inherited
//! descriptors by their link name in `/proc/self/fd` and maps the page
//! again. Opens stay cheap: files only pay this when a process forks or
//! execs while they are open.

use super::file::{OfdState, OpenFile};
use super::{SysResult, Vfs};
use nix::errno::Errno;
use std::collections::HashMap;
use std::ffi::CString;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The memfd name the shim gives state pages (readlink shows
/// `/memfd:famfs-ofd (deleted)`).
const MEMFD_NAME: &[u8] = b"famfs-ofd\0";
const LINK_PREFIX: &str = "/memfd:famfs-ofd";
const PAGE_LEN: usize = 8192;
const MAGIC: u64 = 0x6661_6d66_736f_6664; // "famfsofd"

// Page layout: OfdState (16 bytes), then the fields below, then the mount
// point and relative path bytes.
const OFF_MAGIC: usize = 16;
const OFF_INO: usize = 24;
const OFF_ACCMODE: usize = 32;
const OFF_IS_DIR: usize = 36;
const OFF_MP_LEN: usize = 40;
const OFF_REL_LEN: usize = 44;
const OFF_NAMES: usize = 48;

/// A shared page holding one open file description's state.
pub struct StatePage {
    ptr: *mut u8,
}

// SAFETY: the page is a MAP_SHARED mapping owned by this struct; access to
// the state goes through atomics.
unsafe impl Send for StatePage {}
// SAFETY: as above.
unsafe impl Sync for StatePage {}

impl StatePage {
    fn state(&self) -> *mut OfdState {
        self.ptr.cast()
    }

    fn put(&self, off: usize, bytes: &[u8]) {
        assert!(off + bytes.len() <= PAGE_LEN);
        // SAFETY: in bounds of the page (asserted).
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr.add(off), bytes.len()) };
    }

    fn get(&self, off: usize, len: usize) -> Option<&[u8]> {
        if off.checked_add(len)? > PAGE_LEN {
            return None;
        }
        // SAFETY: in bounds of the page; the bytes are plain data.
        Some(unsafe { std::slice::from_raw_parts(self.ptr.add(off), len) })
    }

    fn u64_at(&self, off: usize) -> u64 {
        u64::from_ne_bytes(self.get(off, 8).expect("in page").try_into().expect("8"))
    }

    fn u32_at(&self, off: usize) -> u32 {
        u32::from_ne_bytes(self.get(off, 4).expect("in page").try_into().expect("4"))
    }

    /// Maps the page of memfd `fd` (read-write, shared).
    fn map(fd: i32) -> SysResult<StatePage> {
        // SAFETY: a new shared mapping of a file we hold; checked below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE_LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        Ok(StatePage { ptr: p.cast() })
    }
}

fn cvt(r: i32) -> SysResult<i32> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

/// An O_PATH descriptor of `fd`'s file (or a dup of `fd` if /proc is not
/// mounted), close-on-exec.
fn o_path_of(fd: i32) -> SysResult<i32> {
    let link = CString::new(format!("/proc/self/fd/{fd}")).expect("no NUL");
    // SAFETY: valid C string.
    let r = unsafe { libc::open(link.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    if r >= 0 {
        return Ok(r);
    }
    // SAFETY: plain fcntl on a descriptor we own.
    cvt(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) })
}

/// A new anonymous memfd named `name` (NUL-terminated), close-on-exec.
pub(super) fn memfd(name: &[u8]) -> SysResult<i32> {
    // SAFETY: `name` is NUL-terminated.
    cvt(unsafe { libc::memfd_create(name.as_ptr().cast(), libc::MFD_CLOEXEC) })
}

impl Vfs {
    /// Makes every open famfs file durable (see the module doc). Called by
    /// the shim before fork, vfork, posix_spawn, system, popen and exec.
    pub fn make_durable(&self) -> SysResult<()> {
        let all = self.fds.all();
        let mut by_file: Vec<(Arc<OpenFile>, Vec<i32>)> = Vec::new();
        for (fd, of) in all {
            match by_file.iter_mut().find(|(o, _)| Arc::ptr_eq(o, &of)) {
                Some((_, fds)) => fds.push(fd),
                None => by_file.push((of, vec![fd])),
            }
        }
        for (of, fds) in by_file {
            let mut durable = of.durable.lock();
            if durable.is_some() {
                continue;
            }
            let page = self.new_page(&of)?;
            of.move_state(page.1.state());
            let opath = o_path_of(page.0);
            // SAFETY: closing the memfd we created; the mapping stays.
            unsafe { libc::close(page.0) };
            let opath = opath?;
            for fd in fds {
                if let Some(off) = twin_offset(&of, fd) {
                    // A kernel (FUSE) open of the file: it stays, so a
                    // child without the shim reads it, at our offset.
                    seek_kernel(fd, off);
                    continue;
                }
                // SAFETY: plain fcntl/dup3 on descriptors we own.
                let cloexec = unsafe { libc::fcntl(fd, libc::F_GETFD) } & libc::FD_CLOEXEC != 0;
                let flags = if cloexec { libc::O_CLOEXEC } else { 0 };
                // SAFETY: as above.
                if unsafe { libc::dup3(opath, fd, flags) } < 0 {
                    tracing::warn!(fd, errno = %Errno::last(), "cannot make famfs fd inheritable");
                }
            }
            // SAFETY: our temporary descriptor.
            unsafe { libc::close(opath) };
            *durable = Some(page.1);
        }
        Ok(())
    }

    /// A memfd page filled with `of`'s identity; returns (memfd, page).
    fn new_page(&self, of: &OpenFile) -> SysResult<(i32, StatePage)> {
        let mp = of.mount().mountpoint.as_bytes();
        let rel = of.rel().as_bytes();
        if OFF_NAMES + mp.len() + rel.len() > PAGE_LEN {
            return Err(Errno::ENAMETOOLONG);
        }
        let fd = memfd(MEMFD_NAME)?;
        let fail = |e| {
            // SAFETY: our descriptor.
            unsafe { libc::close(fd) };
            Err(e)
        };
        // SAFETY: plain ftruncate on our memfd.
        if unsafe { libc::ftruncate(fd, PAGE_LEN as i64) } < 0 {
            return fail(Errno::last());
        }
        let page = match StatePage::map(fd) {
            Ok(p) => p,
            Err(e) => return fail(e),
        };
        page.put(OFF_INO, &of.ino().to_ne_bytes());
        page.put(OFF_ACCMODE, &of.accmode.to_ne_bytes());
        page.put(OFF_IS_DIR, &(of.is_dir() as u32).to_ne_bytes());
        page.put(OFF_MP_LEN, &(mp.len() as u32).to_ne_bytes());
        page.put(OFF_REL_LEN, &(rel.len() as u32).to_ne_bytes());
        page.put(OFF_NAMES, mp);
        page.put(OFF_NAMES + mp.len(), rel);
        page.put(OFF_MAGIC, &MAGIC.to_ne_bytes());
        Ok((fd, page))
    }

    /// Picks up the famfs descriptors this image inherited across exec.
    /// Descriptors whose file cannot be found again are closed, so the
    /// kernel never serves them.
    pub fn adopt_inherited(&self) {
        let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
            return;
        };
        let mut fds: Vec<i32> = Vec::new();
        for e in dir.flatten() {
            let Some(fd) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            match std::fs::read_link(e.path()) {
                Ok(l) if l.to_string_lossy().starts_with(LINK_PREFIX) => fds.push(fd),
                Ok(l) => self.adopt_twin(fd, &l),
                _ => {}
            }
        }
        // Descriptors dup'd from one another share a memfd inode: one
        // open file for each.
        let mut by_inode: HashMap<u64, Arc<OpenFile>> = HashMap::new();
        for fd in fds {
            // SAFETY: zeroed stat is valid output space; fstat on our fd.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: as above.
            if unsafe { libc::fstat(fd, &mut st) } < 0 {
                continue;
            }
            let of = match by_inode.get(&st.st_ino) {
                Some(of) => of.clone(),
                None => match self.adopt_one(fd) {
                    Ok(of) => {
                        by_inode.insert(st.st_ino, of.clone());
                        of
                    }
                    Err(e) => {
                        tracing::warn!(fd, errno = %e, "inherited famfs fd cannot be served; closing it");
                        // SAFETY: closing a placeholder nobody can use.
                        unsafe { libc::close(fd) };
                        continue;
                    }
                },
            };
            self.fds.insert(fd, of);
        }
    }

    /// Adopts `fd` if it is a kernel (FUSE) open of a file in one of our
    /// mounts, at the kernel's offset (where the parent left it).
    fn adopt_twin(&self, fd: i32, link: &std::path::Path) {
        let Some((mount, rel)) = self.mount_of(link) else {
            return;
        };
        if !mount.fuse_served {
            return;
        }
        let adopted = (|| {
            let node = mount.node(rel)?;
            if node.is_dir() {
                return Err(Errno::EISDIR);
            }
            // SAFETY: fcntl(F_GETFL) on a descriptor this image holds.
            let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
            let of = super::open_file(mount, node, flags)?;
            let off = kernel_offset(fd).ok_or(Errno::EINVAL)?;
            of.state().offset.store(off, Ordering::Release);
            Ok(of)
        })();
        match adopted {
            Ok(of) => self.fds.insert(fd, of),
            // The kernel still serves it through FUSE: leave it be.
            Err(e) => {
                tracing::debug!(fd, errno = %e, "inherited FUSE descriptor left to the kernel")
            }
        }
    }

    fn adopt_one(&self, fd: i32) -> SysResult<Arc<OpenFile>> {
        let link = CString::new(format!("/proc/self/fd/{fd}")).expect("no NUL");
        // SAFETY: valid C string; reopening the memfd read-write.
        let rw = cvt(unsafe { libc::open(link.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) })?;
        let page = StatePage::map(rw);
        // SAFETY: our temporary descriptor.
        unsafe { libc::close(rw) };
        let page = page?;
        if page.u64_at(OFF_MAGIC) != MAGIC {
            return Err(Errno::EINVAL);
        }
        let mp_len = page.u32_at(OFF_MP_LEN) as usize;
        let rel_len = page.u32_at(OFF_REL_LEN) as usize;
        let mp = page.get(OFF_NAMES, mp_len).ok_or(Errno::EINVAL)?;
        let rel = page.get(OFF_NAMES + mp_len, rel_len).ok_or(Errno::EINVAL)?;
        let mp = std::str::from_utf8(mp).map_err(|_| Errno::EINVAL)?;
        let rel = std::str::from_utf8(rel).map_err(|_| Errno::EINVAL)?;
        let mount = self
            .mounts()
            .iter()
            .find(|m| m.mountpoint == mp)
            .ok_or(Errno::ENOENT)?;
        let ino = page.u64_at(OFF_INO);
        let accmode = page.u32_at(OFF_ACCMODE) as i32;
        let node = mount.node(rel)?;
        if node.info.ino != ino {
            return Err(Errno::ESTALE);
        }
        // SAFETY: the page holds an OfdState at offset 0.
        let status = unsafe { (*page.state()).status.load(Ordering::Acquire) } as i32;
        let of = super::open_file(mount, node, accmode | status)?;
        // The page already holds the inherited offset: point at it as is.
        of.set_state_ptr(page.state());
        *of.durable.lock() = Some(page);
        Ok(of)
    }
}

/// The offset to give `fd` if it is a kernel (FUSE) open of `of`'s file
/// rather than a placeholder: None for a placeholder or a directory.
fn twin_offset(of: &OpenFile, fd: i32) -> Option<u64> {
    if of.is_dir() || !of.mount().fuse_served {
        return None;
    }
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
    if !link.starts_with(&of.mount().mountpoint) {
        return None;
    }
    Some(of.state().offset.load(Ordering::Acquire))
}

/// lseek(fd, off, SEEK_SET) in the kernel, past the shim's hooks.
fn seek_kernel(fd: i32, off: u64) {
    let a = [
        libc::c_long::from(fd),
        off as libc::c_long,
        libc::c_long::from(libc::SEEK_SET),
        0,
        0,
        0,
    ];
    // SAFETY: lseek on a descriptor this process holds.
    unsafe { famfs_core::syscall::raw(libc::SYS_lseek, a) };
}

/// The kernel's offset of `fd`, past the shim's hooks.
fn kernel_offset(fd: i32) -> Option<u64> {
    let a = [
        libc::c_long::from(fd),
        0,
        libc::c_long::from(libc::SEEK_CUR),
        0,
        0,
        0,
    ];
    // SAFETY: lseek on a descriptor this process holds.
    let r = unsafe { famfs_core::syscall::raw(libc::SYS_lseek, a) };
    u64::try_from(r).ok()
}
