//! Blocks from `malloc` (below the mapping threshold) that the reclaimer thread freed, kept for
//! reuse, a bounded few per size.
//!
//! Every such block is freed by another thread than the one that allocated it, which is what
//! `malloc` serves worst:
//! - Small blocks (up to [`MAX_SMALL`] bytes), measured with 64-byte buffers dropped through a
//!   64 MiB budget (`perf`): glibc's `_int_malloc`/`calloc` on the allocating thread and `free`
//!   on the reclaimer thread took a fifth of all CPU, as cross-thread frees defeat malloc's
//!   per-thread caches.
//! - Larger ones, measured with 12 KiB buffers (`perf -g`): the allocating thread spent 8.4 % of
//!   all samples in `__lll_lock_wake_private`, waking the reclaimer, which waited for the same
//!   arena lock to `free` into the arena the allocating thread `malloc`s from.
//!
//! Here a freed block waits in a list of its size class for the next allocation of that class,
//! which zeroes only the bytes it hands out. Classes are the sizes of glibc's chunks (16-byte
//! steps, an 8-byte header), so rounding a block up to its class costs no memory. Blocks beyond
//! the limit go back to `malloc`, and so do, at each trim, as many blocks of a class as it held
//! through the whole period without handing them out: a class in steady use keeps only what its
//! takers need, not what a burst of frees left.
//!
//! A block above [`MAX_SMALL`] the zeroer thread zeroes behind, as it does kept mapped blocks
//! (see `reuse`): out of cache anyway, so zeroing it on another core costs the allocating thread
//! nothing. At 12 KiB that zeroing had been 45 % of the allocating thread's samples. Plain loop,
//! GC path, JDK 17, buffers per second: 286-312k with these blocks freed to `malloc`, 299-325k
//! kept, 411-431k kept and zeroed behind.

use crate::fill::{fill, Stores};
use crate::memory::{GiveBackIfUnwinding, MMAP_THRESHOLD};
use parking_lot::Mutex;
use std::collections::btree_map::{BTreeMap, Entry};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// The largest block kept in a class of its own; larger ones share one lock (see
/// [`MallocBlocks`]). Also where `memory` stops taking blocks from malloc's per-thread cache.
pub const MAX_SMALL: u64 = 4096;
const STEP: u64 = 16;
/// glibc's chunk header on 64-bit targets (x86-64, aarch64): a chunk of n bytes holds n - 8.
const HEADER: u64 = 8;
const SMALL_CLASSES: usize = (MAX_SMALL / STEP) as usize;
/// The most sizes above [`MAX_SMALL`] kept at once. Buffers of many sizes rarely ask for one
/// again before it is trimmed: blocks kept for them (log-uniform sizes from 1 B to 4 MiB,
/// `LeakTest`) filled the limit with no reuse while malloc grew by as much, and the process's
/// resident set with it (+38 to +59 MiB in CI). A program's few recurring sizes fit.
const MAX_LARGER_SIZES: usize = 32;
/// The most bytes the zeroer thread takes out of a class at once: few trips through the lock the
/// allocating thread takes too, and few blocks out of its reach meanwhile.
const ZERO_AT_ONCE: u64 = 256 << 10;

#[derive(Default)]
struct Class {
    /// Blocks as they were freed.
    kept: Vec<usize>,
    /// Blocks the zeroer thread has zeroed whole since (larger sizes only).
    zeroed: Vec<usize>,
    /// The fewest blocks the class held at once since the last trim: that many sat idle through
    /// the period, and the next trim gives them back.
    fewest: usize,
}

impl Class {
    fn held(&self) -> usize {
        self.kept.len() + self.zeroed.len()
    }
}

/// Where the blocks of one size are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// A small class, by index: a lock of its own, as small buffers come by the million.
    Small(usize),
    /// A larger size: few are in use at a time, and each block costs far more than a lock.
    Larger(u64),
}

/// The cache of freed malloc blocks; the process uses one, inside `reuse::REUSE`.
pub struct MallocBlocks {
    small: [Mutex<Class>; SMALL_CLASSES],
    larger: Mutex<BTreeMap<u64, Class>>,
    /// Larger blocks in `kept`, not zeroed yet: work for the zeroer thread. Changed under the
    /// `larger` lock only, read without it.
    unzeroed: AtomicU64,
    bytes: AtomicU64,
    limit: AtomicU64,
}

impl MallocBlocks {
    /// A cache that keeps nothing until [`MallocBlocks::set_limit`].
    pub const fn new() -> Self {
        MallocBlocks {
            small: [const {
                Mutex::new(Class {
                    kept: Vec::new(),
                    zeroed: Vec::new(),
                    fewest: 0,
                })
            }; SMALL_CLASSES],
            larger: Mutex::new(BTreeMap::new()),
            unzeroed: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            limit: AtomicU64::new(0),
        }
    }

    /// The size to allocate for a block of `capacity` bytes (1 to below the mapping threshold),
    /// so that any block of its class serves any capacity of that class: 24, 40, 56 ..., what a
    /// glibc chunk of 32, 48, 64 ... bytes holds. Other capacities are their own size.
    pub fn block_size(capacity: u64) -> u64 {
        if capacity == 0 || capacity >= MMAP_THRESHOLD {
            return capacity;
        }
        // glibc's smallest chunk is 32 bytes.
        (capacity + HEADER).next_multiple_of(STEP).max(2 * STEP) - HEADER
    }

    /// Where blocks for `capacity` are kept, and their size; `None` for sizes never kept.
    fn slot_of(capacity: u64) -> Option<(Slot, u64)> {
        if capacity == 0 || capacity >= MMAP_THRESHOLD {
            return None;
        }
        let size = Self::block_size(capacity);
        let slot = if capacity <= MAX_SMALL {
            Slot::Small(((size + HEADER) / STEP - 2) as usize) // the inverse of `small_size`
        } else {
            Slot::Larger(size)
        };
        Some((slot, size))
    }

    /// The size of the blocks of the small class `index`.
    fn small_size(index: usize) -> u64 {
        (index as u64 + 2) * STEP - HEADER
    }

    /// Runs `f` on the class of `slot` under its lock. A larger size without a class gets one
    /// if `make` (to keep a block) and fewer than [`MAX_LARGER_SIZES`] are kept, else `None`.
    fn with_class<R>(&self, slot: Slot, make: bool, f: impl FnOnce(&mut Class) -> R) -> Option<R> {
        match slot {
            Slot::Small(index) => Some(f(&mut self.small[index].lock())),
            Slot::Larger(size) => {
                let mut larger = self.larger.lock();
                let room = larger.len() < MAX_LARGER_SIZES;
                let class = match larger.entry(size) {
                    Entry::Occupied(class) => Some(class.into_mut()),
                    Entry::Vacant(place) if make && room => Some(place.insert(Class::default())),
                    Entry::Vacant(_) => None,
                };
                class.map(f)
            }
        }
    }

    /// Sets how many bytes of freed blocks may be kept; zero turns this cache off. If more is
    /// kept than the new limit, every kept block goes back to `malloc` at once.
    pub fn set_limit(&self, bytes: u64) {
        self.limit.store(bytes, Ordering::Relaxed);
        if self.bytes.load(Ordering::Relaxed) > bytes {
            let _ = self.give_back_idle(Class::held);
        }
    }

    /// Bytes of freed blocks kept right now.
    pub fn kept_bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Takes a kept block of `capacity`'s class, its first `capacity` bytes zeroed, if there is
    /// one: one zeroed behind first.
    pub fn take(&self, capacity: u64) -> Option<NonNull<u8>> {
        if self.bytes.load(Ordering::Relaxed) == 0 {
            return None; // the usual case of explicit frees: no lock taken
        }
        let (slot, size) = Self::slot_of(capacity)?;
        let (address, zeroed) = self.with_class(slot, false, |class| {
            let taken = if let Some(address) = class.zeroed.pop() {
                (address, true)
            } else {
                let address = class.kept.pop()?;
                if let Slot::Larger(_) = slot {
                    self.unzeroed.fetch_sub(1, Ordering::Relaxed);
                }
                (address, false)
            };
            class.fewest = class.fewest.min(class.held());
            Some(taken)
        })??;
        self.bytes.fetch_sub(size, Ordering::Relaxed);
        let ptr = NonNull::new(address as *mut u8)?;
        // Out of its class and not yet handed out: back to malloc if a panic comes first.
        // SAFETY: the block is ours alone, and nobody else frees it.
        let give_back = GiveBackIfUnwinding::new(|| unsafe {
            crate::memory::free_to_malloc(ptr.as_ptr().cast())
        });
        #[cfg(test)]
        crate::memory::panic_if_armed_once_obtained();
        if !zeroed {
            // A small block is zeroed with plain stores, as the store it is about to take
            // touches the line anyway; a larger one the reclaimer freed after a collection, out
            // of cache.
            let stores = match slot {
                Slot::Small(_) => Stores::Cached,
                Slot::Larger(_) => Stores::Streaming,
            };
            // SAFETY: a block of `size` >= `capacity` bytes that nobody else holds.
            unsafe { fill(ptr.as_ptr(), capacity as usize, 0, stores) };
        }
        give_back.defuse();
        Some(ptr)
    }

    /// Keeps a freed block of `capacity` bytes (allocated with [`MallocBlocks::block_size`]) if
    /// it fits under the limit; `false` when the caller must free it.
    ///
    /// # Safety
    /// `ptr` must be a malloc block of at least `block_size(capacity)` bytes that nothing uses or
    /// frees any more: the zeroer writes it, and a later `take` or trim hands it out or frees it.
    pub unsafe fn keep(&self, ptr: NonNull<u8>, capacity: u64) -> bool {
        let Some((slot, size)) = Self::slot_of(capacity) else {
            return false;
        };
        // Counted before it is kept, so that racing threads cannot overshoot the limit together.
        let limit = self.limit.load(Ordering::Relaxed);
        if self.bytes.fetch_add(size, Ordering::Relaxed) + size > limit {
            self.bytes.fetch_sub(size, Ordering::Relaxed);
            return false;
        }
        let kept = self.with_class(slot, true, |class| {
            // malloc refused the list room (a failed push would abort the process): not kept.
            if class.kept.try_reserve(1).is_err() {
                return false;
            }
            class.kept.push(ptr.as_ptr() as usize);
            if let Slot::Larger(_) = slot {
                self.unzeroed.fetch_add(1, Ordering::Relaxed);
            }
            true
        });
        let kept = kept == Some(true);
        if !kept {
            self.bytes.fetch_sub(size, Ordering::Relaxed); // no room for another size, or the list
        }
        kept
    }

    /// Whether a kept block waits for the zeroer thread.
    pub fn has_unzeroed(&self) -> bool {
        self.unzeroed.load(Ordering::Relaxed) > 0
    }

    /// Zeroes kept larger blocks that are not zeroed yet, up to `ZERO_AT_ONCE` bytes of one
    /// size, with no lock held meanwhile (the zeroer thread's work); returns whether there were
    /// any.
    pub fn zero_behind(&self) -> bool {
        let (size, blocks) = {
            let mut larger = self.larger.lock();
            let Some((size, class)) = larger.iter_mut().find(|(_, c)| !c.kept.is_empty()) else {
                return false;
            };
            let count = (ZERO_AT_ONCE / size).clamp(1, class.kept.len() as u64);
            let blocks = class.kept.split_off(class.kept.len() - count as usize);
            self.unzeroed.fetch_sub(count, Ordering::Relaxed);
            (*size, blocks)
        };
        // Still counted in `bytes` while out of their class, so the limit holds meanwhile.
        // Caught: a panic must not end the zeroer thread with these blocks counted as kept.
        let zeroed = std::panic::catch_unwind(|| {
            for address in &blocks {
                // SAFETY: a kept block of `size` bytes; out of its class, nobody else holds it.
                unsafe { fill(*address as *mut u8, size as usize, 0, Stores::Streaming) };
            }
        });
        if zeroed.is_err() {
            log::error!("zeroing kept blocks panicked; they go back to malloc");
        }
        if zeroed.is_err()
            || self.bytes.load(Ordering::Relaxed) > self.limit.load(Ordering::Relaxed)
        {
            // Zeroing failed, or the limit fell meanwhile.
            self.give_back(size * blocks.len() as u64, blocks);
        } else {
            // Their class may have been forgotten meanwhile: made again (even past
            // MAX_LARGER_SIZES, for a while), they go at the trim after next, unless taken.
            let mut larger = self.larger.lock();
            larger.entry(size).or_default().zeroed.extend(blocks);
        }
        true
    }

    /// Called once per trim period: gives back to `malloc` the blocks each class held through
    /// the whole period without handing them out. Returns the bytes given back.
    pub fn trim(&self) -> u64 {
        self.give_back_idle(|class| class.fewest)
    }

    /// Gives back `idle(class)` blocks of each class, those kept longest first, unzeroed before
    /// zeroed; larger sizes left with none are forgotten, so that the map stays short.
    fn give_back_idle(&self, idle: impl Fn(&Class) -> usize) -> u64 {
        let mut released: Vec<(usize, u64)> = Vec::new();
        let mut take_idle = |class: &mut Class, size: u64| -> u64 {
            let idle = idle(class).min(class.held());
            // Room first: this also runs when the OS refused memory (see `memory`), and malloc
            // may refuse the list then; a failed push would abort the process. The class keeps
            // its blocks meanwhile.
            if released.try_reserve(idle).is_err() {
                return 0;
            }
            let unzeroed = idle.min(class.kept.len());
            let blocks = class.kept.drain(..unzeroed);
            let blocks = blocks.chain(class.zeroed.drain(..idle - unzeroed));
            released.extend(blocks.map(|address| (address, size)));
            // A burst of frees leaves a list far longer than what it holds after: its memory goes
            // with the blocks (8 bytes a block, 2.8 million blocks of 16 bytes under 64 MiB).
            for list in [&mut class.kept, &mut class.zeroed] {
                if list.len() < list.capacity() / 4 {
                    shrink_unless_refused(list, list.len() * 2);
                }
            }
            class.fewest = class.held();
            unzeroed as u64
        };
        for (index, class) in self.small.iter().enumerate() {
            take_idle(&mut class.lock(), Self::small_size(index));
        }
        self.larger.lock().retain(|size, class| {
            let unzeroed = take_idle(class, *size);
            self.unzeroed.fetch_sub(unzeroed, Ordering::Relaxed);
            class.held() > 0
        });
        let bytes = released.iter().map(|(_, size)| size).sum();
        self.give_back(bytes, released.into_iter().map(|(address, _)| address));
        bytes
    }

    /// Gives blocks that the cache alone held back to `malloc`, `bytes` of them in all.
    fn give_back(&self, bytes: u64, addresses: impl IntoIterator<Item = usize>) {
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        for address in addresses {
            // SAFETY: a block from malloc that nobody else holds.
            unsafe { libc::free(address as *mut libc::c_void) };
        }
        crate::memory::note_given_to_malloc(bytes);
    }
}

/// Shrinks `list` to room for `room` addresses (at least its length), unless malloc refuses the
/// smaller list: a trim also runs when the OS refused memory (see `memory`), and `shrink_to`'s
/// `realloc`, refused, would abort the process (review). An empty list is only freed.
fn shrink_unless_refused(list: &mut Vec<usize>, room: usize) {
    if list.is_empty() {
        *list = Vec::new();
        return;
    }
    let mut smaller = Vec::new();
    if smaller.try_reserve_exact(room.max(list.len())).is_ok() {
        smaller.extend_from_slice(list); // within the room reserved: no allocation
        *list = smaller;
    }
}

impl Default for MallocBlocks {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(capacity: u64) -> NonNull<u8> {
        let size = MallocBlocks::block_size(capacity) as usize;
        // SAFETY: calloc with a non-zero size.
        NonNull::new(unsafe { libc::calloc(1, size) }.cast()).unwrap()
    }

    fn reads_zero(ptr: NonNull<u8>, len: u64) -> bool {
        // SAFETY: the caller's block is at least `len` bytes.
        let bytes = unsafe { std::slice::from_raw_parts(ptr.as_ptr(), len as usize) };
        bytes.iter().all(|b| *b == 0)
    }

    #[test]
    fn a_kept_block_serves_its_class_zeroed() {
        let cache = MallocBlocks::new();
        cache.set_limit(1 << 20);
        for (capacity, size, other) in [(100, 104, 88), (12 << 10, 12296, 12_000)] {
            let ptr = block(capacity);
            assert_eq!(MallocBlocks::block_size(capacity), size);
            // SAFETY: the block is `size` bytes and ours.
            unsafe { std::ptr::write_bytes(ptr.as_ptr(), 0xAB, size as usize) };
            assert!(unsafe { cache.keep(ptr, capacity) });
            assert_eq!(cache.kept_bytes(), size);
            assert!(
                cache.take(other).is_none(),
                "{other} bytes is another class"
            );
            let again = cache.take(size).unwrap();
            assert_eq!(again, ptr);
            assert!(reads_zero(again, size));
            assert_eq!(cache.kept_bytes(), 0);
            // SAFETY: from calloc, held by nobody else.
            unsafe { libc::free(again.as_ptr().cast()) };
        }
    }

    /// Before: a panic between taking a kept block and handing it out left it allocated for
    /// good, outside the cache and the budget (review).
    #[test]
    fn a_block_taken_when_a_panic_comes_goes_back_to_malloc() {
        let cache = MallocBlocks::new();
        cache.set_limit(64 << 20);
        for capacity in [100, 16 << 10] {
            assert!(unsafe { cache.keep(block(capacity), capacity) });
            let freed = crate::memory::freed_here();
            crate::memory::arm_panic_once_obtained();
            let taken =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cache.take(capacity)));
            assert!(taken.is_err(), "the take panicked");
            assert_eq!(crate::memory::freed_here() - freed, 1, "freed {capacity}");
            assert_eq!(cache.kept_bytes(), 0);
        }
    }

    #[test]
    fn classes_are_what_malloc_chunks_hold() {
        let sizes: Vec<u64> = [1, 24, 25, 40, 41, 64, 4095, 4096, 4097, 4105, 200_000]
            .iter()
            .map(|c| MallocBlocks::block_size(*c))
            .collect();
        assert_eq!(
            sizes,
            [24, 24, 40, 40, 56, 72, 4104, 4104, 4104, 4120, 200_008]
        );
        assert_eq!(MallocBlocks::slot_of(1).unwrap().0, Slot::Small(0));
        let last = MallocBlocks::slot_of(4096).unwrap().0;
        assert_eq!(last, Slot::Small(SMALL_CLASSES - 1));
        assert_eq!(MallocBlocks::slot_of(4097).unwrap().0, Slot::Larger(4104));
        assert!(MallocBlocks::slot_of(MMAP_THRESHOLD).is_none(), "mapped");
        assert_eq!(MallocBlocks::block_size(MMAP_THRESHOLD), MMAP_THRESHOLD);
    }

    #[test]
    fn keeps_no_more_than_its_limit_nor_mapped_blocks() {
        let cache = MallocBlocks::new();
        cache.set_limit(72 + 8200);
        let (a, b, c) = (block(64), block(16), block(8192));
        assert!(unsafe { cache.keep(a, 64) });
        assert!(unsafe { cache.keep(c, 8192) });
        assert!(!unsafe { cache.keep(b, 16) }, "over the limit");
        assert!(!unsafe { cache.keep(b, MMAP_THRESHOLD) }, "mapped");
        assert_eq!(cache.kept_bytes(), 72 + 8200);
        cache.set_limit(0);
        assert_eq!(cache.kept_bytes(), 0, "a lower limit gives blocks back");
        assert!(cache.larger.lock().is_empty(), "and forgets the sizes");
        assert!(!unsafe { cache.keep(b, 16) }, "zero turns it off");
        // SAFETY: b was never kept.
        unsafe { libc::free(b.as_ptr().cast()) };
    }

    #[test]
    fn larger_blocks_are_zeroed_behind_and_then_taken_as_they_are() {
        let cache = MallocBlocks::new();
        cache.set_limit(1 << 20);
        let (small, larger) = (block(64), block(20_000));
        // SAFETY: both blocks are ours, of at least these sizes.
        unsafe {
            std::ptr::write_bytes(small.as_ptr(), 0xAB, 64);
            std::ptr::write_bytes(larger.as_ptr(), 0xAB, 20_008);
        }
        assert!(unsafe { cache.keep(small, 64) });
        assert!(
            !cache.has_unzeroed(),
            "small blocks are zeroed by their taker"
        );
        assert!(unsafe { cache.keep(larger, 20_000) });
        assert!(cache.has_unzeroed());
        assert!(cache.zero_behind());
        assert!(!cache.has_unzeroed());
        assert!(!cache.zero_behind(), "nothing left to zero");
        assert!(
            reads_zero(larger, 20_008),
            "zeroed whole, past the capacity"
        );
        assert_eq!(cache.kept_bytes(), 72 + 20_008, "still kept");
        // A mark no zeroing would leave: the taker does not zero the block a second time.
        // SAFETY: the block is ours to write, kept; nobody else touches it in this test.
        unsafe { *larger.as_ptr() = 0x11 };
        assert_eq!(cache.take(20_000), Some(larger));
        // SAFETY: as above.
        assert_eq!(unsafe { *larger.as_ptr() }, 0x11, "zeroed again");
        assert_eq!(cache.take(64), Some(small));
        assert!(reads_zero(small, 64));
        // Kept again, zeroed behind, then given back by a trim.
        assert!(unsafe { cache.keep(larger, 20_000) });
        assert!(cache.zero_behind());
        cache.trim();
        cache.trim();
        assert_eq!(cache.kept_bytes(), 0);
        // SAFETY: small is ours again; larger went back to malloc with the trim.
        unsafe { libc::free(small.as_ptr().cast()) };
    }

    #[test]
    fn keeps_few_larger_sizes_and_only_those_asked_for_again() {
        let cache = MallocBlocks::new();
        cache.set_limit(64 << 20);
        let sizes: Vec<u64> = (0..=MAX_LARGER_SIZES as u64)
            .map(|i| 8200 + 16 * i)
            .collect();
        for capacity in &sizes[..MAX_LARGER_SIZES] {
            assert!(unsafe { cache.keep(block(*capacity), *capacity) });
        }
        let (extra, extra_size) = (block(sizes[MAX_LARGER_SIZES]), sizes[MAX_LARGER_SIZES]);
        let kept = cache.kept_bytes();
        assert!(
            !unsafe { cache.keep(extra, extra_size) },
            "no room for another size"
        );
        assert_eq!(cache.kept_bytes(), kept);
        cache.trim(); // ends the period the classes were made in
        let again = cache.take(sizes[0]).unwrap(); // one size is asked for again
        assert!(unsafe { cache.keep(again, sizes[0]) });
        cache.trim(); // the sizes only freed go
        assert_eq!(cache.kept_bytes(), sizes[0]);
        assert!(unsafe { cache.keep(extra, extra_size) }, "room again");
        cache.set_limit(0);
        assert_eq!(cache.kept_bytes(), 0);
    }

    #[test]
    fn the_lists_of_a_burst_go_with_its_blocks() {
        let cache = MallocBlocks::new();
        cache.set_limit(64 << 20);
        let burst = 100_000;
        for _ in 0..burst {
            assert!(unsafe { cache.keep(block(16), 16) });
        }
        cache.trim(); // the period of the burst ends
        assert_eq!(
            cache.kept_bytes(),
            burst as u64 * MallocBlocks::block_size(16)
        );
        cache.trim(); // all sat idle through a period: given back
        assert_eq!(cache.kept_bytes(), 0);
        let capacity = cache.small[0].lock().kept.capacity();
        assert!(
            capacity < 16,
            "a list of {capacity} addresses kept after its blocks went"
        );
    }

    #[test]
    fn a_class_in_steady_use_keeps_only_what_its_takers_need() {
        let cache = MallocBlocks::new();
        cache.set_limit(64 << 20);
        let (capacity, size) = (12 << 10, MallocBlocks::block_size(12 << 10));
        for _ in 0..100 {
            assert!(unsafe { cache.keep(block(capacity), capacity) }); // a burst of frees
        }
        cache.trim(); // the period they came in ends: none sat idle through a whole one yet
        assert_eq!(cache.kept_bytes(), 100 * size);
        for period in 0..3 {
            // One allocation of the size a period, freed again: one block is all it needs.
            let again = cache.take(capacity).unwrap();
            assert!(unsafe { cache.keep(again, capacity) });
            cache.trim();
            assert_eq!(cache.kept_bytes(), size, "period {period}");
        }
        cache.trim(); // a period without a take: the last one goes too
        assert_eq!(cache.kept_bytes(), 0);
        assert!(!cache.has_unzeroed());
        assert!(cache.larger.lock().is_empty());
    }

    #[test]
    fn trim_gives_back_only_classes_unused_for_a_whole_period() {
        let cache = MallocBlocks::new();
        cache.set_limit(1 << 20);
        assert!(unsafe { cache.keep(block(64), 64) });
        assert!(unsafe { cache.keep(block(20_000), 20_000) });
        cache.trim(); // the period in which they were kept ends: still recent
        assert_eq!(cache.kept_bytes(), 72 + 20_008);
        assert!(unsafe { cache.keep(block(32), 32) });
        cache.trim(); // the first two sat unused through that period, 32's class did not
        assert_eq!(cache.kept_bytes(), 40);
        assert!(cache.larger.lock().is_empty());
        cache.trim();
        assert_eq!(cache.kept_bytes(), 0);
    }
}
