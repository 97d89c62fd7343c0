//! The POSIX view of famfs that the `LD_PRELOAD` shim serves: every mounted
//! file system of this host, path resolution, open files and their
//! descriptors, and the semantics of each call (which errno, which bytes).
//!
//! The shim only translates C calls into these methods and back; every
//! decision lives here. Methods return `Err(errno)` where the C call must
//! return -1 with that errno.
//!
//! Calls this module makes to libc (`fcntl`, `open`, `mmap`, ...) reach the
//! shim's hooks again; the shim passes calls made while it is already
//! inside a hook straight to libc, so they are served by the kernel.

#![warn(missing_docs)]

mod copy;
mod fdtable;
mod file;
mod inherit;
mod loadable;
mod mapping;
mod mount;
mod mount_names;
mod names;
mod recycle;
mod resolve;
mod size;
pub mod stat;
mod table;
mod temp;
#[cfg(test)]
mod tests;

pub use copy::Side;
pub use famfs_core::file::FileData;
pub use fdtable::FdTable;
pub use file::{OfdState, OpenFile};
pub use mapping::Mappings;
pub use mount::{DirEntry, InfoKind, KnownNode, Mount, NodeInfo};
pub use resolve::{normalize, FamfsPath, Target};

use famfs_core::namespace::Meta;
use nix::errno::Errno;
use parking_lot::RwLock;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

/// The result of a call that fails with an errno.
pub type SysResult<T> = std::result::Result<T, Errno>;

/// A caller's file offset (`off_t`) as a famfs offset: EINVAL when
/// negative, as pread(2), pwrite(2) and copy_file_range(2) say.
#[inline]
pub fn file_offset(off: i64) -> SysResult<u64> {
    u64::try_from(off).map_err(|_| Errno::EINVAL)
}

/// The rules of open(2) for `flags` on `node`, in the kernel's order: the
/// flags against what the node is, then permission for `cred` (None: root,
/// or a front end whose kernel checked permission already, as FUSE's
/// `default_permissions` does), then O_TRUNC, which may only empty an
/// already empty file (famfs sizes never change).
pub fn check_open(
    node: &NodeInfo,
    flags: i32,
    dir_required: bool,
    cred: Option<&stat::Cred>,
) -> SysResult<()> {
    let acc = flags & libc::O_ACCMODE;
    let is_dir = node.is_dir();
    let want = if flags & libc::O_PATH != 0 {
        0
    } else {
        match acc {
            libc::O_WRONLY => libc::W_OK,
            libc::O_RDWR => libc::R_OK | libc::W_OK,
            _ => libc::R_OK,
        }
    };
    if flags & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT | libc::O_EXCL {
        return Err(Errno::EEXIST);
    }
    if !is_dir && (dir_required || flags & libc::O_DIRECTORY != 0) {
        return Err(Errno::ENOTDIR);
    }
    if want == 0 {
        return Ok(());
    }
    if is_dir && (acc != libc::O_RDONLY || flags & (libc::O_TRUNC | libc::O_CREAT) != 0) {
        return Err(Errno::EISDIR);
    }
    if want & libc::W_OK != 0 && node.is_read_only() {
        return Err(Errno::EROFS);
    }
    match cred {
        Some(c) => stat::permits(&node.meta, is_dir, c, want)?,
        None => stat::root_permits(&node.meta, is_dir, want)?,
    }
    if flags & libc::O_TRUNC != 0 {
        if let InfoKind::File { size, .. } = node.kind {
            if size > 0 {
                return Err(Errno::EPERM);
            }
        }
    }
    Ok(())
}

/// The open file for `node` of `mount`, with no descriptor and no checks
/// (see [`check_open`]): its bytes on devices mapped for writing when
/// `flags` ask to write.
pub fn open_file(mount: &Arc<Mount>, node: &KnownNode, flags: i32) -> SysResult<Arc<OpenFile>> {
    let writable = flags & libc::O_PATH == 0 && flags & libc::O_ACCMODE != libc::O_RDONLY;
    let data = mount.bytes_of(node, writable)?;
    Ok(recycle::open_file(mount, node, data, flags))
}

/// Mount table option naming the FUSE daemon that serves a mount in the
/// kernel too (`famfs mount --fuse`).
pub const FUSE_OPTION: &str = "fuse";

/// When `mount` is also a FUSE mount, the same file opened through the
/// kernel, as the descriptor the program gets: calls that escape the shim
/// (glibc's own reads of a `FILE`, a child exec'd without the shim, a raw
/// system call) then reach the same bytes through FUSE instead of failing
/// on a placeholder. The shim still serves every call it sees from memory.
/// None (use a placeholder) when there is no FUSE mount or it cannot open
/// the file (a dead daemon: ENOTCONN).
fn kernel_twin(mount: &Mount, rel: &str, flags: i32) -> Option<i32> {
    if !mount.fuse_served {
        return None;
    }
    let path = if rel.is_empty() {
        mount.mountpoint.clone()
    } else {
        format!("{}/{rel}", mount.mountpoint)
    };
    let c = std::ffi::CString::new(path).ok()?;
    // Never create or truncate through the twin: the shim decided already.
    let flags = flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC);
    let a = [
        libc::c_long::from(libc::AT_FDCWD),
        c.as_ptr() as libc::c_long,
        libc::c_long::from(flags),
        0,
        0,
        0,
    ];
    // SAFETY: openat with a valid C string, past the shim's hooks.
    let fd = unsafe { famfs_core::syscall::raw(libc::SYS_openat, a) };
    if fd < 0 {
        tracing::debug!(mount = %mount.mountpoint, rel, errno = %Errno::last(),
            "FUSE twin open failed; using a placeholder");
        return None;
    }
    Some(fd as i32)
}

/// A library result as the errno a front end returns: every conversion of
/// a `famfs_core::Error` goes through `Error::errno`, the one errno map.
#[inline]
pub(crate) fn sys<T>(r: famfs_core::Result<T>) -> SysResult<T> {
    r.map_err(|e| Errno::from(&e))
}

/// Every famfs mount of this host, as one process sees them.
pub struct Vfs {
    pub(crate) mounts: table::MountSet,
    /// The famfs descriptors of this process.
    pub fds: FdTable,
    /// The working directory when it is inside famfs (the kernel's stays
    /// where it was).
    cwd: RwLock<Option<String>>,
    /// Whether `cwd` is set, readable without the lock.
    pub(crate) cwd_in_famfs: std::sync::atomic::AtomicBool,
    /// The kernel's working directory, cached; None = ask again.
    kernel_cwd: RwLock<Option<String>>,
    /// The O_PATH descriptor every placeholder is a dup of (-1 until the
    /// first famfs open).
    template: AtomicI32,
    /// famfs file mappings in this process.
    pub mappings: Mappings,
    /// Sealed copies of famfs libraries handed to the dynamic loader.
    loadables: loadable::Loadables,
    creds: stat::CredCache,
    /// `FAMFS_DEBUG_PANIC_ON_OPEN`: a file name whose open panics, so tests
    /// can show that a panic in the shim reaches the program as EIO.
    panic_on_open: Option<String>,
}

impl std::fmt::Debug for Vfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vfs")
            .field("mounts", &self.mounts)
            .finish_non_exhaustive()
    }
}

impl Vfs {
    /// The mounts in the host's mount table (`FAMFS_MOUNTS`), watched so
    /// that mounts added or removed later are seen (see `table`). A
    /// missing or unreadable table means no mounts: every call goes to the
    /// kernel until one appears.
    pub fn from_env() -> Vfs {
        let mut vfs = Vfs::with_set(table::MountSet::from_table());
        vfs.panic_on_open = std::env::var("FAMFS_DEBUG_PANIC_ON_OPEN")
            .ok()
            .filter(|n| !n.is_empty());
        if !vfs.mounts().is_empty() {
            vfs.adopt_cwd();
            vfs.adopt_inherited();
        }
        vfs
    }

    /// A view of exactly `mounts` (tests and front ends that know their mounts).
    pub fn with_mounts(mounts: Vec<Arc<Mount>>) -> Vfs {
        Vfs::with_set(table::MountSet::fixed(mounts))
    }

    fn with_set(mounts: table::MountSet) -> Vfs {
        Vfs {
            mounts,
            fds: FdTable::default(),
            cwd: RwLock::new(None),
            cwd_in_famfs: std::sync::atomic::AtomicBool::new(false),
            kernel_cwd: RwLock::new(None),
            template: AtomicI32::new(-1),
            mappings: Mappings::default(),
            loadables: loadable::Loadables::default(),
            creds: stat::CredCache::default(),
            panic_on_open: None,
        }
    }

    /// Whether famfs may be mounted: a mount exists, or the mount table is
    /// watched for one (if not, the shim does nothing). Whether it is
    /// watched never changes, and is asked first: it is a field of the view
    /// itself, where the list of mounts is behind a pointer.
    #[inline]
    pub fn is_active(&self) -> bool {
        self.mounts.watched() || !self.mounts().is_empty()
    }

    /// The mounts this view serves now.
    #[inline]
    pub fn mounts(&self) -> &[Arc<Mount>] {
        self.mounts.list()
    }

    /// A shell that did `cd` into famfs exported PWD before exec'ing us;
    /// the kernel could not follow it there, so take PWD as the working
    /// directory.
    fn adopt_cwd(&self) {
        let Some(pwd) = std::env::var_os("PWD") else {
            return;
        };
        let pwd = Path::new(&pwd);
        if !pwd.is_absolute() {
            return;
        }
        let abs = famfs_core::path::normalize(pwd, Path::new("/"));
        if let Some((m, rel)) = self.mount_of(&abs) {
            if m.lookup(rel).is_ok_and(|n| n.is_dir()) {
                self.set_cwd(Some(abs.to_string_lossy().into_owned()));
            }
        }
    }

    fn set_cwd(&self, cwd: Option<String>) {
        let mut g = self.cwd.write();
        self.cwd_in_famfs.store(cwd.is_some(), Ordering::Release);
        *g = cwd;
    }

    /// The working directory if it is inside famfs.
    pub fn famfs_cwd(&self) -> Option<String> {
        self.cwd.read().clone()
    }

    /// The kernel's working directory (cached until the next chdir).
    pub fn kernel_cwd(&self) -> Option<String> {
        if let Some(c) = self.kernel_cwd.read().clone() {
            return Some(c);
        }
        let c = std::env::current_dir().ok()?.to_string_lossy().into_owned();
        *self.kernel_cwd.write() = Some(c.clone());
        Some(c)
    }

    /// The kernel's working directory changed (chdir to a kernel path).
    pub fn left_famfs_cwd(&self) {
        self.set_cwd(None);
        *self.kernel_cwd.write() = None;
    }

    /// `chdir` into a famfs directory.
    pub fn chdir(&self, fp: &FamfsPath) -> SysResult<()> {
        let node = self.find(fp, false)?;
        if !node.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        self.creds.with(false, |c| {
            stat::permits(&node.info.meta, true, c, libc::X_OK)
        })?;
        self.set_cwd(Some(fp.abs()));
        Ok(())
    }

    /// `fchdir` to a famfs descriptor.
    pub fn fchdir(&self, of: &OpenFile) -> SysResult<()> {
        if !of.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        self.set_cwd(Some(of.abs_path()));
        Ok(())
    }

    /// A new placeholder descriptor (close-on-exec if asked).
    fn placeholder(&self, cloexec: bool) -> SysResult<i32> {
        let mut t = self.template.load(Ordering::Acquire);
        if t < 0 {
            let mfd = inherit::memfd(b"famfs-placeholder\0")?;
            let link = std::ffi::CString::new(format!("/proc/self/fd/{mfd}")).expect("no NUL");
            // SAFETY: valid C string.
            let p = unsafe { libc::open(link.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
            t = if p >= 0 {
                // SAFETY: our memfd, no longer needed.
                unsafe { libc::close(mfd) };
                p
            } else {
                mfd
            };
            if let Err(other) =
                self.template
                    .compare_exchange(-1, t, Ordering::AcqRel, Ordering::Acquire)
            {
                // SAFETY: ours, lost the race.
                unsafe { libc::close(t) };
                t = other;
            }
        }
        let cmd = if cloexec {
            libc::F_DUPFD_CLOEXEC
        } else {
            libc::F_DUPFD
        };
        // The system call itself, not libc's fcntl: under the shim that
        // would come back through the fcntl hook for nothing.
        let a = [libc::c_long::from(t), libc::c_long::from(cmd), 0, 0, 0, 0];
        // SAFETY: F_DUPFD(_CLOEXEC) of our template descriptor.
        let fd = unsafe { famfs_core::syscall::raw(libc::SYS_fcntl, a) };
        if fd < 0 {
            Err(Errno::last())
        } else {
            Ok(fd as i32)
        }
    }

    /// Whether `fd` is the shim's own template descriptor (which must stay
    /// open: the shim refuses to close it for the application).
    #[inline]
    pub fn is_template(&self, fd: i32) -> bool {
        fd >= 0 && self.template.load(Ordering::Acquire) == fd
    }

    /// `open` of a famfs path: returns the new descriptor.
    pub fn open(&self, fp: &FamfsPath, flags: i32) -> SysResult<i32> {
        if let Some(name) = &self.panic_on_open {
            if fp.rel.rsplit('/').next() == Some(name.as_str()) {
                panic!("FAMFS_DEBUG_PANIC_ON_OPEN: opening {}", fp.abs());
            }
        }
        let node = match self.find(fp, false) {
            Ok(n) => n,
            Err(Errno::ENOENT) if flags & libc::O_CREAT != 0 => {
                // The directory must exist for the error to be about
                // creation rather than a missing path.
                let parent = fp.mount.lookup(famfs_core::path::parent(&fp.rel))?;
                if !parent.is_dir() {
                    return Err(Errno::ENOTDIR);
                }
                tracing::debug!(path = %fp.abs(), "O_CREAT of a new famfs file refused (use famfs creat/cp)");
                return Err(Errno::EPERM);
            }
            Err(e) => return Err(e),
        };
        self.open_node(fp.mount, node, flags, fp.dir_required)
    }

    /// `open` of a node found (and searched to): the flag and permission
    /// checks in the kernel's order, then a placeholder descriptor for it.
    fn open_node(
        &self,
        mount: &Arc<Mount>,
        node: &KnownNode,
        flags: i32,
        dir_required: bool,
    ) -> SysResult<i32> {
        if self.creds.effective_is_root() {
            check_open(&node.info, flags, dir_required, None)?;
        } else {
            self.creds.with(false, |c| {
                check_open(&node.info, flags, dir_required, Some(c))
            })?;
        }
        let of = open_file(mount, node, flags)?;
        if of.file().is_some() {
            famfs_core::memerr::install().map_err(|_| Errno::EIO)?;
        }
        let fd = match kernel_twin(mount, &node.rel, flags) {
            Some(fd) => fd,
            None => self.placeholder(flags & libc::O_CLOEXEC != 0)?,
        };
        tracing::debug!(path = %of.abs_path(), fd, flags, "famfs open");
        self.fds.insert(fd, of);
        Ok(fd)
    }

    /// The node a famfs path names.
    pub fn lookup<'a>(&self, fp: &FamfsPath<'a>) -> SysResult<&'a NodeInfo> {
        self.lookup_as(fp, false)
    }

    /// [`Vfs::lookup`] with the real (`real`) or effective credentials
    /// searching the directories on the way.
    fn lookup_as<'a>(&self, fp: &FamfsPath<'a>, real: bool) -> SysResult<&'a NodeInfo> {
        let n = self.find(fp, real)?;
        if fp.dir_required && !n.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(&n.info)
    }

    /// The node at `fp`, as its mount keeps it ([`Mount::node`]), under
    /// the kernel's rule for every path: each directory passed through
    /// must grant search (execute) permission to the real (`real`) or
    /// effective credentials, or EACCES, which wins over whatever the
    /// lookup found, so a directory one may not search does not even
    /// reveal whether an entry exists. Root may search anything.
    fn find<'a>(&self, fp: &FamfsPath<'a>, real: bool) -> SysResult<&'a KnownNode> {
        let found = fp.mount.node(&fp.rel);
        if real || !self.creds.effective_is_root() {
            self.creds.with(real, |c| {
                if c.uid == 0 {
                    return Ok(());
                }
                let allowed = |dir: &Meta| stat::permits(dir, true, c, libc::X_OK);
                match &found {
                    Ok(node) => node.search.iter().try_for_each(allowed),
                    Err(_) => fp.mount.check_search(&fp.rel, allowed),
                }
            })?;
        }
        found
    }

    /// `stat` of a famfs path.
    pub fn stat(&self, fp: &FamfsPath) -> SysResult<libc::stat> {
        Ok(stat::stat(fp.mount, self.lookup(fp)?))
    }

    /// `statx` of a famfs path.
    pub fn statx(&self, fp: &FamfsPath) -> SysResult<libc::statx> {
        Ok(stat::statx(fp.mount, self.lookup(fp)?))
    }

    /// `fstat` of an open famfs file: what it was opened as (a file's size
    /// and owner never change; a directory's link count is counted now).
    pub fn fstat(&self, of: &OpenFile) -> SysResult<libc::stat> {
        Ok(stat::stat(of.mount(), of.info()))
    }

    /// `statx` of an open file.
    pub fn fstatx(&self, of: &OpenFile) -> SysResult<libc::statx> {
        Ok(stat::statx(of.mount(), of.info()))
    }

    /// `access`/`faccessat`: `effective` for AT_EACCESS and euidaccess.
    pub fn access(&self, fp: &FamfsPath, mode: i32, effective: bool) -> SysResult<()> {
        if mode & !(libc::R_OK | libc::W_OK | libc::X_OK) != 0 {
            return Err(Errno::EINVAL);
        }
        let n = self.lookup_as(fp, !effective)?;
        self.creds
            .with(!effective, |c| stat::permits(&n.meta, n.is_dir(), c, mode))
    }

    /// `mkdir` of a famfs path: a new directory through the log (this host
    /// must be the master, or EPERM).
    pub fn mkdir(&self, fp: &FamfsPath, mode: u32) -> SysResult<()> {
        if fp.rel.is_empty() {
            return Err(Errno::EEXIST);
        }
        match self.find(fp, false) {
            Ok(_) => return Err(Errno::EEXIST),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let parent = fp.mount.lookup(famfs_core::path::parent(&fp.rel))?;
        if !parent.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let (uid, gid) = self.creds.with(false, |c| {
            stat::permits(&parent.meta, true, c, libc::W_OK | libc::X_OK).map(|_| (c.uid, c.gid))
        })?;
        sys(famfs_core::path::check_relpath(&fp.rel))?;
        let umask = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
        nix::sys::stat::umask(umask);
        let meta = Meta {
            uid,
            gid,
            mode: mode & 0o7777 & !umask.bits(),
        };
        fp.mount.mkdir(&fp.rel, meta)
    }

    /// `statfs` of the mount holding a famfs path or descriptor.
    pub fn statfs(&self, mount: &Mount) -> SysResult<libc::statfs> {
        stat::statfs(mount)
    }

    /// A kernel dup of famfs descriptor `old` produced `new`: it shares the
    /// open file.
    pub fn duplicated(&self, old: &Arc<OpenFile>, new: i32) {
        self.fds.insert(new, old.clone());
    }

    /// The application closed descriptors `first..=last` (close_range).
    pub fn closed_range(&self, first: u32, last: u32) {
        self.fds.remove_range(first, last);
        let t = self.template.load(Ordering::Acquire);
        if t >= 0 && (first..=last).contains(&(t as u32)) {
            let _ = self
                .template
                .compare_exchange(t, -1, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    /// The process changed its user or group ids: permission checks must
    /// read them again.
    pub fn credentials_changed(&self) {
        self.creds.invalidate();
    }

    /// Forgets a descriptor the application closed (or that dup2
    /// replaced); returns whether it was famfs.
    pub fn forget(&self, fd: i32) -> bool {
        self.fds.discard(fd)
    }
}
