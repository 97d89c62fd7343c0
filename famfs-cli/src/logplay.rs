//! `famfs logplay`: replay a mount's log from scratch and report what it
//! holds. User-space mounts keep no materialised tree (every process
//! replays), so nothing is written either way; `-n` lists what each entry
//! would create and `-v` every entry with what replay did with it.

use crate::console::{outln, CliError, CliResult, Console};
use crate::entries::{self, Outcome};
use crate::{target, LogplayArgs};
use famfs_core::dax::Access;
use famfs_core::famfs::Famfs;
use famfs_core::format::LogEntry;

pub fn run(a: &LogplayArgs, con: &mut Console) -> CliResult {
    let t = target::resolve(&a.mountpoint)?;
    let fs = t.open(Access::ReadOnly)?;
    let header = fs
        .log_header()
        .map_err(|e| target::device_error(&t.mount.device, e))?;
    if a.verbose > 0 || a.dry_run {
        list(&fs, a, con)?;
    }
    let replay = fs.replay();
    entries::print_log_usage(con, &header)?;
    entries::print_counts(con, replay)?;
    let problems: Vec<_> = entries::problems(replay).collect();
    outln!(con, "problems: {}", problems.len());
    for p in &problems {
        outln!(con, "{}", entries::describe(p));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CliError::Msg(format!(
            "{}: {} problem{} in the log",
            t.mount.mountpoint.display(),
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        )))
    }
}

fn list(fs: &Famfs, a: &LogplayArgs, con: &mut Console) -> CliResult {
    let replay = fs.replay();
    for index in 0..replay.applied() {
        let entry = match entries::read(fs, index) {
            Ok(e) => e,
            Err(e) => {
                if a.verbose > 0 {
                    outln!(con, "entry {index}: unreadable: {e}");
                }
                continue;
            }
        };
        let outcome = entries::outcome(fs, index, &entry);
        if a.verbose > 0 {
            let refused = replay.problems().iter().any(|p| p.index == index);
            let what = match outcome {
                Outcome::Created if refused => "created, with problems",
                Outcome::Created => "created",
                Outcome::Duplicate => "skipped, path already exists",
                Outcome::Other if refused => "refused",
                Outcome::Other => "applied",
            };
            outln!(con, "entry {index}: {}: {what}", entries::summary(&entry));
        }
        if a.dry_run && outcome == Outcome::Created {
            match &entry {
                LogEntry::File(f) => {
                    outln!(con, "would create file {} ({} bytes)", f.relpath, f.size)
                }
                LogEntry::Mkdir(d) => outln!(con, "would create directory {}", d.relpath),
                _ => {}
            }
        }
    }
    Ok(())
}
