//! `famfs creat`: create a file of a given size, zeroed or filled with the
//! famfs random pattern. The contents are written before the file is
//! logged, so a failed creat leaves nothing behind.

use crate::console::{outln, CliError, CliResult, Console};
use crate::{mode, target, CreatArgs, IO_CHUNK};
use famfs_core::dax::Access;
use famfs_core::famfs::Created;
use famfs_core::file::FileData;
use famfs_core::random::RandomPattern;
use famfs_core::Error;

pub fn run(a: &CreatArgs, con: &mut Console) -> CliResult {
    if !a.multi.is_empty() {
        return multi(a, con);
    }
    let path = a.path.as_ref().ok_or("creat needs a PATH (or --multi)")?;
    let seed = (a.random || a.seed.is_some()).then(|| a.seed.unwrap_or_else(random_seed));
    one(a, con, path, a.size, seed, a.seed.is_none())
}

/// `--multi FILE,SIZE[,SEED]`, repeated: each file created as one
/// `creat -s SIZE [-S SEED] FILE` would, one after another; the first
/// failure stops the rest.
fn multi(a: &CreatArgs, con: &mut Console) -> CliResult {
    for m in &a.multi {
        let bad = |why: String| CliError::Msg(format!("--multi {m}: {why}"));
        let mut parts = m.splitn(3, ',');
        let (Some(file), Some(size)) = (parts.next(), parts.next()) else {
            return Err(bad("expected FILE,SIZE[,SEED]".into()));
        };
        let size = crate::size::parse(size).map_err(bad)?;
        let seed = match parts.next() {
            Some(s) => Some(crate::size::parse_u32(s).map_err(bad)?).filter(|&s| s != 0),
            None => None,
        };
        one(a, con, std::path::Path::new(file), Some(size), seed, false)?;
    }
    Ok(())
}

/// Creates (or, existing, re-randomizes) one file. `print_seed`: the seed
/// was chosen here, so say which.
fn one(
    a: &CreatArgs,
    con: &mut Console,
    path: &std::path::Path,
    size: Option<u64>,
    seed: Option<u32>,
    print_seed: bool,
) -> CliResult {
    if size == Some(0) {
        return Err(CliError::Msg(
            "invalid size 0: famfs files hold at least one byte".into(),
        ));
    }
    let t = target::resolve(path)?;
    if t.rel.is_empty() {
        return Err(t.err(Error::IsADirectory(String::new())));
    }
    let mut fs = t.open(Access::ReadWrite)?;

    // An existing file, as the reference CLI treats it: creating it again
    // is a no-op if the size matches (or none is given), and a seed
    // re-randomizes its contents in place.
    match fs.lookup(&t.rel) {
        Ok(n) => {
            let n = n.clone();
            let f = n
                .as_file()
                .ok_or_else(|| t.err(Error::IsADirectory(t.rel.clone())))?;
            if let Some(size) = size.filter(|&s| s != f.size) {
                return Err(t.err(Error::SizeMismatch {
                    path: t.rel.clone(),
                    existing: f.size,
                    requested: size,
                }));
            }
            match seed {
                Some(s) => {
                    let io = fs.file_io(n.ino).map_err(|e| t.err(e))?;
                    fill_random(&io, s).map_err(|e| t.err(e))?;
                    if print_seed {
                        outln!(con, "seed: {s}");
                    }
                    if a.verbose > 0 {
                        outln!(con, "randomized {} bytes: {}", f.size, t.shown());
                    }
                }
                None if a.verbose > 0 => {
                    outln!(
                        con,
                        "{} exists with size {}: nothing to do",
                        t.shown(),
                        f.size
                    )
                }
                None => {}
            }
            return Ok(());
        }
        Err(Error::NotFound(_)) => {}
        Err(e) => return Err(t.err(e)),
    }

    let size = size.ok_or_else(|| {
        CliError::Msg(format!("{}: a new file needs a size (-s SIZE)", t.shown()))
    })?;
    let meta = a.owner.meta(mode::FILE_DEFAULT);
    let placement = a.stripe.placement(&t.mount).map_err(|e| t.err(e))?;
    let created = fs
        .create_file_placed(&t.rel, size, meta, &placement, |io| match seed {
            Some(s) => fill_random(io, s),
            None => io.zero(),
        })
        .map_err(|e| t.err(e))?;
    if let (Created::New(_), Some(s), true) = (created, seed, print_seed) {
        outln!(con, "seed: {s}");
    }
    if a.verbose > 0 {
        let what = if seed.is_some() {
            "randomized"
        } else {
            "zeroed"
        };
        outln!(con, "created {} ({size} bytes, {what})", t.shown());
    }
    Ok(())
}

/// A seed for `-r` without `-S`.
fn random_seed() -> u32 {
    uuid::Uuid::new_v4().as_u128() as u32
}

/// Writes the whole random pattern of `seed` into `io`, a chunk at a time.
pub fn fill_random(io: &FileData, seed: u32) -> famfs_core::Result<()> {
    let mut gen = RandomPattern::new(seed);
    let mut buf = vec![0u8; IO_CHUNK];
    let mut off = 0u64;
    while off < io.size() {
        let n = (io.size() - off).min(IO_CHUNK as u64) as usize;
        gen.fill(&mut buf[..n]);
        io.write(off, &buf[..n])?;
        off += n as u64;
    }
    Ok(())
}
