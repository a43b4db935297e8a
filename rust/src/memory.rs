//! Native blocks behind the buffers: zero-filled allocation, free and fill.
//!
//! Blocks below [`MMAP_THRESHOLD`] come from `malloc`, then are zeroed, with the stores that suit
//! a block in cache or out of it (see `recent_frees`); the last one above 4 KiB each thread
//! freed is kept for its next allocation of that capacity (`last_freed`). Large blocks are
//! mapped directly: the kernel hands out zero pages, so zeroing costs nothing until a page is
//! touched, and `munmap` gives the memory back to the OS at once instead of leaving it in a
//! malloc arena, except for the bounded few freed blocks kept mapped for reuse (see `reuse`:
//! page faults cost more than zeroing). Blocks from malloc that the reclaimer thread frees are
//! kept for reuse too (`reuse_malloc`: malloc serves cross-thread frees badly). Mappings of a
//! [huge page](huge_page_size) and more ask for transparent huge pages (see [`set_huge_pages`]).
//!
//! When the operating system refuses a block while the caches keep freed ones, they give them
//! back and the block is asked for once more (see `retry_with_caches_trimmed`); a mapped block is
//! first looked for in the cache again, where the zeroer thread may be about to put one back
//! (see `kept_or_mapped`).
//!
//! Nothing here assumes a page size: aarch64 kernels use 4, 16 or 64 KiB pages.

use crate::fill::{Stores, Warmth};
use crate::last_freed;
use crate::ledger::Reservation;
use crate::recent_frees;
use crate::reuse::{Reuse, REUSE};
use crate::reuse_malloc::{MallocBlocks, MAX_SMALL};
use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Blocks of at least this many bytes are mapped rather than taken from malloc.
pub const MMAP_THRESHOLD: u64 = 256 * 1024;

/// The largest capacity a Java buffer can have.
pub const MAX_CAPACITY: u64 = i32::MAX as u64;

/// Where a zero-capacity buffer points: never read or written, never freed.
/// Aligned as a malloc block, so that an empty buffer passes any alignment check a block would.
static EMPTY: Empty = Empty(0);

#[repr(C, align(16))]
struct Empty(u8);

/// Who gives a block back, which decides where a block from malloc goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreedBy {
    /// `DirectMemory.free`, most often on the thread that allocated the block: malloc's own
    /// per-thread cache takes it back best.
    Caller,
    /// The reclaimer thread, after the buffer became unreachable: never the allocating thread,
    /// so blocks from malloc are kept for reuse (`reuse_malloc`) rather than freed across
    /// threads.
    Reclaimer,
}

/// The budget an allocation of `capacity` bytes takes: mapped blocks are whole pages. An error
/// for a capacity whose whole pages are beyond `u64::MAX`.
pub fn reservation_for(capacity: u64) -> Result<Reservation, String> {
    let footprint = if capacity >= MMAP_THRESHOLD {
        round_up_to_page(capacity).ok_or_else(|| too_large(capacity))?
    } else {
        capacity
    };
    Ok(Reservation {
        capacity,
        footprint,
    })
}

/// The error for a capacity whose footprint cannot be counted.
fn too_large(capacity: u64) -> String {
    format!("capacity {capacity} takes more than 2^64 bytes with alignment and rounding")
}

/// Why the operating system refused a block: the call that failed, and the error it gave.
#[derive(Debug)]
pub struct Refusal {
    /// `mmap`, `malloc` or `posix_memalign`.
    pub call: &'static str,
    pub error: std::io::Error,
}

impl Refusal {
    /// The refusal of `call`, from `errno`: right after the call, before anything can change it.
    fn last(call: &'static str) -> Refusal {
        Refusal {
            call,
            error: std::io::Error::last_os_error(),
        }
    }

    /// A refusal with a known error number (`posix_memalign` returns its own, a test hook).
    fn with(call: &'static str, errno: i32) -> Refusal {
        Refusal {
            call,
            error: std::io::Error::from_raw_os_error(errno),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed: {}", self.call, self.error)
    }
}

/// Allocates `capacity` zero-filled bytes. `None` when the OS refuses (why:
/// [`try_allocate_zeroed`]).
pub fn allocate_zeroed(capacity: u64) -> Option<NonNull<u8>> {
    try_allocate_zeroed(capacity).ok()
}

/// Allocates `capacity` zero-filled bytes, or says how the OS refused them.
pub fn try_allocate_zeroed(capacity: u64) -> Result<NonNull<u8>, Refusal> {
    if capacity == 0 {
        return Ok(NonNull::from(&EMPTY).cast());
    }
    let mapped = capacity >= MMAP_THRESHOLD;
    let call = if mapped { "mmap" } else { "malloc" };
    if usize::try_from(capacity).is_err() {
        return Err(Refusal::with(call, libc::ENOMEM));
    }
    fail_next_allocation(call)?;
    if mapped {
        let len = round_up_to_page(capacity).ok_or_else(|| Refusal::with(call, libc::ENOMEM))?;
        kept_or_mapped(&REUSE, len)
    } else {
        if capacity > MAX_SMALL {
            if let Some(kept) = last_freed::take(capacity) {
                // SAFETY: out of its slot, the block is ours alone, and nobody else frees it.
                let give_back =
                    GiveBackIfUnwinding::new(|| unsafe { free_to_malloc(kept.as_ptr().cast()) });
                #[cfg(test)]
                panic_if_armed_once_obtained();
                // SAFETY: the block this thread freed last, `capacity` bytes and now ours; still
                // in its cache, so plain stores.
                unsafe { fill(kept, capacity as usize, 0) };
                give_back.defuse();
                return Ok(kept);
            }
        }
        if let Some(kept) = REUSE.malloced.take(capacity) {
            return Ok(kept);
        }
        // Rounded up to its size class, so that the block can be kept for any size of the class.
        // malloc and zero: calloc skips malloc's per-thread cache, which serves the allocate-free
        // loops of DirectMemory.free.
        let len = MallocBlocks::block_size(capacity) as usize;
        let ptr = retried_with_caches_trimmed(|| {
            // SAFETY: malloc with a non-zero size; a null result is handled.
            let ptr = unsafe { libc::malloc(len) };
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| Refusal::last("malloc"))
        })?;
        // SAFETY: just allocated, ours alone until handed out.
        let give_back = GiveBackIfUnwinding::new(|| unsafe { free_to_malloc(ptr.as_ptr().cast()) });
        #[cfg(test)]
        panic_if_armed_once_obtained();
        // Plain stores for small blocks and where the block is likely still in cache, streaming
        // ones elsewhere.
        let stores = if capacity <= MAX_SMALL || recent_frees::is_warm(ptr.as_ptr() as usize) {
            Stores::for_len(capacity as usize)
        } else {
            Stores::Streaming
        };
        // SAFETY: the block is `len` >= `capacity` bytes and ours.
        unsafe { crate::fill::fill(ptr.as_ptr(), capacity as usize, 0, stores) };
        give_back.defuse();
        Ok(ptr)
    }
}

/// A kept block of `len` bytes (whole pages) from `reuse`, else a fresh mapping.
pub(crate) fn kept_or_mapped(reuse: &Reuse, len: u64) -> Result<NonNull<u8>, Refusal> {
    if let Some(kept) = reuse.take(len) {
        return Ok(kept);
    }
    map(len).or_else(|refusal| {
        // Taken again before the trim: the zeroer thread may hold a block of this length, out of
        // the cache's list while it zeroes it, which no trim reaches but a take waits for (the
        // first one may have given up on a slow zeroer, or the zeroer took a block kept since).
        // Before, the refusal stood with that block about to come back (review).
        match reuse.take(len) {
            Some(kept) => Ok(kept),
            None => retry_with_caches_trimmed(reuse, refusal, || map(len)),
        }
    })
}

/// Runs `allocate`, and once more if the operating system refused it (see
/// [`retry_with_caches_trimmed`]).
fn retried_with_caches_trimmed<T>(allocate: impl Fn() -> Result<T, Refusal>) -> Result<T, Refusal> {
    allocate().or_else(|refusal| retry_with_caches_trimmed(&REUSE, refusal, allocate))
}

/// After the operating system refused an allocation, runs `allocate` once more if `reuse` kept
/// blocks, once they went back. Under `vm.overcommit_memory=2` or `RLIMIT_AS` the kept blocks
/// count against the very limit that refused it: before, such an allocation threw
/// `OutOfMemoryError` with up to 64 MiB of freed blocks at hand (review).
fn retry_with_caches_trimmed<T>(
    reuse: &Reuse,
    refusal: Refusal,
    allocate: impl Fn() -> Result<T, Refusal>,
) -> Result<T, Refusal> {
    if reuse.kept_bytes() == 0 && reuse.malloced.kept_bytes() == 0 {
        return Err(refusal);
    }
    // Every kept mapped block, and the malloc blocks idle through the trim period (see
    // `Reuse::trim`).
    reuse.trim(Duration::ZERO);
    allocate()
}

/// Gives a block back when dropped, unless [defused](GiveBackIfUnwinding::defuse) once the block
/// is handed out: between the two, a panic (zeroing it, say) would leave the block allocated for
/// good, outside the budget and every cache (review: only the kept mapped blocks' takers had such
/// a guard). One guard for every path, each with its own way to give the block back.
#[must_use = "dropped at once, it gives back a block about to be handed out"]
pub(crate) struct GiveBackIfUnwinding<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> GiveBackIfUnwinding<F> {
    /// A guard that runs `give_back` unless defused.
    pub(crate) fn new(give_back: F) -> Self {
        GiveBackIfUnwinding(Some(give_back))
    }

    /// The block was handed out: nothing to give back.
    pub(crate) fn defuse(mut self) {
        self.0 = None;
    }
}

impl<F: FnOnce()> Drop for GiveBackIfUnwinding<F> {
    fn drop(&mut self) {
        if let Some(give_back) = self.0.take() {
            give_back();
        }
    }
}

/// Frees a block from `allocate_zeroed`.
///
/// # Safety
/// `ptr` and `capacity` must come from one `allocate_zeroed` call, and the block must not be
/// used or freed again afterwards.
pub unsafe fn free(ptr: NonNull<u8>, capacity: u64, by: FreedBy) {
    if capacity == 0 {
        return;
    }
    if capacity >= MMAP_THRESHOLD {
        // Whole pages below `u64::MAX` for any block: `allocate_zeroed` maps nothing else.
        let Some(len) = round_up_to_page(capacity) else {
            return;
        };
        if !REUSE.keep(ptr, len, Warmth::after_free_by(by)) {
            unmap(ptr, len);
        }
    } else if by == FreedBy::Caller && capacity > MAX_SMALL {
        // Kept for this thread's next allocation of the same capacity, in place of the block
        // it kept before, which goes back to malloc (see `last_freed`).
        let to_free = if REUSE.keeps_anything() {
            last_freed::keep(ptr, capacity)
        } else {
            Some(ptr)
        };
        if let Some(to_free) = to_free {
            recent_frees::freed_here(to_free.as_ptr() as usize);
            free_to_malloc(to_free.as_ptr().cast());
        }
    } else if by == FreedBy::Caller || !REUSE.malloced.keep(ptr, capacity) {
        free_to_malloc(ptr.as_ptr().cast());
    }
}

/// Called after a batch of frees (or a single one): the reclaimer's kept blocks wake the zeroer
/// thread once per batch rather than once per block.
pub fn after_frees(by: FreedBy) {
    if by == FreedBy::Reclaimer {
        REUSE.wake_zeroer_for_malloced();
    }
}

/// Maps `len` bytes of fresh zero pages, or says how the OS refused.
pub(crate) fn map(len: u64) -> Result<NonNull<u8>, Refusal> {
    let len = usize::try_from(len).map_err(|_| Refusal::with("mmap", libc::ENOMEM))?;
    let ptr = map_anonymous(len)?;
    advise_huge_pages(ptr, len);
    NonNull::new(ptr.cast()).ok_or_else(|| Refusal::with("mmap", libc::ENOMEM))
}

/// A new anonymous private read-write mapping of `len` bytes, or how the OS refused it.
fn map_anonymous(len: usize) -> Result<*mut libc::c_void, Refusal> {
    if FAIL_NEXT_MAP.with(|f| f.replace(false)) {
        return Err(Refusal::with("mmap", libc::ENOMEM));
    }
    // SAFETY: an anonymous private mapping has no preconditions; failure is MAP_FAILED.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        Err(Refusal::last("mmap"))
    } else {
        Ok(ptr)
    }
}

/// Where the kernel says how large a transparent huge page is.
const HPAGE_PMD_SIZE: &str = "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size";

/// The size of a transparent huge page: what one page-middle-directory entry maps. 2 MiB on
/// x86-64 and on aarch64 with 4 KiB pages, but 32 MiB with 16 KiB pages and 512 MiB with 64 KiB
/// ones, so it is read from the kernel. Without that file (no transparent huge pages, so the
/// advice is refused anyway): a page's worth of 8-byte page-table entries, each mapping a page.
pub fn huge_page_size() -> u64 {
    use once_cell::sync::Lazy;
    static HUGE: Lazy<u64> = Lazy::new(|| {
        std::fs::read_to_string(HPAGE_PMD_SIZE)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|size| size.is_power_of_two() && *size > page_size())
            .unwrap_or_else(|| page_size() * (page_size() / 8))
    });
    *HUGE
}

/// Whether mappings of a [huge page](huge_page_size) and more ask for transparent huge pages.
static HUGE_PAGES: AtomicBool = AtomicBool::new(true);

/// Turns the huge-page advice for new mappings on or off (`-Ddirectmem.hugePages`).
///
/// Measured on our machines (KVM guests), writing one byte per page of a fresh mapping costs
/// 15 ms at 16 MiB and 57 ms at 64 MiB with 4 KiB pages (a fault each, about 3.5 us), against
/// 2.5 ms and 10 ms with huge pages (one fault per 2 MiB, zeroed in the kernel). The cost: a
/// write anywhere in a huge page's aligned range makes all of it resident, so a sparsely used
/// buffer can hold up to its whole capacity, never more: what `allocateDirect`, which zeroes
/// every page, always holds.
pub fn set_huge_pages(on: bool) {
    HUGE_PAGES.store(on, Ordering::Relaxed);
}

/// Asks the kernel to back a fresh mapping with huge pages, where it is large enough to hold
/// one. Only advice: the kernel may have huge pages turned off, or none to spare, and then
/// faults in small pages as before, so a failure is ignored. Linux aligns mappings whose length
/// is a multiple of the huge page (seen on 6.18 with 2 MiB); others get huge pages only in the
/// aligned ranges they happen to contain.
fn advise_huge_pages(ptr: *mut libc::c_void, len: usize) {
    if HUGE_PAGES.load(Ordering::Relaxed) && len as u64 >= huge_page_size() {
        // SAFETY: advice on a mapping the caller just made; it changes no contents.
        unsafe { libc::madvise(ptr, len, libc::MADV_HUGEPAGE) };
    }
}

/// Gives a mapping back to the OS: unmaps it, or, where that fails, drops its pages.
///
/// # Safety
/// `ptr..ptr+len` must be one mapping from [`map`] or `map_aligned`, not used afterwards.
pub(crate) unsafe fn unmap(ptr: NonNull<u8>, len: u64) {
    let Err(e) = munmap(ptr.as_ptr().cast(), len as usize) else {
        return;
    };
    // munmap fails (ENOMEM) where it must split a mapping the kernel merged with its neighbours
    // and the process is at vm.max_map_count. The budget no longer counts the block, so its pages
    // go back all the same: MADV_DONTNEED never splits a mapping. The address range stays mapped,
    // holding nothing.
    if libc::madvise(ptr.as_ptr().cast(), len as usize, libc::MADV_DONTNEED) == 0 {
        static DROPPED: AtomicBool = AtomicBool::new(false);
        log_give_back_failure(
            &DROPPED,
            format_args!(
                "munmap of {len} bytes at {ptr:p} failed ({e}); its pages were dropped instead, \
                 its address range stays mapped"
            ),
        );
    } else {
        static KEPT: AtomicBool = AtomicBool::new(false);
        log_give_back_failure(
            &KEPT,
            format_args!(
                "munmap of {len} bytes at {ptr:p} failed ({e}), and so did dropping its pages \
                 ({}): they stay resident outside the budget",
                std::io::Error::last_os_error()
            ),
        );
    }
}

/// `munmap`, with its error.
///
/// # Safety
/// As `munmap`: `ptr..ptr+len` must be page-aligned and used by nothing afterwards.
unsafe fn munmap(ptr: *mut libc::c_void, len: usize) -> std::io::Result<()> {
    #[cfg(test)]
    if tests::unmap_fails_if_armed() {
        return Err(std::io::Error::from_raw_os_error(libc::ENOMEM));
    }
    if libc::munmap(ptr, len) == 0 {
        #[cfg(test)]
        UNMAPPED_HERE.with(|u| u.set(u.get() + len as u64));
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Logs a failure to give memory back to the OS: a warning the first time for each kind
/// (`warned`), at debug level after, as one that keeps happening (a process at
/// vm.max_map_count) would log at every free.
fn log_give_back_failure(warned: &AtomicBool, message: std::fmt::Arguments) {
    if warned.swap(true, Ordering::Relaxed) {
        log::debug!("{message}");
    } else {
        log::warn!("{message} (further ones at debug level)");
    }
}

/// Whether the background thread may have malloc give its free memory back to the OS
/// (`-Ddirectmem.trimMalloc`, on by default; see `heap_trim`).
static TRIM_MALLOC: AtomicBool = AtomicBool::new(true);

pub fn set_trim_malloc(on: bool) {
    TRIM_MALLOC.store(on, Ordering::Relaxed);
}

pub fn trims_malloc() -> bool {
    TRIM_MALLOC.load(Ordering::Relaxed)
}

/// Bytes handed to malloc's `free` so far: what a trim can give back (see `heap_trim`). Each
/// thread adds its frees here in steps of at least [`TO_MALLOC_STEP`], so that a free writes no
/// cache line that other threads write too; the rest when the thread ends.
static GIVEN_TO_MALLOC: AtomicU64 = AtomicU64::new(0);
const TO_MALLOC_STEP: u64 = 64 << 10;

/// A thread's frees to malloc not yet added to [`GIVEN_TO_MALLOC`]: added when the thread ends,
/// so that threads that each free less than a step (a thread per request) still count.
struct GivenHere(Cell<u64>);

impl Drop for GivenHere {
    fn drop(&mut self) {
        GIVEN_TO_MALLOC.fetch_add(self.0.get(), Ordering::Relaxed);
    }
}

thread_local! {
    static GIVEN_HERE: GivenHere = const { GivenHere(Cell::new(0)) };
}

/// Gives a block back to malloc, counted in [`given_to_malloc`] at the size malloc gave it (a
/// 1-byte block is 24 bytes to malloc), which is what a trim can get back.
///
/// # Safety
/// `ptr` must come from `malloc`, `calloc` or `posix_memalign`, and not be used or freed again
/// afterwards.
pub(crate) unsafe fn free_to_malloc(ptr: *mut libc::c_void) {
    #[cfg(test)]
    FREED_HERE.with(|f| f.set(f.get() + 1));
    let bytes = libc::malloc_usable_size(ptr) as u64;
    libc::free(ptr);
    note_given_to_malloc(bytes);
}

/// Counts `bytes` just freed to malloc (see [`given_to_malloc`]).
pub(crate) fn note_given_to_malloc(bytes: u64) {
    let counted = GIVEN_HERE.try_with(|here| {
        let total = here.0.get().saturating_add(bytes);
        if total >= TO_MALLOC_STEP {
            GIVEN_TO_MALLOC.fetch_add(total, Ordering::Relaxed);
            here.0.set(0);
        } else {
            here.0.set(total);
        }
    });
    if counted.is_err() {
        // The thread is ending and its count was added already (another thread-local's
        // destructor freeing, as `last_freed`'s does): no step to wait for.
        GIVEN_TO_MALLOC.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// Bytes directmem handed to malloc's `free` so far, by frees and by its caches going idle: a
/// counter that only grows.
pub fn given_to_malloc() -> u64 {
    GIVEN_TO_MALLOC.load(Ordering::Relaxed)
}

/// Asks glibc to give the free memory of its heaps back to the OS (`malloc_trim`), as `jcmd
/// System.trim_native_heap` does: blocks below [`MMAP_THRESHOLD`] go back to malloc, which keeps
/// their pages. Returns whether any memory went back.
pub fn trim_malloc_heaps() -> bool {
    // SAFETY: malloc_trim has no preconditions; 0 keeps no padding at the top of the heap.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Sets `len` bytes at `ptr` to `value`, bypassing the cache for ranges it cannot hold.
///
/// # Safety
/// `ptr..ptr+len` must be writable memory owned by the caller.
pub unsafe fn fill(ptr: NonNull<u8>, len: usize, value: u8) {
    crate::fill::fill(ptr.as_ptr(), len, value, Stores::for_len(len));
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

/// `bytes` rounded up to whole pages; `None` beyond `u64::MAX`.
fn round_up_to_page(bytes: u64) -> Option<u64> {
    bytes.checked_next_multiple_of(page_size())
}

// --- aligned blocks (DirectMemory.allocateDirectAligned) --------------------------------------

/// The largest alignment `allocate_aligned` accepts: 1 MiB, far above what `O_DIRECT` or SIMD
/// code asks for (256 pages of 4 KiB, 16 of 64 KiB).
pub const MAX_ALIGNMENT: u64 = 1 << 20;

/// Alignment every `malloc`/`calloc` block already has with glibc on the supported platforms:
/// twice a pointer's size on x86-64 and aarch64 alike (a test allocates with it and checks).
const MALLOC_ALIGNMENT: u64 = 16;

/// How an aligned block is obtained, which decides how it is freed and what it costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AlignedKind {
    /// Any block would do: the plain path of `allocate_zeroed`.
    Plain,
    /// `posix_memalign` then zeroing: small blocks, alignment up to a page.
    Memalign,
    /// An anonymous mapping, trimmed to start on the alignment: alignments above a page.
    Mapped,
}

fn aligned_kind(capacity: u64, alignment: u64) -> AlignedKind {
    // malloc's blocks start on 16 bytes, and the plain path's blocks from the mapping threshold
    // on are mappings, which start on a page (kept ones too): there its cache serves an aligned
    // allocation as any other (before, each such one, O_DIRECT's 4 KiB included, was mapped
    // afresh and unmapped at its free).
    if alignment <= MALLOC_ALIGNMENT || (capacity >= MMAP_THRESHOLD && alignment <= page_size()) {
        AlignedKind::Plain
    } else if alignment > page_size() {
        AlignedKind::Mapped
    } else {
        AlignedKind::Memalign
    }
}

/// Whether a block of `capacity` bytes at `alignment` is a mapping of its own (unmapped, or kept
/// mapped, at its free) rather than a block from malloc: from the mapping threshold on, and at
/// any size but 0 for an alignment above a page. Read from `aligned_kind`, which decides how the
/// block was allocated, so that the two cannot drift apart.
pub fn is_mapped(capacity: u64, alignment: u64) -> bool {
    match aligned_kind(capacity, alignment) {
        AlignedKind::Plain => capacity >= MMAP_THRESHOLD,
        AlignedKind::Memalign => false,
        AlignedKind::Mapped => capacity > 0, // an empty block is no mapping, never freed
    }
}

/// Checks an alignment: a power of two from 1 to `MAX_ALIGNMENT`.
pub fn check_alignment(alignment: u64) -> Result<(), String> {
    if alignment.is_power_of_two() && alignment <= MAX_ALIGNMENT {
        Ok(())
    } else {
        Err(format!(
            "alignment must be a power of two from 1 to {MAX_ALIGNMENT}: {alignment}"
        ))
    }
}

/// The budget an aligned allocation takes: as `reservation_for`, plus, for `posix_memalign`
/// blocks, the alignment itself (the most padding the allocator may have to add). An error for
/// a footprint beyond `u64::MAX`.
pub fn reservation_for_aligned(capacity: u64, alignment: u64) -> Result<Reservation, String> {
    let footprint = match aligned_kind(capacity, alignment) {
        AlignedKind::Plain => return reservation_for(capacity),
        _ if capacity == 0 => Some(0),
        AlignedKind::Memalign => capacity.checked_add(alignment),
        AlignedKind::Mapped => round_up_to_page(capacity),
    };
    Ok(Reservation {
        capacity,
        footprint: footprint.ok_or_else(|| too_large(capacity))?,
    })
}

/// Allocates `capacity` zero-filled bytes starting at a multiple of `alignment` (checked by
/// `check_alignment`), or says how the OS refused them.
pub fn allocate_aligned(capacity: u64, alignment: u64) -> Result<NonNull<u8>, Refusal> {
    #[cfg(test)]
    if PANIC_NEXT.with(|p| p.replace(false)) {
        panic!("armed by a test");
    }
    let kind = aligned_kind(capacity, alignment);
    if kind == AlignedKind::Plain {
        return try_allocate_zeroed(capacity);
    }
    let call = if kind == AlignedKind::Memalign {
        "posix_memalign"
    } else {
        "mmap"
    };
    if capacity == 0 {
        // Never read, written or freed: any non-null aligned address will do.
        return NonNull::new(alignment as usize as *mut u8)
            .ok_or_else(|| Refusal::with(call, libc::EINVAL));
    }
    fail_next_allocation(call)?;
    let len = usize::try_from(capacity).map_err(|_| Refusal::with(call, libc::ENOMEM))?;
    match kind {
        AlignedKind::Memalign => {
            let ptr = retried_with_caches_trimmed(|| {
                let mut ptr: *mut libc::c_void = std::ptr::null_mut();
                // SAFETY: alignment is a power of two and a multiple of sizeof(void*); ptr is
                // ours.
                let rc = unsafe { libc::posix_memalign(&mut ptr, alignment as usize, len) };
                // posix_memalign returns its error rather than set errno.
                NonNull::new(ptr.cast::<u8>())
                    .filter(|_| rc == 0)
                    .ok_or_else(|| Refusal::with(call, if rc == 0 { libc::ENOMEM } else { rc }))
            })?;
            // SAFETY: just allocated, ours alone until handed out.
            let give_back =
                GiveBackIfUnwinding::new(|| unsafe { free_to_malloc(ptr.as_ptr().cast()) });
            #[cfg(test)]
            panic_if_armed_once_obtained();
            // SAFETY: the block is `len` bytes and ours.
            unsafe { fill(ptr, len, 0) };
            give_back.defuse();
            Ok(ptr)
        }
        _ => retried_with_caches_trimmed(|| map_aligned(capacity, alignment)),
    }
}

/// Maps `alignment - page` bytes more than needed, then unmaps the head before the first
/// aligned address and the tail after the block, so that exactly the block stays mapped and
/// `free_aligned` can unmap it as any other mapped block.
fn map_aligned(capacity: u64, alignment: u64) -> Result<NonNull<u8>, Refusal> {
    let page = page_size();
    let too_large = || Refusal::with("mmap", libc::ENOMEM);
    let len = round_up_to_page(capacity).ok_or_else(too_large)?;
    let slack = alignment.saturating_sub(page);
    let mapped = len.checked_add(slack).ok_or_else(too_large)?;
    let mapped = usize::try_from(mapped).map_err(|_| too_large())?;
    let base = map_anonymous(mapped)?;
    let start = base as usize;
    let aligned = start.next_multiple_of(alignment.max(page) as usize);
    let head = aligned - start;
    let tail = mapped - head - len as usize;
    for (start, trim) in [(start, head), (aligned + len as usize, tail)] {
        if trim == 0 {
            continue;
        }
        // SAFETY: a page-aligned part of the mapping just made, outside the block.
        if let Err(e) = unsafe { munmap(start as *mut libc::c_void, trim) } {
            // Pages never touched hold no memory: only the address range is lost.
            static TRIM: AtomicBool = AtomicBool::new(false);
            log_give_back_failure(
                &TRIM,
                format_args!(
                    "munmap of {trim} bytes trimmed off an aligned mapping failed ({e}); they \
                     stay mapped, untouched"
                ),
            );
        }
    }
    advise_huge_pages(aligned as *mut libc::c_void, len as usize);
    NonNull::new(aligned as *mut u8).ok_or_else(too_large)
}

/// Frees a block from `allocate_aligned`.
///
/// # Safety
/// `ptr`, `capacity` and `alignment` must come from one `allocate_aligned` call, and the block
/// must not be used or freed again afterwards.
pub unsafe fn free_aligned(ptr: NonNull<u8>, capacity: u64, alignment: u64, by: FreedBy) {
    match aligned_kind(capacity, alignment) {
        AlignedKind::Plain => free(ptr, capacity, by),
        _ if capacity == 0 => {}
        AlignedKind::Memalign => free_to_malloc(ptr.as_ptr().cast()),
        AlignedKind::Mapped => {
            // Whole pages below `u64::MAX` for any block: `map_aligned` maps nothing else.
            if let Some(len) = round_up_to_page(capacity) {
                unmap(ptr, len);
            }
        }
    }
}

thread_local! {
    /// A test hook: when armed, this thread's next allocation fails as if the OS had refused,
    /// with this error number.
    static FAIL_NEXT: Cell<Option<i32>> = const { Cell::new(None) };
    /// A test hook: when set, this thread's next `mmap` fails with ENOMEM. In every build, not
    /// only `cfg(test)`: `rust/tests/caches_on.rs`, a test binary of its own that links the
    /// library as built for release, arms it. One thread-local read per `mmap`, a call that
    /// costs microseconds.
    static FAIL_NEXT_MAP: Cell<bool> = const { Cell::new(false) };
}

#[cfg(test)]
thread_local! {
    /// When set, this thread's next `allocate_aligned` panics.
    static PANIC_NEXT: Cell<bool> = const { Cell::new(false) };
    /// Bytes this thread's `munmap` calls gave back.
    static UNMAPPED_HERE: Cell<u64> = const { Cell::new(0) };
    /// When set, this thread's next allocation panics once it holds its block, before zeroing.
    static PANIC_ONCE_OBTAINED: Cell<bool> = const { Cell::new(false) };
    /// Blocks this thread gave back through `free_to_malloc`.
    static FREED_HERE: Cell<u64> = const { Cell::new(0) };
}

/// Makes the calling thread's next non-empty allocation fail (for fault tests), as if the OS had
/// refused it with ENOMEM: before any cache is looked at.
pub fn arm_allocation_failure() {
    arm_allocation_failure_with(libc::ENOMEM);
}

/// As [`arm_allocation_failure`], with the error number `errno`.
pub fn arm_allocation_failure_with(errno: i32) {
    FAIL_NEXT.with(|f| f.set(Some(errno)));
}

/// Makes the calling thread's next `mmap` fail with ENOMEM (for tests): a kept block of the
/// length still serves, and a retry maps.
pub fn arm_map_failure() {
    FAIL_NEXT_MAP.with(|f| f.set(true));
}

/// The refusal armed by [`arm_allocation_failure`], standing for `call`'s, if any.
fn fail_next_allocation(call: &'static str) -> Result<(), Refusal> {
    match FAIL_NEXT.with(|f| f.take()) {
        Some(errno) => Err(Refusal::with(call, errno)),
        None => Ok(()),
    }
}

/// Makes the calling thread's next `allocate_aligned` panic (for tests).
#[cfg(test)]
pub(crate) fn arm_allocation_panic() {
    PANIC_NEXT.with(|p| p.set(true));
}

/// Makes the calling thread's next allocation panic once it holds its block (for tests).
#[cfg(test)]
pub(crate) fn arm_panic_once_obtained() {
    PANIC_ONCE_OBTAINED.with(|p| p.set(true));
}

/// Panics if [`arm_panic_once_obtained`] armed this thread: where an allocation holds a block
/// not yet handed out.
#[cfg(test)]
pub(crate) fn panic_if_armed_once_obtained() {
    if PANIC_ONCE_OBTAINED.with(|p| p.replace(false)) {
        panic!("armed by a test");
    }
}

/// Blocks this thread's `free_to_malloc` calls gave back so far (for tests).
#[cfg(test)]
pub(crate) fn freed_here() -> u64 {
    FREED_HERE.with(|f| f.get())
}

/// Bytes this thread's `munmap` calls gave back so far (for tests).
#[cfg(test)]
pub(crate) fn unmapped_here() -> u64 {
    UNMAPPED_HERE.with(|u| u.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// When set, this thread's next `munmap` fails with ENOMEM, doing nothing.
        static FAIL_NEXT_UNMAP: Cell<bool> = const { Cell::new(false) };
    }

    pub(super) fn unmap_fails_if_armed() -> bool {
        FAIL_NEXT_UNMAP.with(|f| f.replace(false))
    }

    /// Whether any page of `ptr..ptr+len` is resident.
    fn any_page_resident(ptr: NonNull<u8>, len: u64) -> bool {
        let mut residency = vec![0u8; len.div_ceil(page_size()) as usize];
        // SAFETY: a mapping of `len` bytes; the vector has a byte per page.
        let rc =
            unsafe { libc::mincore(ptr.as_ptr().cast(), len as usize, residency.as_mut_ptr()) };
        assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
        residency.iter().any(|r| r & 1 != 0)
    }

    /// Before: a failed munmap was only logged, and the block's pages stayed resident, no
    /// longer counted in the budget (review).
    #[test]
    fn a_failed_unmap_still_gives_the_pages_back() {
        let len = 1 << 20;
        let ptr = map(len).expect("mapping");
        // SAFETY: the mapping is ours and `len` bytes long.
        unsafe { fill(ptr, len as usize, 0xAB) };
        assert!(any_page_resident(ptr, len));
        FAIL_NEXT_UNMAP.with(|f| f.set(true));
        // SAFETY: mapped above; the unmap fails, so the mapping is still ours.
        unsafe { unmap(ptr, len) };
        let resident = any_page_resident(ptr, len);
        // SAFETY: still mapped (the unmap failed), unmapped once for real.
        unsafe { unmap(ptr, len) };
        assert!(
            !resident,
            "pages of a block whose unmap failed are still resident"
        );
    }

    #[test]
    fn a_failed_trim_of_an_aligned_mapping_still_gives_an_aligned_block() {
        let alignment = 4 * page_size();
        FAIL_NEXT_UNMAP.with(|f| f.set(true));
        let ptr = allocate_aligned(4096, alignment).expect("mapping");
        assert!(
            !FAIL_NEXT_UNMAP.with(|f| f.get()),
            "the trims go through the checked munmap"
        );
        assert_eq!(ptr.as_ptr() as u64 % alignment, 0);
        // SAFETY: allocated above, freed once.
        unsafe {
            fill(ptr, 4096, 0x5A);
            free_aligned(ptr, 4096, alignment, FreedBy::Caller);
        }
    }

    #[test]
    fn frees_to_malloc_are_counted_in_steps_of_each_thread() {
        // Other tests free too, so the counter is only known to rise by at least what this
        // thread's frees add up to, once they make a step.
        std::thread::spawn(|| {
            let before = given_to_malloc();
            let capacity = 16 << 10;
            // Counted at malloc's size, a little above the capacity: the last free makes the step.
            // SAFETY: malloc with a non-zero size; the block is freed once.
            let size = unsafe {
                let block = libc::malloc(capacity);
                let size = libc::malloc_usable_size(block) as u64;
                libc::free(block);
                size
            };
            assert!(size >= capacity as u64);
            let count = TO_MALLOC_STEP.div_ceil(size);
            for _ in 0..count {
                // SAFETY: as above.
                unsafe { free_to_malloc(libc::malloc(capacity)) };
            }
            assert_eq!(GIVEN_HERE.with(|h| h.0.get()), 0, "a whole step: added");
            assert!(given_to_malloc() >= before + count * size);
            note_given_to_malloc(1);
            assert_eq!(
                GIVEN_HERE.with(|h| h.0.get()),
                1,
                "less than a step: kept here"
            );
        })
        .join()
        .expect("the counting thread");
    }

    /// Before: blocks freed by their caller were counted at their capacity, a 1-byte one as 1
    /// byte where malloc had 24 to give back (found by review).
    #[test]
    fn a_small_block_freed_by_its_caller_counts_as_malloc_sized_it() {
        std::thread::spawn(|| {
            let ptr = allocate_zeroed(1).expect("allocation");
            // SAFETY: a live block from malloc.
            let usable = unsafe { libc::malloc_usable_size(ptr.as_ptr().cast()) } as u64;
            let before = GIVEN_HERE.with(|h| h.0.get());
            // SAFETY: allocated above with this capacity, freed once.
            unsafe { free(ptr, 1, FreedBy::Caller) };
            let counted = GIVEN_HERE.with(|h| h.0.get()) - before;
            assert!(
                usable >= 24 && counted == usable,
                "{counted} counted for a {usable}-byte block"
            );
        })
        .join()
        .expect("the freeing thread");
    }

    /// Whether `allocate` panicked, as armed once it held its block, and gave that block back
    /// to malloc: one block freed on this thread meanwhile.
    fn panicked_and_gave_the_block_back(allocate: impl FnOnce()) -> bool {
        let freed = freed_here();
        arm_panic_once_obtained();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(allocate)).is_err();
        panicked && freed_here() - freed == 1
    }

    /// Before: only the kept mapped block's taker gave it back on a panic; a block from
    /// `last_freed`, malloc or `posix_memalign` stayed allocated for good, outside the budget
    /// (review). Each on a thread of its own: `last_freed` keeps a block per thread.
    #[test]
    fn a_panic_once_the_block_is_obtained_gives_it_back() {
        let on_a_thread = |test: fn()| std::thread::spawn(test).join().expect("the test thread");
        on_a_thread(|| {
            for capacity in [100, 16 << 10] {
                let allocate = || {
                    let _ = allocate_zeroed(capacity);
                };
                assert!(
                    panicked_and_gave_the_block_back(allocate),
                    "malloc {capacity}"
                );
            }
        });
        on_a_thread(|| {
            let capacity = 16 << 10;
            let ptr = allocate_zeroed(capacity).expect("allocation");
            // SAFETY: allocated above with this capacity; kept, then taken by the allocation.
            assert_eq!(unsafe { last_freed::keep(ptr, capacity) }, None, "kept");
            let allocate = || {
                let _ = allocate_zeroed(capacity);
            };
            assert!(panicked_and_gave_the_block_back(allocate), "last freed");
            assert_eq!(
                last_freed::take(capacity),
                None,
                "taken out before the panic"
            );
        });
        on_a_thread(|| {
            let allocate = || {
                let _ = allocate_aligned(100, 64);
            };
            assert_eq!(aligned_kind(100, 64), AlignedKind::Memalign);
            assert!(panicked_and_gave_the_block_back(allocate), "posix_memalign");
        });
    }

    #[test]
    fn what_a_thread_freed_counts_once_it_ends_even_below_a_step() {
        let before = given_to_malloc();
        std::thread::spawn(|| note_given_to_malloc(TO_MALLOC_STEP - 1))
            .join()
            .expect("the freeing thread");
        assert!(given_to_malloc() >= before + TO_MALLOC_STEP - 1);
    }

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
            free(ptr, capacity, FreedBy::Caller);
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
    fn reused_mid_size_blocks_are_zeroed_again_warm_or_cold() {
        // Freed by the caller, malloc most often hands the same block back: zeroed warm.
        for _ in 0..100 {
            check_zeroed_fill_free(64 << 10);
        }
        // Freed by another thread, then taken here: zeroed cold.
        for _ in 0..20 {
            let ptr = allocate_zeroed(64 << 10).expect("allocation");
            // SAFETY: the block is ours; it is freed once, by the other thread.
            unsafe { fill(ptr, 64 << 10, 0xCD) };
            let address = ptr.as_ptr() as usize;
            std::thread::spawn(move || {
                let ptr = NonNull::new(address as *mut u8).expect("non-null");
                // SAFETY: the block came from allocate_zeroed with this capacity.
                unsafe { free(ptr, 64 << 10, FreedBy::Reclaimer) };
            })
            .join()
            .expect("freeing thread");
            check_zeroed_fill_free(64 << 10);
        }
    }

    /// The `VmFlags` line of the mapping that holds `ptr`, from `/proc/self/smaps`; `None`
    /// where smaps shows no flags (some sandboxes).
    fn vm_flags(ptr: NonNull<u8>) -> Option<String> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let address = ptr.as_ptr() as usize;
        let mut inside = false;
        for line in smaps.lines() {
            let range = line
                .split_whitespace()
                .next()
                .and_then(|r| r.split_once('-'));
            if let Some((Ok(start), Ok(end))) =
                range.map(|(s, e)| (usize::from_str_radix(s, 16), usize::from_str_radix(e, 16)))
            {
                inside = (start..end).contains(&address);
            } else if inside && line.starts_with("VmFlags:") {
                return Some(line.to_string());
            }
        }
        None
    }

    #[test]
    fn mappings_of_a_huge_page_and_more_ask_for_huge_pages_unless_turned_off() {
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage").exists() {
            return; // a kernel without transparent huge pages refuses the advice
        }
        let (huge, page) = (huge_page_size(), page_size());
        let large = map(2 * huge).expect("mapping");
        if vm_flags(large).is_none() {
            // SAFETY: mapped above, unmapped once.
            unsafe { unmap(large, 2 * huge) };
            return; // no flags to read
        }
        let advised = |ptr| {
            let flags = vm_flags(ptr).unwrap_or_default();
            flags.split_whitespace().any(|f| f == "hg")
        };
        let small = map(huge - page).expect("mapping");
        let aligned = allocate_aligned(huge, 2 * page).expect("mapping");
        assert!(advised(large), "{:?}", vm_flags(large));
        assert!(!advised(small), "{:?}", vm_flags(small));
        assert!(advised(aligned), "{:?}", vm_flags(aligned));
        set_huge_pages(false);
        let plain = map(2 * huge).expect("mapping");
        set_huge_pages(true);
        assert!(!advised(plain), "{:?}", vm_flags(plain));
        // SAFETY: each mapped above, unmapped once.
        unsafe {
            unmap(large, 2 * huge);
            unmap(small, huge - page);
            unmap(plain, 2 * huge);
            free_aligned(aligned, huge, 2 * page, FreedBy::Caller);
        }
    }

    #[test]
    fn the_huge_page_is_the_kernels_or_a_page_of_page_table_entries() {
        let (huge, page) = (huge_page_size(), page_size());
        assert!(
            huge.is_power_of_two() && huge > page,
            "{huge} with pages of {page}"
        );
        match std::fs::read_to_string(HPAGE_PMD_SIZE) {
            Ok(said) => assert_eq!(huge.to_string(), said.trim()),
            Err(_) => assert_eq!(huge, page * page / 8),
        }
    }

    #[test]
    fn zero_capacity_needs_no_memory() {
        let ptr = allocate_zeroed(0).unwrap();
        // SAFETY: freeing a zero-capacity block is a no-op.
        unsafe { free(ptr, 0, FreedBy::Caller) };
        assert_eq!(reservation_for(0).unwrap().footprint, 0);
    }

    #[test]
    fn mapped_blocks_reserve_whole_pages() {
        let page = page_size();
        assert_eq!(reservation_for(1000).unwrap().footprint, 1000);
        let r = reservation_for(MMAP_THRESHOLD + 1).unwrap();
        assert_eq!(r.capacity, MMAP_THRESHOLD + 1);
        assert_eq!(r.footprint, MMAP_THRESHOLD + page);
    }

    #[test]
    fn armed_failure_fails_exactly_once() {
        arm_allocation_failure();
        assert!(allocate_zeroed(16).is_none());
        let ptr = allocate_zeroed(16).expect("the next allocation works");
        // SAFETY: just allocated with this capacity.
        unsafe { free(ptr, 16, FreedBy::Caller) };
    }

    #[test]
    fn aligned_blocks_are_aligned_zeroed_and_freeable() {
        let page = page_size();
        for alignment in [1, 8, 16, 32, 64, 4096, 8192, 65536, MAX_ALIGNMENT] {
            for capacity in [0, 1, 100, 4096, 5000, MMAP_THRESHOLD, 3 << 20] {
                let ptr = allocate_aligned(capacity, alignment).expect("allocation");
                assert_eq!(
                    ptr.as_ptr() as u64 % alignment,
                    0,
                    "{capacity} @ {alignment}"
                );
                let r = reservation_for_aligned(capacity, alignment).unwrap();
                assert!(r.footprint >= capacity);
                if capacity >= MMAP_THRESHOLD || alignment > page {
                    assert_eq!(r.footprint % page, 0);
                }
                let len = capacity as usize;
                // SAFETY: the block is ours and `len` bytes long.
                unsafe {
                    let bytes = std::slice::from_raw_parts(ptr.as_ptr(), len);
                    assert!(bytes.iter().all(|b| *b == 0));
                    fill(ptr, len, 0x5A);
                    free_aligned(ptr, capacity, alignment, FreedBy::Caller);
                }
            }
        }
    }

    #[test]
    fn only_blocks_of_their_own_mapping_count_as_mapped() {
        let page = page_size();
        for alignment in [1, 16, 64, page] {
            assert!(!is_mapped(0, alignment));
            assert!(
                !is_mapped(100, alignment),
                "malloc or posix_memalign @ {alignment}"
            );
            assert!(!is_mapped(MMAP_THRESHOLD - 1, alignment));
            assert!(
                is_mapped(MMAP_THRESHOLD, alignment),
                "the plain path maps @ {alignment}"
            );
        }
        for alignment in [2 * page, MAX_ALIGNMENT] {
            assert!(is_mapped(1, alignment), "map_aligned @ {alignment}");
            assert!(is_mapped(3 << 20, alignment));
            assert!(
                !is_mapped(0, alignment),
                "an empty block is not mapped @ {alignment}"
            );
        }
    }

    #[test]
    fn alignments_must_be_powers_of_two_up_to_the_maximum() {
        assert!(check_alignment(1).is_ok());
        assert!(check_alignment(MAX_ALIGNMENT).is_ok());
        for bad in [0, 3, 48, MAX_ALIGNMENT * 2] {
            assert!(check_alignment(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn small_aligned_blocks_reserve_their_padding() {
        let footprint = |capacity, alignment| {
            reservation_for_aligned(capacity, alignment)
                .unwrap()
                .footprint
        };
        assert_eq!(footprint(100, 8), 100);
        assert_eq!(footprint(100, 64), 164);
        let page = page_size();
        assert_eq!(footprint(100, page), 100 + page);
        assert_eq!(footprint(100, 2 * page), page, "mapped");
    }

    /// Before: rounded up to pages, u64::MAX wrapped to a footprint of 0 in release builds
    /// (review).
    #[test]
    fn a_footprint_beyond_u64_is_an_error_not_wrapped() {
        let page = page_size();
        for capacity in [u64::MAX, u64::MAX - 100] {
            assert!(reservation_for(capacity).is_err(), "{capacity}");
            for alignment in [1, 64, page, 2 * page, MAX_ALIGNMENT] {
                let r = reservation_for_aligned(capacity, alignment);
                assert!(r.is_err(), "{capacity} @ {alignment}: {r:?}");
            }
        }
        let last = u64::MAX - page + 1; // whole pages still
        assert_eq!(reservation_for(last).unwrap().footprint, last);
        assert!(allocate_zeroed(u64::MAX).is_none());
    }
}
