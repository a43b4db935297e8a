//! Native blocks behind the buffers: zero-filled allocation, free and fill.
//!
//! Small blocks come from `calloc`. Large blocks are mapped directly: the kernel hands out
//! zero pages, so zeroing costs nothing until a page is touched, and `munmap` gives the memory
//! back to the OS at once instead of leaving it in a malloc arena, except for the bounded few
//! freed blocks kept mapped for reuse (see `reuse`: page faults cost more than zeroing).

use crate::ledger::Reservation;
use crate::reuse::REUSE;
use std::ptr::NonNull;

/// Blocks of at least this many bytes are mapped rather than taken from malloc.
pub const MMAP_THRESHOLD: u64 = 256 * 1024;

/// The largest capacity a Java buffer can have.
pub const MAX_CAPACITY: u64 = i32::MAX as u64;

/// Where a zero-capacity buffer points: never read or written, never freed.
static EMPTY: u64 = 0;

/// The budget an allocation of `capacity` bytes takes: mapped blocks are whole pages.
pub fn reservation_for(capacity: u64) -> Reservation {
    let footprint = if capacity >= MMAP_THRESHOLD {
        round_up_to_page(capacity)
    } else {
        capacity
    };
    Reservation {
        capacity,
        footprint,
    }
}

/// Allocates `capacity` zero-filled bytes. `None` when the OS refuses.
pub fn allocate_zeroed(capacity: u64) -> Option<NonNull<u8>> {
    if capacity == 0 {
        return NonNull::new(&EMPTY as *const u64 as *mut u8);
    }
    let len = usize::try_from(capacity).ok()?;
    if fail_next_allocation() {
        return None;
    }
    if capacity >= MMAP_THRESHOLD {
        let len = round_up_to_page(capacity);
        REUSE.take(len).or_else(|| map(len))
    } else {
        // SAFETY: calloc with a non-zero size; a null result is handled.
        NonNull::new(unsafe { libc::calloc(1, len) }.cast())
    }
}

/// Frees a block from `allocate_zeroed`.
///
/// # Safety
/// `ptr` and `capacity` must come from one `allocate_zeroed` call, and the block must not be
/// used or freed again afterwards.
pub unsafe fn free(ptr: NonNull<u8>, capacity: u64) {
    if capacity == 0 {
        return;
    }
    if capacity >= MMAP_THRESHOLD {
        let len = round_up_to_page(capacity);
        if !REUSE.keep(ptr, len) {
            unmap(ptr, len);
        }
    } else {
        libc::free(ptr.as_ptr().cast());
    }
}

/// Maps `len` bytes of fresh zero pages. `None` when the OS refuses.
pub(crate) fn map(len: u64) -> Option<NonNull<u8>> {
    // SAFETY: an anonymous private mapping has no preconditions; failure is MAP_FAILED.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            usize::try_from(len).ok()?,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return None;
    }
    NonNull::new(ptr.cast())
}

/// Gives a mapping back to the OS.
///
/// # Safety
/// `ptr..ptr+len` must be one mapping from [`map`], not used afterwards.
pub(crate) unsafe fn unmap(ptr: NonNull<u8>, len: u64) {
    if libc::munmap(ptr.as_ptr().cast(), len as usize) != 0 {
        log::error!(
            "munmap of {len} bytes at {ptr:p} failed: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Sets `len` bytes at `ptr` to `value`.
///
/// # Safety
/// `ptr..ptr+len` must be writable memory owned by the caller.
pub unsafe fn fill(ptr: NonNull<u8>, len: usize, value: u8) {
    std::ptr::write_bytes(ptr.as_ptr(), value, len);
}

pub fn page_size() -> u64 {
    use once_cell::sync::Lazy;
    static PAGE: Lazy<u64> = Lazy::new(|| {
        // SAFETY: sysconf has no preconditions.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        u64::try_from(size).ok().filter(|s| *s > 0).unwrap_or(4096)
    });
    *PAGE
}

fn round_up_to_page(bytes: u64) -> u64 {
    let page = page_size();
    bytes.div_ceil(page) * page
}

thread_local! {
    /// A test hook: when armed, this thread's next allocation fails as if the OS had refused.
    static FAIL_NEXT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Makes the calling thread's next non-empty allocation fail (for fault tests).
pub fn arm_allocation_failure() {
    FAIL_NEXT.with(|f| f.set(true));
}

fn fail_next_allocation() -> bool {
    FAIL_NEXT.with(|f| f.replace(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_zeroed_fill_free(capacity: u64) {
        let ptr = allocate_zeroed(capacity).expect("allocation");
        let len = capacity as usize;
        // SAFETY: the block is ours and `len` bytes long.
        unsafe {
            let bytes = std::slice::from_raw_parts(ptr.as_ptr(), len);
            assert!(bytes.iter().all(|b| *b == 0), "not zeroed at {capacity}");
            fill(ptr, len, 0xAB);
            let bytes = std::slice::from_raw_parts(ptr.as_ptr(), len);
            assert!(bytes.iter().all(|b| *b == 0xAB));
            free(ptr, capacity);
        }
    }

    #[test]
    fn small_and_large_blocks_are_zeroed_fillable_and_freeable() {
        for capacity in [1, 7, 64, 4096, MMAP_THRESHOLD - 1, MMAP_THRESHOLD, 3 << 20] {
            check_zeroed_fill_free(capacity);
        }
    }

    #[test]
    fn reused_small_blocks_are_zeroed_again() {
        for _ in 0..100 {
            check_zeroed_fill_free(1000);
        }
    }

    #[test]
    fn zero_capacity_needs_no_memory() {
        let ptr = allocate_zeroed(0).unwrap();
        // SAFETY: freeing a zero-capacity block is a no-op.
        unsafe { free(ptr, 0) };
        assert_eq!(reservation_for(0).footprint, 0);
    }

    #[test]
    fn mapped_blocks_reserve_whole_pages() {
        let page = page_size();
        assert_eq!(reservation_for(1000).footprint, 1000);
        let r = reservation_for(MMAP_THRESHOLD + 1);
        assert_eq!(r.capacity, MMAP_THRESHOLD + 1);
        assert_eq!(r.footprint, MMAP_THRESHOLD + page);
    }

    #[test]
    fn armed_failure_fails_exactly_once() {
        arm_allocation_failure();
        assert!(allocate_zeroed(16).is_none());
        let ptr = allocate_zeroed(16).expect("the next allocation works");
        // SAFETY: just allocated with this capacity.
        unsafe { free(ptr, 16) };
    }
}
