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
//! One block per thread, and only so many threads keep one: [`set_limit`] allows a quarter of the
//! reuse limit in slots of the largest such block, at most [`MAX_SLOTS`] (16 MiB). Unbounded, a
//! server of 1000 threads that each once freed a 200 KiB buffer held 200 MiB outside the budget
//! for as long as the threads lived. A kept block goes back to `malloc` when its thread frees
//! another (which takes its place), when the thread ends, and when its slot went unused for a
//! whole trim period ([`trim`]: the background thread's, every second); the slot then goes too,
//! so that threads that once freed such a block and went idle leave room for busy ones. Reuse
//! turned off (`-Ddirectmem.reuseMemory=0`) keeps nothing here either.

use parking_lot::Mutex;
use std::cell::RefCell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The most threads that keep a block at once: 64 slots of up to 256 KiB.
pub const MAX_SLOTS: usize = 64;

/// A thread's kept block, where the background thread's [`trim`] can take it too.
#[derive(Default)]
struct Slot {
    /// The kept block's address, 0 for none. Only the owning thread puts a block here; it and
    /// the trim take it out, each with one swap, so exactly one of them frees it.
    address: AtomicUsize,
    /// Whether the owner took or kept a block since the last trim.
    used: AtomicBool,
    /// Taken from its owner by the trim: no longer listed, and the owner registers again.
    evicted: AtomicBool,
}

impl Slot {
    /// Frees the block held here, if any.
    fn free_kept(&self) {
        // SeqCst, as `evicted` and the owner's swap in `keep`: see there.
        let address = self.address.swap(0, Ordering::SeqCst) as *mut libc::c_void;
        if address.is_null() {
            return;
        }
        // SAFETY: a kept block came from malloc, and the swap made it ours alone.
        unsafe { crate::memory::free_to_malloc(address) };
    }
}

/// The slots of the threads that keep blocks, and how many there may be.
struct Slots {
    list: Mutex<Vec<Arc<Slot>>>,
    allowed: AtomicUsize,
    /// `list.len()`, readable without the lock: a thread that finds no room does not take it.
    taken: AtomicUsize,
    /// When the last trim period ended.
    trimmed: Mutex<Option<Instant>>,
}

impl Slots {
    const fn new(allowed: usize) -> Self {
        Slots {
            list: Mutex::new(Vec::new()),
            allowed: AtomicUsize::new(allowed),
            taken: AtomicUsize::new(0),
            trimmed: Mutex::new(None),
        }
    }

    /// A new slot, if fewer than the allowed number are taken.
    fn register(&self) -> Option<Arc<Slot>> {
        if self.taken.load(Ordering::Relaxed) >= self.allowed.load(Ordering::Relaxed) {
            return None;
        }
        let mut list = self.list.lock();
        if list.len() >= self.allowed.load(Ordering::Relaxed) {
            return None;
        }
        // Used from the start: a trim before the first block goes in must not evict it.
        let slot = Arc::new(Slot {
            used: AtomicBool::new(true),
            ..Slot::default()
        });
        list.push(Arc::clone(&slot));
        self.taken.store(list.len(), Ordering::Relaxed);
        Some(slot)
    }

    /// Frees the slot's block and makes room for another thread's.
    fn unregister(&self, slot: &Arc<Slot>) {
        slot.free_kept();
        let mut list = self.list.lock();
        list.retain(|s| !Arc::ptr_eq(s, slot));
        self.taken.store(list.len(), Ordering::Relaxed);
    }

    /// Allows `slots` slots from now on, gives back every kept block, and evicts the slots
    /// beyond the new number (as the trim does: marked, then emptied).
    fn set_allowed(&self, slots: usize) {
        let mut list = self.list.lock();
        self.allowed.store(slots, Ordering::Relaxed);
        for slot in list.iter() {
            slot.free_kept();
        }
        let kept = slots.min(list.len());
        for slot in list.drain(kept..) {
            slot.evicted.store(true, Ordering::SeqCst);
            slot.free_kept();
        }
        self.taken.store(list.len(), Ordering::Relaxed);
    }

    /// Ends the trim period if it has lasted `period`: slots unused through the whole of it are
    /// evicted, and their blocks go back to malloc.
    fn trim(&self, period: Duration) {
        {
            let mut trimmed = self.trimmed.lock();
            if trimmed.is_some_and(|at| at.elapsed() < period) {
                return;
            }
            *trimmed = Some(Instant::now());
        }
        let mut list = self.list.lock();
        list.retain(|slot| {
            if slot.used.swap(false, Ordering::Relaxed) {
                return true;
            }
            slot.evicted.store(true, Ordering::SeqCst);
            slot.free_kept();
            false
        });
        self.taken.store(list.len(), Ordering::Relaxed);
    }
}

/// Until [`set_limit`], as many as ever: whether anything is kept at all is the reuse limit's
/// to say (`memory::free` asks it first).
static SLOTS: Slots = Slots::new(MAX_SLOTS);

/// This thread's slot (registered at its first kept block, if there is room) and the capacity
/// the block in it was allocated for; only this thread reads the capacity.
struct ThisThread {
    slot: Option<Arc<Slot>>,
    capacity: u64,
}

impl Drop for ThisThread {
    /// The thread ends: its block goes back to `malloc`, and its slot to other threads.
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            SLOTS.unregister(&slot);
        }
    }
}

thread_local! {
    static THIS_THREAD: RefCell<ThisThread> = const {
        RefCell::new(ThisThread { slot: None, capacity: 0 })
    };
}

/// Sets how much may be kept here from the reuse limit (`-Ddirectmem.reuseMemory`, or the
/// budget's default): a quarter of it, in slots of the largest block kept here, at most
/// [`MAX_SLOTS`]. Kept blocks are given back, and slots beyond the new number evicted.
pub fn set_limit(reuse_limit: u64) {
    let slots = (reuse_limit / 4) / crate::memory::MMAP_THRESHOLD;
    SLOTS.set_allowed(usize::try_from(slots).map_or(MAX_SLOTS, |s| s.min(MAX_SLOTS)));
}

impl ThisThread {
    /// This thread's slot, unless the trim evicted it (then forgotten).
    fn slot(&mut self) -> Option<&Slot> {
        if self
            .slot
            .as_ref()
            .is_some_and(|slot| slot.evicted.load(Ordering::Relaxed))
        {
            self.slot = None;
        }
        self.slot.as_deref()
    }
}

/// Takes the block this thread kept if it was allocated for exactly `capacity` bytes. Its
/// contents are the last user's: the caller zeroes it.
pub fn take(capacity: u64) -> Option<NonNull<u8>> {
    THIS_THREAD
        .try_with(|this| {
            let mut this = this.borrow_mut();
            let expected = this.capacity;
            let slot = this.slot()?;
            if expected != capacity || slot.address.load(Ordering::Relaxed) == 0 {
                return None;
            }
            slot.used.store(true, Ordering::Relaxed);
            // A swap, not the value just read: the trim may have taken the block meanwhile.
            NonNull::new(slot.address.swap(0, Ordering::AcqRel) as *mut u8)
        })
        .ok()
        .flatten()
}

/// Keeps a block of `capacity` bytes this thread frees, in place of the one it kept before,
/// which is returned for the caller to free. `ptr` itself is returned when this thread has no
/// slot and none is free, or is ending.
///
/// # Safety
/// `ptr` must be a malloc block of `capacity` bytes that nothing uses or frees any more: a later
/// `take` hands it out, or the trim frees it.
pub unsafe fn keep(ptr: NonNull<u8>, capacity: u64) -> Option<NonNull<u8>> {
    THIS_THREAD
        .try_with(|this| {
            let mut this = this.borrow_mut();
            if this.slot().is_none() {
                this.slot = SLOTS.register();
            }
            this.capacity = capacity;
            let Some(slot) = this.slot.as_deref() else {
                return Some(ptr);
            };
            slot.used.store(true, Ordering::Relaxed);
            let before = slot.address.swap(ptr.as_ptr() as usize, Ordering::SeqCst);
            // Evicted meanwhile? The trim marks the slot, then empties it; this thread fills it,
            // then looks at the mark. In that order (SeqCst), either the trim empties the slot
            // after this block went in, or this thread sees the mark: then it empties the slot
            // itself, whichever of the two gets the block freeing it.
            if slot.evicted.load(Ordering::SeqCst) {
                slot.free_kept();
                this.slot = None;
            }
            NonNull::new(before as *mut u8)
        })
        .unwrap_or(Some(ptr))
}

/// Once per `period` (the background thread calls it more often): gives back to `malloc` the
/// blocks of threads that neither took nor kept one through the whole period before, so an idle
/// thread's block goes within two.
pub fn trim(period: Duration) {
    SLOTS.trim(period)
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
        assert_eq!(unsafe { keep(first, 16384) }, None, "nothing kept before");
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
        assert_eq!(unsafe { keep(first, 8192) }, None);
        assert_eq!(
            unsafe { keep(second, 20000) },
            Some(first),
            "the caller frees it"
        );
        free(first);
        assert_eq!(take(8192), None);
        assert_eq!(take(20000), Some(second));
        free(second);
    }

    #[test]
    fn only_the_allowed_number_of_threads_get_a_slot() {
        let slots = Slots::new(2);
        let first = slots.register().expect("room for one");
        let _second = slots.register().expect("room for two");
        assert!(slots.register().is_none(), "no room for a third");
        slots.unregister(&first);
        assert!(slots.register().is_some(), "the first one's place");
        slots.set_allowed(0);
        assert!(slots.register().is_none(), "none allowed any more");
    }

    #[test]
    fn a_lower_limit_evicts_the_slots_beyond_it() {
        let slots = Slots::new(3);
        let taken: Vec<_> = (0..3).map(|_| slots.register().expect("room")).collect();
        slots.set_allowed(1);
        let evicted = taken
            .iter()
            .filter(|s| s.evicted.load(Ordering::Relaxed))
            .count();
        assert_eq!(evicted, 2, "one slot left");
        assert_eq!(slots.list.lock().len(), 1);
        assert!(slots.register().is_none(), "no room");
    }

    #[test]
    fn a_new_slot_survives_a_trim_before_its_first_block() {
        let slots = Slots::new(1);
        let slot = slots.register().expect("room");
        slots.trim(Duration::ZERO);
        assert!(!slot.evicted.load(Ordering::Relaxed), "counted as used");
    }

    #[test]
    fn a_trim_frees_the_blocks_of_slots_unused_through_a_whole_period() {
        let slots = Slots::new(2);
        let (idle, busy) = (
            slots.register().expect("slot"),
            slots.register().expect("slot"),
        );
        for slot in [&idle, &busy] {
            slot.address
                .store(block(8192).as_ptr() as usize, Ordering::Relaxed);
            slot.used.store(true, Ordering::Relaxed); // as keep does
        }
        slots.trim(Duration::ZERO);
        assert_ne!(
            idle.address.load(Ordering::Relaxed),
            0,
            "used in the period before"
        );
        busy.used.store(true, Ordering::Relaxed);
        slots.trim(Duration::from_secs(3600));
        assert_ne!(
            idle.address.load(Ordering::Relaxed),
            0,
            "the period has not ended"
        );
        slots.trim(Duration::ZERO);
        assert_eq!(
            idle.address.load(Ordering::Relaxed),
            0,
            "unused through a whole period"
        );
        assert!(
            idle.evicted.load(Ordering::Relaxed),
            "and its slot taken from its thread"
        );
        assert_ne!(busy.address.load(Ordering::Relaxed), 0, "used in it");
        assert!(!busy.evicted.load(Ordering::Relaxed));
        assert!(
            slots.register().is_some(),
            "the idle thread's place, for another thread"
        );
        assert!(slots.register().is_none(), "and no more");
        slots.set_allowed(2);
        assert_eq!(
            busy.address.load(Ordering::Relaxed),
            0,
            "a new limit gives back every block"
        );
    }

    #[test]
    fn a_thread_whose_slot_was_evicted_keeps_its_next_block_in_a_new_one() {
        let (first, second) = (block(12288), block(12288));
        assert_eq!(unsafe { keep(first, 12288) }, None);
        let evicted = THIS_THREAD.with(|this| {
            let this = this.borrow();
            let slot = this.slot.as_ref().expect("a slot");
            // As the trim does to a slot unused for a whole period.
            slot.evicted.store(true, Ordering::SeqCst);
            slot.free_kept();
            Arc::clone(slot)
        });
        assert_eq!(take(12288), None, "the trim gave the block back");
        assert_eq!(unsafe { keep(second, 12288) }, None);
        THIS_THREAD.with(|this| {
            let this = this.borrow();
            let slot = this.slot.as_ref().expect("a new slot");
            assert!(!Arc::ptr_eq(slot, &evicted), "not the evicted one");
        });
        assert_eq!(
            evicted.address.load(Ordering::Relaxed),
            0,
            "nothing put in the evicted slot"
        );
        assert_eq!(take(12288), Some(second));
        free(second);
        SLOTS.unregister(&evicted); // as the trim would have: listed no more
    }

    #[test]
    fn a_thread_that_ends_frees_its_block() {
        // Run under a leak checker this shows; here it must at least not crash or hand it out.
        let kept = std::thread::spawn(|| unsafe { keep(block(65536), 65536) }.is_none())
            .join()
            .expect("joined");
        assert!(kept);
        assert_eq!(take(65536), None);
    }
}
