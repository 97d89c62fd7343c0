//! The interposition mechanism: [`interpose!`] exports C
//! functions under libc's names, each a Rust body that may call the next
//! definition of its own symbol (libc's) as a plain closure.
//!
//! One entry declares a family of symbols that share a body, such as
//! `open | open64`. For each name the macro exports
//! `#[no_mangle] unsafe extern "C" fn NAME(ARGS) -> RET` that:
//!
//! - binds the entry's chosen name (`real` by convention) to a closure
//!   calling the next definition of NAME with the same arguments;
//! - runs the body under `catch_unwind`, so a panic never unwinds into C:
//!   the call fails with EIO and the entry's failure value (-1, NULL,
//!   MAP_FAILED, SIG_ERR: [`CFail`], or `fail = EXPR`) instead, and never
//!   falls back to libc with a famfs descriptor.
//!
//! An entry may also name a test that its arguments are certainly not
//! famfs (`plain(EXPR)`), for the calls programs make most on their own
//! files. When it holds, the exported function only jumps to the next
//! definition: the body, and everything it keeps on the stack, is a
//! separate function that the plain case never enters. What the shim
//! costs a program that does not use famfs is then the test and a jump.
//!
//! The next definition is looked up once per symbol with
//! `dlsym(RTLD_NEXT)` and kept in an atomic. A symbol libc lacks (an
//! older glibc) fails with ENOSYS rather than aborting the program.
//!
//! Bodies are checked as safe code (`unsafe_op_in_unsafe_fn` is denied
//! workspace-wide): every dereference of a C argument sits in its own
//! `unsafe` block with the contract that makes it sound. The one unsafe
//! operation the macro itself performs is calling the next definition,
//! sound because bodies pass on their caller's arguments (or, for a path
//! the shim rewrote, a C string the body owns for the call).

use std::ffi::CStr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What a C function returns when it fails, besides setting errno.
pub trait CFail {
    /// The failure value.
    const FAIL: Self;
}

impl CFail for libc::c_int {
    const FAIL: Self = -1;
}

impl CFail for libc::ssize_t {
    const FAIL: Self = -1;
}

impl CFail for i64 {
    const FAIL: Self = -1;
}

impl CFail for () {
    const FAIL: Self = ();
}

impl<T> CFail for *mut T {
    const FAIL: Self = std::ptr::null_mut();
}

/// The next definition of a symbol after this library's, resolved once.
pub struct Next {
    name: &'static CStr,
    /// 0 = not looked up yet, 1 = not found, else the address.
    addr: AtomicUsize,
}

impl Next {
    /// The next definition of `name`, looked up on first use.
    pub const fn new(name: &'static CStr) -> Next {
        Next {
            name,
            addr: AtomicUsize::new(0),
        }
    }

    /// The address of the next definition, or None if there is none.
    #[inline]
    pub fn get(&self) -> Option<usize> {
        match self.addr.load(Ordering::Relaxed) {
            0 => self.look_up(),
            1 => None,
            a => Some(a),
        }
    }

    /// The address of the next definition if it was looked up and found.
    #[inline(always)]
    pub fn known(&self) -> Option<usize> {
        Some(self.addr.load(Ordering::Relaxed)).filter(|&a| a > 1)
    }

    #[cold]
    #[inline(never)]
    fn look_up(&self) -> Option<usize> {
        // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name only reads
        // the loader's tables; a racing lookup finds the same.
        let p = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr()) };
        let a = if p.is_null() { 1 } else { p as usize };
        self.addr.store(a, Ordering::Relaxed);
        (a != 1).then_some(a)
    }
}

/// Evaluates a hook's `plain(...)` test; a panic in it counts as "maybe
/// famfs", which sends the call down the served path (and its own
/// `catch_unwind`). Tests that cannot panic compile to the test alone.
#[inline(always)]
pub fn plain(test: impl FnOnce() -> bool) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(test)).unwrap_or(false)
}

/// Declares interposed C functions (see the module documentation):
///
/// ```ignore
/// interpose! {
///     fn open | open64 (path: *const c_char, flags: c_int, mode: mode_t) -> c_int, real {
///         open_famfs(libc::AT_FDCWD, path, flags, |p| real(p, flags, mode))
///     }
///     fn mmap (a: *mut c_void, ..) -> *mut c_void, real, fail(libc::MAP_FAILED) { .. }
///     fn read (fd: c_int, ..) -> ssize_t, real, plain(shim::fd_is_plain(fd)) { .. }
/// }
/// ```
macro_rules! interpose {
    ($(
        fn $($name:ident)|+ ( $($arg:ident : $ty:ty),* $(,)? ) -> $ret:ty, $real:ident
            $(, fail($fail:expr))? $(, plain($plain:expr))? $body:block
    )*) => {$(
        $crate::interpose::interpose!(
            @family [$($name)+] ($($arg: $ty),*) -> $ret, $real, [$($fail)?] [$($plain)?] $body
        );
    )*};
    (@family [$($name:ident)+] $args:tt -> $ret:ty, $real:ident, $fail:tt $plain:tt $body:block) => {$(
        $crate::interpose::interpose!(@one $name $args -> $ret, $real, $fail $plain $body);
    )+};
    (@one $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $ret:ty, $real:ident, [$($fail:expr)?] [$($plain:expr)?] $body:block) => {
        #[doc = concat!("`", stringify!($name), "` as libc declares it, served by famfs for famfs paths and descriptors.")]
        ///
        /// # Safety
        /// As for the C function of the same name: the caller passes the
        /// arguments its contract requires.
        #[no_mangle]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> $ret {
            static NEXT: $crate::interpose::Next = $crate::interpose::Next::new(
                // SAFETY: the literal ends in the NUL concat! adds.
                unsafe { ::std::ffi::CStr::from_bytes_with_nul_unchecked(concat!(stringify!($name), "\0").as_bytes()) },
            );
            $crate::interpose::interpose!(@plain [$($plain)?] ($($arg: $ty),*) -> $ret);
            /// The call as the shim serves it: famfs, or the next
            /// definition for what is not famfs.
            ///
            /// # Safety
            /// As for the exported function.
            #[inline(never)]
            unsafe extern "C" fn served($($arg: $ty),*) -> $ret {
                let fail: $ret = $crate::interpose::interpose!(@fail $ret $(, $fail)?);
                #[allow(unused_variables)]
                let $real = move |$($arg: $ty),*| -> $ret {
                    match NEXT.get() {
                        Some(addr) => {
                            // SAFETY: `addr` is what dlsym found for this
                            // very symbol, whose C type is this signature;
                            // the body passes on its caller's arguments (or
                            // a C string it owns for the call), valid under
                            // the same contract.
                            unsafe {
                                let f: unsafe extern "C" fn($($ty),*) -> $ret = ::std::mem::transmute(addr);
                                f($($arg),*)
                            }
                        }
                        None => {
                            $crate::shim::set_errno(libc::ENOSYS);
                            fail
                        }
                    }
                };
                match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(move || $body)) {
                    Ok(r) => r,
                    Err(_) => {
                        $crate::shim::set_errno(libc::EIO);
                        fail
                    }
                }
            }
            // SAFETY: the caller's arguments, under the caller's contract.
            unsafe { served($($arg),*) }
        }
    };
    (@plain [] $args:tt -> $ret:ty) => {};
    (@plain [$plain:expr] ($($arg:ident : $ty:ty),*) -> $ret:ty) => {
        if $crate::interpose::plain(|| $plain) {
            if let Some(addr) = NEXT.known() {
                // SAFETY: `addr` is what dlsym found for this very symbol,
                // whose C type is this signature; the caller's arguments go
                // on untouched.
                return unsafe {
                    let f: unsafe extern "C" fn($($ty),*) -> $ret = ::std::mem::transmute(addr);
                    f($($arg),*)
                };
            }
        }
    };
    (@fail $ret:ty) => { <$ret as $crate::interpose::CFail>::FAIL };
    (@fail $ret:ty, $fail:expr) => { $fail };
}

pub(crate) use interpose;
