//! The in-memory namespace that log replay builds: directories and files
//! with their owner, mode, size and fmap.
//!
//! Nodes live in an arena indexed by inode number, assigned in log order, so
//! every process that replays the same log gives every file the same inode
//! number (a stable `st_ino`). Lookups walk path components from the root;
//! the log's paths are validated before they get here.

use crate::error::{Error, Result};
use crate::fmap::Fmap;
use std::hash::BuildHasher;

/// A directory's children: their inode numbers, in a table hashed by
/// name. The names themselves live in the child nodes, so an entry is 16
/// bytes (the name's hash and the inode) and growing the table moves
/// entries without hashing or even reading a name again; both mattered
/// for replay, which inserts every logged name once (an ordered map
/// compared each name with several others, a map keyed by the name moved
/// 24 bytes and hashed every name again at each growth). Listings sort.
#[derive(Debug, Clone, Default)]
pub struct Children {
    table: hashbrown::HashTable<(u64, Ino)>,
}

impl PartialEq for Children {
    /// The same inodes (their names are the nodes', compared with them).
    fn eq(&self, other: &Self) -> bool {
        let inos = |c: &Children| {
            let mut v: Vec<Ino> = c.table.iter().map(|&(_, ino)| ino).collect();
            v.sort_unstable();
            v
        };
        inos(self) == inos(other)
    }
}

impl Eq for Children {}

/// An insert the namespace refused: why, and the path it was given back
/// (the node would have kept it).
#[derive(Debug)]
pub struct Refused {
    /// NotFound or NotADirectory for the parent, or Exists.
    pub error: Error,
    /// The path that was to be inserted.
    pub relpath: String,
}

/// Inode number; the root is [`ROOT_INO`].
pub type Ino = u64;

/// The mount point's own directory.
pub const ROOT_INO: Ino = 1;

/// Owner and permission bits, as logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Meta {
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Permission bits (no file type bits).
    pub mode: u32,
}

/// A regular file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileNode {
    /// Size in bytes.
    pub size: u64,
    /// The log's `fm_flags`.
    pub flags: u32,
    /// The file's map.
    pub fmap: Fmap,
    /// Why the file may not be accessed (bad fmap, allocation collision),
    /// if it may not; access then fails with EIO.
    pub error: Option<String>,
}

/// What a node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// A directory.
    Dir {
        /// Its entries by name.
        children: Children,
    },
    /// A regular file.
    File(FileNode),
}

/// One directory or file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Inode number (log order; the root is 1).
    pub ino: Ino,
    /// The parent directory's inode (the root's own for the root).
    pub parent: Ino,
    /// Path from the mount point (empty for the root); the name is its
    /// last component, from `name_at`. Replay moves the logged path here,
    /// so a node costs no allocation or copy of its own for its name.
    path: Box<str>,
    name_at: u32,
    /// Owner and permissions.
    pub meta: Meta,
    /// The log entry that created it (None for the root).
    pub log_index: Option<u64>,
    /// Directory or file.
    pub kind: NodeKind,
}

impl Node {
    /// Name within the parent (empty for the root).
    pub fn name(&self) -> &str {
        &self.path[self.name_at as usize..]
    }

    /// Path from the mount point (empty for the root).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether the node is a directory.
    pub fn is_dir(&self) -> bool {
        matches!(self.kind, NodeKind::Dir { .. })
    }

    /// The file, if the node is one.
    pub fn as_file(&self) -> Option<&FileNode> {
        match &self.kind {
            NodeKind::File(f) => Some(f),
            NodeKind::Dir { .. } => None,
        }
    }
}

/// The tree of one mounted file system.
#[derive(Debug, Clone)]
pub struct Namespace {
    nodes: Vec<Node>,
    files: u64,
    dirs: u64,
    /// Hashes names for every directory's [`Children`].
    names: foldhash::fast::RandomState,
}

impl Namespace {
    /// An empty namespace whose root has `root` ownership and mode.
    pub fn new(root: Meta) -> Self {
        Namespace {
            nodes: vec![Node {
                ino: ROOT_INO,
                parent: ROOT_INO,
                path: Box::from(""),
                name_at: 0,
                meta: root,
                log_index: None,
                kind: NodeKind::Dir {
                    children: Children::default(),
                },
            }],
            files: 0,
            dirs: 0,
            names: foldhash::fast::RandomState::default(),
        }
    }

    /// Makes room for `n` more nodes at once (replay knows how many
    /// entries it is about to apply) and maps the memory they will fill in
    /// one system call: a first touch of each fresh page, one page fault
    /// per 30 nodes, was a twentieth of replay time.
    pub fn reserve(&mut self, n: usize) {
        self.nodes.reserve(n);
        let spare = self.nodes.spare_capacity_mut();
        let n = n.min(spare.len());
        let fill = &mut spare[..n];
        populate(fill.as_mut_ptr().cast(), std::mem::size_of_val(fill));
    }

    /// The node with inode `ino`.
    pub fn get(&self, ino: Ino) -> Option<&Node> {
        ino.checked_sub(1)
            .and_then(|i| self.nodes.get(usize::try_from(i).ok()?))
    }

    fn get_mut(&mut self, ino: Ino) -> &mut Node {
        &mut self.nodes[(ino - 1) as usize]
    }

    /// The root directory.
    pub fn root(&self) -> &Node {
        &self.nodes[0]
    }

    /// Files in the namespace.
    pub fn file_count(&self) -> u64 {
        self.files
    }

    /// Directories, not counting the root.
    pub fn dir_count(&self) -> u64 {
        self.dirs
    }

    /// All nodes in inode order.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter()
    }

    /// Resolves a relative path (`""` is the root; components separated by
    /// single slashes, as [`crate::path`] produces them).
    pub fn lookup(&self, relpath: &str) -> Result<&Node> {
        let mut node = self.root();
        if relpath.is_empty() {
            return Ok(node);
        }
        for (i, comp) in relpath.split('/').enumerate() {
            match &node.kind {
                NodeKind::Dir { children } => match self.child(children, comp) {
                    Some(ino) => node = self.get(ino).expect("child inode exists"),
                    None => return Err(Error::NotFound(relpath.to_string())),
                },
                NodeKind::File(_) => {
                    let prefix: Vec<&str> = relpath.split('/').take(i).collect();
                    return Err(Error::NotADirectory(prefix.join("/")));
                }
            }
        }
        Ok(node)
    }

    /// The inode of `children`' entry named `name`.
    fn child(&self, children: &Children, name: &str) -> Option<Ino> {
        let h = self.names.hash_one(name);
        children
            .table
            .find(h, named(&self.nodes, h, name))
            .map(|&(_, ino)| ino)
    }

    /// Children of a directory in no particular order (for counting:
    /// nothing is sorted or allocated).
    pub fn children_unordered(&self, ino: Ino) -> Result<impl Iterator<Item = (&str, &Node)>> {
        let node = self
            .get(ino)
            .ok_or_else(|| Error::NotFound(format!("inode {ino}")))?;
        match &node.kind {
            NodeKind::Dir { children } => Ok(children.table.iter().map(|&(_, ino)| {
                let n = self.get(ino).expect("child exists");
                (n.name(), n)
            })),
            NodeKind::File(_) => Err(Error::NotADirectory(self.path_of(ino))),
        }
    }

    /// Children of a directory, in name order.
    pub fn children(&self, ino: Ino) -> Result<impl Iterator<Item = (&str, &Node)>> {
        let mut v: Vec<(&str, &Node)> = self.children_unordered(ino)?.collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        Ok(v.into_iter())
    }

    /// The path of a node relative to the mount point.
    pub fn path_of(&self, ino: Ino) -> String {
        self.get(ino)
            .map_or_else(String::new, |n| n.path().to_string())
    }

    /// One lookup of the parent and one probe of its children, which both
    /// refuses an existing name and inserts the new one. The node keeps
    /// `relpath` itself.
    fn insert(
        &mut self,
        relpath: String,
        meta: Meta,
        log_index: u64,
        kind: NodeKind,
    ) -> std::result::Result<Ino, Refused> {
        let name_at = relpath
            .as_bytes()
            .iter()
            .rposition(|&b| b == b'/')
            .map_or(0, |i| i + 1);
        let (parent, name) = (&relpath[..name_at.saturating_sub(1)], &relpath[name_at..]);
        let dir = match self.lookup(parent) {
            Ok(d) => d.ino,
            Err(error) => return Err(Refused { error, relpath }),
        };
        let ino = self.nodes.len() as Ino + 1;
        let h = self.names.hash_one(name);
        // The table leaves its node while it is probed, since probing
        // reads the other nodes' names.
        let mut children = match &mut self.get_mut(dir).kind {
            NodeKind::Dir { children } => std::mem::take(children),
            NodeKind::File(_) => {
                let error = Error::NotADirectory(parent.to_string());
                return Err(Refused { error, relpath });
            }
        };
        let entry = children
            .table
            .entry(h, named(&self.nodes, h, name), |&(eh, _)| eh);
        let inserted = match entry {
            hashbrown::hash_table::Entry::Occupied(_) => false,
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert((h, ino));
                true
            }
        };
        if let NodeKind::Dir { children: slot } = &mut self.get_mut(dir).kind {
            *slot = children;
        }
        if !inserted {
            let error = Error::Exists(relpath.clone());
            return Err(Refused { error, relpath });
        }
        self.nodes.push(Node {
            ino,
            parent: dir,
            path: relpath.into_boxed_str(),
            // A path is at most PATH_MAX bytes.
            name_at: name_at as u32,
            meta,
            log_index: Some(log_index),
            kind,
        });
        Ok(ino)
    }

    /// Adds a directory. Errors: the parent is missing (NotFound) or not a
    /// directory (NotADirectory), or the path exists (Exists).
    pub fn insert_dir(
        &mut self,
        relpath: String,
        meta: Meta,
        log_index: u64,
    ) -> std::result::Result<Ino, Refused> {
        let ino = self.insert(
            relpath,
            meta,
            log_index,
            NodeKind::Dir {
                children: Children::default(),
            },
        )?;
        self.dirs += 1;
        Ok(ino)
    }

    /// Adds a file, with the same errors as [`Namespace::insert_dir`].
    pub fn insert_file(
        &mut self,
        relpath: String,
        meta: Meta,
        log_index: u64,
        file: FileNode,
    ) -> std::result::Result<Ino, Refused> {
        let ino = self.insert(relpath, meta, log_index, NodeKind::File(file))?;
        self.files += 1;
        Ok(ino)
    }
}

/// Whether a children entry is the one for `name`, whose hash is `h`: the
/// hash first, then the name, which lives in the child's node.
fn named<'a>(nodes: &'a [Node], h: u64, name: &'a str) -> impl Fn(&(u64, Ino)) -> bool + 'a {
    move |&(eh, ino)| eh == h && nodes[(ino - 1) as usize].name() == name
}

/// Maps the whole pages inside `[start, start + len)` of this process's
/// writable memory (MADV_POPULATE_WRITE, Linux 5.14): what touching each
/// would do, without a fault per page. Best effort: an older kernel
/// refuses it and the pages are mapped on first touch as before.
fn populate(start: *mut u8, len: usize) {
    const PAGE: usize = 4096;
    let first = (start as usize).next_multiple_of(PAGE);
    let end = (start as usize + len) & !(PAGE - 1);
    if end > first {
        // SAFETY: the range lies inside memory this process owns and may
        // write (the caller's allocation); populating maps its pages and
        // changes no byte of it.
        unsafe {
            libc::madvise(
                first as *mut libc::c_void,
                end - first,
                libc::MADV_POPULATE_WRITE,
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fmap::Extent;

    fn meta() -> Meta {
        Meta {
            uid: 0,
            gid: 0,
            mode: 0o755,
        }
    }

    fn file(size: u64) -> FileNode {
        FileNode {
            size,
            flags: 2,
            fmap: Fmap::Simple(vec![Extent {
                devindex: 0,
                offset: 10 << 20,
                len: 2 << 20,
            }]),
            error: None,
        }
    }

    #[test]
    fn build_and_lookup() {
        let mut ns = Namespace::new(meta());
        let d = ns.insert_dir("a".into(), meta(), 0).unwrap();
        let b = ns.insert_dir("a/b".into(), meta(), 1).unwrap();
        let f = ns.insert_file("a/b/f".into(), meta(), 2, file(5)).unwrap();
        assert_eq!((d, b, f), (2, 3, 4));
        assert_eq!(ns.lookup("a/b/f").unwrap().ino, f);
        assert_eq!(ns.lookup("").unwrap().ino, ROOT_INO);
        assert_eq!(ns.path_of(f), "a/b/f");
        assert_eq!(ns.get(f).unwrap().name(), "f");
        assert_eq!(ns.get(b).unwrap().name(), "b");
        assert_eq!(ns.root().name(), "");
        assert_eq!(ns.get(f).unwrap().parent, b);
        assert_eq!(ns.file_count(), 1);
        assert_eq!(ns.dir_count(), 2);
        let names: Vec<_> = ns
            .children(d)
            .unwrap()
            .map(|(n, _)| n.to_string())
            .collect();
        assert_eq!(names, ["b"]);
        assert!(ns.children(f).is_err());
        assert!(ns.get(0).is_none());
        assert!(ns.get(99).is_none());
    }

    #[test]
    fn errors() {
        let mut ns = Namespace::new(meta());
        ns.insert_file("f".into(), meta(), 0, file(1)).unwrap();
        let r = ns.insert_dir("f".into(), meta(), 1).unwrap_err();
        assert!(matches!(r.error, Error::Exists(_)), "{r:?}");
        assert_eq!(r.relpath, "f", "the path is given back");
        let r = ns
            .insert_file("f/x".into(), meta(), 1, file(1))
            .unwrap_err();
        assert!(
            matches!(r.error, Error::NotADirectory(ref p) if p == "f"),
            "{r:?}"
        );
        assert_eq!(r.relpath, "f/x");
        let r = ns.insert_dir("missing/x".into(), meta(), 1).unwrap_err();
        assert!(matches!(r.error, Error::NotFound(_)), "{r:?}");
        assert_eq!(r.relpath, "missing/x");
        assert!(matches!(ns.lookup("f/x"), Err(Error::NotADirectory(p)) if p == "f"));
        assert!(matches!(ns.lookup("nope"), Err(Error::NotFound(_))));
        assert_eq!(ns.file_count(), 1);
    }
}
