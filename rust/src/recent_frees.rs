//! Which freed blocks are likely still in this thread's cache, to choose how to zero a block
//! that `malloc` hands back.
//!
//! A block between [`crate::reuse_malloc::MAX_SMALL`] and [`crate::memory::MMAP_THRESHOLD`] comes
//! from `malloc`, which does not say whose memory it was. In the allocate-free loops of
//! `DirectMemory.free` it is most often the block this thread has just freed, still in cache:
//! plain stores zero it fastest. Otherwise it is most often memory the reclaimer thread gave back
//! a budget's worth of buffers ago, out of cache: streaming stores zero it about twice as fast
//! (see [`crate::fill`]). Measured (JDK 17, 64 MiB budget, one thread): streaming stores took the
//! GC path from 54k to 66-73k buffers/s at 64 KiB and from 0.63-0.80M to 0.90-0.95M at 4 KiB
//! (whose buffers share 64 KiB blocks), but the explicit path at 64 KiB from 1.4-1.8 to
//! 3.6-5.2 us per buffer. So each thread remembers its own last few frees of such blocks.
//!
//! The block a thread freed last does not go back to `malloc` at all (`last_freed`); the ones
//! it displaces do, and are remembered here.

use crate::recent::Recent;
use std::cell::Cell;

/// How many of its own frees a thread remembers.
const REMEMBERED: usize = 8;

/// The addresses of a thread's last [`REMEMBERED`] frees.
type RecentFrees = Recent<usize, REMEMBERED>;

thread_local! {
    static THIS_THREAD: Cell<RecentFrees> = const { Cell::new(RecentFrees::new(0)) };
}

/// Remembers that this thread freed the block at `address`.
pub fn freed_here(address: usize) {
    // No destructor, so the slot outlives any use; failing, a block is only zeroed as cold.
    let _ = THIS_THREAD.try_with(|cell| {
        let mut recent = cell.get();
        recent.remember(address);
        cell.set(recent);
    });
}

/// Whether the block at `address`, just allocated, is one this thread freed recently (and so is
/// likely still in its cache).
pub fn is_warm(address: usize) -> bool {
    THIS_THREAD
        .try_with(|cell| {
            let mut recent = cell.get();
            let warm = recent.take(address);
            cell.set(recent);
            warm
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_thread_remembers_its_own_frees() {
        freed_here(0x5000);
        assert!(!std::thread::spawn(|| is_warm(0x5000))
            .join()
            .unwrap_or(true));
        assert!(is_warm(0x5000));
        assert!(!is_warm(0x5000));
    }
}
