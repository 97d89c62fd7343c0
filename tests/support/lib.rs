//! Harness for the end-to-end tests of the `famfs` command.
//!
//! Every test plays one or more *hosts* ([`Env`]): a temporary directory
//! holding that host's own mount table (`FAMFS_MOUNTS`) and system uuid file
//! (`FAMFS_SYSTEM_UUID_FILE`), so the tests never touch `/run` or `/opt` and
//! can run in parallel. Two `Env`s mounting the same region file are a master
//! and a client. Mount points are virtual paths such as
//! `/famfs-test-1f2e3d/mnt` that do not exist in the kernel's namespace: the
//! CLI resolves them through its mount table alone.
//!
//! The `famfs` binary is not built by `cargo test` (it belongs to another
//! package): build it first with `cargo build -p famfs-cli`, or point
//! `FAMFS_BIN` at one.

pub mod consistency;
pub mod reader;

use sha2::{Digest, Sha256};
use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use uuid::Uuid;

pub use famfs_core::format::{
    crc32, entry_off, log_off, sb_off, LogHeader, LOG_ENTRY_SIZE, LOG_HEADER_SIZE, LOG_OFFSET,
};

/// 1 MiB.
pub const MIB: u64 = 1 << 20;
/// The superblock region plus the default 8 MiB log: the bytes the metadata
/// of a default file system occupies.
pub const META_LEN: u64 = 10 * MIB;
/// A command that runs longer than this is killed and the test fails.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------
// Locating things

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The shared directory holding `famfs-format.md` and `golden/`:
/// `$FAMFS_SHARED`, else `<workspace root>/../shared`. Panics, naming where
/// it looked and what is missing, when it is not there: the compatibility
/// tests must not pass without their reference images (CI always has them).
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("FAMFS_SHARED")
        .filter(|v| !v.is_empty())
        .map_or_else(|| workspace_root().join("../shared"), PathBuf::from);
    for need in ["famfs-format.md", "golden/README.md", "golden/assemble.py"] {
        assert!(
            dir.join(need).is_file(),
            "{} is missing: the golden compatibility tests need the shared \
             directory ($FAMFS_SHARED, else ../shared beside the checkout)",
            dir.join(need).display()
        );
    }
    dir
}

/// A workspace build product: `$ENV_VAR` if set, else `name` found next to
/// (an ancestor of) the running test executable, which lives in
/// `target/<profile>/deps`. Panics with build instructions when missing.
fn built_artifact(env_var: &str, name: &str, package: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env_var).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "{env_var}={} does not name a file; build it first: cargo build -p {package}",
            p.display()
        );
        return p;
    }
    let exe = std::env::current_exe().expect("current_exe");
    exe.ancestors()
        .skip(1)
        .take(3)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} was not found next to {} (nor in its parent directories); \
                 build it first: cargo build -p {package} (or set {env_var})",
                exe.display()
            )
        })
}

/// The `famfs` binary under test: `$FAMFS_BIN`, else `target/<profile>/famfs`.
pub fn famfs_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| built_artifact("FAMFS_BIN", "famfs", "famfs-cli"))
}

/// The shim under test: `$FAMFS_PRELOAD`, else `target/<profile>/libfamfs.so`.
pub fn preload_lib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| built_artifact("FAMFS_PRELOAD", "libfamfs.so", "famfs-preload"))
}

/// Compiles the test program `tests/c/NAME.c` into `dir` with `$CC` (else
/// `cc`), `-D_GNU_SOURCE -pthread -Wall -Wextra -O1 -g` and `extra` flags;
/// returns the executable. Panics with the compiler's output on failure.
pub fn compile_c(name: &str, dir: &Path, extra: &[&str]) -> PathBuf {
    let src = workspace_root().join(format!("tests/c/{name}.c"));
    let exe = dir.join(name);
    let cc = std::env::var("CC")
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "cc".into());
    if let Err(e) = Command::new(&cc).arg("--version").output() {
        panic!("no C compiler `{cc}` ({e}); install one (apt-get install gcc) or set CC");
    }
    let mut cmd = Command::new(&cc);
    cmd.args(["-D_GNU_SOURCE", "-pthread", "-Wall", "-Wextra", "-O1", "-g"])
        .args(extra)
        .arg("-o")
        .arg(&exe)
        .arg(&src);
    let out = run(cmd);
    assert!(
        out.success(),
        "compiling {} failed:\n{}",
        src.display(),
        out.describe()
    );
    if !out.stderr.trim().is_empty() {
        eprintln!("compiler warnings for {}:\n{}", src.display(), out.stderr);
    }
    exe
}

// ---------------------------------------------------------------------------
// Unique names and uuids

/// A random version-4 uuid in its text form.
/// The seed of a randomised test: `FAMFS_TEST_SEED` if set, else a fresh
/// one. It is printed, so a failing run can be replayed.
pub fn test_seed() -> u64 {
    let seed = std::env::var("FAMFS_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("FAMFS_TEST_SEED={seed}");
    seed
}

pub fn random_uuid() -> String {
    Uuid::new_v4().to_string()
}

/// Formats 16 bytes as a uuid (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`).
pub fn format_uuid(b: &[u8]) -> String {
    Uuid::from_slice(b).expect("16 bytes").to_string()
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of `bytes` in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A virtual mount point that does not exist in the kernel's namespace.
pub fn virtual_mountpoint() -> String {
    let top = format!("/famfs-test-{}", Uuid::new_v4().simple());
    assert!(
        !Path::new(&top).exists(),
        "{top} exists; a virtual mount point must not"
    );
    format!("{top}/mnt")
}

// ---------------------------------------------------------------------------
// Running the CLI

/// What one `famfs` run produced.
#[derive(Debug)]
pub struct Out {
    pub stdout_bytes: Vec<u8>,
    pub stdout: String,
    pub stderr: String,
    pub status: ExitStatus,
    /// The command line, for messages.
    pub cmdline: String,
}

impl Out {
    /// The exit code (`None` if killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// A readable account of the run, for assertion messages.
    pub fn describe(&self) -> String {
        let how = match (self.status.code(), self.status.signal()) {
            (Some(c), _) => format!("exit {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            _ => "unknown status".into(),
        };
        let mut stdout = self.stdout.clone();
        if stdout.len() > 4000 {
            let mut cut = 4000;
            while !stdout.is_char_boundary(cut) {
                cut -= 1;
            }
            stdout.truncate(cut);
            stdout.push_str("...[truncated]");
        }
        format!(
            "`{}` -> {how}\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
            self.cmdline, self.stderr
        )
    }
}

/// Quotes an argument for display.
fn shell_word(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Runs `cmd` to completion (killing it after [`COMMAND_TIMEOUT`]),
/// collecting its output.
pub fn run(mut cmd: Command) -> Out {
    let cmdline = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(shell_word)
        .collect::<Vec<_>>()
        .join(" ");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `{cmdline}`: {e}"));
    let mut out_pipe = child.stdout.take().expect("stdout piped");
    let mut err_pipe = child.stderr.take().expect("stderr piped");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let mut nap = Duration::from_micros(200);
    let status = loop {
        match child.try_wait().expect("waiting for the child") {
            Some(st) => break st,
            None if start.elapsed() > COMMAND_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`{cmdline}` did not finish within {COMMAND_TIMEOUT:?}; killed it");
            }
            None => {
                std::thread::sleep(nap);
                nap = (nap * 2).min(Duration::from_millis(10));
            }
        }
    };
    let stdout_bytes = out_t.join().expect("stdout reader");
    let stderr = String::from_utf8_lossy(&err_t.join().expect("stderr reader")).into_owned();
    Out {
        stdout: String::from_utf8_lossy(&stdout_bytes).into_owned(),
        stdout_bytes,
        stderr,
        status,
        cmdline,
    }
}

/// Makes `cmd` run with umask 022, whatever the test runner's umask is.
pub fn with_umask_022(cmd: &mut Command) {
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe functions may be called. umask(2) is a plain system
    // call, async-signal-safe per POSIX; the closure allocates nothing, takes
    // no locks and touches no state of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        });
    }
}

/// The effective uid of the test process.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The effective gid of the test process.
pub fn egid() -> u32 {
    // SAFETY: getegid has no preconditions and cannot fail.
    unsafe { libc::getegid() }
}

/// One simulated host: its own mount table and system uuid.
pub struct Env {
    dir: tempfile::TempDir,
    mounts: PathBuf,
    uuid_file: PathBuf,
    uuid: String,
    cwd: PathBuf,
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

impl Env {
    /// A new host with a random system uuid.
    pub fn new() -> Env {
        Self::with_uuid(&random_uuid())
    }

    /// A new host whose system uuid is `uuid`.
    pub fn with_uuid(uuid: &str) -> Env {
        let dir = tempfile::Builder::new()
            .prefix("famfs-e2e-")
            .tempdir()
            .expect("tempdir");
        let mounts = dir.path().join("run/mounts");
        let uuid_file = dir.path().join("opt/system_uuid");
        fs::create_dir_all(uuid_file.parent().unwrap()).unwrap();
        fs::write(&uuid_file, format!("{uuid}\n")).unwrap();
        let cwd = dir.path().to_path_buf();
        Env {
            dir,
            mounts,
            uuid_file,
            uuid: uuid.to_string(),
            cwd,
        }
    }

    /// This host's system uuid.
    pub fn uuid(&self) -> &str {
        &self.uuid
    }

    /// The host's private directory (also the commands' working directory).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The mount table file (`FAMFS_MOUNTS`).
    pub fn mounts_file(&self) -> &Path {
        &self.mounts
    }

    /// The system uuid file (`FAMFS_SYSTEM_UUID_FILE`).
    pub fn uuid_file(&self) -> &Path {
        &self.uuid_file
    }

    /// A path inside the host's directory, as a string.
    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    /// Runs `famfs` with working directory `cwd`.
    pub fn set_cwd(&mut self, cwd: &Path) {
        self.cwd = cwd.to_path_buf();
    }

    /// A `famfs ARGS` command for this host: its mount table and uuid file,
    /// umask 022, stdin from /dev/null.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new(famfs_bin());
        cmd.args(args)
            .current_dir(&self.cwd)
            .env("FAMFS_MOUNTS", &self.mounts)
            .env("FAMFS_SYSTEM_UUID_FILE", &self.uuid_file)
            .env_remove("FAMFS_LOG")
            .env_remove("FAMFS_FAULT_INJECT")
            .env_remove("RUST_LOG");
        with_umask_022(&mut cmd);
        cmd
    }

    /// `PROGRAM ARGS` run under the shim (`LD_PRELOAD=libfamfs.so`) as a
    /// process of this host: its mount table and uuid file, umask 022, the
    /// host's working directory, stdin from /dev/null (see [`run`]).
    pub fn shim<S: AsRef<OsStr>>(&self, program: impl AsRef<OsStr>, args: &[S]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(&self.cwd)
            .env("FAMFS_MOUNTS", &self.mounts)
            .env("FAMFS_SYSTEM_UUID_FILE", &self.uuid_file)
            .env("LD_PRELOAD", preload_lib())
            .env_remove("FAMFS_LOG")
            .env_remove("FAMFS_FAULT_INJECT")
            .env_remove("RUST_LOG");
        with_umask_022(&mut cmd);
        cmd
    }

    /// `PROGRAM ARGS` under the shim with piped stdio, for tests that
    /// change something while it runs (see [`Stepped`]).
    pub fn shim_stepped<S: AsRef<OsStr>>(&self, program: impl AsRef<OsStr>, args: &[S]) -> Stepped {
        let mut child = self
            .shim(program, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("a program under the shim");
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        Stepped { child, stdout }
    }

    /// Runs `famfs ARGS`.
    pub fn famfs(&self, args: &[&str]) -> Out {
        run(self.command(args))
    }

    /// Runs `famfs ARGS`, which must succeed; returns its stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.famfs(args);
        assert!(out.success(), "expected success: {}", out.describe());
        out.stdout
    }

    /// Runs `famfs ARGS`, which must succeed; returns its raw stdout.
    #[track_caller]
    pub fn ok_bytes(&self, args: &[&str]) -> Vec<u8> {
        let out = self.famfs(args);
        assert!(out.success(), "expected success: {}", out.describe());
        out.stdout_bytes
    }

    /// Runs `famfs ARGS`, which must fail (exit 1, with a message on
    /// stderr); returns its stderr.
    #[track_caller]
    pub fn fail(&self, args: &[&str]) -> String {
        self.fail_code(args, 1)
    }

    /// Runs `famfs ARGS`, which must exit with `code` and say something on
    /// stderr; returns its stderr.
    #[track_caller]
    pub fn fail_code(&self, args: &[&str], code: i32) -> String {
        let out = self.famfs(args);
        assert_eq!(
            out.code(),
            Some(code),
            "expected exit {code}: {}",
            out.describe()
        );
        assert!(
            !out.stderr.trim().is_empty(),
            "failed without a message: {}",
            out.describe()
        );
        out.stderr
    }

    /// `famfs mkfs --size SIZE` a new simulated region in this host's
    /// directory; returns its path. This host becomes the master.
    #[track_caller]
    pub fn mkfs_region(&self, size: &str) -> PathBuf {
        let dev = self
            .dir()
            .join(format!("region-{}.img", Uuid::new_v4().simple()));
        self.ok(&["mkfs", "--size", size, dev.to_str().unwrap()]);
        dev
    }

    /// Mounts `dev` at a fresh virtual mount point; returns the region.
    #[track_caller]
    pub fn mount(&self, dev: &Path) -> Region {
        let mnt = virtual_mountpoint();
        self.ok(&["mount", dev.to_str().unwrap(), &mnt]);
        Region {
            dev: dev.to_path_buf(),
            mnt,
        }
    }

    /// A new simulated region of `size`, formatted and mounted.
    #[track_caller]
    pub fn region(&self, size: &str) -> Region {
        let dev = self.mkfs_region(size);
        self.mount(&dev)
    }
}

/// A program under the shim that the test drives step by step: read its
/// lines, change the world, send it a line to go on, then collect the rest.
pub struct Stepped {
    child: std::process::Child,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Stepped {
    /// The program's next line of output, without the newline.
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut self.stdout, &mut line).unwrap();
        line.trim_end().to_string()
    }

    /// Sends one line to its stdin.
    pub fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin is piped");
        writeln!(stdin, "{line}").unwrap();
    }

    /// Waits for the program; asserts it exited 0 and returns the rest of
    /// its stdout as lines.
    pub fn finish(mut self) -> Vec<String> {
        drop(self.child.stdin.take());
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        let out = self.child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "program died: {:?}\n{rest}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        rest.lines().map(str::to_string).collect()
    }
}

/// Cuts the file at `path` to `len` bytes (a region truncated under its
/// readers: their next access past `len` raises SIGBUS).
pub fn truncate(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

impl Env {
    /// Mounts `dev` through FUSE (`famfs mount --fuse`) at a new directory
    /// in this host's directory; unmounted again when dropped.
    #[track_caller]
    pub fn fuse_mount(&self, dev: &Path) -> FuseMount<'_> {
        let mnt = self.dir().join(format!("fuse-{}", Uuid::new_v4().simple()));
        let mnt = mnt.to_string_lossy().into_owned();
        self.ok(&["mount", "--fuse", dev.to_str().unwrap(), &mnt]);
        FuseMount {
            env: self,
            region: Region {
                dev: dev.to_path_buf(),
                mnt,
            },
        }
    }

    /// A new simulated region of `size`, formatted and mounted through FUSE.
    #[track_caller]
    pub fn fuse_region(&self, size: &str) -> FuseMount<'_> {
        let dev = self.mkfs_region(size);
        self.fuse_mount(&dev)
    }
}

/// A FUSE mount of a region by one host (see [`Env::fuse_mount`]): the
/// mount point is a real directory the kernel serves through the daemon.
pub struct FuseMount<'e> {
    env: &'e Env,
    /// The region and its mount point.
    pub region: Region,
}

impl FuseMount<'_> {
    /// The daemon's pid, from the mount table.
    pub fn daemon_pid(&self) -> i32 {
        let table = fs::read_to_string(self.env.mounts_file()).expect("mount table");
        let line = table
            .lines()
            .find(|l| l.starts_with(&format!("{}\t", self.region.mnt)))
            .expect("the mount's line");
        line.split(['\t', ','])
            .find_map(|f| f.strip_prefix("fuse="))
            .and_then(|p| p.parse().ok())
            .expect("a fuse=PID option")
    }
}

impl std::ops::Deref for FuseMount<'_> {
    type Target = Region;
    fn deref(&self) -> &Region {
        &self.region
    }
}

impl Drop for FuseMount<'_> {
    fn drop(&mut self) {
        let table = fs::read_to_string(self.env.mounts_file()).unwrap_or_default();
        if !table
            .lines()
            .any(|l| l.starts_with(&format!("{}\t", self.region.mnt)))
        {
            return; // the test unmounted it
        }
        let out = self.env.famfs(&["umount", &self.region.mnt]);
        if !out.success() && !std::thread::panicking() {
            panic!("famfs umount failed: {}", out.describe());
        }
    }
}

/// A mounted file system: its device and (virtual) mount point.
#[derive(Debug, Clone)]
pub struct Region {
    pub dev: PathBuf,
    pub mnt: String,
}

impl Region {
    /// The absolute path of `rel` under the mount point (`""` = the mount point).
    pub fn p(&self, rel: &str) -> String {
        if rel.is_empty() {
            self.mnt.clone()
        } else {
            format!("{}/{rel}", self.mnt)
        }
    }

    /// The device path as a string.
    pub fn dev_str(&self) -> &str {
        self.dev.to_str().expect("utf-8 device path")
    }

    /// The first [`META_LEN`] bytes of the device: superblock region and log.
    pub fn meta(&self) -> Vec<u8> {
        read_range(&self.dev, 0, META_LEN as usize)
    }
}

// ---------------------------------------------------------------------------
// Bytes on the device

/// Reads `len` bytes at `off` of `path`.
pub fn read_range(path: &Path, off: u64, len: usize) -> Vec<u8> {
    let f = fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut buf = vec![0u8; len];
    f.read_exact_at(&mut buf, off)
        .unwrap_or_else(|e| panic!("read {}@{off}: {e}", path.display()));
    buf
}

/// Writes `bytes` at `off` of `path` (no truncation).
pub fn write_range(path: &Path, off: u64, bytes: &[u8]) {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    f.write_all_at(bytes, off)
        .unwrap_or_else(|e| panic!("write {}@{off}: {e}", path.display()));
}

/// Inverts every bit of the byte at `off` of `path`.
pub fn flip_byte(path: &Path, off: u64) {
    let b = read_range(path, off, 1)[0];
    write_range(path, off, &[!b]);
}

/// The little-endian u64 at `off` of `bytes`.
pub fn le_u64(bytes: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap())
}

/// The little-endian u32 at `off` of `bytes`.
pub fn le_u32(bytes: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap())
}

/// Recomputes the superblock CRC of the device at `path`.
pub fn fix_superblock_crc(path: &Path) {
    let sb = read_range(path, 0, sb_off::CRC_COVERS);
    let crc = u64::from(crc32(&sb));
    write_range(path, sb_off::CRC as u64, &crc.to_le_bytes());
}

/// Device offset of log entry `index` (default log at 2 MiB).
pub fn entry_offset(index: u64) -> u64 {
    LOG_OFFSET + LogHeader::entry_offset(index)
}

/// The log header's `next_index` on the device at `path`.
pub fn log_next_index(path: &Path) -> u64 {
    let h = read_range(path, LOG_OFFSET, LOG_HEADER_SIZE as usize);
    le_u64(&h, log_off::NEXT_INDEX)
}

/// Asserts two byte strings are equal, reporting the first difference (and
/// how many bytes differ) instead of dumping megabytes.
#[track_caller]
pub fn assert_bytes_eq(what: &str, actual: &[u8], expected: &[u8], base: u64) {
    if actual == expected {
        return;
    }
    let n = actual.len().min(expected.len());
    let first = (0..n).find(|&i| actual[i] != expected[i]);
    let differing = (0..n).filter(|&i| actual[i] != expected[i]).count();
    match first {
        Some(i) => {
            let lo = i.saturating_sub(8);
            let hi = (i + 24).min(n);
            panic!(
                "{what}: {differing} byte(s) differ; first at offset {:#x} ({}):\n  actual   {}\n  expected {}\n(lengths {} and {})",
                base + i as u64,
                base + i as u64,
                hex(&actual[lo..hi]),
                hex(&expected[lo..hi]),
                actual.len(),
                expected.len()
            )
        }
        None => panic!(
            "{what}: lengths differ ({} vs {} expected)",
            actual.len(),
            expected.len()
        ),
    }
}

/// Asserts the metadata of `region` is still `before`.
#[track_caller]
pub fn assert_meta_unchanged(region: &Region, before: &[u8], what: &str) {
    assert_bytes_eq(
        &format!("{what}: metadata changed"),
        &region.meta(),
        before,
        0,
    );
}

/// Writes a regular file (creating parents) with the given mode.
pub fn write_file(path: &Path, data: &[u8], mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    if let Some(d) = path.parent() {
        fs::create_dir_all(d).unwrap();
    }
    let mut f = fs::File::create(path).unwrap();
    f.write_all(data).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// The famfs random pattern (`creat -r -S seed`) of `len` bytes.
pub fn pattern(seed: u32, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    famfs_core::random::RandomPattern::new(seed).fill(&mut v);
    v
}

/// Bytes for a golden content rule (`seed:N`, `fill:C`, `mod251`).
pub fn golden_content(rule: &str, size: usize) -> Vec<u8> {
    if let Some(seed) = rule.strip_prefix("seed:") {
        pattern(seed.parse().expect("seed"), size)
    } else if let Some(c) = rule.strip_prefix("fill:") {
        assert_eq!(c.len(), 1, "fill rule {rule}");
        vec![c.as_bytes()[0]; size]
    } else if rule == "mod251" {
        (0..size).map(|i| (i % 251) as u8).collect()
    } else {
        panic!("unknown content rule {rule}")
    }
}

/// One line of a golden `NAME.expect.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub is_dir: bool,
    pub path: String,
    pub size: Option<u64>,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub rule: Option<String>,
    pub sha256: Option<String>,
}

/// Parses a golden `NAME.expect.tsv`.
pub fn parse_expect(text: &str) -> Vec<Expect> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 8, "bad tsv line {l:?}");
            let opt = |s: &str| (s != "-").then(|| s.to_string());
            Expect {
                is_dir: match f[0] {
                    "dir" => true,
                    "file" => false,
                    k => panic!("unknown kind {k}"),
                },
                path: f[1].to_string(),
                size: opt(f[2]).map(|s| s.parse().unwrap()),
                mode: u32::from_str_radix(f[3], 8).unwrap(),
                uid: f[4].parse().unwrap(),
                gid: f[5].parse().unwrap(),
                rule: opt(f[6]),
                sha256: opt(f[7]),
            }
        })
        .collect()
}

/// `ls -l` style permission string for a type and mode (`drwxr-xr-x`).
pub fn mode_string(is_dir: bool, mode: u32) -> String {
    let mut s = String::with_capacity(10);
    s.push(if is_dir { 'd' } else { '-' });
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// Decompresses a `.gz` file with `gzip -dc`.
pub fn gunzip(path: &Path) -> Vec<u8> {
    let mut cmd = Command::new("gzip");
    cmd.arg("-dc").arg(path);
    let out = run(cmd);
    assert!(out.success(), "gunzip failed: {}", out.describe());
    out.stdout_bytes
}

// ---------------------------------------------------------------------------
// Output parsing

/// The `N/M` figures on the first line of `text` that mentions `key` and
/// holds any.
pub fn fractions_on(text: &str, key: &str) -> Vec<(u64, u64)> {
    text.lines()
        .filter(|l| l.to_lowercase().contains(key))
        .map(|line| {
            line.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
                .filter_map(|tok| {
                    let (a, b) = tok.split_once('/')?;
                    Some((a.parse().ok()?, b.parse().ok()?))
                })
                .collect::<Vec<_>>()
        })
        .find(|f| !f.is_empty())
        .unwrap_or_else(|| panic!("no N/M figure on a line mentioning {key:?} in:\n{text}"))
}

/// The count reported on the line mentioning any of `keys` (`files`,
/// `directories`/`dirs`, ...).
pub fn count_of(text: &str, keys: &[&str]) -> u64 {
    for k in keys {
        if text.to_lowercase().lines().any(|l| l.contains(k)) {
            return number_after(text, k);
        }
    }
    panic!("none of {keys:?} reported in:\n{text}")
}

/// The first number on the line of `text` that mentions `key` (after the key).
pub fn number_after(text: &str, key: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.to_lowercase().contains(key))
        .unwrap_or_else(|| panic!("no line mentions {key:?} in:\n{text}"));
    let at = line.to_lowercase().find(key).unwrap() + key.len();
    line[at..]
        .split(|c: char| !c.is_ascii_digit())
        .find(|t| !t.is_empty())
        .unwrap_or_else(|| panic!("no number after {key:?} in {line:?}"))
        .parse()
        .unwrap()
}

/// The first array named `key` anywhere in a JSON value.
pub fn find_array<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a Vec<serde_json::Value>> {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(serde_json::Value::Array(a)) = m.get(key) {
                return Some(a);
            }
            m.values().find_map(|x| find_array(x, key))
        }
        serde_json::Value::Array(a) => a.iter().find_map(|x| find_array(x, key)),
        _ => None,
    }
}
