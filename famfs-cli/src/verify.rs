//! `famfs verify -S SEED -f PATH`: check a file against the random pattern
//! of a seed, reporting the first offset that differs; `--multi FILE,SEED`
//! (repeated) checks several files in parallel (`-t` threads).

use crate::console::{outln, CliError, CliResult, Console};
use crate::{size, target, VerifyArgs, IO_CHUNK};
use famfs_core::dax::Access;
use famfs_core::random::PatternVerifier;
use famfs_core::Error;
use std::path::{Path, PathBuf};

pub fn run(a: &VerifyArgs, con: &mut Console) -> CliResult {
    let jobs: Vec<(PathBuf, u32)> = if a.multi.is_empty() {
        match (&a.file, a.seed) {
            (Some(f), Some(s)) => vec![(f.clone(), s)],
            _ => return Err("verify needs -f FILE and -S SEED, or --multi FILE,SEED".into()),
        }
    } else {
        a.multi
            .iter()
            .map(|m| parse_multi(m))
            .collect::<CliResult<_>>()?
    };
    let threads = a
        .threads
        .map(|t| t.max(1) as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(jobs.len());
    // Each worker takes the next file; results come back in file order.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<CliResult<u64>>> = (0..jobs.len()).map(|_| None).collect();
    let slots = std::sync::Mutex::new(&mut results);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((path, seed)) = jobs.get(i) else {
                    break;
                };
                let r = verify_one(path, *seed);
                slots.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
            });
        }
    });
    let mut failed = false;
    for ((path, seed), r) in jobs.iter().zip(results) {
        match r.expect("every file was checked") {
            Ok(size) => {
                if a.verbose > 0 && !a.quiet {
                    outln!(con, "{}: {size} bytes match seed {seed}", path.display());
                }
            }
            Err(e) => {
                failed = true;
                if !a.quiet {
                    con.carry_on(e)?;
                }
            }
        }
    }
    if failed {
        Err(CliError::Reported)
    } else {
        Ok(())
    }
}

/// `FILE,SEED` of `--multi`.
fn parse_multi(m: &str) -> CliResult<(PathBuf, u32)> {
    let (f, s) = m
        .rsplit_once(',')
        .ok_or_else(|| CliError::Msg(format!("--multi {m}: expected FILE,SEED")))?;
    let seed = size::parse_u32(s).map_err(|e| CliError::Msg(format!("--multi {m}: {e}")))?;
    Ok((PathBuf::from(f), seed))
}

/// Checks one file; its size when every byte matches.
fn verify_one(path: &Path, seed: u32) -> CliResult<u64> {
    let t = target::resolve(path)?;
    let fs = t.open(Access::ReadOnly)?;
    let node = fs.lookup(&t.rel).map_err(|e| t.err(e))?;
    if node.is_dir() {
        return Err(t.err(Error::IsADirectory(t.rel.clone())));
    }
    let io = fs.file_io(node.ino).map_err(|e| t.err(e))?;
    let mut verifier = PatternVerifier::new(seed);
    let mut buf = vec![0u8; IO_CHUNK];
    let mut off = 0u64;
    while off < io.size() {
        let n = io.read(off, &mut buf)?;
        if n == 0 {
            break;
        }
        if let Some(bad) = verifier.check(&buf[..n]) {
            return Err(CliError::Msg(format!(
                "{}: mismatch at offset {bad}",
                t.shown()
            )));
        }
        off += n as u64;
    }
    Ok(io.size())
}
