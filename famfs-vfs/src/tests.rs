//! The POSIX semantics the shim serves, exercised in process (no
//! LD_PRELOAD): resolution, open flags, offsets, EFBIG, permissions, mkdir,
//! directory listings and inheritance pages.

use super::*;
use famfs_core::dax::{Access, DaxDevice};
use famfs_core::famfs::{mkfs, Famfs, MkfsOptions};
use famfs_core::mounts::MountEntry;
use std::os::unix::ffi::OsStrExt;

const MIB: u64 = 1 << 20;

/// All tests in this binary play the same host: one system uuid file.
fn host_uuid() {
    static HOST: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("system_uuid");
        std::env::set_var(famfs_core::host::SYSTEM_UUID_ENV, &p);
        famfs_core::host::system_uuid_at(&p).unwrap();
        dir
    });
}

struct Fixture {
    _dir: tempfile::TempDir,
    vfs: Vfs,
    mnt: String,
}

fn meta(mode: u32) -> Meta {
    Meta {
        uid: nix::unistd::geteuid().as_raw(),
        gid: nix::unistd::getegid().as_raw(),
        mode,
    }
}

/// A 64 MiB region with `a.bin` (3 MiB of 0xab), `d/` and `d/b.bin`
/// (4097 bytes of 0x5a), mounted at a virtual mount point.
fn fixture() -> Fixture {
    host_uuid();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.img");
    DaxDevice::create_simulated(&path, 64 * MIB).unwrap();
    let sb = mkfs(
        &DaxDevice::open(&path, Access::ReadWrite).unwrap(),
        &MkfsOptions::default(),
    )
    .unwrap();
    let mut fs = Famfs::open(&path, Access::ReadWrite).unwrap();
    fs.create_file("a.bin", 3 * MIB, meta(0o644), |io| {
        io.write(0, &vec![0xab; (3 * MIB) as usize]).map(|_| ())
    })
    .unwrap();
    fs.mkdir("d", meta(0o755), None).unwrap();
    fs.create_file("d/b.bin", 4097, meta(0o600), |io| {
        io.write(0, &[0x5a; 4097]).map(|_| ())
    })
    .unwrap();
    let mnt = format!("/famfs-unit-{}/mnt", uuid::Uuid::new_v4().simple());
    let entry = MountEntry {
        mountpoint: mnt.clone().into(),
        device: path,
        fs_uuid: sb.uuid,
        mount_time: 1_700_000_000,
        options: vec![],
    };
    let vfs = Vfs::with_mounts(vec![Arc::new(Mount::new(entry))]);
    Fixture {
        _dir: dir,
        vfs,
        mnt,
    }
}

impl Fixture {
    fn p(&self, rel: &str) -> String {
        format!("{}/{rel}", self.mnt)
    }

    fn famfs<'a>(&'a self, path: &'a str) -> FamfsPath<'a> {
        match self.vfs.resolve(libc::AT_FDCWD, path.as_bytes()).unwrap() {
            Target::Famfs(fp) => fp,
            t => panic!("{path}: {t:?}"),
        }
    }

    fn open(&self, path: &str, flags: i32) -> SysResult<Arc<OpenFile>> {
        let fd = self.vfs.open(&self.famfs(path), flags)?;
        Ok(self.vfs.fds.get(fd).expect("mapped"))
    }
}

#[test]
fn resolution() {
    let f = fixture();
    let rel = |p: &str| f.famfs(p).rel.into_owned();
    assert_eq!(rel(&f.mnt), "");
    assert_eq!(rel(&f.p("a.bin")), "a.bin");
    assert_eq!(rel(&f.p("d//./b.bin")), "d/b.bin");
    assert_eq!(rel(&f.p("d/../a.bin")), "a.bin");
    assert!(f.famfs(&f.p("d/")).dir_required);
    assert!(!f.famfs(&f.p("d")).dir_required);
    // Paths that never name the mount go to the kernel untouched.
    assert!(matches!(
        f.vfs.resolve(libc::AT_FDCWD, b"/etc/passwd").unwrap(),
        Target::Kernel
    ));
    assert!(matches!(
        f.vfs.resolve(libc::AT_FDCWD, b"relative/x").unwrap(),
        Target::Kernel
    ));
    // Leaving the mount with .. is a kernel path, resolved: the kernel
    // cannot walk through a mount point that need not exist for it.
    let parent = &f.mnt[..f.mnt.rfind('/').unwrap()];
    for (path, want) in [
        (format!("{}/../x", f.mnt), format!("{parent}/x")),
        (format!("{}/d/../../x/", f.mnt), format!("{parent}/x/")),
        (format!("{}/..", f.mnt), format!("{parent}/")),
    ] {
        match f.vfs.resolve(libc::AT_FDCWD, path.as_bytes()).unwrap() {
            Target::KernelPath(c) => assert_eq!(c.to_str().unwrap(), want, "{path}"),
            t => panic!("{path}: {t:?}"),
        }
    }
}

#[test]
fn relative_to_a_famfs_directory_and_cwd() {
    let f = fixture();
    let dfd = f.vfs.open(&f.famfs(&f.p("d")), libc::O_RDONLY).unwrap();
    match f.vfs.resolve(dfd, b"b.bin").unwrap() {
        Target::Famfs(fp) => assert_eq!(fp.rel, "d/b.bin"),
        t => panic!("{t:?}"),
    }
    match f.vfs.resolve(dfd, b"../../../tmp").unwrap() {
        Target::KernelPath(c) => {
            let top = f.mnt.split('/').nth(1).unwrap();
            assert_ne!(top, "tmp");
            assert_eq!(c.as_bytes(), b"/tmp")
        }
        t => panic!("{t:?}"),
    }
    let afd = f.vfs.open(&f.famfs(&f.p("a.bin")), libc::O_RDONLY).unwrap();
    assert_eq!(f.vfs.resolve(afd, b"x").unwrap_err(), Errno::ENOTDIR);

    f.vfs.chdir(&f.famfs(&f.p("d"))).unwrap();
    assert_eq!(f.vfs.famfs_cwd().unwrap(), f.p("d"));
    match f.vfs.resolve(libc::AT_FDCWD, b"b.bin").unwrap() {
        Target::Famfs(fp) => assert_eq!(fp.rel, "d/b.bin"),
        t => panic!("{t:?}"),
    }
    assert_eq!(
        f.vfs.chdir(&f.famfs(&f.p("a.bin"))).unwrap_err(),
        Errno::ENOTDIR
    );
    f.vfs.left_famfs_cwd();
    assert!(f.vfs.famfs_cwd().is_none());
    for fd in [dfd, afd] {
        f.vfs.forget(fd);
        // SAFETY: closing our placeholder descriptors.
        unsafe { libc::close(fd) };
    }
}

#[test]
fn open_flags_and_errors() {
    let f = fixture();
    let e = |p: &str, flags| f.open(p, flags).err();
    assert_eq!(
        e(&f.p("new"), libc::O_CREAT | libc::O_WRONLY),
        Some(Errno::EPERM)
    );
    assert_eq!(e(&f.p("nodir/new"), libc::O_CREAT), Some(Errno::ENOENT));
    assert_eq!(
        e(&f.p("a.bin"), libc::O_CREAT | libc::O_EXCL),
        Some(Errno::EEXIST)
    );
    assert_eq!(e(&f.p("missing"), libc::O_RDONLY), Some(Errno::ENOENT));
    assert_eq!(e(&f.p("a.bin/"), libc::O_RDONLY), Some(Errno::ENOTDIR));
    assert_eq!(e(&f.p("a.bin"), libc::O_DIRECTORY), Some(Errno::ENOTDIR));
    assert_eq!(e(&f.p("a.bin/x"), libc::O_RDONLY), Some(Errno::ENOTDIR));
    assert_eq!(e(&f.p("d"), libc::O_RDWR), Some(Errno::EISDIR));
    assert_eq!(
        e(&f.p("a.bin"), libc::O_RDWR | libc::O_TRUNC),
        Some(Errno::EPERM)
    );
    assert!(f
        .open(&f.p("a.bin"), libc::O_CREAT | libc::O_RDONLY)
        .is_ok());
    assert!(f
        .open(&f.p("d"), libc::O_RDONLY | libc::O_DIRECTORY)
        .is_ok());
}

#[test]
fn reads_writes_and_offsets() {
    let f = fixture();
    let of = f.open(&f.p("d/b.bin"), libc::O_RDWR).unwrap();
    let mut buf = vec![0u8; 5000];
    assert_eq!(of.read(&mut buf).unwrap(), 4097);
    assert!(buf[..4097].iter().all(|&b| b == 0x5a));
    assert_eq!(of.read(&mut buf).unwrap(), 0, "EOF");
    // A write crossing EOF writes what fits; at EOF it is EFBIG.
    assert_eq!(of.pwrite(4090, &[1u8; 100]).unwrap(), 7);
    assert_eq!(of.pwrite(4097, &[1u8; 1]).unwrap_err(), Errno::EFBIG);
    assert_eq!(of.write(&[1u8; 1]).unwrap_err(), Errno::EFBIG);
    assert_eq!(of.pread(4089, &mut buf[..16]).unwrap(), 8);
    assert_eq!(&buf[..8], &[0x5a, 1, 1, 1, 1, 1, 1, 1]);
    // lseek, with the famfs meaning of DATA and HOLE.
    assert_eq!(of.lseek(10, libc::SEEK_SET).unwrap(), 10);
    assert_eq!(of.lseek(5, libc::SEEK_CUR).unwrap(), 15);
    assert_eq!(of.lseek(-1, libc::SEEK_END).unwrap(), 4096);
    assert_eq!(of.lseek(100, libc::SEEK_DATA).unwrap(), 100);
    assert_eq!(of.lseek(100, libc::SEEK_HOLE).unwrap(), 4097);
    assert_eq!(of.lseek(4097, libc::SEEK_DATA).unwrap_err(), Errno::ENXIO);
    assert_eq!(of.lseek(-1, libc::SEEK_SET).unwrap_err(), Errno::EINVAL);
    // O_APPEND would extend the file.
    let ap = f
        .open(&f.p("a.bin"), libc::O_WRONLY | libc::O_APPEND)
        .unwrap();
    assert_eq!(ap.write(b"x").unwrap_err(), Errno::EFBIG);
    // A read-only open cannot write; a write-only one cannot read.
    let ro = f.open(&f.p("a.bin"), libc::O_RDONLY).unwrap();
    assert_eq!(ro.pwrite(0, b"x").unwrap_err(), Errno::EBADF);
    assert_eq!(ap.pread(0, &mut buf).unwrap_err(), Errno::EBADF);
    assert_eq!(
        ro.file().unwrap().device(0).unwrap().access(),
        Access::ReadOnly
    );
}

#[test]
fn stat_and_statfs() {
    let f = fixture();
    let st = f.vfs.stat(&f.famfs(&f.p("a.bin"))).unwrap();
    assert_eq!(st.st_size, (3 * MIB) as i64);
    assert_eq!(st.st_mode, libc::S_IFREG | 0o644);
    assert_eq!(st.st_blksize, 2 << 20);
    assert_eq!(st.st_blocks, (4 * MIB / 512) as i64, "two 2 MiB units");
    assert_eq!(st.st_mtime, 1_700_000_000);
    let d = f.vfs.stat(&f.famfs(&f.p("d"))).unwrap();
    assert_eq!(d.st_mode & libc::S_IFMT, libc::S_IFDIR);
    assert_eq!(d.st_dev, st.st_dev);
    assert_ne!(d.st_ino, st.st_ino);
    let root = f.vfs.stat(&f.famfs(&f.mnt)).unwrap();
    assert_eq!(root.st_nlink, 4, "root holds d and .meta");
    let meta = f.vfs.stat(&f.famfs(&f.p(".meta/.log"))).unwrap();
    assert_eq!(meta.st_mode, libc::S_IFREG | 0o444);
    assert_eq!(meta.st_size, 8 << 20);
    let s = f.vfs.statfs(f.famfs(&f.mnt).mount).unwrap();
    assert_eq!(s.f_type as u64, famfs_core::format::STATFS_MAGIC);
}

#[test]
fn permissions_follow_the_log() {
    let f = fixture();
    let path = f.p("d/b.bin");
    let fp = f.famfs(&path);
    assert!(f.vfs.access(&fp, libc::R_OK | libc::W_OK, true).is_ok());
    assert_eq!(
        f.vfs.access(&fp, libc::X_OK, true).unwrap_err(),
        Errno::EACCES
    );
    assert_eq!(f.vfs.access(&fp, 64, true).unwrap_err(), Errno::EINVAL);
}

#[test]
fn search_checks_every_directory_on_the_way() {
    let f = fixture();
    let m = f.famfs(&f.mnt).mount;
    let seen = std::cell::RefCell::new(Vec::new());
    let record = |meta: &Meta| {
        seen.borrow_mut().push(meta.mode);
        Ok(())
    };
    // The root and d, not the file itself.
    m.check_search("d/b.bin", record).unwrap();
    assert_eq!(*seen.borrow(), [0o755, 0o755]);
    // Only the root for a top-level name; nothing for the mount point.
    seen.borrow_mut().clear();
    m.check_search("a.bin", record).unwrap();
    m.check_search("", record).unwrap();
    assert_eq!(*seen.borrow(), [0o755]);
    // A missing or non-directory component ends the walk (the lookup
    // reports it), after the directories before it were checked.
    seen.borrow_mut().clear();
    m.check_search("nope/x/y", record).unwrap();
    m.check_search("a.bin/x", record).unwrap();
    assert_eq!(*seen.borrow(), [0o755, 0o755]);
    // A refusal is the answer.
    let deny = |meta: &Meta| {
        if meta.mode == 0o755 {
            Err(Errno::EACCES)
        } else {
            Ok(())
        }
    };
    assert_eq!(m.check_search("d/b.bin", deny), Err(Errno::EACCES));
}

#[test]
fn listing_has_dot_entries_and_sees_new_files() {
    let f = fixture();
    let of = f.open(&f.mnt, libc::O_RDONLY).unwrap();
    let names: Vec<String> = of
        .listing()
        .unwrap()
        .iter()
        .map(|e| e.name.clone())
        .collect();
    assert_eq!(names, [".", "..", ".meta", "a.bin", "d"]);
    // A directory made through the shim is logged and visible.
    f.vfs.mkdir(&f.famfs(&f.p("d/new")), 0o750).unwrap();
    assert_eq!(
        f.vfs.mkdir(&f.famfs(&f.p("d/new")), 0o750).unwrap_err(),
        Errno::EEXIST
    );
    let st = f.vfs.stat(&f.famfs(&f.p("d/new"))).unwrap();
    assert_eq!(st.st_mode & libc::S_IFMT, libc::S_IFDIR);
    of.lseek(0, libc::SEEK_SET).unwrap();
    assert_eq!(of.listing().unwrap().len(), 5);
}

#[test]
fn durable_state_is_shared_through_a_page() {
    let f = fixture();
    let fd = f.vfs.open(&f.famfs(&f.p("a.bin")), libc::O_RDONLY).unwrap();
    let of = f.vfs.fds.get(fd).unwrap();
    of.lseek(1234, libc::SEEK_SET).unwrap();
    f.vfs.make_durable().unwrap();
    assert_eq!(
        of.state().offset.load(std::sync::atomic::Ordering::Acquire),
        1234
    );
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
    assert!(
        link.as_os_str().as_bytes().starts_with(b"/memfd:famfs-ofd"),
        "{link:?}"
    );
    // A new image would find it: adopt it into a second Vfs of the same mounts.
    let other = Vfs::with_mounts(f.vfs.mounts().to_vec());
    other.adopt_inherited();
    let adopted = other.fds.get(fd).expect("adopted");
    assert_eq!(adopted.rel(), "a.bin");
    assert_eq!(adopted.lseek(0, libc::SEEK_CUR).unwrap(), 1234);
    adopted.lseek(10, libc::SEEK_CUR).unwrap();
    assert_eq!(
        of.lseek(0, libc::SEEK_CUR).unwrap(),
        1244,
        "one shared offset"
    );
}

/// Counts this thread's heap allocations while `counting` is set, so a
/// test can show that a path allocates nothing (other tests in this binary
/// pass straight through to the system allocator).
mod alloc_count {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static COUNT: Cell<Option<u64>> = const { Cell::new(None) };
    }

    struct Counting;

    // SAFETY: every call is forwarded to the system allocator unchanged.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            COUNT.with(|c| c.set(c.get().map(|n| n + 1)));
            // SAFETY: forwarded contract.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: forwarded contract.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            COUNT.with(|c| c.set(c.get().map(|n| n + 1)));
            // SAFETY: forwarded contract.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    /// Runs `f` and returns how many allocations it made on this thread.
    pub fn allocations_in(f: impl FnOnce()) -> u64 {
        COUNT.with(|c| c.set(Some(0)));
        f();
        COUNT.with(|c| c.replace(None)).unwrap_or(0)
    }
}

#[test]
fn reading_an_open_file_allocates_nothing() {
    let f = fixture();
    let fd = f.vfs.open(&f.famfs(&f.p("a.bin")), libc::O_RDONLY).unwrap();
    let mut buf = vec![0u8; 64 << 10];
    // What the shim's read hooks do: look the descriptor up, then read.
    let read_some = |buf: &mut [u8]| {
        f.vfs
            .fds
            .with(fd, |of| {
                of.lseek(0, libc::SEEK_SET).unwrap();
                let a = of.read(buf).unwrap();
                let b = of.pread(MIB + 17, buf).unwrap();
                a + b
            })
            .expect("a famfs descriptor")
    };
    // The first lookup on a thread registers it with the table (once).
    assert_eq!(read_some(&mut buf), 2 * buf.len());
    // Pinning the epoch may run deferred work other threads (other tests)
    // left, such as recycling their closed files, which can allocate here;
    // a window of 1000 reads without any allocation shows the read path
    // itself allocates nothing (one that did would allocate 1000 times in
    // every window).
    let mut counts = Vec::new();
    for _ in 0..5 {
        let mut total = 0;
        let n = alloc_count::allocations_in(|| {
            for _ in 0..1000 {
                total += read_some(&mut buf);
            }
        });
        assert_eq!(total, 1000 * 2 * buf.len());
        counts.push(n);
        if n == 0 {
            break;
        }
    }
    assert_eq!(
        counts.last(),
        Some(&0),
        "allocations in windows of 1000 read + pread pairs: {counts:?}"
    );
    assert!(buf.iter().all(|&b| b == 0xab));
    // The check is live: an allocation in the same window is counted.
    assert_eq!(
        alloc_count::allocations_in(|| drop(std::hint::black_box(vec![1u8; 10]))),
        1
    );
}

#[test]
fn a_descriptor_closed_and_reused_under_readers_never_mixes_files() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let f = fixture();
    let a = f.vfs.open(&f.famfs(&f.p("a.bin")), libc::O_RDONLY).unwrap();
    let b = f
        .vfs
        .open(&f.famfs(&f.p("d/b.bin")), libc::O_RDONLY)
        .unwrap();
    let files = [f.vfs.fds.get(a).unwrap(), f.vfs.fds.get(b).unwrap()];
    // A descriptor number beyond the first segment of the table.
    let fd = 1000;
    let stop = AtomicBool::new(false);
    let hits = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mut buf = [0u8; 4096];
                while !stop.load(Ordering::Relaxed) {
                    if let Some(n) = f.vfs.fds.with(fd, |of| of.pread(0, &mut buf).unwrap()) {
                        // One file's bytes, whichever was mapped.
                        assert!(n > 0 && buf[..n].iter().all(|&x| x == buf[0]));
                        assert!(buf[0] == 0xab || buf[0] == 0x5a, "{:#x}", buf[0]);
                        hits.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        // Swap files under the readers until they have read through the
        // descriptor often enough (however the threads get scheduled).
        let mut i = 0usize;
        while i < 20_000 || hits.load(Ordering::Relaxed) < 1000 {
            f.vfs.duplicated(&files[i % 2], fd);
            if i % 3 == 0 {
                f.vfs.forget(fd);
            }
            i += 1;
        }
        stop.store(true, Ordering::Relaxed);
    });
    f.vfs.forget(fd);
    assert!(!f.vfs.fds.contains(fd));
    // Every reference the table dropped at fd 1000 is released once no
    // reader can hold it (epoch reclamation: flush until it has run; other
    // tests' threads pin only briefly). Then the descriptors `a` and `b`
    // hold the only other references.
    recycle::hand_over_retired();
    let mut flushes = 0;
    while files.iter().any(|of| Arc::strong_count(of) != 2) {
        assert!(flushes < 1_000_000, "references never released");
        crossbeam_epoch::pin().flush();
        std::thread::yield_now();
        flushes += 1;
    }
}

#[test]
fn a_reused_open_file_starts_afresh() {
    use std::sync::atomic::Ordering;
    let f = fixture();
    let (a, b) = (f.p("a.bin"), f.p("d/b.bin"));
    let mut seen = std::collections::HashSet::new();
    let mut reused = 0;
    // Closes hand their open files back as spares after a grace period;
    // go on until opens have reused one many times.
    for i in 0..200_000 {
        let (path, flags, size, byte) = if i % 2 == 0 {
            (&a, libc::O_RDONLY, 3 * MIB, 0xab)
        } else {
            (&b, libc::O_RDWR | libc::O_NONBLOCK, 4097, 0x5a)
        };
        let fd = f.vfs.open(&f.famfs(path), flags).unwrap();
        let of = f.vfs.fds.get(fd).unwrap();
        if !seen.insert(Arc::as_ptr(&of)) {
            reused += 1;
        }
        // Whatever the memory held before, this is a new open of `path`.
        let st = of.state();
        assert_eq!(st.offset.load(Ordering::Acquire), 0, "open {i}");
        let status = (flags & libc::O_NONBLOCK) as u32;
        assert_eq!(st.status.load(Ordering::Acquire), status, "open {i}");
        assert_eq!(of.rel(), &path[f.mnt.len() + 1..]);
        assert_eq!(of.file().unwrap().size(), size);
        assert_eq!(of.writable(), flags & libc::O_RDWR != 0, "open {i}");
        let mut buf = [0u8; 8];
        assert_eq!(of.read(&mut buf).unwrap(), 8);
        assert_eq!(buf, [byte; 8]);
        of.lseek(100, libc::SEEK_CUR).unwrap();
        drop(of);
        assert!(f.vfs.forget(fd));
        // SAFETY: the placeholder the open made.
        unsafe { libc::close(fd) };
        if reused >= 1000 {
            return;
        }
    }
    panic!("only {reused} opens reused a closed open file");
}

/// A log that stops at a damaged entry: what replay read is served, and a
/// miss is EIO (the path may be in the unreadable part), not ENOENT.
#[test]
fn lookup_miss_in_a_stopped_log_is_eio() {
    let f = fixture();
    let dev = DaxDevice::open(&f._dir.path().join("r.img"), Access::ReadWrite).unwrap();
    // Entry 2 is d/b.bin; damage its CRC.
    let at = famfs_core::format::LOG_OFFSET
        + famfs_core::format::LogHeader::entry_offset(2)
        + famfs_core::format::entry_off::CRC as u64;
    let mut b = [0u8; 1];
    dev.read_at(at, &mut b).unwrap();
    dev.write_at(at, &[!b[0]]).unwrap();
    assert!(f.open(&f.p("a.bin"), libc::O_RDONLY).is_ok());
    assert!(f.open(&f.p("d"), libc::O_RDONLY).is_ok());
    for missing in ["d/b.bin", "nothing"] {
        assert_eq!(
            f.open(&f.p(missing), libc::O_RDONLY).err(),
            Some(Errno::EIO),
            "{missing}"
        );
    }
}

/// A second open of a file shares the first one's bytes (its fmap and
/// device mappings are built once per process and access mode).
#[test]
fn opens_of_one_file_share_its_bytes() {
    let f = fixture();
    let data_of = |flags| {
        let fd = f.vfs.open(&f.famfs(&f.p("a.bin")), flags).unwrap();
        f.vfs
            .fds
            .with(fd, |of| of.file().unwrap() as *const FileData)
            .unwrap()
    };
    let (ro1, ro2) = (data_of(libc::O_RDONLY), data_of(libc::O_RDONLY));
    assert_eq!(ro1, ro2, "read-only opens share");
    let rw = data_of(libc::O_RDWR);
    assert_ne!(ro1, rw, "a writable open maps the devices read-write");
    assert_eq!(rw, data_of(libc::O_RDWR));
}

#[test]
fn descriptors_inside_and_past_the_first_segment() {
    let f = fixture();
    let of = f.open(&f.p("a.bin"), libc::O_RDONLY).unwrap();
    let fds = crate::FdTable::default();
    let numbers = [5, 63, 64, 700];
    for fd in numbers {
        assert!(!fds.contains(fd), "{fd} before");
        fds.insert(fd, of.clone());
    }
    for fd in numbers {
        assert!(fds.contains(fd), "{fd}");
        assert_eq!(
            fds.with(fd, |o| o.rel().to_owned()).as_deref(),
            Some("a.bin")
        );
    }
    let listed: Vec<i32> = fds.all().into_iter().map(|(fd, _)| fd).collect();
    assert_eq!(listed, numbers);
    fds.remove_range(60, 100);
    let listed: Vec<i32> = fds.all().into_iter().map(|(fd, _)| fd).collect();
    assert_eq!(listed, [5, 700]);
    assert!(fds.discard(5));
    assert!(!fds.discard(5));
    assert!(!fds.contains(5) && !fds.contains(-1) && !fds.contains(i32::MAX));
}
