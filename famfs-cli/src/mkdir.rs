//! `famfs mkdir [-p]`: create directories, each path on its own; a failure
//! is reported and the remaining paths are still created.

use crate::console::{self, outln, CliResult, Console};
use crate::{mode, target, MkdirArgs};
use famfs_core::dax::Access;
use famfs_core::mounts::MountTable;
use famfs_core::namespace::Meta;
use famfs_core::Error;
use std::path::Path;

pub fn run(a: &MkdirArgs, con: &mut Console) -> CliResult {
    let table = MountTable::load()?;
    let meta = a.owner.meta(mode::DIR_DEFAULT);
    // As GNU mkdir -p: parents get the default mode, not -m.
    let parents = a.parents.then(|| Meta {
        mode: mode::effective(None, mode::DIR_DEFAULT),
        ..meta
    });
    console::each(con, &a.paths, |con, p| {
        one(con, &table, p, meta, parents, a.verbose)
    })
}

fn one(
    con: &mut Console,
    table: &MountTable,
    p: &Path,
    meta: Meta,
    parents: Option<Meta>,
    verbose: u8,
) -> CliResult {
    let t = target::resolve_in(table, p)?;
    if t.rel.is_empty() {
        // The mount point itself: the root directory always exists.
        return if parents.is_some() {
            Ok(())
        } else {
            Err(t.err(Error::Exists(String::new())))
        };
    }
    let mut fs = t.open(Access::ReadWrite)?;
    // With -v, what did not exist before is what this call created.
    let prefixes: Vec<&str> = t
        .rel
        .match_indices('/')
        .map(|(i, _)| &t.rel[..i])
        .chain(std::iter::once(t.rel.as_str()))
        .collect();
    let missing: Vec<&str> = if verbose > 0 {
        prefixes
            .into_iter()
            .filter(|r| fs.lookup(r).is_err())
            .collect()
    } else {
        Vec::new()
    };
    fs.mkdir(&t.rel, meta, parents).map_err(|e| t.err(e))?;
    for r in missing {
        outln!(
            con,
            "famfs mkdir: created directory '{}'",
            target::shown(&t.mount, r)
        );
    }
    Ok(())
}
