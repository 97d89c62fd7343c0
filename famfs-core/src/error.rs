//! One error type for the whole library.
//!
//! Every variant names what is wrong in words a user can act on, and maps to
//! the errno the shim returns for it ([`Error::errno`]), so the CLI and the
//! shim report the same failure the same way.

use std::io;
use std::path::PathBuf;

/// Result alias used throughout famfs-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in famfs-core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call failed; `context` says what we were doing.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },

    // --- superblock ---
    #[error(
        "invalid superblock: bad magic {found:#x} (expected {expected:#x}); not a famfs device"
    )]
    BadSuperblockMagic { found: u64, expected: u64 },
    #[error("invalid superblock: crc mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    BadSuperblockCrc { stored: u64, computed: u64 },
    #[error("invalid superblock: bad allocation unit {found:#x} (must be 0x1000 or 0x200000)")]
    BadAllocUnit { found: u64 },
    #[error("wrong superblock version {found} (this build understands version {expected})")]
    WrongVersion { found: u64, expected: u64 },
    #[error("invalid superblock: {0}")]
    BadSuperblockLayout(String),

    // --- log header and entries ---
    #[error("invalid log header: bad magic {found:#x} (expected {expected:#x})")]
    BadLogMagic { found: u64, expected: u64 },
    #[error("invalid log header: crc mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    BadLogCrc { stored: u64, computed: u64 },
    #[error("invalid log header: {0}")]
    BadLogHeader(String),
    #[error("log entry {index}: {reason}")]
    BadLogEntry { index: u64, reason: String },
    #[error(
        "log full: all {entries} entries are used; no more files or directories can be created"
    )]
    LogFull { entries: u64 },

    // --- namespace and paths ---
    #[error("invalid path '{path}': {reason}")]
    InvalidPath { path: String, reason: String },
    #[error(
        "path '{path}' is {len} bytes relative to the mount; famfs allows at most {max} (not truncated)"
    )]
    PathTooLong {
        path: String,
        len: usize,
        max: usize,
    },
    #[error("{0}: no such file or directory")]
    NotFound(String),
    #[error("{0}: file exists")]
    Exists(String),
    #[error("{0}: not a directory")]
    NotADirectory(String),
    #[error("{0}: is a directory")]
    IsADirectory(String),
    #[error("{path}: already exists with size {existing}, not {requested}")]
    SizeMismatch {
        path: String,
        existing: u64,
        requested: u64,
    },

    // --- allocation and fmaps ---
    #[error("out of space: no free run of {requested} bytes (largest free run {largest_free} bytes, {free} bytes free in all)")]
    OutOfSpace {
        requested: u64,
        largest_free: u64,
        free: u64,
    },
    #[error("invalid fmap: {0}")]
    InvalidFmap(String),
    #[error("offset {offset:#x} + {len:#x} is outside the device ({size:#x} bytes)")]
    OutOfBounds { offset: u64, len: u64, size: u64 },

    // --- devices, hosts, mounts ---
    #[error("{path}: {reason}")]
    BadDevice { path: PathBuf, reason: String },
    #[error("{path}: device is {size} bytes; famfs needs at least {min} bytes")]
    DeviceTooSmall { path: PathBuf, size: u64, min: u64 },
    #[error("memory error (poisoned memory) on device {index} in the piece at offset {offset:#x}")]
    MemoryError { index: u32, offset: u64 },
    #[error("{path}: memory error at device offset {offset:#x}{}", if *poisoned { " (hardware poison)" } else { " (bus error)" })]
    DeviceMemory {
        path: PathBuf,
        offset: u64,
        poisoned: bool,
    },
    #[error("{path}: device is in error after an earlier memory error ({})", std::io::Error::from_raw_os_error(*errno))]
    DeviceFailed { path: PathBuf, errno: i32 },
    #[error(
        "offset {offset} is at or past the end of the file ({size} bytes); famfs files never grow"
    )]
    FileTooBig { offset: u64, size: u64 },
    #[error("device {index} (uuid {uuid}) is not available: {why}")]
    DeviceMissing {
        index: u32,
        uuid: uuid::Uuid,
        why: String,
    },
    #[error("{path}: device was mapped read-only")]
    ReadOnly { path: PathBuf },
    #[error("this host ({host}) is a client; only the master ({master}) may append to the log")]
    NotMaster { host: String, master: String },
    #[error("{0}")]
    Mount(String),
    #[error("{0}: not under any famfs mount point")]
    NotFamfs(PathBuf),
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// Wraps an `io::Error` with a short description of what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The errno every front end hands an application for this error.
    ///
    /// `NotMaster` is EPERM: a client host may still write file data in
    /// place, so its file system is not read-only (EROFS); creating names
    /// is what it is not permitted to do.
    pub fn errno(&self) -> i32 {
        match self {
            Error::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
            Error::NotFound(_) => libc::ENOENT,
            Error::Exists(_) => libc::EEXIST,
            Error::NotADirectory(_) => libc::ENOTDIR,
            Error::IsADirectory(_) => libc::EISDIR,
            Error::PathTooLong { .. } => libc::ENAMETOOLONG,
            Error::InvalidPath { .. } | Error::Usage(_) => libc::EINVAL,
            Error::OutOfSpace { .. } | Error::LogFull { .. } => libc::ENOSPC,
            Error::NotMaster { .. } => libc::EPERM,
            Error::ReadOnly { .. } => libc::EROFS,
            Error::SizeMismatch { .. } => libc::EEXIST,
            Error::MemoryError { .. } => libc::EHWPOISON,
            Error::DeviceMemory { poisoned: true, .. } => libc::EHWPOISON,
            Error::DeviceMemory {
                poisoned: false, ..
            } => libc::EIO,
            Error::DeviceFailed { errno, .. } => *errno,
            Error::FileTooBig { .. } => libc::EFBIG,
            Error::NotFamfs(_) => libc::ENOENT,
            _ => libc::EIO,
        }
    }
}

impl From<&Error> for nix::errno::Errno {
    fn from(e: &Error) -> Self {
        nix::errno::Errno::from_raw(e.errno())
    }
}

impl From<nix::Error> for Error {
    fn from(e: nix::Error) -> Self {
        Error::io("system call", io::Error::from_raw_os_error(e as i32))
    }
}
