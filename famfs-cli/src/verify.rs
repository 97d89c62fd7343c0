//! `famfs verify -S SEED -f PATH`: check a file against the random pattern
//! of a seed, reporting the first offset that differs.

use crate::console::{CliError, CliResult};
use crate::{target, VerifyArgs, IO_CHUNK};
use famfs_core::dax::Access;
use famfs_core::random::PatternVerifier;
use famfs_core::Error;

pub fn run(a: &VerifyArgs, con: &mut crate::console::Console) -> CliResult {
    let t = target::resolve(&a.file)?;
    let fs = t.open(Access::ReadOnly)?;
    let node = fs.lookup(&t.rel).map_err(|e| t.err(e))?;
    if node.is_dir() {
        return Err(t.err(Error::IsADirectory(t.rel.clone())));
    }
    let io = fs.file_io(node.ino).map_err(|e| t.err(e))?;
    let mut verifier = PatternVerifier::new(a.seed);
    let mut buf = vec![0u8; IO_CHUNK];
    let mut off = 0u64;
    while off < io.size() {
        let n = io.read(off, &mut buf)?;
        if n == 0 {
            break;
        }
        if let Some(bad) = verifier.check(&buf[..n]) {
            if a.quiet {
                return Err(CliError::Reported);
            }
            return Err(CliError::Msg(format!(
                "{}: mismatch at offset {bad}",
                t.shown()
            )));
        }
        off += n as u64;
    }
    if a.verbose > 0 && !a.quiet {
        crate::console::outln!(
            con,
            "{}: {} bytes match seed {}",
            t.shown(),
            io.size(),
            a.seed
        );
    }
    Ok(())
}
