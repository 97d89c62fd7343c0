//! The FUSE requests, each answered from famfs-vfs: lookups through
//! `Mount::node` (with its catch-up on a miss, so files other hosts log
//! appear on the next lookup), reads and writes through `OpenFile` (the
//! shim's rules: no size ever changes), listings through `Mount::list`,
//! and every call famfs refuses with the shim's errno.
//!
//! Caching: file attributes and positive entries are kept by the kernel
//! for [`Options::ttl`] (famfs sizes, owners and names never change once
//! logged); directory attributes for at most a second (a new subdirectory
//! changes the link count); negative lookups and listings are never kept. File
//! data goes through the page cache, dropped at every open (no
//! FOPEN_KEEP_CACHE): what another process or host wrote is seen from the
//! next open on, as with NFS's close-to-open rule. Writes are written
//! through to device memory before write(2) returns.

use crate::attr;
use crate::handles::{Handle, Handles};
use famfs_core::namespace::{Meta, ROOT_INO};
use famfs_vfs::{InfoKind, KnownNode, Mount, SysResult};
use fuser::{
    Errno as FuseErrno, FileHandle, FopenFlags, Generation, INodeNo, KernelConfig, LockOwner,
    OpenFlags, RenameFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry,
    ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use nix::errno::Errno;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How the server answers.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long the kernel keeps file attributes and positive entries.
    pub ttl: Duration,
    /// Threads reading requests.
    pub threads: usize,
    /// Let users other than the one mounting in (FUSE `allow_other`).
    pub allow_other: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ttl: Duration::from_secs(60),
            // One per CPU, at most 4. On 2 CPUs one serving thread read
            // 1 GiB faster (0.36 s against 0.42 s: two contend for the FUSE
            // queue's lock), but then every request waits behind a read
            // (open + close: 49 us against 14 us).
            threads: std::thread::available_parallelism().map_or(2, |n| n.get().min(4)),
            allow_other: true,
        }
    }
}

/// The FUSE file system of one famfs mount.
pub struct FamfsFuse {
    mount: Arc<Mount>,
    /// Inode number → path, for every number the kernel was given (famfs
    /// nodes never move, so a number's path never changes).
    paths: RwLock<HashMap<u64, Box<str>>>,
    handles: Handles,
    opts: Options,
}

thread_local! {
    /// A serving thread's read buffer (see `read`).
    static READ_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The longest the kernel keeps a directory's attributes.
const DIR_ATTR_TTL: Duration = Duration::from_secs(1);

/// A request's result: an errno for the kernel.
type Answer<T> = SysResult<T>;

fn fuse_errno(e: Errno) -> FuseErrno {
    FuseErrno::from_i32(e as i32)
}

/// Runs one request's work; a panic in it becomes EIO for that request
/// (the reply, dropped unsent, answers EIO) and the daemon keeps serving.
fn guarded(op: &'static str, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        tracing::error!(op, "request handler panicked; answered EIO");
    }
}

/// Logs a refusal at debug level and turns it into the kernel's errno.
fn refused(op: &'static str, ino: u64, e: Errno) -> FuseErrno {
    tracing::debug!(op, ino, errno = %e, "refused");
    fuse_errno(e)
}

/// A FUSE name as a famfs name: famfs paths are UTF-8 (ENOENT for a
/// lookup, EINVAL for a new name otherwise).
fn name_str(name: &OsStr) -> Option<&str> {
    name.to_str()
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}

impl FamfsFuse {
    /// A server for `mount`.
    pub fn new(mount: Arc<Mount>, opts: Options) -> Self {
        let mut paths = HashMap::new();
        paths.insert(ROOT_INO, Box::from(""));
        FamfsFuse {
            mount,
            paths: RwLock::new(paths),
            handles: Handles::default(),
            opts,
        }
    }

    /// The path of inode `ino`: from the lookups so far, else from the
    /// namespace (a number the kernel kept across a forget).
    fn path_of(&self, ino: u64) -> Answer<String> {
        if let Some(p) = self.paths.read().get(&ino) {
            return Ok(p.to_string());
        }
        let p = self.mount.rel_of(ino)?;
        self.paths.write().insert(ino, p.as_str().into());
        Ok(p)
    }

    /// The node of inode `ino`.
    fn node(&self, ino: u64) -> Answer<&KnownNode> {
        {
            let paths = self.paths.read();
            if let Some(p) = paths.get(&ino) {
                return self.mount.node(p);
            }
        }
        let p = self.path_of(ino)?;
        self.mount.node(&p)
    }

    /// The child `name` of directory `parent`: its node, found or caught
    /// up with the log, and its number remembered.
    fn child(&self, parent: u64, name: &OsStr) -> Answer<&KnownNode> {
        let name = name_str(name).ok_or(Errno::ENOENT)?;
        let dir = self.node(parent)?;
        if !dir.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let node = self.mount.node(&join(&dir.rel, name))?;
        let ino = node.info.ino;
        if !self.paths.read().contains_key(&ino) {
            self.paths.write().insert(ino, node.rel.clone());
        }
        Ok(node)
    }

    /// Reply TTLs for a node: (attributes, entry). A directory's link
    /// count grows when a subdirectory is logged, so its attributes are
    /// kept at most [`DIR_ATTR_TTL`]; not keeping them at all would cost a
    /// GETATTR round trip for every directory of every path the kernel
    /// walks (`default_permissions` checks search permission on fresh
    /// attributes).
    fn ttls(&self, is_dir: bool) -> (Duration, Duration) {
        let attr = if is_dir {
            self.opts.ttl.min(DIR_ATTR_TTL)
        } else {
            self.opts.ttl
        };
        (attr, self.opts.ttl)
    }

    fn entry(&self, node: &KnownNode, reply: ReplyEntry) {
        let (attr_ttl, entry_ttl) = self.ttls(node.is_dir());
        let a = attr::of(&self.mount, &node.info);
        reply.entry_with_ttls(&attr_ttl, &entry_ttl, &a, Generation(0));
    }

    fn open_handle(&self, ino: u64, flags: i32, dir: bool) -> Answer<u64> {
        let node = self.node(ino)?;
        famfs_vfs::check_open(&node.info, flags, dir, None)?;
        if dir {
            // A fresh listing at each opendir: entries logged elsewhere
            // since the last one appear (one 8-byte read when there are
            // none).
            self.mount.refresh()?;
            let list = self.mount.list(ino)?;
            return Ok(self.handles.insert(Handle::Dir(Arc::new(list))));
        }
        let of = famfs_vfs::open_file(&self.mount, node, flags)?;
        Ok(self.handles.insert(Handle::File(of)))
    }

    /// A size change by setattr: only to the size the file has, as
    /// truncate(2) and ftruncate(2) through the shim.
    fn set_size(&self, ino: u64, fh: Option<FileHandle>, size: u64) -> Answer<()> {
        let len = i64::try_from(size).map_err(|_| Errno::EFBIG)?;
        if let Some(of) = fh.and_then(|fh| self.handles.file(fh.0)) {
            return of.ftruncate(len);
        }
        match self.node(ino)?.info.kind {
            InfoKind::Dir => Err(Errno::EISDIR),
            InfoKind::File { size: have, .. } if have == size => Ok(()),
            _ => Err(Errno::EPERM),
        }
    }

    fn mkdir_as(
        &self,
        req: &Request,
        parent: u64,
        name: &OsStr,
        mode: u32,
        umask: u32,
    ) -> Answer<&KnownNode> {
        let name = name_str(name).ok_or(Errno::EINVAL)?;
        let dir = self.node(parent)?;
        if !dir.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let rel = join(&dir.rel, name);
        famfs_core::path::check_relpath(&rel).map_err(|e| Errno::from(&e))?;
        let meta = Meta {
            uid: req.uid(),
            gid: req.gid(),
            mode: mode & 0o7777 & !umask,
        };
        self.mount.mkdir(&rel, meta)?;
        self.child(parent, OsStr::new(name))
    }
}

impl fuser::Filesystem for FamfsFuse {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Large requests: famfs reads are memory copies, so fewer, larger
        // round trips are what costs least.
        let _ = config.set_max_readahead(1 << 20);
        let _ = config.set_max_write(1 << 20);
        tracing::info!(mount = %self.mount.mountpoint, "FUSE session started");
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        guarded("lookup", || match self.child(parent.0, name) {
            Ok(node) => self.entry(node, reply),
            Err(e) => reply.error(refused("lookup", parent.0, e)),
        })
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        guarded("getattr", || match self.node(ino.0) {
            Ok(node) => {
                let (ttl, _) = self.ttls(node.is_dir());
                reply.attr(&ttl, &attr::of(&self.mount, &node.info));
            }
            Err(e) => reply.error(refused("getattr", ino.0, e)),
        })
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        guarded("setattr", || {
            let r = (|| {
                let node = self.node(ino.0)?;
                // chmod, chown, utimes: famfs keeps what the log says.
                if mode.is_some()
                    || uid.is_some()
                    || gid.is_some()
                    || atime.is_some()
                    || mtime.is_some()
                    || ctime.is_some()
                {
                    return Err(Errno::EPERM);
                }
                if let Some(size) = size {
                    self.set_size(ino.0, fh, size)?;
                }
                Ok(node)
            })();
            match r {
                Ok(node) => {
                    let (ttl, _) = self.ttls(node.is_dir());
                    reply.attr(&ttl, &attr::of(&self.mount, &node.info));
                }
                Err(e) => reply.error(refused("setattr", ino.0, e)),
            }
        })
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        // famfs has no symbolic links.
        reply.error(refused("readlink", ino.0, Errno::EINVAL));
    }

    fn mknod(
        &self,
        _req: &Request,
        parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        // New files are made by `famfs creat` and `famfs cp`, which
        // allocate and log them.
        reply.error(refused("mknod", parent.0, Errno::EPERM));
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        guarded("mkdir", || {
            match self.mkdir_as(req, parent.0, name, mode, umask) {
                Ok(node) => self.entry(node, reply),
                Err(e) => reply.error(refused("mkdir", parent.0, e)),
            }
        })
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(refused("unlink", parent.0, Errno::EPERM));
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(refused("rmdir", parent.0, Errno::EPERM));
    }

    fn symlink(
        &self,
        _req: &Request,
        parent: INodeNo,
        _link_name: &OsStr,
        _target: &std::path::Path,
        reply: ReplyEntry,
    ) {
        reply.error(refused("symlink", parent.0, Errno::EPERM));
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        _name: &OsStr,
        _newparent: INodeNo,
        _newname: &OsStr,
        _flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply.error(refused("rename", parent.0, Errno::EPERM));
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        _newparent: INodeNo,
        _newname: &OsStr,
        reply: ReplyEntry,
    ) {
        reply.error(refused("link", ino.0, Errno::EPERM));
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        guarded("open", || match self.open_handle(ino.0, flags.0, false) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(refused("open", ino.0, e)),
        })
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        guarded("read", || {
            let Some(of) = self.handles.file(fh.0) else {
                return reply.error(refused("read", ino.0, Errno::EBADF));
            };
            let end = of.file().map_or(0, |f| f.size());
            let n = (size as u64).min(end.saturating_sub(offset)) as usize;
            // Each serving thread keeps its buffer: a read of up to 1 MiB
            // allocates and zeroes nothing.
            READ_BUF.with_borrow_mut(|buf| {
                if buf.len() < n {
                    buf.resize(n, 0);
                }
                match of.pread(offset, &mut buf[..n]) {
                    Ok(got) => reply.data(&buf[..got]),
                    Err(e) => reply.error(refused("read", ino.0, e)),
                }
            })
        })
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        guarded("write", || {
            let Some(of) = self.handles.file(fh.0) else {
                return reply.error(refused("write", ino.0, Errno::EBADF));
            };
            match of.pwrite(offset, data) {
                Ok(n) => reply.written(n as u32),
                Err(e) => reply.error(refused("write", ino.0, e)),
            }
        })
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // Every write reached device memory before it returned, so close
        // has nothing to report: ENOSYS tells the kernel to stop sending
        // FLUSH at every close (one round trip less per open file).
        reply.error(FuseErrno::ENOSYS);
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.handles.remove(fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        guarded("fsync", || {
            // Written back from the CPU caches, so another host reads it.
            let r = match self.handles.file(fh.0) {
                Some(of) => of
                    .file()
                    .map_or(Ok(()), |f| f.flush().map_err(|e| Errno::from(&e))),
                None => Err(Errno::EBADF),
            };
            match r {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(refused("fsync", ino.0, e)),
            }
        })
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        guarded("opendir", || {
            match self.open_handle(ino.0, flags.0 | libc::O_DIRECTORY, true) {
                Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
                Err(e) => reply.error(refused("opendir", ino.0, e)),
            }
        })
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        guarded("readdir", || {
            let Some(list) = self.handles.listing(fh.0) else {
                return reply.error(refused("readdir", ino.0, Errno::EBADF));
            };
            for (i, e) in list.iter().enumerate().skip(offset as usize) {
                if reply.add(INodeNo(e.ino), i as u64 + 1, attr::kind(e.is_dir), &e.name) {
                    break;
                }
            }
            reply.ok();
        })
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.handles.remove(fh.0);
        reply.ok();
    }

    fn statfs(&self, _req: &Request, ino: INodeNo, reply: ReplyStatfs) {
        guarded("statfs", || match famfs_vfs::stat::statfs(&self.mount) {
            Ok(s) => reply.statfs(
                s.f_blocks,
                s.f_bfree,
                s.f_bavail,
                s.f_files,
                s.f_ffree,
                s.f_bsize as u32,
                s.f_namelen as u32,
                s.f_frsize as u32,
            ),
            Err(e) => reply.error(refused("statfs", ino.0, e)),
        })
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        _name: &OsStr,
        _value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        reply.error(refused("setxattr", ino.0, Errno::ENOTSUP));
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, _name: &OsStr, _size: u32, reply: ReplyXattr) {
        reply.error(refused("getxattr", ino.0, Errno::ENODATA));
    }

    fn listxattr(&self, _req: &Request, _ino: INodeNo, size: u32, reply: ReplyXattr) {
        if size == 0 {
            reply.size(0);
        } else {
            reply.data(&[]);
        }
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(refused("removexattr", ino.0, Errno::ENOTSUP));
    }

    // No `access`: with `default_permissions` the kernel answers
    // access(2) itself from the attributes and never asks the daemon.

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: fuser::ReplyCreate,
    ) {
        reply.error(refused("create", parent.0, Errno::EPERM));
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        guarded("fallocate", || {
            let r = match self.handles.file(fh.0) {
                Some(of) => of.fallocate(mode, offset as i64, length as i64),
                None => Err(Errno::EBADF),
            };
            match r {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(refused("fallocate", ino.0, e)),
            }
        })
    }
}
