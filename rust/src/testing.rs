//! Helpers shared by the unit tests.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::thread::LocalKey;

/// Runs `body` while another thread calls `step` over and over, as a background thread of the
/// library would if it never slept; stops that thread when `body` returns or panics.
pub fn with_background_loop<R>(step: impl Fn() + Sync, body: impl FnOnce() -> R) -> R {
    struct Stop<'a>(&'a AtomicBool);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            // Also when `body` panics: the scope would otherwise wait for the loop forever.
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let stop = AtomicBool::new(false);
    thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                step();
            }
        });
        let _stop = Stop(&stop);
        body()
    })
}

/// The unit tests' allocator: the system's, except that it refuses the allocations of a thread
/// inside [`refusing_allocations`], as malloc may when the OS refuses memory.
struct Refusing;

thread_local! {
    /// Set while this thread's allocations are refused.
    static REFUSE: Cell<bool> = const { Cell::new(false) };
}

fn refused() -> bool {
    REFUSE.try_with(|r| r.get()).unwrap_or(false)
}

// SAFETY: the system allocator's, or a refusal (null), which `GlobalAlloc` allows.
unsafe impl GlobalAlloc for Refusing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if refused() {
            return std::ptr::null_mut();
        }
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if refused() {
            return std::ptr::null_mut();
        }
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if refused() {
            return std::ptr::null_mut();
        }
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
    }
}

#[global_allocator]
static ALLOCATOR: Refusing = Refusing;

/// Runs `body` with every allocation of this thread refused; a refused infallible one aborts the
/// process, as it would where malloc refuses. `body` must not panic: the panic's message would
/// be refused too.
pub fn refusing_allocations<R>(body: impl FnOnce() -> R) -> R {
    with_flag_set(&REFUSE, body)
}

/// Runs `body` with this thread's `flag` set, as it was again once `body` returns or unwinds.
pub fn with_flag_set<R>(flag: &'static LocalKey<Cell<bool>>, body: impl FnOnce() -> R) -> R {
    struct Restore(&'static LocalKey<Cell<bool>>, bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            self.0.with(|f| f.set(self.1));
        }
    }
    let _restore = Restore(flag, flag.with(|f| f.replace(true)));
    body()
}
