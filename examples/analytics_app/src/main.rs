//! `analytics_app`: an ordinary program that knows nothing of famfs. It
//! scans a column of little-endian `f64` values twice, once with `read()`
//! into a buffer and once through an `mmap` of the file, and prints the
//! same aggregates for both. Run it under `LD_PRELOAD=libfamfs.so` on a
//! file in famfs and without the shim on a host copy: the answers agree.
//!
//! ```text
//! analytics_app gen PATH COUNT SEED   write COUNT values
//! analytics_app scan PATH             print aggregates (read and mmap)
//! ```

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::process::ExitCode;

/// Count, sum, minimum and maximum of a column.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Aggregates {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Aggregates {
    fn new() -> Self {
        Aggregates {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    fn add_bytes(&mut self, bytes: &[u8]) {
        for c in bytes.chunks_exact(8) {
            let v = f64::from_le_bytes(c.try_into().expect("8 bytes"));
            self.count += 1;
            self.sum += v;
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
    }

    fn line(&self, how: &str) -> String {
        let mean = if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        };
        format!(
            "{how:<5} count={} sum={:.6} min={:.6} max={:.6} mean={:.6}",
            self.count, self.sum, self.min, self.max, mean
        )
    }
}

fn scan_read(path: &str) -> std::io::Result<Aggregates> {
    let mut f = File::open(path)?;
    let mut agg = Aggregates::new();
    // A read may end in the middle of a value; `carry` keeps the partial
    // bytes for the next round.
    let mut buf = vec![0u8; 1 << 20];
    let mut carry = Vec::new();
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        carry.extend_from_slice(&buf[..n]);
        let whole = carry.len() / 8 * 8;
        agg.add_bytes(&carry[..whole]);
        carry.drain(..whole);
    }
    Ok(agg)
}

fn scan_mmap(path: &str) -> std::io::Result<Aggregates> {
    let f = File::open(path)?;
    let mut agg = Aggregates::new();
    if f.metadata()?.len() == 0 {
        return Ok(agg);
    }
    // SAFETY: the file is only read; nothing in this process writes it.
    let map = unsafe { memmap2::Mmap::map(&f)? };
    agg.add_bytes(&map);
    Ok(agg)
}

/// Values with a known shape: a slow wave plus deterministic noise
/// (splitmix64), so a mismatch anywhere shows in the sum.
fn generate(path: &str, count: u64, seed: u64) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    let mut s = seed;
    for i in 0..count {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let noise = (z >> 11) as f64 / (1u64 << 53) as f64;
        let v = 100.0 * (i as f64 / 1000.0).sin() + noise;
        out.write_all(&v.to_le_bytes())?;
    }
    out.flush()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("gen") if args.len() == 5 => match (args[3].parse::<u64>(), args[4].parse::<u64>()) {
            (Ok(n), Ok(seed)) => generate(&args[2], n, seed),
            _ => {
                eprintln!("analytics_app: COUNT and SEED must be numbers");
                return ExitCode::from(2);
            }
        },
        Some("scan") if args.len() == 3 => match (scan_read(&args[2]), scan_mmap(&args[2])) {
            (Ok(r), Ok(m)) => {
                println!("{}", r.line("read"));
                println!("{}", m.line("mmap"));
                if r != m {
                    eprintln!("analytics_app: read and mmap disagree");
                    return ExitCode::FAILURE;
                }
                Ok(())
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
        _ => {
            eprintln!("usage: analytics_app gen PATH COUNT SEED | analytics_app scan PATH");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("analytics_app: {}: {e}", args[2]);
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_and_mmap_agree_on_a_generated_column() {
        let dir = std::env::temp_dir().join(format!("analytics-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("col.bin");
        let ps = p.to_str().unwrap();
        generate(ps, 300_000, 7).unwrap();
        let r = scan_read(ps).unwrap();
        assert_eq!(r.count, 300_000);
        assert_eq!(r, scan_mmap(ps).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
