//! `famfs mkfs`: format a device, optionally creating a simulated region
//! first, or invalidate its superblock (`--kill`).

use crate::console::{outln, CliResult, Console};
use crate::MkfsArgs;
use famfs_core::dax::{Access, DaxDevice};
use famfs_core::famfs::{kill_superblock, mkfs, MkfsOptions};
use famfs_core::format::{last_index_for, Superblock};

pub fn run(a: &MkfsArgs, con: &mut Console) -> CliResult {
    if a.kill {
        let dev = DaxDevice::open(&a.device, Access::ReadWrite)?;
        kill_superblock(&dev)?;
        outln!(con, "{}: superblock invalidated", a.device.display());
        return Ok(());
    }
    let created = match a.size {
        Some(size) => {
            DaxDevice::create_simulated(&a.device, size)?;
            true
        }
        None => false,
    };
    let result = format(a);
    if result.is_err() && created {
        // Leave nothing behind when the region we just made cannot be formatted.
        let _ = std::fs::remove_file(&a.device);
    }
    let (sb, size) = result?;
    outln!(con, "device: {}", a.device.display());
    outln!(con, "size: {size}");
    outln!(con, "fs uuid: {}", sb.uuid);
    outln!(con, "device uuid: {}", sb.dev_uuid);
    outln!(con, "system uuid: {}", sb.system_uuid);
    outln!(con, "log length: {}", sb.log_len);
    outln!(con, "log entries: {}", last_index_for(sb.log_len) + 1);
    Ok(())
}

fn format(a: &MkfsArgs) -> famfs_core::Result<(Superblock, u64)> {
    let dev = DaxDevice::open(&a.device, Access::ReadWrite)?;
    let opts = MkfsOptions {
        log_len: a.loglen,
        force: a.force,
        uuid: a.uuid,
        dev_uuid: a.dev_uuid,
        system_uuid: a.system_uuid,
        dev_name: a.devname.clone(),
    };
    let sb = mkfs(&dev, &opts)?;
    Ok((sb, dev.size()))
}
