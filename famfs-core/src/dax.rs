//! A famfs device mapped once, with bounds-checked access.
//!
//! A famfs device is either a devdax character device (`/dev/daxX.Y`, memory
//! that may be shared by several hosts) or a regular file standing in for one
//! (a "simulated region"). [`DaxDevice`] maps the whole device `MAP_SHARED`
//! once and, like rust-vmm's `vm-memory`, hides the raw pointer: every access
//! is checked against the device size with overflow-safe arithmetic, and
//! writes are refused on a read-only mapping (which would otherwise fault).
//! The memory is not owned by this process: other processes and hosts may
//! change it at any time, which is the famfs model; the log's CRCs, not this
//! type, detect torn or half-written metadata.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::ptr;

use memmap2::{MmapOptions, MmapRaw};

use crate::error::{Error, Result};
use crate::{flush, memerr};

/// Alignment of devdax mappings and unit of simulated region sizes (2 MiB).
pub const DEVDAX_ALIGN: u64 = 2 << 20;

/// The unit of chunked copies (fill, zero checks).
const CHUNK: u64 = 64 << 10;

/// What kind of object backs a [`DaxDevice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// A devdax character device; its size comes from sysfs.
    Devdax,
    /// A regular file used as a stand-in for a devdax device.
    Simulated,
}

/// How a [`DaxDevice`] is opened and mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `O_RDONLY` and `PROT_READ`: every write is refused with [`Error::ReadOnly`].
    ReadOnly,
    /// `O_RDWR` and `PROT_READ | PROT_WRITE`.
    ReadWrite,
}

/// A whole famfs device, mapped shared for as long as this value lives.
///
/// All accessors take `&self`: the memory behaves like a device register file
/// that anyone (other threads, processes or hosts) may write at any time.
/// Writers of metadata serialise among themselves (flock on [`Self::file`] and
/// the master-host rule); concurrent writes to overlapping bytes leave
/// unspecified contents but cannot break memory safety of this process,
/// because no Rust object lives in the mapping.
///
/// `DaxDevice` is `Send + Sync`: `MmapRaw` is, and the mapping lives exactly
/// as long as the struct.
pub struct DaxDevice {
    map: MmapRaw,
    file: File,
    path: PathBuf,
    kind: DeviceKind,
    size: u64,
    /// The alignment every mapping of the device must keep: offset, length
    /// and address (devdax's `align`: 2 MiB or 1 GiB; 2 MiB for a
    /// simulated region, which keeps the same rule so tests catch what a
    /// real device refuses).
    align: u64,
    access: Access,
}

impl fmt::Debug for DaxDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DaxDevice")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("size", &self.size)
            .field("align", &self.align)
            .field("access", &self.access)
            .finish_non_exhaustive()
    }
}

impl DaxDevice {
    /// Opens `path` (a devdax device or a simulated region file) and maps all
    /// of it.
    ///
    /// On devdax the kernel aligns the mapping to the device alignment; a
    /// mapping that is not [`DEVDAX_ALIGN`]-aligned is refused, because the
    /// shim and the kernel rely on 2 MiB (PMD) mappings of file extents.
    pub fn open(path: &Path, access: Access) -> Result<DaxDevice> {
        // stat before open, so a FIFO or other special file never blocks open().
        let meta = fs::metadata(path).map_err(|e| open_error(path, e))?;
        let kind = classify(path, &meta)?;

        let file = OpenOptions::new()
            .read(true)
            .write(access == Access::ReadWrite)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| open_error(path, e))?;
        let meta = file
            .metadata()
            .map_err(|e| Error::io(format!("{}: fstat", path.display()), e))?;
        if classify(path, &meta)? != kind {
            return Err(bad_device(path, "changed type while being opened"));
        }

        let (size, align) = match kind {
            DeviceKind::Devdax => {
                let rdev = meta.rdev();
                let (major, minor) = (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev));
                let sys = Path::new("/sys");
                let size = sysfs_devdax_size(sys, major as u32, minor as u32).map_err(|e| {
                    bad_device(
                        path,
                        format!(
                            "character device {major}:{minor} is not a devdax device \
                             or its size is unknown ({e})"
                        ),
                    )
                })?;
                let align = sysfs_devdax_align(sys, major as u32, minor as u32)
                    .map_err(|e| bad_device(path, e.to_string()))?;
                (size, align)
            }
            DeviceKind::Simulated => {
                check_region_size(path, meta.len())?;
                (meta.len(), DEVDAX_ALIGN)
            }
        };
        if size % align != 0 {
            return Err(bad_device(
                path,
                format!("size {size} is not a multiple of the device alignment {align}"),
            ));
        }
        let len = usize::try_from(size).map_err(|_| {
            bad_device(
                path,
                format!("size {size} bytes does not fit in the address space"),
            )
        })?;

        let mut opts = MmapOptions::new();
        opts.len(len);
        let map = match access {
            Access::ReadOnly => opts.map_raw_read_only(&file),
            Access::ReadWrite => opts.map_raw(&file),
        }
        .map_err(|e| Error::io(format!("{}: mmap of {size} bytes", path.display()), e))?;

        let addr = map.as_ptr() as usize;
        if kind == DeviceKind::Devdax && addr as u64 % align != 0 {
            return Err(bad_device(
                path,
                format!("devdax mapping at {addr:#x} is not aligned to the device's {align} bytes"),
            ));
        }
        tracing::debug!(path = %path.display(), ?kind, size, align, ?access, "mapped dax device");
        // Copies from and to the mapping survive memory errors only with
        // the SIGBUS handler in place.
        if let Err(e) = memerr::install() {
            tracing::warn!(%e, "cannot install the SIGBUS handler; a memory error will end the process");
        }

        Ok(DaxDevice {
            map,
            file,
            path: path.to_path_buf(),
            kind,
            size,
            align,
            access,
        })
    }

    /// Creates a sparse simulated region file of `size` bytes (a non-zero
    /// multiple of 2 MiB) with mode 0644 (less the umask). An existing path
    /// is never overwritten.
    pub fn create_simulated(path: &Path, size: u64) -> Result<()> {
        check_region_size(path, size)?;
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| {
                let what = if e.kind() == io::ErrorKind::AlreadyExists {
                    "refusing to overwrite an existing file with a simulated region"
                } else {
                    "cannot create simulated region"
                };
                Error::io(format!("{}: {what}", path.display()), e)
            })?;
        if let Err(e) = file.set_len(size) {
            // Do not leave a zero-length file behind that `open` would reject.
            let _ = fs::remove_file(path);
            return Err(Error::io(
                format!(
                    "{}: cannot size simulated region to {size} bytes",
                    path.display()
                ),
                e,
            ));
        }
        Ok(())
    }

    /// The path the device was opened by.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Devdax device or simulated region.
    pub fn kind(&self) -> DeviceKind {
        self.kind
    }

    /// Size of the device (and of the mapping) in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The alignment of every mapping of the device (offset, length and
    /// address): the devdax `align` from sysfs, 2 MiB for a simulated region.
    pub fn align(&self) -> u64 {
        self.align
    }

    /// Maps `[offset, offset + len)` of the device `MAP_SHARED | MAP_FIXED`
    /// at `at`, for an application's mmap of a file. The device's rules
    /// hold for every kind of device: `at`, `offset` and `len` must be
    /// multiples of [`Self::align`] (EINVAL otherwise, as devdax answers),
    /// the range must lie inside the device (ENXIO), and `PROT_WRITE` needs
    /// a read-write device (EACCES).
    ///
    /// # Safety
    /// `[at, at + len)` is replaced: the caller must own that address range.
    pub unsafe fn map_fixed(
        &self,
        at: *mut libc::c_void,
        offset: u64,
        len: u64,
        prot: i32,
    ) -> std::result::Result<(), nix::errno::Errno> {
        use nix::errno::Errno;
        let a = self.align;
        if (at as u64) % a != 0 || offset % a != 0 || len % a != 0 || len == 0 {
            return Err(Errno::EINVAL);
        }
        if offset.checked_add(len).is_none_or(|e| e > self.size) {
            return Err(Errno::ENXIO);
        }
        if prot & libc::PROT_WRITE != 0 && self.access != Access::ReadWrite {
            return Err(Errno::EACCES);
        }
        let fd = self.file.as_raw_fd();
        // SAFETY: the caller owns `[at, at + len)`; the device range is
        // inside the device (checked above).
        let p = unsafe {
            libc::mmap(
                at,
                len as usize,
                prot,
                libc::MAP_SHARED | libc::MAP_FIXED,
                fd,
                offset as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        Ok(())
    }

    /// How the device was opened and mapped.
    pub fn access(&self) -> Access {
        self.access
    }

    /// The open device file, for flock and for the shim's own mappings.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Copies `buf.len()` bytes at `offset` into `buf`.
    ///
    /// A plain byte copy is fine for bulk data even though another host may
    /// write the range meanwhile (as in `vm-memory`): the result may mix old
    /// and new bytes, exactly as a read racing a write on real hardware, and
    /// metadata readers detect that with CRCs. A memory error (SIGBUS on a
    /// poisoned line, or past the end of a shrunk region file) ends the copy
    /// with [`Error::DeviceMemory`] naming the device offset, never a signal.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let src = self.ptr_at(offset, buf.len() as u64)?;
        // SAFETY: `ptr_at` checked that `[offset, offset + buf.len())` is
        // inside the mapping, which lives as long as `self`; `buf` is a Rust
        // slice and cannot alias the mapping (no reference into the mapping
        // ever leaves this type).
        let r = unsafe { memerr::copy(buf.as_mut_ptr(), src, buf.len()) };
        r.map_err(|f| self.memory_error(offset, f))
    }

    /// Copies `data` to the device at `offset`, surviving a memory error as
    /// [`Self::read_at`] does. Use [`Self::write_back`] afterwards to make
    /// it visible to other hosts.
    pub fn write_at(&self, offset: u64, data: &[u8]) -> Result<()> {
        self.check_writable()?;
        let dst = self.ptr_at(offset, data.len() as u64)?;
        // SAFETY: in bounds and mapped writable (checked above); `data` cannot
        // alias the mapping, as for `read_at`.
        let r = unsafe { memerr::copy(dst, data.as_ptr(), data.len()) };
        r.map_err(|f| self.memory_error(offset, f))
    }

    fn memory_error(&self, offset: u64, f: memerr::CopyFault) -> Error {
        Error::DeviceMemory {
            path: self.path.clone(),
            offset: offset + f.copied as u64,
            poisoned: f.errno == nix::errno::Errno::EHWPOISON,
        }
    }

    /// Fills `[offset, offset + len)` with `read(2)` from `src` at its
    /// current offset until the range is full or `src` ends; returns the
    /// count. The kernel copies straight into the mapping: one copy, no
    /// buffer, and no Rust reference into device memory. A read error names
    /// `src_name`. The caller writes the range back.
    pub fn read_from(
        &self,
        offset: u64,
        len: u64,
        src: BorrowedFd<'_>,
        src_name: &Path,
    ) -> Result<u64> {
        self.check_writable()?;
        let base = self.ptr_at(offset, len)?;
        let mut done = 0u64;
        while done < len {
            // Linux moves at most about 2 GiB per read.
            let want = (len - done).min(1 << 30) as usize;
            // SAFETY: `[base + done, base + done + want)` lies inside the
            // mapping, which is writable (both checked above).
            let n = unsafe { libc::read(src.as_raw_fd(), base.add(done as usize).cast(), want) };
            if n > 0 {
                done += n as u64;
            } else if n == 0 {
                break;
            } else {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(Error::io(format!("reading {}", src_name.display()), e));
                }
            }
        }
        Ok(done)
    }

    /// Sets `len` bytes at `offset` to `byte`.
    pub fn fill(&self, offset: u64, len: u64, byte: u8) -> Result<()> {
        self.check_writable()?;
        self.ptr_at(offset, len)?;
        let chunk = vec![byte; CHUNK.min(len) as usize];
        let mut at = offset;
        while at < offset + len {
            let n = CHUNK.min(offset + len - at) as usize;
            self.write_at(at, &chunk[..n])?;
            at += n as u64;
        }
        Ok(())
    }

    /// Whether all `len` bytes at `offset` are zero (read in chunks with
    /// the fault-tolerant copy).
    pub fn is_zero(&self, offset: u64, len: u64) -> Result<bool> {
        self.ptr_at(offset, len)?;
        let mut chunk = vec![0u8; CHUNK.min(len) as usize];
        let mut at = offset;
        while at < offset + len {
            let n = CHUNK.min(offset + len - at) as usize;
            self.read_at(at, &mut chunk[..n])?;
            // OR 64-byte chunks together: much faster than a byte-wise early exit.
            let mut lines = chunk[..n].chunks_exact(64);
            let zero = lines.all(|c| c.iter().fold(0u8, |acc, &b| acc | b) == 0)
                && lines.remainder().iter().all(|&b| b == 0);
            if !zero {
                return Ok(false);
            }
            at += n as u64;
        }
        Ok(true)
    }

    /// Zeroes `[offset, offset + len)` and writes it back, skipping chunks
    /// that are already zero so a sparse simulated region stays sparse.
    pub fn zero_range(&self, offset: u64, len: u64) -> Result<()> {
        self.check_writable()?;
        self.ptr_at(offset, len)?;
        let mut at = offset;
        while at < offset + len {
            let n = CHUNK.min(offset + len - at);
            if !self.is_zero(at, n)? {
                self.fill(at, n, 0)?;
            }
            at += n;
        }
        self.write_back(offset, len)
    }

    /// Loads the little-endian `u64` at `offset` (8-byte aligned) with one
    /// 8-byte load, so polling a value another host updates (such as the
    /// log's next index) is cheap and never torn or cached by the compiler.
    /// A memory error is [`Error::DeviceMemory`], as for [`Self::read_at`].
    pub fn read_u64(&self, offset: u64) -> Result<u64> {
        let p = self.word_at(offset)?;
        // SAFETY: in bounds and 8-byte aligned (the mapping is page aligned and
        // `word_at` checked the offset); any bit pattern is a valid u64.
        let v = unsafe { memerr::load_u64(p.cast::<u64>()) };
        v.map(u64::from_le)
            .map_err(|f| self.memory_error(offset, f))
    }

    /// Stores `v` little-endian at `offset` (8-byte aligned) with one volatile
    /// 8-byte store.
    pub fn write_u64(&self, offset: u64, v: u64) -> Result<()> {
        self.check_writable()?;
        let p = self.word_at(offset)?;
        // SAFETY: in bounds, 8-byte aligned and mapped writable (checked above).
        unsafe { ptr::write_volatile(p.cast::<u64>(), v.to_le()) };
        Ok(())
    }

    /// Writes back the CPU cache lines covering `[offset, offset + len)` so
    /// other hosts see our stores. Allowed on read-only mappings (harmless).
    pub fn write_back(&self, offset: u64, len: u64) -> Result<()> {
        let p = self.ptr_at(offset, len)?;
        // SAFETY: the range is inside the mapping; flushing does not change it.
        unsafe { flush::write_back(p, len as usize) }.map_err(|f| self.memory_error(offset, f))
    }

    /// Drops the CPU cache lines covering `[offset, offset + len)` so the
    /// next reads see what other hosts wrote to memory.
    pub fn invalidate(&self, offset: u64, len: u64) -> Result<()> {
        let p = self.ptr_at(offset, len)?;
        // SAFETY: the range is inside the mapping; dirty lines are written
        // back, not lost, so the contents do not change.
        unsafe { flush::invalidate(p, len as usize) }.map_err(|f| self.memory_error(offset, f))
    }

    /// Bounds-checks `[offset, offset + len)` and returns a pointer to `offset`.
    fn ptr_at(&self, offset: u64, len: u64) -> Result<*mut u8> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size => {
                // SAFETY: `offset <= size`, the mapping's length (which fits in
                // usize, checked in `open`), so the result is within or one past
                // the end of the mapping.
                Ok(unsafe { self.map.as_mut_ptr().add(offset as usize) })
            }
            _ => Err(Error::OutOfBounds {
                offset,
                len,
                size: self.size,
            }),
        }
    }

    /// Like `ptr_at` for an 8-byte word, which must be 8-byte aligned.
    fn word_at(&self, offset: u64) -> Result<*mut u8> {
        if offset & 7 != 0 {
            return Err(Error::io(
                format!(
                    "{}: u64 access at offset {offset:#x} is not 8-byte aligned",
                    self.path.display()
                ),
                io::Error::from_raw_os_error(libc::EINVAL),
            ));
        }
        self.ptr_at(offset, 8)
    }

    fn check_writable(&self) -> Result<()> {
        match self.access {
            Access::ReadWrite => Ok(()),
            Access::ReadOnly => Err(Error::ReadOnly {
                path: self.path.clone(),
            }),
        }
    }
}

/// Reads a devdax device's size in bytes from `<sysfs_root>/dev/char/<major>:<minor>/size`.
pub fn sysfs_devdax_size(sysfs_root: &Path, major: u32, minor: u32) -> Result<u64> {
    let path = sysfs_root
        .join("dev/char")
        .join(format!("{major}:{minor}"))
        .join("size");
    let bad = |reason: String| Error::BadDevice {
        path: path.clone(),
        reason,
    };
    let text =
        fs::read_to_string(&path).map_err(|e| bad(format!("cannot read devdax size: {e}")))?;
    let text = text.trim();
    let size: u64 = text
        .parse()
        .map_err(|_| bad(format!("devdax size {text:?} is not a decimal byte count")))?;
    if size == 0 {
        return Err(bad("devdax size is 0".to_string()));
    }
    Ok(size)
}

/// Reads a devdax device's mapping alignment from
/// `<sysfs_root>/dev/char/<major>:<minor>/align`. Kernels before 5.10 have
/// no such file; their devices use the region's 2 MiB alignment.
pub fn sysfs_devdax_align(sysfs_root: &Path, major: u32, minor: u32) -> Result<u64> {
    let path = sysfs_root
        .join("dev/char")
        .join(format!("{major}:{minor}"))
        .join("align");
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(DEVDAX_ALIGN),
        Err(e) => {
            return Err(bad_device(
                &path,
                format!("cannot read devdax alignment: {e}"),
            ))
        }
    };
    let text = text.trim();
    match text.parse::<u64>() {
        Ok(a) if a.is_power_of_two() && a >= 4096 => Ok(a),
        _ => Err(bad_device(
            &path,
            format!("devdax alignment {text:?} is not a power of two of at least 4096"),
        )),
    }
}

fn bad_device(path: &Path, reason: impl Into<String>) -> Error {
    Error::BadDevice {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn open_error(path: &Path, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::NotFound {
        bad_device(
            path,
            format!("no such device or simulated region file ({e})"),
        )
    } else {
        Error::io(format!("{}: cannot open", path.display()), e)
    }
}

fn classify(path: &Path, meta: &fs::Metadata) -> Result<DeviceKind> {
    let ft = meta.file_type();
    if ft.is_char_device() {
        Ok(DeviceKind::Devdax)
    } else if ft.is_file() {
        Ok(DeviceKind::Simulated)
    } else {
        Err(bad_device(
            path,
            "not a devdax device or a simulated region file",
        ))
    }
}

fn check_region_size(path: &Path, size: u64) -> Result<()> {
    if size == 0 || size & (DEVDAX_ALIGN - 1) != 0 {
        return Err(bad_device(
            path,
            format!(
                "simulated region size is {size} bytes; it must be a non-zero multiple \
                 of 2 MiB ({DEVDAX_ALIGN} bytes)"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempfile::TempDir;

    const MIB2: u64 = DEVDAX_ALIGN;

    fn region(size: u64) -> (TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("region");
        DaxDevice::create_simulated(&path, size).unwrap();
        (dir, path)
    }

    fn assert_bad_device(err: Error, needle: &str) {
        match &err {
            Error::BadDevice { reason, .. } => {
                assert!(reason.contains(needle), "{reason:?} lacks {needle:?}")
            }
            other => panic!("expected BadDevice, got {other:?}"),
        }
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<DaxDevice>();
    }

    #[test]
    fn create_simulated_refuses_existing_path() {
        let (_dir, path) = region(MIB2);
        let err = DaxDevice::create_simulated(&path, MIB2).unwrap_err();
        assert_eq!(err.errno(), libc::EEXIST);
        assert!(err.to_string().contains("refusing to overwrite"), "{err}");
        // The existing file is untouched.
        assert_eq!(fs::metadata(&path).unwrap().len(), MIB2);
    }

    #[test]
    fn create_simulated_refuses_bad_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r");
        for size in [0, 4096, MIB2 + 1, 3 * (MIB2 / 2)] {
            let err = DaxDevice::create_simulated(&path, size).unwrap_err();
            assert_bad_device(err, &format!("{size} bytes"));
            assert!(!path.exists());
        }
    }

    #[test]
    fn open_simulated_region() {
        let (_dir, path) = region(2 * MIB2);
        let dev = DaxDevice::open(&path, Access::ReadWrite).unwrap();
        assert_eq!(dev.kind(), DeviceKind::Simulated);
        assert_eq!(dev.size(), 2 * MIB2);
        assert_eq!(dev.access(), Access::ReadWrite);
        assert_eq!(dev.path(), path);
        assert!(dev.file().metadata().unwrap().is_file());
        assert!(dev.is_zero(0, dev.size()).unwrap());
        let dbg = format!("{dev:?}");
        assert!(dbg.contains("Simulated") && dbg.contains("region"), "{dbg}");
    }

    #[test]
    fn writes_are_visible_through_a_second_mapping() {
        let (_dir, path) = region(2 * MIB2);
        let a = DaxDevice::open(&path, Access::ReadWrite).unwrap();
        let b = DaxDevice::open(&path, Access::ReadOnly).unwrap();
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let off = MIB2 - 100; // straddles the 2 MiB boundary
        a.write_at(off, &data).unwrap();
        a.write_back(off, data.len() as u64).unwrap();
        b.invalidate(off, data.len() as u64).unwrap();
        let mut back = vec![0u8; data.len()];
        b.read_at(off, &mut back).unwrap();
        assert_eq!(back, data);
        // And through the file itself.
        let on_disk = fs::read(&path).unwrap();
        assert_eq!(&on_disk[off as usize..off as usize + data.len()], &data[..]);
    }

    #[test]
    fn read_only_refuses_writes() {
        let (_dir, path) = region(MIB2);
        let dev = DaxDevice::open(&path, Access::ReadOnly).unwrap();
        for err in [
            dev.write_at(0, b"x").unwrap_err(),
            dev.fill(0, 10, 1).unwrap_err(),
            dev.write_u64(0, 1).unwrap_err(),
        ] {
            assert!(matches!(err, Error::ReadOnly { .. }), "{err:?}");
            assert_eq!(err.errno(), libc::EROFS);
        }
        assert!(dev.is_zero(0, MIB2).unwrap());
        // Cache maintenance is fine on a read-only mapping.
        dev.write_back(0, 4096).unwrap();
        dev.invalidate(0, 4096).unwrap();
    }

    #[test]
    fn out_of_bounds_and_overflow_are_rejected() {
        let (_dir, path) = region(MIB2);
        let dev = DaxDevice::open(&path, Access::ReadWrite).unwrap();
        let mut buf = [0u8; 16];
        let oob = |r: Result<()>| match r {
            Err(Error::OutOfBounds { size, .. }) => assert_eq!(size, MIB2),
            other => panic!("expected OutOfBounds, got {other:?}"),
        };
        oob(dev.read_at(MIB2 - 15, &mut buf));
        oob(dev.read_at(u64::MAX, &mut buf));
        oob(dev.read_at(u64::MAX - 8, &mut buf));
        oob(dev.write_at(MIB2, b"x"));
        oob(dev.write_at(u64::MAX, b"x"));
        oob(dev.fill(1, u64::MAX, 0));
        oob(dev.fill(0, MIB2 + 1, 0));
        oob(dev.write_back(u64::MAX, 2));
        oob(dev.invalidate(8, u64::MAX - 4));
        oob(dev.write_u64(MIB2, 1));
        oob(dev.read_u64(u64::MAX - 7).map(|_| ()));
        oob(dev.is_zero(u64::MAX, 1).map(|_| ()));
        // Exactly at the end is fine, including empty ranges.
        dev.read_at(MIB2 - 16, &mut buf).unwrap();
        dev.read_at(MIB2, &mut []).unwrap();
        dev.write_at(MIB2, &[]).unwrap();
        assert!(dev.is_zero(MIB2, 0).unwrap());
        dev.write_u64(MIB2 - 8, 7).unwrap();
        assert_eq!(dev.read_u64(MIB2 - 8).unwrap(), 7);
    }

    #[test]
    fn open_rejects_bad_region_sizes() {
        let dir = tempfile::tempdir().unwrap();
        for size in [0, 4096, MIB2 + 4096] {
            let path = dir.path().join(format!("r{size}"));
            File::create(&path).unwrap().set_len(size).unwrap();
            let err = DaxDevice::open(&path, Access::ReadOnly).unwrap_err();
            assert_bad_device(err, &format!("{size} bytes"));
        }
    }

    #[test]
    fn open_rejects_directories() {
        let dir = tempfile::tempdir().unwrap();
        for access in [Access::ReadOnly, Access::ReadWrite] {
            let err = DaxDevice::open(dir.path(), access).unwrap_err();
            assert_bad_device(err, "not a devdax device or a simulated region file");
        }
    }

    #[test]
    fn open_rejects_non_dax_char_devices() {
        let null = Path::new("/dev/null");
        if !null.exists() {
            return;
        }
        let err = DaxDevice::open(null, Access::ReadOnly).unwrap_err();
        assert_bad_device(err, "not a devdax device");
    }

    #[test]
    fn open_missing_path_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope");
        let err = DaxDevice::open(&path, Access::ReadWrite).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("nope"), "{msg}");
        assert!(msg.contains("no such device"), "{msg}");
        assert!(msg.contains("No such file or directory"), "{msg}");
    }

    #[test]
    fn u64_access() {
        let (_dir, path) = region(MIB2);
        let dev = DaxDevice::open(&path, Access::ReadWrite).unwrap();
        dev.write_u64(48, 0x0102_0304_0506_0708).unwrap();
        assert_eq!(dev.read_u64(48).unwrap(), 0x0102_0304_0506_0708);
        let mut raw = [0u8; 8];
        dev.read_at(48, &mut raw).unwrap();
        assert_eq!(raw, [8, 7, 6, 5, 4, 3, 2, 1]); // little-endian on media
        dev.write_at(64, &42u64.to_le_bytes()).unwrap();
        assert_eq!(dev.read_u64(64).unwrap(), 42);
        for off in [1, 4, 7, 49] {
            let err = dev.read_u64(off).unwrap_err();
            assert_eq!(err.errno(), libc::EINVAL, "{err}");
            assert_eq!(dev.write_u64(off, 1).unwrap_err().errno(), libc::EINVAL);
        }
    }

    #[test]
    fn fill_and_is_zero() {
        let (_dir, path) = region(MIB2);
        let dev = DaxDevice::open(&path, Access::ReadWrite).unwrap();
        dev.fill(1000, 300, 0xAA).unwrap();
        assert!(dev.is_zero(0, 1000).unwrap());
        assert!(dev.is_zero(1300, MIB2 - 1300).unwrap());
        assert!(!dev.is_zero(0, 1001).unwrap());
        assert!(!dev.is_zero(1299, 1).unwrap());
        assert!(!dev.is_zero(900, 1000).unwrap());
        let mut buf = [0u8; 300];
        dev.read_at(1000, &mut buf).unwrap();
        assert!(buf.iter().all(|&b| b == 0xAA));
        dev.fill(1000, 300, 0).unwrap();
        assert!(dev.is_zero(0, MIB2).unwrap());
        // A single non-zero byte in the tail after the last 64-byte chunk.
        dev.fill(MIB2 - 1, 1, 1).unwrap();
        assert!(!dev.is_zero(MIB2 - 70, 70).unwrap());
    }

    /// A region file shrunk under the mapping raises SIGBUS on the lost
    /// pages: reads and writes there fail with an error naming the device
    /// offset, and the process lives.
    #[test]
    fn memory_error_is_an_error_not_a_signal() {
        let (_dir, path) = region(2 * MIB2);
        let dev = DaxDevice::open(&path, Access::ReadWrite).unwrap();
        dev.write_at(4096, b"before").unwrap();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(MIB2)
            .unwrap();
        let mut buf = vec![0u8; 8192];
        let err = dev.read_at(MIB2 - 4096, &mut buf).unwrap_err();
        match &err {
            Error::DeviceMemory {
                offset, poisoned, ..
            } => {
                assert_eq!(*offset, MIB2, "the first byte lost");
                assert!(!poisoned);
            }
            e => panic!("expected DeviceMemory, got {e:?}"),
        }
        assert_eq!(err.errno(), libc::EIO);
        assert!(err.to_string().contains("0x200000"), "{err}");
        assert!(dev.write_at(MIB2 + 10, b"x").is_err());
        assert!(dev.is_zero(MIB2, 4096).is_err());
        let mut back = [0u8; 6];
        dev.read_at(4096, &mut back).unwrap();
        assert_eq!(&back, b"before");
    }

    #[test]
    fn sysfs_size_parsing() {
        let root = tempfile::tempdir().unwrap();
        let write = |maj: u32, min: u32, text: &str| {
            let d = root.path().join(format!("dev/char/{maj}:{min}"));
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("size"), text).unwrap();
        };
        write(252, 0, "8589934592");
        write(252, 1, "4294967296\n");
        write(252, 2, "lots\n");
        write(252, 3, "0\n");
        write(252, 4, "");
        let r = root.path();
        assert_eq!(sysfs_devdax_size(r, 252, 0).unwrap(), 8 << 30);
        assert_eq!(sysfs_devdax_size(r, 252, 1).unwrap(), 4 << 30);
        assert_bad_device(sysfs_devdax_size(r, 252, 2).unwrap_err(), "\"lots\"");
        assert_bad_device(sysfs_devdax_size(r, 252, 3).unwrap_err(), "size is 0");
        assert_bad_device(sysfs_devdax_size(r, 252, 4).unwrap_err(), "not a decimal");
        let err = sysfs_devdax_size(r, 252, 9).unwrap_err();
        assert!(err.to_string().contains("252:9/size"), "{err}");
        assert_bad_device(err, "cannot read devdax size");
    }

    #[test]
    fn sysfs_align_parsing() {
        let root = tempfile::tempdir().unwrap();
        let write = |min: u32, text: &str| {
            let d = root.path().join(format!("dev/char/252:{min}"));
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("align"), text).unwrap();
        };
        write(0, "2097152\n");
        write(1, "1073741824\n");
        write(2, "3000\n");
        write(3, "many\n");
        let r = root.path();
        assert_eq!(sysfs_devdax_align(r, 252, 0).unwrap(), 2 << 20);
        assert_eq!(sysfs_devdax_align(r, 252, 1).unwrap(), 1 << 30);
        assert_bad_device(sysfs_devdax_align(r, 252, 2).unwrap_err(), "power of two");
        assert_bad_device(sysfs_devdax_align(r, 252, 3).unwrap_err(), "\"many\"");
        // No align file (kernels before 5.10): the region's 2 MiB.
        assert_eq!(sysfs_devdax_align(r, 252, 9).unwrap(), DEVDAX_ALIGN);
    }

    /// A simulated region refuses what devdax refuses: unaligned offsets,
    /// lengths and addresses, so the shim's mapping code is tested here
    /// against the real device's rules.
    #[test]
    fn map_fixed_keeps_the_device_rules() {
        let (_dir, path) = region(4 * MIB2);
        let dev = DaxDevice::open(&path, Access::ReadWrite).unwrap();
        assert_eq!(dev.align(), MIB2);
        dev.write_at(MIB2 + 4096, b"window").unwrap();
        // An aligned reservation to map over.
        let span = 4 * MIB2 as usize;
        // SAFETY: a fresh anonymous reservation of our own.
        let res = unsafe {
            libc::mmap(
                ptr::null_mut(),
                span,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        assert_ne!(res, libc::MAP_FAILED);
        let at = ((res as usize + MIB2 as usize - 1) & !(MIB2 as usize - 1)) as *mut libc::c_void;
        let page = 4096u64;
        use nix::errno::Errno;
        // SAFETY: `at .. at + 2 MiB` lies inside our reservation (every call below).
        unsafe {
            assert_eq!(
                dev.map_fixed(at, 4096, MIB2, libc::PROT_READ),
                Err(Errno::EINVAL)
            );
            assert_eq!(
                dev.map_fixed(at, 0, page, libc::PROT_READ),
                Err(Errno::EINVAL)
            );
            let off_at = at.cast::<u8>().add(4096).cast();
            assert_eq!(
                dev.map_fixed(off_at, 0, MIB2, libc::PROT_READ),
                Err(Errno::EINVAL)
            );
            assert_eq!(
                dev.map_fixed(at, 4 * MIB2, MIB2, libc::PROT_READ),
                Err(Errno::ENXIO)
            );
            dev.map_fixed(at, MIB2, MIB2, libc::PROT_READ).unwrap();
            let mut got = [0u8; 6];
            ptr::copy_nonoverlapping(at.cast::<u8>().add(4096), got.as_mut_ptr(), 6);
            assert_eq!(&got, b"window");
            libc::munmap(res, span);
        }
        let ro = DaxDevice::open(&path, Access::ReadOnly).unwrap();
        // SAFETY: the address is refused before anything is mapped.
        let e = unsafe { ro.map_fixed(at, 0, MIB2, libc::PROT_READ | libc::PROT_WRITE) };
        assert_eq!(e, Err(Errno::EACCES));
    }
}
