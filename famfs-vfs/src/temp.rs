//! The temporary-name calls (`mkstemp` and its variants, `mkdtemp`) in a
//! famfs directory. glibc makes the file with an internal open the shim
//! cannot see, so these are served whole: famfs files are created only
//! by `famfs creat`/`cp` (a new file is EPERM, as for `open(O_CREAT)`),
//! and a temporary directory is a directory made through the log on the
//! master, like `mkdir`.

use super::{FamfsPath, SysResult, Vfs};
use famfs_core::random::SplitMix64;
use nix::errno::Errno;
use std::borrow::Cow;

/// The characters glibc draws temporary names from.
const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// How many names `mkdtemp` tries before giving up (EEXIST).
const ATTEMPTS: u32 = 100;

/// Where the six `X`s of a template end, given the suffix length: EINVAL
/// if they are not there.
fn xs_end(rel: &str, suffix_len: usize) -> SysResult<usize> {
    let end = rel.len().checked_sub(suffix_len).ok_or(Errno::EINVAL)?;
    if end < 6 || &rel.as_bytes()[end - 6..end] != b"XXXXXX" {
        return Err(Errno::EINVAL);
    }
    Ok(end)
}

impl Vfs {
    /// `mkstemp` (and `mkostemp`, `mkstemps`, `mkostemps`) of a template
    /// in a famfs directory: the template must end in `XXXXXX` before a
    /// suffix of `suffix_len` bytes (EINVAL), the directory must exist
    /// (its lookup error), and then a new file is EPERM.
    pub fn mkstemp(&self, fp: &FamfsPath, suffix_len: usize) -> SysResult<()> {
        xs_end(&fp.rel, suffix_len)?;
        let parent = fp.mount.lookup(famfs_core::path::parent(&fp.rel))?;
        if !parent.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        tracing::debug!(path = %fp.abs(), "temporary famfs file refused (use famfs creat/cp)");
        Err(Errno::EPERM)
    }

    /// `mkdtemp` of a template in a famfs directory: makes a directory
    /// with a fresh name through the log (the master only; EPERM on a
    /// client) and returns the name that replaced the `XXXXXX`.
    pub fn mkdtemp(&self, fp: &FamfsPath) -> SysResult<String> {
        let end = xs_end(&fp.rel, 0)?;
        // Names need not be unpredictable here (the log serialises makers
        // and a taken name is retried), only different across processes.
        let here = 0u8;
        let seed = u64::from(std::process::id()) ^ nanos() ^ (std::ptr::addr_of!(here) as u64);
        let mut rng = SplitMix64::new(seed);
        for _ in 0..ATTEMPTS {
            let mut name = fp.rel.as_bytes().to_vec();
            for c in &mut name[end - 6..end] {
                *c = LETTERS[rng.below(LETTERS.len() as u64) as usize];
            }
            let rel = String::from_utf8(name).map_err(|_| Errno::EINVAL)?;
            let candidate = FamfsPath {
                mount: fp.mount,
                rel: Cow::Owned(rel.clone()),
                dir_required: false,
            };
            match self.mkdir(&candidate, 0o700) {
                Ok(()) => return Ok(rel[end - 6..end].to_string()),
                Err(Errno::EEXIST) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Errno::EEXIST)
    }
}

fn nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
