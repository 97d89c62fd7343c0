//! The replies a famfs-enabled kernel asks a FUSE server for (the famfs
//! FUSE series V10; ../shared/famfs-format.md, "FUSE side of the kernel
//! protocol"): GET_FMAP, a file's extents, so the kernel maps the file
//! straight to dax memory, and GET_DAXDEV, the path of a device index an
//! fmap names.
//!
//! `fuser` 0.18 cannot carry them: it has no `FUSE_DAX_FMAP` INIT flag
//! (bit 43) to accept and answers unknown opcodes (54, 55) with ENOSYS
//! itself, before the file system sees them. So these builders are tested
//! at the message level and wait for the library; docs/fuse.md holds the
//! design.

use famfs_core::fmap_msg::{DaxdevReply, FileType, FmapMessage};
use famfs_core::meta_files::MetaNode;
use famfs_vfs::{InfoKind, Mount};
use nix::errno::Errno;

/// INIT flag bit a famfs kernel offers (and a server accepts).
pub const FUSE_DAX_FMAP: u64 = 1 << 43;
/// Opcode of GET_FMAP (node id = the file).
pub const FUSE_GET_FMAP: u32 = 54;
/// Opcode of GET_DAXDEV (input: u32 device index).
pub const FUSE_GET_DAXDEV: u32 = 55;

/// The GET_FMAP reply for node `ino` of `mount`: EINVAL for a directory,
/// EIO for a file whose fmap the log got wrong (the kernel would refuse
/// it), ENOENT for an unknown node.
pub fn get_fmap(mount: &Mount, ino: u64) -> Result<Vec<u8>, Errno> {
    let rel = mount.rel_of(ino)?;
    let info = mount.lookup(&rel)?;
    let InfoKind::File { size, error, .. } = info.kind else {
        return Err(Errno::EINVAL);
    };
    if error.is_some() {
        return Err(Errno::EIO);
    }
    let mut msg = FmapMessage::regular(size, mount.fmap_of(ino)?);
    msg.file_type = match MetaNode::from_ino(ino) {
        Some(MetaNode::Superblock) => FileType::Superblock,
        Some(MetaNode::Log) => FileType::Log,
        _ => FileType::Regular,
    };
    msg.encode().map_err(|e| Errno::from(&e))
}

/// The GET_DAXDEV reply for device `index` of `mount`: its path as this
/// host found it (EIO when it cannot be found, as for a read).
pub fn get_daxdev(mount: &Mount, index: u32) -> Result<Vec<u8>, Errno> {
    let dev = mount.device(index, false)?;
    let reply = DaxdevReply {
        index: u16::try_from(index).map_err(|_| Errno::EINVAL)?,
        name: dev.path().to_string_lossy().into_owned(),
    };
    reply.encode().map_err(|e| Errno::from(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use famfs_core::dax::{Access, DaxDevice};
    use famfs_core::famfs::{mkfs, Famfs, MkfsOptions};
    use famfs_core::fmap::Fmap;
    use famfs_core::fmap_msg::DAXDEV_REPLY_LEN;
    use famfs_core::mounts::MountEntry;
    use famfs_core::namespace::Meta;

    const MIB: u64 = 1 << 20;

    /// A 64 MiB region holding `d/f` (5 MiB + 1) and the mount of it.
    fn fixture() -> (tempfile::TempDir, Mount) {
        // One host for every test in this binary: one system uuid file.
        static HOST: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
        HOST.get_or_init(|| {
            let d = tempfile::tempdir().unwrap();
            let p = d.path().join("system_uuid");
            std::env::set_var(famfs_core::host::SYSTEM_UUID_ENV, &p);
            famfs_core::host::system_uuid_at(&p).unwrap();
            d
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.img");
        DaxDevice::create_simulated(&path, 64 * MIB).unwrap();
        let sb = mkfs(
            &DaxDevice::open(&path, Access::ReadWrite).unwrap(),
            &MkfsOptions::default(),
        )
        .unwrap();
        let mut fs = Famfs::open(&path, Access::ReadWrite).unwrap();
        let meta = Meta {
            uid: 0,
            gid: 0,
            mode: 0o644,
        };
        fs.mkdir("d", meta, None).unwrap();
        fs.create_file("d/f", 5 * MIB + 1, meta, |_| Ok(()))
            .unwrap();
        let entry = MountEntry {
            mountpoint: "/famfs-fuse-unit/mnt".into(),
            device: path,
            fs_uuid: sb.uuid,
            mount_time: 0,
            options: vec![],
        };
        (dir, Mount::new(entry))
    }

    #[test]
    fn get_fmap_is_the_files_fmap_and_passes_the_kernels_checks() {
        let (_dir, mount) = fixture();
        let node = mount.lookup("d/f").unwrap();
        let bytes = get_fmap(&mount, node.ino).unwrap();
        let msg = FmapMessage::decode(&bytes).unwrap();
        msg.validate(|i| (i == 0).then_some(64 * MIB)).unwrap();
        assert_eq!(msg.file_type, FileType::Regular);
        assert_eq!(msg.file_size, 5 * MIB + 1);
        assert_eq!(msg.fmap, mount.fmap_of(node.ino).unwrap());
        assert!(matches!(msg.fmap, Fmap::Simple(_)));
    }

    #[test]
    fn meta_files_have_their_own_file_types() {
        let (_dir, mount) = fixture();
        for (node, ty, size) in [
            (MetaNode::Superblock, FileType::Superblock, 2 * MIB),
            (MetaNode::Log, FileType::Log, 8 * MIB),
        ] {
            let msg = FmapMessage::decode(&get_fmap(&mount, node.ino()).unwrap()).unwrap();
            assert_eq!((msg.file_type, msg.file_size), (ty, size));
        }
    }

    #[test]
    fn directories_and_unknown_nodes_are_refused() {
        let (_dir, mount) = fixture();
        let d = mount.lookup("d").unwrap();
        assert_eq!(get_fmap(&mount, d.ino), Err(Errno::EINVAL));
        assert_eq!(get_fmap(&mount, 9999), Err(Errno::ENOENT));
    }

    #[test]
    fn get_daxdev_names_the_primary_and_refuses_unknown_indexes() {
        let (dir, mount) = fixture();
        let bytes = get_daxdev(&mount, 0).unwrap();
        assert_eq!(bytes.len(), DAXDEV_REPLY_LEN);
        let reply = DaxdevReply::decode(&bytes).unwrap();
        assert_eq!(reply.index, 0);
        assert_eq!(reply.name, dir.path().join("r.img").to_string_lossy());
        assert!(get_daxdev(&mount, 5).is_err());
    }
}
