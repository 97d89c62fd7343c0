//! Byte counts on the command line and in reports.
//!
//! Input: plain bytes or a number with a `k`, `m` or `g` suffix (either
//! case), powers of 1024, overflow-checked. Output: exact bytes, or with
//! `fsck -h` a binary-unit figure such as `1014 MiB` or `1.5 GiB`.

/// Parses `4096`, `64k`, `8M`, `1g` (suffixes are powers of 1024).
pub fn parse(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
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
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "invalid size '{s}': expected a number of bytes, optionally with a k, m or g suffix"
        ));
    }
    let too_big = || format!("invalid size '{s}': too large");
    let n: u64 = digits.parse().map_err(|_| too_big())?;
    n.checked_mul(1u64 << shift).ok_or_else(too_big)
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
            "", "k", "-1", "1.5g", "12x", "1kb", "0x10", "1 k", "m1", "１",
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
