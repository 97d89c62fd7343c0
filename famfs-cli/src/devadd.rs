//! `famfs devadd`: add a device (a devdax device or a simulated region) to
//! a mounted file system, and record its path in the mount table.
//!
//! The library writes the device's secondary superblock and the ADD_DAXDEV
//! log entry; this command then adds `device=PATH` to the mount's options
//! so that every later command and the shim can find the device.

use crate::console::{outln, CliError, CliResult, Console};
use crate::{size, target, DevaddArgs};
use famfs_core::dax::{Access, DaxDevice};
use famfs_core::mounts::MountTable;

pub fn run(a: &DevaddArgs, con: &mut Console) -> CliResult {
    let t = target::resolve(&a.mountpoint)?;
    if !t.rel.is_empty() {
        return Err(CliError::Msg(format!(
            "{}: not a mount point (the mount point is {})",
            a.mountpoint.display(),
            t.mount.mountpoint.display()
        )));
    }
    let created = match a.size {
        Some(bytes) => {
            DaxDevice::create_simulated(&a.device, bytes)?;
            true
        }
        None => false,
    };
    let result = add(a, &t);
    if result.is_err() && created {
        // Leave nothing behind when the region we just made was refused.
        let _ = std::fs::remove_file(&a.device);
    }
    let (path, info) = result?;
    outln!(
        con,
        "{}: device {} of {} (uuid {}, {})",
        path.display(),
        info.index,
        t.mount.mountpoint.display(),
        info.uuid,
        size::human(info.size)
    );
    Ok(())
}

fn add(
    a: &DevaddArgs,
    t: &target::Target,
) -> CliResult<(std::path::PathBuf, famfs_core::replay::DeviceInfo)> {
    let path = target::canonical_device(&a.device)?;
    // Refuse a path the mount table cannot hold before changing anything.
    t.mount.clone().add_device_path(&path)?;
    let mut fs = t.open(Access::ReadWrite)?;
    let dev = DaxDevice::open(&path, Access::ReadWrite)?;
    let info = fs.add_device(dev, a.force, a.dev_uuid)?;
    let mountpoint = t.mount.mountpoint.clone();
    MountTable::update(|table| match table.get_mut(&mountpoint) {
        Some(entry) => entry.add_device_path(&path),
        None => Ok(()),
    })?;
    // Remembered for this host, so a later mount finds it again.
    famfs_core::known_devices::remember(t.mount.fs_uuid, &path)?;
    Ok((path, info))
}
