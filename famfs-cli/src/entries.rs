//! Log entries as `fsck`, `logplay` and `mount` show them: one line per
//! entry or per problem, always naming the entry index.

use famfs_core::famfs::Famfs;
use famfs_core::fmap::Fmap;
use famfs_core::format::LogEntry;
use famfs_core::replay::{Problem, Replay};
use famfs_core::Result;

use crate::console::{outln, CliResult, Console};

/// `log entries: USED/CAPACITY`, as fsck and logplay both report it.
pub fn print_log_usage(con: &mut Console, header: &famfs_core::format::LogHeader) -> CliResult {
    outln!(
        con,
        "log entries: {}/{}",
        header.next_index,
        header.capacity()
    );
    Ok(())
}

/// What replay built, as fsck and logplay both report it.
pub fn print_counts(con: &mut Console, replay: &Replay) -> CliResult {
    let stats = replay.stats();
    outln!(con, "files: {}", stats.files);
    outln!(con, "dirs: {}", stats.dirs);
    outln!(con, "duplicates skipped: {}", stats.duplicates);
    if stats.daxdevs > 0 {
        outln!(con, "devices added: {}", stats.daxdevs);
    }
    Ok(())
}

/// `log entry N: message`.
pub fn describe(p: &Problem) -> String {
    format!("log entry {}: {}", p.index, p.message)
}

/// Every problem replay found, in log order: the per-entry problems, then
/// the entry replay stopped at (if any).
pub fn problems(replay: &Replay) -> impl Iterator<Item = &Problem> {
    replay.problems().iter().chain(replay.stopped())
}

/// The first problem replay found, if any.
pub fn first_problem(replay: &Replay) -> Option<&Problem> {
    problems(replay).next()
}

/// Reads and decodes log entry `index` of `fs`.
pub fn read(fs: &Famfs, index: u64) -> Result<LogEntry> {
    fs.replay().read_entry(fs.device(), index)
}

/// Number of extents (simple) or strips (interleaved) of an fmap, with the
/// word for them.
pub fn fmap_count(fmap: &Fmap) -> (usize, &'static str) {
    match fmap {
        Fmap::Simple(e) => (e.len(), if e.len() == 1 { "extent" } else { "extents" }),
        Fmap::Interleaved(ie) => {
            let n = ie.iter().map(|i| i.strips.len()).sum();
            (n, if n == 1 { "strip" } else { "strips" })
        }
    }
}

/// One-line summary of an entry: what it asks for.
pub fn summary(entry: &LogEntry) -> String {
    match entry {
        LogEntry::File(f) => {
            let (n, what) = fmap_count(&f.fmap);
            format!(
                "file {} size {} mode {:04o} uid {} gid {} ({n} {what})",
                f.relpath, f.size, f.mode, f.uid, f.gid
            )
        }
        LogEntry::Mkdir(d) => format!(
            "mkdir {} mode {:04o} uid {} gid {}",
            d.relpath, d.mode, d.uid, d.gid
        ),
        LogEntry::Delete => "delete".to_string(),
        LogEntry::AddDaxdev(d) => format!(
            "add daxdev index {} size {} uuid {}",
            d.index, d.size, d.uuid
        ),
    }
}

/// What replay made of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It created the node at its path (possibly with problems too).
    Created,
    /// Its path already existed: skipped, the first entry wins.
    Duplicate,
    /// Neither: it was refused (see its problems) or creates no path.
    Other,
}

/// What replay did with entry `index` (already applied).
pub fn outcome(fs: &Famfs, index: u64, entry: &LogEntry) -> Outcome {
    let Some(path) = entry.relpath() else {
        return Outcome::Other;
    };
    let problem = fs.replay().problems().iter().any(|p| p.index == index);
    match fs.lookup(path) {
        Ok(n) if n.log_index == Some(index) => Outcome::Created,
        Ok(_) if !problem => Outcome::Duplicate,
        _ => Outcome::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_named_once() {
        let p = Problem {
            index: 7,
            message: "crc mismatch".into(),
        };
        assert_eq!(describe(&p), "log entry 7: crc mismatch");
        let p = Problem {
            index: 3,
            message: "a/b: invalid fmap: offset 0".into(),
        };
        assert_eq!(describe(&p), "log entry 3: a/b: invalid fmap: offset 0");
    }
}
