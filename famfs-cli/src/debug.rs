//! `famfs debug`: test aids that act on simulated regions only.
//!
//! `debug poison DEVICE OFFSET LEN` adds a range to the region's simulated
//! poison list (see `famfs_core::poison`): every process that reads, writes
//! or maps it from then on fails with EHWPOISON, as on a memory error.
//! `debug poison --clear DEVICE` empties the list.

use crate::console::{outln, CliError, CliResult, Console};
use crate::{DebugArgs, DebugCommand, PoisonArgs};
use famfs_core::dax::{Access, DaxDevice};
use famfs_core::poison;

pub fn run(a: &DebugArgs, con: &mut Console) -> CliResult {
    match &a.command {
        DebugCommand::Poison(p) => poison_cmd(p, con),
    }
}

fn poison_cmd(a: &PoisonArgs, con: &mut Console) -> CliResult {
    let dev = DaxDevice::open(&a.device, Access::ReadWrite)?;
    if a.clear {
        poison::clear(&dev)?;
        outln!(con, "{}: poison list cleared", a.device.display());
        return Ok(());
    }
    let (Some(offset), Some(len)) = (a.offset, a.len) else {
        return Err(CliError::Msg(
            "OFFSET and LEN are required (or --clear)".to_string(),
        ));
    };
    let (start, n) = poison::add(&dev, offset, len)?;
    outln!(
        con,
        "{}: poisoned {start:#x}..{:#x} ({n} bytes)",
        a.device.display(),
        start + n
    );
    Ok(())
}
