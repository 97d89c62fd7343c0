//! `famfs mount`, `umount` and `mounts`: the user-space mount table.
//!
//! A mount is a line in the table binding a mount point to a device; it
//! is only recorded once the device's superblock, log header and every log
//! entry check out, so every later command can trust the log it replays.

use crate::console::{outln, CliError, CliResult, Console};
use crate::{entries, size, target, MountArgs, UmountArgs};
use famfs_core::dax::{Access, DaxDevice, DeviceKind};
use famfs_core::famfs::Famfs;
use famfs_core::mounts::{MountEntry, MountTable};
use famfs_core::stripe::StripeParams;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn mount(a: &MountArgs, con: &mut Console) -> CliResult {
    if !(a.fuse || a.foreground) && (a.timeout.is_some() || a.debug || a.no_user_access) {
        return Err(CliError::Msg(
            "-t, -d and -u choose how a FUSE mount is served: add --fuse".into(),
        ));
    }
    let device = target::canonical_device(&a.device)?;
    let mountpoint = target::absolute(&a.mountpoint)?;
    let fs =
        Famfs::open(&device, Access::ReadOnly).map_err(|e| target::device_error(&device, e))?;
    if let Some(p) = entries::first_problem(fs.replay()) {
        return Err(CliError::Msg(format!(
            "{}: {}; not mounted (famfs fsck lists every problem)",
            device.display(),
            entries::describe(p)
        )));
    }
    let options = match &a.stripe {
        None => Vec::new(),
        Some(spec) => {
            let p = StripeParams::parse(spec, |v| size::parse(v).ok())?;
            p.validate(
                fs.device().size(),
                fs.device().kind() == DeviceKind::Simulated,
            )?;
            vec![
                ("nbuckets".to_string(), p.nbuckets.to_string()),
                ("nstrips".to_string(), p.nstrips.to_string()),
                ("chunk".to_string(), p.chunk.to_string()),
            ]
        }
    };
    let mount_time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut entry = MountEntry {
        mountpoint,
        device,
        fs_uuid: fs.superblock().uuid,
        mount_time,
        options,
    };
    for d in &a.devices {
        let path = secondary_path(&fs, d)?;
        entry.add_device_path(&path)?;
        famfs_core::known_devices::remember(entry.fs_uuid, &path)?;
    }
    // Devices given now, then those this host recorded for the file
    // system and every devdax device, each identified by its uuid.
    fs.add_device_paths(entry.secondary_devices());
    fs.add_device_paths(famfs_core::known_devices::candidates(entry.fs_uuid));
    for info in fs.replay().devices().filter(|d| d.index != 0) {
        match fs.acquire_device(info.index) {
            Ok(dev) => {
                let found = dev.path().to_path_buf();
                if entry.secondary_devices().all(|p| p != found) {
                    entry.add_device_path(&found)?;
                }
            }
            Err(e) => con.error(&format!(
                "warning: {e}; files on it will fail with EIO until it is given \
                 (umount, then mount with --device PATH)"
            )),
        }
    }
    let said = (a.verbose > 0).then(|| {
        let r = fs.replay();
        format!(
            "mounted {} at {}: {} files, {} directories, {} devices",
            entry.device.display(),
            entry.mountpoint.display(),
            r.namespace().file_count(),
            r.namespace().dir_count(),
            1 + entry.secondary_devices().count()
        )
    });
    if a.fuse || a.foreground {
        let done = crate::fuse::mount(entry, a)?;
        if let Some(line) = said {
            outln!(con, "{line}");
        }
        if a.verbose > 0 || a.foreground {
            outln!(con, "{done}");
        }
        return Ok(());
    }
    MountTable::update(|t| t.add(entry))?;
    if let Some(line) = said {
        outln!(con, "{line}");
    }
    Ok(())
}

/// Checks that `given` is a secondary device of `fs` that its log records;
/// returns its canonical path for the mount table.
fn secondary_path(fs: &Famfs, given: &std::path::Path) -> CliResult<std::path::PathBuf> {
    let path = std::fs::canonicalize(given)
        .map_err(|e| CliError::Msg(format!("--device {}: {e}", given.display())))?;
    let dev = DaxDevice::open(&path, Access::ReadOnly)?;
    let sb = famfs_core::device_set::check_secondary(&dev, fs.superblock().uuid)?;
    if !fs.replay().devices().any(|d| d.uuid == sb.dev_uuid) {
        return Err(CliError::Msg(format!(
            "--device {}: device {} is not in the file system's log (famfs devadd adds it)",
            path.display(),
            sb.dev_uuid
        )));
    }
    Ok(path)
}

pub fn umount(a: &UmountArgs) -> CliResult {
    let mountpoint = target::absolute(&a.mountpoint)?;
    let table = MountTable::load()?;
    let Some(entry) = table.get(&mountpoint) else {
        return Err(CliError::Msg(format!(
            "{}: not a famfs mount point",
            mountpoint.display()
        )));
    };
    if crate::fuse::daemon_pid(entry).is_some() {
        crate::fuse::stop(entry);
    }
    MountTable::update(|t| t.remove(&mountpoint).map(|_| ()).or(Ok(())))?;
    Ok(())
}

pub fn list(con: &mut Console) -> CliResult {
    for m in MountTable::load()?.entries {
        outln!(
            con,
            "{} on {} (uuid {}, mounted at {}{})",
            m.device.display(),
            m.mountpoint.display(),
            m.fs_uuid,
            utc(m.mount_time),
            match stripe_defaults(&m)? {
                p if p.is_contiguous() => String::new(),
                p => format!(
                    ", stripe nbuckets={},nstrips={},chunk={}",
                    p.nbuckets,
                    p.nstrips,
                    size::human(p.chunk)
                ),
            }
        );
        for d in m.secondary_devices() {
            outln!(con, "  device {}", d.display());
        }
        if let Some(pid) = crate::fuse::daemon_pid(&m) {
            let state = if crate::fuse::daemon_alive(pid) {
                "running"
            } else {
                "dead (famfs umount cleans up)"
            };
            outln!(
                con,
                "  fuse daemon {pid} {state}, log {}",
                m.option(crate::fuse::LOG_OPTION).unwrap_or("-")
            );
        }
    }
    Ok(())
}

/// The mount's default placement (`--stripe`), contiguous if none.
pub fn stripe_defaults(m: &MountEntry) -> famfs_core::Result<StripeParams> {
    let num = |k: &str| -> famfs_core::Result<u64> {
        m.option(k).map_or(Ok(0), |v| {
            v.parse().map_err(|_| {
                famfs_core::Error::Usage(format!("mount table: option {k}={v} is not a number"))
            })
        })
    };
    Ok(StripeParams {
        nbuckets: num("nbuckets")? as u32,
        nstrips: num("nstrips")? as u32,
        chunk: num("chunk")?,
    })
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian,
/// Howard Hinnant's days-to-civil algorithm).
fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn utc_times() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
