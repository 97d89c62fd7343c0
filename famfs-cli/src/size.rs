//! Numbers on the command line and byte counts in reports.
//!
//! Input is read as the reference famfs CLI reads it (C's `strtoull` with
//! base 0): decimal, `0x` hexadecimal or `0`-prefixed octal, and for sizes
//! an optional `k`, `m` or `g` suffix (either case, powers of 1024),
//! overflow-checked. Output: exact bytes, or with `fsck -h` a binary-unit
//! figure such as `1014 MiB` or `1.5 GiB`.

/// Parses an unsigned number as C's `strtoull(s, _, 0)` does, requiring
/// the whole string: `4096`, `0x800000`, `010` (octal 8).
pub fn parse_number(s: &str) -> Result<u64, String> {
    parse_digits(s.trim())
}

/// [`parse_number`] of exactly `t` (no surrounding blanks).
fn parse_digits(t: &str) -> Result<u64, String> {
    let s = t;
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if t.len() > 1 && t.starts_with('0') {
        (&t[1..], 8)
    } else {
        (t, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(format!(
            "invalid number '{s}': expected decimal, 0x hexadecimal or 0-prefixed octal"
        ));
    }
    u64::from_str_radix(digits, radix).map_err(|_| format!("invalid number '{s}': too large"))
}

/// [`parse_number`] for a 32-bit option (a count, a seed, an id).
pub fn parse_u32(s: &str) -> Result<u32, String> {
    let n = parse_number(s)?;
    u32::try_from(n).map_err(|_| format!("invalid number '{s}': at most {}", u32::MAX))
}

/// Parses a size: a number as [`parse_number`] reads it, optionally
/// followed by `k`, `m` or `g` (powers of 1024): `4096`, `64k`, `8M`,
/// `0x800000`, `1g`.
pub fn parse(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let hex = t.starts_with("0x") || t.starts_with("0X");
    let (digits, shift) = match t.char_indices().last() {
        // In a hexadecimal number only k, m and g can be suffixes (b-f are
        // digits there, and so is no suffix letter).
        Some((i, c)) if c.is_ascii_alphabetic() && !(hex && c.is_ascii_hexdigit()) => {
            let shift = match c.to_ascii_lowercase() {
                'k' => 10,
                'm' => 20,
                'g' => 30,
                _ => {
                    return Err(format!(
                        "invalid size '{s}': unknown suffix '{c}' (use k, m or g)"
                    ))
                }
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let n = parse_digits(digits).map_err(|_| {
        format!(
            "invalid size '{s}': expected a number of bytes, optionally with a k, m or g suffix"
        )
    })?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("invalid size '{s}': too large"))
}

/// A byte count in binary units: `512 B`, `2 MiB`, `1.5 GiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut unit = 0;
    let mut scale = 1024u64;
    while unit + 1 < UNITS.len() && bytes / scale >= 1024 {
        unit += 1;
        scale <<= 10;
    }
    if bytes % scale == 0 {
        format!("{} {}", bytes / scale, UNITS[unit])
    } else {
        format!("{:.1} {}", bytes as f64 / scale as f64, UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_strtoull_base_0() {
        assert_eq!(parse("0x800000").unwrap(), 8 << 20);
        assert_eq!(parse("0X10k").unwrap(), 16 << 10);
        assert_eq!(parse("010").unwrap(), 8);
        assert_eq!(parse("010m").unwrap(), 8 << 20);
        assert_eq!(parse("0").unwrap(), 0);
        assert_eq!(parse("0xff").unwrap(), 255);
        assert!(parse("08").is_err(), "8 is not an octal digit");
        assert!(parse("0x").is_err());
        assert!(parse("0xg1").is_err());
        assert_eq!(parse_u32("0x10").unwrap(), 16);
        assert!(parse_u32("0x100000000").is_err());
    }

    #[test]
    fn suffixes_are_powers_of_1024() {
        assert_eq!(parse("4096"), Ok(4096));
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("64k"), Ok(64 << 10));
        assert_eq!(parse("64K"), Ok(64 << 10));
        assert_eq!(parse("8m"), Ok(8 << 20));
        assert_eq!(parse("8M"), Ok(8 << 20));
        assert_eq!(parse("1g"), Ok(1 << 30));
        assert_eq!(parse("3G"), Ok(3 << 30));
        assert_eq!(parse(" 2m "), Ok(2 << 20));
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "", "k", "-1", "1.5g", "12x", "1kb", "0xz", "1 k", "m1", "１",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse("12x").unwrap_err().contains("unknown suffix"));
    }

    #[test]
    fn overflow_is_refused() {
        assert_eq!(parse("18446744073709551615"), Ok(u64::MAX));
        assert!(parse("18446744073709551616").is_err());
        assert!(parse("17179869184g").unwrap_err().contains("too large"));
        assert_eq!(parse("17179869183g"), Ok(17179869183 << 30));
    }

    #[test]
    fn human_units() {
        assert_eq!(human(0), "0 B");
        assert_eq!(human(1023), "1023 B");
        assert_eq!(human(1024), "1 KiB");
        assert_eq!(human(2 << 20), "2 MiB");
        assert_eq!(human(1014 << 20), "1014 MiB");
        assert_eq!(human(3 << 29), "1.5 GiB");
        assert_eq!(human(u64::MAX), "16.0 EiB");
    }
}
