//! `.meta/.superblock` and `.meta/.log`: the superblock and the log as
//! read-only files in the root of every mount, where the reference famfs
//! tools look for a file system's metadata.
//!
//! They are not in the log. Every front end answers for the same three
//! paths from the superblock: `.meta` (a directory, root's, 0755), the
//! superblock region (2 MiB from device offset 0) and the log (`log_len`
//! bytes from `log_offset`), both root's and 0444. A log entry that names
//! `.meta` is shadowed by them, and new ones are refused.

use crate::error::{Error, Result};
use crate::fmap::{Extent, Fmap};
use crate::format::{Superblock, SUPERBLOCK_REGION};
use crate::namespace::{Ino, Meta};

/// The directory's name in the mount's root.
pub const DIR_NAME: &str = ".meta";

/// One of the three metadata nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaNode {
    /// `.meta`.
    Dir,
    /// `.meta/.superblock`.
    Superblock,
    /// `.meta/.log`.
    Log,
}

/// Inode numbers far above any the log assigns (one per entry).
const FIRST_INO: Ino = u64::MAX - 3;

impl MetaNode {
    /// The node at mount-relative path `rel`, if it is one of the three.
    pub fn at(rel: &str) -> Option<MetaNode> {
        [MetaNode::Dir, MetaNode::Superblock, MetaNode::Log]
            .into_iter()
            .find(|n| n.path() == rel)
    }

    /// Its path relative to the mount point (the inverse of [`MetaNode::at`]).
    pub fn path(self) -> &'static str {
        match self {
            MetaNode::Dir => ".meta",
            MetaNode::Superblock => ".meta/.superblock",
            MetaNode::Log => ".meta/.log",
        }
    }

    /// The node with inode number `ino`, if it is one of the three.
    pub fn from_ino(ino: Ino) -> Option<MetaNode> {
        [MetaNode::Dir, MetaNode::Superblock, MetaNode::Log]
            .into_iter()
            .find(|n| n.ino() == ino)
    }

    /// Its inode number.
    pub fn ino(self) -> Ino {
        FIRST_INO
            + match self {
                MetaNode::Dir => 0,
                MetaNode::Superblock => 1,
                MetaNode::Log => 2,
            }
    }

    /// Its name within its directory.
    pub fn name(self) -> &'static str {
        match self {
            MetaNode::Dir => DIR_NAME,
            MetaNode::Superblock => ".superblock",
            MetaNode::Log => ".log",
        }
    }

    /// Whether it is the directory.
    pub fn is_dir(self) -> bool {
        self == MetaNode::Dir
    }

    /// Owner and permissions: root's, the directory 0755, the files 0444.
    pub fn meta(self) -> Meta {
        Meta {
            uid: 0,
            gid: 0,
            mode: if self.is_dir() { 0o755 } else { 0o444 },
        }
    }

    /// The file's single extent on the primary device (None for the
    /// directory).
    pub fn extent(self, sb: &Superblock) -> Option<Extent> {
        let (offset, len) = match self {
            MetaNode::Dir => return None,
            MetaNode::Superblock => (0, SUPERBLOCK_REGION),
            MetaNode::Log => (sb.log_offset, sb.log_len),
        };
        Some(Extent {
            devindex: 0,
            offset,
            len,
        })
    }

    /// The file's fmap (None for the directory).
    pub fn fmap(self, sb: &Superblock) -> Option<Fmap> {
        self.extent(sb).map(|e| Fmap::Simple(vec![e]))
    }

    /// The file's size: its extent's length (0 for the directory).
    pub fn size(self, sb: &Superblock) -> u64 {
        self.extent(sb).map_or(0, |e| e.len)
    }
}

/// What a lookup of `rel` must give when it reaches into `.meta` without
/// naming one of the three nodes: ENOTDIR below a file, ENOENT otherwise.
/// None when `rel` is not under `.meta`.
pub fn missing_below(rel: &str) -> Option<Error> {
    let rest = rel.strip_prefix(".meta/")?;
    let first = rest.split('/').next().unwrap_or_default();
    Some(if first == ".superblock" || first == ".log" {
        Error::NotADirectory(format!(".meta/{first}"))
    } else {
        Error::NotFound(rel.to_string())
    })
}

/// Refuses to log a new entry at `.meta` or below it: those names belong
/// to the metadata files.
pub fn check_not_reserved(rel: &str) -> Result<()> {
    if rel == DIR_NAME || rel.starts_with(".meta/") {
        return Err(Error::InvalidPath {
            path: rel.to_string(),
            reason: "'.meta' is reserved for the superblock and log files".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_inodes() {
        for n in [MetaNode::Dir, MetaNode::Superblock, MetaNode::Log] {
            assert_eq!(MetaNode::from_ino(n.ino()), Some(n));
            let rel = if n.is_dir() {
                DIR_NAME.to_string()
            } else {
                format!(".meta/{}", n.name())
            };
            assert_eq!(MetaNode::at(&rel), Some(n));
        }
        assert_eq!(MetaNode::at(".meta/x"), None);
        assert_eq!(MetaNode::from_ino(1), None);
        assert!(matches!(missing_below(".meta/x"), Some(Error::NotFound(_))));
        assert!(matches!(
            missing_below(".meta/.log/x"),
            Some(Error::NotADirectory(_))
        ));
        assert!(missing_below("a/.meta/x").is_none());
        assert!(check_not_reserved(".meta").is_err());
        assert!(check_not_reserved(".meta/a").is_err());
        assert!(check_not_reserved("a/.meta").is_ok());
        assert!(check_not_reserved(".metadata").is_ok());
    }
}
