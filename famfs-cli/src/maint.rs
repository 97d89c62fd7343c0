//! The reference CLI's maintenance and test verbs: `flush` (cache
//! maintenance of whole files), `check` (every file of a mount is usable)
//! `clone` (a test aid that makes two files share memory) and `mkmeta`.

use crate::console::{self, outln, CliError, CliResult, Console};
use crate::{target, CheckArgs, CloneArgs, FlushArgs, MkmetaArgs};
use famfs_core::dax::Access;
use famfs_core::mounts::MountTable;
use famfs_core::namespace::{Node, NodeKind};
use famfs_core::Error;

/// `famfs flush FILE...`: writes back and drops each file's CPU cache
/// lines (for memory that is not coherent across hosts).
pub fn flush(a: &FlushArgs, con: &mut Console) -> CliResult {
    let table = MountTable::load()?;
    console::each(con, &a.paths, |con, p| {
        let t = target::resolve_in(&table, p)?;
        let fs = t.open(Access::ReadOnly)?;
        let n = fs.lookup(&t.rel).map_err(|e| t.err(e))?;
        if n.is_dir() {
            return Err(t.err(Error::IsADirectory(t.rel.clone())));
        }
        let io = fs.file_io(n.ino).map_err(|e| t.err(e))?;
        io.flush().map_err(|e| t.err(e))?;
        if a.verbose > 0 {
            outln!(con, "flushed {} ({} bytes)", t.shown(), io.size());
        }
        Ok(())
    })
}

/// `famfs check MOUNTPOINT`: every file of the mount must be usable (its
/// map valid, no memory shared with another file). Exit status as the
/// reference's: 0 all good; else the OR of 1 (a file is unusable), 2 (the
/// superblock is bad) and 4 (the log is bad).
pub fn check(a: &CheckArgs, con: &mut Console) -> CliResult<u8> {
    let t = target::resolve(&a.mountpoint)?;
    let fs = match t.open(Access::ReadOnly) {
        Ok(fs) => fs,
        Err(e) => {
            con.carry_on(e)?;
            return Ok(2);
        }
    };
    let mut status = 0u8;
    let r = fs.replay();
    if let Some(p) = r.stopped() {
        con.carry_on(CliError::Msg(format!(
            "log entry {}: {}",
            p.index, p.message
        )))?;
        status |= 4;
    }
    let ns = r.namespace();
    let (mut files, mut bad) = (0u64, 0u64);
    let mut stack: Vec<&Node> = vec![ns.root()];
    while let Some(n) = stack.pop() {
        match &n.kind {
            NodeKind::Dir { .. } => {
                stack.extend(ns.children(n.ino)?.map(|(_, c)| c));
            }
            NodeKind::File(f) => {
                files += 1;
                if let Some(why) = &f.error {
                    bad += 1;
                    status |= 1;
                    let shown = target::shown(&t.mount, &ns.path_of(n.ino));
                    con.carry_on(CliError::Msg(format!("{shown}: {why}")))?;
                } else if a.verbose > 0 {
                    outln!(con, "ok {}", target::shown(&t.mount, &ns.path_of(n.ino)));
                }
            }
        }
    }
    if !a.quiet {
        outln!(con, "{files} files checked, {bad} unusable");
    }
    Ok(status)
}

/// `famfs clone SRC DST`: logs DST with SRC's very extents. A test aid
/// that leaves the file system cross-linked on purpose (fsck reports the
/// collision; DST is unusable).
pub fn clone(a: &CloneArgs, con: &mut Console) -> CliResult {
    let table = MountTable::load()?;
    let src = target::resolve_in(&table, &a.src)?;
    let dst = target::resolve_in(&table, &a.dst)?;
    if src.mount.mountpoint != dst.mount.mountpoint {
        return Err(CliError::Msg(format!(
            "{} and {} are on different file systems",
            src.shown(),
            dst.shown()
        )));
    }
    let mut fs = dst.open(Access::ReadWrite)?;
    fs.clone_file(&src.rel, &dst.rel).map_err(|e| dst.err(e))?;
    if a.verbose > 0 {
        outln!(
            con,
            "cloned {} to {} (the two now share memory)",
            src.shown(),
            dst.shown()
        );
    }
    Ok(())
}

/// `famfs mkmeta DEVICE`: the reference's legacy step that creates a
/// mount's `.meta/.superblock` and `.meta/.log`. Here every mount shows
/// them from the superblock, so there is nothing to create: this checks
/// that DEVICE holds a valid famfs and is mounted, and says where its
/// metadata files are.
pub fn mkmeta(a: &MkmetaArgs, con: &mut Console) -> CliResult {
    let device = target::canonical_device(&a.device)?;
    let fs = famfs_core::famfs::Famfs::open(&device, Access::ReadOnly)?;
    let table = MountTable::load()?;
    let mounts: Vec<_> = table
        .entries
        .iter()
        .filter(|m| m.device == device && m.fs_uuid == fs.superblock().uuid)
        .collect();
    if mounts.is_empty() {
        return Err(CliError::Msg(format!(
            "{}: not mounted (famfs mount makes the .meta files)",
            a.device.display()
        )));
    }
    for m in mounts {
        let dir = m.mountpoint.join(famfs_core::meta_files::DIR_NAME);
        outln!(con, "{}/.superblock", dir.display());
        outln!(con, "{}/.log", dir.display());
    }
    Ok(())
}
