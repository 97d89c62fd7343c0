//! mmap of famfs descriptors, and the calls on mapped ranges (munmap,
//! mremap, mprotect, msync, madvise): each converts its C arguments and
//! lets `famfs_vfs` decide (see its `mapping` module for the devdax
//! rules these calls must keep).

use crate::interpose::interpose;
use crate::shim::{self, Flow};
use libc::{c_int, c_void, off_t, size_t};

fn mmap_famfs(
    addr: *mut c_void,
    len: size_t,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: i64,
    real: impl FnOnce() -> *mut c_void,
) -> *mut c_void {
    if flags & libc::MAP_ANONYMOUS != 0 {
        return real();
    }
    shim::hook(
        |vfs| match vfs.fds.get(fd) {
            None => Flow::Pass,
            // SAFETY: the application's own mmap arguments.
            Some(of) => Flow::Done(unsafe { vfs.mmap(&of, addr, len, prot, flags, off) }),
        },
        real,
        libc::MAP_FAILED,
    )
}

interpose! {
    fn mmap | mmap64(addr: *mut c_void, len: size_t, prot: c_int, flags: c_int, fd: c_int, off: off_t) -> *mut c_void, real, fail(libc::MAP_FAILED) {
        mmap_famfs(addr, len, prot, flags, fd, off, || real(addr, len, prot, flags, fd, off))
    }
}

interpose! {
    fn munmap(addr: *mut c_void, len: size_t) -> c_int, real {
        shim::hook(
            |vfs| {
                if !vfs.mappings.overlaps(addr as usize, len) {
                    return Flow::Pass;
                }
                Flow::Done(vfs.mappings.unmap(addr as usize, len).map(|()| 0))
            },
            || real(addr, len),
            -1,
        )
    }
}

interpose! {
    fn mremap(old: *mut c_void, old_len: size_t, new_len: size_t, flags: c_int, new_addr: *mut c_void) -> *mut c_void, real, fail(libc::MAP_FAILED) {
        shim::hook(
            |vfs| {
                if !vfs.mappings.overlaps(old as usize, old_len) {
                    return Flow::Pass;
                }
                // SAFETY: the application's own mremap arguments.
                Flow::Done(unsafe { vfs.mremap(old as usize, old_len, new_len, flags, new_addr as usize) })
            },
            || real(old, old_len, new_len, flags, new_addr),
            libc::MAP_FAILED,
        )
    }
}

interpose! {
    fn mprotect(addr: *mut c_void, len: size_t, prot: c_int) -> c_int, real {
        shim::hook(
            |vfs| {
                if !vfs.mappings.overlaps(addr as usize, len) {
                    return Flow::Pass;
                }
                Flow::Done(vfs.mappings.protect(addr as usize, len, prot).map(|()| 0))
            },
            || real(addr, len, prot),
            -1,
        )
    }
}

interpose! {
    fn msync(addr: *mut c_void, len: size_t, flags: c_int) -> c_int, real {
        shim::hook(
            |vfs| {
                if !vfs.mappings.overlaps(addr as usize, len) {
                    return Flow::Pass;
                }
                Flow::Done(vfs.mappings.sync(addr as usize, len, flags).map(|()| 0))
            },
            || real(addr, len, flags),
            -1,
        )
    }
}

interpose! {
    fn madvise(addr: *mut c_void, len: size_t, advice: c_int) -> c_int, real {
        shim::hook(
            |vfs| {
                if !vfs.mappings.overlaps(addr as usize, len) {
                    return Flow::Pass;
                }
                Flow::Done(vfs.mappings.advise(addr as usize, len, advice).map(|()| 0))
            },
            || real(addr, len, advice),
            -1,
        )
    }
}
