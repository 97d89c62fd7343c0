//! A famfs device in memory for the replay target: a sparse memfd (no file
//! left behind, nothing on disk) that stands in for a simulated region.
//! `famfs_core::dax::DaxDevice::open` maps it through `/proc/self/fd/N`,
//! exactly as the CLI opens a region file.

use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub struct ScratchDevice {
    file: File,
    path: PathBuf,
    /// Bytes of the log the last input wrote, zeroed before the next one.
    log_written: usize,
}

impl ScratchDevice {
    /// A zero-filled device of `size` bytes (a multiple of 2 MiB).
    pub fn new(size: u64) -> ScratchDevice {
        let fd =
            memfd_create(c"famfs-fuzz-device", MemFdCreateFlag::empty()).expect("memfd_create");
        let file = File::from(fd);
        file.set_len(size).expect("sizing the memfd");
        let path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        ScratchDevice {
            file,
            path,
            log_written: 0,
        }
    }

    /// The path `DaxDevice::open` takes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write(&self, offset: u64, bytes: &[u8]) {
        self.file
            .write_all_at(bytes, offset)
            .expect("writing the memfd");
    }

    /// Makes the log at `log_offset` hold `log` followed by zeros.
    pub fn set_log(&mut self, log_offset: u64, log: &[u8]) {
        if self.log_written > log.len() {
            let stale = vec![0u8; self.log_written - log.len()];
            self.write(log_offset + log.len() as u64, &stale);
        }
        self.write(log_offset, log);
        self.log_written = log.len();
    }
}
