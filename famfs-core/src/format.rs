//! The famfs on-media format, byte for byte.
//!
//! A famfs device starts with a 2 MiB superblock region (a 200-byte
//! [`Superblock`], the rest zero), followed by the metadata log: a 48-byte
//! [`LogHeader`] and an array of 544-byte entries ([`LogEntry`]). Everything
//! is little-endian with the natural C alignment of the reference tools
//! (format version 48, on-media format 2.2). Each structure encodes to, and
//! decodes from, exactly the bytes the reference tools write; decoding checks
//! magic numbers and CRCs and reports each kind of damage as its own error.
//! Field offsets are spelled out as constants so the tests can check them
//! against hand-built bytes.

use crate::error::{Error, Result};
use crate::fmap::{Extent, Fmap, InterleavedExtent};
use uuid::Uuid;

/// Superblock magic (`ts_magic`).
pub const SB_MAGIC: u64 = 0x87b2_82ff;
/// Superblock version this build reads and writes (`ts_version`).
pub const SB_VERSION: u64 = 48;
/// On-media format version, major and minor.
pub const OMF_VER_MAJOR: u32 = 2;
/// On-media format minor version.
pub const OMF_VER_MINOR: u32 = 2;
/// Encoded superblock size; the rest of the superblock region is zero.
pub const SUPERBLOCK_SIZE: usize = 200;
/// Size of the superblock region at offset 0.
pub const SUPERBLOCK_REGION: u64 = 2 << 20;
/// Offset of the log (`ts_log_offset`).
pub const LOG_OFFSET: u64 = 2 << 20;
/// Default and minimum log length (`ts_log_len`).
pub const DEFAULT_LOG_LEN: u64 = 8 << 20;
/// Allocation unit written by mkfs (`ts_alloc_unit`).
pub const ALLOC_UNIT: u64 = 2 << 20;
/// The other allocation unit readers accept.
pub const ALT_ALLOC_UNIT: u64 = 4096;
/// `statfs` f_type of a famfs mount (current and v1).
pub const STATFS_MAGIC: u64 = 0x87b2_82fd;
/// Statfs magic of version 1 file systems.
pub const STATFS_MAGIC_V1: u64 = 0x87b2_82fe;
/// `ts_sb_flags` bit for the primary superblock (mkfs leaves the field 0).
pub const SB_FLAG_PRIMARY: u32 = 1;
/// `ts_sb_flags` bit for a secondary device's superblock.
pub const SB_FLAG_SECONDARY: u32 = 2;

/// Log header magic (`famfs_log_magic`).
pub const LOG_MAGIC: u64 = 0x0bad_cafe_f00d;
/// Encoded log header size.
pub const LOG_HEADER_SIZE: u64 = 48;
/// Encoded log entry size.
pub const LOG_ENTRY_SIZE: u64 = 544;
/// Bytes reserved for a relative path, NUL included.
pub const RELPATH_BYTES: usize = 80;
/// Longest relative path: 79 bytes plus the terminating NUL.
pub const MAX_RELPATH: usize = RELPATH_BYTES - 1;
/// Simple extents one log entry holds.
pub const LOG_MAX_EXTENTS: usize = 16;
/// Strips one interleaved log extent holds.
pub const LOG_MAX_STRIPS: usize = 16;
/// `fm_flags` value the tools write: every host may read and write.
pub const FILE_FLAG_ALL_RW: u32 = 2;

/// Superblock field offsets.
pub mod sb_off {
    /// Offset of `ts_magic`.
    pub const MAGIC: usize = 0;
    /// Offset of `ts_version`.
    pub const VERSION: usize = 8;
    /// Offset of `ts_log_offset`.
    pub const LOG_OFFSET: usize = 16;
    /// Offset of `ts_log_len`.
    pub const LOG_LEN: usize = 24;
    /// Offset of `ts_alloc_unit`.
    pub const ALLOC_UNIT: usize = 32;
    /// Offset of `ts_omf_ver_major`.
    pub const OMF_MAJOR: usize = 40;
    /// Offset of `ts_omf_ver_minor`.
    pub const OMF_MINOR: usize = 44;
    /// Offset of `ts_uuid`.
    pub const UUID: usize = 48;
    /// Offset of `ts_dev_uuid`.
    pub const DEV_UUID: usize = 64;
    /// Offset of `ts_system_uuid`.
    pub const SYSTEM_UUID: usize = 80;
    /// Offset of `ts_crc`.
    pub const CRC: usize = 96;
    /// Offset of `ts_sb_flags`.
    pub const FLAGS: usize = 104;
    /// Offset of `ts_daxdev.dd_size`.
    pub const DD_SIZE: usize = 112;
    /// Offset of `ts_daxdev.dd_uuid`.
    pub const DD_UUID: usize = 120;
    /// Offset of `ts_daxdev.dd_daxdev`.
    pub const DD_NAME: usize = 136;
    /// Bytes 0..CRC_COVERS are covered by `ts_crc`.
    pub const CRC_COVERS: usize = 96;
}

/// Log header field offsets.
pub mod log_off {
    /// Offset of `famfs_log_magic`.
    pub const MAGIC: usize = 0;
    /// Offset of `famfs_log_len`.
    pub const LEN: usize = 8;
    /// Offset of `famfs_log_last_index`.
    pub const LAST_INDEX: usize = 16;
    /// Offset of `famfs_log_crc`.
    pub const CRC: usize = 24;
    /// Offset of `famfs_log_next_seqnum`.
    pub const NEXT_SEQNUM: usize = 32;
    /// Offset of `famfs_log_next_index`.
    pub const NEXT_INDEX: usize = 40;
    /// Bytes 0..CRC_COVERS are covered by `famfs_log_crc`.
    pub const CRC_COVERS: usize = 24;
}

/// Log entry field offsets (the union starts at `UNION`).
pub mod entry_off {
    /// Offset of the sequence number.
    pub const SEQNUM: usize = 0;
    /// Offset of the entry type.
    pub const TYPE: usize = 8;
    /// Offset of the union.
    pub const UNION: usize = 16;
    /// Offset of the entry CRC.
    pub const CRC: usize = 536;
    // FILE, relative to the entry
    /// Offset of `fm_size`.
    pub const FILE_SIZE: usize = 16;
    /// Offset of `fm_flags`.
    pub const FILE_FLAGS: usize = 24;
    /// Offset of `fm_uid`.
    pub const FILE_UID: usize = 28;
    /// Offset of `fm_gid`.
    pub const FILE_GID: usize = 32;
    /// Offset of `fm_mode`.
    pub const FILE_MODE: usize = 36;
    /// Offset of `fm_relpath`.
    pub const FILE_RELPATH: usize = 40;
    /// Offset of the fmap.
    pub const FILE_FMAP: usize = 120;
    // fmap, relative to the entry
    /// Offset of the fmap's `ext_type`.
    pub const FMAP_EXT_TYPE: usize = 120;
    /// Offset of `nextents` (simple) or `niext` (interleaved).
    pub const FMAP_COUNT: usize = 128;
    /// Offset of the simple extents.
    pub const FMAP_EXTENTS: usize = 136;
    /// Offset of the interleaved extent's `nstrips`.
    pub const FMAP_NSTRIPS: usize = 136;
    /// Offset of the interleaved extent's `chunk_size`.
    pub const FMAP_CHUNK: usize = 144;
    /// Offset of the interleaved extent's strips.
    pub const FMAP_STRIPS: usize = 152;
    // MKDIR
    /// Offset of a MKDIR entry's uid.
    pub const MKDIR_UID: usize = 16;
    /// Offset of a MKDIR entry's gid.
    pub const MKDIR_GID: usize = 20;
    /// Offset of a MKDIR entry's mode.
    pub const MKDIR_MODE: usize = 24;
    /// Offset of a MKDIR entry's relpath.
    pub const MKDIR_RELPATH: usize = 28;
    // ADD_DAXDEV
    /// Offset of an ADD_DAXDEV entry's `dd_size`.
    pub const DAXDEV_SIZE: usize = 16;
    /// Offset of an ADD_DAXDEV entry's `dd_uuid`.
    pub const DAXDEV_UUID: usize = 24;
    /// Offset of an ADD_DAXDEV entry's `dd_index`.
    pub const DAXDEV_INDEX: usize = 40;
}

/// Log entry type codes.
pub const ENTRY_FILE: u32 = 0;
/// A MKDIR entry.
pub const ENTRY_MKDIR: u32 = 1;
/// A DELETE entry (defined, never written).
pub const ENTRY_DELETE: u32 = 2;
/// An ADD_DAXDEV entry.
pub const ENTRY_ADD_DAXDEV: u32 = 3;
/// fmap `ext_type` codes.
pub const EXT_SIMPLE: u32 = 0;
/// An interleaved fmap.
pub const EXT_INTERLEAVED: u32 = 1;

/// Standard CRC-32 (zlib `crc32(0, buf, len)`).
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

fn get_u32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

fn get_u64(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

fn get_uuid(b: &[u8], off: usize) -> Uuid {
    Uuid::from_bytes(b[off..off + 16].try_into().expect("16 bytes"))
}

fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn put_uuid(b: &mut [u8], off: usize, u: &Uuid) {
    b[off..off + 16].copy_from_slice(u.as_bytes());
}

/// The famfs superblock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superblock {
    /// `ts_version`.
    pub version: u64,
    /// `ts_log_offset`: where the log starts on the device.
    pub log_offset: u64,
    /// `ts_log_len`: the log's length in bytes.
    pub log_len: u64,
    /// `ts_alloc_unit`.
    pub alloc_unit: u64,
    /// `ts_omf_ver_major`.
    pub omf_ver_major: u32,
    /// `ts_omf_ver_minor`.
    pub omf_ver_minor: u32,
    /// File system uuid.
    pub uuid: Uuid,
    /// Device uuid.
    pub dev_uuid: Uuid,
    /// Uuid of the master host: the only host that may append to the log.
    pub system_uuid: Uuid,
    /// `ts_sb_flags` (not covered by the CRC).
    pub flags: u32,
    /// Device size in bytes (`ts_daxdev.dd_size`, not covered by the CRC).
    pub dev_size: u64,
    /// `ts_daxdev.dd_uuid`.
    pub dd_uuid: Uuid,
    /// Device name (`ts_daxdev.dd_daxdev`), at most 63 bytes.
    pub dev_name: String,
}

/// Longest device name the superblock holds (64 bytes with the NUL).
pub const MAX_DEV_NAME: usize = 63;

impl Superblock {
    /// A fresh superblock as `famfs mkfs` writes it.
    pub fn new(
        dev_size: u64,
        log_len: u64,
        uuid: Uuid,
        dev_uuid: Uuid,
        system_uuid: Uuid,
        dev_name: &str,
    ) -> Self {
        Superblock {
            version: SB_VERSION,
            log_offset: LOG_OFFSET,
            log_len,
            alloc_unit: ALLOC_UNIT,
            omf_ver_major: OMF_VER_MAJOR,
            omf_ver_minor: OMF_VER_MINOR,
            uuid,
            dev_uuid,
            system_uuid,
            flags: 0,
            dev_size,
            dd_uuid: Uuid::nil(),
            dev_name: dev_name.to_string(),
        }
    }

    /// The superblock `famfs devadd` writes on a secondary device: no log
    /// (offset and length 0), the file system's uuid as the link to its
    /// primary, and the secondary flag.
    pub fn new_secondary(
        dev_size: u64,
        uuid: Uuid,
        dev_uuid: Uuid,
        system_uuid: Uuid,
        dev_name: &str,
    ) -> Self {
        Superblock {
            log_offset: 0,
            log_len: 0,
            flags: SB_FLAG_SECONDARY,
            ..Superblock::new(dev_size, 0, uuid, dev_uuid, system_uuid, dev_name)
        }
    }

    /// Whether this is a secondary device's superblock.
    pub fn is_secondary(&self) -> bool {
        self.flags & SB_FLAG_SECONDARY != 0
    }

    /// Encodes the 200-byte superblock, computing its CRC.
    pub fn encode(&self) -> Result<[u8; SUPERBLOCK_SIZE]> {
        if self.dev_name.len() > MAX_DEV_NAME || self.dev_name.contains('\0') {
            return Err(Error::Usage(format!(
                "device name '{}' does not fit the superblock (at most {MAX_DEV_NAME} bytes, no NUL)",
                self.dev_name
            )));
        }
        let mut b = [0u8; SUPERBLOCK_SIZE];
        put_u64(&mut b, sb_off::MAGIC, SB_MAGIC);
        put_u64(&mut b, sb_off::VERSION, self.version);
        put_u64(&mut b, sb_off::LOG_OFFSET, self.log_offset);
        put_u64(&mut b, sb_off::LOG_LEN, self.log_len);
        put_u64(&mut b, sb_off::ALLOC_UNIT, self.alloc_unit);
        put_u32(&mut b, sb_off::OMF_MAJOR, self.omf_ver_major);
        put_u32(&mut b, sb_off::OMF_MINOR, self.omf_ver_minor);
        put_uuid(&mut b, sb_off::UUID, &self.uuid);
        put_uuid(&mut b, sb_off::DEV_UUID, &self.dev_uuid);
        put_uuid(&mut b, sb_off::SYSTEM_UUID, &self.system_uuid);
        let crc = crc32(&b[..sb_off::CRC_COVERS]);
        put_u64(&mut b, sb_off::CRC, u64::from(crc));
        put_u32(&mut b, sb_off::FLAGS, self.flags);
        put_u64(&mut b, sb_off::DD_SIZE, self.dev_size);
        put_uuid(&mut b, sb_off::DD_UUID, &self.dd_uuid);
        b[sb_off::DD_NAME..sb_off::DD_NAME + self.dev_name.len()]
            .copy_from_slice(self.dev_name.as_bytes());
        Ok(b)
    }

    /// Decodes and checks a superblock. Check order follows the reference
    /// tools: magic, CRC and allocation unit make a superblock invalid; a
    /// valid one of another version is "wrong version"; then the log's
    /// placement is checked so a bad layout is never acted upon.
    pub fn decode(b: &[u8]) -> Result<Superblock> {
        if b.len() < SUPERBLOCK_SIZE {
            return Err(Error::BadSuperblockLayout(format!(
                "only {} bytes (need {SUPERBLOCK_SIZE})",
                b.len()
            )));
        }
        let magic = get_u64(b, sb_off::MAGIC);
        if magic != SB_MAGIC {
            return Err(Error::BadSuperblockMagic {
                found: magic,
                expected: SB_MAGIC,
            });
        }
        let stored = get_u64(b, sb_off::CRC);
        let computed = u64::from(crc32(&b[..sb_off::CRC_COVERS]));
        if stored != computed {
            return Err(Error::BadSuperblockCrc { stored, computed });
        }
        let alloc_unit = get_u64(b, sb_off::ALLOC_UNIT);
        if alloc_unit != ALLOC_UNIT && alloc_unit != ALT_ALLOC_UNIT {
            return Err(Error::BadAllocUnit { found: alloc_unit });
        }
        let version = get_u64(b, sb_off::VERSION);
        if version != SB_VERSION {
            return Err(Error::WrongVersion {
                found: version,
                expected: SB_VERSION,
            });
        }
        let name_bytes = &b[sb_off::DD_NAME..sb_off::DD_NAME + 64];
        let name_len = name_bytes.iter().position(|&c| c == 0).unwrap_or(64);
        let sb = Superblock {
            version,
            log_offset: get_u64(b, sb_off::LOG_OFFSET),
            log_len: get_u64(b, sb_off::LOG_LEN),
            alloc_unit,
            omf_ver_major: get_u32(b, sb_off::OMF_MAJOR),
            omf_ver_minor: get_u32(b, sb_off::OMF_MINOR),
            uuid: get_uuid(b, sb_off::UUID),
            dev_uuid: get_uuid(b, sb_off::DEV_UUID),
            system_uuid: get_uuid(b, sb_off::SYSTEM_UUID),
            flags: get_u32(b, sb_off::FLAGS),
            dev_size: get_u64(b, sb_off::DD_SIZE),
            dd_uuid: get_uuid(b, sb_off::DD_UUID),
            dev_name: String::from_utf8_lossy(&name_bytes[..name_len]).into_owned(),
        };
        sb.check_layout()?;
        Ok(sb)
    }

    /// The log must sit right after the superblock region and be a power of
    /// two of at least 8 MiB, as the reference tools require.
    /// A secondary device's superblock has no log (offset and length 0);
    /// the older form, with the primary's log fields copied, is read too.
    fn check_layout(&self) -> Result<()> {
        if self.is_secondary() && self.log_offset == 0 && self.log_len == 0 {
            return Ok(());
        }
        if self.log_offset != LOG_OFFSET {
            return Err(Error::BadSuperblockLayout(format!(
                "log offset {:#x} (expected {LOG_OFFSET:#x})",
                self.log_offset
            )));
        }
        if self.log_len < DEFAULT_LOG_LEN || !self.log_len.is_power_of_two() {
            return Err(Error::BadSuperblockLayout(format!(
                "log length {:#x} is not a power of two of at least {DEFAULT_LOG_LEN:#x}",
                self.log_len
            )));
        }
        Ok(())
    }

    /// Checks the superblock against the device it was read from: the log
    /// must fit, and the recorded size must not exceed the real one.
    pub fn check_device_size(&self, actual: u64) -> Result<()> {
        let meta_end = self.metadata_end();
        if meta_end > actual {
            return Err(Error::BadSuperblockLayout(format!(
                "log ends at {meta_end:#x}, past the end of the {actual:#x}-byte device"
            )));
        }
        if self.dev_size > actual {
            return Err(Error::BadSuperblockLayout(format!(
                "superblock records a {}-byte device but the device has {actual} bytes",
                self.dev_size
            )));
        }
        Ok(())
    }

    /// Where the metadata (superblock region + log) ends and file data may
    /// begin: after the superblock region on a device without a log.
    pub fn metadata_end(&self) -> u64 {
        if self.log_len == 0 {
            SUPERBLOCK_REGION
        } else {
            self.log_offset + self.log_len
        }
    }
}

/// The log header at the start of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogHeader {
    /// `famfs_log_len`: the log's length in bytes.
    pub len: u64,
    /// `famfs_log_last_index`: the index of the last entry slot.
    pub last_index: u64,
    /// `famfs_log_next_seqnum`.
    pub next_seqnum: u64,
    /// `famfs_log_next_index`: where the next entry goes.
    pub next_index: u64,
}

/// Index of the last entry a log of `log_len` bytes holds.
///
/// Worked example: an 8 MiB log holds (8388608 - 48) / 544 = 15420 entries,
/// so its last index is 15419.
pub const fn last_index_for(log_len: u64) -> u64 {
    (log_len - LOG_HEADER_SIZE) / LOG_ENTRY_SIZE - 1
}

impl LogHeader {
    /// An empty log of `log_len` bytes.
    pub fn new(log_len: u64) -> Self {
        LogHeader {
            len: log_len,
            last_index: last_index_for(log_len),
            next_seqnum: 0,
            next_index: 0,
        }
    }

    /// Number of entries the log holds in all.
    pub fn capacity(&self) -> u64 {
        self.last_index + 1
    }

    /// True when no entry can be appended.
    pub fn is_full(&self) -> bool {
        self.next_index > self.last_index
    }

    /// Byte offset of entry `index` relative to the log's start.
    pub fn entry_offset(index: u64) -> u64 {
        LOG_HEADER_SIZE + index * LOG_ENTRY_SIZE
    }

    /// The header's 48 bytes, CRC computed.
    pub fn encode(&self) -> [u8; LOG_HEADER_SIZE as usize] {
        let mut b = [0u8; LOG_HEADER_SIZE as usize];
        put_u64(&mut b, log_off::MAGIC, LOG_MAGIC);
        put_u64(&mut b, log_off::LEN, self.len);
        put_u64(&mut b, log_off::LAST_INDEX, self.last_index);
        let crc = crc32(&b[..log_off::CRC_COVERS]);
        put_u64(&mut b, log_off::CRC, u64::from(crc));
        put_u64(&mut b, log_off::NEXT_SEQNUM, self.next_seqnum);
        put_u64(&mut b, log_off::NEXT_INDEX, self.next_index);
        b
    }

    /// Decodes and checks a log header against the superblock's log length.
    pub fn decode(b: &[u8], sb_log_len: u64) -> Result<LogHeader> {
        if b.len() < LOG_HEADER_SIZE as usize {
            return Err(Error::BadLogHeader(format!("only {} bytes", b.len())));
        }
        let magic = get_u64(b, log_off::MAGIC);
        if magic != LOG_MAGIC {
            return Err(Error::BadLogMagic {
                found: magic,
                expected: LOG_MAGIC,
            });
        }
        let stored = get_u64(b, log_off::CRC);
        let computed = u64::from(crc32(&b[..log_off::CRC_COVERS]));
        if stored != computed {
            return Err(Error::BadLogCrc { stored, computed });
        }
        let h = LogHeader {
            len: get_u64(b, log_off::LEN),
            last_index: get_u64(b, log_off::LAST_INDEX),
            next_seqnum: get_u64(b, log_off::NEXT_SEQNUM),
            next_index: get_u64(b, log_off::NEXT_INDEX),
        };
        if h.len != sb_log_len {
            return Err(Error::BadLogHeader(format!(
                "log length {:#x} differs from the superblock's {sb_log_len:#x}",
                h.len
            )));
        }
        // last_index_for would underflow on a log without room for an entry.
        if h.len < LOG_HEADER_SIZE + LOG_ENTRY_SIZE {
            return Err(Error::BadLogHeader(format!(
                "log length {:#x} holds no entry",
                h.len
            )));
        }
        if h.last_index != last_index_for(h.len) {
            return Err(Error::BadLogHeader(format!(
                "last index {} (a {:#x}-byte log ends at index {})",
                h.last_index,
                h.len,
                last_index_for(h.len)
            )));
        }
        h.check_indexes()?;
        Ok(h)
    }

    /// `next_index` never passes the end of the log. It alone says which
    /// entries are published: an append bumps `next_seqnum` first and
    /// `next_index` last, so a writer that dies between the two leaves
    /// `next_seqnum` one ahead ([`LogHeader::is_torn`]) and the next append
    /// rewrites both.
    pub fn check_indexes(&self) -> Result<()> {
        if self.next_index > self.last_index + 1 {
            return Err(Error::BadLogHeader(format!(
                "next index {} is past the end of the log ({} entries)",
                self.next_index,
                self.capacity()
            )));
        }
        Ok(())
    }

    /// True when the counters disagree: an append was interrupted between
    /// its two header stores (harmless; fsck reports it).
    pub fn is_torn(&self) -> bool {
        self.next_seqnum != self.next_index
    }
}

/// A FILE entry: a file's metadata and its map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// `fm_size`: the file size in bytes.
    pub size: u64,
    /// `fm_flags`.
    pub flags: u32,
    /// `fm_uid`.
    pub uid: u32,
    /// `fm_gid`.
    pub gid: u32,
    /// Permission bits only (the tools log no file type bits).
    pub mode: u32,
    /// `fm_relpath`: the path relative to the mount point.
    pub relpath: String,
    /// The file's map.
    pub fmap: Fmap,
}

/// A MKDIR entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MkdirEntry {
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Permission bits.
    pub mode: u32,
    /// The path relative to the mount point.
    pub relpath: String,
}

/// An ADD_DAXDEV entry: a further device joins the file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddDaxdevEntry {
    /// `dd_size`: the device size in bytes.
    pub size: u64,
    /// `dd_uuid`: the device uuid.
    pub uuid: Uuid,
    /// `dd_index`: its index in the device table.
    pub index: u32,
}

/// One decoded log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEntry {
    /// A file.
    File(FileEntry),
    /// A directory.
    Mkdir(MkdirEntry),
    /// Defined by the format but never written by any tool; recognised so
    /// replay can report it rather than call it corrupt.
    Delete,
    /// A further device.
    AddDaxdev(AddDaxdevEntry),
}

fn bad_entry(index: u64, reason: impl Into<String>) -> Error {
    Error::BadLogEntry {
        index,
        reason: reason.into(),
    }
}

fn put_relpath(b: &mut [u8], off: usize, path: &str) -> Result<()> {
    if path.len() > MAX_RELPATH {
        return Err(Error::PathTooLong {
            path: path.to_string(),
            len: path.len(),
            max: MAX_RELPATH,
        });
    }
    if path.is_empty() || path.contains('\0') {
        return Err(Error::InvalidPath {
            path: path.to_string(),
            reason: "empty or contains NUL".into(),
        });
    }
    b[off..off + path.len()].copy_from_slice(path.as_bytes());
    Ok(())
}

fn get_relpath(b: &[u8], off: usize, index: u64) -> Result<String> {
    let raw = &b[off..off + RELPATH_BYTES];
    let len = raw
        .iter()
        .position(|&c| c == 0)
        .ok_or_else(|| bad_entry(index, "path is not NUL terminated"))?;
    if len == 0 {
        return Err(bad_entry(index, "empty path"));
    }
    String::from_utf8(raw[..len].to_vec()).map_err(|_| bad_entry(index, "path is not valid UTF-8"))
}

fn put_extent(b: &mut [u8], off: usize, e: &Extent) {
    put_u64(b, off, u64::from(e.devindex));
    put_u64(b, off + 8, e.offset);
    put_u64(b, off + 16, e.len);
}

fn get_extent(b: &[u8], off: usize, index: u64) -> Result<Extent> {
    let devindex = get_u64(b, off);
    let devindex = u32::try_from(devindex)
        .map_err(|_| bad_entry(index, format!("device index {devindex} out of range")))?;
    Ok(Extent {
        devindex,
        offset: get_u64(b, off + 8),
        len: get_u64(b, off + 16),
    })
}

fn encode_fmap(b: &mut [u8], fmap: &Fmap) -> Result<()> {
    use entry_off::*;
    match fmap {
        Fmap::Simple(exts) => {
            if exts.len() > LOG_MAX_EXTENTS {
                return Err(Error::InvalidFmap(format!(
                    "{} extents; a log entry holds at most {LOG_MAX_EXTENTS}",
                    exts.len()
                )));
            }
            put_u32(b, FMAP_EXT_TYPE, EXT_SIMPLE);
            put_u32(b, FMAP_COUNT, exts.len() as u32);
            for (i, e) in exts.iter().enumerate() {
                put_extent(b, FMAP_EXTENTS + 24 * i, e);
            }
        }
        Fmap::Interleaved(iexts) => {
            let [ie] = iexts.as_slice() else {
                return Err(Error::InvalidFmap(format!(
                    "{} interleaved extents; a log entry holds exactly one",
                    iexts.len()
                )));
            };
            if ie.strips.len() > LOG_MAX_STRIPS {
                return Err(Error::InvalidFmap(format!(
                    "{} strips; a log entry holds at most {LOG_MAX_STRIPS}",
                    ie.strips.len()
                )));
            }
            put_u32(b, FMAP_EXT_TYPE, EXT_INTERLEAVED);
            put_u32(b, FMAP_COUNT, 1);
            put_u64(b, FMAP_NSTRIPS, ie.strips.len() as u64);
            put_u64(b, FMAP_CHUNK, ie.chunk_size);
            for (i, e) in ie.strips.iter().enumerate() {
                put_extent(b, FMAP_STRIPS + 24 * i, e);
            }
        }
    }
    Ok(())
}

fn decode_fmap(b: &[u8], index: u64) -> Result<Fmap> {
    use entry_off::*;
    let ext_type = get_u32(b, FMAP_EXT_TYPE);
    let count = get_u32(b, FMAP_COUNT) as usize;
    match ext_type {
        EXT_SIMPLE => {
            if count == 0 || count > LOG_MAX_EXTENTS {
                return Err(bad_entry(
                    index,
                    format!("nextents {count} (must be 1..={LOG_MAX_EXTENTS})"),
                ));
            }
            let exts = (0..count)
                .map(|i| get_extent(b, FMAP_EXTENTS + 24 * i, index))
                .collect::<Result<Vec<_>>>()?;
            Ok(Fmap::Simple(exts))
        }
        EXT_INTERLEAVED => {
            if count != 1 {
                return Err(bad_entry(
                    index,
                    format!("niext {count} (a log entry holds exactly 1)"),
                ));
            }
            let nstrips = get_u64(b, FMAP_NSTRIPS);
            if nstrips == 0 || nstrips > LOG_MAX_STRIPS as u64 {
                return Err(bad_entry(
                    index,
                    format!("nstrips {nstrips} (must be 1..={LOG_MAX_STRIPS})"),
                ));
            }
            let chunk_size = get_u64(b, FMAP_CHUNK);
            let strips = (0..nstrips as usize)
                .map(|i| get_extent(b, FMAP_STRIPS + 24 * i, index))
                .collect::<Result<Vec<_>>>()?;
            Ok(Fmap::Interleaved(vec![InterleavedExtent {
                chunk_size,
                strips,
            }]))
        }
        t => Err(bad_entry(index, format!("unknown extent type {t}"))),
    }
}

impl LogEntry {
    /// Encodes the entry as entry number `seqnum` (seqnum equals index).
    pub fn encode(&self, seqnum: u64) -> Result<[u8; LOG_ENTRY_SIZE as usize]> {
        use entry_off::*;
        let mut b = [0u8; LOG_ENTRY_SIZE as usize];
        put_u64(&mut b, SEQNUM, seqnum);
        match self {
            LogEntry::File(f) => {
                put_u32(&mut b, TYPE, ENTRY_FILE);
                put_u64(&mut b, FILE_SIZE, f.size);
                put_u32(&mut b, FILE_FLAGS, f.flags);
                put_u32(&mut b, FILE_UID, f.uid);
                put_u32(&mut b, FILE_GID, f.gid);
                put_u32(&mut b, FILE_MODE, f.mode);
                put_relpath(&mut b, FILE_RELPATH, &f.relpath)?;
                encode_fmap(&mut b, &f.fmap)?;
            }
            LogEntry::Mkdir(d) => {
                put_u32(&mut b, TYPE, ENTRY_MKDIR);
                put_u32(&mut b, MKDIR_UID, d.uid);
                put_u32(&mut b, MKDIR_GID, d.gid);
                put_u32(&mut b, MKDIR_MODE, d.mode);
                put_relpath(&mut b, MKDIR_RELPATH, &d.relpath)?;
            }
            LogEntry::Delete => put_u32(&mut b, TYPE, ENTRY_DELETE),
            LogEntry::AddDaxdev(d) => {
                put_u32(&mut b, TYPE, ENTRY_ADD_DAXDEV);
                put_u64(&mut b, DAXDEV_SIZE, d.size);
                put_uuid(&mut b, DAXDEV_UUID, &d.uuid);
                put_u32(&mut b, DAXDEV_INDEX, d.index);
            }
        }
        let crc = crc32(&b[..CRC]);
        put_u64(&mut b, CRC, u64::from(crc));
        Ok(b)
    }

    /// Checks that entry `index` is intact: its seqnum equals its index and
    /// its CRC matches. A failure means a torn or damaged entry, which replay
    /// re-reads once and then stops at.
    pub fn check_sealed(b: &[u8], index: u64) -> Result<()> {
        use entry_off::*;
        if b.len() < LOG_ENTRY_SIZE as usize {
            return Err(bad_entry(index, format!("only {} bytes", b.len())));
        }
        let seqnum = get_u64(b, SEQNUM);
        if seqnum != index {
            return Err(bad_entry(
                index,
                format!("seqnum {seqnum} != index {index}"),
            ));
        }
        let stored = get_u64(b, CRC);
        let computed = u64::from(crc32(&b[..CRC]));
        if stored != computed {
            return Err(bad_entry(
                index,
                format!("crc mismatch (stored {stored:#010x}, computed {computed:#010x})"),
            ));
        }
        Ok(())
    }

    /// Decodes entry `index`: [`LogEntry::check_sealed`], then
    /// [`LogEntry::decode_content`].
    pub fn decode(b: &[u8], index: u64) -> Result<LogEntry> {
        Self::check_sealed(b, index)?;
        Self::decode_content(b, index)
    }

    /// Decodes the content of entry `index`, whose seal the caller has
    /// already checked (replay does, once per entry). Errors are about
    /// content (type, path, fmap shape) of an intact entry.
    pub fn decode_content(b: &[u8], index: u64) -> Result<LogEntry> {
        use entry_off::*;
        if b.len() < LOG_ENTRY_SIZE as usize {
            return Err(bad_entry(index, format!("only {} bytes", b.len())));
        }
        match get_u32(b, TYPE) {
            ENTRY_FILE => Ok(LogEntry::File(FileEntry {
                size: get_u64(b, FILE_SIZE),
                flags: get_u32(b, FILE_FLAGS),
                uid: get_u32(b, FILE_UID),
                gid: get_u32(b, FILE_GID),
                mode: get_u32(b, FILE_MODE),
                relpath: get_relpath(b, FILE_RELPATH, index)?,
                fmap: decode_fmap(b, index)?,
            })),
            ENTRY_MKDIR => Ok(LogEntry::Mkdir(MkdirEntry {
                uid: get_u32(b, MKDIR_UID),
                gid: get_u32(b, MKDIR_GID),
                mode: get_u32(b, MKDIR_MODE),
                relpath: get_relpath(b, MKDIR_RELPATH, index)?,
            })),
            ENTRY_DELETE => Ok(LogEntry::Delete),
            ENTRY_ADD_DAXDEV => Ok(LogEntry::AddDaxdev(AddDaxdevEntry {
                size: get_u64(b, DAXDEV_SIZE),
                uuid: get_uuid(b, DAXDEV_UUID),
                index: get_u32(b, DAXDEV_INDEX),
            })),
            t => Err(bad_entry(index, format!("unknown entry type {t}"))),
        }
    }

    /// The path this entry names, if any.
    pub fn relpath(&self) -> Option<&str> {
        match self {
            LogEntry::File(f) => Some(&f.relpath),
            LogEntry::Mkdir(d) => Some(&d.relpath),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
