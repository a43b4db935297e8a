//! Freed small blocks (up to [`MAX_SMALL`] bytes) kept for reuse, a bounded few per size.
//!
//! Measured (64-byte buffers dropped through a 64 MiB budget, `perf`): with every block
//! going back to `malloc`, glibc's `_int_malloc`/`calloc` on the allocating thread and `free` on
//! the reclaimer thread took a fifth of all CPU, because each block is freed by another thread
//! than the one that allocated it, which defeats malloc's per-thread caches. Here a freed block
//! waits in a list of its size class (16-byte steps, as malloc's chunks) for the next
//! allocation of that class, which zeroes only the bytes it hands out. Blocks beyond the limit go
//! back to `malloc`, and so does every block of a class left unused for a whole trim period.

use parking_lot::Mutex;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// The largest block kept; larger ones always go back to `malloc`.
pub const MAX_SMALL: u64 = 4096;
const STEP: u64 = 16;
/// glibc's chunk header on x86-64: a chunk of n bytes holds n - 8.
const HEADER: u64 = 8;
const CLASSES: usize = (MAX_SMALL / STEP) as usize;

struct Class {
    kept: Vec<usize>,
    /// The trim period in which a block of this class was last kept or taken.
    used_in: u64,
}

/// The small-block cache; the process uses one, inside `reuse::REUSE`.
pub struct SmallBlocks {
    classes: [Mutex<Class>; CLASSES],
    bytes: AtomicU64,
    limit: AtomicU64,
    /// Counts trims, so that a class can tell it sat unused through a whole period cheaply.
    period: AtomicU64,
}

impl SmallBlocks {
    /// A cache that keeps nothing until [`SmallBlocks::set_limit`].
    pub const fn new() -> Self {
        SmallBlocks {
            classes: [const {
                Mutex::new(Class {
                    kept: Vec::new(),
                    used_in: 0,
                })
            }; CLASSES],
            bytes: AtomicU64::new(0),
            limit: AtomicU64::new(0),
            period: AtomicU64::new(0),
        }
    }

    /// The size class of a block of `capacity` bytes (1 to [`MAX_SMALL`]): its index and the size
    /// of every block in it.
    ///
    /// Class sizes are 24, 40, 56 ...: what a glibc chunk of 32, 48, 64 ... bytes can hold
    /// (16-byte steps, an 8-byte header), so that rounding up to the class costs no memory.
    fn class_of(capacity: u64) -> Option<(usize, u64)> {
        if capacity == 0 || capacity > MAX_SMALL {
            return None;
        }
        let index = ((capacity + HEADER - 1) / STEP).saturating_sub(1) as usize;
        Some((index, Self::class_size(index)))
    }

    fn class_size(index: usize) -> u64 {
        (index as u64 + 1) * STEP + HEADER
    }

    /// The size to allocate for a block of `capacity` bytes, so that any block of its class
    /// serves any capacity of that class.
    pub fn block_size(capacity: u64) -> u64 {
        Self::class_of(capacity).map_or(capacity, |(_, size)| size)
    }

    /// Sets how many bytes of freed small blocks may be kept; zero turns this cache off. Blocks
    /// kept beyond the new limit go back to `malloc` at once.
    pub fn set_limit(&self, bytes: u64) {
        self.limit.store(bytes, Ordering::Relaxed);
        if self.bytes.load(Ordering::Relaxed) > bytes {
            self.release_classes(|_| true);
        }
    }

    /// Bytes of freed small blocks kept right now.
    pub fn kept_bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Takes a kept block of `capacity`'s class, its first `capacity` bytes zeroed, if there is one.
    pub fn take(&self, capacity: u64) -> Option<NonNull<u8>> {
        let (index, size) = Self::class_of(capacity)?;
        if self.bytes.load(Ordering::Relaxed) == 0 {
            return None; // the usual case of explicit frees: no lock taken
        }
        let address = {
            let mut class = self.classes[index].lock();
            let address = class.kept.pop()?;
            class.used_in = self.period.load(Ordering::Relaxed);
            address
        };
        self.bytes.fetch_sub(size, Ordering::Relaxed);
        let ptr = NonNull::new(address as *mut u8)?;
        // SAFETY: a block of `size` >= `capacity` bytes that nobody else holds.
        unsafe { std::ptr::write_bytes(ptr.as_ptr(), 0, capacity as usize) };
        Some(ptr)
    }

    /// Keeps a freed block of `capacity` bytes (allocated with [`SmallBlocks::block_size`]) if it
    /// fits under the limit; `false` when the caller must free it.
    pub fn keep(&self, ptr: NonNull<u8>, capacity: u64) -> bool {
        let Some((index, size)) = Self::class_of(capacity) else {
            return false;
        };
        // Counted before it is kept, so that racing threads cannot overshoot the limit together.
        let limit = self.limit.load(Ordering::Relaxed);
        if self.bytes.fetch_add(size, Ordering::Relaxed) + size > limit {
            self.bytes.fetch_sub(size, Ordering::Relaxed);
            return false;
        }
        let mut class = self.classes[index].lock();
        class.kept.push(ptr.as_ptr() as usize);
        class.used_in = self.period.load(Ordering::Relaxed);
        true
    }

    /// Called once per trim period: gives back to `malloc` every block of the classes that were
    /// not used since the previous call.
    pub fn trim(&self) {
        let ended = self.period.fetch_add(1, Ordering::Relaxed);
        self.release_classes(|class| class.used_in < ended);
    }

    fn release_classes(&self, stale: impl Fn(&Class) -> bool) {
        for (index, class) in self.classes.iter().enumerate() {
            let released: Vec<usize> = {
                let mut class = class.lock();
                if class.kept.is_empty() || !stale(&class) {
                    continue;
                }
                std::mem::take(&mut class.kept)
            };
            let size = Self::class_size(index);
            self.bytes
                .fetch_sub(size * released.len() as u64, Ordering::Relaxed);
            for address in released {
                // SAFETY: a block from malloc that the cache alone held.
                unsafe { libc::free(address as *mut libc::c_void) };
            }
        }
    }
}

impl Default for SmallBlocks {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(capacity: u64) -> NonNull<u8> {
        let size = SmallBlocks::block_size(capacity) as usize;
        // SAFETY: calloc with a non-zero size.
        NonNull::new(unsafe { libc::calloc(1, size) }.cast()).unwrap()
    }

    #[test]
    fn a_kept_block_serves_its_class_zeroed() {
        let cache = SmallBlocks::new();
        cache.set_limit(1 << 20);
        let ptr = block(100);
        assert_eq!(SmallBlocks::block_size(100), 104);
        // SAFETY: the block is 104 bytes and ours.
        unsafe { std::ptr::write_bytes(ptr.as_ptr(), 0xAB, 104) };
        assert!(cache.keep(ptr, 100));
        assert_eq!(cache.kept_bytes(), 104);
        assert!(cache.take(88).is_none(), "88 bytes is another class");
        let again = cache.take(104).unwrap();
        assert_eq!(again, ptr);
        // SAFETY: 104 bytes, ours again.
        let bytes = unsafe { std::slice::from_raw_parts(again.as_ptr(), 104) };
        assert!(bytes.iter().all(|b| *b == 0));
        assert_eq!(cache.kept_bytes(), 0);
        // SAFETY: from calloc, held by nobody else.
        unsafe { libc::free(again.as_ptr().cast()) };
    }

    #[test]
    fn classes_are_what_malloc_chunks_hold() {
        let sizes: Vec<u64> = [1, 24, 25, 40, 41, 64, 4095, 4096]
            .iter()
            .map(|c| SmallBlocks::block_size(*c))
            .collect();
        assert_eq!(sizes, [24, 24, 40, 40, 56, 72, 4104, 4104]);
        assert_eq!(SmallBlocks::class_of(4096).unwrap().0, CLASSES - 1);
        assert_eq!(SmallBlocks::block_size(4097), 4097, "not a small block");
    }

    #[test]
    fn keeps_no_more_than_its_limit_nor_large_blocks() {
        let cache = SmallBlocks::new();
        cache.set_limit(72);
        let (a, b) = (block(64), block(16));
        assert!(cache.keep(a, 64));
        assert!(!cache.keep(b, 16), "over the limit");
        assert!(!cache.keep(b, MAX_SMALL + 1), "too large");
        assert_eq!(cache.kept_bytes(), 72);
        cache.set_limit(0);
        assert_eq!(cache.kept_bytes(), 0, "a lower limit gives blocks back");
        assert!(!cache.keep(b, 16), "zero turns it off");
        // SAFETY: b was never kept.
        unsafe { libc::free(b.as_ptr().cast()) };
    }

    #[test]
    fn trim_gives_back_only_classes_unused_for_a_whole_period() {
        let cache = SmallBlocks::new();
        cache.set_limit(1 << 20);
        assert!(cache.keep(block(64), 64));
        cache.trim(); // the period in which it was kept ends: still recent
        assert_eq!(cache.kept_bytes(), 72);
        assert!(cache.keep(block(32), 32));
        cache.trim(); // 64's class sat unused through that period, 32's did not
        assert_eq!(cache.kept_bytes(), 40);
        cache.trim();
        assert_eq!(cache.kept_bytes(), 0);
    }
}
