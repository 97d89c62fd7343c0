//! The names of the mounts (each mount point's last component), kept for
//! the test every path call makes: a path can only reach into a mount from
//! outside by naming it, so a path that names none is certainly not famfs.
//!
//! That test runs in the shim right after the caller's previous system
//! call, which leaves little of the process's data in the nearest cache:
//! every load that must wait for another costs a trip further out. So the
//! names live in one cache line of their own ([`NameLine`], a sequence
//! lock over atomic words), read with loads that do not wait for one
//! another, rather than behind the list of mounts and each mount's name
//! (three loads in a row, one after the other: 3-5 ns a call measured with
//! `bench/c/hookcost.c`, docs/performance.md).

use std::sync::atomic::{fence, AtomicU64, Ordering};

/// Bytes of names one line holds, and how many names.
const BYTES: usize = 40;
const NAMES: usize = 4;

/// The names of one list of mounts, packed: a sequence number, the count
/// and where each name ends, and the bytes. Written by one writer at a time
/// (the list's publisher), read by any thread without a lock.
#[repr(align(64))]
#[derive(Default)]
pub(crate) struct NameLine {
    /// Odd while the writer changes the line.
    seq: AtomicU64,
    /// Byte 0: how many names (`TOO_MANY` when they did not fit); bytes
    /// 1..=4: where each ends in `words`.
    meta: AtomicU64,
    words: [AtomicU64; BYTES / 8],
}

/// `meta`'s count when the names do not fit in a line: ask each mount.
const TOO_MANY: u8 = u8::MAX;

/// A consistent copy of the line.
struct Names {
    count: u8,
    ends: [u8; NAMES],
    bytes: [u8; BYTES],
}

impl NameLine {
    /// Stores the names `names` (one writer at a time).
    pub fn store<'a>(&self, names: impl Iterator<Item = &'a [u8]>) {
        let mut bytes = [0u8; BYTES];
        let mut meta = [0u8; 8];
        let mut end = 0;
        for (i, name) in names.enumerate() {
            let fits = i < NAMES && end + name.len() <= BYTES;
            if !fits {
                meta[0] = TOO_MANY;
                break;
            }
            bytes[end..end + name.len()].copy_from_slice(name);
            end += name.len();
            meta[0] += 1;
            meta[1 + i] = end as u8;
        }
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        self.meta.store(u64::from_le_bytes(meta), Ordering::Relaxed);
        for (w, chunk) in self.words.iter().zip(bytes.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            w.store(u64::from_le_bytes(b), Ordering::Relaxed);
        }
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// What `load` reads of the line (with relaxed loads), if no store ran
    /// meanwhile: the sequence lock's one reading rule, for every reader.
    #[inline]
    fn consistent<T>(&self, load: impl FnOnce() -> T) -> Option<T> {
        let seq = self.seq.load(Ordering::Acquire);
        let v = load();
        fence(Ordering::Acquire);
        (seq % 2 == 0 && self.seq.load(Ordering::Relaxed) == seq).then_some(v)
    }

    /// The names as last stored, or None while they are being stored.
    #[inline]
    fn read(&self) -> Option<Names> {
        let (meta, bytes) = self.consistent(|| {
            let mut bytes = [0u8; BYTES];
            for (chunk, w) in bytes.chunks_exact_mut(8).zip(&self.words) {
                chunk.copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
            }
            (self.meta.load(Ordering::Relaxed).to_le_bytes(), bytes)
        })?;
        let mut ends = [0u8; NAMES];
        ends.copy_from_slice(&meta[1..=NAMES]);
        Some(Names {
            count: meta[0],
            ends,
            bytes,
        })
    }

    /// True when the line holds one name and `path` cannot hold it: too
    /// short, or without the name's first byte where it could start. The
    /// common case (one mount, a path elsewhere) then reads two words of
    /// the line, not all of it.
    #[inline]
    fn one_name_absent(&self, path: &[u8]) -> bool {
        let Some((meta, first)) = self.consistent(|| {
            let meta = self.meta.load(Ordering::Relaxed).to_le_bytes();
            (meta, self.words[0].load(Ordering::Relaxed).to_le_bytes()[0])
        }) else {
            return false;
        };
        if meta[0] != 1 {
            return false;
        }
        let len = usize::from(meta[1]);
        if len == 0 {
            return false;
        }
        match path.len().checked_sub(len) {
            None => true,
            Some(last) => find_byte(path.get(..=last).unwrap_or_default(), first).is_none(),
        }
    }

    /// Whether `path` names one of the names: Some(answer), or None when
    /// the line cannot tell (names that did not fit, or a store under way)
    /// and the caller must ask each mount.
    #[inline]
    pub fn named_in(&self, path: &[u8]) -> Option<bool> {
        if self.one_name_absent(path) {
            return Some(false);
        }
        let n = self.read().filter(|n| n.count != TOO_MANY)?;
        let ends = n.ends.get(..usize::from(n.count)).unwrap_or_default();
        let mut start = 0;
        for &end in ends {
            let end = usize::from(end);
            if names(path, n.bytes.get(start..end).unwrap_or_default()) {
                return Some(true);
            }
            start = end;
        }
        Some(false)
    }
}

/// Whether `path` names a mount called `name`; a mount at `/` (no name)
/// is under every path.
#[inline]
pub(crate) fn names(path: &[u8], name: &[u8]) -> bool {
    name.is_empty() || contains(path, name)
}

/// Where byte `b` first occurs in `hay`: libc's vectorised memchr, since
/// this scan runs on every path the shim sees.
fn find_byte(hay: &[u8], b: u8) -> Option<usize> {
    // SAFETY: the pointer and length describe `hay`; memchr reads no
    // further and returns a pointer into it or null.
    let p = unsafe { libc::memchr(hay.as_ptr().cast(), i32::from(b), hay.len()) };
    (!p.is_null()).then(|| p as usize - hay.as_ptr() as usize)
}

/// Whether `needle` occurs in `hay`: compares only where the first byte
/// matches, found by [`find_byte`] (a compare at every position cost about
/// 25 instructions per byte of path; glibc's memmem, more than this).
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return false;
    };
    let Some(last_start) = hay.len().checked_sub(needle.len()) else {
        return false;
    };
    let mut from = 0;
    while let Some(i) = find_byte(&hay[from..=last_start], first) {
        let at = from + i;
        // A byte loop: a candidate usually fails on its first byte, where
        // a memcmp call would cost more than the comparison.
        if hay[at + 1..at + needle.len()].iter().eq(rest) {
            return true;
        }
        from = at + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::{contains, names, NameLine};

    #[test]
    fn contains_agrees_with_a_window_search() {
        let hays = [
            "",
            "f",
            "famfs",
            "/mnt/famfs/x",
            "/a/ffamfs",
            "aaab",
            "/famfs-bench/c4096",
        ];
        let needles = [
            "",
            "f",
            "famfs",
            "aab",
            "ab",
            "famfs-bench",
            "x",
            "/mnt/famfs/x/y",
        ];
        for hay in hays {
            for needle in needles {
                let (h, n) = (hay.as_bytes(), needle.as_bytes());
                let want = !n.is_empty() && h.windows(n.len()).any(|w| w == n);
                assert_eq!(contains(h, n), want, "{needle:?} in {hay:?}");
            }
        }
    }

    #[test]
    fn a_mount_at_the_root_is_named_by_every_path() {
        for path in ["/", "/etc/passwd", "x", ""] {
            assert!(names(path.as_bytes(), b""), "{path:?}");
        }
        assert!(names(b"/a/../famfs/x", b"famfs"));
        assert!(!names(b"/etc/passwd", b"famfs"));
    }

    #[test]
    fn a_line_answers_for_the_names_that_fit_and_only_those() {
        let line = NameLine::default();
        line.store([&b"famfs"[..]].into_iter());
        assert_eq!(line.named_in(b"/mnt/famfs/x"), Some(true));
        assert_eq!(line.named_in(b"famfs"), Some(true));
        assert_eq!(line.named_in(b"/etc/passwd"), Some(false));
        assert_eq!(line.named_in(b"/fam"), Some(false), "shorter than the name");
        assert_eq!(
            line.named_in(b"/a/fffamf/famf"),
            Some(false),
            "first bytes only"
        );
        line.store([&b"famfs"[..], b"cxl"].into_iter());
        assert_eq!(line.named_in(b"/mnt/famfs/x"), Some(true));
        assert_eq!(line.named_in(b"/srv/cxl"), Some(true));
        assert_eq!(line.named_in(b"/etc/passwd"), Some(false));
        line.store(std::iter::empty());
        assert_eq!(line.named_in(b"/mnt/famfs/x"), Some(false));
        let long = [b'n'; 41];
        line.store([&long[..]].into_iter());
        assert_eq!(line.named_in(b"/etc/passwd"), None, "too long to keep");
        line.store([&b"a"[..], b"b", b"c", b"d", b"e"].into_iter());
        assert_eq!(line.named_in(b"/x"), None, "too many to keep");
        line.store([&b""[..]].into_iter());
        assert_eq!(line.named_in(b"/etc/passwd"), Some(true), "a mount at /");
    }

    #[test]
    fn readers_never_see_half_a_store() {
        let line = std::sync::Arc::new(NameLine::default());
        line.store([&b"aaaaaaaaaaaaaaaa"[..]].into_iter());
        let writer = {
            let line = line.clone();
            std::thread::spawn(move || {
                for i in 0..20_000 {
                    let name: &[u8] = if i % 2 == 0 {
                        b"bbbbbbbbbbbbbbbb"
                    } else {
                        b"aaaaaaaaaaaaaaaa"
                    };
                    line.store([name].into_iter());
                }
            })
        };
        // A mixed name (part a, part b) would name neither path.
        let mut reads = 0;
        while !writer.is_finished() {
            if let Some(n) = line.read() {
                reads += 1;
                let name = &n.bytes[..usize::from(n.ends[0])];
                assert!(
                    name == b"aaaaaaaaaaaaaaaa" || name == b"bbbbbbbbbbbbbbbb",
                    "{name:?}"
                );
            }
        }
        writer.join().unwrap();
        assert!(reads > 0 || line.read().is_some());
    }
}
