//! mmap of famfs descriptors (the file's own device memory), and the
//! calls on mapped ranges: munmap forgets them, mremap may not grow them
//! past the file's extents, msync and madvise go to the kernel.

use crate::shim::{self, Flow};
use libc::{c_int, c_void, off64_t, off_t, size_t};
use nix::errno::Errno;
use redhook::{hook, real};

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

hook! {
    unsafe fn mmap(addr: *mut c_void, len: size_t, prot: c_int, flags: c_int, fd: c_int, off: off_t) -> *mut c_void => famfs_mmap {
        mmap_famfs(addr, len, prot, flags, fd, off, || real!(mmap)(addr, len, prot, flags, fd, off))
    }
}

hook! {
    unsafe fn mmap64(addr: *mut c_void, len: size_t, prot: c_int, flags: c_int, fd: c_int, off: off64_t) -> *mut c_void => famfs_mmap64 {
        mmap_famfs(addr, len, prot, flags, fd, off, || real!(mmap64)(addr, len, prot, flags, fd, off))
    }
}

hook! {
    unsafe fn munmap(addr: *mut c_void, len: size_t) -> c_int => famfs_munmap {
        let r = real!(munmap)(addr, len);
        if r == 0 {
            shim::hook(|vfs| { vfs.mappings.remove(addr as usize, len); Flow::Done(Ok(0)) }, || 0, 0);
        }
        r
    }
}

hook! {
    unsafe fn mremap(old: *mut c_void, old_len: size_t, new_len: size_t, flags: c_int, new_addr: *mut c_void) -> *mut c_void => famfs_mremap {
        shim::hook(
            |vfs| {
                if !vfs.mappings.overlaps(old as usize, old_len) {
                    return Flow::Pass;
                }
                if new_len > old_len {
                    // Growing would map device memory past the file.
                    return Flow::Done(Err(Errno::EINVAL));
                }
                let r = real!(mremap)(old, old_len, new_len, flags, new_addr);
                if r == libc::MAP_FAILED {
                    return Flow::Done(Err(Errno::last()));
                }
                vfs.mappings.remove(old as usize, old_len);
                vfs.mappings.add(r as usize, new_len);
                Flow::Done(Ok(r))
            },
            || real!(mremap)(old, old_len, new_len, flags, new_addr),
            libc::MAP_FAILED,
        )
    }
}

hook! {
    unsafe fn msync(addr: *mut c_void, len: size_t, flags: c_int) -> c_int => famfs_msync {
        // A famfs mapping is the device itself; the kernel's msync of a
        // device mapping is all there is to do.
        real!(msync)(addr, len, flags)
    }
}

hook! {
    unsafe fn madvise(addr: *mut c_void, len: size_t, advice: c_int) -> c_int => famfs_madvise {
        shim::hook(
            |vfs| {
                // MADV_REMOVE would punch a hole in the device (a simulated
                // region's file): the file's memory must stay.
                if advice == libc::MADV_REMOVE && vfs.mappings.overlaps(addr as usize, len) {
                    Flow::Done(Err(Errno::EPERM))
                } else {
                    Flow::Pass
                }
            },
            || real!(madvise)(addr, len, advice),
            -1,
        )
    }
}
