//! What `stat`, `statx`, `statfs` and `access` report for famfs nodes.

use super::mount::{InfoKind, Mount, NodeInfo};
use super::SysResult;
use famfs_core::format::STATFS_MAGIC;
use famfs_core::namespace::Meta;
use nix::errno::Errno;
use std::sync::atomic::{AtomicU8, Ordering};

/// famfs files are mapped in 2 MiB pages; that is the I/O size to advertise.
pub const BLKSIZE: i64 = 2 << 20;

/// The longest name a famfs log entry holds.
const NAME_MAX: i64 = 79;

/// Fills a `struct stat` for `node` of `mount`.
pub fn stat(mount: &Mount, node: &NodeInfo) -> libc::stat {
    // SAFETY: struct stat is plain data; all-zero is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    st.st_dev = mount.st_dev;
    st.st_ino = node.ino;
    st.st_uid = node.meta.uid;
    st.st_gid = node.meta.gid;
    st.st_blksize = BLKSIZE;
    let t = mount.entry.mount_time as i64;
    st.st_atime = t;
    st.st_mtime = t;
    st.st_ctime = t;
    match &node.kind {
        InfoKind::Dir => {
            st.st_mode = libc::S_IFDIR | (node.meta.mode & 0o7777);
            st.st_nlink = 2 + mount.subdirs(node.ino);
        }
        InfoKind::File {
            size, allocated, ..
        } => {
            st.st_mode = libc::S_IFREG | (node.meta.mode & 0o7777);
            st.st_nlink = 1;
            st.st_size = *size as i64;
            st.st_blocks = (*allocated / 512) as i64;
        }
    }
    st
}

/// Fills a `struct statx` for `node`, honouring nothing of the mask but
/// reporting what famfs knows (all basic fields).
pub fn statx(mount: &Mount, node: &NodeInfo) -> libc::statx {
    let st = stat(mount, node);
    // SAFETY: struct statx is plain data; all-zero is a valid value.
    let mut sx: libc::statx = unsafe { std::mem::zeroed() };
    sx.stx_mask = libc::STATX_BASIC_STATS;
    sx.stx_blksize = st.st_blksize as u32;
    sx.stx_nlink = st.st_nlink as u32;
    sx.stx_uid = st.st_uid;
    sx.stx_gid = st.st_gid;
    sx.stx_mode = st.st_mode as u16;
    sx.stx_ino = st.st_ino;
    sx.stx_size = st.st_size as u64;
    sx.stx_blocks = st.st_blocks as u64;
    // SAFETY: plain data; all-zero is valid.
    let mut ts: libc::statx_timestamp = unsafe { std::mem::zeroed() };
    ts.tv_sec = st.st_mtime;
    sx.stx_atime = ts;
    sx.stx_mtime = ts;
    sx.stx_ctime = ts;
    sx.stx_dev_major = libc::major(mount.st_dev);
    sx.stx_dev_minor = libc::minor(mount.st_dev);
    sx
}

/// Fills a `struct statfs` for `mount`.
pub fn statfs(mount: &Mount) -> SysResult<libc::statfs> {
    let (size, free, files, ffree) = mount.usage()?;
    // SAFETY: struct statfs is plain data; all-zero is a valid value.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    s.f_type = STATFS_MAGIC as _;
    s.f_bsize = BLKSIZE;
    s.f_frsize = BLKSIZE;
    s.f_blocks = size / BLKSIZE as u64;
    s.f_bfree = free / BLKSIZE as u64;
    s.f_bavail = s.f_bfree;
    s.f_files = files;
    s.f_ffree = ffree;
    s.f_namelen = NAME_MAX;
    let u = mount.entry.fs_uuid.as_u64_pair();
    // SAFETY: fsid_t is two ints; it is plain data.
    let fsid: [i32; 2] = [(u.0 ^ u.1) as i32, ((u.0 ^ u.1) >> 32) as i32];
    // SAFETY: libc::fsid_t is `struct { int __val[2]; }`, the same layout.
    s.f_fsid = unsafe { std::mem::transmute::<[i32; 2], libc::fsid_t>(fsid) };
    Ok(s)
}

/// Who is asking: user, primary group and supplementary groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cred {
    /// Effective (or real, for access) uid.
    pub uid: u32,
    /// Effective (or real) gid.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

fn groups() -> Vec<u32> {
    // SAFETY: getgroups(0, NULL) only counts.
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    if n <= 0 {
        return Vec::new();
    }
    let mut v = vec![0 as libc::gid_t; n as usize];
    // SAFETY: `v` has room for n groups.
    let got = unsafe { libc::getgroups(n, v.as_mut_ptr()) };
    v.truncate(got.max(0) as usize);
    v
}

impl Cred {
    /// The effective credentials (open, and access with AT_EACCESS).
    pub fn effective() -> Cred {
        Cred {
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
            groups: groups(),
        }
    }

    /// The real credentials (access, faccessat without AT_EACCESS).
    pub fn real() -> Cred {
        Cred {
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            groups: groups(),
        }
    }
}

/// The process's credentials, read once and again after the shim sees a
/// set*id or setgroups call, so opens cost no credential system calls.
#[derive(Debug, Default)]
pub struct CredCache {
    creds: parking_lot::RwLock<Option<std::sync::Arc<(Cred, Cred)>>>,
    /// Whether the effective user is root, readable without the lock:
    /// [`UNKNOWN`], [`ROOT`] or [`NOT_ROOT`], kept with `creds`.
    euid_root: AtomicU8,
}

const UNKNOWN: u8 = 0;
const ROOT: u8 = 1;
const NOT_ROOT: u8 = 2;

impl CredCache {
    /// (effective, real).
    fn get(&self) -> std::sync::Arc<(Cred, Cred)> {
        if let Some(c) = self.creds.read().as_ref() {
            return c.clone();
        }
        let c = std::sync::Arc::new((Cred::effective(), Cred::real()));
        let mut g = self.creds.write();
        let root = if c.0.uid == 0 { ROOT } else { NOT_ROOT };
        self.euid_root.store(root, Ordering::Release);
        *g = Some(c.clone());
        c
    }

    /// Whether the effective user is root (who may search any directory
    /// and read or write any file): an atomic load once known.
    #[inline]
    pub fn effective_is_root(&self) -> bool {
        match self.euid_root.load(Ordering::Acquire) {
            ROOT => true,
            NOT_ROOT => false,
            _ => self.get().0.uid == 0,
        }
    }

    /// Runs `f` with the effective (or, if `real`, the real) credentials:
    /// under the read lock when they are cached (no reference count traffic
    /// on every open).
    pub fn with<R>(&self, real: bool, f: impl FnOnce(&Cred) -> R) -> R {
        if let Some(c) = self.creds.read().as_ref() {
            return f(if real { &c.1 } else { &c.0 });
        }
        let c = self.get();
        f(if real { &c.1 } else { &c.0 })
    }

    /// The credentials changed (setuid and friends).
    pub fn invalidate(&self) {
        let mut g = self.creds.write();
        self.euid_root.store(UNKNOWN, Ordering::Release);
        *g = None;
    }
}

/// [`permits`] for root.
pub fn root_permits(meta: &Meta, is_dir: bool, want: i32) -> SysResult<()> {
    if want & libc::X_OK == 0 || is_dir || meta.mode & 0o111 != 0 {
        Ok(())
    } else {
        Err(Errno::EACCES)
    }
}

/// Checks `want` (a mask of R_OK, W_OK, X_OK) against `meta`, as the kernel's
/// generic_permission: root may read and write anything and execute what
/// anyone may execute (or search any directory).
pub fn permits(meta: &Meta, is_dir: bool, cred: &Cred, want: i32) -> SysResult<()> {
    if cred.uid == 0 {
        return root_permits(meta, is_dir, want);
    }
    let want = (want & 7) as u32;
    let bits = if cred.uid == meta.uid {
        meta.mode >> 6
    } else if cred.gid == meta.gid || cred.groups.contains(&meta.gid) {
        meta.mode >> 3
    } else {
        meta.mode
    } & 7;
    if bits & want == want {
        Ok(())
    } else {
        Err(Errno::EACCES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(uid: u32, gid: u32) -> Cred {
        Cred {
            uid,
            gid,
            groups: vec![],
        }
    }

    #[test]
    fn permission_classes() {
        let m = Meta {
            uid: 10,
            gid: 20,
            mode: 0o640,
        };
        assert!(permits(&m, false, &cred(10, 0), libc::R_OK | libc::W_OK).is_ok());
        assert!(permits(&m, false, &cred(11, 20), libc::R_OK).is_ok());
        assert_eq!(
            permits(&m, false, &cred(11, 20), libc::W_OK),
            Err(Errno::EACCES)
        );
        assert_eq!(
            permits(&m, false, &cred(11, 21), libc::R_OK),
            Err(Errno::EACCES)
        );
        let mut c = cred(11, 21);
        c.groups.push(20);
        assert!(permits(&m, false, &c, libc::R_OK).is_ok());
        assert!(permits(&m, false, &cred(0, 0), libc::R_OK | libc::W_OK).is_ok());
        assert_eq!(
            permits(&m, false, &cred(0, 0), libc::X_OK),
            Err(Errno::EACCES)
        );
        assert!(permits(&m, true, &cred(0, 0), libc::X_OK).is_ok());
    }
}
