//! `famfs chkread FILE`: reads a famfs file twice, once with read and once
//! through a shared mapping, both as the shim serves them to programs, and
//! checks that the two agree. With `-s` or `-l` the file is the mount's
//! `.meta/.superblock` or `.meta/.log`, and what each copy holds is shown.

use crate::console::{outln, CliError, CliResult, Console};
use crate::{target, ChkreadArgs};
use famfs_core::format::{LogHeader, Superblock};
use famfs_vfs::{InfoKind, Mount, Target, Vfs};
use nix::errno::Errno;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

/// Runs `famfs chkread`.
pub fn run(a: &ChkreadArgs, con: &mut Console) -> CliResult {
    let t = target::resolve(&a.file)?;
    let vfs = Vfs::with_mounts(vec![Arc::new(Mount::new(t.mount.clone()))]);
    let fail = |what: &str, e: Errno| CliError::Msg(format!("{}: {what}: {}", t.shown(), e.desc()));
    let Target::Famfs(fp) = vfs
        .resolve(libc::AT_FDCWD, t.abs.as_os_str().as_bytes())
        .map_err(|e| fail("cannot resolve", e))?
    else {
        return Err(CliError::Msg(format!(
            "{}: not in a famfs mount",
            t.shown()
        )));
    };
    let fd = vfs
        .open(&fp, libc::O_RDONLY)
        .map_err(|e| fail("cannot open", e))?;
    let result = compare(&vfs, fd, a, con, &fail);
    vfs.forget(fd);
    // SAFETY: `fd` is the placeholder descriptor `open` made for us.
    unsafe { libc::close(fd) };
    result
}

/// Reads the file open at `fd` both ways and compares.
fn compare(
    vfs: &Vfs,
    fd: i32,
    a: &ChkreadArgs,
    con: &mut Console,
    fail: &dyn Fn(&str, Errno) -> CliError,
) -> CliResult {
    let of = vfs.fds.get(fd).ok_or_else(|| fail("open", Errno::EBADF))?;
    let InfoKind::File { size, .. } = of.info().kind else {
        return Err(fail("cannot read", Errno::EISDIR));
    };
    let len = usize::try_from(size).map_err(|_| fail("cannot read", Errno::EFBIG))?;

    let mut by_read = vec![0u8; len];
    let mut done = 0;
    while done < len {
        match of.pread(done as u64, &mut by_read[done..]) {
            Ok(0) => return Err(fail("read ended early", Errno::EIO)),
            Ok(n) => done += n,
            Err(e) => return Err(fail("read", e)),
        }
    }
    outln!(con, "read tried={len} got={done}");

    let mut by_mmap = vec![0u8; len];
    if len > 0 {
        // SAFETY: a new mapping at an address of the kernel's choosing.
        let addr = unsafe {
            vfs.mmap(
                &of,
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                0,
            )
        }
        .map_err(|e| fail("mmap", e))?;
        // SAFETY: `addr` maps `len` readable bytes of the file; the copy
        // turns a memory error into an error instead of a crash.
        let copied =
            unsafe { famfs_core::memerr::copy(by_mmap.as_mut_ptr(), addr.cast::<u8>(), len) };
        let unmapped = vfs.mappings.unmap(addr as usize, len);
        copied.map_err(|f| {
            CliError::Msg(format!(
                "{}: memory error reading the mapping at file offset {:#x} ({})",
                a.file.display(),
                f.copied,
                f.errno.desc()
            ))
        })?;
        unmapped.map_err(|e| fail("munmap", e))?;
    }

    if a.superblock {
        for (how, bytes) in [("mmap", &by_mmap), ("read", &by_read)] {
            outln!(con, "superblock by {how}: {}", describe_superblock(bytes));
        }
    }
    if a.log {
        for (how, bytes) in [("mmap", &by_mmap), ("read", &by_read)] {
            outln!(con, "log by {how}: {}", describe_log(bytes, size));
        }
    }
    match by_read.iter().zip(&by_mmap).position(|(r, m)| r != m) {
        None => {
            outln!(con, "Read and mmap match ({len} bytes)");
            Ok(())
        }
        Some(at) => Err(CliError::Msg(format!(
            "{}: read and mmap miscompare at offset {at:#x}",
            a.file.display()
        ))),
    }
}

fn describe_superblock(b: &[u8]) -> String {
    match Superblock::decode(b) {
        Ok(sb) => format!(
            "valid, version {}, uuid {}, log at {:#x} ({} bytes), device {} bytes",
            sb.version, sb.uuid, sb.log_offset, sb.log_len, sb.dev_size
        ),
        Err(e) => format!("not a valid superblock: {e}"),
    }
}

fn describe_log(b: &[u8], log_len: u64) -> String {
    match LogHeader::decode(b, log_len) {
        Ok(h) => format!(
            "valid, {} of {} entries used, next seqnum {}",
            h.next_index,
            h.capacity(),
            h.next_seqnum
        ),
        Err(e) => format!("not a valid log: {e}"),
    }
}
