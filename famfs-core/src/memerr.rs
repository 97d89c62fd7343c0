//! Memory errors: copies that survive a SIGBUS, and the per-device error
//! state they leave behind.
//!
//! On real devdax memory a poisoned cache line raises SIGBUS (`BUS_MCEERR_AR`)
//! on the load that consumes it; on a simulated region, a page past the end of
//! a truncated backing file raises SIGBUS (`BUS_ADRERR`). The kernel's own
//! `copy_mc_to_user` survives both by an exception-table fixup. We do the same
//! in user space: [`copy`] is one `rep movsb` whose faulting instruction the
//! SIGBUS handler recognises by its address; the handler moves the saved
//! instruction pointer to a recovery label, which returns how many bytes were
//! *not* copied and the signal's code. [`load_u64`] does the same for one
//! aligned word, a plain load whose value is in a register at once (a load
//! of bytes that a `rep movsb` just stored waits until the whole string
//! operation is done, so reading a small header that way made every read
//! wait for the copy before it), and [`flush_lines`] for the cache flush
//! loops (flushing a line of a page that is gone faults as a load would).
//! Any SIGBUS that is not ours goes to the
//! handler the application installed (the shim routes the application's
//! `sigaction(SIGBUS, ..)` to [`set_app_action`]), or kills the process as the
//! default action would.
//!
//! No lock, allocation or system call happens on the copy path: the handler
//! is installed once ([`install`]), and a copy costs one `rep movsb`.

use nix::errno::Errno;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::sync::Mutex;

/// How a failed copy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyFault {
    /// Bytes copied before the fault.
    pub copied: usize,
    /// EHWPOISON for a hardware memory error, EIO for any other bus error.
    pub errno: Errno,
}

/// The error state of one device, shared by everything that reads it.
///
/// Once a copy from or to a device faults, every later access to a file with
/// extents on that device fails with the same errno, as the kernel marks a
/// dax device after a memory error.
#[derive(Debug, Default)]
pub struct DeviceHealth {
    errno: AtomicI32,
}

impl DeviceHealth {
    /// `Ok` while the device has not failed; its errno once it has.
    #[inline]
    pub fn check(&self) -> Result<(), Errno> {
        match self.errno.load(Ordering::Relaxed) {
            0 => Ok(()),
            e => Err(Errno::from_raw(e)),
        }
    }

    /// Records a failure (the first one wins).
    pub fn mark(&self, errno: Errno) {
        let _ = self
            .errno
            .compare_exchange(0, errno as i32, Ordering::Relaxed, Ordering::Relaxed);
        tracing::debug!(%errno, "dax device marked in error");
    }
}

#[cfg(target_arch = "x86_64")]
mod arch {
    use super::{CopyFault, Errno, FlushInsn};

    /// What `famfs_copy_mc` returns in RAX:RDX.
    #[repr(C)]
    struct Ret {
        left: usize,
        code: usize,
    }

    // `famfs_copy_mc(dst, src, len)`: RDI = dst, RSI = src, RDX = len. On
    // success returns {0, 0}. If the copy faults, the SIGBUS handler resumes at
    // `famfs_copy_mc_fixup` with RCX = bytes left (rep movsb counts RCX down
    // as it goes, so it still includes the byte that faulted) and RDX = the
    // signal's si_code, placed there by the handler.
    std::arch::global_asm!(
        ".pushsection .text.famfs_copy_mc,\"ax\",@progbits",
        ".globl famfs_copy_mc_begin",
        ".hidden famfs_copy_mc_begin",
        ".globl famfs_copy_mc_insn",
        ".hidden famfs_copy_mc_insn",
        ".globl famfs_copy_mc_fixup",
        ".hidden famfs_copy_mc_fixup",
        ".globl famfs_copy_mc",
        ".hidden famfs_copy_mc",
        ".p2align 4",
        "famfs_copy_mc:",
        "famfs_copy_mc_begin:",
        "    mov rcx, rdx",
        "famfs_copy_mc_insn:",
        "    rep movsb",
        "    xor eax, eax",
        "    xor edx, edx",
        "    ret",
        "famfs_copy_mc_fixup:",
        "    mov rax, rcx",
        "    ret",
        ".popsection",
    );

    /// What `famfs_load_mc` returns in RAX:RDX.
    #[repr(C)]
    struct Loaded {
        value: u64,
        code: usize,
    }

    // `famfs_load_mc(src)`: RDI = src, 8-byte aligned. Returns {value, 0};
    // if the load faults, the SIGBUS handler resumes at
    // `famfs_load_mc_fixup` with RDX = the signal's si_code (never 0).
    std::arch::global_asm!(
        ".pushsection .text.famfs_load_mc,\"ax\",@progbits",
        ".globl famfs_load_mc",
        ".hidden famfs_load_mc",
        ".globl famfs_load_mc_insn",
        ".hidden famfs_load_mc_insn",
        ".globl famfs_load_mc_fixup",
        ".hidden famfs_load_mc_fixup",
        ".p2align 4",
        "famfs_load_mc:",
        "famfs_load_mc_insn:",
        "    mov rax, qword ptr [rdi]",
        "    xor edx, edx",
        "    ret",
        "famfs_load_mc_fixup:",
        "    xor eax, eax",
        "    ret",
        ".popsection",
    );

    // `famfs_flush_mc_<insn>(start, end)`: RDI = the first line, RSI = the
    // end; runs the instruction on every 64-byte line from RDI up to RSI.
    // Returns {0, end reached}; if a line faults, the SIGBUS handler
    // resumes at `famfs_flush_mc_fixup` with RDX = the signal's si_code and
    // RDI still at the line that faulted: returns {si_code, that line}.
    // Every instruction that can fault lies in [begin, end).
    std::arch::global_asm!(
        ".pushsection .text.famfs_flush_mc,\"ax\",@progbits",
        ".globl famfs_flush_mc_begin",
        ".hidden famfs_flush_mc_begin",
        ".globl famfs_flush_mc_end",
        ".hidden famfs_flush_mc_end",
        ".globl famfs_flush_mc_fixup",
        ".hidden famfs_flush_mc_fixup",
        ".globl famfs_flush_mc_clwb",
        ".hidden famfs_flush_mc_clwb",
        ".globl famfs_flush_mc_clflushopt",
        ".hidden famfs_flush_mc_clflushopt",
        ".globl famfs_flush_mc_clflush",
        ".hidden famfs_flush_mc_clflush",
        ".p2align 4",
        "famfs_flush_mc_begin:",
        "famfs_flush_mc_clwb:",
        "    cmp rdi, rsi",
        "    jae 4f",
        ".p2align 4",
        "1:  clwb [rdi]",
        "    add rdi, 64",
        "    cmp rdi, rsi",
        "    jb 1b",
        "    jmp 4f",
        "famfs_flush_mc_clflushopt:",
        "    cmp rdi, rsi",
        "    jae 4f",
        ".p2align 4",
        "2:  clflushopt [rdi]",
        "    add rdi, 64",
        "    cmp rdi, rsi",
        "    jb 2b",
        "    jmp 4f",
        "famfs_flush_mc_clflush:",
        "    cmp rdi, rsi",
        "    jae 4f",
        ".p2align 4",
        "3:  clflush [rdi]",
        "    add rdi, 64",
        "    cmp rdi, rsi",
        "    jb 3b",
        "4:  xor eax, eax",
        "    mov rdx, rdi",
        "    ret",
        "famfs_flush_mc_end:",
        "famfs_flush_mc_fixup:",
        "    mov rax, rdx",
        "    mov rdx, rdi",
        "    ret",
        ".popsection",
    );

    /// What a `famfs_flush_mc_*` loop returns in RAX:RDX.
    #[repr(C)]
    struct Flushed {
        code: usize,
        line: usize,
    }

    extern "C" {
        fn famfs_copy_mc(dst: *mut u8, src: *const u8, len: usize) -> Ret;
        static famfs_copy_mc_insn: u8;
        static famfs_copy_mc_fixup: u8;
        fn famfs_load_mc(src: *const u64) -> Loaded;
        static famfs_load_mc_insn: u8;
        static famfs_load_mc_fixup: u8;
        fn famfs_flush_mc_clwb(start: usize, end: usize) -> Flushed;
        fn famfs_flush_mc_clflushopt(start: usize, end: usize) -> Flushed;
        fn famfs_flush_mc_clflush(start: usize, end: usize) -> Flushed;
        static famfs_flush_mc_begin: u8;
        static famfs_flush_mc_end: u8;
        static famfs_flush_mc_fixup: u8;
    }

    /// Flushes lines; see [`super::flush_lines`].
    ///
    /// # Safety
    /// As [`super::flush_lines`].
    pub unsafe fn flush_lines(start: usize, end: usize, insn: FlushInsn) -> Result<(), CopyFault> {
        // SAFETY: the caller guarantees the lines are mapped (a SIGBUS on
        // one is recovered by the handler) and the CPU has `insn`.
        let r = unsafe {
            match insn {
                FlushInsn::Clwb => famfs_flush_mc_clwb(start, end),
                FlushInsn::Clflushopt => famfs_flush_mc_clflushopt(start, end),
                FlushInsn::Clflush => famfs_flush_mc_clflush(start, end),
            }
        };
        if r.code == 0 {
            return Ok(());
        }
        Err(CopyFault {
            copied: r.line - start,
            errno: errno_of(r.code),
        })
    }

    fn errno_of(code: usize) -> Errno {
        if code as i32 == libc::BUS_MCEERR_AR || code as i32 == libc::BUS_MCEERR_AO {
            Errno::EHWPOISON
        } else {
            Errno::EIO
        }
    }

    /// Loads one word; see [`super::load_u64`].
    ///
    /// # Safety
    /// As [`super::load_u64`].
    #[inline]
    pub unsafe fn load_u64(src: *const u64) -> Result<u64, CopyFault> {
        // SAFETY: the caller guarantees `src` is valid and aligned (a
        // SIGBUS on it is recovered by the handler).
        let r = unsafe { famfs_load_mc(src) };
        if r.code == 0 {
            return Ok(r.value);
        }
        Err(CopyFault {
            copied: 0,
            errno: errno_of(r.code),
        })
    }

    /// Copies `len` bytes; see [`super::copy`].
    ///
    /// # Safety
    /// As [`super::copy`].
    #[inline]
    pub unsafe fn copy(dst: *mut u8, src: *const u8, len: usize) -> Result<(), CopyFault> {
        // SAFETY: the caller guarantees both ranges are valid (a SIGBUS on
        // the source or destination is recovered by the handler).
        let r = unsafe { famfs_copy_mc(dst, src, len) };
        if r.left == 0 && r.code == 0 {
            return Ok(());
        }
        Err(CopyFault {
            copied: len - r.left,
            errno: errno_of(r.code),
        })
    }

    /// If the fault happened in our copy, redirects `ctx` to the fixup and
    /// returns true.
    ///
    /// # Safety
    /// `ctx` must be the `ucontext_t` the kernel passed to a SIGBUS handler.
    pub unsafe fn recover(info: *const libc::siginfo_t, ctx: *mut libc::c_void) -> bool {
        // SAFETY: per the contract, ctx is a valid ucontext_t for this signal.
        let uc = unsafe { &mut *ctx.cast::<libc::ucontext_t>() };
        let rip = uc.uc_mcontext.gregs[libc::REG_RIP as usize] as usize;
        let fixup = if rip == std::ptr::addr_of!(famfs_copy_mc_insn) as usize {
            std::ptr::addr_of!(famfs_copy_mc_fixup)
        } else if rip == std::ptr::addr_of!(famfs_load_mc_insn) as usize {
            std::ptr::addr_of!(famfs_load_mc_fixup)
        } else if (std::ptr::addr_of!(famfs_flush_mc_begin) as usize
            ..std::ptr::addr_of!(famfs_flush_mc_end) as usize)
            .contains(&rip)
        {
            std::ptr::addr_of!(famfs_flush_mc_fixup)
        } else {
            return false;
        };
        // SAFETY: `info` is the kernel's siginfo for this signal.
        let code = unsafe { (*info).si_code } as i64;
        uc.uc_mcontext.gregs[libc::REG_RDX as usize] = code;
        uc.uc_mcontext.gregs[libc::REG_RIP as usize] = fixup as i64;
        true
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod arch {
    use super::{CopyFault, FlushInsn};

    /// Without a fixup for this architecture a fault is fatal, as it would
    /// be for any load from the mapping.
    pub unsafe fn copy(dst: *mut u8, src: *const u8, len: usize) -> Result<(), CopyFault> {
        // SAFETY: the caller guarantees both ranges are valid.
        unsafe { std::ptr::copy_nonoverlapping(src, dst, len) };
        Ok(())
    }

    pub unsafe fn load_u64(src: *const u64) -> Result<u64, CopyFault> {
        // SAFETY: the caller guarantees `src` is valid and aligned.
        Ok(unsafe { std::ptr::read_volatile(src) })
    }

    pub unsafe fn flush_lines(_: usize, _: usize, _: FlushInsn) -> Result<(), CopyFault> {
        Ok(())
    }

    pub unsafe fn recover(_: *const libc::siginfo_t, _: *mut libc::c_void) -> bool {
        false
    }
}

/// Copies `len` bytes from `src` to `dst`, surviving a bus error on either
/// side once [`install`] has run.
///
/// # Safety
/// `src` must be valid for reads and `dst` for writes of `len` bytes (a
/// mapping whose pages may raise SIGBUS counts as valid), and they must not
/// overlap.
#[inline]
pub unsafe fn copy(dst: *mut u8, src: *const u8, len: usize) -> Result<(), CopyFault> {
    // SAFETY: forwarded contract.
    unsafe { arch::copy(dst, src, len) }
}

/// Loads the aligned word at `src`, surviving a bus error as [`copy`]
/// does (a fault reports 0 bytes copied).
///
/// # Safety
/// `src` must be 8-byte aligned and valid for reads of 8 bytes (a mapping
/// whose pages may raise SIGBUS counts as valid).
#[inline]
pub unsafe fn load_u64(src: *const u64) -> Result<u64, CopyFault> {
    // SAFETY: forwarded contract.
    unsafe { arch::load_u64(src) }
}

/// A cache line instruction [`flush_lines`] runs (chosen by
/// [`crate::flush`] from what the CPU has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushInsn {
    /// Write the line back and keep it cached (cheapest).
    Clwb,
    /// Write back and evict, weakly ordered.
    Clflushopt,
    /// Write back and evict, strongly ordered (oldest, slowest).
    Clflush,
}

/// Runs `insn` on every 64-byte line from `start` (line aligned) up to
/// `end`, surviving a bus error as [`copy`] does (`copied` is then the
/// bytes of lines done). No fence: the caller orders the flushes.
///
/// # Safety
/// The lines must belong to mappings of this process (a page whose access
/// raises SIGBUS counts), and the CPU must support `insn`.
pub unsafe fn flush_lines(start: usize, end: usize, insn: FlushInsn) -> Result<(), CopyFault> {
    // SAFETY: forwarded contract.
    unsafe { arch::flush_lines(start, end, insn) }
}

/// 0 = not installed, 1 = installing, 2 = installed.
static INSTALLED: AtomicU8 = AtomicU8::new(0);

/// The application's SIGBUS disposition, which we chain to.
static APP_ACTION: Mutex<Option<libc::sigaction>> = Mutex::new(None);
/// A lock-free copy of the application's handler for the signal handler
/// (which cannot take the mutex): `sa_sigaction`, flags.
static APP_HANDLER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static APP_FLAGS: AtomicI32 = AtomicI32::new(0);

/// Resets SIGBUS to its default action with the raw `rt_sigaction` system
/// call, bypassing libc's (and so the shim's) `sigaction`.
fn reset_sigbus_default() {
    // The kernel's sigaction is {handler, flags, restorer, mask}: all zero
    // is SIG_DFL with no flags and an empty mask.
    let dfl = [0u64; 4];
    let a = [
        libc::c_long::from(libc::SIGBUS),
        dfl.as_ptr() as libc::c_long,
        0,
        8,
        0,
        0,
    ];
    // SAFETY: `dfl` is a valid kernel sigaction and the old action is not
    // asked for; a raw rt_sigaction is async-signal-safe.
    unsafe { crate::syscall::raw(libc::SYS_rt_sigaction, a) };
}

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo and ucontext to an
    // SA_SIGINFO handler.
    if unsafe { arch::recover(info, ctx) } {
        return;
    }
    let handler = APP_HANDLER.load(Ordering::Acquire);
    let flags = APP_FLAGS.load(Ordering::Acquire);
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // Fall back to the default action: restore it and return, so the
        // faulting instruction runs again and the kernel kills the process
        // (a synchronous SIGBUS cannot be ignored).
        reset_sigbus_default();
        return;
    }
    if flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the application registered this as an SA_SIGINFO handler.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(handler) };
        f(sig, info, ctx);
    } else {
        // SAFETY: the application registered this as a plain handler.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
        f(sig);
    }
}

fn publish(act: &libc::sigaction) {
    APP_FLAGS.store(act.sa_flags, Ordering::Release);
    APP_HANDLER.store(act.sa_sigaction, Ordering::Release);
}

/// Installs the SIGBUS handler (once per process), remembering the
/// disposition the application had. Returns an error only if the kernel
/// refuses the handler.
pub fn install() -> Result<(), Errno> {
    if INSTALLED.load(Ordering::Acquire) == 2 {
        return Ok(());
    }
    let mut app = APP_ACTION.lock().unwrap_or_else(|e| e.into_inner());
    if INSTALLED.load(Ordering::Acquire) == 2 {
        return Ok(());
    }
    INSTALLED.store(1, Ordering::Release);
    // SAFETY: zeroed sigaction is a valid value to fill in.
    let mut ours: libc::sigaction = unsafe { std::mem::zeroed() };
    ours.sa_sigaction = on_sigbus as *const () as usize;
    ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
    // SAFETY: zeroed sigaction is valid output space.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid sigaction structs.
    // (Inside the shim this reaches libc's sigaction: calls made from a hook
    // pass straight through.)
    if unsafe { libc::sigaction(libc::SIGBUS, &ours, &mut old) } != 0 {
        INSTALLED.store(0, Ordering::Release);
        return Err(Errno::last());
    }
    publish(&old);
    *app = Some(old);
    INSTALLED.store(2, Ordering::Release);
    Ok(())
}

/// Whether our handler owns SIGBUS, so the application's `sigaction(SIGBUS)`
/// must go to [`set_app_action`] instead of the kernel.
pub fn installed() -> bool {
    INSTALLED.load(Ordering::Acquire) != 0
}

/// The application's `sigaction(SIGBUS, act, old)` while our handler is
/// installed: records `act` as the handler to chain to and returns the
/// previous one in `old`, as the kernel would.
pub fn set_app_action(act: Option<&libc::sigaction>, old: Option<&mut libc::sigaction>) {
    let mut app = APP_ACTION.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(o) = old {
        // SAFETY: zeroed sigaction is SIG_DFL, the disposition if none was set.
        *o = app.unwrap_or_else(|| unsafe { std::mem::zeroed() });
    }
    if let Some(a) = act {
        *app = Some(*a);
        publish(a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A read-only mapping of `bytes` (whole pages) whose file is then cut
    /// to its first page: the later pages raise SIGBUS when touched.
    fn cut_after_first_page(bytes: &[u8]) -> (std::fs::File, memmap2::MmapRaw) {
        install().unwrap();
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        let map = memmap2::MmapOptions::new()
            .len(bytes.len())
            .map_raw_read_only(&f)
            .unwrap();
        f.set_len(4096).unwrap();
        (f, map)
    }

    #[test]
    fn copy_copies() {
        install().unwrap();
        let src: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut dst = vec![0u8; src.len()];
        // SAFETY: both buffers are valid for src.len() bytes.
        unsafe { copy(dst.as_mut_ptr(), src.as_ptr(), src.len()) }.unwrap();
        assert_eq!(dst, src);
    }

    #[test]
    fn sigbus_on_truncated_file_becomes_eio() {
        let (_f, map) = cut_after_first_page(&[7u8; 3 * 4096]);
        let mut dst = vec![0u8; 3 * 4096];
        // SAFETY: dst is valid; the source is a live mapping whose tail pages
        // now raise SIGBUS, which the handler recovers.
        let err = unsafe { copy(dst.as_mut_ptr(), map.as_ptr(), 3 * 4096) }.unwrap_err();
        assert_eq!(err.errno, Errno::EIO);
        assert_eq!(err.copied, 4096);
        assert!(dst[..4096].iter().all(|&b| b == 7));
        let h = DeviceHealth::default();
        assert!(h.check().is_ok());
        h.mark(err.errno);
        h.mark(Errno::EHWPOISON);
        assert_eq!(h.check(), Err(Errno::EIO));
    }

    #[test]
    fn word_load_survives_sigbus() {
        let mut bytes = vec![0u8; 2 * 4096];
        bytes[8..16].copy_from_slice(&0x0123_4567_89ab_cdefu64.to_ne_bytes());
        let (_f, map) = cut_after_first_page(&bytes);
        let word = |off: usize| {
            // SAFETY: inside the live, page-aligned mapping; a page past the
            // file's end raises SIGBUS, which the handler recovers.
            unsafe { load_u64(map.as_ptr().add(off).cast::<u64>()) }
        };
        assert_eq!(word(8), Ok(0x0123_4567_89ab_cdef));
        let err = word(4096 + 8).unwrap_err();
        assert_eq!(err.errno, Errno::EIO);
        assert_eq!(err.copied, 0);
        // The handler left nothing behind: the next load works.
        assert_eq!(word(8), Ok(0x0123_4567_89ab_cdef));
    }

    #[test]
    fn flush_survives_sigbus() {
        let (_f, map) = cut_after_first_page(&[5u8; 3 * 4096]);
        let start = map.as_ptr() as usize;
        // CLFLUSH: every x86_64 CPU has it (flush.rs tests the others).
        let insn = FlushInsn::Clflush;
        // SAFETY: the lines belong to the live mapping; those past the
        // file's end raise SIGBUS, which the handler recovers.
        let err = unsafe { flush_lines(start, start + 3 * 4096, insn) }.unwrap_err();
        assert_eq!(err.errno, Errno::EIO);
        assert_eq!(err.copied, 4096);
        // SAFETY: as above, within the page that is still there.
        unsafe { flush_lines(start, start + 4096, insn) }.unwrap();
    }
}
