//! Open files: the bytes of one famfs file in a mapped device, and the open
//! file description (offset and status flags) that file descriptors share.

use super::mount::{DirEntry, KnownNode, Mount, NodeInfo, NodeRef};
use super::SysResult;
use famfs_core::dax::{DaxDevice, DeviceKind};
use famfs_core::fmap::{Fmap, Piece};
use famfs_core::memerr::{self, DeviceHealth};
use famfs_core::namespace::Ino;
use famfs_core::poison;
use nix::errno::Errno;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// One device a file uses: its mapping and its error state.
struct FileDevice {
    dev: Arc<DaxDevice>,
    base: *mut u8,
    health: Arc<DeviceHealth>,
}

/// One file's bytes: its fmap over mapped devices. Reads and writes copy
/// straight between the mappings and the caller's buffer, bounded by the
/// file size, with no lock, allocation or system call.
pub struct FileData {
    /// Indexed by device index; None for devices the file does not use.
    devices: Vec<Option<FileDevice>>,
    fmap: Fmap,
    size: u64,
}

// SAFETY: each `base` points into the mapping its `dev` owns, which lives as
// long as this struct and is itself Send + Sync; all access through it is
// by copies that tolerate concurrent writers (see DaxDevice).
unsafe impl Send for FileData {}
// SAFETY: as above.
unsafe impl Sync for FileData {}

impl FileData {
    /// A file of `size` bytes at `fmap`, given every device the fmap uses
    /// as (index, mapping, error state). The fmap must have been validated
    /// against the devices (replay does).
    pub fn new(used: Vec<(u32, Arc<DaxDevice>, Arc<DeviceHealth>)>, fmap: Fmap, size: u64) -> Self {
        let mut devices: Vec<Option<FileDevice>> = Vec::new();
        for (index, dev, health) in used {
            let i = index as usize;
            if devices.len() <= i {
                devices.resize_with(i + 1, || None);
            }
            // SAFETY: the pointer is only used within the device bounds,
            // which `piece_at` enforces for every piece before use.
            let base = unsafe { dev.as_ptr() };
            devices[i] = Some(FileDevice { dev, base, health });
        }
        FileData {
            devices,
            fmap,
            size,
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The mapping of device `index`, if the file uses it.
    pub fn device(&self, index: u32) -> Option<&Arc<DaxDevice>> {
        Some(&self.devices.get(index as usize)?.as_ref()?.dev)
    }

    /// Fails if any device the file uses is in error.
    pub fn check_health(&self) -> SysResult<()> {
        self.devices
            .iter()
            .flatten()
            .try_for_each(|d| d.health.check())
    }

    /// The device and the pointer for a piece, bounds-checked.
    fn piece_at(&self, p: &Piece) -> SysResult<(&FileDevice, *mut u8)> {
        let d = self
            .devices
            .get(p.devindex as usize)
            .and_then(Option::as_ref)
            .ok_or(Errno::EIO)?;
        if p.offset
            .checked_add(p.len)
            .map_or(true, |e| e > d.dev.size())
        {
            return Err(Errno::EIO);
        }
        // SAFETY: in bounds of the mapping, checked above.
        Ok((d, unsafe { d.base.add(p.offset as usize) }))
    }

    fn fault(d: &FileDevice, f: memerr::CopyFault) -> Errno {
        d.health.mark(f.errno);
        f.errno
    }

    /// The state of every device the file uses, checked once per access:
    /// an error if one is marked in error, else whether any of their
    /// regions carries a simulated poison list ([`famfs_core::poison`]), in which
    /// case each piece must be checked against it ([`Self::check_poison`]).
    /// Devdax memory reports its errors by SIGBUS instead. The list header
    /// is read with a fault-tolerant copy, so a truncated region is EIO,
    /// not a crash.
    fn check_devices(&self) -> SysResult<bool> {
        const AT: u64 = poison::TABLE_OFFSET;
        let mut poisoned = false;
        for d in self.devices.iter().flatten() {
            d.health.check()?;
            if d.dev.kind() != DeviceKind::Simulated
                || d.dev.size() < AT + poison::HEADER_LEN as u64
            {
                continue;
            }
            let mut hdr = [0u8; poison::HEADER_LEN];
            // SAFETY: `AT + HEADER_LEN` is inside the mapping (checked above).
            unsafe { memerr::copy(hdr.as_mut_ptr(), d.base.add(AT as usize), hdr.len()) }
                .map_err(|f| Self::fault(d, f))?;
            poisoned |= poison::header_has_poison(&hdr);
        }
        Ok(poisoned)
    }

    /// Fails with EHWPOISON, marking the device, when piece `p` overlaps
    /// its region's poison list.
    fn check_poison(d: &FileDevice, p: &Piece) -> SysResult<()> {
        if poison::hit(&d.dev, p.offset, p.len).unwrap_or(true) {
            d.health.mark(Errno::EHWPOISON);
            return Err(Errno::EHWPOISON);
        }
        Ok(())
    }

    /// The device pieces backing `[off, off + len)` of the file's
    /// allocation, each with its device, for mmap: each piece is
    /// bounds-checked and checked against the poison list, as a read is,
    /// since a mapping hands out the memory without copying it.
    pub fn map_pieces(&self, off: u64, len: u64) -> SysResult<Vec<(Piece, &Arc<DaxDevice>)>> {
        let poisoned = self.check_devices()?;
        self.pieces(off, len)
            .map(|p| {
                let (d, _) = self.piece_at(&p)?;
                if poisoned {
                    Self::check_poison(d, &p)?;
                }
                Ok((p, &d.dev))
            })
            .collect()
    }

    /// Copies up to `buf.len()` bytes at `off` into `buf`: 0 at or past EOF.
    pub fn read(&self, off: u64, buf: &mut [u8]) -> SysResult<usize> {
        let poisoned = self.check_devices()?;
        let mut done = 0usize;
        for p in self.fmap.pieces(self.size, off, buf.len() as u64) {
            let (d, src) = self.piece_at(&p)?;
            if poisoned {
                Self::check_poison(d, &p)?;
            }
            let n = p.len as usize;
            // SAFETY: `src..src+n` is inside the mapping; `buf[done..done+n]`
            // is inside `buf` (pieces never cover more than asked for).
            unsafe { memerr::copy(buf.as_mut_ptr().add(done), src, n) }
                .map_err(|f| Self::fault(d, f))?;
            done += n;
        }
        Ok(done)
    }

    /// Writes `data` at `off` in place. Never extends the file: a write that
    /// crosses EOF writes what fits; one at or past EOF fails with EFBIG.
    /// The device must be mapped read-write.
    pub fn write(&self, off: u64, data: &[u8]) -> SysResult<usize> {
        let poisoned = self.check_devices()?;
        if data.is_empty() {
            return Ok(0);
        }
        if off >= self.size {
            return Err(Errno::EFBIG);
        }
        let mut done = 0usize;
        for p in self.fmap.pieces(self.size, off, data.len() as u64) {
            let (d, dst) = self.piece_at(&p)?;
            if d.dev.access() != famfs_core::dax::Access::ReadWrite {
                return Err(Errno::EBADF);
            }
            if poisoned {
                Self::check_poison(d, &p)?;
            }
            let n = p.len as usize;
            // SAFETY: `dst..dst+n` is inside a writable mapping; the source
            // is inside `data`.
            unsafe { memerr::copy(dst, data.as_ptr().add(done), n) }
                .map_err(|f| Self::fault(d, f))?;
            let _ = d.dev.write_back(p.offset, p.len);
            done += n;
        }
        Ok(done)
    }

    /// The device ranges backing `[off, off + len)` of the file, for mmap.
    pub fn pieces(&self, off: u64, len: u64) -> impl Iterator<Item = Piece> + '_ {
        self.fmap.pieces(self.fmap.allocated_bytes(), off, len)
    }
}

/// The part of an open file description that dup'd and forked descriptors
/// share: it lives in process memory until a fork or exec needs it in
/// shared memory (see `inherit`).
#[repr(C)]
#[derive(Debug, Default)]
pub struct OfdState {
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

    pub fn is_dir(&self) -> bool {
        self.info().is_dir()
    }

    pub fn readable(&self) -> bool {
        self.accmode & libc::O_PATH == 0
            && matches!(
                self.accmode & libc::O_ACCMODE,
                libc::O_RDONLY | libc::O_RDWR
            )
    }

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
        match f.read(off, &mut buf[..n]) {
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

    pub fn pread(&self, off: u64, buf: &mut [u8]) -> SysResult<usize> {
        self.readable_file()?.read(off, buf)
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
        f.write(off, &data[..n])
    }

    pub fn pwrite(&self, off: u64, data: &[u8]) -> SysResult<usize> {
        let f = self.writable_file()?;
        if self.state().status.load(Ordering::Relaxed) & libc::O_APPEND as u32 != 0
            && !data.is_empty()
        {
            return Err(Errno::EFBIG);
        }
        f.write(off, data)
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
