//! `famfs`: the command-line tool of the user-space famfs implementation.
//!
//! famfs (the fabric-attached memory file system) keeps files in shared
//! memory: a devdax device, or a regular file standing in for one, that
//! begins with a superblock and an append-only metadata log. This crate is a
//! thin layer over `famfs-core`, which makes every file system decision: it
//! parses the command line (clap), resolves user paths through the
//! user-space mount table, calls the library and prints what it finds. Each
//! subcommand lives in its own module; failures print one line,
//! `famfs <subcommand>: <message>`, on stderr and exit with status 1 (clap
//! usage errors exit 2). `docs/cli-spec.md` is the behaviour contract.

mod chkread;
mod console;
mod cp;
mod creat;
mod debug;
mod devadd;
mod entries;
mod fsck;
mod fuse;
mod logplay;
mod maint;
mod mkdir;
mod mkfs;
mod mode;
mod mount;
mod shadow;
mod show;
mod size;
mod space;
mod target;
mod verify;

use clap::{Args, Parser, Subcommand};
use console::{CliError, Console};
use famfs_core::namespace::Meta;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use uuid::Uuid;

/// Bytes moved per read or write when streaming file contents.
pub const IO_CHUNK: usize = 1 << 20;

/// The environment variables `famfs --help` lists.
const ENV_HELP: &str = "Environment:
  FAMFS_MOUNTS            the mount table (default /run/famfs/mounts)
  FAMFS_SYSTEM_UUID_FILE  this host's system uuid (default /opt/famfs/system_uuid);
                          the host whose uuid a file system records is its master
  FAMFS_LOG               diagnostics on stderr: a level (warn, info, debug) or
                          target=level,... (default warn)
  NO_COLOR                no escape codes in diagnostics, even on a terminal";

/// famfs: shared-memory file systems on devdax devices or simulated regions.
#[derive(Debug, Parser)]
#[command(name = "famfs", version, propagate_version = true, after_help = ENV_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Format a device (or a new simulated region) as an empty famfs.
    ///
    /// The result is the reference famfs format, readable by the reference
    /// tools and the V10 kernel. Compatibility note: after `famfs devadd`,
    /// files placed on an added device have extents with a device index
    /// other than 0 (the multi-device extension), which the reference tools
    /// and kernel refuse; files on device 0 stay readable by them.
    Mkfs(MkfsArgs),
    /// Mount a famfs device at a mount point (user-space mount table).
    Mount(MountArgs),
    /// Remove a mount from the mount table.
    Umount(UmountArgs),
    /// Add a device (devdax or simulated region) to a mounted file system.
    Devadd(DevaddArgs),
    /// List the mounts in the mount table.
    Mounts,
    /// Create directories.
    Mkdir(MkdirArgs),
    /// Create a file of a given size, zeroed or filled with a random pattern.
    Creat(CreatArgs),
    /// Copy files (and with -r directories) into famfs.
    Cp(CpArgs),
    /// Check a file against the random pattern of a seed.
    Verify(VerifyArgs),
    /// List directory contents.
    Ls(LsArgs),
    /// Show a file's or directory's metadata.
    Stat(StatArgs),
    /// Print files' contents.
    Cat(CatArgs),
    /// Show space and log usage of mounted file systems.
    Df(DfArgs),
    /// Show a file's map of device memory.
    Getmap(GetmapArgs),
    /// Replay a mount's log and report what it holds.
    Logplay(LogplayArgs),
    /// Check a file system (read-only).
    Fsck(FsckArgs),
    /// Check that every file of a mount is usable (map valid, no shared memory).
    Check(CheckArgs),
    /// Write back and drop the CPU cache lines of whole files.
    Flush(FlushArgs),
    /// Test aid: log a file sharing another's memory (leaves a collision).
    Clone(CloneArgs),
    /// Check that a file reads the same through read and through mmap.
    Chkread(ChkreadArgs),
    /// Show where a mounted device's .meta/.superblock and .meta/.log are
    /// (every mount has them; kept for the reference's scripts).
    Mkmeta(MkmetaArgs),
    /// Test aids for simulated regions.
    Debug(DebugArgs),
    /// The FUSE daemon `famfs mount --fuse` starts (not for direct use).
    #[command(hide = true)]
    FuseDaemon(fuse::DaemonArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Write the manual pages (famfs.1 and one per subcommand) into a directory.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// List every file checked (repeat for more)
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print no summary (problems are still reported; the exit status tells)
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// A mount point (or a path under one)
    pub mountpoint: PathBuf,
}

#[derive(Debug, Args)]
pub struct FlushArgs {
    /// Say what was flushed
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ChkreadArgs {
    /// The file is a superblock (.meta/.superblock): show it as read each way
    #[arg(short = 's')]
    pub superblock: bool,
    /// The file is a log (.meta/.log): show its header as read each way
    #[arg(short = 'l')]
    pub log: bool,
    /// A famfs file
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct MkmetaArgs {
    /// Accepted for the reference's scripts (the output is the same)
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The famfs device (e.g. /dev/dax0.0 or a simulated region)
    pub device: PathBuf,
}

#[derive(Debug, Args)]
pub struct CloneArgs {
    /// Say what was done
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    pub src: PathBuf,
    pub dst: PathBuf,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Directory to write the pages into (created if missing)
    pub dir: PathBuf,
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::Mkfs(_) => "mkfs",
            Command::Mount(_) => "mount",
            Command::Umount(_) => "umount",
            Command::Devadd(_) => "devadd",
            Command::Mounts => "mounts",
            Command::Mkdir(_) => "mkdir",
            Command::Creat(_) => "creat",
            Command::Cp(_) => "cp",
            Command::Verify(_) => "verify",
            Command::Ls(_) => "ls",
            Command::Stat(_) => "stat",
            Command::Cat(_) => "cat",
            Command::Df(_) => "df",
            Command::Getmap(_) => "getmap",
            Command::Logplay(_) => "logplay",
            Command::Fsck(_) => "fsck",
            Command::Check(_) => "check",
            Command::Flush(_) => "flush",
            Command::Clone(_) => "clone",
            Command::Chkread(_) => "chkread",
            Command::Mkmeta(_) => "mkmeta",
            Command::Debug(_) => "debug",
            Command::FuseDaemon(_) => "fuse-daemon",
            Command::Completions(_) => "completions",
            Command::Man(_) => "man",
        }
    }
}

/// Owner and permissions of new files and directories.
#[derive(Debug, Args)]
pub struct OwnerArgs {
    /// Permission bits in octal (default: the usual default less the umask)
    #[arg(short = 'm', long, value_parser = mode::parse)]
    pub mode: Option<u32>,
    /// Owner uid (default: the effective uid)
    #[arg(short = 'u', long, value_parser = size::parse_u32)]
    pub uid: Option<u32>,
    /// Owner gid (default: the effective gid)
    #[arg(short = 'g', long, value_parser = size::parse_u32)]
    pub gid: Option<u32>,
}

impl OwnerArgs {
    /// Metadata for a new node whose mode defaults to `default_mode`.
    pub fn meta(&self, default_mode: u32) -> Meta {
        Meta {
            uid: self.uid.unwrap_or_else(|| {
                // SAFETY: geteuid cannot fail and has no preconditions.
                unsafe { libc::geteuid() }
            }),
            gid: self.gid.unwrap_or_else(|| {
                // SAFETY: getegid cannot fail and has no preconditions.
                unsafe { libc::getegid() }
            }),
            mode: mode::effective(self.mode, default_mode),
        }
    }
}

#[derive(Debug, Args)]
pub struct MkfsArgs {
    /// Accepted for the reference's scripts (the summary is always printed)
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Overwrite an existing valid file system
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Invalidate the superblock and exit
    #[arg(short = 'k', long, conflicts_with = "size")]
    pub kill: bool,
    /// Log length (power of two, at least 8m)
    #[arg(short = 'l', long, value_parser = size::parse, default_value = "8m")]
    pub loglen: u64,
    /// Create DEVICE as a sparse simulated region of this size first
    #[arg(long, value_parser = size::parse)]
    pub size: Option<u64>,
    /// File system uuid to record (test aid)
    #[arg(long)]
    pub uuid: Option<Uuid>,
    /// Device uuid to record (test aid)
    #[arg(long)]
    pub dev_uuid: Option<Uuid>,
    /// Master host's system uuid to record (test aid; default: this host)
    #[arg(long)]
    pub system_uuid: Option<Uuid>,
    /// Device name to record (test aid; default: DEVICE)
    #[arg(long)]
    pub devname: Option<String>,
    /// Devdax device or simulated region file
    pub device: PathBuf,
}

#[derive(Debug, Args)]
pub struct MountArgs {
    /// Say what was mounted
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Also mount it in the kernel through FUSE (a daemon serves it), so
    /// programs without the shim see it too; MOUNTPOINT is created
    #[arg(short = 'f', long)]
    pub fuse: bool,
    /// With --fuse: serve in this process instead of a daemon
    #[arg(long)]
    pub foreground: bool,
    /// With --fuse: seconds the kernel keeps file attributes and names
    #[arg(short = 't', long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// With --fuse: one serving thread and debug logging in the daemon's log
    #[arg(short = 'd', long)]
    pub debug: bool,
    /// With --fuse: only the user who mounts may use the mount (no
    /// allow_other)
    #[arg(short = 'u', long = "nouseraccess")]
    pub no_user_access: bool,
    /// Devdax device or simulated region file
    pub device: PathBuf,
    /// Mount point (need not exist)
    pub mountpoint: PathBuf,
    /// Default placement of new files: nbuckets=B,nstrips=N,chunk=C
    #[arg(long, value_name = "SPEC")]
    pub stripe: Option<String>,
    /// Where a secondary device of the file system is (repeatable); each
    /// is found by its uuid and opened the first time a file needs it
    #[arg(long = "device", value_name = "PATH")]
    pub devices: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DebugArgs {
    #[command(subcommand)]
    pub command: DebugCommand,
}

#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Simulate a memory error: reads, writes and mmaps of the range fail
    /// with EHWPOISON in every process (simulated regions only).
    Poison(PoisonArgs),
}

#[derive(Debug, Args)]
pub struct PoisonArgs {
    /// Empty the region's poison list instead
    #[arg(long)]
    pub clear: bool,
    /// Simulated region file
    pub device: PathBuf,
    /// Device offset of the range (k, m, g suffixes); widened to 4 KiB pages
    #[arg(value_parser = size::parse, required_unless_present = "clear")]
    pub offset: Option<u64>,
    /// Length of the range (k, m, g suffixes)
    #[arg(value_parser = size::parse, required_unless_present = "clear")]
    pub len: Option<u64>,
}

#[derive(Debug, Args)]
pub struct DevaddArgs {
    /// Overwrite a famfs superblock the device already holds
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Create DEVICE as a sparse simulated region of this size first
    #[arg(short = 's', long, value_parser = size::parse)]
    pub size: Option<u64>,
    /// Device uuid to record (test aid; default: random)
    #[arg(long)]
    pub dev_uuid: Option<Uuid>,
    /// Mount point of the file system
    pub mountpoint: PathBuf,
    /// Devdax device or simulated region file to add
    pub device: PathBuf,
}

#[derive(Debug, Args)]
pub struct UmountArgs {
    pub mountpoint: PathBuf,
}

#[derive(Debug, Args)]
pub struct MkdirArgs {
    /// Create missing parents too; an existing directory is fine
    #[arg(short = 'p', long)]
    pub parents: bool,
    /// Say what was created (repeat for more)
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(flatten)]
    pub owner: OwnerArgs,
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CreatArgs {
    /// File size (k, m, g suffixes; 0x hex). Required for a new file; for
    /// an existing one it must match
    #[arg(short = 's', long, value_parser = size::parse)]
    pub size: Option<u64>,
    /// Fill with the famfs random pattern (seed printed unless -S); on an
    /// existing file, re-randomize it in place
    #[arg(short = 'r', long, visible_alias = "randomize")]
    pub random: bool,
    /// Seed of the random pattern (implies -r)
    #[arg(short = 'S', long, value_parser = size::parse_u32)]
    pub seed: Option<u32>,
    /// Say what was done (repeat for more)
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// FILE,SIZE[,SEED] to create (randomized when SEED is given and not
    /// 0); repeat for several files
    #[arg(short = 'M', long, value_name = "FILE,SIZE[,SEED]",
          conflicts_with_all = ["size", "seed", "random", "path"])]
    pub multi: Vec<String>,
    /// Accepted for the reference CLI's --multi; files are created one
    /// after another (see docs/cli-spec.md)
    #[arg(short = 't', long, visible_alias = "threadct", value_parser = size::parse_u32)]
    pub threads: Option<u32>,
    #[command(flatten)]
    pub owner: OwnerArgs,
    #[command(flatten)]
    pub stripe: StripeArgs,
    #[arg(required_unless_present = "multi")]
    pub path: Option<PathBuf>,
}

/// Interleaved placement of new files (all unset: the mount's defaults, or
/// one contiguous extent).
#[derive(Debug, Args, Default, Clone)]
pub struct StripeArgs {
    /// Strips per file: the file is interleaved over this many buckets
    #[arg(short = 'N', long, value_parser = size::parse_u32)]
    pub nstrips: Option<u32>,
    /// Buckets the device is divided into
    #[arg(short = 'B', long, value_parser = size::parse_u32)]
    pub nbuckets: Option<u32>,
    /// Chunk size (k, m, g; a power of two, a multiple of 2 MiB)
    #[arg(short = 'C', long, visible_alias = "chunksize", value_parser = size::parse)]
    pub chunk: Option<u64>,
    /// Seed for the device and bucket order, for reproducible placement
    #[arg(long = "stripe-seed")]
    pub stripe_seed: Option<u64>,
    /// Devices an interleaved file's strips go to: all, or N chosen at random
    #[arg(long, value_name = "all|N")]
    pub devices: Option<famfs_core::stripe::DeviceCount>,
}

/// The chunk of an interleaved file when none is given (the reference
/// CLI's default).
const DEFAULT_CHUNK: u64 = 2 << 20;

impl StripeArgs {
    /// The placement for a new file in `mount`: flags given here override
    /// the mount's `--stripe` defaults one by one.
    pub fn placement(
        &self,
        mount: &famfs_core::mounts::MountEntry,
    ) -> famfs_core::Result<famfs_core::famfs::Placement> {
        let defaults = mount::stripe_defaults(mount)?;
        let nstrips = self.nstrips.unwrap_or(defaults.nstrips);
        // Interleaving asked for without the rest: as many buckets as
        // strips (each strip in its own part of the device) and the
        // reference's 2 MiB chunk.
        let nbuckets = self.nbuckets.unwrap_or(match defaults.nbuckets {
            0 => nstrips,
            b => b,
        });
        let chunk = self.chunk.unwrap_or(match defaults.chunk {
            0 if nstrips > 0 => DEFAULT_CHUNK,
            c => c,
        });
        let stripe = famfs_core::stripe::StripeParams {
            nbuckets,
            nstrips,
            chunk,
        };
        Ok(famfs_core::famfs::Placement {
            stripe,
            seed: self.stripe_seed,
            devices: self.devices.unwrap_or_default(),
        })
    }
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Copy directories recursively
    #[arg(short = 'r', long, short_alias = 'R')]
    pub recursive: bool,
    /// Print each file and directory copied (repeat for more)
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Read each copied file back and compare it with its source
    #[arg(short = 'c', long)]
    pub compare: bool,
    /// Accepted for the reference CLI; files are copied one after another
    /// (see docs/cli-spec.md)
    #[arg(short = 't', long, visible_alias = "threadct", value_parser = size::parse_u32)]
    pub threads: Option<u32>,
    #[command(flatten)]
    pub owner: OwnerArgs,
    #[command(flatten)]
    pub stripe: StripeArgs,
    /// SRC... DEST
    #[arg(value_name = "PATH", required = true, num_args = 2..)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Seed the file was created with
    #[arg(short = 'S', long, value_parser = size::parse_u32, required_unless_present = "multi")]
    pub seed: Option<u32>,
    /// File to check
    #[arg(
        short = 'f',
        long,
        visible_alias = "filename",
        required_unless_present = "multi",
        conflicts_with = "multi"
    )]
    pub file: Option<PathBuf>,
    /// FILE,SEED to check; repeat for several files, checked in parallel
    #[arg(short = 'm', long, value_name = "FILE,SEED", conflicts_with = "seed")]
    pub multi: Vec<String>,
    /// Threads for --multi (default: one per file, at most the CPUs)
    #[arg(short = 't', long, visible_alias = "threadct", value_parser = size::parse_u32)]
    pub threads: Option<u32>,
    /// Print nothing; the exit status tells
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Say what was checked
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Long listing, as coreutils ls -l: mode, links, owner, group, size,
    /// date (the mount time), name
    #[arg(short = 'l')]
    pub long: bool,
    /// As -l, with numeric uid and gid
    #[arg(short = 'n')]
    pub numeric: bool,
    /// Files or directories (default: the current directory)
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatArgs {
    pub path: PathBuf,
}

#[derive(Debug, Args)]
pub struct CatArgs {
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct DfArgs {
    /// Sizes in binary units (as df -h)
    #[arg(short = 'h', long = "human-readable", visible_alias = "human")]
    pub human: bool,
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// A mount point or a path under one (default: every mount)
    pub mountpoint: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GetmapArgs {
    /// Print nothing: the exit status says whether PATH is a usable famfs
    /// file (0), not one (1), or a famfs file whose map is unusable (2)
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Accepted for the reference's scripts (there is one PATH)
    #[arg(short = 'c')]
    pub continue_on_error: bool,
    /// Print a JSON object
    #[arg(long)]
    pub json: bool,
    /// Print the GET_FMAP message a famfs FUSE server would send the kernel
    /// for the file (hex; with --json, decoded too)
    #[arg(long)]
    pub fmap: bool,
    pub path: PathBuf,
}

#[derive(Debug, Args)]
pub struct LogplayArgs {
    /// List what each entry would create (with --shadow: write nothing)
    #[arg(short = 'n', long = "dry-run", visible_alias = "dryrun")]
    pub dry_run: bool,
    /// List every entry and what replay did with it
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Read the metadata by mapping it (the default; see docs/cli-spec.md)
    #[arg(short = 'm', long, conflicts_with = "read")]
    pub mmap: bool,
    /// Read the metadata with read() (the reference's test option; famfs
    /// reads it the same way either way)
    #[arg(short = 'r', long)]
    pub read: bool,
    /// Play as a client host would (logplay writes nothing to the file
    /// system either way)
    #[arg(short = 'c', long)]
    pub client: bool,
    /// Write the reference's shadow YAML tree under DIR/root (or DIR when
    /// it ends in /root)
    #[arg(short = 'S', long, value_name = "DIR")]
    pub shadow: Option<PathBuf>,
    /// With --shadow: read each YAML file back and compare it with its
    /// log entry (existing files too)
    #[arg(short = 's', long, requires = "shadow")]
    pub shadowtest: bool,
    /// With --shadow: read the log from this device instead of a mount
    #[arg(short = 'd', long, value_name = "DEVICE", requires = "shadow")]
    pub daxdev: Option<PathBuf>,
    /// A mount point (or a path under one); not with --daxdev
    #[arg(required_unless_present = "daxdev", conflicts_with = "daxdev")]
    pub mountpoint: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct FsckArgs {
    /// List every log entry (repeat for more)
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Human-readable sizes
    #[arg(short = 'h', long = "human-readable", visible_alias = "human")]
    pub human: bool,
    /// Free space of each of NBUCKETS buckets (fragmentation)
    #[arg(short = 'B', long = "buckets", visible_alias = "nbuckets", value_name = "NBUCKETS",
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub buckets: Option<u32>,
    /// Read the metadata by mapping it (the default; see docs/cli-spec.md)
    #[arg(short = 'm', long, conflicts_with = "read")]
    pub mmap: bool,
    /// Read the metadata with read() (the reference's test option; famfs
    /// reads it the same way either way)
    #[arg(short = 'r', long)]
    pub read: bool,
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Device (devdax or simulated region) or a path under a mount point
    pub target: PathBuf,
}

/// The arguments with the reference CLI's `-?` (help) spelled `--help`,
/// up to a `--` that ends the options.
fn help_spellings(args: impl Iterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut options = true;
    args.map(|a| {
        if a == "--" {
            options = false;
        }
        if options && a == "-?" {
            "--help".into()
        } else {
            a
        }
    })
    .collect()
}

/// Writes famfs.1 and famfs-SUBCOMMAND.1 for every subcommand into `dir`.
fn man_pages(dir: &Path, con: &mut Console) -> console::CliResult {
    let err = |what: String, e: std::io::Error| console::CliError::Msg(format!("{what}: {e}"));
    std::fs::create_dir_all(dir).map_err(|e| err(dir.display().to_string(), e))?;
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut pages = vec![("famfs".to_string(), cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("famfs-{}", sub.get_name());
        // clap names are static strings; this runs once and exits.
        let leaked: &'static str = Box::leak(name.clone().into_boxed_str());
        pages.push((name, sub.clone().name(leaked)));
    }
    for (name, page) in pages {
        let path = dir.join(format!("{name}.1"));
        let mut out = Vec::new();
        clap_mangen::Man::new(page)
            .render(&mut out)
            .map_err(|e| err(path.display().to_string(), e))?;
        std::fs::write(&path, out).map_err(|e| err(path.display().to_string(), e))?;
        console::outln!(con, "{}", path.display());
    }
    Ok(())
}

/// Default `FAMFS_LOG` filter.
const DEFAULT_LOG_FILTER: &str = "warn";

fn init_tracing() {
    use std::io::IsTerminal;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // `FAMFS_LOG` is a level (`debug`) or `target=level` directives
    // separated by commas, as `Targets` parses them (no regex engine).
    let filter = std::env::var("FAMFS_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| DEFAULT_LOG_FILTER.parse().expect("valid default filter"));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal() && !no_color),
        )
        .with(filter)
        .try_init();
}

fn dispatch(command: &Command, con: &mut Console) -> console::CliResult {
    match command {
        Command::Completions(a) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(a.shell, &mut cmd, "famfs", &mut out);
            con.bytes(&out)
        }
        Command::Man(a) => man_pages(&a.dir, con),
        Command::Flush(a) => maint::flush(a, con),
        Command::Clone(a) => maint::clone(a, con),
        Command::Chkread(a) => chkread::run(a, con),
        Command::Mkmeta(a) => maint::mkmeta(a, con),
        Command::Check(a) => maint::check(a, con).map(|_| ()),
        Command::Mkfs(a) => mkfs::run(a, con),
        Command::Mount(a) => mount::mount(a, con),
        Command::Umount(a) => mount::umount(a),
        Command::Devadd(a) => devadd::run(a, con),
        Command::Mounts => mount::list(con),
        Command::Mkdir(a) => mkdir::run(a, con),
        Command::Creat(a) => creat::run(a, con),
        Command::Cp(a) => cp::run(a, con),
        Command::Verify(a) => verify::run(a, con),
        Command::Ls(a) => show::ls(a, con),
        Command::Stat(a) => show::stat(a, con),
        Command::Cat(a) => show::cat(a, con),
        Command::Df(a) => show::df(a, con),
        Command::Getmap(a) => show::getmap(a, con),
        Command::Logplay(a) => logplay::run(a, con),
        Command::Fsck(a) => fsck::run(a, con),
        Command::Debug(a) => debug::run(a, con),
        Command::FuseDaemon(a) => fuse::daemon(a),
    }
}

fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse_from(help_spellings(std::env::args_os()));
    let mut con = Console::new(cli.command.name());
    // `check` exits with a bit mask of what it found, as the reference does.
    let status = match &cli.command {
        Command::Check(a) => maint::check(a, &mut con),
        Command::Getmap(a) if a.quiet => Ok(show::getmap_status(a)),
        other => dispatch(other, &mut con).map(|()| 0),
    };
    match status.and_then(|s| con.flush().map(|()| s)) {
        Ok(s) => ExitCode::from(s),
        Err(CliError::ClosedStdout) => ExitCode::SUCCESS,
        Err(CliError::Reported) => ExitCode::FAILURE,
        Err(CliError::Msg(m)) => {
            con.error(&m);
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn fsck_takes_h_for_human_sizes() {
        let cli = Cli::try_parse_from(["famfs", "fsck", "-h", "-v", "/dev/dax0.0"]).unwrap();
        match cli.command {
            Command::Fsck(a) => assert!(a.human && a.verbose == 1),
            other => panic!("{other:?}"),
        }
        let e = Cli::try_parse_from(["famfs", "fsck", "--help"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
        let e = Cli::try_parse_from(["famfs", "ls", "-h"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
    }

    #[test]
    fn cp_needs_a_source_and_a_destination() {
        assert!(Cli::try_parse_from(["famfs", "cp", "a"]).is_err());
        let cli = Cli::try_parse_from(["famfs", "cp", "-R", "-m", "600", "a", "b", "c"]).unwrap();
        match cli.command {
            Command::Cp(a) => {
                assert!(a.recursive);
                assert_eq!(a.owner.mode, Some(0o600));
                assert_eq!(a.paths.len(), 3);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sizes_parse_with_suffixes() {
        let cli = Cli::try_parse_from(["famfs", "creat", "-s", "2m", "-S", "7", "f"]).unwrap();
        match cli.command {
            Command::Creat(a) => assert_eq!((a.size, a.seed), (Some(2 << 20), Some(7))),
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["famfs", "creat", "-s", "2q", "f"]).is_err());
    }
}
