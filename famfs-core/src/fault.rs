//! Fault injection for crash tests: `FAMFS_FAULT_INJECT=POINT[@N]` makes a
//! writer stop dead (SIGKILL to itself, no cleanup, no unwinding) the N-th
//! time (default: the first) this process reaches POINT while appending.
//!
//! | POINT | where the writer dies |
//! |---|---|
//! | `after-data` | a new file's contents are written and written back; its entry is not written yet |
//! | `after-entry` | the entry is written and written back; the header's counters are not bumped |
//! | `after-seqnum` | `next_seqnum` is bumped, `next_index` is not (a torn header) |
//!
//! An unset or empty variable injects nothing. A malformed value makes every
//! append fail before it writes anything ([`check_env`]), so a typo in a
//! test cannot silently test nothing.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicU32, Ordering};

/// The environment variable that arms a fault.
pub const FAULT_ENV: &str = "FAMFS_FAULT_INJECT";

/// A place in the append path where a writer can be made to die.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// File data written, log entry not.
    AfterData,
    /// Log entry written, header not bumped.
    AfterEntry,
    /// `next_seqnum` bumped, `next_index` not (a torn header).
    AfterSeqnum,
}

impl FaultPoint {
    const ALL: [FaultPoint; 3] = [
        FaultPoint::AfterData,
        FaultPoint::AfterEntry,
        FaultPoint::AfterSeqnum,
    ];

    /// The name `FAMFS_FAULT_INJECT` uses.
    pub fn name(self) -> &'static str {
        match self {
            FaultPoint::AfterData => "after-data",
            FaultPoint::AfterEntry => "after-entry",
            FaultPoint::AfterSeqnum => "after-seqnum",
        }
    }
}

/// An armed fault: die the `nth` time `point` is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultPlan {
    /// Where the writer dies.
    pub point: FaultPoint,
    /// On which arrival at the point (1 = the first).
    pub nth: u32,
}

/// Parses `POINT[@N]` (N ≥ 1).
pub fn parse(spec: &str) -> Result<FaultPlan> {
    let bad = |why: &str| {
        Error::Usage(format!(
            "{FAULT_ENV}={spec:?}: {why}; expected after-data, after-entry or after-seqnum, \
             optionally followed by @N (N >= 1)"
        ))
    };
    let (name, nth) = match spec.split_once('@') {
        Some((name, n)) => match n.parse::<u32>() {
            Ok(n) if n >= 1 => (name, n),
            _ => return Err(bad("the count after @ is not a number >= 1")),
        },
        None => (spec, 1),
    };
    let point = FaultPoint::ALL
        .into_iter()
        .find(|p| p.name() == name)
        .ok_or_else(|| bad("unknown fault point"))?;
    Ok(FaultPlan { point, nth })
}

/// The fault the environment arms, if any.
fn plan() -> Result<Option<FaultPlan>> {
    match std::env::var(FAULT_ENV) {
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) => parse(&v).map(Some),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::Usage(format!("{FAULT_ENV} is not valid UTF-8")))
        }
    }
}

/// Refuses a malformed `FAMFS_FAULT_INJECT`; called before an append
/// writes anything.
pub fn check_env() -> Result<()> {
    plan().map(|_| ())
}

/// Marks that the append path reached `point`; kills the process if that
/// is the armed fault's N-th time.
pub fn reached(point: FaultPoint) {
    static HITS: [AtomicU32; 3] = [AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0)];
    let Ok(Some(plan)) = plan() else {
        return;
    };
    if plan.point != point {
        return;
    }
    let hits = HITS[point as usize].fetch_add(1, Ordering::Relaxed) + 1;
    if hits == plan.nth {
        tracing::debug!(point = point.name(), hits, "fault injected: SIGKILL");
        // SAFETY: raise has no memory-safety preconditions; SIGKILL cannot
        // be caught, so nothing of this process runs after it.
        unsafe { libc::raise(libc::SIGKILL) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_points_and_counts() {
        assert_eq!(
            parse("after-entry").unwrap(),
            FaultPlan {
                point: FaultPoint::AfterEntry,
                nth: 1
            }
        );
        assert_eq!(
            parse("after-data@7").unwrap(),
            FaultPlan {
                point: FaultPoint::AfterData,
                nth: 7
            }
        );
        assert_eq!(
            parse("after-seqnum@1").unwrap().point,
            FaultPoint::AfterSeqnum
        );
        for bad in [
            "",
            "after",
            "after-entry@",
            "after-entry@0",
            "after-entry@-1",
            "x@2",
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains("FAMFS_FAULT_INJECT"), "{bad:?}: {e}");
        }
    }
}
