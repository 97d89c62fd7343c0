//! `famfs-bench --worker MODE ARGS...`: the timed loops.
//!
//! The orchestrator re-executes its own binary in this mode, with
//! `LD_PRELOAD=libfamfs.so` for the famfs side of a row and without it for
//! the baseline, so every timed loop runs inside the measured process and
//! the only difference between the two sides is the path (famfs or tmpfs)
//! and the shim. Each mode does its warm-up, then `reps` timed samples, and
//! prints one line: the median of the samples (seconds per sample, or per
//! operation for the latency modes), followed by every sample.
//!
//! All file calls go straight to libc (`open`, `read`, `pread`, `fstat`,
//! `stat`, `mmap`, ...), the symbols the shim hooks, with no std buffering
//! in between.

use crate::stats::median;
use rand::{Rng, SeedableRng};
use std::ffi::CString;
use std::time::Instant;

/// The buffer of the sequential rows: 1 MiB.
pub const BUF: usize = 1 << 20;
/// The block of the random-read row: 4 KiB.
pub const BLOCK: usize = 4096;
const PAGE: usize = 4096;

fn cstr(s: &str) -> CString {
    CString::new(s).expect("path without NUL")
}

fn die(what: &str, path: &str) -> ! {
    let e = std::io::Error::last_os_error();
    eprintln!("famfs-bench worker: {what} {path}: {e}");
    std::process::exit(2)
}

fn open_ro(path: &str) -> i32 {
    let c = cstr(path);
    // SAFETY: c is a valid NUL-terminated string.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        die("open", path);
    }
    fd
}

fn close(fd: i32) {
    // SAFETY: fd is a descriptor this worker opened.
    unsafe { libc::close(fd) };
}

fn file_size(fd: i32, path: &str) -> u64 {
    // SAFETY: st is plain data filled by fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open; st is a valid out pointer.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        die("fstat", path);
    }
    st.st_size as u64
}

/// `read()` in `BUF` pieces to EOF; returns the bytes read.
fn read_to_eof(fd: i32, buf: &mut [u8], path: &str) -> u64 {
    let mut total = 0u64;
    loop {
        // SAFETY: buf is a valid writable buffer of buf.len() bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            die("read", path);
        }
        if n == 0 {
            return total;
        }
        total += n as u64;
    }
}

/// `pread()` in `BUF` pieces from 0 to `size`; returns the bytes read.
fn pread_all(fd: i32, buf: &mut [u8], size: u64, path: &str) -> u64 {
    let mut off = 0u64;
    while off < size {
        // SAFETY: as above.
        let n = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), off as i64) };
        if n < 0 {
            die("pread", path);
        }
        if n == 0 {
            break;
        }
        off += n as u64;
    }
    off
}

/// `ops` 4 KiB-aligned offsets of 4 KiB blocks in a file of `size`
/// bytes, from a fixed seed: the same offsets in every run and mode.
fn random_blocks(size: u64, ops: usize) -> Vec<u64> {
    let blocks = size / BLOCK as u64;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    (0..ops)
        .map(|_| rng.gen_range(0..blocks) * BLOCK as u64)
        .collect()
}

/// `len` bytes of the region file at a famfs file's own extent, mapped
/// read-only and shared: the raw baseline of rows 1 and 3.
struct RegionMap {
    fd: i32,
    ptr: *const u8,
    len: usize,
}

impl RegionMap {
    /// Maps `len` bytes of region file `path` at `off`.
    fn new(path: &str, off: u64, len: usize) -> RegionMap {
        RegionMap::of(open_ro(path), path, off, len)
    }

    /// Maps `len` bytes at `off` of `fd` (open read-only on `path`), which
    /// the map closes when dropped.
    fn of(fd: i32, path: &str, off: u64, len: usize) -> RegionMap {
        // SAFETY: a fresh read-only shared mapping of an open file.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd,
                off as i64,
            )
        };
        if p == libc::MAP_FAILED {
            die("mmap", path);
        }
        RegionMap {
            fd,
            ptr: p as *const u8,
            len,
        }
    }

    /// Copies `len` bytes at `at` into `buf`, with nothing else on the
    /// way (this is the baseline being timed, so no bounds check).
    ///
    /// # Safety
    /// `at + len` must not pass the mapping's end, and `buf` must hold at
    /// least `len` bytes.
    #[inline]
    unsafe fn copy(&self, at: usize, buf: &mut [u8], len: usize) {
        debug_assert!(at + len <= self.len && len <= buf.len());
        // SAFETY: in bounds of the mapping and of `buf`, per the contract.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.add(at), buf.as_mut_ptr(), len) };
        std::hint::black_box(buf);
    }

    /// Loads one byte of every 4 KiB page (their sum, so none is skipped).
    fn touch_pages(&self) -> u64 {
        (0..self.len).step_by(PAGE).fold(0u64, |sum, o| {
            // SAFETY: `o < len`, inside the mapping, which is readable.
            sum.wrapping_add(unsafe { std::ptr::read_volatile(self.ptr.add(o)) } as u64)
        })
    }

    /// Copies the whole mapping through `buf` (BUF bytes), BUF at a time.
    fn pass(&self, buf: &mut [u8]) {
        assert!(buf.len() >= BUF);
        for at in (0..self.len).step_by(BUF) {
            // SAFETY: `at < len` and at most BUF bytes, which `buf` holds.
            unsafe { self.copy(at, buf, BUF.min(self.len - at)) };
        }
    }
}

impl Drop for RegionMap {
    fn drop(&mut self) {
        // SAFETY: unmapping what `new` mapped, once.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
        close(self.fd);
    }
}

fn report(samples: &[f64]) {
    let list: Vec<String> = samples.iter().map(|s| format!("{s:.9}")).collect();
    println!("{:.9} {}", median(samples), list.join(" "));
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> T {
    args.get(i).and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        eprintln!("famfs-bench worker: argument {i} ({what}) missing or invalid: {args:?}");
        std::process::exit(2)
    })
}

/// Times `reps` samples of `body`, each covering `per` operations;
/// returns seconds per operation for each sample.
fn sample(reps: usize, per: usize, mut body: impl FnMut()) -> Vec<f64> {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            body();
            t.elapsed().as_secs_f64() / per as f64
        })
        .collect()
}

/// Runs one worker mode; `args` follow `--worker`.
pub fn run(args: &[String]) -> ! {
    let mode = args.first().map(String::as_str).unwrap_or("");
    let mut buf = vec![0u8; BUF];
    // Fault the buffer in so no sample pays for it.
    buf.iter_mut().for_each(|b| *b = 1);
    match mode {
        // seqread PATH REPS: one open; per sample, lseek 0 and read() to EOF.
        // seqpread PATH REPS: the same with pread() at explicit offsets.
        "seqread" | "seqpread" => {
            let path: String = arg(args, 1, "path");
            let reps: usize = arg(args, 2, "reps");
            let fd = open_ro(&path);
            let size = file_size(fd, &path);
            let pass = |buf: &mut [u8]| {
                if mode == "seqread" {
                    // SAFETY: fd is open.
                    unsafe { libc::lseek(fd, 0, libc::SEEK_SET) };
                    read_to_eof(fd, buf, &path)
                } else {
                    pread_all(fd, buf, size, &path)
                }
            };
            assert_eq!(pass(&mut buf), size, "warm-up pass short");
            let samples = sample(reps, 1, || assert_eq!(pass(&mut buf), size, "short pass"));
            close(fd);
            report(&samples);
        }
        // coldread PATH REPS: per sample, open, read() to EOF, close: each
        // pass is a first read where opening drops the file's cached pages
        // (FUSE without FOPEN_KEEP_CACHE); on tmpfs the same as seqread.
        "coldread" => {
            let path: String = arg(args, 1, "path");
            let reps: usize = arg(args, 2, "reps");
            let fd = open_ro(&path);
            let size = file_size(fd, &path);
            close(fd);
            let pass = |buf: &mut [u8]| {
                let fd = open_ro(&path);
                let n = read_to_eof(fd, buf, &path);
                close(fd);
                n
            };
            assert_eq!(pass(&mut buf), size, "warm-up pass short");
            let samples = sample(reps, 1, || assert_eq!(pass(&mut buf), size, "short pass"));
            report(&samples);
        }
        // randmemcpy REGION OFFSET LEN OPS REPS: the raw limit of row 3:
        // map LEN bytes of the region file at OFFSET (the file's own
        // extent), touch every page, then memcpy the same random 4 KiB
        // blocks randread reads (same seed, same offsets).
        "randmemcpy" => {
            let path: String = arg(args, 1, "region");
            let off: u64 = arg(args, 2, "offset");
            let len: usize = arg(args, 3, "len");
            let ops: usize = arg(args, 4, "ops");
            let reps: usize = arg(args, 5, "reps");
            let region = RegionMap::new(&path, off, len);
            region.pass(&mut buf);
            let offs = random_blocks(len as u64, ops);
            let samples = sample(reps, ops, || {
                for &o in &offs {
                    // SAFETY: a random block lies inside the `len` bytes
                    // mapped; buf holds BUF >= BLOCK bytes.
                    unsafe { region.copy(o as usize, &mut buf, BLOCK) };
                }
            });
            drop(region);
            report(&samples);
        }
        // threads KIND PATH N SHARED SECS REPS: N threads reading PATH for
        // SECS seconds per sample, KIND `rand` (4 KiB pread at random
        // offsets) or `seq` (1 MiB pread passes, each thread from its own
        // starting point), on one shared descriptor (SHARED = 1) or one
        // per thread; prints seconds per operation over all threads.
        "threads" => {
            let kind: String = arg(args, 1, "kind");
            let path: String = arg(args, 2, "path");
            let n: usize = arg(args, 3, "threads");
            let shared: u32 = arg(args, 4, "shared");
            let secs: f64 = arg(args, 5, "seconds");
            let reps: usize = arg(args, 6, "reps");
            let shared_fd = (shared == 1).then(|| open_ro(&path));
            let size = {
                let fd = open_ro(&path);
                let s = file_size(fd, &path);
                close(fd);
                s
            };
            let (len, step) = if kind == "rand" {
                (BLOCK, 0)
            } else {
                (BUF, BUF as u64)
            };
            let mut samples = Vec::new();
            for rep in 0..=reps {
                let deadline = Instant::now() + std::time::Duration::from_secs_f64(secs);
                let t = Instant::now();
                let total: u64 = std::thread::scope(|s| {
                    let handles: Vec<_> = (0..n)
                        .map(|i| {
                            let path = &path;
                            s.spawn(move || {
                                let fd = shared_fd.unwrap_or_else(|| open_ro(path));
                                let mut buf = vec![1u8; len];
                                let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed + i as u64);
                                // Each thread starts its passes at its own
                                // share of the file.
                                let mut pos = size / n as u64 * i as u64 / BUF as u64 * BUF as u64;
                                let mut done = 0u64;
                                while Instant::now() < deadline {
                                    for _ in 0..64 {
                                        let at = if step == 0 {
                                            rng.gen_range(0..size / BLOCK as u64) * BLOCK as u64
                                        } else {
                                            if pos + step > size {
                                                pos = 0;
                                            }
                                            pos += step;
                                            pos - step
                                        };
                                        // SAFETY: buf holds len bytes.
                                        let got = unsafe {
                                            libc::pread(fd, buf.as_mut_ptr().cast(), len, at as i64)
                                        };
                                        if got < 0 {
                                            die("pread", path);
                                        }
                                        done += 1;
                                    }
                                }
                                if shared_fd.is_none() {
                                    close(fd);
                                }
                                done
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().expect("reader thread"))
                        .sum()
                });
                // The first sample warms up.
                if rep > 0 {
                    samples.push(t.elapsed().as_secs_f64() / total as f64);
                }
            }
            if let Some(fd) = shared_fd {
                close(fd);
            }
            report(&samples);
        }
        // memcpy REGION OFFSET LEN REPS: map LEN bytes of the region file at
        // OFFSET (the famfs file's own extent) and memcpy them in BUF pieces.
        "memcpy" => {
            let path: String = arg(args, 1, "region");
            let off: u64 = arg(args, 2, "offset");
            let len: usize = arg(args, 3, "len");
            let reps: usize = arg(args, 4, "reps");
            let region = RegionMap::new(&path, off, len);
            region.pass(&mut buf);
            let samples = sample(reps, 1, || region.pass(&mut buf));
            drop(region);
            report(&samples);
        }
        // randread PATH OPS REPS: OPS random 4 KiB-aligned pread()s of 4 KiB
        // per sample, after one sequential warm-up pass over the file;
        // prints seconds per operation.
        "randread" => {
            let path: String = arg(args, 1, "path");
            let ops: usize = arg(args, 2, "ops");
            let reps: usize = arg(args, 3, "reps");
            let fd = open_ro(&path);
            let size = file_size(fd, &path);
            pread_all(fd, &mut buf, size, &path);
            let offs = random_blocks(size, ops);
            let samples = sample(reps, ops, || {
                for &o in &offs {
                    // SAFETY: buf holds at least BLOCK bytes.
                    let n = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), BLOCK, o as i64) };
                    if n != BLOCK as isize {
                        die("pread", &path);
                    }
                }
            });
            close(fd);
            report(&samples);
        }
        // openstat PATH OPS REPS: open + fstat + close, per operation.
        // stat PATH OPS REPS: stat, per operation.
        "openstat" | "stat" => {
            let path: String = arg(args, 1, "path");
            let ops: usize = arg(args, 2, "ops");
            let reps: usize = arg(args, 3, "reps");
            let c = cstr(&path);
            // SAFETY: plain data.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            let one = |st: &mut libc::stat| {
                if mode == "stat" {
                    // SAFETY: c is NUL-terminated; st is a valid out pointer.
                    if unsafe { libc::stat(c.as_ptr(), st) } != 0 {
                        die("stat", &path);
                    }
                } else {
                    // SAFETY: as above.
                    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
                    if fd < 0 {
                        die("open", &path);
                    }
                    // SAFETY: fd was just opened.
                    if unsafe { libc::fstat(fd, st) } != 0 {
                        die("fstat", &path);
                    }
                    close(fd);
                }
            };
            for _ in 0..ops.min(1000) {
                one(&mut st);
            }
            let samples = sample(reps, ops, || {
                for _ in 0..ops {
                    one(&mut st);
                }
            });
            std::hint::black_box(st.st_size);
            report(&samples);
        }
        // mmaptouch PATH REPS: open, fstat, mmap(MAP_SHARED) the whole file,
        // load one byte of every 4 KiB page, munmap, close; seconds per cycle,
        // after one untimed cycle.
        "mmaptouch" => {
            let path: String = arg(args, 1, "path");
            let reps: usize = arg(args, 2, "reps");
            let cycle = || {
                let fd = open_ro(&path);
                let len = file_size(fd, &path) as usize;
                let region = RegionMap::of(fd, &path, 0, len);
                std::hint::black_box(region.touch_pages());
            };
            cycle();
            let samples = sample(reps, 1, || {
                cycle();
            });
            report(&samples);
        }
        // plainio DIR NFILES OPS REPS: open + read(4 KiB) + close of the
        // files DIR/f0 .. DIR/f{NFILES-1} in turn; seconds per file.
        "plainio" => {
            let dir: String = arg(args, 1, "dir");
            let nfiles: usize = arg(args, 2, "nfiles");
            let ops: usize = arg(args, 3, "ops");
            let reps: usize = arg(args, 4, "reps");
            let names: Vec<CString> = (0..nfiles).map(|i| cstr(&format!("{dir}/f{i}"))).collect();
            let one = |i: usize, buf: &mut [u8]| {
                let c = &names[i % nfiles];
                // SAFETY: c is NUL-terminated; buf holds BLOCK bytes.
                let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
                if fd < 0 {
                    die("open", &dir);
                }
                // SAFETY: as above.
                let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), BLOCK) };
                if n < 0 {
                    die("read", &dir);
                }
                close(fd);
            };
            for i in 0..ops.min(1000) {
                one(i, &mut buf);
            }
            let samples = sample(reps, ops, || {
                for i in 0..ops {
                    one(i, &mut buf);
                }
            });
            report(&samples);
        }
        // readfile PATH ITERS REPS: ITERS times open + read() in BUF pieces
        // to EOF + close per sample; seconds per file.
        "readfile" => {
            let path: String = arg(args, 1, "path");
            let iters: usize = arg(args, 2, "iters");
            let reps: usize = arg(args, 3, "reps");
            let once = |buf: &mut [u8]| {
                let fd = open_ro(&path);
                let n = read_to_eof(fd, buf, &path);
                close(fd);
                n
            };
            once(&mut buf);
            let samples = sample(reps, iters, || {
                for _ in 0..iters {
                    std::hint::black_box(once(&mut buf));
                }
            });
            report(&samples);
        }
        // replay DEVICE: one Famfs::open (map, superblock, full replay) in
        // this fresh process; prints seconds and the entries applied.
        "replay" => {
            let dev: String = arg(args, 1, "device");
            let t = Instant::now();
            let fs = famfs_core::famfs::Famfs::open(
                std::path::Path::new(&dev),
                famfs_core::dax::Access::ReadOnly,
            )
            .unwrap_or_else(|e| {
                eprintln!("famfs-bench worker: open {dev}: {e}");
                std::process::exit(2)
            });
            let secs = t.elapsed().as_secs_f64();
            println!("{secs:.9} {}", fs.replay().applied());
        }
        // firststat PATH: the first stat() of the process (under the shim:
        // mount table, device mapping and full replay); seconds.
        "firststat" => {
            let path: String = arg(args, 1, "path");
            let c = cstr(&path);
            // SAFETY: plain data.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            let t = Instant::now();
            // SAFETY: c is NUL-terminated; st is a valid out pointer.
            if unsafe { libc::stat(c.as_ptr(), &mut st) } != 0 {
                die("stat", &path);
            }
            println!("{:.9}", t.elapsed().as_secs_f64());
        }
        _ => {
            eprintln!("famfs-bench worker: unknown mode {mode:?}");
            std::process::exit(2)
        }
    }
    std::process::exit(0)
}
