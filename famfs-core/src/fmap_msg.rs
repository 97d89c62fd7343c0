//! The kernel's fmap messages: the GET_FMAP reply a famfs FUSE server sends
//! the kernel for a file, and the GET_DAXDEV reply naming a device
//! (`include/uapi/linux/fuse.h`, fmap version 1).
//!
//! Layout (little-endian):
//!
//! ```text
//! header (32):      u8 file_type, u8 reserved, u16 fmap_version,
//!                   u32 ext_type, u32 nextents, u32 reserved0,
//!                   u64 file_size, u64 reserved1
//! simple ext (24):  u32 devindex, u32 reserved, u64 offset, u64 len
//! interleaved (24): u32 nstrips, u32 chunk_size, u64 nbytes, u64 reserved,
//!                   then nstrips simple exts
//! GET_DAXDEV (280): u16 index, u16 reserved, u32 reserved2,
//!                   u64 reserved3, u64 reserved4, char name[256]
//! ```
//!
//! [`FmapMessage::decode`] checks every bound before reading and refuses
//! non-zero reserved bytes (so a message has one encoding), and
//! [`FmapMessage::validate`] applies the kernel's `famfs_fuse_meta_alloc`
//! rules (the same [`Fmap::validate`] the log path uses), so a bad fmap is
//! refused the same way from either source.

use crate::error::{Error, Result};
use crate::fmap::{Extent, Fmap, InterleavedExtent, MAX_EXTENTS};

/// The only fmap version there is.
pub const FMAP_VERSION: u16 = 1;
/// The kernel's limit on a GET_FMAP reply.
pub const MAX_MESSAGE: usize = 32768;
/// Bytes of the GET_FMAP header.
pub const HEADER_LEN: usize = 32;
/// Bytes of one simple extent (and of an interleaved extent's header).
pub const EXT_LEN: usize = 24;
/// Bytes of a GET_DAXDEV reply.
pub const DAXDEV_REPLY_LEN: usize = 280;
const NAME_LEN: usize = 256;

/// What kind of file a GET_FMAP reply describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum FileType {
    /// A regular file.
    Regular = 0,
    /// The `.meta/.superblock` file.
    Superblock = 1,
    /// The `.meta/.log` file.
    Log = 2,
}

/// A decoded GET_FMAP reply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FmapMessage {
    /// What kind of file the fmap is for.
    pub file_type: FileType,
    /// The file size in bytes.
    pub file_size: u64,
    /// The file's map.
    pub fmap: Fmap,
    /// How each interleaved extent's `nbytes` is written.
    pub nbytes: Nbytes,
}

/// What an interleaved extent's `nbytes` field holds. The kernel uses the
/// smaller of `nbytes` and the file size, so both forms mean the same map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum Nbytes {
    /// The bytes its strips hold (what this project writes).
    #[default]
    Strips,
    /// The file size (what the reference famfs encoder writes).
    FileSize,
}

fn bad(reason: impl Into<String>) -> Error {
    Error::InvalidFmap(format!("GET_FMAP message: {}", reason.into()))
}

/// A bounds-checked little-endian reader.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let end = self
            .at
            .checked_add(N)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| {
                bad(format!(
                    "{what} at byte {} runs past the end of the {}-byte message",
                    self.at,
                    self.b.len()
                ))
            })?;
        let v = self.b[self.at..end].try_into().expect("N bytes");
        self.at = end;
        Ok(v)
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take::<1>(what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(what)?))
    }

    /// A reserved field: it must be zero, so that a message has exactly
    /// one encoding (every famfs server writes zeros there).
    fn reserved<const N: usize>(&mut self, what: &str) -> Result<()> {
        let at = self.at;
        if self.take::<N>(what)? != [0u8; N] {
            return Err(bad(format!("{what} at byte {at} is not zero")));
        }
        Ok(())
    }

    fn extent(&mut self, what: &str) -> Result<Extent> {
        let devindex = self.u32(what)?;
        self.reserved::<4>(&format!("{what} reserved"))?;
        Ok(Extent {
            devindex,
            offset: self.u64(what)?,
            len: self.u64(what)?,
        })
    }
}

fn put_extent(out: &mut Vec<u8>, e: &Extent) {
    out.extend_from_slice(&e.devindex.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&e.offset.to_le_bytes());
    out.extend_from_slice(&e.len.to_le_bytes());
}

impl FmapMessage {
    /// The reply for a regular file of `file_size` bytes at `fmap`.
    pub fn regular(file_size: u64, fmap: Fmap) -> Self {
        FmapMessage {
            file_type: FileType::Regular,
            file_size,
            fmap,
            nbytes: Nbytes::Strips,
        }
    }

    /// Encodes the reply. Chunk sizes and strip counts must fit the
    /// message's u32 fields (a validated fmap's do).
    pub fn encode(&self) -> Result<Vec<u8>> {
        let (ext_type, n) = match &self.fmap {
            Fmap::Simple(e) => (0u32, e.len()),
            Fmap::Interleaved(ie) => (1u32, ie.len()),
        };
        let mut out = Vec::with_capacity(HEADER_LEN + EXT_LEN * 17);
        out.push(self.file_type as u8);
        out.push(0);
        out.extend_from_slice(&FMAP_VERSION.to_le_bytes());
        out.extend_from_slice(&ext_type.to_le_bytes());
        out.extend_from_slice(&(n as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&self.file_size.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        match &self.fmap {
            Fmap::Simple(exts) => exts.iter().for_each(|e| put_extent(&mut out, e)),
            Fmap::Interleaved(iexts) => {
                for ie in iexts {
                    let chunk = u32::try_from(ie.chunk_size)
                        .map_err(|_| bad(format!("chunk size {} exceeds u32", ie.chunk_size)))?;
                    out.extend_from_slice(&(ie.strips.len() as u32).to_le_bytes());
                    out.extend_from_slice(&chunk.to_le_bytes());
                    let nbytes = match self.nbytes {
                        Nbytes::Strips => ie.nbytes(),
                        Nbytes::FileSize => self.file_size,
                    };
                    out.extend_from_slice(&nbytes.to_le_bytes());
                    out.extend_from_slice(&0u64.to_le_bytes());
                    ie.strips.iter().for_each(|s| put_extent(&mut out, s));
                }
            }
        }
        if out.len() > MAX_MESSAGE {
            return Err(bad(format!("{} bytes exceed {MAX_MESSAGE}", out.len())));
        }
        Ok(out)
    }

    /// Decodes a reply, refusing anything malformed: a short buffer, a
    /// message over 32 KiB, a reserved field that is not zero, an unknown
    /// version, file type or extent type,
    /// extent or strip counts outside 1..=32, an interleaved extent whose
    /// nbytes is neither its strips' total nor the file size (the two
    /// encoders' forms; extents of one message must agree), or trailing
    /// bytes.
    pub fn decode(b: &[u8]) -> Result<FmapMessage> {
        if b.len() > MAX_MESSAGE {
            return Err(bad(format!("{} bytes exceed {MAX_MESSAGE}", b.len())));
        }
        let mut r = Reader { b, at: 0 };
        let file_type = match r.u8("file_type")? {
            0 => FileType::Regular,
            1 => FileType::Superblock,
            2 => FileType::Log,
            t => return Err(bad(format!("unknown file type {t}"))),
        };
        r.reserved::<1>("reserved")?;
        let version = r.u16("fmap_version")?;
        if version != FMAP_VERSION {
            return Err(bad(format!(
                "fmap version {version}, expected {FMAP_VERSION}"
            )));
        }
        let ext_type = r.u32("ext_type")?;
        let n = r.u32("nextents")? as usize;
        r.reserved::<4>("reserved0")?;
        let file_size = r.u64("file_size")?;
        r.reserved::<8>("reserved1")?;
        if n == 0 || n > MAX_EXTENTS {
            return Err(bad(format!("{n} extents (must be 1..={MAX_EXTENTS})")));
        }
        let mut form: Option<Nbytes> = None;
        let fmap = match ext_type {
            0 => Fmap::Simple(
                (0..n)
                    .map(|i| r.extent(&format!("extent {i}")))
                    .collect::<Result<_>>()?,
            ),
            1 => {
                let mut iexts = Vec::with_capacity(n);
                for i in 0..n {
                    let what = format!("interleaved extent {i}");
                    let nstrips = r.u32(&what)? as usize;
                    let chunk_size = u64::from(r.u32(&what)?);
                    let nbytes = r.u64(&what)?;
                    r.reserved::<8>(&format!("{what} reserved"))?;
                    if nstrips == 0 || nstrips > MAX_EXTENTS {
                        return Err(bad(format!(
                            "{what}: {nstrips} strips (must be 1..={MAX_EXTENTS})"
                        )));
                    }
                    let strips = (0..nstrips)
                        .map(|j| r.extent(&format!("{what} strip {j}")))
                        .collect::<Result<Vec<_>>>()?;
                    let ie = InterleavedExtent { chunk_size, strips };
                    let this = if nbytes == ie.nbytes() {
                        Nbytes::Strips
                    } else if nbytes == file_size {
                        Nbytes::FileSize
                    } else {
                        return Err(bad(format!(
                            "{what}: nbytes {nbytes} is neither what its strips hold ({}) nor the file size ({file_size})",
                            ie.nbytes()
                        )));
                    };
                    if form.is_some_and(|f| f != this) {
                        return Err(bad(format!(
                            "{what}: nbytes written in another form than before"
                        )));
                    }
                    form = Some(this);
                    iexts.push(ie);
                }
                Fmap::Interleaved(iexts)
            }
            t => return Err(bad(format!("unknown extent type {t}"))),
        };
        if r.at != b.len() {
            return Err(bad(format!(
                "{} bytes after the last extent",
                b.len() - r.at
            )));
        }
        Ok(FmapMessage {
            file_type,
            file_size,
            fmap,
            nbytes: form.unwrap_or_default(),
        })
    }

    /// The kernel's rules for the fmap it would build from this message.
    pub fn validate(&self, device_size: impl Fn(u32) -> Option<u64>) -> Result<()> {
        self.fmap.validate(self.file_size, device_size)
    }
}

/// A GET_DAXDEV reply: which device an index names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DaxdevReply {
    /// The device index the kernel asked for.
    pub index: u16,
    /// The device path (for example `/dev/dax0.0`), at most 255 bytes.
    pub name: String,
}

impl DaxdevReply {
    /// The reply's bytes (`fuse_daxdev_out`).
    pub fn encode(&self) -> Result<Vec<u8>> {
        let name = self.name.as_bytes();
        if name.len() >= NAME_LEN || name.contains(&0) {
            return Err(bad(format!(
                "device name {:?} does not fit 255 bytes",
                self.name
            )));
        }
        let mut out = vec![0u8; DAXDEV_REPLY_LEN];
        out[0..2].copy_from_slice(&self.index.to_le_bytes());
        out[24..24 + name.len()].copy_from_slice(name);
        Ok(out)
    }

    /// Decodes a reply, checking its length and name.
    pub fn decode(b: &[u8]) -> Result<DaxdevReply> {
        if b.len() != DAXDEV_REPLY_LEN {
            return Err(bad(format!(
                "GET_DAXDEV reply of {} bytes, expected {DAXDEV_REPLY_LEN}",
                b.len()
            )));
        }
        let index = u16::from_le_bytes([b[0], b[1]]);
        if b[2..24].iter().any(|&c| c != 0) {
            return Err(bad("GET_DAXDEV reply: reserved fields are not zero"));
        }
        let raw = &b[24..];
        let end = raw
            .iter()
            .position(|&c| c == 0)
            .ok_or_else(|| bad("device name is not NUL terminated"))?;
        if raw[end..].iter().any(|&c| c != 0) {
            return Err(bad("device name is not NUL padded"));
        }
        let name = std::str::from_utf8(&raw[..end])
            .map_err(|_| bad("device name is not UTF-8"))?
            .to_string();
        if usize::from(index) >= crate::fmap::MAX_DAXDEVS as usize {
            return Err(bad(format!("device index {index} is not below 24")));
        }
        Ok(DaxdevReply { index, name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn ext(devindex: u32, offset: u64, len: u64) -> Extent {
        Extent {
            devindex,
            offset,
            len,
        }
    }

    fn interleaved() -> FmapMessage {
        FmapMessage::regular(
            7 * MIB,
            Fmap::Interleaved(vec![InterleavedExtent {
                chunk_size: 2 * MIB,
                strips: vec![ext(0, 64 * MIB, 4 * MIB), ext(0, 128 * MIB, 4 * MIB)],
            }]),
        )
    }

    fn dev(i: u32) -> Option<u64> {
        (i == 0).then_some(1 << 30)
    }

    #[test]
    fn round_trips_and_byte_layout() {
        let simple = FmapMessage::regular(3 * MIB, Fmap::Simple(vec![ext(0, 16 * MIB, 4 * MIB)]));
        let b = simple.encode().unwrap();
        assert_eq!(b.len(), HEADER_LEN + EXT_LEN);
        assert_eq!(&b[0..4], &[0, 0, 1, 0], "regular file, version 1");
        assert_eq!(&b[4..12], &[0, 0, 0, 0, 1, 0, 0, 0], "simple, one extent");
        assert_eq!(u64::from_le_bytes(b[16..24].try_into().unwrap()), 3 * MIB);
        assert_eq!(u64::from_le_bytes(b[40..48].try_into().unwrap()), 16 * MIB);
        assert_eq!(FmapMessage::decode(&b).unwrap(), simple);

        let m = interleaved();
        let b = m.encode().unwrap();
        assert_eq!(b.len(), HEADER_LEN + EXT_LEN * 3);
        assert_eq!(
            u32::from_le_bytes(b[32..36].try_into().unwrap()),
            2,
            "nstrips"
        );
        assert_eq!(u32::from_le_bytes(b[36..40].try_into().unwrap()), 2 << 20);
        assert_eq!(
            u64::from_le_bytes(b[40..48].try_into().unwrap()),
            8 * MIB,
            "nbytes"
        );
        assert_eq!(FmapMessage::decode(&b).unwrap(), m);
        m.validate(dev).unwrap();
    }

    /// Each malformed message, and each kernel rule, rejected on its own.
    #[test]
    fn every_rule_rejects_a_hand_made_message() {
        let good = interleaved().encode().unwrap();
        let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
        let mut with = |what: &'static str, f: &dyn Fn(&mut Vec<u8>)| {
            let mut b = good.clone();
            f(&mut b);
            cases.push((what, b));
        };
        with("short header", &|b| b.truncate(20));
        with("short strip", &|b| b.truncate(b.len() - 1));
        with("trailing bytes", &|b| b.push(0));
        with("version 2", &|b| b[2] = 2);
        with("file type 3", &|b| b[0] = 3);
        with("extent type 2", &|b| b[4] = 2);
        with("0 extents", &|b| b[8] = 0);
        with("33 extents", &|b| b[8] = 33);
        with("0 strips", &|b| b[32] = 0);
        with("33 strips", &|b| b[32] = 33);
        with("nbytes disagrees", &|b| b[40] = 1);
        with("oversized", &|b| b.resize(MAX_MESSAGE + 1, 0));
        // Reserved fields must be zero, so a decoded message re-encodes to
        // its own bytes (the fmap_msg fuzz target found them ignored).
        with("header reserved", &|b| b[1] = 1);
        with("reserved0", &|b| b[12] = 1);
        with("reserved1", &|b| b[31] = 1);
        with("interleaved reserved", &|b| b[48] = 1);
        with("strip reserved", &|b| b[60] = 1);
        for (what, b) in &cases {
            assert!(FmapMessage::decode(b).is_err(), "{what} decoded");
        }
        // Well-formed messages that break a kernel rule.
        let rule = |f: &dyn Fn(&mut FmapMessage)| {
            let mut m = interleaved();
            f(&mut m);
            let b = m.encode().unwrap();
            FmapMessage::decode(&b).unwrap().validate(dev)
        };
        fn strip0(m: &mut FmapMessage) -> &mut Extent {
            match &mut m.fmap {
                Fmap::Interleaved(ie) => &mut ie[0].strips[0],
                Fmap::Simple(_) => unreachable!(),
            }
        }
        assert!(
            rule(&|m| strip0(m).offset += 4096).is_err(),
            "unaligned offset"
        );
        assert!(
            rule(&|m| strip0(m).len += 4096).is_err(),
            "unaligned length"
        );
        assert!(rule(&|m| strip0(m).offset = 0).is_err(), "offset 0");
        assert!(
            rule(&|m| strip0(m).offset = 1 << 30).is_err(),
            "past the device end"
        );
        assert!(rule(&|m| strip0(m).devindex = 3).is_err(), "unknown device");
        assert!(rule(&|m| strip0(m).devindex = 24).is_err(), "device >= 24");
        assert!(
            rule(&|m| m.file_size = 9 * MIB).is_err(),
            "extents shorter than the file"
        );
        assert!(
            rule(&|m| if let Fmap::Interleaved(ie) = &mut m.fmap {
                ie[0].chunk_size = 3 * MIB
            })
            .is_err(),
            "chunk not 2 MiB aligned"
        );
        assert!(rule(&|_| ()).is_ok());
    }

    #[test]
    fn daxdev_reply() {
        let r = DaxdevReply {
            index: 3,
            name: "/dev/dax1.0".into(),
        };
        let b = r.encode().unwrap();
        assert_eq!(b.len(), DAXDEV_REPLY_LEN);
        assert_eq!(DaxdevReply::decode(&b).unwrap(), r);
        let mut no_nul = b.clone();
        no_nul[24..].fill(b'a');
        assert!(DaxdevReply::decode(&no_nul).is_err());
        let mut big = b.clone();
        big[0] = 24;
        assert!(DaxdevReply::decode(&big).is_err());
        let mut reserved = b.clone();
        reserved[4] = 1;
        assert!(DaxdevReply::decode(&reserved).is_err());
        let mut tail = b.clone();
        tail[24 + r.name.len() + 1] = b'x';
        assert!(
            DaxdevReply::decode(&tail).is_err(),
            "bytes after the name's NUL"
        );
        assert!(DaxdevReply::decode(&b[..279]).is_err());
    }

    proptest::proptest! {
        /// Decoding arbitrary bytes never panics.
        #[test]
        fn decode_never_panics(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
            let _ = FmapMessage::decode(&b);
            let _ = DaxdevReply::decode(&b);
        }
    }

    /// The reference encoder writes an interleaved extent's nbytes as the
    /// file size; that decodes to the same map and re-encodes to its bytes.
    #[test]
    fn nbytes_as_the_file_size_is_accepted() {
        let ours = interleaved();
        let mut b = ours.encode().unwrap();
        b[40..48].copy_from_slice(&(7 * MIB).to_le_bytes());
        let theirs = FmapMessage::decode(&b).unwrap();
        assert_eq!(theirs.fmap, ours.fmap);
        assert_eq!(theirs.nbytes, Nbytes::FileSize);
        assert_eq!(theirs.encode().unwrap(), b);
        theirs.validate(dev).unwrap();
    }
}
