//! FUSE attributes of a famfs node: the shim's stat (famfs-vfs `stat`), so
//! both front ends report the same mode, owner, size, blocks, link count
//! and times.

use famfs_vfs::{Mount, NodeInfo};
use fuser::{FileAttr, FileType, INodeNo};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The attributes of `node` of `mount`.
pub fn of(mount: &Mount, node: &NodeInfo) -> FileAttr {
    let st = famfs_vfs::stat::stat(mount, node);
    let time = |secs: i64, nsecs: i64| {
        UNIX_EPOCH + Duration::new(secs.max(0) as u64, nsecs.clamp(0, 999_999_999) as u32)
    };
    let mtime = time(st.st_mtime, st.st_mtime_nsec);
    FileAttr {
        ino: INodeNo(node.ino),
        size: st.st_size as u64,
        blocks: st.st_blocks as u64,
        atime: time(st.st_atime, st.st_atime_nsec),
        mtime,
        ctime: time(st.st_ctime, st.st_ctime_nsec),
        crtime: SystemTime::UNIX_EPOCH,
        kind: kind(node.is_dir()),
        perm: (st.st_mode & 0o7777) as u16,
        nlink: st.st_nlink as u32,
        uid: st.st_uid,
        gid: st.st_gid,
        rdev: 0,
        blksize: st.st_blksize as u32,
        flags: 0,
    }
}

/// A directory or a regular file: famfs has nothing else.
pub fn kind(is_dir: bool) -> FileType {
    if is_dir {
        FileType::Directory
    } else {
        FileType::RegularFile
    }
}
