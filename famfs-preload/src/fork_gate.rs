//! No thread is inside the shim when the process forks.
//!
//! The child of `fork` has only the thread that forked. A lock another
//! thread held at that moment stays held in the child for ever: a mount's
//! file system lock held while its log is replayed (milliseconds), the
//! mount table's re-reading lock, a device set's lock. The child's first
//! call that wants it would wait for a thread it does not have.
//!
//! So a thread that enters the shim marks itself busy ([`Busy`]), and a
//! fork closes a gate first: new entrants wait outside, and the fork waits
//! until every busy thread has left. The famfs read path takes no lock and
//! does not enter the shim, so it never meets the gate; neither do stdio's
//! calls into famfs streams, which glibc may make holding its list of
//! streams, a lock `fork` itself takes.
//!
//! The gate is closed by a `pthread_atfork` handler registered when the
//! library loads. Fork handlers prepare in the reverse order of their
//! registration, so ours runs after those of the program and of libraries
//! loaded later: they take the program's own locks while the gate is
//! still open, and a thread holding one of those locks is never kept
//! waiting at the gate by a fork that waits for that lock.
//!
//! Busy threads are counted in 64 counters on separate cache lines, one
//! per thread in turn, so that threads of one process do not write one
//! shared word on every call. Entering is an atomic add on the thread's
//! own counter and a load of the gate; the fork sets the gate, then reads
//! every counter. Both sides use sequentially consistent operations, so
//! either the entrant sees the gate closed or the fork sees the entrant.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const COUNTERS: usize = 64;

/// A busy-thread counter on its own cache line.
#[repr(align(64))]
struct Counter(AtomicU32);

static BUSY: [Counter; COUNTERS] = [const { Counter(AtomicU32::new(0)) }; COUNTERS];

/// Set while a fork waits for busy threads and while it runs.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Set while one fork holds the gate closed (forks close it one at a
/// time). An atomic flag rather than a lock: it is taken in one fork
/// handler and released in another, and the child releases it too.
static FORKING: AtomicBool = AtomicBool::new(false);

/// The next counter to hand to a thread.
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// How long a fork waits for busy threads, and an entrant for a fork,
/// before going ahead anyway: a thread stuck inside the shim (a log lock
/// another host holds) must not stop the process from forking, nor a
/// fork handler of a library loaded before this one from calling in.
const PATIENCE: Duration = Duration::from_secs(2);

thread_local! {
    /// This thread's counter (COUNTERS until it first enters).
    static MINE: Cell<usize> = const { Cell::new(COUNTERS) };
    /// Set on the thread whose fork closed the gate, so that the fork
    /// handlers it runs may still enter.
    static CLOSER: Cell<bool> = const { Cell::new(false) };
}

fn my_counter() -> &'static AtomicU32 {
    let i = MINE.with(|m| {
        if m.get() == COUNTERS {
            m.set(NEXT.fetch_add(1, Ordering::Relaxed) % COUNTERS);
        }
        m.get()
    });
    &BUSY[i].0
}

/// A thread inside the shim; it leaves when this is dropped.
pub struct Busy {
    counter: &'static AtomicU32,
}

impl Busy {
    /// Marks this thread busy, first waiting outside while a fork runs.
    pub fn enter() -> Busy {
        let counter = my_counter();
        let mut waited: Option<Instant> = None;
        loop {
            counter.fetch_add(1, Ordering::SeqCst);
            if !CLOSED.load(Ordering::SeqCst) || CLOSER.with(Cell::get) {
                return Busy { counter };
            }
            let since = *waited.get_or_insert_with(Instant::now);
            if since.elapsed() > PATIENCE {
                tracing::warn!(
                    "famfs shim: a fork kept this call waiting for {PATIENCE:?}; going on"
                );
                return Busy { counter };
            }
            counter.fetch_sub(1, Ordering::SeqCst);
            let mut round = 0;
            while CLOSED.load(Ordering::Acquire) && since.elapsed() <= PATIENCE {
                pause(&mut round);
            }
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Registers the fork handlers that close and open the gate; called once,
/// when the library loads.
pub fn install() {
    // SAFETY: the three handlers are plain functions of this library that
    // never unwind; glibc removes them if the library is unloaded.
    let rc = unsafe { libc::pthread_atfork(Some(before_fork), Some(after_fork), Some(in_child)) };
    if rc != 0 {
        tracing::warn!(errno = rc, "famfs shim: cannot watch forks");
    }
}

/// Closes the gate and waits until no thread is busy. A thread that is
/// itself busy (a fork from a signal handler that interrupted a shim
/// call) leaves the gate open and forks as before: it cannot wait for
/// itself.
extern "C" fn before_fork() {
    if crate::shim::is_inside() {
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
    CLOSER.with(|c| c.set(true));
    let start = Instant::now();
    let mut round = 0;
    while BUSY.iter().any(|c| c.0.load(Ordering::SeqCst) != 0) {
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

/// Opens the gate in the child. Its only thread is not busy, so any count
/// left by a thread the child lacks (a fork that stopped waiting) is
/// cleared.
extern "C" fn in_child() {
    if CLOSER.with(Cell::get) {
        for c in &BUSY {
            c.0.store(0, Ordering::SeqCst);
        }
    }
    open();
}

fn open() {
    if CLOSER.with(|c| c.replace(false)) {
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
