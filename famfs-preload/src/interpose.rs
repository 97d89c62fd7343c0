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
        let mut a = self.addr.load(Ordering::Relaxed);
        if a == 0 {
            // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name only
            // reads the loader's tables; a racing lookup finds the same.
            let p = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr()) };
            a = if p.is_null() { 1 } else { p as usize };
            self.addr.store(a, Ordering::Relaxed);
        }
        (a != 1).then_some(a)
    }
}

/// Declares interposed C functions (see the module documentation):
///
/// ```ignore
/// interpose! {
///     fn open | open64 (path: *const c_char, flags: c_int, mode: mode_t) -> c_int, real {
///         open_famfs(libc::AT_FDCWD, path, flags, |p| real(p, flags, mode))
///     }
///     fn mmap (a: *mut c_void, ..) -> *mut c_void, real, fail(libc::MAP_FAILED) { .. }
/// }
/// ```
macro_rules! interpose {
    ($(
        fn $($name:ident)|+ ( $($arg:ident : $ty:ty),* $(,)? ) -> $ret:ty, $real:ident
            $(, fail($fail:expr))? $body:block
    )*) => {$(
        $crate::interpose::interpose!(
            @family [$($name)+] ($($arg: $ty),*) -> $ret, $real, [$($fail)?] $body
        );
    )*};
    (@family [$($name:ident)+] $args:tt -> $ret:ty, $real:ident, $fail:tt $body:block) => {$(
        $crate::interpose::interpose!(@one $name $args -> $ret, $real, $fail $body);
    )+};
    (@one $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $ret:ty, $real:ident, [$($fail:expr)?] $body:block) => {
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
            let fail: $ret = $crate::interpose::interpose!(@fail $ret $(, $fail)?);
            #[allow(unused_variables)]
            let $real = move |$($arg: $ty),*| -> $ret {
                match NEXT.get() {
                    Some(addr) => {
                        // SAFETY: `addr` is what dlsym found for this very
                        // symbol, whose C type is this signature; the body
                        // passes on its caller's arguments (or a C string it
                        // owns for the call), valid under the same contract.
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
    };
    (@fail $ret:ty) => { <$ret as $crate::interpose::CFail>::FAIL };
    (@fail $ret:ty, $fail:expr) => { $fail };
}

pub(crate) use interpose;
