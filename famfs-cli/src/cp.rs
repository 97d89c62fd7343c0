//! `famfs cp`: copy files, and with `-r` directories, into famfs with GNU
//! cp's rules for where each source goes.
//!
//! Deciding what to do ([`plan`] and [`action`]) is pure: it only asks a
//! closure what exists at a destination path, so it is unit tested without
//! a device. Doing it ([`Copier`]) streams each source into its famfs file
//! in [`IO_CHUNK`] pieces inside [`Famfs::create_file`]'s fill closure, so a
//! copy that fails (a read error, a source that shrank) logs nothing. A
//! destination file of the same size is rewritten in place, which makes an
//! interrupted copy restartable. A source under a famfs mount point is read
//! through the library (no shim needed, and the mount point need not exist
//! in the kernel's namespace).

use crate::console::{outln, CliError, CliResult, Console};
use crate::{target, CpArgs, IO_CHUNK};
use famfs_core::dax::Access;
use famfs_core::famfs::{Created, Famfs};
use famfs_core::file::FileData;
use famfs_core::mounts::MountEntry;
use famfs_core::namespace::Meta;
use famfs_core::{path, Error};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, IsTerminal};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Copies at least this large get a progress bar (when stderr is a terminal).
const PROGRESS_MIN: u64 = 64 << 20;

/// What a famfs path holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    Missing,
    File { size: u64 },
    Dir,
}

/// What a source path is (symlinks followed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    File {
        size: u64,
    },
    Dir,
    /// A FIFO, socket or device: famfs holds regular files only.
    Special,
    /// It could not be examined; the message says why.
    Unusable(String),
}

/// What to do for one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CreateFile,
    /// The destination is a file of the same size: rewrite it in place.
    RewriteFile,
    CreateDir,
    /// The destination directory exists: copy into it.
    MergeDir,
}

/// Why a source is not copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    OmitDir,
    Special,
    Unusable(String),
    SizeMismatch { existing: u64, requested: u64 },
    DirOverFile,
    FileOverDir,
    BadName(String),
}

impl Refusal {
    /// The message for source `src` and destination `dst` (as shown).
    pub fn message(&self, src: &Path, dst: &str) -> String {
        let src = src.display();
        match self {
            Refusal::OmitDir => format!("-r not specified; omitting directory '{src}'"),
            Refusal::Special => format!("{src}: not a regular file or directory; skipped"),
            Refusal::Unusable(why) => format!("{src}: {why}"),
            Refusal::SizeMismatch {
                existing,
                requested,
            } => format!(
                "{dst}: already exists with size {existing}, not {requested} (famfs files cannot change size)"
            ),
            Refusal::DirOverFile => {
                format!("cannot overwrite non-directory '{dst}' with directory '{src}'")
            }
            Refusal::FileOverDir => {
                format!("cannot overwrite directory '{dst}' with non-directory '{src}'")
            }
            Refusal::BadName(why) => format!("{src}: {why}"),
        }
    }
}

/// What to do with a source of kind `src` whose destination holds `dst`.
pub fn action(src: &SourceKind, dst: Existing, recursive: bool) -> Result<Action, Refusal> {
    match (src, dst) {
        (SourceKind::Unusable(why), _) => Err(Refusal::Unusable(why.clone())),
        (SourceKind::Special, _) => Err(Refusal::Special),
        (SourceKind::Dir, _) if !recursive => Err(Refusal::OmitDir),
        (SourceKind::Dir, Existing::Missing) => Ok(Action::CreateDir),
        (SourceKind::Dir, Existing::Dir) => Ok(Action::MergeDir),
        (SourceKind::Dir, Existing::File { .. }) => Err(Refusal::DirOverFile),
        (SourceKind::File { .. }, Existing::Missing) => Ok(Action::CreateFile),
        (SourceKind::File { .. }, Existing::Dir) => Err(Refusal::FileOverDir),
        (SourceKind::File { size }, Existing::File { size: existing }) if *size == existing => {
            Ok(Action::RewriteFile)
        }
        (SourceKind::File { size }, Existing::File { size: existing }) => {
            Err(Refusal::SizeMismatch {
                existing,
                requested: *size,
            })
        }
    }
}

/// One top-level source as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    /// Its last component as famfs would store it, or why it has none.
    pub name: Result<String, String>,
    pub kind: SourceKind,
}

/// One planned copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub src: PathBuf,
    /// Destination, relative to the mount point.
    pub dst: String,
    pub action: Result<Action, Refusal>,
}

/// Plans `cp [-r] SOURCES... DEST` with GNU cp's rules: DEST an existing
/// directory or spelled with a trailing `/` means `DEST/basename(SRC)`,
/// otherwise DEST itself, which several sources may not share. `dest` is
/// relative to the mount point; `exists` says what a relative path holds.
/// An error refuses the whole command; per-source refusals are in the steps.
pub fn plan(
    sources: &[Source],
    dest: &str,
    dest_slash: bool,
    recursive: bool,
    exists: impl Fn(&str) -> Existing,
) -> Result<Vec<Step>, String> {
    let dest_state = exists(dest);
    let into_dir = dest_state == Existing::Dir || dest_slash;
    if sources.len() > 1 && dest_state != Existing::Dir {
        return Err("is not a directory".to_string());
    }
    Ok(sources
        .iter()
        .map(|s| {
            let dst = if into_dir {
                match &s.name {
                    Ok(name) => target::join(dest, name),
                    Err(why) => {
                        return Step {
                            src: s.path.clone(),
                            dst: dest.to_string(),
                            action: Err(Refusal::BadName(why.clone())),
                        }
                    }
                }
            } else {
                dest.to_string()
            };
            let action = match path::check_relpath(&dst) {
                Err(e) => Err(Refusal::BadName(e.to_string())),
                Ok(()) => action(&s.kind, exists(&dst), recursive),
            };
            Step {
                src: s.path.clone(),
                dst,
                action,
            }
        })
        .collect())
}

/// What `path` is, following symlinks.
pub fn source_kind(path: &Path) -> SourceKind {
    match fs::metadata(path) {
        Ok(m) if m.is_file() => SourceKind::File { size: m.len() },
        Ok(m) if m.is_dir() => SourceKind::Dir,
        Ok(_) => SourceKind::Special,
        Err(e) => SourceKind::Unusable(format!("cannot stat: {e}")),
    }
}

/// The name a source gets inside a destination directory: its last
/// component (for `.`, `..` and the like, that of the path it resolves to).
pub fn source_name(path: &Path) -> Result<String, String> {
    let name = match path.file_name() {
        Some(n) => n.to_os_string(),
        None => fs::canonicalize(path)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_os_string()))
            .ok_or_else(|| "has no name to copy to".to_string())?,
    };
    name.into_string()
        .map_err(|_| "name is not valid UTF-8 (famfs stores UTF-8 paths)".to_string())
}

/// What a famfs path holds.
fn existing(fs: &Famfs, rel: &str) -> Existing {
    match fs.lookup(rel) {
        Ok(n) => match n.as_file() {
            Some(f) => Existing::File { size: f.size },
            None => Existing::Dir,
        },
        Err(_) => Existing::Missing,
    }
}

pub fn run(a: &CpArgs, con: &mut Console) -> CliResult {
    let Some((dest, srcs)) = a.paths.split_last() else {
        return Err("missing destination".into());
    };
    if srcs.is_empty() {
        return Err(format!("missing destination after '{}'", dest.display()).into());
    }
    let table = famfs_core::mounts::MountTable::load()?;
    let t = target::resolve_in(&table, dest)?;
    let mut fs = t.open(Access::ReadWrite)?;
    // Every file would fail the same way on a client: say it once.
    fs.require_master()?;
    let mut famfs_sources = FamfsSources::new(&table);
    let sources: Vec<Source> = srcs
        .iter()
        .map(|p| match famfs_sources.target(p) {
            Some(st) => Source {
                path: p.clone(),
                name: famfs_name(&st),
                kind: famfs_sources.kind(&st, &fs),
            },
            None => Source {
                path: p.clone(),
                name: source_name(p),
                kind: source_kind(p),
            },
        })
        .collect();
    let dest_slash = dest.as_os_str().as_bytes().ends_with(b"/");
    let steps = plan(&sources, &t.rel, dest_slash, a.recursive, |rel| {
        existing(&fs, rel)
    })
    .map_err(|why| CliError::Msg(format!("target '{}' {why}", dest.display())))?;

    let total = if io::stderr().is_terminal() {
        steps
            .iter()
            .map(|s| match famfs_sources.target(&s.src) {
                Some(st) => famfs_sources.bytes(&st, &fs, a.recursive),
                None => source_bytes(&s.src, a.recursive, &mut Vec::new()),
            })
            .sum()
    } else {
        0
    };
    let progress = (total >= PROGRESS_MIN).then(|| progress_bar(total));
    // Only uid and gid come from here: modes follow the sources (or -m).
    let owner = a.owner.meta(0);
    let mut copier = Copier {
        fs: &mut fs,
        mount: &t.mount,
        placement: a.stripe.placement(&t.mount).map_err(|e| t.err(e))?,
        uid: owner.uid,
        gid: owner.gid,
        file_mode: a.owner.mode,
        verbose: a.verbose > 0,
        compare: a.compare,
        umask: crate::mode::umask(),
        written: HashSet::new(),
        progress,
        failed: false,
        famfs_sources,
    };
    for step in steps {
        let result = match step.action {
            Err(r) => Err(CliError::Msg(
                r.message(&step.src, &target::shown(&t.mount, &step.dst)),
            )),
            Ok(action) => copier.copy(&step.src, &step.dst, action, &mut Vec::new(), con),
        };
        if let Err(e) = result {
            copier.failed = true;
            copier.report(con, e)?;
        }
    }
    if let Some(bar) = &copier.progress {
        bar.finish_and_clear();
    }
    if copier.failed {
        Err(CliError::Reported)
    } else {
        Ok(())
    }
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)")
    {
        bar.set_style(style);
    }
    bar
}

/// Bytes `path` would copy (for the progress bar; errors count as 0).
/// `ancestors` holds the directories being walked, so a symlink back to one
/// of them is not followed forever.
fn source_bytes(path: &Path, recursive: bool, ancestors: &mut Vec<(u64, u64)>) -> u64 {
    match fs::metadata(path) {
        Ok(m) if m.is_file() => m.len(),
        Ok(m) if m.is_dir() && recursive && !ancestors.contains(&(m.dev(), m.ino())) => {
            ancestors.push((m.dev(), m.ino()));
            let total = fs::read_dir(path)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| source_bytes(&e.path(), recursive, ancestors))
                        .sum()
                })
                .unwrap_or(0);
            ancestors.pop();
            total
        }
        _ => 0,
    }
}

/// Carries out planned copies on one open file system.
struct Copier<'a> {
    fs: &'a mut Famfs,
    mount: &'a MountEntry,
    /// Where new files go (contiguous or interleaved).
    placement: famfs_core::famfs::Placement,
    uid: u32,
    gid: u32,
    /// `-m`: the mode of every copied file.
    file_mode: Option<u32>,
    verbose: bool,
    /// `--compare`: read each copied file back against its source.
    compare: bool,
    umask: u32,
    /// Destinations written by this run: a second source must not
    /// overwrite what the first one just copied.
    written: HashSet<String>,
    progress: Option<ProgressBar>,
    failed: bool,
    /// Sources under famfs mount points.
    famfs_sources: FamfsSources,
}

impl Copier<'_> {
    fn report(&mut self, con: &mut Console, e: CliError) -> CliResult {
        if let Some(bar) = &self.progress {
            bar.suspend(|| con.carry_on(e))
        } else {
            con.carry_on(e)
        }
    }

    fn meta(&self, src_mode: u32, explicit: Option<u32>) -> Meta {
        Meta {
            uid: self.uid,
            gid: self.gid,
            mode: explicit.unwrap_or(src_mode & 0o777 & !self.umask),
        }
    }

    /// `cp -v`: names what was copied (above the progress bar, if any).
    fn say(&self, con: &mut Console, src: &Path, shown: &str) -> CliResult {
        if !self.verbose {
            return Ok(());
        }
        let mut line = || -> CliResult {
            outln!(con, "'{}' -> '{shown}'", src.display());
            con.flush()
        };
        match &self.progress {
            Some(bar) => bar.suspend(line),
            None => line(),
        }
    }

    fn copy(
        &mut self,
        src: &Path,
        dst: &str,
        action: Action,
        ancestors: &mut Vec<(u64, u64)>,
        con: &mut Console,
    ) -> CliResult {
        let shown = target::shown(self.mount, dst);
        match action {
            Action::CreateFile | Action::RewriteFile => {
                if !self.written.insert(dst.to_string()) {
                    return Err(CliError::Msg(format!(
                        "will not overwrite just-created '{shown}' with '{}'",
                        src.display()
                    )));
                }
                match self.famfs_sources.target(src) {
                    Some(st) => self.copy_famfs_file(&st, src, dst)?,
                    None => self.copy_file(src, dst)?,
                }
                self.say(con, src, &shown)
            }
            Action::CreateDir | Action::MergeDir => match self.famfs_sources.target(src) {
                Some(st) => self.copy_famfs_dir(&st, src, dst, action, con),
                None => self.copy_dir(src, dst, action, ancestors, con),
            },
        }
    }

    /// Copies `src` to `dst`: a new file is filled before it is logged; a
    /// file already there with the same size is rewritten in place (the
    /// library reports any other size as a mismatch).
    fn copy_file(&mut self, src: &Path, dst: &str) -> CliResult {
        let io_err =
            |what: &str, e: io::Error| CliError::Msg(format!("{}: {what}: {e}", src.display()));
        let mut file = File::open(src).map_err(|e| io_err("cannot open", e))?;
        let m = file.metadata().map_err(|e| io_err("cannot stat", e))?;
        if !m.is_file() {
            return Err(Refusal::Special.message(src, dst).into());
        }
        let meta = self.meta(m.mode(), self.file_mode);
        let progress = self.progress.clone();
        self.create_or_rewrite(dst, m.len(), meta, |io| {
            copy_into(io, &mut file, src, progress.as_ref())
        })?;
        if self.compare {
            use std::os::unix::fs::FileExt;
            let io = self.dest_io(dst)?;
            compare(&io, src, |off, buf| file.read_at(buf, off))?;
        }
        Ok(())
    }

    /// The bytes of destination file `dst`, for `--compare`.
    fn dest_io(&mut self, dst: &str) -> CliResult<FileData> {
        let mount = self.mount;
        let ino = self
            .fs
            .lookup(dst)
            .map_err(|e| target::in_mount(mount, e))?
            .ino;
        self.fs.file_io(ino).map_err(|e| target::in_mount(mount, e))
    }

    /// Fills a new file `dst` of `size` bytes with `fill` before it is
    /// logged, or, when a file of that size is already there, rewrites it
    /// in place with `fill` (the library reports any other size).
    fn create_or_rewrite(
        &mut self,
        dst: &str,
        size: u64,
        meta: Meta,
        mut fill: impl FnMut(&FileData) -> famfs_core::Result<()>,
    ) -> CliResult {
        let mount = self.mount;
        let in_mount = |e| target::in_mount(mount, e);
        match self
            .fs
            .create_file_placed(dst, size, meta, &self.placement, &mut fill)
            .map_err(in_mount)?
        {
            Created::New(_) => Ok(()),
            Created::Existing(ino) => {
                let io = self.fs.file_io(ino).map_err(in_mount)?;
                Ok(fill(&io)?)
            }
        }
    }

    /// Copies famfs file `st` to `dst`, reading it through the library.
    fn copy_famfs_file(&mut self, st: &target::Target, src: &Path, dst: &str) -> CliResult {
        let (src_io, mode) = {
            let fs = self.famfs_sources.fs(st, self.fs)?;
            let n = fs.lookup(&st.rel).map_err(|e| st.err(e))?;
            if n.is_dir() {
                return Err(Refusal::Special.message(src, dst).into());
            }
            (fs.file_io(n.ino).map_err(|e| st.err(e))?, n.meta.mode)
        };
        let meta = self.meta(mode, self.file_mode);
        let progress = self.progress.clone();
        self.create_or_rewrite(dst, src_io.size(), meta, |io| {
            copy_famfs_into(io, &src_io, progress.as_ref())
        })?;
        if self.compare {
            let io = self.dest_io(dst)?;
            compare(&io, src, |off, buf| {
                src_io
                    .read(off, buf)
                    .map_err(|e| io::Error::from_raw_os_error(e.errno()))
            })?;
        }
        Ok(())
    }

    /// Copies famfs directory `st` to `dst` (`-r`), children in name order.
    fn copy_famfs_dir(
        &mut self,
        st: &target::Target,
        src: &Path,
        dst: &str,
        action: Action,
        con: &mut Console,
    ) -> CliResult {
        let (mode, names) = {
            let fs = self.famfs_sources.fs(st, self.fs)?;
            let n = fs.lookup(&st.rel).map_err(|e| st.err(e))?;
            let ns = fs.replay().namespace();
            let names: Vec<String> = ns
                .children(n.ino)
                .map_err(|e| st.err(e))?
                .map(|(name, _)| name.to_string())
                .collect();
            (n.meta.mode, names)
        };
        // Copying a directory into itself would never end.
        if st.mount.mountpoint == self.mount.mountpoint
            && (dst == st.rel || dst.starts_with(&format!("{}/", st.rel)) || st.rel.is_empty())
        {
            return Err(format!(
                "cannot copy a directory, '{}', into itself, '{}'",
                src.display(),
                target::shown(self.mount, dst)
            )
            .into());
        }
        let shown = target::shown(self.mount, dst);
        if action == Action::CreateDir {
            let meta = self.meta(mode, None);
            self.fs
                .mkdir(dst, meta, None)
                .map_err(|e| target::in_mount(self.mount, e))?;
        }
        self.say(con, src, &shown)?;
        for name in names {
            let child = src.join(&name);
            let child_dst = target::join(dst, &name);
            let result = match path::check_relpath(&child_dst) {
                Err(e) => Err(Refusal::BadName(e.to_string())),
                Ok(()) => {
                    let kind = match self.famfs_sources.target(&child) {
                        Some(ct) => self.famfs_sources.kind(&ct, self.fs),
                        None => SourceKind::Unusable("no longer under a famfs mount".into()),
                    };
                    self::action(&kind, existing(self.fs, &child_dst), true)
                }
            }
            .map_err(|r| CliError::Msg(r.message(&child, &target::shown(self.mount, &child_dst))))
            .and_then(|a| self.copy(&child, &child_dst, a, &mut Vec::new(), con));
            if let Err(e) = result {
                self.failed = true;
                self.report(con, e)?;
            }
        }
        Ok(())
    }

    fn copy_dir(
        &mut self,
        src: &Path,
        dst: &str,
        action: Action,
        ancestors: &mut Vec<(u64, u64)>,
        con: &mut Console,
    ) -> CliResult {
        let m = fs::metadata(src).map_err(|e| format!("{}: cannot stat: {e}", src.display()))?;
        let id = (m.dev(), m.ino());
        if ancestors.contains(&id) {
            return Err(format!(
                "{}: directory loop (a symlink leads back to a directory being copied); skipped",
                src.display()
            )
            .into());
        }
        let shown = target::shown(self.mount, dst);
        if action == Action::CreateDir {
            // -m is for files; directories keep their source mode less the umask.
            let meta = self.meta(m.mode(), None);
            self.fs
                .mkdir(dst, meta, None)
                .map_err(|e| target::in_mount(self.mount, e))?;
        }
        self.say(con, src, &shown)?;
        let mut names: Vec<_> = fs::read_dir(src)
            .and_then(|rd| {
                rd.map(|e| e.map(|e| e.file_name()))
                    .collect::<io::Result<_>>()
            })
            .map_err(|e| format!("{}: cannot read directory: {e}", src.display()))?;
        names.sort();
        ancestors.push(id);
        for name in names {
            let child = src.join(&name);
            let result = match name.to_str() {
                None => Err(CliError::Msg(format!(
                    "{}: name is not valid UTF-8 (famfs stores UTF-8 paths); skipped",
                    child.display()
                ))),
                Some(n) => {
                    let child_dst = target::join(dst, n);
                    let act = match path::check_relpath(&child_dst) {
                        Err(e) => Err(Refusal::BadName(e.to_string())),
                        Ok(()) => {
                            self::action(&source_kind(&child), existing(self.fs, &child_dst), true)
                        }
                    };
                    match act {
                        Ok(a) => self.copy(&child, &child_dst, a, ancestors, con),
                        Err(r) => Err(CliError::Msg(
                            r.message(&child, &target::shown(self.mount, &child_dst)),
                        )),
                    }
                }
            };
            if let Err(e) = result {
                self.failed = true;
                self.report(con, e)?;
            }
        }
        ancestors.pop();
        Ok(())
    }
}

/// `--compare`: reads `io` back and `read_src(offset, buf)` (the source)
/// a chunk at a time; the first differing offset is an error.
fn compare(
    io: &FileData,
    src: &Path,
    mut read_src: impl FnMut(u64, &mut [u8]) -> io::Result<usize>,
) -> CliResult {
    let mut a = vec![0u8; IO_CHUNK.min(io.size() as usize).max(1)];
    let mut b = vec![0u8; a.len()];
    let mut off = 0u64;
    while off < io.size() {
        let n = io.read(off, &mut a)?;
        let mut got = 0;
        while got < n {
            let k = read_src(off + got as u64, &mut b[got..n]).map_err(|e| {
                CliError::Msg(format!("{}: reading for --compare: {e}", src.display()))
            })?;
            if k == 0 {
                break;
            }
            got += k;
        }
        if let Some(i) = (0..n).find(|&i| i >= got || a[i] != b[i]) {
            return Err(CliError::Msg(format!(
                "{}: copy differs from its source at offset {}",
                src.display(),
                off + i as u64
            )));
        }
        off += n as u64;
    }
    Ok(())
}

/// Sources under famfs mount points, and the file systems they are read
/// from (the destination's own when it is the same mount).
struct FamfsSources {
    table: famfs_core::mounts::MountTable,
    open: std::collections::HashMap<PathBuf, Famfs>,
}

impl FamfsSources {
    fn new(table: &famfs_core::mounts::MountTable) -> Self {
        FamfsSources {
            table: table.clone(),
            open: Default::default(),
        }
    }

    /// The famfs mount and path of `p`, if it is under a mount point.
    fn target(&self, p: &Path) -> Option<target::Target> {
        target::resolve_in(&self.table, p).ok()
    }

    /// The file system `st` is on: `dest` if it is the destination's
    /// mount, else that mount opened read-only (once).
    fn fs<'a>(&'a mut self, st: &target::Target, dest: &'a Famfs) -> CliResult<&'a Famfs> {
        if dest.superblock().uuid == st.mount.fs_uuid {
            return Ok(dest);
        }
        if !self.open.contains_key(&st.mount.mountpoint) {
            let fs = st.open(Access::ReadOnly)?;
            self.open.insert(st.mount.mountpoint.clone(), fs);
        }
        Ok(&self.open[&st.mount.mountpoint])
    }

    /// What famfs path `st` is.
    fn kind(&mut self, st: &target::Target, dest: &Famfs) -> SourceKind {
        let fs = match self.fs(st, dest) {
            Ok(fs) => fs,
            Err(e) => return SourceKind::Unusable(format!("cannot open its file system: {e:?}")),
        };
        match fs.lookup(&st.rel) {
            Ok(n) => match n.as_file() {
                Some(f) => SourceKind::File { size: f.size },
                None => SourceKind::Dir,
            },
            Err(e) => SourceKind::Unusable(format!("cannot stat: {e}")),
        }
    }

    /// Bytes famfs path `st` would copy (for the progress bar).
    fn bytes(&mut self, st: &target::Target, dest: &Famfs, recursive: bool) -> u64 {
        let Ok(fs) = self.fs(st, dest) else {
            return 0;
        };
        let Ok(n) = fs.lookup(&st.rel) else {
            return 0;
        };
        fn walk(ns: &famfs_core::namespace::Namespace, n: &famfs_core::namespace::Node) -> u64 {
            match n.as_file() {
                Some(f) => f.size,
                None => ns
                    .children(n.ino)
                    .map(|c| c.map(|(_, child)| walk(ns, child)).sum())
                    .unwrap_or(0),
            }
        }
        match n.as_file() {
            Some(f) => f.size,
            None if recursive => walk(fs.replay().namespace(), n),
            None => 0,
        }
    }
}

/// The name a famfs source gets inside a destination directory.
fn famfs_name(st: &target::Target) -> Result<String, String> {
    match st.rel.rsplit('/').next().filter(|n| !n.is_empty()) {
        Some(n) => Ok(n.to_string()),
        None => source_name(&st.mount.mountpoint),
    }
}

/// Copies all of famfs file `src` into `io` (the same size), a chunk at a
/// time through a buffer.
fn copy_famfs_into(
    io: &FileData,
    src: &FileData,
    progress: Option<&ProgressBar>,
) -> famfs_core::Result<()> {
    let mut buf = vec![0u8; IO_CHUNK.min(io.size() as usize).max(1)];
    let mut off = 0u64;
    while off < io.size() {
        let n = src.read(off, &mut buf)?;
        if n == 0 {
            break;
        }
        io.write(off, &buf[..n])?;
        off += n as u64;
        if let Some(bar) = progress {
            bar.inc(n as u64);
        }
    }
    Ok(())
}

/// Streams `io.size()` bytes of `src` (from its start) into `io`: each
/// chunk is read by the kernel straight into the mapped device (one copy,
/// no buffer). A source that ends early fails the copy: its size changed
/// after it was measured.
fn copy_into(
    io: &FileData,
    src: &mut File,
    name: &Path,
    progress: Option<&ProgressBar>,
) -> famfs_core::Result<()> {
    use std::io::Seek;
    use std::os::fd::AsFd;
    let size = io.size();
    src.rewind()
        .map_err(|e| Error::io(format!("{}: rewinding", name.display()), e))?;
    let mut off = 0u64;
    while off < size {
        let want = (size - off).min(IO_CHUNK as u64);
        let n = io.fill_from(off, want, src.as_fd(), name)?;
        off += n;
        if let Some(bar) = progress {
            bar.inc(n);
        }
        if n < want {
            return Err(Error::io(
                name.display().to_string(),
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("file shrank during the copy (expected {size} bytes, read {off})"),
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn file(path: &str, size: u64) -> Source {
        Source {
            path: path.into(),
            name: source_name(Path::new(path)),
            kind: SourceKind::File { size },
        }
    }

    fn dir(path: &str) -> Source {
        Source {
            path: path.into(),
            name: source_name(Path::new(path)),
            kind: SourceKind::Dir,
        }
    }

    /// A famfs tree: the root, `d` (dir), `d/f` (file of 10 bytes), `g`
    /// (file of 20 bytes).
    fn tree() -> impl Fn(&str) -> Existing {
        let m: HashMap<&str, Existing> = [
            ("", Existing::Dir),
            ("d", Existing::Dir),
            ("d/f", Existing::File { size: 10 }),
            ("g", Existing::File { size: 20 }),
        ]
        .into_iter()
        .collect();
        move |p: &str| m.get(p).copied().unwrap_or(Existing::Missing)
    }

    fn dsts(steps: &[Step]) -> Vec<(&str, Result<Action, Refusal>)> {
        steps
            .iter()
            .map(|s| (s.dst.as_str(), s.action.clone()))
            .collect()
    }

    #[test]
    fn file_to_new_name_and_into_directories() {
        let p = plan(&[file("/src/a", 5)], "new", false, false, tree()).unwrap();
        assert_eq!(dsts(&p), [("new", Ok(Action::CreateFile))]);
        let p = plan(&[file("/src/a", 5)], "d", false, false, tree()).unwrap();
        assert_eq!(dsts(&p), [("d/a", Ok(Action::CreateFile))]);
        let p = plan(&[file("/src/a", 5)], "", false, false, tree()).unwrap();
        assert_eq!(dsts(&p), [("a", Ok(Action::CreateFile))]);
        // A trailing slash means "into a directory" even before it exists.
        let p = plan(&[file("/src/a", 5)], "nodir", true, false, tree()).unwrap();
        assert_eq!(dsts(&p), [("nodir/a", Ok(Action::CreateFile))]);
    }

    #[test]
    fn existing_files_are_rewritten_only_at_the_same_size() {
        let p = plan(&[file("/src/f", 10)], "d", false, false, tree()).unwrap();
        assert_eq!(dsts(&p), [("d/f", Ok(Action::RewriteFile))]);
        let p = plan(&[file("/src/x", 10)], "g", false, false, tree()).unwrap();
        assert_eq!(
            dsts(&p),
            [(
                "g",
                Err(Refusal::SizeMismatch {
                    existing: 20,
                    requested: 10
                })
            )]
        );
    }

    #[test]
    fn several_sources_need_an_existing_directory() {
        let two = [file("/src/a", 1), file("/src/b", 2)];
        assert!(plan(&two, "new", false, false, tree()).is_err());
        assert!(plan(&two, "g", false, false, tree()).is_err());
        assert!(plan(&two, "new", true, false, tree()).is_err());
        let p = plan(&two, "d", false, false, tree()).unwrap();
        assert_eq!(
            dsts(&p),
            [
                ("d/a", Ok(Action::CreateFile)),
                ("d/b", Ok(Action::CreateFile))
            ]
        );
    }

    #[test]
    fn directories() {
        let src = [dir("/src/tree/")];
        // Without -r: omitted, but the plan still holds the step.
        let p = plan(&src, "d", false, false, tree()).unwrap();
        assert_eq!(dsts(&p), [("d/tree", Err(Refusal::OmitDir))]);
        // cp -r SRC NEW creates NEW as the copy; cp -r SRC DIR creates DIR/SRC.
        let p = plan(&src, "new", false, true, tree()).unwrap();
        assert_eq!(dsts(&p), [("new", Ok(Action::CreateDir))]);
        let p = plan(&src, "d", false, true, tree()).unwrap();
        assert_eq!(dsts(&p), [("d/tree", Ok(Action::CreateDir))]);
        let p = plan(&[dir("/src/d")], "", false, true, tree()).unwrap();
        assert_eq!(dsts(&p), [("d", Ok(Action::MergeDir))]);
        let p = plan(&src, "g", false, true, tree()).unwrap();
        assert_eq!(dsts(&p), [("g", Err(Refusal::DirOverFile))]);
        let p = plan(&[file("/src/d", 3)], "", false, true, tree()).unwrap();
        assert_eq!(dsts(&p), [("d", Err(Refusal::FileOverDir))]);
    }

    #[test]
    fn unusable_sources_and_names() {
        let mut s = file("/src/a", 1);
        s.kind = SourceKind::Unusable("cannot stat: gone".into());
        let p = plan(&[s, file("/src/b", 1)], "d", false, false, tree()).unwrap();
        assert_eq!(
            dsts(&p),
            [
                ("d/a", Err(Refusal::Unusable("cannot stat: gone".into()))),
                ("d/b", Ok(Action::CreateFile))
            ]
        );
        let long = format!("/src/{}", "n".repeat(79));
        let p = plan(&[file(&long, 1)], "d", false, false, tree()).unwrap();
        match &p[0].action {
            Err(Refusal::BadName(m)) => assert!(m.contains("at most 79"), "{m}"),
            other => panic!("{other:?}"),
        }
        let mut fifo = file("/src/fifo", 0);
        fifo.kind = SourceKind::Special;
        let p = plan(&[fifo], "d", false, false, tree()).unwrap();
        assert_eq!(dsts(&p), [("d/fifo", Err(Refusal::Special))]);
        assert!(source_name(Path::new("/")).is_err());
        assert_eq!(source_name(Path::new("a/b/")).unwrap(), "b");
    }

    #[test]
    fn messages_name_source_and_destination() {
        let m = Refusal::OmitDir.message(Path::new("src/d"), "/mnt/famfs/d");
        assert_eq!(m, "-r not specified; omitting directory 'src/d'");
        let m = Refusal::SizeMismatch {
            existing: 20,
            requested: 10,
        }
        .message(Path::new("x"), "/mnt/famfs/g");
        assert!(
            m.starts_with("/mnt/famfs/g: already exists with size 20, not 10"),
            "{m}"
        );
    }

    #[test]
    fn a_source_that_shrank_fails_the_copy_and_logs_nothing() {
        use famfs_core::dax::DaxDevice;
        use famfs_core::famfs::{mkfs, MkfsOptions};
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("system_uuid");
        std::env::set_var(famfs_core::host::SYSTEM_UUID_ENV, &host);
        let img = dir.path().join("r.img");
        DaxDevice::create_simulated(&img, 64 << 20).unwrap();
        let dev = DaxDevice::open(&img, Access::ReadWrite).unwrap();
        mkfs(&dev, &MkfsOptions::default()).unwrap();
        drop(dev);
        let src = dir.path().join("src");
        fs::write(&src, vec![7u8; 3 << 20]).unwrap();

        let mut fs = Famfs::open(&img, Access::ReadWrite).unwrap();
        let meta = Meta {
            uid: 0,
            gid: 0,
            mode: 0o644,
        };
        let mut f = File::open(&src).unwrap();
        // Measured at 4 MiB, but only 3 MiB are left to read.
        let err = fs
            .create_file("f", 4 << 20, meta, |io| copy_into(io, &mut f, &src, None))
            .unwrap_err()
            .to_string();
        assert!(err.contains("file shrank during the copy"), "{err}");
        assert!(
            err.contains("expected 4194304 bytes, read 3145728"),
            "{err}"
        );
        assert_eq!(fs.log_header().unwrap().next_index, 0);
        assert!(fs.lookup("f").is_err());

        // The same source at its real size copies, and reads back.
        let created = fs
            .create_file("f", 3 << 20, meta, |io| copy_into(io, &mut f, &src, None))
            .unwrap();
        let io = fs.file_io(created.ino()).unwrap();
        let mut back = vec![0u8; 3 << 20];
        assert_eq!(io.read(0, &mut back).unwrap(), 3 << 20);
        assert!(back.iter().all(|&b| b == 7));
    }
}
