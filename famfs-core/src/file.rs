//! One file's bytes: its fmap over its devices, the only way any front end
//! (the CLI, the shim, FUSE) reads or writes file data.
//!
//! Each access walks the fmap into device pieces ([`Fmap::pieces`]), bounded
//! by the file size, checks each device's error state and, on a simulated
//! region that carries a poison list ([`crate::poison`]), each piece against
//! it, then copies through [`DaxDevice::read_at`] / [`DaxDevice::write_at`],
//! which survive a memory error (SIGBUS) and report it as
//! [`Error::DeviceMemory`]. A device that faulted is marked in its
//! [`DeviceHealth`], and every later access to a file on it fails the same
//! way, as the kernel fails a dax device after a memory error.

use crate::dax::{Access, DaxDevice};
use crate::error::{Error, Result};
use crate::fmap::{Fmap, Piece};
use crate::memerr::DeviceHealth;
use crate::poison;
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::sync::Arc;

/// One device a file uses: its mapping and its error state.
struct FileDevice {
    dev: Arc<DaxDevice>,
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

impl std::fmt::Debug for FileData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileData")
            .field("size", &self.size)
            .field("fmap", &self.fmap)
            .finish_non_exhaustive()
    }
}

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
            devices[i] = Some(FileDevice { dev, health });
        }
        FileData {
            devices,
            fmap,
            size,
        }
    }

    /// The file size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The file's map.
    pub fn fmap(&self) -> &Fmap {
        &self.fmap
    }

    /// The mapping of device `index`, if the file uses it.
    pub fn device(&self, index: u32) -> Option<&Arc<DaxDevice>> {
        Some(&self.devices.get(index as usize)?.as_ref()?.dev)
    }

    /// Fails if any device the file uses is in error.
    pub fn check_health(&self) -> Result<()> {
        self.devices.iter().flatten().try_for_each(Self::health)
    }

    fn health(d: &FileDevice) -> Result<()> {
        d.health.check().map_err(|errno| Error::DeviceFailed {
            path: d.dev.path().to_path_buf(),
            errno: errno as i32,
        })
    }

    /// The device of a piece, after a bounds check of the piece.
    fn device_of(&self, p: &Piece) -> Result<&FileDevice> {
        let d = self
            .devices
            .get(p.devindex as usize)
            .and_then(Option::as_ref)
            .ok_or_else(|| {
                Error::InvalidFmap(format!("device index {} is not open", p.devindex))
            })?;
        if p.offset.checked_add(p.len).is_none_or(|e| e > d.dev.size()) {
            return Err(Error::OutOfBounds {
                offset: p.offset,
                len: p.len,
                size: d.dev.size(),
            });
        }
        Ok(d)
    }

    /// Marks the device of a failed copy in error and passes the error on.
    fn fault(d: &FileDevice, e: Error) -> Error {
        if let Error::DeviceMemory { poisoned, .. } = &e {
            d.health.mark(if *poisoned {
                nix::errno::Errno::EHWPOISON
            } else {
                nix::errno::Errno::EIO
            });
        }
        e
    }

    /// The state of every device the file uses, checked once per access:
    /// an error if one is marked in error, else whether any of their
    /// regions carries a simulated poison list, in which case each piece
    /// must be checked against it ([`Self::check_poison`]). Devdax memory
    /// reports its errors by SIGBUS instead.
    fn check_devices(&self) -> Result<bool> {
        let mut poisoned = false;
        for d in self.devices.iter().flatten() {
            Self::health(d)?;
            poisoned |= poison::announced(&d.dev).map_err(|e| Self::fault(d, e))?;
        }
        Ok(poisoned)
    }

    /// Fails with [`Error::MemoryError`] (EHWPOISON), marking the device,
    /// when piece `p` overlaps its region's poison list.
    fn check_poison(d: &FileDevice, p: &Piece) -> Result<()> {
        if poison::hit(&d.dev, p.offset, p.len).unwrap_or(true) {
            d.health.mark(nix::errno::Errno::EHWPOISON);
            return Err(Error::MemoryError {
                index: p.devindex,
                offset: p.offset,
            });
        }
        Ok(())
    }

    /// The device pieces backing `[off, off + len)` of the file's
    /// allocation, each with its device, for mmap: each piece is
    /// bounds-checked and checked against the poison list, as a read is,
    /// since a mapping hands out the memory without copying it.
    pub fn map_pieces(&self, off: u64, len: u64) -> Result<Vec<(Piece, &Arc<DaxDevice>)>> {
        let poisoned = self.check_devices()?;
        self.fmap
            .pieces(self.fmap.allocated_bytes(), off, len)
            .map(|p| {
                let d = self.device_of(&p)?;
                if poisoned {
                    Self::check_poison(d, &p)?;
                }
                Ok((p, &d.dev))
            })
            .collect()
    }

    /// Copies up to `buf.len()` bytes at `off` into `buf`: 0 at or past EOF.
    pub fn read(&self, off: u64, buf: &mut [u8]) -> Result<usize> {
        let poisoned = self.check_devices()?;
        let want = buf.len() as u64;
        // Most reads lie in one extent: one piece, one copy, and then
        // nothing but a return. Keeping the general walk's state past the
        // copy cost a quarter of a random 4 KiB read: a load of what was
        // stored just before a `rep movsb` waits for the whole copy, so the
        // next read could not start its memory accesses early.
        let Some(first) = self.fmap.resolve(self.size, off, want) else {
            return Ok(0);
        };
        let n = first.len as usize;
        self.read_piece(&first, &mut buf[..n], poisoned)?;
        if first.len == want {
            return Ok(n);
        }
        self.read_rest(off + first.len, &mut buf[n..], poisoned)
            .map(|rest| n + rest)
    }

    /// The pieces of a read after its first, out of line so the one-piece
    /// read keeps a small frame.
    #[inline(never)]
    fn read_rest(&self, off: u64, buf: &mut [u8], poisoned: bool) -> Result<usize> {
        let mut done = 0;
        for p in self.fmap.pieces(self.size, off, buf.len() as u64) {
            let n = p.len as usize;
            self.read_piece(&p, &mut buf[done..done + n], poisoned)?;
            done += n;
        }
        Ok(done)
    }

    /// Copies piece `p` into `buf` (its length).
    #[inline(always)]
    fn read_piece(&self, p: &Piece, buf: &mut [u8], poisoned: bool) -> Result<()> {
        let d = self.device_of(p)?;
        if poisoned {
            Self::check_poison(d, p)?;
        }
        d.dev.read_at(p.offset, buf).map_err(|e| Self::fault(d, e))
    }

    /// Writes `data` at `off` in place, writing each piece back from the
    /// CPU caches. Never extends the file: a write that crosses EOF writes
    /// what fits; one at or past EOF fails with [`Error::FileTooBig`]
    /// (EFBIG). The devices must be mapped read-write.
    pub fn write(&self, off: u64, data: &[u8]) -> Result<usize> {
        let poisoned = self.check_devices()?;
        if data.is_empty() {
            return Ok(0);
        }
        if off >= self.size {
            return Err(Error::FileTooBig {
                offset: off,
                size: self.size,
            });
        }
        let mut done = 0usize;
        for p in self.fmap.pieces(self.size, off, data.len() as u64) {
            let d = self.device_of(&p)?;
            if poisoned {
                Self::check_poison(d, &p)?;
            }
            let n = p.len as usize;
            d.dev
                .write_at(p.offset, &data[done..done + n])
                .map_err(|e| Self::fault(d, e))?;
            d.dev.write_back(p.offset, p.len)?;
            done += n;
        }
        Ok(done)
    }

    /// Fills `[off, off + len)` (cut at EOF) straight from `src` at its
    /// current offset, piece by piece ([`DaxDevice::read_from`]: the kernel
    /// copies into the device, no buffer), writing each piece back. Returns
    /// the count: short if `src` ended first.
    pub fn fill_from(
        &self,
        off: u64,
        len: u64,
        src: BorrowedFd<'_>,
        src_name: &Path,
    ) -> Result<u64> {
        let poisoned = self.check_devices()?;
        let mut done = 0;
        for p in self.fmap.pieces(self.size, off, len) {
            let d = self.device_of(&p)?;
            if poisoned {
                Self::check_poison(d, &p)?;
            }
            let n = d.dev.read_from(p.offset, p.len, src, src_name)?;
            d.dev.write_back(p.offset, n)?;
            done += n;
            if n < p.len {
                break;
            }
        }
        Ok(done)
    }

    /// Zeroes the whole file, leaving already-zero pages untouched so a
    /// sparse simulated region stays sparse.
    pub fn zero(&self) -> Result<()> {
        self.check_health()?;
        for p in self.fmap.pieces(self.size, 0, self.size) {
            let d = self.device_of(&p)?;
            d.dev
                .zero_range(p.offset, p.len)
                .map_err(|e| Self::fault(d, e))?;
        }
        Ok(())
    }

    /// Writes back and drops the CPU cache lines of the whole file (its
    /// allocation), so other hosts see this host's stores and this host's
    /// next loads see theirs: the cache maintenance memory that is not
    /// coherent across hosts needs around sharing a file.
    pub fn flush(&self) -> Result<()> {
        self.check_health()?;
        for p in self
            .fmap
            .pieces(self.fmap.allocated_bytes(), 0, self.fmap.allocated_bytes())
        {
            let d = self.device_of(&p)?;
            d.dev.invalidate(p.offset, p.len)?;
        }
        Ok(())
    }

    /// Whether every device of the file is mapped read-write.
    pub fn writable(&self) -> bool {
        self.devices
            .iter()
            .flatten()
            .all(|d| d.dev.access() == Access::ReadWrite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fmap::{Extent, InterleavedExtent};
    use proptest::prelude::*;

    const MIB: u64 = 1 << 20;

    /// The byte every device offset holds in these tests.
    fn pattern(dev: u32, at: u64) -> u8 {
        (at.wrapping_mul(31) ^ (at >> 9) ^ (u64::from(dev) * 77)) as u8
    }

    /// A device as `FileData::new` takes it.
    type Used = (u32, Arc<DaxDevice>, Arc<DeviceHealth>);

    /// Two simulated regions of 16 MiB filled with [`pattern`].
    fn devices() -> (tempfile::TempDir, Vec<Used>) {
        let dir = tempfile::tempdir().unwrap();
        let devs = (0..2u32)
            .map(|i| {
                let path = dir.path().join(format!("region{i}"));
                DaxDevice::create_simulated(&path, 16 * MIB).unwrap();
                let dev = DaxDevice::open(&path, Access::ReadWrite).unwrap();
                let bytes: Vec<u8> = (0..16 * MIB).map(|at| pattern(i, at)).collect();
                dev.write_at(0, &bytes).unwrap();
                (i, Arc::new(dev), Arc::new(DeviceHealth::default()))
            })
            .collect();
        (dir, devs)
    }

    fn ext(devindex: u32, offset: u64, len: u64) -> Extent {
        Extent {
            devindex,
            offset,
            len,
        }
    }

    /// Three simple extents out of order over both devices, and four
    /// strips of 512 KiB chunks: every read of more than a few bytes may
    /// cross pieces.
    fn fmaps() -> [Fmap; 2] {
        [
            Fmap::Simple(vec![
                ext(1, 6 * MIB, 2 * MIB),
                ext(0, 2 * MIB, 4 * MIB),
                ext(1, 12 * MIB, 2 * MIB),
            ]),
            Fmap::Interleaved(vec![InterleavedExtent {
                chunk_size: MIB / 2,
                strips: vec![
                    ext(0, 8 * MIB, 2 * MIB),
                    ext(1, 2 * MIB, 2 * MIB),
                    ext(0, 12 * MIB, 2 * MIB),
                    ext(1, 10 * MIB, 2 * MIB),
                ],
            }]),
        ]
    }

    /// What a read of `[off, off + len)` must return, byte by byte (each
    /// 4 KiB block resolved on its own: no piece boundary falls inside one).
    fn expected(fmap: &Fmap, size: u64, off: u64, len: u64) -> Vec<u8> {
        (off..off.saturating_add(len).min(size))
            .map(|o| {
                let block = o & !4095;
                let p = fmap.resolve(size, block, 1).unwrap();
                pattern(p.devindex, p.offset + (o - block))
            })
            .collect()
    }

    /// A read inside one piece, across pieces, or past EOF returns exactly
    /// the bytes the fmap names, and a short count at EOF.
    #[test]
    fn read_returns_the_fmap_bytes() {
        let (_dir, devs) = devices();
        let files: Vec<(Fmap, FileData)> = fmaps()
            .into_iter()
            .map(|f| (f.clone(), FileData::new(devs.clone(), f, 7 * MIB + 4321)))
            .collect();
        let cases = (
            0usize..2,
            0u64..(8 * MIB),
            prop_oneof![0u64..64, 1u64..(MIB + MIB / 2)],
        );
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(128));
        runner
            .run(&cases, |(which, off, len)| {
                let (fmap, file) = &files[which];
                let mut buf = vec![0u8; len as usize];
                let n = file.read(off, &mut buf).unwrap();
                let want = expected(fmap, file.size(), off, len);
                prop_assert_eq!(n, want.len());
                prop_assert!(
                    buf[..n] == want[..],
                    "bytes differ at off {} len {}",
                    off,
                    len
                );
                Ok(())
            })
            .unwrap();
    }
}
