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
        /// What was being done.
        context: String,
        /// The system's error.
        #[source]
        source: io::Error,
    },

    // --- superblock ---
    /// The superblock's magic number is not famfs's: not a famfs device.
    #[error(
        "invalid superblock: bad magic {found:#x} (expected {expected:#x}); not a famfs device"
    )]
    BadSuperblockMagic {
        /// The magic number found.
        found: u64,
        /// `SB_MAGIC`.
        expected: u64,
    },
    /// The superblock's CRC does not match its bytes.
    #[error("invalid superblock: crc mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    BadSuperblockCrc {
        /// The CRC the superblock holds.
        stored: u64,
        /// The CRC of its bytes.
        computed: u64,
    },
    /// The allocation unit is neither 4 KiB nor 2 MiB.
    #[error("invalid superblock: bad allocation unit {found:#x} (must be 0x1000 or 0x200000)")]
    BadAllocUnit {
        /// The allocation unit found.
        found: u64,
    },
    /// A superblock of another format version.
    #[error("wrong superblock version {found} (this build understands version {expected})")]
    WrongVersion {
        /// The version found.
        found: u64,
        /// `SB_VERSION`.
        expected: u64,
    },
    /// The superblock's fields contradict each other or the device.
    #[error("invalid superblock: {0}")]
    BadSuperblockLayout(String),

    // --- log header and entries ---
    /// The log header's magic number is wrong.
    #[error("invalid log header: bad magic {found:#x} (expected {expected:#x})")]
    BadLogMagic {
        /// The magic number found.
        found: u64,
        /// `LOG_MAGIC`.
        expected: u64,
    },
    /// The log header's CRC does not match its bytes.
    #[error("invalid log header: crc mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    BadLogCrc {
        /// The CRC the header holds.
        stored: u64,
        /// The CRC of its bytes.
        computed: u64,
    },
    /// The log header's fields contradict each other or the superblock.
    #[error("invalid log header: {0}")]
    BadLogHeader(String),
    /// A log entry that is damaged or meaningless.
    #[error("log entry {index}: {reason}")]
    BadLogEntry {
        /// The entry's index in the log.
        index: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// Every log entry is used.
    #[error(
        "log full: all {entries} entries are used; no more files or directories can be created"
    )]
    LogFull {
        /// The log's capacity in entries.
        entries: u64,
    },

    // --- namespace and paths ---
    /// A path the log cannot hold (not relative, `.` or `..`, not UTF-8).
    #[error("invalid path '{path}': {reason}")]
    InvalidPath {
        /// The path.
        path: String,
        /// Why it is refused.
        reason: String,
    },
    /// A path longer than the log's 79 bytes (never truncated).
    #[error(
        "path '{path}' is {len} bytes relative to the mount; famfs allows at most {max} (not truncated)"
    )]
    PathTooLong {
        /// The path.
        path: String,
        /// Its length in bytes.
        len: usize,
        /// The most the log holds.
        max: usize,
    },
    /// No such file or directory (the path).
    #[error("{0}: no such file or directory")]
    NotFound(String),
    /// The name exists already (the path).
    #[error("{0}: file exists")]
    Exists(String),
    /// A component that must be a directory is not (the path).
    #[error("{0}: not a directory")]
    NotADirectory(String),
    /// A directory where a file was needed (the path).
    #[error("{0}: is a directory")]
    IsADirectory(String),
    /// A file exists at the path with another size than the one asked for.
    #[error("{path}: already exists with size {existing}, not {requested}")]
    SizeMismatch {
        /// The path.
        path: String,
        /// The size it has.
        existing: u64,
        /// The size asked for.
        requested: u64,
    },

    // --- allocation and fmaps ---
    /// No free run of device space large enough.
    #[error("out of space: no free run of {requested} bytes (largest free run {largest_free} bytes, {free} bytes free in all)")]
    OutOfSpace {
        /// Bytes asked for.
        requested: u64,
        /// The largest free run.
        largest_free: u64,
        /// All free bytes.
        free: u64,
    },
    /// A file map that breaks the kernel's rules or the device table.
    #[error("invalid fmap: {0}")]
    InvalidFmap(String),
    /// A range outside the device.
    #[error("offset {offset:#x} + {len:#x} is outside the device ({size:#x} bytes)")]
    OutOfBounds {
        /// Where the range starts on the device.
        offset: u64,
        /// Its length.
        len: u64,
        /// The device size.
        size: u64,
    },

    // --- devices, hosts, mounts ---
    /// A path that is not a usable devdax device or simulated region.
    #[error("{path}: {reason}")]
    BadDevice {
        /// The device path.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// A device below the minimum size mkfs accepts.
    #[error("{path}: device is {size} bytes; famfs needs at least {min} bytes")]
    DeviceTooSmall {
        /// The device path.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The minimum.
        min: u64,
    },
    /// A piece of a file lies in a range the simulated poison list marks.
    #[error("memory error (poisoned memory) on device {index} in the piece at offset {offset:#x}")]
    MemoryError {
        /// The device index.
        index: u32,
        /// The piece's device offset.
        offset: u64,
    },
    /// A copy from or to device memory faulted (SIGBUS).
    #[error("{path}: memory error at device offset {offset:#x}{}", if *poisoned { " (hardware poison)" } else { " (bus error)" })]
    DeviceMemory {
        /// The device path.
        path: PathBuf,
        /// The device offset of the first byte not copied.
        offset: u64,
        /// A hardware poison report (`BUS_MCEERR_*`) rather than another
        /// bus error.
        poisoned: bool,
    },
    /// A device marked in error by an earlier memory error.
    #[error("{path}: device is in error after an earlier memory error ({})", std::io::Error::from_raw_os_error(*errno))]
    DeviceFailed {
        /// The device path.
        path: PathBuf,
        /// The errno its files now fail with.
        errno: i32,
    },
    /// A write at or past the end of a file (famfs files never grow).
    #[error(
        "offset {offset} is at or past the end of the file ({size} bytes); famfs files never grow"
    )]
    FileTooBig {
        /// Where the write starts.
        offset: u64,
        /// The file size.
        size: u64,
    },
    /// A device the log names that cannot be found.
    #[error("device {index} (uuid {uuid}) is not available: {why}")]
    DeviceMissing {
        /// The device index.
        index: u32,
        /// The device uuid the log records.
        uuid: uuid::Uuid,
        /// Where it was looked for and why it was not usable.
        why: String,
    },
    /// A write through a device mapped read-only.
    #[error("{path}: device was mapped read-only")]
    ReadOnly {
        /// The device path.
        path: PathBuf,
    },
    /// This host is a client: only the master appends to the log.
    #[error("this host ({host}) is a client; only the master ({master}) may append to the log")]
    NotMaster {
        /// This host's system uuid.
        host: String,
        /// The master's system uuid.
        master: String,
    },
    /// A mount table refusal (in use, nested, not storable).
    #[error("{0}")]
    Mount(String),
    /// A path under no famfs mount point.
    #[error("{0}: not under any famfs mount point")]
    NotFamfs(PathBuf),
    /// Arguments that do not make sense together.
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
