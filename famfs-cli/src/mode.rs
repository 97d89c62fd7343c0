//! Permission bits: parsing `-m MODE`, the process umask, and the
//! `ls -l` style rendering (`drwxr-xr-x`).

/// Default mode of new directories before the umask.
pub const DIR_DEFAULT: u32 = 0o777;
/// Default mode of new files before the umask.
pub const FILE_DEFAULT: u32 = 0o666;

/// Parses an octal mode such as `644`, `0755` or `4750` (at most `07777`).
pub fn parse(s: &str) -> Result<u32, String> {
    let t = s.strip_prefix("0o").unwrap_or(s);
    if t.is_empty() || !t.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(format!(
            "invalid mode '{s}': expected octal digits such as 644 or 0755"
        ));
    }
    match u32::from_str_radix(t, 8) {
        Ok(m) if m <= 0o7777 => Ok(m),
        _ => Err(format!("invalid mode '{s}': at most 07777")),
    }
}

/// The process umask. Reading it means setting it, so it is set to 0 and
/// put straight back (the CLI is single-threaded when it asks).
pub fn umask() -> u32 {
    // SAFETY: umask has no memory-safety preconditions.
    let old = unsafe { libc::umask(0) };
    // SAFETY: as above; restores the value just read.
    unsafe { libc::umask(old) };
    old & 0o777
}

/// `requested` if given, else `default & ~umask`.
pub fn effective(requested: Option<u32>, default: u32) -> u32 {
    requested.unwrap_or_else(|| default & !umask())
}

/// `ls -l` rendering of a mode: type letter then `rwx` triples, with
/// setuid/setgid/sticky shown as `s`/`S`/`t`/`T`.
pub fn symbolic(is_dir: bool, mode: u32) -> String {
    let mut s = String::with_capacity(10);
    s.push(if is_dir { 'd' } else { '-' });
    let special = [(0o4000, 's', 'S'), (0o2000, 's', 'S'), (0o1000, 't', 'T')];
    for (i, (bit, set_x, set_nox)) in special.iter().enumerate() {
        let shift = 6 - 3 * i;
        let triple = (mode >> shift) & 7;
        s.push(if triple & 4 != 0 { 'r' } else { '-' });
        s.push(if triple & 2 != 0 { 'w' } else { '-' });
        let x = triple & 1 != 0;
        s.push(match (mode & bit != 0, x) {
            (true, true) => *set_x,
            (true, false) => *set_nox,
            (false, true) => 'x',
            (false, false) => '-',
        });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_modes() {
        assert_eq!(parse("644"), Ok(0o644));
        assert_eq!(parse("0755"), Ok(0o755));
        assert_eq!(parse("0o700"), Ok(0o700));
        assert_eq!(parse("7777"), Ok(0o7777));
        assert_eq!(parse("0"), Ok(0));
        for bad in ["", "8", "rwx", "u+x", "17777", "-1", "0x1ff", "64 4"] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn symbolic_modes() {
        assert_eq!(symbolic(false, 0o644), "-rw-r--r--");
        assert_eq!(symbolic(true, 0o755), "drwxr-xr-x");
        assert_eq!(symbolic(false, 0), "----------");
        assert_eq!(symbolic(false, 0o777), "-rwxrwxrwx");
        assert_eq!(symbolic(false, 0o4755), "-rwsr-xr-x");
        assert_eq!(symbolic(false, 0o2745), "-rwxr-Sr-x");
        assert_eq!(symbolic(true, 0o1777), "drwxrwxrwt");
        assert_eq!(symbolic(true, 0o1776), "drwxrwxrwT");
    }

    #[test]
    fn umask_is_read_without_changing_it() {
        let a = umask();
        let b = umask();
        assert_eq!(a, b);
        assert_eq!(effective(Some(0o600), FILE_DEFAULT), 0o600);
        assert_eq!(effective(None, FILE_DEFAULT), FILE_DEFAULT & !a);
    }
}
