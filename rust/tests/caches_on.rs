//! The allocator with its caches on, as it runs in a JVM. The unit tests run `memory` with them
//! off: the reuse limit is process-wide, and some of those tests count what goes back to
//! `malloc`. This file is a test binary of its own, so the caches it turns on are its alone.
//! Each test takes its own capacities: blocks kept for one are no other test's. They run one at
//! a time (see `caches_on`), as some count what the caches keep.

use directmem::last_freed;
use directmem::memory::{self, FreedBy};
use directmem::reuse::REUSE;
use std::ptr::NonNull;
use std::sync::{Mutex, MutexGuard, Once};
use std::thread;

/// Turns the caches on as a JVM with a 256 MiB budget does; the test holds the guard returned
/// until it ends, so that no other test keeps or takes blocks meanwhile.
fn caches_on() -> MutexGuard<'static, ()> {
    static ON: Once = Once::new();
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    ON.call_once(|| {
        REUSE.set_limit_for_budget(256 << 20);
        last_freed::set_limit(REUSE.limit());
    });
    assert!(REUSE.keeps_anything());
    guard
}

/// Allocates `capacity` bytes, checks that they read zero, and writes `value` over them all.
fn allocate_written(capacity: u64, value: u8) -> NonNull<u8> {
    let ptr = memory::allocate_zeroed(capacity).expect("allocation");
    // SAFETY: the block is ours and `capacity` bytes long.
    let bytes = unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), capacity as usize) };
    assert!(
        bytes.iter().all(|b| *b == 0),
        "{capacity} bytes handed out not zeroed"
    );
    bytes.fill(value);
    ptr
}

fn free(ptr: NonNull<u8>, capacity: u64, by: FreedBy) {
    // SAFETY: every caller frees a block from `allocate_zeroed` of that capacity, once.
    unsafe { memory::free(ptr, capacity, by) };
}

/// Frees `ptr` on another thread, as the reclaimer frees dropped buffers.
fn free_on_the_reclaimer(ptr: NonNull<u8>, capacity: u64) {
    let address = ptr.as_ptr() as usize;
    thread::spawn(move || {
        let ptr = NonNull::new(address as *mut u8).expect("non-null");
        free(ptr, capacity, FreedBy::Reclaimer);
        memory::after_frees(FreedBy::Reclaimer);
    })
    .join()
    .expect("the freeing thread");
}

/// Runs `test` on a new thread: `last_freed` keeps one block per thread.
fn on_a_thread_of_its_own(test: impl FnOnce() + Send + 'static) {
    let _one_at_a_time = caches_on();
    thread::spawn(test).join().expect("the test's thread");
}

/// A block of `capacity` bytes freed by its caller is kept for the next allocation of
/// `capacity` bytes (on that thread, below the mapping threshold), not of the `others`, and
/// comes back zeroed.
fn kept_for_its_capacity_only(capacity: u64, others: [u64; 2]) {
    on_a_thread_of_its_own(move || {
        let kept = allocate_written(capacity, 0xAB);
        free(kept, capacity, FreedBy::Caller);
        let blocks = others.map(|other| allocate_written(other, 0xCD));
        assert!(!blocks.contains(&kept), "a block kept for another capacity");
        assert_eq!(allocate_written(capacity, 0xEF), kept, "the kept block");
        free(kept, capacity, FreedBy::Caller);
        for (block, other) in blocks.into_iter().zip(others) {
            free(block, other, FreedBy::Caller);
        }
    });
}

#[test]
fn a_mid_size_block_its_thread_freed_comes_back_zeroed_for_that_capacity_only() {
    kept_for_its_capacity_only(40 << 10, [36 << 10, 44 << 10]);
}

#[test]
fn a_mapped_block_comes_back_zeroed_for_its_length_only() {
    let page = memory::page_size(); // whole pages: lengths in steps of less would round alike
    kept_for_its_capacity_only(3 << 20, [(3 << 20) - page, (3 << 20) + page]);
}

/// A block past the mapping threshold aligned to at most a page is a plain mapped block: its
/// free keeps it for the next allocation of its length, aligned or not, as any other.
#[test]
fn a_mapped_block_aligned_to_a_page_is_kept_as_any_other() {
    let _one_at_a_time = caches_on();
    let page = memory::page_size();
    let capacity = (5 << 20) + 100;
    let ptr = memory::allocate_aligned(capacity, page).expect("allocation");
    assert_eq!(ptr.as_ptr() as u64 % page, 0, "aligned");
    // SAFETY: the block is ours and `capacity` bytes long.
    unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), capacity as usize) }.fill(0xAB);
    // SAFETY: from `allocate_aligned` with that capacity and alignment, freed once.
    unsafe { memory::free_aligned(ptr, capacity, page, FreedBy::Caller) };
    let again = allocate_written(capacity, 0xCD);
    assert_eq!(again, ptr, "the kept block");
    free(again, capacity, FreedBy::Caller);
    let aligned = memory::allocate_aligned(capacity, 4096.min(page)).expect("allocation");
    assert_eq!(
        aligned, ptr,
        "the kept block, for an aligned allocation too"
    );
    // SAFETY: as above.
    unsafe { memory::free_aligned(aligned, capacity, 4096.min(page), FreedBy::Caller) };
}

#[test]
fn a_small_block_the_reclaimer_freed_comes_back_zeroed() {
    on_a_thread_of_its_own(|| {
        let capacity = 1000;
        let kept = allocate_written(capacity, 0xAB);
        free_on_the_reclaimer(kept, capacity);
        assert_eq!(allocate_written(capacity, 0xCD), kept, "the kept block");
        free(kept, capacity, FreedBy::Caller);
    });
}

#[test]
fn a_larger_block_the_reclaimer_freed_comes_back_zeroed_behind_or_by_its_taker() {
    on_a_thread_of_its_own(|| {
        let capacity = 24 << 10;
        let kept = allocate_written(capacity, 0xAB);
        free_on_the_reclaimer(kept, capacity);
        // Not zeroed behind yet: its taker zeroes it.
        let again = allocate_written(capacity, 0xCD);
        assert_eq!(again, kept, "the kept block");
        free_on_the_reclaimer(again, capacity);
        // Zeroed behind, as the zeroer thread does: taken as it is.
        while REUSE.malloced.zero_behind() {}
        // A mark no zeroing would leave: the taker does not zero the block a second time.
        // SAFETY: the block is kept, and nobody else touches it in this test.
        unsafe { *kept.as_ptr() = 0x11 };
        let again = memory::allocate_zeroed(capacity).expect("allocation");
        assert_eq!(again, kept, "the kept block");
        // SAFETY: the block is ours and `capacity` bytes long.
        let bytes = unsafe { std::slice::from_raw_parts(again.as_ptr(), capacity as usize) };
        assert_eq!(bytes[0], 0x11, "zeroed a second time");
        assert!(bytes[1..].iter().all(|b| *b == 0), "zeroed behind");
        free(kept, capacity, FreedBy::Caller);
    });
}

/// Before: a refused mapping threw OutOfMemoryError while the cache kept blocks whose memory
/// counts against the limit that refused it (`vm.overcommit_memory=2`, `RLIMIT_AS`; review).
#[test]
fn a_refused_mapping_is_retried_once_the_caches_gave_their_blocks_back() {
    let _one_at_a_time = caches_on();
    let (kept, asked) = (6 << 20, 7 << 20);
    let nothing_kept = || {
        // The second trim gives back the malloc blocks the first one found (see `Reuse::trim`).
        REUSE.trim(std::time::Duration::ZERO);
        REUSE.trim(std::time::Duration::ZERO);
        assert_eq!(REUSE.kept_bytes() + REUSE.malloced.kept_bytes(), 0);
    };
    nothing_kept(); // what earlier tests left
    let block = allocate_written(kept, 0xAB);
    free(block, kept, FreedBy::Caller);
    assert_eq!(REUSE.kept_bytes(), kept, "kept");
    memory::arm_map_failure();
    let ptr = memory::allocate_zeroed(asked).expect("mapped on the second try");
    assert_eq!(REUSE.kept_bytes(), 0, "the kept block went back");
    free(ptr, asked, FreedBy::Caller);
    // Nothing kept: the refusal stands.
    nothing_kept();
    memory::arm_map_failure();
    assert!(memory::allocate_zeroed(asked).is_none());
}
