//! How a command talks to its user: buffered stdout, one-line errors on
//! stderr, and the error type that decides the exit status.
//!
//! Every byte a command prints goes through [`Console`], never `println!`:
//! a reader that goes away (`famfs cat f | head`) makes writes fail with
//! EPIPE, which must end the command quietly instead of panicking.

use std::fmt;
use std::io::{self, BufWriter, StdoutLock, Write};

/// Why a command failed, which decides what `main` prints and returns.
#[derive(Debug)]
pub enum CliError {
    /// Print `famfs <subcommand>: <message>` and exit 1.
    Msg(String),
    /// The errors were already printed (commands that carry on after an
    /// error, like `cp` or `cat`): just exit 1.
    Reported,
    /// Stdout's reader went away: stop quietly, exit 0.
    ClosedStdout,
}

/// Result of a command step.
pub type CliResult<T = ()> = Result<T, CliError>;

impl From<famfs_core::Error> for CliError {
    fn from(e: famfs_core::Error) -> Self {
        CliError::Msg(e.to_string())
    }
}

impl From<String> for CliError {
    fn from(m: String) -> Self {
        CliError::Msg(m)
    }
}

impl From<&str> for CliError {
    fn from(m: &str) -> Self {
        CliError::Msg(m.to_string())
    }
}

/// A command's stdout (buffered and locked) and its error channel.
pub struct Console {
    cmd: &'static str,
    out: BufWriter<StdoutLock<'static>>,
}

impl Console {
    /// The console of subcommand `cmd` (used to prefix error lines).
    pub fn new(cmd: &'static str) -> Self {
        Console {
            cmd,
            out: BufWriter::with_capacity(64 << 10, io::stdout().lock()),
        }
    }

    fn stdout_error(e: io::Error) -> CliError {
        if e.kind() == io::ErrorKind::BrokenPipe {
            CliError::ClosedStdout
        } else {
            CliError::Msg(format!("writing to standard output: {e}"))
        }
    }

    /// Writes one line to stdout.
    pub fn line(&mut self, args: fmt::Arguments<'_>) -> CliResult {
        self.out
            .write_fmt(args)
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(Self::stdout_error)
    }

    /// Writes raw bytes (file contents) to stdout.
    pub fn bytes(&mut self, data: &[u8]) -> CliResult {
        self.out.write_all(data).map_err(Self::stdout_error)
    }

    /// Pushes buffered output to stdout.
    pub fn flush(&mut self) -> CliResult {
        self.out.flush().map_err(Self::stdout_error)
    }

    /// Reports the failure of one item of a multi-item command (`cp`,
    /// `cat`, `mkdir`...) so the command can carry on with the rest; a
    /// closed stdout still ends the command.
    pub fn carry_on(&mut self, e: CliError) -> CliResult {
        match e {
            CliError::Msg(m) => {
                self.error(&m);
                Ok(())
            }
            CliError::Reported => Ok(()),
            CliError::ClosedStdout => Err(CliError::ClosedStdout),
        }
    }

    /// Prints `famfs <subcommand>: <msg>` on stderr, after whatever stdout
    /// holds so far, so the two streams interleave in order on a terminal.
    pub fn error(&mut self, msg: &str) {
        let _ = self.out.flush();
        let mut err = io::stderr().lock();
        let _ = writeln!(err, "famfs {}: {msg}", self.cmd);
    }
}

/// `outln!(console, "fmt", args...)`: one line to stdout, `?`-propagating
/// a write error (a closed pipe becomes [`CliError::ClosedStdout`]).
macro_rules! outln {
    ($con:expr, $($arg:tt)*) => {
        $con.line(format_args!($($arg)*))?
    };
}
pub(crate) use outln;

/// Reports per-item failures and turns "any failed" into exit status 1.
pub fn each<T>(
    con: &mut Console,
    items: &[T],
    mut f: impl FnMut(&mut Console, &T) -> CliResult,
) -> CliResult {
    let mut failed = false;
    for item in items {
        if let Err(e) = f(con, item) {
            con.carry_on(e)?;
            failed = true;
        }
    }
    if failed {
        Err(CliError::Reported)
    } else {
        Ok(())
    }
}
