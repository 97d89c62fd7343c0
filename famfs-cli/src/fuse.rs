//! `famfs mount --fuse`: the kernel mount a FUSE daemon serves beside the
//! mount table's line, and its end in `famfs umount`.
//!
//! The daemon is this binary again (`famfs fuse-daemon`, hidden), started
//! without `LD_PRELOAD` in its own process group with its output in a log
//! file beside the mount table. The mount is recorded only once the kernel
//! shows it, with options `fuse=PID` and `fuselog=PATH`, so `famfs mounts`
//! can tell a live daemon from a dead one and `famfs umount` can end both.

use crate::console::{CliError, CliResult};
use crate::MountArgs;
use famfs_core::mounts::{MountEntry, MountTable};
use nix::mount::MntFlags;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Mount table option holding the daemon's pid.
pub const PID_OPTION: &str = famfs_vfs::FUSE_OPTION;
/// Mount table option holding the daemon's log file.
pub const LOG_OPTION: &str = "fuselog";

/// How long `famfs mount --fuse` waits for the kernel mount to appear.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `famfs umount` waits for the daemon to end once unmounted.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Arguments of the hidden `fuse-daemon` command.
#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    /// The mount table line to serve.
    #[arg(long)]
    pub entry: String,
    /// Seconds the kernel keeps attributes and names.
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Serving threads.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Only the mounting user may use the mount.
    #[arg(long)]
    pub owner_only: bool,
}

fn err(what: impl std::fmt::Display) -> CliError {
    CliError::Msg(what.to_string())
}

/// Mounts `entry` through FUSE as `a` asks, then records it.
pub fn mount(mut entry: MountEntry, a: &MountArgs) -> CliResult<String> {
    let mp = entry.mountpoint.clone();
    if MountTable::load()?.get(&mp).is_some() {
        return Err(err(format!(
            "{}: already a famfs mount point (famfs umount it first)",
            mp.display()
        )));
    }
    if famfs_fuse::is_fuse_mount(&mp) {
        return Err(err(format!(
            "{}: a FUSE file system is mounted there",
            mp.display()
        )));
    }
    std::fs::create_dir_all(&mp).map_err(|e| err(format!("{}: {e}", mp.display())))?;
    let line = MountTable {
        entries: vec![entry.clone()],
    }
    .render();
    if a.foreground {
        entry
            .options
            .push((PID_OPTION.into(), std::process::id().to_string()));
        entry.options.push((LOG_OPTION.into(), "-".into()));
        let opts = options(a.timeout, a.debug.then_some(1), a.no_user_access);
        let served = entry.clone();
        famfs_fuse::serve(served, opts, || {
            if let Err(e) = MountTable::update(|t| t.add(entry)) {
                tracing::error!("cannot record the mount: {e}");
            }
        })
        .map_err(|e| err(format!("{}: FUSE mount failed: {e}", mp.display())))?;
        forget(&mp, std::process::id());
        return Ok(format!("{}: FUSE session ended", mp.display()));
    }
    let log = log_path(&mp);
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(format!("{}: {e}", dir.display())))?;
    }
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|e| err(format!("{}: {e}", log.display())))?;
    let exe = std::env::current_exe().map_err(|e| err(format!("cannot find famfs itself: {e}")))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("fuse-daemon").arg("--entry").arg(line.trim_end());
    if let Some(t) = a.timeout {
        cmd.arg("--timeout").arg(t.to_string());
    }
    if a.debug {
        cmd.args(["--threads", "1"]).env("FAMFS_LOG", "debug");
    }
    if a.no_user_access {
        cmd.arg("--owner-only");
    }
    // The daemon serves the kernel, not a program: no shim in it, its own
    // process group (a terminal's ^C does not stop it), output to its log.
    use std::os::unix::process::CommandExt;
    let stderr = out
        .try_clone()
        .map_err(|e| err(format!("{}: {e}", log.display())))?;
    let mut child = cmd
        .env_remove("LD_PRELOAD")
        .env("FAMFS_MOUNTS", absolute(&MountTable::path()))
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(stderr)
        .process_group(0)
        .spawn()
        .map_err(|e| err(format!("cannot start the FUSE daemon: {e}")))?;
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(err(format!(
                "{}: the FUSE daemon exited ({status}): {}",
                mp.display(),
                last_line(&log)
            )));
        }
        if famfs_fuse::is_fuse_mount(&mp) {
            break;
        }
        if start.elapsed() > START_TIMEOUT {
            let _ = child.kill();
            return Err(err(format!(
                "{}: the FUSE daemon did not mount in {} s (log: {})",
                mp.display(),
                START_TIMEOUT.as_secs(),
                log.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = child.id();
    entry.options.push((PID_OPTION.into(), pid.to_string()));
    entry
        .options
        .push((LOG_OPTION.into(), log.to_string_lossy().into_owned()));
    if let Err(e) = MountTable::update(|t| t.add(entry.clone())) {
        stop(&entry);
        return Err(e.into());
    }
    Ok(format!(
        "FUSE daemon {pid} serves {} (log {})",
        mp.display(),
        log.display()
    ))
}

/// The server's options from the command line's.
fn options(timeout: Option<u64>, threads: Option<usize>, owner_only: bool) -> famfs_fuse::Options {
    let mut o = famfs_fuse::Options::default();
    if let Some(t) = timeout {
        o.ttl = Duration::from_secs(t);
    }
    if let Some(n) = threads {
        o.threads = n;
    }
    o.allow_other = !owner_only;
    o
}

/// `famfs fuse-daemon`: serves one mount until it is unmounted, then
/// takes its line out of the mount table (if it is still its own).
pub fn daemon(a: &DaemonArgs) -> CliResult {
    let t = MountTable::parse(&a.entry)?;
    let [entry] = t.entries.as_slice() else {
        return Err(err("fuse-daemon: --entry must hold exactly one mount line"));
    };
    let mp = entry.mountpoint.clone();
    tracing::info!(mount = %mp.display(), pid = std::process::id(), "FUSE daemon starting");
    let r = famfs_fuse::serve(
        entry.clone(),
        options(a.timeout, a.threads, a.owner_only),
        || tracing::info!(mount = %mp.display(), "mounted"),
    );
    forget(&mp, std::process::id());
    match r {
        Ok(()) => {
            tracing::info!(mount = %mp.display(), "unmounted; daemon exits");
            Ok(())
        }
        Err(e) => Err(err(format!("{}: {e}", mp.display()))),
    }
}

/// Removes the table's line for `mp` if daemon `pid` serves it.
fn forget(mp: &Path, pid: u32) {
    let pid = pid.to_string();
    let _ = MountTable::update(|t| {
        if t.get(mp).and_then(|e| e.option(PID_OPTION)) == Some(pid.as_str()) {
            t.remove(mp)?;
        }
        Ok(())
    });
}

/// The daemon's pid, if `entry` is a FUSE mount.
pub fn daemon_pid(entry: &MountEntry) -> Option<i32> {
    entry.option(PID_OPTION)?.parse().ok()
}

/// Whether process `pid` is alive and is a famfs FUSE daemon (a pid the
/// system reused for something else counts as dead).
pub fn daemon_alive(pid: i32) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let is_daemon = cmdline.split(|&b| b == 0).any(|a| a == b"fuse-daemon");
    let serving_itself = pid as u32 == std::process::id();
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
        .unwrap_or(true);
    (is_daemon || serving_itself) && !zombie
}

/// Ends a FUSE mount: unmounts the kernel mount (lazily when it is busy
/// or its daemon is dead), lets the daemon exit, and stops it if it does
/// not.
pub fn stop(entry: &MountEntry) {
    let mp = &entry.mountpoint;
    match nix::mount::umount2(mp, MntFlags::empty()) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(nix::errno::Errno::EPERM) => {
            // Not root: the setuid helper may unmount a user's own mount.
            let _ = std::process::Command::new("fusermount3")
                .args(["-u", "-z"])
                .arg(mp)
                .status();
        }
        Err(e) => {
            tracing::debug!(mount = %mp.display(), error = %e, "unmount failed; detaching");
            let _ = nix::mount::umount2(mp, MntFlags::MNT_DETACH);
        }
    }
    let Some(pid) = daemon_pid(entry) else {
        return;
    };
    let start = Instant::now();
    while daemon_alive(pid) && pid as u32 != std::process::id() {
        if start.elapsed() > STOP_TIMEOUT {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Where the daemon of mount point `mp` logs: beside the mount table.
fn log_path(mp: &Path) -> PathBuf {
    let table = absolute(&MountTable::path());
    let dir = table.parent().unwrap_or(Path::new("/tmp"));
    let name: String = mp
        .to_string_lossy()
        .trim_start_matches('/')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    dir.join(format!("fuse-{name}.log"))
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The log's last line, to say why a daemon failed.
fn last_line(log: &Path) -> String {
    std::fs::read_to_string(log)
        .ok()
        .and_then(|s| {
            s.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| format!("see {}", log.display()))
}
