//! Isolation: nothing done through the shim to one file
//! ever touches a byte outside that file's own extents.
//!
//! A 128 MiB region holds files of awkward sizes (1 byte, 4095 bytes,
//! exactly one 2 MiB unit, one unit plus a byte, several units), two
//! interleaved files (2 and 3 strips of 2 MiB chunks) and one file with
//! three simple extents in descending device order, appended to the log by
//! hand because the allocator never splits a file. Every other byte of the
//! data area — free space, and the slack past each file's end inside its
//! allocation — is overwritten with a position-dependent canary.
//!
//! proptest then draws batches of operations on random files at offsets
//! around every boundary (file start and end, the end of the allocation,
//! each 2 MiB chunk or extent boundary, page boundaries next to them) with
//! lengths from 0 to a few MiB: `pread` and `pwrite` on read-write and
//! read-only descriptors, `mmap` reads and writes (MAP_SHARED, at
//! page-aligned and unaligned offsets), and probes of the first byte past a
//! file's allocation inside a longer mapping, which must fault. Each batch
//! runs in one process under the shim (`tests/c/file_ops.c`); a model of
//! the whole region, built with a naive offset-to-device map written here
//! (not famfs-core's), predicts every result line, and after the process
//! the region must equal the model byte for byte — so no read returned a
//! foreign byte and no write landed outside the file's extents.
//!
//! Two more tests: a process that only reads maps the device read-only
//! (its /proc/PID/maps), one that opens for writing maps it read-write; and
//! as `nobody`, file mode, uid and gid are enforced (EACCES) and refused
//! writes change nothing.

use famfs_core::dax::Access;
use famfs_core::famfs::Famfs;
use famfs_core::fmap::{Extent, Fmap};
use famfs_core::format::{FileEntry, LogEntry};
use famfs_core::namespace::NodeKind;
use famfs_tests::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

const UNIT: u64 = 2 * MIB;
const PAGE: u64 = 4096;
/// Batches (one shim process each) in `make test` and in `make stress`.
const CI_CASES: u32 = 24;
const STRESS_CASES: u32 = 400;

/// One file as the test knows it.
#[derive(Debug, Clone)]
struct FileModel {
    /// Absolute path under the mount point.
    path: String,
    size: u64,
    /// Device bytes of its extents or strips.
    alloc: u64,
    fmap: Fmap,
}

impl FileModel {
    /// Device offset of file offset `off` (< alloc) and how many bytes run
    /// on contiguously from there. Written from the format's definition,
    /// independently of famfs-core's resolver.
    fn locate(&self, off: u64) -> (u64, u64) {
        let mut o = off;
        match &self.fmap {
            Fmap::Simple(extents) => {
                for e in extents {
                    if o < e.len {
                        return (e.offset + o, e.len - o);
                    }
                    o -= e.len;
                }
            }
            Fmap::Interleaved(ies) => {
                for ie in ies {
                    if o < ie.nbytes() {
                        let cs = ie.chunk_size;
                        let chunk = o / cs;
                        let n = ie.strips.len() as u64;
                        let strip = &ie.strips[(chunk % n) as usize];
                        let within = o % cs;
                        return (strip.offset + (chunk / n) * cs + within, cs - within);
                    }
                    o -= ie.nbytes();
                }
            }
        }
        panic!("offset {off} is past the allocation of {}", self.path);
    }

    /// Device runs backing file bytes `[off, off + len)` (within alloc).
    fn runs(&self, off: u64, len: u64) -> Vec<(u64, u64)> {
        let mut v = Vec::new();
        let mut at = off;
        while at < off + len {
            let (dev, run) = self.locate(at);
            let n = run.min(off + len - at);
            v.push((dev, n));
            at += n;
        }
        v
    }

    /// Offsets where something changes: start, end, end of allocation,
    /// every 2 MiB chunk or extent boundary.
    fn boundaries(&self) -> Vec<u64> {
        let mut b = vec![0, self.size, self.alloc];
        b.extend((1..self.alloc / UNIT).map(|k| k * UNIT));
        if let Fmap::Simple(extents) = &self.fmap {
            let mut at = 0;
            for e in extents {
                at += e.len;
                b.push(at);
            }
        }
        b.sort_unstable();
        b.dedup();
        b
    }
}

/// The canary for the whole region: a byte stream with a period of 1 MiB
/// plus 13 bytes, so it never lines up with pages, units or chunks and a
/// byte copied from elsewhere shows. (Built from slices: this runs on
/// 128 MiB in a debug build.)
fn canary_image(len: usize) -> Vec<u8> {
    const PERIOD: usize = (1 << 20) + 13;
    let table: Vec<u8> = (0..PERIOD as u64)
        .map(|x| (x ^ (x >> 7) ^ (x >> 13)) as u8 ^ 0xa5)
        .collect();
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        let n = PERIOD.min(len - v.len());
        v.extend_from_slice(&table[..n]);
    }
    v
}

/// The splitmix64 byte stream file_ops.c writes for `seed`.
fn gen(seed: u32, n: usize) -> Vec<u8> {
    let mut st = u64::from(seed);
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        st = st.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = st;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        v.extend_from_slice(&z.to_le_bytes());
    }
    v.truncate(n);
    v
}

/// Appends `entry` to the log of `dev` by hand, as a writer would.
fn append_raw_entry(dev: &Path, entry: &LogEntry) {
    let index = log_next_index(dev);
    write_range(dev, entry_offset(index), &entry.encode(index).unwrap());
    for field in [log_off::NEXT_SEQNUM, log_off::NEXT_INDEX] {
        write_range(dev, LOG_OFFSET + field as u64, &(index + 1).to_le_bytes());
    }
}

/// The region under test: files of awkward sizes and layouts, everything
/// else canary.
struct Fixture {
    env: Env,
    region: Region,
    files: Vec<FileModel>,
    exe: PathBuf,
}

fn fixture() -> Fixture {
    let env = Env::new();
    let r = env.region("128m");
    let plain: [(&str, u64); 5] = [
        ("one", 1),
        ("page_less_one", PAGE - 1),
        ("unit", UNIT),
        ("unit_plus_one", UNIT + 1),
        ("several", 5 * MIB + 123),
    ];
    for (i, (name, size)) in plain.iter().enumerate() {
        env.ok(&[
            "creat",
            "-r",
            "-S",
            &(i + 1).to_string(),
            "-s",
            &size.to_string(),
            "-m",
            "0666",
            &r.p(name),
        ]);
    }
    for (name, n, size, seed) in [
        ("stripes2", "2", 9 * MIB + 7, "21"),
        ("stripes3", "3", 7 * MIB, "22"),
    ] {
        env.ok(&[
            "creat",
            "-r",
            "-S",
            seed,
            "-s",
            &size.to_string(),
            "-N",
            n,
            "-B",
            "4",
            "-C",
            "2m",
            "-m",
            "0666",
            &r.p(name),
        ]);
    }
    // Three extents, highest device offset in the middle, none adjacent.
    let fs = Famfs::open(&r.dev, Access::ReadOnly).unwrap();
    let bm = fs.replay().bitmap(0).unwrap();
    let dev_size = fs.device().size();
    let mut free: Vec<u64> = (META_LEN / UNIT..dev_size / UNIT)
        .rev()
        .map(|u| u * UNIT)
        .filter(|&o| !bm.any_used(o, UNIT) && !bm.any_used(o.saturating_sub(UNIT), UNIT))
        .collect();
    free.dedup_by(|a, b| *b - *a == UNIT);
    assert!(free.len() >= 3, "no room for the hand-made file");
    drop(fs);
    let extents = [free[1], free[0], free[2]].map(|offset| Extent {
        devindex: 0,
        offset,
        len: UNIT,
    });
    let multi_size = 2 * UNIT + 77;
    let content = pattern(23, multi_size as usize);
    for (k, e) in extents.iter().enumerate() {
        let from = k * UNIT as usize;
        let to = (from + UNIT as usize).min(content.len());
        write_range(&r.dev, e.offset, &content[from..to]);
    }
    append_raw_entry(
        &r.dev,
        &LogEntry::File(FileEntry {
            size: multi_size,
            flags: 2,
            uid: 0,
            gid: 0,
            mode: 0o666,
            relpath: "three_extents".into(),
            fmap: Fmap::Simple(extents.to_vec()),
        }),
    );

    // The files as replay sees them.
    let fs = Famfs::open(&r.dev, Access::ReadOnly).unwrap();
    assert!(
        fs.replay().problems().is_empty(),
        "{:?}",
        fs.replay().problems()
    );
    assert_eq!(fs.replay().collisions(), 0);
    let ns = fs.replay().namespace();
    let files: Vec<FileModel> = ns
        .nodes()
        .filter_map(|n| match &n.kind {
            NodeKind::File(f) => Some(FileModel {
                path: r.p(&ns.path_of(n.ino)),
                size: f.size,
                alloc: f.fmap.allocated_bytes(),
                fmap: f.fmap.clone(),
            }),
            NodeKind::Dir { .. } => None,
        })
        .collect();
    assert_eq!(files.len(), 8);
    assert!(files.iter().filter(|f| f.fmap.is_interleaved()).count() == 2);
    drop(fs);

    // Canary everywhere in the data area except the files' bytes.
    let orig = fs::read(&r.dev).unwrap();
    let mut image = canary_image(orig.len());
    image[..META_LEN as usize].copy_from_slice(&orig[..META_LEN as usize]);
    for f in &files {
        for (dev, n) in f.runs(0, f.size) {
            let (a, b) = (dev as usize, (dev + n) as usize);
            image[a..b].copy_from_slice(&orig[a..b]);
        }
    }
    write_range(&r.dev, META_LEN, &image[META_LEN as usize..]);
    let exe = compile_c("file_ops", env.dir(), &["-Werror"]);
    Fixture {
        env,
        region: r,
        files,
        exe,
    }
}

/// One drawn operation, before it is fitted to a file.
type RawOp = (usize, u8, usize, i64, u64, u32);

fn raw_ops(max: usize) -> impl Strategy<Value = Vec<RawOp>> {
    prop::collection::vec(
        (
            any::<usize>(),
            0u8..8,
            any::<usize>(),
            prop_oneof![
                Just(0i64),
                -2i64..=2,
                prop::sample::select(vec![
                    -4097i64, -4096, -4095, -65, -64, -63, 63, 64, 65, 4095, 4096, 4097
                ]),
                -300_000i64..300_000
            ],
            any::<u64>(),
            any::<u32>(),
        ),
        1..max,
    )
}

/// What the model predicts for one batch.
#[derive(Default)]
struct Plan {
    script: String,
    /// One result line per script line.
    lines: Vec<String>,
    /// Every byte the reads return, in order.
    reads: Vec<u8>,
    /// (script line, start in `reads`) of each read, to name a bad one.
    read_at: Vec<(usize, usize)>,
}

impl Plan {
    fn op(&mut self, line: String, result: String) {
        self.script.push_str(&line);
        self.script.push('\n');
        self.lines.push(result);
    }

    /// The op about to be added reads these device runs of `image`.
    fn read(&mut self, image: &[u8], runs: &[(u64, u64)]) {
        self.read_at.push((self.lines.len(), self.reads.len()));
        for &(d, k) in runs {
            self.reads
                .extend_from_slice(&image[d as usize..(d + k) as usize]);
        }
    }
}

/// Writes `data` into the device runs of `image`.
fn store(image: &mut [u8], runs: &[(u64, u64)], data: &[u8]) {
    let mut at = 0usize;
    for &(d, k) in runs {
        image[d as usize..(d + k) as usize].copy_from_slice(&data[at..at + k as usize]);
        at += k as usize;
    }
}

/// The script for one batch and what the model predicts; updates `image`
/// with what the writes must do.
fn plan(files: &[FileModel], image: &mut [u8], ops: &[RawOp]) -> Plan {
    let mut p = Plan::default();
    // Descriptor 2i: read-write; 2i+1: read-only.
    for (i, f) in files.iter().enumerate() {
        for (id, mode) in [(2 * i, "rw"), (2 * i + 1, "r")] {
            p.op(format!("open {id} {} {mode}", f.path), "open 0".into());
        }
    }
    for &(fi, kind, bsel, delta, lsel, seed) in ops {
        let i = fi % files.len();
        let f = &files[i];
        let bounds = f.boundaries();
        let base = bounds[bsel % bounds.len()];
        let off = base.saturating_add_signed(delta);
        let len = match lsel % 12 {
            0 => 0,
            1 => 1,
            2 => 2,
            3 => 63,
            4 => PAGE - 1,
            5 => PAGE,
            6 => PAGE + 1,
            7 => lsel / 12 % 65536,
            8 => lsel / 12 % (3 * MIB),
            9 => f.size.saturating_sub(off) + 100,
            10 => UNIT,
            _ => f.size.saturating_sub(off),
        };
        let ro = seed % 3 == 0;
        let id = 2 * i + usize::from(ro);
        match kind {
            0..=2 => {
                // pread: bytes up to EOF, 0 at or past it.
                let n = if off >= f.size {
                    0
                } else {
                    len.min(f.size - off)
                };
                p.read(image, &f.runs(off.min(f.size), n));
                p.op(format!("pread {id} {off} {len}"), format!("pread {n} 0"));
            }
            3..=4 => {
                let result = if ro {
                    format!("pwrite -1 {}", libc::EBADF)
                } else if len == 0 {
                    "pwrite 0 0".into()
                } else if off >= f.size {
                    format!("pwrite -1 {}", libc::EFBIG)
                } else {
                    let n = len.min(f.size - off);
                    store(image, &f.runs(off, n), &gen(seed, n as usize));
                    format!("pwrite {n} 0")
                };
                p.op(format!("pwrite {id} {off} {len} {seed}"), result);
            }
            5 | 6 => {
                // mmap inside the allocation (beyond EOF too: still the
                // file's own extents).
                let write = kind == 6 && !ro;
                let unaligned = seed % 11 == 0 && off % PAGE != 0;
                let moff = if unaligned {
                    off % f.alloc
                } else {
                    (off % f.alloc) / PAGE * PAGE
                };
                let room = f.alloc - moff;
                let maplen = 1 + (len.max(1) - 1) % room;
                let use_len = maplen - (lsel >> 20) % maplen.min(100);
                if write {
                    let line = format!("mwrite {id} {moff} {maplen} {use_len} {seed}");
                    if unaligned {
                        p.op(line, format!("mwrite {}", libc::EINVAL));
                    } else {
                        store(image, &f.runs(moff, use_len), &gen(seed, use_len as usize));
                        p.op(line, "mwrite 0".into());
                    }
                } else {
                    let line = format!("mread {id} {moff} {maplen} {use_len}");
                    if unaligned {
                        p.op(line, format!("mread {}", libc::EINVAL));
                    } else {
                        p.read(image, &f.runs(moff, use_len));
                        p.op(line, "mread 0".into());
                    }
                }
            }
            _ => {
                // A mapping longer than what is left of the allocation: the
                // first byte past the allocation (or any later one) faults.
                let moff = (off % f.alloc) / PAGE * PAGE;
                let room = f.alloc - moff;
                let extra = PAGE * (1 + lsel % 3);
                let at = room + (lsel >> 8) % extra;
                p.op(
                    format!("probe {id} {moff} {} {at}", room + extra),
                    "probe fault".into(),
                );
            }
        }
    }
    p
}

/// Which part of the region device offset `x` is in, for messages.
fn whose(files: &[FileModel], x: u64) -> String {
    if x < META_LEN {
        return "metadata".into();
    }
    for f in files {
        for (d, n) in f.runs(0, f.alloc) {
            if (d..d + n).contains(&x) {
                return format!("allocation of {}", f.path);
            }
        }
    }
    "free space".into()
}

/// The first result line that differs from the model's, as a message.
fn compare_results(stdout: &str, expect: &[String], script: &[&str]) -> Option<String> {
    let got: Vec<&str> = stdout.lines().collect();
    for (k, (g, e)) in got.iter().zip(expect).enumerate() {
        if g != e {
            return Some(format!(
                "op {k} `{}`: got `{g}`, the model says `{e}`",
                script[k]
            ));
        }
    }
    (got.len() != expect.len()).then(|| {
        format!(
            "{} result lines for {} ops:\n{stdout}",
            got.len(),
            expect.len()
        )
    })
}

fn run_batches(cases: u32) {
    let fx = fixture();
    let fixture_meta = fx.region.meta();
    let script_path = fx.env.dir().join("ops.txt");
    let reads_path = fx.env.dir().join("reads.bin");
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..Config::default()
    });
    // Counted across proptest's calls (it takes a Fn closure).
    let batches = std::cell::Cell::new(0u32);
    let ops_run = std::cell::Cell::new(0usize);
    let result = runner.run(&raw_ops(400), |ops| {
        // The region as the previous batch left it (equal to the model if
        // that batch passed).
        let mut model = fs::read(&fx.region.dev).unwrap();
        let plan = plan(&fx.files, &mut model, &ops);
        fs::write(&script_path, &plan.script).unwrap();
        let out = run(fx.env.shim(
            &fx.exe,
            &[script_path.to_str().unwrap(), reads_path.to_str().unwrap()],
        ));
        if !out.success() {
            return Err(TestCaseError::fail(out.describe()));
        }
        let lines: Vec<&str> = plan.script.lines().collect();
        if let Some(msg) = compare_results(&out.stdout, &plan.lines, &lines) {
            return Err(TestCaseError::fail(msg));
        }
        let reads = fs::read(&reads_path).unwrap();
        if reads != plan.reads {
            let first = (0..reads.len().min(plan.reads.len()))
                .find(|&i| reads[i] != plan.reads[i])
                .unwrap_or(reads.len().min(plan.reads.len()));
            let (line, start) = plan
                .read_at
                .iter()
                .rev()
                .find(|&&(_, start)| start <= first)
                .copied()
                .unwrap_or_default();
            return Err(TestCaseError::fail(format!(
                "`{}` returned a wrong byte at {} of its result ({} bytes read in all, {} expected)",
                lines[line],
                first - start,
                reads.len(),
                plan.reads.len()
            )));
        }
        let after = fs::read(&fx.region.dev).unwrap();
        if after != model {
            let first = (0..after.len()).find(|&i| after[i] != model[i]).unwrap();
            let differing = (0..after.len()).filter(|&i| after[i] != model[i]).count();
            return Err(TestCaseError::fail(format!(
                "{differing} region bytes differ from the model; first at device offset {first:#x} \
                 ({}): {:#04x}, expected {:#04x}",
                whose(&fx.files, first as u64),
                after[first],
                model[first]
            )));
        }
        batches.set(batches.get() + 1);
        ops_run.set(ops_run.get() + ops.len());
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // Outside every file's extents, the canary and the metadata are intact.
    let image = fs::read(&fx.region.dev).unwrap();
    let meta = fixture_meta;
    assert_bytes_eq("metadata", &image[..META_LEN as usize], &meta, 0);
    let mut allocated: Vec<(u64, u64)> = fx
        .files
        .iter()
        .flat_map(|f| f.runs(0, f.alloc))
        .map(|(d, n)| (d, d + n))
        .collect();
    allocated.sort_unstable();
    let canary = canary_image(image.len());
    let mut at = META_LEN;
    for (start, end) in allocated.into_iter().chain([(image.len() as u64, 0)]) {
        let (a, b) = (at as usize, start as usize);
        assert_bytes_eq(
            "free space (outside every file's extents)",
            &image[a..b],
            &canary[a..b],
            at,
        );
        at = end;
    }
    println!(
        "{} batches, {} operations through the shim, all as the model predicts",
        batches.get(),
        ops_run.get()
    );
}

#[test]
fn shim_io_never_touches_bytes_outside_the_files_extents() {
    run_batches(CI_CASES);
}

#[test]
#[ignore = "long: make stress"]
fn stress_shim_io_never_touches_bytes_outside_the_files_extents() {
    run_batches(STRESS_CASES);
}

/// The device mappings in /proc/PID/maps of a shim process that opened
/// `path` with `mode` (`r` or `rw`), read it and mapped it.
fn device_mappings(fx: &Fixture, path: &str, mode: &str) -> Vec<String> {
    let script = fx.env.dir().join(format!("maps_{mode}.txt"));
    fs::write(
        &script,
        format!("open 0 {path} {mode}\npread 0 0 100\nmread 0 0 4096 100\nwait\n"),
    )
    .unwrap();
    let mut child = fx
        .env
        .shim(
            &fx.exe,
            &[
                script.to_str().unwrap(),
                fx.env.dir().join("maps_reads.bin").to_str().unwrap(),
            ],
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        assert!(
            out.read_line(&mut l).unwrap() > 0,
            "the program ended early: {lines:?}"
        );
        if l.trim() == "waiting" {
            break;
        }
        lines.push(l);
    }
    let maps = fs::read_to_string(format!("/proc/{}/maps", child.id())).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    assert!(child.wait().unwrap().success());
    let dev = fs::canonicalize(&fx.region.dev).unwrap();
    let dev = dev.to_str().unwrap();
    maps.lines()
        .filter(|l| l.ends_with(dev))
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .collect()
}

#[test]
fn a_reader_maps_the_device_read_only() {
    let fx = fixture();
    let path = fx.files[0].path.clone();
    let ro = device_mappings(&fx, &path, "r");
    assert!(!ro.is_empty(), "the reader mapped no device");
    assert!(
        ro.iter().all(|perms| !perms.contains('w')),
        "a process that only reads has a writable device mapping: {ro:?}"
    );
    // The check can tell: a process that opens for writing maps it writable.
    let rw = device_mappings(&fx, &path, "rw");
    assert!(rw.iter().any(|p| p.starts_with("rw")), "{rw:?}");
}

/// File mode, uid and gid as `nobody` (uid and gid 65534) sees them.
#[test]
fn mode_uid_and_gid_are_enforced_for_nobody() {
    if euid() != 0 {
        println!("skipped: needs root to run a process as nobody (uid 65534)");
        return;
    }
    const NOBODY: u32 = 65534;
    let env = Env::new();
    // nobody must reach the mount table, the region (read-write: famfs
    // modes, not the region file's, are under test), the program and the
    // shim: everything lives in the host directory, opened up.
    let r = env.region("64m");
    for (name, mode, uid, gid) in [
        ("own_rw", "0600", NOBODY, 0),
        ("root_only", "0600", 0, 0),
        ("world_r", "0644", 0, 0),
        ("group_r", "0640", 0, NOBODY),
        ("group_other", "0640", 0, 0),
        ("world_rw", "0666", 0, 0),
        ("own_write_only", "0200", NOBODY, NOBODY),
    ] {
        env.ok(&[
            "creat",
            "-r",
            "-S",
            "9",
            "-s",
            "8192",
            "-m",
            mode,
            "-u",
            &uid.to_string(),
            "-g",
            &gid.to_string(),
            &r.p(name),
        ]);
    }
    env.ok(&["mkdir", "-m", "0700", &r.p("private")]);
    env.ok(&["creat", "-s", "100", "-m", "0666", &r.p("private/f")]);
    env.ok(&[
        "mkdir",
        "-m",
        "0710",
        "-g",
        &NOBODY.to_string(),
        &r.p("group_dir"),
    ]);
    env.ok(&["creat", "-s", "100", "-m", "0644", &r.p("group_dir/f")]);
    let exe = compile_c("file_ops", env.dir(), &["-Werror"]);
    let shim = env.dir().join("libfamfs.so");
    fs::copy(preload_lib(), &shim).unwrap();
    let open_up =
        |p: &Path, mode: u32| fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    for d in [
        env.dir(),
        env.mounts_file().parent().unwrap(),
        env.uuid_file().parent().unwrap(),
    ] {
        open_up(d, 0o755);
    }
    open_up(env.mounts_file(), 0o644);
    open_up(env.uuid_file(), 0o644);
    open_up(&r.dev, 0o666);
    open_up(&shim, 0o755);

    const EACCES: i32 = libc::EACCES;
    // (path, open mode, expected errno for nobody)
    let cases: [(&str, &str, i32); 16] = [
        ("own_rw", "r", 0),
        ("own_rw", "rw", 0),
        ("root_only", "r", EACCES),
        ("root_only", "w", EACCES),
        ("world_r", "r", 0),
        ("world_r", "w", EACCES),
        ("group_r", "r", 0),
        ("group_r", "rw", EACCES),
        ("group_other", "r", EACCES),
        ("world_rw", "rw", 0),
        ("own_write_only", "r", EACCES),
        ("own_write_only", "w", 0),
        ("private/f", "r", EACCES),
        ("private/f", "w", EACCES),
        ("group_dir/f", "r", 0),
        ("group_dir/f", "w", EACCES),
    ];
    let mut p = Plan::default();
    for (i, (name, mode, errno)) in cases.iter().enumerate() {
        p.op(
            format!("open {i} {} {mode}", r.p(name)),
            format!("open {errno}"),
        );
        p.op(
            format!("access {} {mode}", r.p(name)),
            format!("access {errno}"),
        );
    }
    // A directory nobody may not search hides even whether a name exists.
    for (op, path, result) in [
        ("stat", r.p("private/f"), format!("stat {EACCES}")),
        ("stat", r.p("private/missing"), format!("stat {EACCES}")),
        ("stat", r.p("private"), "stat 0 0".to_string()),
        ("stat", r.p("group_dir/f"), "stat 0 100".to_string()),
        ("stat", r.p("missing"), format!("stat {}", libc::ENOENT)),
        ("chdir", r.p("private"), format!("chdir {EACCES}")),
        ("chdir", r.p("group_dir"), "chdir 0".to_string()),
    ] {
        p.op(format!("{op} {path}"), result);
    }
    // Writes nobody may do land; the rest never reach the region.
    p.op("pwrite 1 0 10 77".into(), "pwrite 10 0".into());
    p.op("pwrite 9 100 10 78".into(), "pwrite 10 0".into());
    p.op("pread 0 0 8192".into(), "pread 8192 0".into());
    let mut own = pattern(9, 8192);
    own[..10].copy_from_slice(&gen(77, 10));
    let script_path = env.dir().join("nobody.txt");
    let reads_path = env.dir().join("nobody_reads.bin");
    fs::write(&script_path, &p.script).unwrap();
    fs::write(&reads_path, b"").unwrap();
    open_up(&script_path, 0o644);
    open_up(&reads_path, 0o666);
    let args = [script_path.to_str().unwrap(), reads_path.to_str().unwrap()];

    let before = fs::read(&r.dev).unwrap();
    let mut cmd = env.shim(&exe, &args);
    cmd.env("LD_PRELOAD", &shim).uid(NOBODY).gid(NOBODY);
    let out = run(cmd);
    assert!(out.success(), "{}", out.describe());
    let lines: Vec<&str> = p.script.lines().collect();
    if let Some(msg) = compare_results(&out.stdout, &p.lines, &lines) {
        panic!("as nobody: {msg}");
    }
    assert_bytes_eq("what nobody read", &fs::read(&reads_path).unwrap(), &own, 0);

    // Only the two permitted writes changed the region.
    let after = fs::read(&r.dev).unwrap();
    let fs_ = Famfs::open(&r.dev, Access::ReadOnly).unwrap();
    let mut expected = before.clone();
    for (name, off, seed) in [("own_rw", 0u64, 77u32), ("world_rw", 100, 78)] {
        let ino = fs_.lookup(name).unwrap().ino;
        let f = fs_
            .replay()
            .namespace()
            .get(ino)
            .unwrap()
            .as_file()
            .unwrap();
        let model = FileModel {
            path: name.into(),
            size: f.size,
            alloc: f.fmap.allocated_bytes(),
            fmap: f.fmap.clone(),
        };
        let data = gen(seed, 10);
        let mut at = 0;
        for (d, n) in model.runs(off, 10) {
            expected[d as usize..(d + n) as usize].copy_from_slice(&data[at..at + n as usize]);
            at += n as usize;
        }
    }
    assert!(
        after == expected,
        "as nobody: the region changed beyond the permitted writes"
    );

    // The same script as root: root reads and writes everything (the
    // private directory too); only the expectations differ.
    let out = run(env.shim(&exe, &args));
    assert!(out.success(), "{}", out.describe());
    assert!(
        out.stdout
            .lines()
            .filter(|l| ["open ", "access ", "chdir "]
                .iter()
                .any(|p| l.starts_with(p)))
            .all(|l| l.ends_with(" 0")),
        "root is refused something: {}",
        out.stdout
    );
}
