//! Compatibility with the reference famfs tools, on the golden images in
//! `shared/golden` (see its README): reading their images through the CLI
//! and the library, and writing byte-identical metadata ourselves.
//!
//! The shared directory is `$FAMFS_SHARED` or `<workspace>/../shared`; when
//! it is missing every test here fails, naming the missing file.

use famfs_core::dax::Access;
use famfs_core::famfs::Famfs;
use famfs_core::fmap::Fmap;
use famfs_tests::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The master host that made the golden images (we are always a client).
const GOLDEN_MASTER: &str = "3d974861-412b-4fe0-8084-2029c2e1ea88";
const GIB4: u64 = 4 << 30;

fn golden_dir() -> PathBuf {
    shared_dir().join("golden")
}

/// Where assembled images go: persistent, inside the target directory.
fn scratch() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("golden");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// One golden image, assembled once per test process.
struct Golden {
    img: PathBuf,
    meta: Vec<u8>,
    expect: Vec<Expect>,
}

fn assemble(name: &str) -> Golden {
    let dir = golden_dir();
    let img = scratch().join(format!("{name}.img"));
    let tmp = scratch().join(format!("{name}.img.{}.tmp", std::process::id()));
    let mut cmd = Command::new("python3");
    cmd.arg(dir.join("assemble.py")).arg(name).arg(&tmp);
    let out = run(cmd);
    assert!(out.success(), "assemble.py {name}: {}", out.describe());
    // Rename into place: a concurrent run reading the old image keeps its
    // (identical) inode.
    std::fs::rename(&tmp, &img).unwrap();
    let meta = gunzip(&dir.join(format!("{name}.meta.bin.gz")));
    assert_eq!(meta.len() as u64, META_LEN);
    let expect =
        parse_expect(&std::fs::read_to_string(dir.join(format!("{name}.expect.tsv"))).unwrap());
    Golden { img, meta, expect }
}

fn golden(name: &str) -> &'static Golden {
    static G2: OnceLock<Golden> = OnceLock::new();
    static G3: OnceLock<Golden> = OnceLock::new();
    let cell = match name {
        "g2" => &G2,
        "g3" => &G3,
        _ => panic!("no cached image {name}"),
    };
    cell.get_or_init(|| assemble(name))
}

fn parent_and_name(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

/// `famfs ls -ln DIR` as name -> (mode string, uid, gid, size).
fn ls_l(env: &Env, dir: &str) -> BTreeMap<String, (String, u32, u32, u64)> {
    env.ok(&["ls", "-ln", dir])
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("total"))
        .map(|l| {
            // mode links uid gid size month day time-or-year name
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(f.len() >= 9, "bad ls -ln line {l:?}");
            (
                f[8..].join(" "),
                (
                    f[0].to_string(),
                    f[2].parse().unwrap(),
                    f[3].parse().unwrap(),
                    f[4].parse().unwrap(),
                ),
            )
        })
        .collect()
}

/// Mounts a golden image as a client and checks every entry of its tsv
/// through `ls -l`, `stat` and `cat`, then fsck and logplay.
fn check_image_via_cli(name: &str) {
    let g = golden(name);
    let env = Env::new();
    let r = env.mount(&g.img);

    // Every directory lists exactly the expected children.
    let mut children: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    children.entry(String::new()).or_default();
    for e in &g.expect {
        let (parent, base) = parent_and_name(&e.path);
        children
            .entry(parent.to_string())
            .or_default()
            .insert(base.to_string());
        if e.is_dir {
            children.entry(e.path.clone()).or_default();
        }
    }
    let mut listings = BTreeMap::new();
    for (dir, want) in &children {
        let got = ls_l(&env, &r.p(dir));
        let names: BTreeSet<String> = got.keys().cloned().collect();
        assert_eq!(&names, want, "{name}: ls -l {dir}");
        listings.insert(dir.clone(), got);
    }

    for e in &g.expect {
        let (parent, base) = parent_and_name(&e.path);
        let (mode, uid, gid, size) = &listings[parent][base];
        assert_eq!(
            mode,
            &mode_string(e.is_dir, e.mode),
            "{name}: mode of {}",
            e.path
        );
        assert_eq!((*uid, *gid), (e.uid, e.gid), "{name}: owner of {}", e.path);
        if let Some(sz) = e.size {
            assert_eq!(*size, sz, "{name}: size of {}", e.path);
        }
        let st = env.ok(&["stat", &r.p(&e.path)]);
        assert_eq!(
            number_after(&st, "uid"),
            u64::from(e.uid),
            "{name} stat {}:\n{st}",
            e.path
        );
        assert_eq!(
            number_after(&st, "gid"),
            u64::from(e.gid),
            "{name} stat {}:\n{st}",
            e.path
        );
        assert!(
            st.contains(&format!("{:o}", e.mode)),
            "{name} stat {} mode:\n{st}",
            e.path
        );
        let kind = if e.is_dir { "dir" } else { "file" };
        assert!(
            st.to_lowercase().contains(kind),
            "{name} stat {} type:\n{st}",
            e.path
        );
        if let Some(sz) = e.size {
            assert!(
                st.contains(&sz.to_string()),
                "{name} stat {} size:\n{st}",
                e.path
            );
        }
        if let Some(sha) = &e.sha256 {
            let data = env.ok_bytes(&["cat", &r.p(&e.path)]);
            assert_eq!(data.len() as u64, e.size.unwrap(), "{name}: cat {}", e.path);
            assert_eq!(&sha256_hex(&data), sha, "{name}: sha256 of cat {}", e.path);
        }
    }

    // fsck: clean, and we are a client of the reference master.
    let out = env.ok(&["fsck", g.img.to_str().unwrap()]);
    let low = out.to_lowercase();
    assert!(
        low.contains("client"),
        "{name}: role should be client:\n{out}"
    );
    assert!(out.contains(GOLDEN_MASTER), "{name}: master uuid:\n{out}");
    let nfiles = g.expect.iter().filter(|e| !e.is_dir).count() as u64;
    let ndirs = g.expect.iter().filter(|e| e.is_dir).count() as u64;
    assert_eq!(number_after(&out, "files"), nfiles, "{name}:\n{out}");
    assert_eq!(
        count_of(&out, &["directories", "dirs"]),
        ndirs,
        "{name}:\n{out}"
    );
    assert_eq!(count_of(&out, &["bad entries"]), 0, "{name}:\n{out}");
    assert_eq!(count_of(&out, &["collisions"]), 0, "{name}:\n{out}");
    let n = g.expect.len();
    assert!(
        out.contains(&format!("{n}/15420")) || out.contains(&format!("{n} / 15420")),
        "{name}: log entries {n}/15420:\n{out}"
    );
    let out = env.ok(&["fsck", &r.mnt]);
    assert!(out.to_lowercase().contains("client"), "{out}");
    env.ok(&["logplay", &r.mnt]);

    // A client may not append to the reference master's log.
    let before = read_range(&g.img, 0, META_LEN as usize);
    let err = env.fail(&["mkdir", &r.p("not_allowed")]);
    let low = err.to_lowercase();
    assert!(low.contains("client") && low.contains("master"), "{err}");
    assert_bytes_eq(
        "client mkdir",
        &read_range(&g.img, 0, META_LEN as usize),
        &before,
        0,
    );
    assert_bytes_eq("golden metadata", &before, &g.meta, 0);
}

#[test]
fn g2_listing_and_contents_via_cli() {
    check_image_via_cli("g2");
}

#[test]
fn g3_listing_and_contents_via_cli() {
    check_image_via_cli("g3");
}

#[test]
fn g3_getmap_shows_interleaving() {
    let g = golden("g3");
    let env = Env::new();
    let r = env.mount(&g.img);
    for (path, nstrips, chunk) in [
        ("stripes/i_37m_4x2m", 4usize, 2 * MIB),
        ("stripes/i_10m_2x4m", 2, 4 * MIB),
        ("stripes/i_6m_plus1_3x2m", 3, 2 * MIB),
        ("stripes/cp_9m_4x2m.bin", 4, 2 * MIB),
    ] {
        let out = env.ok(&["getmap", "--json", &r.p(path)]);
        let v: serde_json::Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("getmap --json {path} is not JSON ({e}):\n{out}"));
        let text = v.to_string();
        assert!(
            text.contains(&chunk.to_string()),
            "{path}: chunk size {chunk} in {out}"
        );
        let strips =
            find_array(&v, "strips").unwrap_or_else(|| panic!("{path}: no strips array in {out}"));
        assert_eq!(strips.len(), nstrips, "{path}: {out}");
        let plain = env.ok(&["getmap", &r.p(path)]);
        assert!(
            plain.contains(&chunk.to_string())
                || plain.contains(&format!("{chunk:#x}"))
                || plain.contains(&format!("{} MiB", chunk >> 20)),
            "{path}: getmap should show the chunk size:\n{plain}"
        );
    }
}

/// Reads every file of a golden image through the library at awkward
/// offsets and lengths, and whole in odd-sized chunks.
fn check_image_via_library(name: &str, want_interleaved: usize) {
    let g = golden(name);
    let fs = Famfs::open(&g.img, Access::ReadOnly).expect("open golden image read-only");
    assert!(
        fs.replay().problems().is_empty(),
        "{:?}",
        fs.replay().problems()
    );
    assert!(fs.replay().stopped().is_none());
    assert_eq!(fs.replay().collisions(), 0);
    let mut interleaved = 0;
    for e in g.expect.iter().filter(|e| !e.is_dir) {
        let size = e.size.unwrap();
        let content = golden_content(e.rule.as_deref().unwrap(), size as usize);
        assert_eq!(
            &sha256_hex(&content),
            e.sha256.as_ref().unwrap(),
            "content rule of {}",
            e.path
        );
        let node = fs
            .lookup(&e.path)
            .unwrap_or_else(|err| panic!("{}: {err}", e.path));
        let f = node.as_file().expect("a file");
        assert_eq!(f.size, size);
        assert!(f.error.is_none(), "{}: {:?}", e.path, f.error);
        let chunk = match &f.fmap {
            Fmap::Interleaved(ie) => {
                interleaved += 1;
                ie[0].chunk_size
            }
            Fmap::Simple(_) => 2 * MIB,
        };
        let io = fs.file_io(node.ino).unwrap();
        assert_eq!(io.size(), size);
        // Odd offsets: around chunk and strip boundaries, and EOF.
        let mut offsets = vec![
            0,
            1,
            4093,
            chunk - 1,
            chunk,
            chunk + 1,
            3 * chunk - 3,
            15 * MIB + 3,
            size - 1,
            size.saturating_sub(7),
        ];
        offsets.retain(|&o| o < size);
        for off in offsets {
            for len in [1u64, 7, 4099, chunk + 13, 5 * MIB + 1] {
                let mut buf = vec![0u8; len as usize];
                let n = io.read(off, &mut buf).unwrap() as u64;
                assert_eq!(n, len.min(size - off), "{}: read {len} at {off}", e.path);
                assert_bytes_eq(
                    &format!("{}: read {len} at {off}", e.path),
                    &buf[..n as usize],
                    &content[off as usize..(off + n) as usize],
                    off,
                );
            }
        }
        // At and past EOF: nothing.
        let mut buf = [0u8; 16];
        assert_eq!(io.read(size, &mut buf).unwrap(), 0);
        assert_eq!(io.read(size + 12345, &mut buf).unwrap(), 0);
        // Whole file, in odd chunks.
        let mut all = Vec::with_capacity(size as usize);
        let mut off = 0;
        let mut step = vec![0u8; 1_000_003];
        while off < size {
            let n = io.read(off, &mut step).unwrap();
            assert!(n > 0);
            all.extend_from_slice(&step[..n]);
            off += n as u64;
        }
        assert_eq!(
            &sha256_hex(&all),
            e.sha256.as_ref().unwrap(),
            "{}: whole file",
            e.path
        );
    }
    assert_eq!(interleaved, want_interleaved, "{name}: interleaved files");
}

#[test]
fn g3_interleaved_reads_via_library() {
    check_image_via_library("g3", 4);
}

#[test]
fn g2_reads_via_library() {
    check_image_via_library("g2", 0);
}

/// `-u 0 -g 0` when we are not root (the reference commands ran as root).
fn as_root() -> Vec<&'static str> {
    if euid() == 0 && egid() == 0 {
        Vec::new()
    } else {
        vec!["-u", "0", "-g", "0"]
    }
}

#[test]
fn g2_log_is_byte_identical() {
    let dir = golden_dir();
    let g2_meta = gunzip(&dir.join("g2.meta.bin.gz"));
    let env = Env::new();
    let dev = env.path("g2-ours.img");
    env.ok(&["mkfs", "--size", "4g", &dev]);
    let r = env.mount(Path::new(&dev));
    let src = env.dir().join("SRC");
    write_file(&src, &[b'A'; 5000], 0o644);
    let root = as_root();
    let run = |args: &[&str], owner: bool| {
        let mut v: Vec<&str> = vec![args[0]];
        if owner {
            v.extend(root.iter().copied());
        }
        v.extend_from_slice(&args[1..]);
        env.ok(&v);
    };
    let m = |p: &str| r.p(p);
    run(&["mkdir", &m("dir1")], true);
    run(&["mkdir", "-p", &m("dir2/sub1/sub2")], true);
    run(
        &[
            "mkdir",
            "-m",
            "0700",
            "-u",
            "1000",
            "-g",
            "1000",
            &m("dir1/private"),
        ],
        false,
    );
    run(&["creat", "-r", "-S", "1", "-s", "1", &m("f_1b")], true);
    run(
        &["creat", "-r", "-S", "2", "-s", "4k", &m("dir1/f_4k")],
        true,
    );
    run(
        &["creat", "-r", "-S", "3", "-s", "2m", &m("dir2/f_2m")],
        true,
    );
    run(
        &[
            "creat",
            "-r",
            "-S",
            "4",
            "-s",
            "2097153",
            &m("dir2/sub1/f_2m_plus1"),
        ],
        true,
    );
    run(
        &[
            "creat",
            "-r",
            "-S",
            "5",
            "-s",
            "37m",
            &m("dir2/sub1/sub2/f_37m"),
        ],
        true,
    );
    run(
        &[
            "creat",
            "-r",
            "-S",
            "6",
            "-s",
            "10000",
            "-m",
            "0600",
            "-u",
            "1000",
            "-g",
            "1000",
            &m("dir1/private/f_10000_u1000"),
        ],
        false,
    );
    run(
        &["cp", src.to_str().unwrap(), &m("dir1/copied_5000A.bin")],
        true,
    );

    let ours = read_range(
        Path::new(&dev),
        LOG_OFFSET,
        (META_LEN - LOG_OFFSET) as usize,
    );
    assert_bytes_eq(
        "log region [2 MiB, 10 MiB) vs g2",
        &ours,
        &g2_meta[LOG_OFFSET as usize..],
        LOG_OFFSET,
    );
    // The superblock differs only in the uuids and the device name.
    let sb = read_range(Path::new(&dev), 0, 200);
    assert_eq!(
        sb[..48],
        g2_meta[..48],
        "superblock fields before the uuids"
    );
    assert_eq!(le_u64(&sb, 112), GIB4);
    // And the files hold what the reference wrote.
    let expect = parse_expect(&std::fs::read_to_string(dir.join("g2.expect.tsv")).unwrap());
    for e in expect.iter().filter(|e| !e.is_dir) {
        let data = env.ok_bytes(&["cat", &r.p(&e.path)]);
        assert_eq!(&sha256_hex(&data), e.sha256.as_ref().unwrap(), "{}", e.path);
    }
}

#[test]
fn g1_superblock_is_byte_identical() {
    let dir = golden_dir();
    let g1 = gunzip(&dir.join("g1.meta.bin.gz"));
    let uuid = format_uuid(&g1[48..64]);
    let dev_uuid = format_uuid(&g1[64..80]);
    let system_uuid = format_uuid(&g1[80..96]);
    assert_eq!(system_uuid, GOLDEN_MASTER);
    let env = Env::new();
    let dev = env.path("g1-ours.img");
    env.ok(&[
        "mkfs",
        "--size",
        "4g",
        "--uuid",
        &uuid,
        "--dev-uuid",
        &dev_uuid,
        "--system-uuid",
        &system_uuid,
        "--devname",
        "/dev/dax0.0",
        &dev,
    ]);
    let ours = read_range(Path::new(&dev), 0, META_LEN as usize);
    assert_bytes_eq(
        "superblock region vs g1",
        &ours[..LOG_OFFSET as usize],
        &g1[..LOG_OFFSET as usize],
        0,
    );
    assert_bytes_eq(
        "empty log vs g1",
        &ours[LOG_OFFSET as usize..],
        &g1[LOG_OFFSET as usize..],
        LOG_OFFSET,
    );
    // We are not the master of this file system.
    let out = env.ok(&["fsck", &dev]);
    assert!(out.to_lowercase().contains("client"), "{out}");
}

/// Under the shim, every file of g3 (most of them interleaved) reads the
/// same bytes through read() and through mmap(), and both match the
/// image's recorded sha256.
#[test]
fn g3_mmap_equals_read_under_shim() {
    let g = golden("g3");
    let env = Env::new();
    let r = env.mount(&g.img);
    let script = r#"
import hashlib, mmap, os, sys
for path in sys.argv[1:]:
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size
    chunks = []
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            break
        chunks.append(b)
    data = b"".join(chunks)
    m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
    mapped = m[:]
    # An odd window through the mapping, across chunk boundaries.
    off = (size // 3) & ~4095
    m2 = mmap.mmap(fd, size - off, mmap.MAP_SHARED, mmap.PROT_READ, offset=off)
    assert m2[:] == data[off:], path
    m.close(); m2.close(); os.close(fd)
    print(path, len(data), hashlib.sha256(data).hexdigest(), hashlib.sha256(mapped).hexdigest())
"#;
    let files: Vec<&Expect> = g.expect.iter().filter(|e| !e.is_dir).collect();
    let mut args = vec!["-c".to_string(), script.to_string()];
    args.extend(files.iter().map(|e| r.p(&e.path)));
    let out = run(env.shim("python3", &args));
    assert!(out.success(), "{}", out.describe());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), files.len(), "{}", out.describe());
    for (e, line) in files.iter().zip(lines) {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f[0], r.p(&e.path));
        assert_eq!(f[1].parse::<u64>().unwrap(), e.size.unwrap(), "{line}");
        assert_eq!(f[2], e.sha256.as_deref().unwrap(), "read(): {line}");
        assert_eq!(f[3], e.sha256.as_deref().unwrap(), "mmap(): {line}");
    }
}

/// Every file of g2 and g3: its log fmap encodes to a GET_FMAP message that
/// decodes to the same fmap and passes the kernel's validation.
#[test]
fn golden_fmaps_round_trip_through_get_fmap_messages() {
    use famfs_core::fmap_msg::FmapMessage;
    for name in ["g2", "g3"] {
        let g = golden(name);
        let fs = Famfs::open(&g.img, Access::ReadOnly).unwrap();
        let dev_size = fs.device().size();
        let mut n = 0;
        for e in g.expect.iter().filter(|e| !e.is_dir) {
            let f = fs.lookup(&e.path).unwrap().as_file().unwrap().clone();
            let msg = FmapMessage::regular(f.size, f.fmap.clone());
            let bytes = msg.encode().unwrap();
            let back = FmapMessage::decode(&bytes).unwrap();
            assert_eq!(back, msg, "{name}:{}", e.path);
            back.validate(|i| (i == 0).then_some(dev_size))
                .unwrap_or_else(|err| panic!("{name}:{}: {err}", e.path));
            n += 1;
        }
        assert!(n > 0, "{name} has files");
    }
}

/// `famfs getmap --fmap` prints that message in hex.
#[test]
fn getmap_fmap_prints_the_message() {
    use famfs_core::fmap_msg::FmapMessage;
    let g = golden("g3");
    let env = Env::new();
    let r = env.mount(&g.img);
    let fs = Famfs::open(&g.img, Access::ReadOnly).unwrap();
    let e = g.expect.iter().find(|e| !e.is_dir).unwrap();
    let f = fs.lookup(&e.path).unwrap().as_file().unwrap().clone();
    let want = FmapMessage::regular(f.size, f.fmap.clone())
        .encode()
        .unwrap();
    let text = env.ok(&["getmap", "--fmap", &r.p(&e.path)]);
    let got: Vec<u8> = text
        .lines()
        .flat_map(|l| {
            l.split_whitespace()
                .skip(1)
                .map(|h| u8::from_str_radix(h, 16).unwrap())
        })
        .collect();
    assert_eq!(got, want);
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["getmap", "--fmap", "--json", &r.p(&e.path)])).unwrap();
    assert_eq!(json["length"], want.len());
    assert_eq!(json["message"]["file_size"], f.size);
}
