//! The in-memory namespace that log replay builds: directories and files
//! with their owner, mode, size and fmap.
//!
//! Nodes live in an arena indexed by inode number, assigned in log order, so
//! every process that replays the same log gives every file the same inode
//! number (a stable `st_ino`). Lookups walk path components from the root;
//! the log's paths are validated before they get here.

use crate::error::{Error, Result};
use crate::fmap::Fmap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

/// A directory's children by name. Hashed, not ordered: replay inserts
/// every logged name once and looks up each parent, and a hash lookup
/// costs one compare where an ordered map compared the name with several
/// others (the largest share of replay time); listings sort instead.
pub type Children = foldhash::HashMap<Arc<str>, Ino>;

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
    /// Name within the parent (empty for the root).
    pub name: Arc<str>,
    /// Owner and permissions.
    pub meta: Meta,
    /// The log entry that created it (None for the root).
    pub log_index: Option<u64>,
    /// Directory or file.
    pub kind: NodeKind,
}

impl Node {
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
}

impl Namespace {
    /// An empty namespace whose root has `root` ownership and mode.
    pub fn new(root: Meta) -> Self {
        Namespace {
            nodes: vec![Node {
                ino: ROOT_INO,
                parent: ROOT_INO,
                name: Arc::from(""),
                meta: root,
                log_index: None,
                kind: NodeKind::Dir {
                    children: Children::default(),
                },
            }],
            files: 0,
            dirs: 0,
        }
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
                NodeKind::Dir { children } => match children.get(comp) {
                    Some(&ino) => node = self.get(ino).expect("child inode exists"),
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

    /// Children of a directory in no particular order (for counting:
    /// nothing is sorted or allocated).
    pub fn children_unordered(&self, ino: Ino) -> Result<impl Iterator<Item = (&str, &Node)>> {
        let node = self
            .get(ino)
            .ok_or_else(|| Error::NotFound(format!("inode {ino}")))?;
        match &node.kind {
            NodeKind::Dir { children } => Ok(children
                .iter()
                .map(|(name, &ino)| (&**name, self.get(ino).expect("child exists")))),
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
        let mut parts = Vec::new();
        let mut cur = ino;
        while cur != ROOT_INO {
            let Some(n) = self.get(cur) else { break };
            parts.push(&*n.name);
            cur = n.parent;
        }
        parts.reverse();
        parts.join("/")
    }

    /// One lookup of the parent and one hash probe of its children, which
    /// both refuses an existing name and inserts the new one.
    fn insert(&mut self, relpath: &str, meta: Meta, log_index: u64, kind: NodeKind) -> Result<Ino> {
        let (parent, name) = relpath.rsplit_once('/').unwrap_or(("", relpath));
        let dir = self.lookup(parent)?.ino;
        let ino = self.nodes.len() as Ino + 1;
        // One allocation for the name, shared by the node and its key.
        let name: Arc<str> = Arc::from(name);
        match &mut self.get_mut(dir).kind {
            NodeKind::Dir { children } => match children.entry(name.clone()) {
                Entry::Occupied(_) => return Err(Error::Exists(relpath.to_string())),
                Entry::Vacant(v) => {
                    v.insert(ino);
                }
            },
            NodeKind::File(_) => return Err(Error::NotADirectory(parent.to_string())),
        }
        self.nodes.push(Node {
            ino,
            parent: dir,
            name,
            meta,
            log_index: Some(log_index),
            kind,
        });
        Ok(ino)
    }

    /// Adds a directory. Errors: the parent is missing (NotFound) or not a
    /// directory (NotADirectory), or the path exists (Exists).
    pub fn insert_dir(&mut self, relpath: &str, meta: Meta, log_index: u64) -> Result<Ino> {
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
        relpath: &str,
        meta: Meta,
        log_index: u64,
        file: FileNode,
    ) -> Result<Ino> {
        let ino = self.insert(relpath, meta, log_index, NodeKind::File(file))?;
        self.files += 1;
        Ok(ino)
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
        let d = ns.insert_dir("a", meta(), 0).unwrap();
        let b = ns.insert_dir("a/b", meta(), 1).unwrap();
        let f = ns.insert_file("a/b/f", meta(), 2, file(5)).unwrap();
        assert_eq!((d, b, f), (2, 3, 4));
        assert_eq!(ns.lookup("a/b/f").unwrap().ino, f);
        assert_eq!(ns.lookup("").unwrap().ino, ROOT_INO);
        assert_eq!(ns.path_of(f), "a/b/f");
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
        ns.insert_file("f", meta(), 0, file(1)).unwrap();
        assert!(matches!(
            ns.insert_dir("f", meta(), 1),
            Err(Error::Exists(_))
        ));
        assert!(matches!(
            ns.insert_file("f/x", meta(), 1, file(1)),
            Err(Error::NotADirectory(_))
        ));
        assert!(matches!(
            ns.insert_dir("missing/x", meta(), 1),
            Err(Error::NotFound(_))
        ));
        assert!(matches!(ns.lookup("f/x"), Err(Error::NotADirectory(p)) if p == "f"));
        assert!(matches!(ns.lookup("nope"), Err(Error::NotFound(_))));
        assert_eq!(ns.file_count(), 1);
    }
}
