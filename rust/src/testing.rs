//! Helpers shared by the unit tests.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

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
