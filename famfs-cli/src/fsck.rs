//! `famfs fsck`: check a file system without writing anything.
//!
//! The device (named directly, or through a path under a mount point) is
//! opened and mapped read-only. A bad superblock or log header ends the
//! check with the library's precise error; otherwise every log entry is
//! replayed and the report lists the superblock, this host's role, log
//! usage, bad entries, allocation collisions, space and counts.

use crate::console::{outln, CliError, CliResult, Console};
use crate::space::Space;
use crate::{entries, size, target, FsckArgs};
use famfs_core::dax::{Access, DaxDevice};
use famfs_core::famfs::{read_superblock, Famfs};
use famfs_core::format::Superblock;
use famfs_core::host::{self, Role};
use famfs_core::namespace::NodeKind;
use std::collections::BTreeSet;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// The device to check: `p` itself if it is a regular file or character
/// device, else the device of the mount `p` lies under.
fn device_of(p: &Path) -> CliResult<PathBuf> {
    match std::fs::metadata(p) {
        Ok(m) if m.is_file() || m.file_type().is_char_device() => Ok(p.to_path_buf()),
        Ok(_) => Ok(target::resolve(p)?.mount.device),
        Err(e) => match target::resolve(p) {
            Ok(t) => Ok(t.mount.device),
            Err(_) => Err(CliError::Msg(format!(
                "{}: not a device, a simulated region or a path under a famfs mount point ({e})",
                p.display()
            ))),
        },
    }
}

/// This host's role, read without creating a system uuid file (fsck
/// writes nothing).
fn role_line(sb: &Superblock) -> String {
    let path = host::system_uuid_path();
    match host::read_system_uuid(&path) {
        Ok(Some(me)) => format!("{} (system uuid {me})", host::role_in(sb, me)),
        Ok(None) => format!("{} (no system uuid in {})", Role::Client, path.display()),
        Err(e) => format!("unknown ({e})"),
    }
}

pub fn run(a: &FsckArgs, con: &mut Console) -> CliResult {
    let device = device_of(&a.target)?;
    let dev = DaxDevice::open(&device, Access::ReadOnly)?;
    let sb = read_superblock(&dev).map_err(|e| target::device_error(&device, e))?;
    let bytes = |n: u64| {
        if a.human {
            size::human(n)
        } else {
            n.to_string()
        }
    };

    outln!(con, "device: {}", device.display());
    outln!(con, "superblock: valid");
    outln!(con, "version: {}", sb.version);
    outln!(con, "format: {}.{}", sb.omf_ver_major, sb.omf_ver_minor);
    outln!(con, "fs uuid: {}", sb.uuid);
    outln!(con, "device uuid: {}", sb.dev_uuid);
    outln!(con, "system uuid: {}", sb.system_uuid);
    outln!(con, "device name: {}", sb.dev_name);
    outln!(con, "device size: {}", bytes(dev.size()));
    outln!(con, "alloc unit: {}", sb.alloc_unit);
    outln!(con, "this host: {}", role_line(&sb));

    let fs = Famfs::from_device(dev).map_err(|e| target::device_error(&device, e))?;
    let header = fs
        .log_header()
        .map_err(|e| target::device_error(&device, e))?;
    let replay = fs.replay();
    entries::print_log_usage(con, &header)?;
    outln!(con, "log offset: {:#x}", sb.log_offset);
    outln!(con, "log length: {}", sb.log_len);
    if a.verbose > 0 {
        for index in 0..header.next_index {
            match entries::read(&fs, index) {
                Ok(e) => outln!(con, "entry {index}: {}", entries::summary(&e)),
                Err(e) => outln!(con, "entry {index}: unreadable: {e}"),
            }
        }
    }
    let ns = replay.namespace();
    entries::print_counts(con, replay)?;
    let multi_device = ns.nodes().any(|n| match &n.kind {
        NodeKind::File(f) => f.fmap.device_ranges().any(|e| e.devindex != 0),
        NodeKind::Dir { .. } => false,
    });
    if multi_device {
        outln!(
            con,
            "info: multi-device extension in use (extents on device indexes other than 0)"
        );
    }

    devices(con, &fs, &bytes)?;
    let in_error = memory_errors(con, &fs)?;

    let problems: Vec<_> = entries::problems(replay).collect();
    let bad: BTreeSet<u64> = problems.iter().map(|p| p.index).collect();
    outln!(con, "bad entries: {}", bad.len());
    for p in &problems {
        outln!(con, "{}", entries::describe(p));
    }
    let collisions = replay.collisions();
    outln!(con, "allocation collisions: {collisions}");

    let space = Space::of(&fs);
    outln!(con, "capacity: {}", bytes(space.capacity));
    outln!(con, "allocated: {}", bytes(space.allocated));
    outln!(con, "free: {}", bytes(space.free));

    if let Some(n) = a.buckets {
        buckets(con, &fs, n, &bytes)?;
    }

    if bad.is_empty() && collisions == 0 && in_error == 0 {
        Ok(())
    } else {
        Err(CliError::Msg(format!(
            "{}: {} bad log entr{}, {collisions} allocation collision{}, \
             {in_error} device{} in error",
            device.display(),
            bad.len(),
            if bad.len() == 1 { "y" } else { "ies" },
            if collisions == 1 { "" } else { "s" },
            if in_error == 1 { "" } else { "s" }
        )))
    }
}

/// The device table the log built, and where each secondary device was
/// found among the paths the mount table records for this file system.
fn devices(con: &mut Console, fs: &Famfs, bytes: &dyn Fn(u64) -> String) -> CliResult {
    let table: Vec<_> = fs.replay().devices().cloned().collect();
    if table.len() < 2 {
        return Ok(());
    }
    if let Ok(mounts) = famfs_core::mounts::MountTable::load() {
        for m in mounts
            .entries
            .iter()
            .filter(|m| m.fs_uuid == fs.superblock().uuid)
        {
            fs.add_device_paths(m.secondary_devices());
        }
    }
    outln!(con, "devices: {}", table.len());
    for d in &table {
        let place = match d.index {
            0 => format!("{} (primary)", fs.device().path().display()),
            _ => match fs.acquire_device(d.index) {
                Ok(dev) => dev.path().display().to_string(),
                Err(_) => "not found (no recorded path holds it)".to_string(),
            },
        };
        outln!(
            con,
            "device {}: uuid {}, size {}, {place}",
            d.index,
            d.uuid,
            bytes(d.size)
        );
    }
    Ok(())
}

/// Devices in error (a simulated region's poison list; see
/// `famfs debug poison`), each poisoned range, and the files it touches.
/// Returns how many devices are in error.
fn memory_errors(con: &mut Console, fs: &Famfs) -> CliResult<usize> {
    let mut in_error = 0;
    let table: Vec<_> = fs.replay().devices().map(|d| d.index).collect();
    for index in table {
        let Ok(dev) = fs.acquire_device(index) else {
            continue;
        };
        let ranges = famfs_core::poison::ranges(dev)?;
        if ranges.is_empty() {
            continue;
        }
        in_error += 1;
        outln!(
            con,
            "device {index} in error: {} poisoned range{}",
            ranges.len(),
            if ranges.len() == 1 { "" } else { "s" }
        );
        for (off, len) in ranges {
            outln!(con, "  poisoned {off:#x}..{:#x}", off + len);
            let ns = fs.replay().namespace();
            for node in ns.nodes() {
                let NodeKind::File(f) = &node.kind else {
                    continue;
                };
                let touches = f
                    .fmap
                    .device_ranges()
                    .any(|e| e.devindex == index && e.offset < off + len && off < e.offset + e.len);
                if touches {
                    outln!(con, "    file in error: {}", ns.path_of(node.ino));
                }
            }
        }
    }
    Ok(in_error)
}

/// `fsck -B N`: how free space is spread over N buckets (what interleaved
/// allocation draws from): per bucket its free bytes, largest free run and
/// number of free runs, then a histogram of free-run sizes.
fn buckets(con: &mut Console, fs: &Famfs, n: u32, bytes: &dyn Fn(u64) -> String) -> CliResult {
    let bm = fs.replay().bitmap(0).expect("device 0 has a bitmap");
    let dev_size = fs.device().size();
    outln!(con, "buckets: {n} of {}", bytes(dev_size / u64::from(n)));
    outln!(con, "bucket  free  largest-free-run  free-runs");
    for (b, free, largest, runs) in famfs_core::stripe::bucket_report(bm, dev_size, n) {
        outln!(con, "{b:>6}  {}  {}  {runs}", bytes(free), bytes(largest));
    }
    // Histogram of free runs by size class: <4M, <16M, <64M, <256M, <1G, >=1G.
    let unit = bm.unit();
    let classes: [(u64, &str); 6] = [
        (4 << 20, "< 4 MiB"),
        (16 << 20, "< 16 MiB"),
        (64 << 20, "< 64 MiB"),
        (256 << 20, "< 256 MiB"),
        (1 << 30, "< 1 GiB"),
        (u64::MAX, ">= 1 GiB"),
    ];
    let mut counts = [0u64; 6];
    for (_, len) in bm.free_runs(0, bm.nbits()) {
        let b = len * unit;
        let i = classes.iter().position(|(lim, _)| b < *lim).unwrap_or(5);
        counts[i] += 1;
    }
    outln!(con, "free runs by size:");
    for ((_, label), count) in classes.iter().zip(counts) {
        outln!(con, "{label:>10}  {count}");
    }
    Ok(())
}
