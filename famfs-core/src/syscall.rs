//! System calls made directly with the `syscall` instruction, past any
//! interposed libc function: the `LD_PRELOAD` shim hooks libc's
//! `syscall()` and `fcntl()`, and its own code (and the SIGBUS handler)
//! must reach the kernel without coming back through them.

use libc::c_long;

/// A system call made directly, bypassing every hook: the result, or -1
/// with errno set, as syscall(2) returns. Async-signal-safe (the SIGBUS
/// handler uses it): no lock, allocation or library call.
///
/// # Safety
/// As for syscall(2): the arguments must be what system call `nr` takes
/// (pointers valid for what the kernel reads or writes through them), and
/// the call must not break what this process relies on.
pub unsafe fn raw(nr: c_long, a: [c_long; 6]) -> c_long {
    // SAFETY: forwarded contract.
    let r = unsafe { raw_syscall(nr, a) };
    if (-4095..0).contains(&r) {
        // SAFETY: __errno_location returns this thread's errno.
        unsafe { *libc::__errno_location() = -r as i32 };
        return -1;
    }
    r
}

#[cfg(target_arch = "x86_64")]
unsafe fn raw_syscall(nr: c_long, a: [c_long; 6]) -> c_long {
    let r: c_long;
    // SAFETY: the `syscall` instruction with the kernel's x86_64 calling
    // convention (rax = number, rdi, rsi, rdx, r10, r8, r9 = arguments;
    // rcx and r11 clobbered); the arguments are valid for `nr` (the
    // caller's contract).
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") nr => r,
            in("rdi") a[0],
            in("rsi") a[1],
            in("rdx") a[2],
            in("r10") a[3],
            in("r8") a[4],
            in("r9") a[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    r
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn raw_syscall(nr: c_long, a: [c_long; 6]) -> c_long {
    // SAFETY: libc's syscall() with the caller's arguments (off x86_64
    // the shim's own hook of it is not built).
    let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if r == -1 {
        -(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO) as c_long)
    } else {
        r
    }
}
