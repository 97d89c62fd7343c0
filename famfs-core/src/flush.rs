//! CPU cache write-back and invalidation for shared device memory.
//!
//! famfs memory may be CXL memory shared by several hosts, and CPU caches are
//! not coherent across hosts: a store stays in our cache until the line is
//! written back, and a line we already cached keeps showing old contents after
//! another host writes the memory. So after writing metadata we write the
//! lines back ([`write_back`]), and before re-reading metadata another host may
//! have written we drop our copies ([`invalidate`]). The instructions are
//! chosen once at run time from CPUID (CLWB, else CLFLUSHOPT, else CLFLUSH).
//! On a simulated region (a regular file) all of this is harmless and merely
//! costs a little time; on non-x86_64 targets both functions do nothing.

use crate::memerr::{self, CopyFault, FlushInsn};
use std::sync::OnceLock;

/// Cache line size assumed for flushing: 64 bytes on every x86_64 CPU.
/// A larger real line size would only make some flushes redundant.
#[cfg(target_arch = "x86_64")]
const LINE: usize = 64;

/// Cache flush instructions this CPU supports.
#[derive(Debug, Clone, Copy)]
struct Features {
    clwb: bool,
    clflushopt: bool,
    clflush: bool,
}

fn features() -> Features {
    static FEATURES: OnceLock<Features> = OnceLock::new();
    *FEATURES.get_or_init(detect)
}

/// Two CPUID leaves (0 for the highest leaf, 7 for CLWB and CLFLUSHOPT);
/// CLFLUSH needs no query, every x86_64 CPU has it (SSE2 implies it).
/// CPUID traps to the hypervisor in a VM (6 us each on the test VMs),
/// so every query counts at the first replay of a process.
#[cfg(target_arch = "x86_64")]
fn detect() -> Features {
    use core::arch::x86_64::{__cpuid, __cpuid_count};

    // `__cpuid*` are safe on newer compilers, hence the allow.
    // SAFETY: CPUID exists on every x86_64 CPU and has no side effects.
    #[allow(unused_unsafe)]
    let max_leaf = unsafe { __cpuid(0).eax };
    let leaf7_ebx = if max_leaf >= 7 {
        // SAFETY: as above; leaf 7 is only queried when the CPU reports it.
        #[allow(unused_unsafe)]
        unsafe {
            __cpuid_count(7, 0).ebx
        }
    } else {
        0
    };
    Features {
        clwb: leaf7_ebx & (1 << 24) != 0,
        clflushopt: leaf7_ebx & (1 << 23) != 0,
        clflush: true,
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Features {
    Features {
        clwb: false,
        clflushopt: false,
        clflush: false,
    }
}

/// The instruction [`write_back`] uses on this CPU (detected once,
/// cached); None where there is none (not x86_64): nothing is done.
pub fn flush_method() -> Option<FlushInsn> {
    let f = features();
    if f.clwb {
        Some(FlushInsn::Clwb)
    } else {
        invalidate_method()
    }
}

/// The instruction [`invalidate`] uses: CLWB keeps the line cached, so it
/// cannot be used to drop stale data.
fn invalidate_method() -> Option<FlushInsn> {
    let f = features();
    if f.clflushopt {
        Some(FlushInsn::Clflushopt)
    } else if f.clflush {
        Some(FlushInsn::Clflush)
    } else {
        None
    }
}

/// Writes back every cache line overlapping `[ptr, ptr + len)` to memory, then
/// issues one `sfence` so the write-backs are complete before later stores
/// (such as a log header update) become visible. A line whose page is
/// gone (SIGBUS) ends the flush with its error.
///
/// # Safety
///
/// `[ptr, ptr + len)` must be mapped memory of this process (it need not be
/// aligned, and its contents are not changed). `len == 0` does nothing.
pub unsafe fn write_back(ptr: *const u8, len: usize) -> Result<(), CopyFault> {
    // SAFETY: the caller guarantees the range is mapped.
    unsafe { flush_lines(ptr, len, flush_method(), false) }
}

/// Writes back and evicts every cache line overlapping `[ptr, ptr + len)`,
/// then fences, so the next loads from the range fetch what is in memory now
/// (possibly written by another host). Any dirty data of ours in the range is
/// written back first, not lost.
///
/// # Safety
///
/// Same as [`write_back`].
pub unsafe fn invalidate(ptr: *const u8, len: usize) -> Result<(), CopyFault> {
    // SAFETY: the caller guarantees the range is mapped.
    unsafe { flush_lines(ptr, len, invalidate_method(), true) }
}

/// Runs `insn` on every line overlapping `[ptr, ptr + len)`, then the
/// fence. A line whose page is gone (a region file cut short under us)
/// raises SIGBUS, which the loop survives ([`memerr::flush_lines`]): the
/// flush stops there and the fault is returned.
#[cfg(target_arch = "x86_64")]
unsafe fn flush_lines(
    ptr: *const u8,
    len: usize,
    insn: Option<FlushInsn>,
    full_fence: bool,
) -> Result<(), CopyFault> {
    use core::arch::asm;

    let Some(insn) = insn else {
        return Ok(());
    };
    if len == 0 {
        return Ok(());
    }
    let start = ptr as usize & !(LINE - 1);
    // The caller's range is mapped, so its end cannot wrap.
    let end = ptr as usize + len;
    // SAFETY: every line from `start` overlaps the caller's mapped range,
    // so it is mapped too (mappings are page granular); the instructions
    // only move lines between cache and memory, they change no contents.
    // The asm is opaque to the compiler, so our earlier stores stay before
    // it.
    let r = unsafe { memerr::flush_lines(start, end, insn) };
    // SAFETY: fences only order memory operations. sfence suffices to order
    // the flushes before later stores; an invalidation must also complete
    // before later loads, which only mfence guarantees.
    unsafe {
        if full_fence {
            asm!("mfence", options(nostack, preserves_flags));
        } else {
            asm!("sfence", options(nostack, preserves_flags));
        }
    }
    r.map_err(|f| CopyFault {
        copied: (f.copied + start).saturating_sub(ptr as usize),
        errno: f.errno,
    })
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn flush_lines(
    _: *const u8,
    _: usize,
    _: Option<FlushInsn>,
    _: bool,
) -> Result<(), CopyFault> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_is_detected_consistently() {
        let first = flush_method();
        for _ in 0..10 {
            assert_eq!(flush_method(), first);
        }
        #[cfg(target_arch = "x86_64")]
        {
            // Every x86_64 CPU has at least CLFLUSH (SSE2 baseline).
            assert_ne!(first, None);
            assert_ne!(invalidate_method(), None);
            assert_ne!(invalidate_method(), Some(FlushInsn::Clwb));
        }
        #[cfg(not(target_arch = "x86_64"))]
        assert_eq!(first, None);
    }

    #[test]
    fn flushing_preserves_contents() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut buf = data.clone();
        for start in [0usize, 1, 7, 63, 64, 65, 129] {
            for len in [0usize, 1, 2, 63, 64, 65, 127, 200, 511] {
                if start + len > buf.len() {
                    continue;
                }
                // SAFETY: the range lies inside `buf`.
                unsafe {
                    write_back(buf.as_ptr().add(start), len).unwrap();
                    invalidate(buf.as_ptr().add(start), len).unwrap();
                }
                assert_eq!(buf, data);
            }
        }
        // Dirty data survives an invalidation (it is written back, not dropped).
        buf[100] = 0xAB;
        // SAFETY: the range lies inside `buf`.
        unsafe { invalidate(buf.as_ptr().add(99), 3) }.unwrap();
        assert_eq!(buf[100], 0xAB);
    }

    #[test]
    fn every_supported_method_works() {
        let f = features();
        let supported = [
            (Some(FlushInsn::Clwb), f.clwb),
            (Some(FlushInsn::Clflushopt), f.clflushopt),
            (Some(FlushInsn::Clflush), f.clflush),
            (None, true),
        ];
        let buf: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        for (method, ok) in supported {
            if ok {
                for full_fence in [false, true] {
                    // SAFETY: the range lies inside `buf` and the CPU supports `method`.
                    unsafe { flush_lines(buf.as_ptr().add(5), 250, method, full_fence) }.unwrap();
                }
            }
        }
        assert!(buf.iter().enumerate().all(|(i, &b)| b == i as u8));
    }

    #[test]
    fn zero_length_is_a_no_op() {
        let buf = [1u8; 4];
        // SAFETY: a zero-length range touches no memory.
        unsafe {
            write_back(buf.as_ptr(), 0).unwrap();
            invalidate(buf.as_ptr(), 0).unwrap();
            write_back(std::ptr::null(), 0).unwrap();
            invalidate(std::ptr::null(), 0).unwrap();
        }
        assert_eq!(buf, [1u8; 4]);
    }
}
