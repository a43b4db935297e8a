//! Which freed blocks are likely still in this thread's cache, to choose how to zero a block
//! that `malloc` hands back.
//!
//! A block between [`crate::reuse_small::MAX_SMALL`] and [`crate::memory::MMAP_THRESHOLD`] comes
//! from `malloc`, which does not say whose memory it was. In the allocate-free loops of
//! `DirectMemory.free` it is most often the block this thread has just freed, still in cache:
//! plain stores zero it fastest. Otherwise it is most often memory the reclaimer thread gave back
//! a budget's worth of buffers ago, out of cache: streaming stores zero it about twice as fast
//! (see [`crate::fill`]). Measured (JDK 17, 64 MiB budget, one thread): streaming stores took the
//! GC path from 54k to 66-73k buffers/s at 64 KiB and from 0.63-0.80M to 0.90-0.95M at 4 KiB
//! (whose buffers share 64 KiB blocks), but the explicit path at 64 KiB from 1.4-1.8 to
//! 3.6-5.2 us per buffer. So each thread remembers its own last few frees of such blocks.

use std::cell::Cell;

/// How many of its own frees a thread remembers.
const REMEMBERED: usize = 8;

/// The addresses of a thread's last [`REMEMBERED`] frees, oldest overwritten first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecentFrees {
    addresses: [usize; REMEMBERED],
    next: usize,
}

impl RecentFrees {
    /// Remembers a block this thread freed.
    pub fn remember(&mut self, address: usize) {
        self.addresses[self.next] = address;
        self.next = (self.next + 1) % REMEMBERED;
    }

    /// Whether this thread freed the block at `address` recently; forgets it, as it is in use
    /// again.
    pub fn take(&mut self, address: usize) -> bool {
        match self
            .addresses
            .iter()
            .position(|a| *a == address && address != 0)
        {
            Some(at) => {
                self.addresses[at] = 0;
                true
            }
            None => false,
        }
    }
}

thread_local! {
    static THIS_THREAD: Cell<RecentFrees> = const {
        Cell::new(RecentFrees { addresses: [0; REMEMBERED], next: 0 })
    };
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
    fn a_recent_free_is_found_once() {
        let mut recent = RecentFrees::default();
        recent.remember(0x1000);
        recent.remember(0x2000);
        assert!(recent.take(0x1000));
        assert!(!recent.take(0x1000));
        assert!(recent.take(0x2000));
        assert!(!recent.take(0x3000));
        assert!(!recent.take(0));
    }

    #[test]
    fn only_the_last_few_frees_are_remembered() {
        let mut recent = RecentFrees::default();
        for i in 1..=REMEMBERED + 1 {
            recent.remember(i * 0x1000);
        }
        assert!(!recent.take(0x1000), "the oldest was overwritten");
        assert!(recent.take(2 * 0x1000));
        assert!(recent.take((REMEMBERED + 1) * 0x1000));
    }

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
