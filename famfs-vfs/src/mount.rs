//! One mounted famfs as the shim sees it: the device mapped lazily (read-only
//! until something opens a file for writing), the namespace kept current by
//! incremental replay on a lookup miss.

use super::SysResult;
use famfs_core::dax::{Access, DaxDevice};
use famfs_core::device_set::DeviceSet;
use famfs_core::famfs::Famfs;
use famfs_core::file::FileData;
use famfs_core::fmap::Fmap;
use famfs_core::memerr::DeviceHealth;
use famfs_core::meta_files::{self, MetaNode};
use famfs_core::mounts::MountEntry;
use famfs_core::namespace::{Ino, Meta, Node, NodeKind, ROOT_INO};
use nix::errno::Errno;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, OnceLock};

/// What a lookup tells about a node, owned so no lock is held after it.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// Inode number.
    pub ino: Ino,
    /// Owner and permissions.
    pub meta: Meta,
    /// Directory or file.
    pub kind: InfoKind,
}

#[derive(Debug, Clone)]
/// Directory or file, with what a file's stat needs.
pub enum InfoKind {
    /// A directory.
    Dir,
    /// A regular file.
    File {
        /// Size in bytes.
        size: u64,
        /// Bytes allocated (a multiple of 2 MiB).
        allocated: u64,
        /// Why the file may not be read (bad fmap, collision).
        error: Option<String>,
    },
}

impl NodeInfo {
    fn of(node: &Node) -> NodeInfo {
        let kind = match &node.kind {
            NodeKind::Dir { .. } => InfoKind::Dir,
            NodeKind::File(f) => InfoKind::File {
                size: f.size,
                allocated: f.fmap.allocated_bytes(),
                error: f.error.clone(),
            },
        };
        NodeInfo {
            ino: node.ino,
            meta: node.meta,
            kind,
        }
    }

    fn of_meta(node: MetaNode, fs: &Famfs) -> NodeInfo {
        let kind = if node.is_dir() {
            InfoKind::Dir
        } else {
            let size = node.size(fs.superblock());
            InfoKind::File {
                size,
                allocated: size,
                error: None,
            }
        };
        NodeInfo {
            ino: node.ino(),
            meta: node.meta(),
            kind,
        }
    }

    /// Whether the node is a directory.
    pub fn is_dir(&self) -> bool {
        matches!(self.kind, InfoKind::Dir)
    }

    /// Whether the node is `.meta/.superblock` or `.meta/.log`, which no
    /// one may open for writing.
    pub fn is_read_only(&self) -> bool {
        MetaNode::from_ino(self.ino).is_some_and(|n| !n.is_dir())
    }
}

/// One directory entry as `readdir` and `getdents64` give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Name within the directory.
    pub name: String,
    /// Inode number.
    pub ino: Ino,
    /// Whether the entry is a directory.
    pub is_dir: bool,
}

/// A mounted file system.
pub struct Mount {
    /// Absolute, normalised mount point.
    pub mountpoint: String,
    /// Its last component, a cheap filter: a path that reaches into the
    /// mount from outside must name it.
    pub(super) name: String,
    /// The mount table entry.
    pub entry: MountEntry,
    /// `st_dev` of every file in the mount.
    pub st_dev: u64,
    /// Whether a FUSE daemon serves the mount point in the kernel too
    /// (the table's `fuse=` option), read once.
    pub fuse_served: bool,
    fs: RwLock<Option<Famfs>>,
    /// The devices mapped read-write, opened the first time a file is
    /// opened for writing.
    rw: Mutex<Option<Arc<DeviceSet>>>,
    /// Error state of each device index: a memory error on one device
    /// fails the files that touch it, and only those.
    health: Vec<Arc<DeviceHealth>>,
    /// The nodes opened so far, by path (see [`KnownNode`]).
    nodes: RwLock<HashMap<Box<[u8]>, Box<KnownNode>, foldhash::fast::RandomState>>,
    /// A direct-mapped front to `nodes`: slot `hash(path) % FRONT` holds
    /// the last node found for a path with that hash (or null), so a
    /// repeated open finds its node with a load and a compare, no lock.
    front: Box<[AtomicPtr<KnownNode>]>,
    front_hash: foldhash::fast::RandomState,
}

/// Slots in [`Mount::front`] (a power of two).
const FRONT: usize = 256;

/// A node as opens of it see it, kept by its mount from the first open of
/// its path for the mount's life: famfs nodes never change or go away once
/// logged, so an open of a known path needs no namespace lookup, and the
/// file's bytes are built once per access mode.
pub struct KnownNode {
    /// What lookup tells about the node.
    pub info: NodeInfo,
    /// Path relative to the mount point.
    pub rel: Box<str>,
    /// The root and each directory above the node: what a non-root caller
    /// must be allowed to search to reach it.
    pub search: Box<[Meta]>,
    /// Its bytes, read-only \[0\] and writable \[1\] (files only).
    data: [OnceLock<FileData>; 2],
}

impl KnownNode {
    /// Whether the node is a directory.
    pub fn is_dir(&self) -> bool {
        self.info.is_dir()
    }
}

/// An open file's hold on its node: the mount, kept alive by the `Arc`,
/// and the node and its bytes, which the mount keeps for its life (so no
/// reference count of their own is needed).
pub struct NodeRef {
    mount: Arc<Mount>,
    node: NonNull<KnownNode>,
    data: Option<NonNull<FileData>>,
}

// SAFETY: the pointers are shared references into nodes `mount` owns
// (see `Mount::known`); KnownNode and FileData are Sync.
unsafe impl Send for NodeRef {}
// SAFETY: as above.
unsafe impl Sync for NodeRef {}

impl NodeRef {
    /// `node` of `mount`, and its bytes `data` (from [`Mount::bytes_of`]).
    /// The node must be one of `mount`'s: its life is the mount's.
    pub(super) fn new(mount: &Arc<Mount>, node: &KnownNode, data: Option<&FileData>) -> Self {
        NodeRef {
            mount: mount.clone(),
            node: NonNull::from(node),
            data: data.map(NonNull::from),
        }
    }

    /// Points at another node, as [`NodeRef::new`] does, keeping the
    /// mount's reference when it is the same mount.
    pub(super) fn repoint(
        &mut self,
        mount: &Arc<Mount>,
        node: &KnownNode,
        data: Option<&FileData>,
    ) {
        if !Arc::ptr_eq(&self.mount, mount) {
            self.mount = mount.clone();
        }
        self.node = NonNull::from(node);
        self.data = data.map(NonNull::from);
    }

    pub fn mount(&self) -> &Arc<Mount> {
        &self.mount
    }

    pub fn node(&self) -> &KnownNode {
        // SAFETY: owned by `self.mount`, which this holds alive.
        unsafe { self.node.as_ref() }
    }

    /// The file's bytes (None for a directory).
    pub fn data(&self) -> Option<&FileData> {
        // SAFETY: in the node's `data`, which is never emptied; as above.
        self.data.map(|d| unsafe { d.as_ref() })
    }
}

impl std::fmt::Debug for Mount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mount")
            .field("mountpoint", &self.mountpoint)
            .field("device", &self.entry.device)
            .finish_non_exhaustive()
    }
}

impl Mount {
    /// A mount of the table entry `entry`; nothing is opened until first use.
    pub fn new(entry: MountEntry) -> Mount {
        let mountpoint = entry.mountpoint.to_string_lossy().into_owned();
        let name = mountpoint
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        // One device number per mount: a fixed major and a minor from the
        // mount point, so two mounts never share st_dev in one process.
        let minor = famfs_core::format::crc32(mountpoint.as_bytes()) & 0xf_ffff;
        Mount {
            st_dev: libc::makedev(0x3fa, minor),
            fuse_served: entry.option(super::FUSE_OPTION).is_some(),
            mountpoint,
            name,
            entry,
            fs: RwLock::new(None),
            rw: Mutex::new(None),
            health: (0..famfs_core::fmap::MAX_DAXDEVS)
                .map(|_| Arc::new(DeviceHealth::default()))
                .collect(),
            nodes: Default::default(),
            front: (0..FRONT).map(|_| AtomicPtr::default()).collect(),
            front_hash: Default::default(),
        }
    }

    /// Runs `f` on the file system, mapping the device read-only and
    /// replaying the log the first time.
    pub fn with_fs<R>(&self, f: impl FnOnce(&Famfs) -> SysResult<R>) -> SysResult<R> {
        {
            let g = self.fs.read();
            if let Some(fs) = g.as_ref() {
                return f(fs);
            }
        }
        let mut g = self.fs.write();
        if g.is_none() {
            let fs = Famfs::open(&self.entry.device, Access::ReadOnly).map_err(|e| {
                tracing::warn!(mount = %self.mountpoint, error = %e, "cannot open famfs device");
                Errno::from(&e)
            })?;
            if fs.superblock().uuid != self.entry.fs_uuid {
                tracing::warn!(
                    mount = %self.mountpoint,
                    "device {} now holds file system {}, not the mounted {}",
                    self.entry.device.display(),
                    fs.superblock().uuid,
                    self.entry.fs_uuid
                );
                return Err(Errno::EIO);
            }
            fs.add_device_paths(self.entry.secondary_devices());
            // The log's damage, once per process, for FAMFS_LOG=warn.
            let r = fs.replay();
            for p in r.problems().iter().chain(r.stopped()) {
                tracing::warn!(mount = %self.mountpoint, "log entry {}: {}", p.index, p.message);
            }
            *g = Some(fs);
        }
        let g = parking_lot::RwLockWriteGuard::downgrade(g);
        f(g.as_ref().expect("opened above"))
    }

    /// Applies entries other processes or hosts appended, if any: one
    /// 8-byte read when there are none. Returns whether anything changed.
    pub fn refresh(&self) -> SysResult<bool> {
        let news = self.with_fs(|fs| {
            fs.replay()
                .has_news(fs.device())
                .map_err(|e| Errno::from(&e))
        })?;
        if !news {
            return Ok(false);
        }
        let mut g = self.fs.write();
        let fs = g.as_mut().ok_or(Errno::EIO)?;
        let n = fs.refresh().map_err(|e| Errno::from(&e))?;
        tracing::debug!(mount = %self.mountpoint, entries = n, "replayed new log entries");
        Ok(n > 0)
    }

    /// Looks `rel` up; on a miss, catches up with the log once and retries,
    /// so files created elsewhere appear without a restart. A miss while
    /// replay is stopped at a damaged entry is EIO, not ENOENT: the path may
    /// be in the part of the log that cannot be read.
    pub fn lookup(&self, rel: &str) -> SysResult<NodeInfo> {
        let found = match self.lookup_now(rel) {
            Err(Errno::ENOENT) if self.refresh()? => self.lookup_now(rel),
            r => r,
        };
        if matches!(found, Err(Errno::ENOENT)) {
            if let Some(p) = self.with_fs(|fs| Ok(fs.replay().stopped().cloned()))? {
                tracing::warn!(mount = %self.mountpoint, rel,
                    "not found, but the log is unreadable from entry {}: {}", p.index, p.message);
                return Err(Errno::EIO);
            }
        }
        found
    }

    /// Runs `allowed` on every directory a lookup of `rel` passes through:
    /// the mount's root and each directory above the last component, as
    /// far as they exist (a missing or non-directory component is for the
    /// lookup itself to report).
    pub fn check_search(
        &self,
        rel: &str,
        mut allowed: impl FnMut(&Meta) -> SysResult<()>,
    ) -> SysResult<()> {
        if rel.is_empty() {
            return Ok(());
        }
        self.with_fs(|fs| {
            let ns = fs.replay().namespace();
            allowed(&ns.root().meta)?;
            for (end, _) in rel.match_indices('/') {
                if let Some(m) = MetaNode::at(&rel[..end]) {
                    if m.is_dir() {
                        allowed(&m.meta())?;
                    }
                    break;
                }
                match ns.lookup(&rel[..end]) {
                    Ok(n) if n.is_dir() => allowed(&n.meta)?,
                    _ => break,
                }
            }
            Ok(())
        })
    }

    fn lookup_now(&self, rel: &str) -> SysResult<NodeInfo> {
        self.with_fs(|fs| {
            if let Some(m) = MetaNode::at(rel) {
                return Ok(NodeInfo::of_meta(m, fs));
            }
            if let Some(e) = meta_files::missing_below(rel) {
                return Err(Errno::from(&e));
            }
            let node = fs
                .replay()
                .namespace()
                .lookup(rel)
                .map_err(|e| Errno::from(&e))?;
            Ok(NodeInfo::of(node))
        })
    }

    /// The path of node `ino` relative to the mount point, for front ends
    /// that name nodes by inode number (FUSE); ENOENT for a number the log
    /// has not assigned (yet).
    pub fn rel_of(&self, ino: Ino) -> SysResult<String> {
        if let Some(m) = MetaNode::from_ino(ino) {
            return Ok(m.path().to_string());
        }
        self.with_fs(|fs| {
            let ns = fs.replay().namespace();
            ns.get(ino).ok_or(Errno::ENOENT)?;
            Ok(ns.path_of(ino))
        })
    }

    /// Subdirectories of directory `ino` (its st_nlink is 2 + this). Only
    /// stat asks: counting is linear in the directory's entries.
    pub fn subdirs(&self, ino: Ino) -> u64 {
        self.with_fs(|fs| {
            let ns = fs.replay().namespace();
            let shown = |name: &str| ino != ROOT_INO || name != meta_files::DIR_NAME;
            let logged = ns
                .children_unordered(ino)
                .map(|c| c.filter(|(name, n)| n.is_dir() && shown(name)).count() as u64)
                .unwrap_or(0);
            Ok(logged + u64::from(ino == ROOT_INO))
        })
        .unwrap_or(0)
    }

    /// The fmap of file `ino` (for opening it; lookups leave it out).
    pub fn fmap_of(&self, ino: Ino) -> SysResult<Fmap> {
        self.with_fs(|fs| {
            if let Some(m) = MetaNode::from_ino(ino) {
                return m.fmap(fs.superblock()).ok_or(Errno::EISDIR);
            }
            let node = fs.replay().namespace().get(ino).ok_or(Errno::ENOENT)?;
            Ok(node.as_file().ok_or(Errno::EISDIR)?.fmap.clone())
        })
    }

    /// The entries of directory `ino`, `.` and `..` first.
    pub fn list(&self, ino: Ino) -> SysResult<Vec<DirEntry>> {
        self.with_fs(|fs| {
            if MetaNode::from_ino(ino) == Some(MetaNode::Dir) {
                return Ok(Self::list_meta_dir());
            }
            let ns = fs.replay().namespace();
            let node = ns.get(ino).ok_or(Errno::ENOENT)?;
            let mut out = vec![
                DirEntry {
                    name: ".".into(),
                    ino,
                    is_dir: true,
                },
                DirEntry {
                    name: "..".into(),
                    ino: node.parent,
                    is_dir: true,
                },
            ];
            if ino == ROOT_INO {
                out.push(DirEntry {
                    name: meta_files::DIR_NAME.into(),
                    ino: MetaNode::Dir.ino(),
                    is_dir: true,
                });
            }
            for (name, n) in ns.children(ino).map_err(|e| Errno::from(&e))? {
                if ino == ROOT_INO && name == meta_files::DIR_NAME {
                    continue;
                }
                out.push(DirEntry {
                    name: name.to_string(),
                    ino: n.ino,
                    is_dir: n.is_dir(),
                });
            }
            Ok(out)
        })
    }

    /// `.meta`'s entries: `.`, `..` (the root), `.log` and `.superblock`.
    fn list_meta_dir() -> Vec<DirEntry> {
        let entry = |name: &str, ino, is_dir| DirEntry {
            name: name.into(),
            ino,
            is_dir,
        };
        vec![
            entry(".", MetaNode::Dir.ino(), true),
            entry("..", ROOT_INO, true),
            entry(MetaNode::Log.name(), MetaNode::Log.ino(), false),
            entry(
                MetaNode::Superblock.name(),
                MetaNode::Superblock.ino(),
                false,
            ),
        ]
    }

    /// Device `index`, mapped read-write when `writable` (the first
    /// writable open maps the devices read-write: a process that only reads
    /// never does). A device the log knows but that cannot be found fails
    /// with EIO and a warning naming its uuid.
    pub fn device(&self, index: u32, writable: bool) -> SysResult<Arc<DaxDevice>> {
        let report = |e: famfs_core::Error| {
            tracing::warn!(mount = %self.mountpoint, error = %e, "cannot use a device");
            Errno::from(&e)
        };
        if !writable {
            return self.with_fs(|fs| fs.acquire_device(index).cloned().map_err(report));
        }
        let set = self.rw_devices()?;
        self.with_fs(|fs| {
            let info = fs.replay().device(index).ok_or(Errno::EIO)?;
            set.acquire(info).cloned().map_err(report)
        })
    }

    fn rw_devices(&self) -> SysResult<Arc<DeviceSet>> {
        let mut g = self.rw.lock();
        if let Some(d) = g.as_ref() {
            return Ok(d.clone());
        }
        let primary =
            DaxDevice::open(&self.entry.device, Access::ReadWrite).map_err(|e| Errno::from(&e))?;
        let set = Arc::new(DeviceSet::new(Arc::new(primary), self.entry.fs_uuid));
        set.add_candidates(self.entry.secondary_devices());
        *g = Some(set.clone());
        Ok(set)
    }

    /// The bytes an open of `node` (a node of this mount) reads and
    /// writes, on devices mapped for writing when `writable`: None for a
    /// directory. Fails with the device's error when one of them is in
    /// error, and with EIO when one cannot be found or the file's fmap is
    /// bad.
    ///
    /// A file's fmap never changes once logged (famfs has no delete,
    /// truncate or extend), so the first open builds its `FileData` and
    /// later opens share it: opening a file again allocates nothing.
    pub(super) fn bytes_of<'n>(
        &self,
        node: &'n KnownNode,
        writable: bool,
    ) -> SysResult<Option<&'n FileData>> {
        let InfoKind::File { size, error, .. } = &node.info.kind else {
            return Ok(None);
        };
        let slot = &node.data[usize::from(writable)];
        if let Some(f) = slot.get() {
            super::sys(f.check_health())?;
            return Ok(Some(f));
        }
        if let Some(why) = error {
            tracing::warn!(mount = %self.mountpoint, rel = %node.rel, why, "file has a bad fmap; refusing it");
            return Err(Errno::EIO);
        }
        let fmap = self.fmap_of(node.info.ino)?;
        let mut devices = Vec::new();
        for index in fmap.device_indexes() {
            let health = self.health_of(index)?;
            health.check()?;
            devices.push((index, self.device(index, writable)?, health.clone()));
        }
        // Two threads may both build it; one wins, the other's is dropped.
        Ok(Some(
            slot.get_or_init(|| FileData::new(devices, fmap, *size)),
        ))
    }

    /// The node at `rel` (found before, or looked up now and kept): what
    /// opening it needs without another lookup.
    pub fn node(&self, rel: &str) -> SysResult<&KnownNode> {
        if let Some(n) = self.known(rel.as_bytes()) {
            return Ok(n);
        }
        let info = self.lookup(rel)?;
        let mut search = Vec::new();
        self.check_search(rel, |meta| {
            search.push(*meta);
            Ok(())
        })?;
        let node = Box::new(KnownNode {
            info,
            rel: rel.into(),
            search: search.into(),
            data: Default::default(),
        });
        let mut nodes = self.nodes.write();
        let kept = nodes.entry(rel.as_bytes().into()).or_insert(node);
        let p: *const KnownNode = &**kept;
        drop(nodes);
        // SAFETY: see `known`.
        Ok(unsafe { &*p })
    }

    /// The node at `rel` if an earlier open found it: a hash of the path
    /// and, unless the front slot has it, one read lock.
    #[inline]
    pub fn known(&self, rel: &[u8]) -> Option<&KnownNode> {
        let slot = &self.front[self.front_hash.hash_one(rel) as usize % FRONT];
        let p = slot.load(Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: the front only holds pointers to nodes in `nodes`
            // (see below).
            let n = unsafe { &*p };
            if n.rel.as_bytes() == rel {
                return Some(n);
            }
        }
        let p: *mut KnownNode = &**self.nodes.read().get(rel)? as *const _ as *mut _;
        slot.store(p, Ordering::Release);
        // SAFETY: a node is boxed, and its box is never removed from
        // `nodes` nor replaced (`node` only inserts new paths), so it stays
        // at this address until the mount is dropped, which `&self`
        // outlives. Growing the map moves the box pointer, not the node.
        Some(unsafe { &*p })
    }

    /// `statfs` numbers: (device bytes, free bytes, log entries, free entries).
    pub fn usage(&self) -> SysResult<(u64, u64, u64, u64)> {
        self.with_fs(|fs| {
            let bm = fs.replay().bitmap(0).ok_or(Errno::EIO)?;
            let h = fs.log_header().map_err(|e| Errno::from(&e))?;
            Ok((
                fs.device().size(),
                bm.free_bytes(),
                h.capacity(),
                h.capacity() - h.next_index.min(h.capacity()),
            ))
        })
    }

    /// Creates directory `rel` through the log (this host must be the
    /// master), with the mount's own file system switched to its
    /// read-write devices: nothing is opened or replayed a second time.
    pub fn mkdir(&self, rel: &str, meta: Meta) -> SysResult<()> {
        let rw = self.rw_devices()?;
        self.with_fs(|_| Ok(()))?;
        let mut g = self.fs.write();
        let fs = g.as_mut().ok_or(Errno::EIO)?;
        if fs.device().access() != Access::ReadWrite {
            fs.use_devices(rw).map_err(|e| {
                tracing::debug!(error = %e, "mkdir: cannot use the read-write devices");
                Errno::from(&e)
            })?;
        }
        fs.mkdir(rel, meta, None).map_err(|e| {
            tracing::debug!(error = %e, "mkdir refused");
            Errno::from(&e)
        })?;
        Ok(())
    }

    /// Device `index`'s error state (files with extents on it fail with it).
    pub fn health_of(&self, index: u32) -> SysResult<&Arc<DeviceHealth>> {
        self.health.get(index as usize).ok_or(Errno::EIO)
    }
}
