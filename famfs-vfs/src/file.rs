//! Open files: the bytes of one famfs file in a mapped device, and the open
//! file description (offset and status flags) that file descriptors share.

use super::mount::{DirEntry, KnownNode, Mount, NodeInfo, NodeRef};
use super::sys;
use super::SysResult;
use famfs_core::file::FileData;
use famfs_core::namespace::Ino;
use nix::errno::Errno;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// The part of an open file description that dup'd and forked descriptors
/// share: it lives in process memory until a fork or exec needs it in
/// shared memory (see `inherit`).
#[repr(C)]
#[derive(Debug, Default)]
pub struct OfdState {
    /// The file offset.
    pub offset: AtomicU64,
    /// O_APPEND, O_NONBLOCK and the other status flags F_SETFL may change.
    pub status: AtomicU32,
}

/// An open famfs file or directory. Small (it is allocated at every
/// open and freed after every close) and built from its node's parts the
/// mount keeps, so an open allocates once.
pub struct OpenFile {
    at: NodeRef,
    /// A directory's listing, taken on the first read and again after a
    /// rewind, as a kernel directory stream would see new entries.
    listing: Mutex<Option<Arc<Vec<DirEntry>>>>,
    /// O_RDONLY, O_WRONLY or O_RDWR (or O_PATH).
    pub accmode: i32,
    /// Null while the state is `local`; then the state in `durable`'s page.
    state: AtomicPtr<OfdState>,
    /// The state until it moves to a shared page (inline: an open
    /// allocates as little as it can).
    local: OfdState,
    /// The shared page the state moved to, once it has.
    pub(super) durable: Mutex<Option<super::inherit::StatePage>>,
}

/// The status flags an open file keeps of its open flags.
fn status_of(flags: i32) -> u32 {
    (flags & !(libc::O_ACCMODE | libc::O_CLOEXEC | libc::O_CREAT | libc::O_EXCL)) as u32
}

impl OpenFile {
    /// An open of `node` of `mount` (see [`NodeRef::new`]).
    pub(super) fn new(
        mount: &Arc<Mount>,
        node: &KnownNode,
        data: Option<&FileData>,
        flags: i32,
    ) -> Self {
        let local = OfdState::default();
        local.status.store(status_of(flags), Ordering::Relaxed);
        OpenFile {
            at: NodeRef::new(mount, node, data),
            listing: Mutex::new(None),
            accmode: flags & (libc::O_ACCMODE | libc::O_PATH),
            state: AtomicPtr::new(std::ptr::null_mut()),
            local,
            durable: Mutex::new(None),
        }
    }

    /// Makes a released open file (see [`OpenFile::release`]) a new open,
    /// as [`OpenFile::new`] would.
    pub(super) fn reopen(
        &mut self,
        mount: &Arc<Mount>,
        node: &KnownNode,
        data: Option<&FileData>,
        flags: i32,
    ) {
        self.at.repoint(mount, node, data);
        self.accmode = flags & (libc::O_ACCMODE | libc::O_PATH);
        *self.local.offset.get_mut() = 0;
        *self.local.status.get_mut() = status_of(flags);
    }

    /// The mount the open node belongs to.
    pub fn mount(&self) -> &Arc<Mount> {
        self.at.mount()
    }

    /// Lets go of what only an open descriptor needs (a directory listing,
    /// a shared state page) before the open file is kept for reuse.
    pub(super) fn release(&mut self) {
        // The state may live in the page: back to the inline one.
        *self.state.get_mut() = std::ptr::null_mut();
        *self.listing.get_mut() = None;
        *self.durable.get_mut() = None;
    }

    /// The node as it was opened (a file's size and owner never change).
    pub fn info(&self) -> &NodeInfo {
        &self.at.node().info
    }

    /// The inode of the open node.
    pub fn ino(&self) -> Ino {
        self.info().ino
    }

    /// Path relative to the mount point.
    pub fn rel(&self) -> &str {
        &self.at.node().rel
    }

    /// The shared offset and flags.
    #[inline]
    pub fn state(&self) -> &OfdState {
        let p = self.state.load(Ordering::Acquire);
        if p.is_null() {
            return &self.local;
        }
        // SAFETY: a non-null pointer is the state inside `self.durable`'s
        // page, which lives as long as `self` (a page is never unmapped
        // while the OpenFile lives).
        unsafe { &*p }
    }

    /// Moves the shared state to `to` (a page that outlives `self`).
    pub(super) fn move_state(&self, to: *mut OfdState) {
        // SAFETY: `to` is a valid, initialised OfdState for self's lifetime.
        let to_ref = unsafe { &*to };
        let cur = self.state();
        to_ref
            .offset
            .store(cur.offset.load(Ordering::Acquire), Ordering::Release);
        to_ref
            .status
            .store(cur.status.load(Ordering::Acquire), Ordering::Release);
        self.state.store(to, Ordering::Release);
    }

    /// Points the state at `to` without copying (an inherited page).
    pub(super) fn set_state_ptr(&self, to: *mut OfdState) {
        self.state.store(to, Ordering::Release);
    }

    /// The file's bytes (None for a directory).
    #[inline]
    pub fn file(&self) -> Option<&FileData> {
        self.at.data()
    }

    /// Whether the open node is a directory.
    pub fn is_dir(&self) -> bool {
        self.info().is_dir()
    }

    /// Whether the open file description allows reading.
    pub fn readable(&self) -> bool {
        self.accmode & libc::O_PATH == 0
            && matches!(
                self.accmode & libc::O_ACCMODE,
                libc::O_RDONLY | libc::O_RDWR
            )
    }

    /// Whether the open file description allows writing.
    pub fn writable(&self) -> bool {
        self.accmode & libc::O_PATH == 0
            && matches!(
                self.accmode & libc::O_ACCMODE,
                libc::O_WRONLY | libc::O_RDWR
            )
    }

    /// The absolute path, for fchdir and messages.
    pub fn abs_path(&self) -> String {
        let mp = &self.mount().mountpoint;
        match self.rel() {
            "" => mp.clone(),
            rel => format!("{mp}/{rel}"),
        }
    }

    /// The directory listing (taken now if not yet).
    pub fn listing(&self) -> SysResult<Arc<Vec<DirEntry>>> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mut g = self.listing.lock();
        if let Some(v) = g.as_ref() {
            return Ok(v.clone());
        }
        let _ = self.mount().refresh();
        let v = Arc::new(self.mount().list(self.ino())?);
        *g = Some(v.clone());
        Ok(v)
    }

    /// Forgets the listing so the next read takes a new one (rewinddir).
    pub fn drop_listing(&self) {
        *self.listing.lock() = None;
    }

    /// Reserves up to `want` bytes at the shared offset, cut at `size`:
    /// returns (offset, length) and advances the offset past them, so
    /// concurrent users of one description never get the same bytes, as
    /// with the kernel's f_pos lock. `at_eof` is the error when nothing is
    /// left and something was asked for (None: a 0-byte result).
    fn reserve(&self, want: usize, size: u64, at_eof: Option<Errno>) -> SysResult<(u64, usize)> {
        let st = self.state();
        let mut off = st.offset.load(Ordering::Acquire);
        loop {
            if off >= size && want > 0 {
                if let Some(e) = at_eof {
                    return Err(e);
                }
            }
            let n = (want as u64).min(size.saturating_sub(off));
            match st
                .offset
                .compare_exchange_weak(off, off + n, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok((off, n as usize)),
                Err(cur) => off = cur,
            }
        }
    }

    /// `read`: at the shared offset, which advances by what was read.
    pub fn read(&self, buf: &mut [u8]) -> SysResult<usize> {
        let f = self.readable_file()?;
        let st = self.state();
        let (off, n) = self.reserve(buf.len(), f.size(), None)?;
        match sys(f.read(off, &mut buf[..n])) {
            Ok(got) => Ok(got),
            Err(e) => {
                let _ = st.offset.compare_exchange(
                    off + n as u64,
                    off,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                );
                Err(e)
            }
        }
    }

    /// `pread`: at `off`, leaving the shared offset alone.
    pub fn pread(&self, off: u64, buf: &mut [u8]) -> SysResult<usize> {
        sys(self.readable_file()?.read(off, buf))
    }

    /// `write` at the shared offset; O_APPEND would extend the file, so it
    /// fails with EFBIG.
    pub fn write(&self, data: &[u8]) -> SysResult<usize> {
        let f = self.writable_file()?;
        let st = self.state();
        if st.status.load(Ordering::Relaxed) & libc::O_APPEND as u32 != 0 && !data.is_empty() {
            return Err(Errno::EFBIG);
        }
        let (off, n) = self.reserve(data.len(), f.size(), Some(Errno::EFBIG))?;
        sys(f.write(off, &data[..n]))
    }

    /// `pwrite`: in place at `off`; never extends the file (EFBIG at or past EOF, or with O_APPEND).
    pub fn pwrite(&self, off: u64, data: &[u8]) -> SysResult<usize> {
        let f = self.writable_file()?;
        if self.state().status.load(Ordering::Relaxed) & libc::O_APPEND as u32 != 0
            && !data.is_empty()
        {
            return Err(Errno::EFBIG);
        }
        sys(f.write(off, data))
    }

    fn readable_file(&self) -> SysResult<&FileData> {
        if !self.readable() {
            return Err(Errno::EBADF);
        }
        self.file().ok_or(Errno::EISDIR)
    }

    fn writable_file(&self) -> SysResult<&FileData> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        self.file().ok_or(Errno::EISDIR)
    }

    /// `lseek`, with SEEK_DATA and SEEK_HOLE (a famfs file has no holes).
    pub fn lseek(&self, off: i64, whence: i32) -> SysResult<u64> {
        let st = self.state();
        if self.accmode & libc::O_PATH != 0 {
            return Err(Errno::EBADF);
        }
        let size = self.file().map_or(0, |f| f.size()) as i64;
        let cur = st.offset.load(Ordering::Acquire) as i64;
        let new = match whence {
            libc::SEEK_SET => Some(off),
            libc::SEEK_CUR => cur.checked_add(off),
            libc::SEEK_END => size.checked_add(off),
            libc::SEEK_DATA if self.file().is_some() => {
                if off < 0 || off >= size {
                    return Err(Errno::ENXIO);
                }
                Some(off)
            }
            libc::SEEK_HOLE if self.file().is_some() => {
                if off < 0 || off >= size {
                    return Err(Errno::ENXIO);
                }
                Some(size)
            }
            _ => return Err(Errno::EINVAL),
        };
        let new = new.filter(|&n| n >= 0).ok_or(Errno::EINVAL)?;
        if self.is_dir() && new == 0 {
            self.drop_listing();
        }
        st.offset.store(new as u64, Ordering::Release);
        Ok(new as u64)
    }
}
