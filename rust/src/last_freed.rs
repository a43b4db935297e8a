//! The last mid-size block each thread freed, kept for that thread's next allocation of the
//! same capacity: still in its cache, so zeroed with plain stores, and no trip through `malloc`.
//!
//! Between [`crate::reuse_malloc::MAX_SMALL`] and [`crate::memory::MMAP_THRESHOLD`] glibc has no
//! per-thread cache, and does not always hand back the block just freed. In an allocate-free
//! loop of 16 KiB buffers it settled, after a few seconds, into handing out 12 blocks in turn,
//! all still in cache. The guess `recent_frees` makes from addresses then missed either way:
//! remembering the last 8 frees took the blocks for cold and streamed over hot lines (1.5 us per
//! buffer instead of 0.3, JDK 17, Intel guest); remembering 32 cost 12 KiB loops about 15 %.
//! Keeping the block needs no guess.
//!
//! One block per thread, so a thread holds at most one block below the mapping threshold. It is
//! freed when the thread frees another such block (which takes its place), and when the thread
//! ends. Reuse turned off (`-Ddirectmem.reuseMemory=0`) keeps nothing here either.

use std::cell::RefCell;
use std::ptr::NonNull;

/// A thread's kept block: its address and the capacity it was allocated for, or none.
struct Slot {
    address: usize,
    capacity: u64,
}

impl Slot {
    const EMPTY: Slot = Slot {
        address: 0,
        capacity: 0,
    };

    /// Empties the slot, returning the block it held.
    fn take(&mut self) -> Option<(NonNull<u8>, u64)> {
        // Field by field: a whole `Slot` taken out would be dropped, and free the block.
        let address = std::mem::take(&mut self.address);
        let capacity = std::mem::take(&mut self.capacity);
        NonNull::new(address as *mut u8).map(|ptr| (ptr, capacity))
    }
}

impl Drop for Slot {
    /// The thread ends: its block goes back to `malloc`.
    fn drop(&mut self) {
        if let Some((ptr, _)) = self.take() {
            // SAFETY: a kept block came from malloc, and only this slot holds it.
            unsafe { libc::free(ptr.as_ptr().cast()) };
        }
    }
}

thread_local! {
    static THIS_THREAD: RefCell<Slot> = const { RefCell::new(Slot::EMPTY) };
}

/// Takes the block this thread kept if it was allocated for exactly `capacity` bytes. Its
/// contents are the last user's: the caller zeroes it.
pub fn take(capacity: u64) -> Option<NonNull<u8>> {
    THIS_THREAD
        .try_with(|slot| {
            let mut slot = slot.borrow_mut();
            if slot.capacity != capacity {
                return None;
            }
            slot.take().map(|(ptr, _)| ptr)
        })
        .ok()
        .flatten()
}

/// Keeps a block of `capacity` bytes this thread frees, in place of the one it kept before,
/// which is returned for the caller to free. When the thread is ending, `ptr` itself is
/// returned.
pub fn keep(ptr: NonNull<u8>, capacity: u64) -> Option<NonNull<u8>> {
    THIS_THREAD
        .try_with(|slot| {
            let mut slot = slot.borrow_mut();
            let before = slot.take().map(|(before, _)| before);
            slot.address = ptr.as_ptr() as usize;
            slot.capacity = capacity;
            before
        })
        .unwrap_or(Some(ptr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(len: usize) -> NonNull<u8> {
        // SAFETY: malloc with a non-zero size.
        NonNull::new(unsafe { libc::malloc(len) }.cast()).expect("malloc")
    }

    fn free(ptr: NonNull<u8>) {
        // SAFETY: from `block`, freed once.
        unsafe { libc::free(ptr.as_ptr().cast()) };
    }

    #[test]
    fn a_thread_gets_back_the_block_it_freed_for_the_same_capacity_only() {
        let first = block(16384);
        assert_eq!(keep(first, 16384), None, "nothing kept before");
        assert_eq!(take(12288), None, "another capacity");
        assert_eq!(
            std::thread::spawn(|| take(16384).map(|p| p.as_ptr() as usize))
                .join()
                .expect("joined"),
            None,
            "another thread"
        );
        assert_eq!(take(16384), Some(first));
        assert_eq!(take(16384), None, "taken once");
        free(first);
    }

    #[test]
    fn a_new_free_takes_the_place_of_the_kept_block() {
        let (first, second) = (block(8192), block(20000));
        assert_eq!(keep(first, 8192), None);
        assert_eq!(keep(second, 20000), Some(first), "the caller frees it");
        free(first);
        assert_eq!(take(8192), None);
        assert_eq!(take(20000), Some(second));
        free(second);
    }

    #[test]
    fn a_thread_that_ends_frees_its_block() {
        // Run under a leak checker this shows; here it must at least not crash or hand it out.
        let kept = std::thread::spawn(|| keep(block(65536), 65536).is_none())
            .join()
            .expect("joined");
        assert!(kept);
        assert_eq!(take(65536), None);
    }
}
