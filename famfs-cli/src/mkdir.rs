//! `famfs mkdir [-p]`: create directories, each path on its own; a failure
//! is reported and the remaining paths are still created.

use crate::console::{self, CliResult, Console};
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
    console::each(con, &a.paths, |_, p| one(&table, p, meta, parents))
}

fn one(table: &MountTable, p: &Path, meta: Meta, parents: Option<Meta>) -> CliResult {
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
    fs.mkdir(&t.rel, meta, parents).map_err(|e| t.err(e))?;
    Ok(())
}
