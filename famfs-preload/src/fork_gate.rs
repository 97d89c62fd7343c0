//! Which threads are inside the shim, so that none is when the process
//! forks.
//!
//! The child of `fork` has only the thread that forked. A lock another
//! thread held at that moment stays held in the child for ever: a mount's
//! file system lock held while its log is replayed (milliseconds), the
//! mount table's re-reading lock, a device set's lock. The child's first
//! call that wants it would wait for a thread it does not have.
//!
//! So a thread entering the shim raises a flag of its own ([`enter`]), and
//! a fork closes a gate first: new entrants wait outside, and the fork
//! waits until every flag is down. The flag is also the shim's
//! re-entrancy guard: a thread whose flag is up is already inside. The
//! famfs read path takes no lock and does not enter the shim, so it never
//! meets the gate; neither do stdio's calls into famfs streams, which
//! glibc may make holding its list of streams, a lock `fork` itself takes.
//!
//! The gate is closed by a `pthread_atfork` handler registered when the
//! library loads. Fork handlers prepare in the reverse order of their
//! registration, so ours runs after those of the program and of libraries
//! loaded later: they take the program's own locks while the gate is
//! still open, and a thread holding one of those locks is never kept
//! waiting at the gate by a fork that waits for that lock.
//!
//! Entering costs next to nothing: each thread has a flag on a cache line
//! of its own (one of [`SLOTS`], claimed at its first entry and given back
//! when it exits), raised with a plain store. The fork, after closing the
//! gate, has the kernel run a memory barrier on every thread of the
//! process (`membarrier`), so either an entrant sees the gate closed or
//! the fork sees its flag. Where `membarrier` is refused, entrants fence
//! themselves instead. Threads beyond [`SLOTS`] share one counter.

use std::cell::Cell;
use std::sync::atomic::{compiler_fence, fence, AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Threads with a flag of their own.
pub const SLOTS: usize = 256;

/// A thread's flag, alone on its cache line (flags of threads on other
/// CPUs must not share one).
#[repr(align(64))]
struct Flag(AtomicBool);

static FLAGS: [Flag; SLOTS] = [const { Flag(AtomicBool::new(false)) }; SLOTS];

/// Which flags a living thread owns.
static CLAIMED: [AtomicBool; SLOTS] = [const { AtomicBool::new(false) }; SLOTS];

/// Threads without a flag of their own that are inside the shim.
static SHARED_BUSY: AtomicU32 = AtomicU32::new(0);

/// Set while a fork waits for busy threads and while it runs.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Set while one fork holds the gate closed (forks close it one at a
/// time). An atomic flag rather than a lock: it is taken in one fork
/// handler and released in another, and the child releases it too.
static FORKING: AtomicBool = AtomicBool::new(false);

/// Set unless the kernel runs our barriers for us (see the module doc).
static FENCED: AtomicBool = AtomicBool::new(true);

/// How long a fork waits for busy threads, and an entrant for a fork,
/// before going ahead anyway: a thread stuck inside the shim (a log lock
/// another host holds) must not stop the process from forking, and a
/// thread held at the gate must not stop it either when a fork handler
/// that runs after ours (a library's registered before this one loaded)
/// waits for a lock that thread holds.
const PATIENCE: Duration = Duration::from_secs(2);

/// `Me::slot` before the thread's first entry.
const UNCLAIMED: u16 = u16::MAX;
/// `Me::slot` of a thread that found no free flag.
const SHARED: u16 = u16::MAX - 1;

/// This thread's part.
struct Me {
    /// Its flag, or UNCLAIMED or SHARED.
    slot: Cell<u16>,
    /// Inside the shim, for a thread with no flag of its own.
    shared_inside: Cell<bool>,
    /// Set on the thread whose fork closed the gate, so that the fork
    /// handlers it runs may still enter.
    closer: Cell<bool>,
}

thread_local! {
    static ME: Me = const {
        Me {
            slot: Cell::new(UNCLAIMED),
            shared_inside: Cell::new(false),
            closer: Cell::new(false),
        }
    };
    /// Gives the thread's flag back when it exits.
    static GIVE_BACK: GiveBack = const { GiveBack(Cell::new(UNCLAIMED)) };
}

struct GiveBack(Cell<u16>);

impl Drop for GiveBack {
    fn drop(&mut self) {
        // Destructors that run after this one and call into the shim use
        // the shared counter: the flag may be another thread's by then.
        ME.with(|me| me.slot.set(SHARED));
        if let Some(c) = CLAIMED.get(usize::from(self.0.get())) {
            c.store(false, Ordering::Release);
        }
    }
}

/// This thread's flag, claimed at its first entry.
fn slot(me: &Me) -> u16 {
    let s = me.slot.get();
    if s != UNCLAIMED {
        return s;
    }
    let s = claim();
    me.slot.set(s);
    s
}

fn claim() -> u16 {
    for (i, c) in CLAIMED.iter().enumerate() {
        if c.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            // A thread already exiting cannot give it back: leave it
            // claimed and share the counter.
            return match GIVE_BACK.try_with(|g| g.0.set(i as u16)) {
                Ok(()) => i as u16,
                Err(_) => SHARED,
            };
        }
    }
    SHARED
}

/// Inside the shim; leaving lowers the thread's flag.
pub struct Entered {
    slot: u16,
}

/// Enters the shim on this thread, first waiting outside while a fork
/// runs; None if this thread is already inside.
#[inline]
pub fn enter() -> Option<Entered> {
    ME.with(|me| {
        let slot = slot(me);
        if is_inside_at(me, slot) {
            return None;
        }
        let mut waited: Option<Instant> = None;
        loop {
            raise(me, slot);
            if !CLOSED.load(Ordering::Relaxed) || me.closer.get() {
                return Some(Entered { slot });
            }
            let since = *waited.get_or_insert_with(Instant::now);
            if since.elapsed() > PATIENCE {
                tracing::warn!(
                    "famfs shim: a fork kept this call waiting for {PATIENCE:?}; going on"
                );
                return Some(Entered { slot });
            }
            lower(slot);
            let mut round = 0;
            while CLOSED.load(Ordering::Acquire) && since.elapsed() <= PATIENCE {
                pause(&mut round);
            }
        }
    })
}

fn is_inside_at(me: &Me, slot: u16) -> bool {
    match FLAGS.get(usize::from(slot)) {
        // Only this thread writes its flag.
        Some(f) => f.0.load(Ordering::Relaxed),
        None => me.shared_inside.get(),
    }
}

/// Raises the flag, then makes sure the fork can see it before this
/// thread reads the gate: the kernel's barrier on this thread, or our own.
#[inline]
fn raise(me: &Me, slot: u16) {
    match FLAGS.get(usize::from(slot)) {
        Some(f) => {
            f.0.store(true, Ordering::Relaxed);
            if FENCED.load(Ordering::Relaxed) {
                fence(Ordering::SeqCst);
            } else {
                compiler_fence(Ordering::SeqCst);
            }
        }
        None => {
            me.shared_inside.set(true);
            SHARED_BUSY.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn lower(slot: u16) {
    match FLAGS.get(usize::from(slot)) {
        Some(f) => f.0.store(false, Ordering::Release),
        None => {
            SHARED_BUSY.fetch_sub(1, Ordering::SeqCst);
            ME.with(|me| me.shared_inside.set(false));
        }
    }
}

impl Drop for Entered {
    #[inline]
    fn drop(&mut self) {
        lower(self.slot);
    }
}

/// Whether this thread is inside the shim now.
pub fn is_inside() -> bool {
    ME.with(|me| is_inside_at(me, me.slot.get()))
}

/// Registers the fork handlers that close and open the gate, and asks the
/// kernel to run the barriers; called once, when the library loads.
pub fn install() {
    // SAFETY: the three handlers are plain functions of this library that
    // never unwind; glibc removes them if the library is unloaded.
    let rc = unsafe { libc::pthread_atfork(Some(before_fork), Some(after_fork), Some(in_child)) };
    if rc != 0 {
        tracing::warn!(errno = rc, "famfs shim: cannot watch forks");
    }
    if membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) {
        FENCED.store(false, Ordering::SeqCst);
    }
}

const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

/// The membarrier system call with command `cmd`; whether it succeeded.
fn membarrier(cmd: libc::c_long) -> bool {
    // SAFETY: membarrier takes plain integers and touches no memory of ours.
    unsafe {
        libc::syscall(
            libc::SYS_membarrier,
            cmd,
            0 as libc::c_long,
            0 as libc::c_long,
        ) == 0
    }
}

/// Closes the gate and waits until no thread is inside. A thread that is
/// itself inside (a fork from a signal handler that interrupted a shim
/// call) leaves the gate open and forks as before: it cannot wait for
/// itself.
extern "C" fn before_fork() {
    if is_inside() {
        return;
    }
    let mut round = 0;
    while FORKING
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        pause(&mut round);
    }
    CLOSED.store(true, Ordering::SeqCst);
    ME.with(|me| me.closer.set(true));
    if !FENCED.load(Ordering::Relaxed) && !membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) {
        // Registered but refused now: nothing else orders the flags.
        FENCED.store(true, Ordering::SeqCst);
    }
    let busy = || {
        FLAGS.iter().any(|f| f.0.load(Ordering::SeqCst)) || SHARED_BUSY.load(Ordering::SeqCst) != 0
    };
    let start = Instant::now();
    let mut round = 0;
    while busy() {
        if start.elapsed() > PATIENCE {
            let _ = std::panic::catch_unwind(|| {
                tracing::warn!(
                    "famfs shim: a thread stayed inside the shim for {PATIENCE:?}; forking anyway"
                );
            });
            break;
        }
        pause(&mut round);
    }
}

/// Opens the gate in the parent.
extern "C" fn after_fork() {
    open();
}

/// Opens the gate in the child. Its only thread is not inside, so the
/// flags and counts of threads the child lacks (a fork that stopped
/// waiting) are cleared, and the flags they claimed are free again.
extern "C" fn in_child() {
    if ME.with(|me| me.closer.get()) {
        let mine = ME.with(|me| me.slot.get());
        for (i, (f, c)) in FLAGS.iter().zip(&CLAIMED).enumerate() {
            f.0.store(false, Ordering::SeqCst);
            c.store(i == usize::from(mine), Ordering::SeqCst);
        }
        SHARED_BUSY.store(0, Ordering::SeqCst);
    }
    open();
}

fn open() {
    if ME.with(|me| me.closer.replace(false)) {
        CLOSED.store(false, Ordering::SeqCst);
        FORKING.store(false, Ordering::Release);
    }
}

/// Waits a little: a few yields, then sleeps of 50 µs (a busy thread may
/// be replaying a log for milliseconds).
fn pause(round: &mut u32) {
    *round += 1;
    if *round < 64 {
        std::thread::yield_now();
    } else {
        std::thread::sleep(Duration::from_micros(50));
    }
}
