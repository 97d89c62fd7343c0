//! `famfs logplay`: replay a mount's log from scratch and report what it
//! holds. User-space mounts keep no materialised tree (every process
//! replays), so nothing is written to the file system; `-n` lists what
//! each entry would create and `-v` every entry with what replay did with
//! it. With `--shadow DIR` the log is played into the reference's shadow
//! YAML tree instead (see [`crate::shadow`]), from a mount or, with
//! `--daxdev`, straight from a device.

use crate::console::{outln, CliError, CliResult, Console};
use crate::entries::{self, Outcome};
use crate::{shadow, target, LogplayArgs};
use famfs_core::dax::Access;
use famfs_core::famfs::Famfs;
use famfs_core::format::{FileEntry, LogEntry, MkdirEntry};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

pub fn run(a: &LogplayArgs, con: &mut Console) -> CliResult {
    let (fs, name) = match (&a.daxdev, &a.mountpoint) {
        (Some(dev), _) => {
            let fs =
                Famfs::open(dev, Access::ReadOnly).map_err(|e| target::device_error(dev, e))?;
            (fs, dev.display().to_string())
        }
        (None, Some(mp)) => {
            let t = target::resolve(mp)?;
            (
                t.open(Access::ReadOnly)?,
                t.mount.mountpoint.display().to_string(),
            )
        }
        (None, None) => return Err(CliError::Msg("a mount point or --daxdev is needed".into())),
    };
    let header = fs
        .log_header()
        .map_err(|e| CliError::Msg(format!("{name}: {e}")))?;
    let shadow_root = match &a.shadow {
        Some(dir) => Some(shadow::root(dir).map_err(CliError::Msg)?),
        None => None,
    };
    let shadow_errors = play(&fs, shadow_root.as_deref(), a, con)?;
    let replay = fs.replay();
    entries::print_log_usage(con, &header)?;
    entries::print_counts(con, replay)?;
    let problems: Vec<_> = entries::problems(replay).collect();
    outln!(con, "problems: {}", problems.len());
    for p in &problems {
        outln!(con, "{}", entries::describe(p));
    }
    let s = |n: usize| if n == 1 { "" } else { "s" };
    if !problems.is_empty() {
        return Err(CliError::Msg(format!(
            "{name}: {} problem{} in the log",
            problems.len(),
            s(problems.len())
        )));
    }
    if shadow_errors > 0 {
        return Err(CliError::Msg(format!(
            "{name}: {shadow_errors} error{} writing the shadow tree",
            s(shadow_errors)
        )));
    }
    Ok(())
}

/// One pass over the log: with `-v` each entry and what replay did with
/// it; with `-n` (and no shadow) what each would create; with a shadow
/// root, each created directory and file written into the shadow tree.
/// Returns the number of shadow errors (each already printed).
fn play(
    fs: &Famfs,
    shadow_root: Option<&Path>,
    a: &LogplayArgs,
    con: &mut Console,
) -> CliResult<usize> {
    if a.verbose == 0 && !a.dry_run && shadow_root.is_none() {
        return Ok(0);
    }
    let replay = fs.replay();
    let mut n = ShadowCounts::default();
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
        if outcome != Outcome::Created {
            continue;
        }
        let Some(root) = shadow_root else {
            if a.dry_run {
                match &entry {
                    LogEntry::File(f) => {
                        outln!(con, "would create file {} ({} bytes)", f.relpath, f.size)
                    }
                    LogEntry::Mkdir(d) => outln!(con, "would create directory {}", d.relpath),
                    _ => {}
                }
            }
            continue;
        };
        let result = match &entry {
            LogEntry::Mkdir(d) => {
                if a.verbose > 0 {
                    outln!(con, "shadow: directory {}", root.join(&d.relpath).display());
                }
                shadow_dir(root, d, a, &mut n)
            }
            LogEntry::File(f) => {
                if a.verbose > 0 {
                    con.bytes(shadow::emit(f).as_bytes())?;
                }
                let r = shadow_file(root, f, a, &mut n);
                if r.is_ok() && a.shadowtest && a.verbose > 0 {
                    outln!(con, "{}: shadow yaml good", f.relpath);
                }
                r
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            n.errors += 1;
            con.carry_on(CliError::Msg(e))?;
        }
    }
    if let Some(root) = shadow_root {
        outln!(
            con,
            "shadow {}: directories created {}, existed {}; files created {}, existed {}; yaml checked {}; errors {}",
            root.display(),
            n.dirs_created,
            n.dirs_existed,
            n.files_created,
            n.files_existed,
            n.yaml_checked,
            n.errors
        );
    }
    Ok(n.errors)
}

/// What a shadow play did, for its summary line.
#[derive(Default)]
struct ShadowCounts {
    dirs_created: u64,
    dirs_existed: u64,
    files_created: u64,
    files_existed: u64,
    yaml_checked: u64,
    errors: usize,
}

fn shadow_dir(
    root: &Path,
    d: &MkdirEntry,
    a: &LogplayArgs,
    n: &mut ShadowCounts,
) -> Result<(), String> {
    let path = root.join(&d.relpath);
    if a.dry_run {
        return Ok(());
    }
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_dir() => {
            n.dirs_existed += 1;
            return Ok(());
        }
        Ok(_) => return Err(format!("{}: exists and is not a directory", path.display())),
        Err(_) => {}
    }
    std::fs::DirBuilder::new()
        .mode(d.mode & 0o7777)
        .create(&path)
        .map_err(|e| format!("{}: cannot create directory: {e}", path.display()))?;
    own(&path, d.uid, d.gid)?;
    n.dirs_created += 1;
    Ok(())
}

fn shadow_file(
    root: &Path,
    f: &FileEntry,
    a: &LogplayArgs,
    n: &mut ShadowCounts,
) -> Result<(), String> {
    let path = root.join(&f.relpath);
    if a.dry_run {
        return Ok(());
    }
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => n.files_existed += 1,
        Ok(_) => {
            return Err(format!(
                "{}: exists and is not a regular file",
                path.display()
            ))
        }
        Err(_) => {
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(&path)
                .map_err(|e| format!("{}: cannot create: {e}", path.display()))?;
            std::io::Write::write_all(&mut out, shadow::emit(f).as_bytes())
                .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
            n.files_created += 1;
        }
    }
    if a.shadowtest {
        n.yaml_checked += 1;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: cannot read back: {e}", path.display()))?;
        match shadow::parse(&text) {
            Ok(back) if back == *f => {}
            Ok(back) => {
                return Err(format!(
                    "{}: shadow yaml differs from log entry: {back:?} vs {f:?}",
                    path.display()
                ))
            }
            Err(e) => return Err(format!("{}: bad shadow yaml: {e}", path.display())),
        }
    }
    Ok(())
}

/// Gives a new shadow directory the logged owner when running as root
/// (others cannot give files away; theirs stay the caller's).
fn own(path: &Path, uid: u32, gid: u32) -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .map_err(|e| format!("{}: cannot set owner {uid}:{gid}: {e}", path.display()))
}
