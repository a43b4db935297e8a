//! Freed blocks kept for reuse, a bounded few: mapped blocks here, the reclaimer's `malloc`
//! blocks in [`crate::reuse_malloc`], under the same limit each.
//!
//! Measured on our machines (KVM guests), a page fault on fresh anonymous memory costs about
//! 3 us: a 1 MiB buffer whose every page is written costs ~820 us through mmap + munmap, against
//! ~25 us for zeroing a block that is still mapped. So a freed block of up to [`MAX_BLOCK`] is
//! kept mapped, up to a limit in bytes, and the next allocation of the same length takes it
//! after zeroing only the pages that are resident (`mincore`): pages never touched are still
//! the kernel's zero pages and need nothing. Blocks beyond the limit, and larger ones, are
//! unmapped at once; kept blocks go back to the OS once idle for [`IDLE`] (see [`Reuse::trim`]).
//!
//! `mincore` itself costs about 3 us per 1 MiB block (a tenth of reusing it), and most blocks
//! come back with every page written. Pages of a mapping that were resident stay resident while
//! it is in use, unless the kernel swaps them out, so a block that was wholly resident when taken
//! and comes back within [`RESIDENT_FOR`] is zeroed whole next time, without asking (see
//! `FullyResident`).
//!
//! A cold block (one the reclaimer freed, out of the allocating thread's cache anyway) is zeroed
//! *behind*, by the zeroer thread ([`Reuse::zero_forever`]) on another core, so that the
//! allocating thread finds it zeroed; one it takes before then it zeroes itself, and one the
//! zeroer holds it waits for, as mapping fresh pages would cost far more (a few times the
//! zeroing at most: see `zeroer_wait`). A block of 4 MiB or more that is known wholly resident
//! its taker zeroes together with the zeroer ([`crate::split`]); any other, alone. The zeroer
//! zeroes kept malloc blocks above 4 KiB behind as well, once no mapped block waits.

use crate::fill::{fill, Stores, Warmth, STORES};
use crate::memory::{FreedBy, GiveBackIfUnwinding};
use crate::recent::Recent;
use crate::reuse_malloc::MallocBlocks;
use crate::split::{SplitZeroing, SPLIT_FROM};
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::panic::AssertUnwindSafe;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Larger freed blocks always go back to the OS at once.
pub const MAX_BLOCK: u64 = 16 << 20;
/// The most the cache keeps, whatever the budget.
pub const MAX_LIMIT: u64 = 64 << 20;
/// Kept blocks unused this long are unmapped by [`Reuse::trim`].
pub const IDLE: Duration = Duration::from_secs(1);
/// The longest a taker waits for a block of `len` bytes the zeroer thread holds: five times
/// what zeroing it takes (774 us measured for 16 MiB, see `split`: about 48 ps a byte), so that
/// a zeroer merely slow is still waited for; 1 MiB waits 250 us, 16 MiB ([`MAX_BLOCK`]) 4 ms.
/// One stalled longer (descheduled, stopped in a debugger) leaves the taker to map fresh pages,
/// having cost it this much more than they do (about 3 us a page written: 820 us for 1 MiB,
/// 15 ms for 16 MiB in small pages, 2.5 ms in huge ones, see `memory::set_huge_pages`).
/// Before, every length waited up to 4 ms, 20 times what fresh pages cost a 256 KiB block
/// (review). Never below 100 us, about what waking a thread and switching to it cost, nor
/// above 4 ms.
fn zeroer_wait(len: u64) -> Duration {
    const PICOS_PER_BYTE: u64 = 5 * 48;
    let nanos = len.saturating_mul(PICOS_PER_BYTE) / 1000;
    Duration::from_nanos(nanos).clamp(Duration::from_micros(100), Duration::from_millis(4))
}

struct Kept {
    address: usize,
    len: u64,
    since: Instant,
    warmth: Warmth,
    /// Every page was resident when the block was taken, shortly before it came back, so it
    /// most likely still is.
    fully_resident: bool,
    /// Zeroed since it came back, by the zeroer thread: taken as it is.
    zeroed: bool,
}

/// How many blocks taken wholly resident are remembered: as many as the cache can hold of the
/// smallest mapped blocks.
const FULLY_RESIDENT_REMEMBERED: usize = (MAX_LIMIT / crate::memory::MMAP_THRESHOLD) as usize;

/// A block held longer than this goes through `mincore` again when reused: the longer a buffer
/// is held, the likelier some of its pages were swapped out, and writing zeros over a page
/// swapped out reads it back first, where `mincore` lets it be dropped.
pub const RESIDENT_FOR: Duration = Duration::from_secs(1);

/// The blocks last taken with every page resident: address, length, when taken. Only a hint:
/// zeroing every page of a block is right whatever is resident, so a stale entry costs time,
/// never correctness.
type FullyResident = Recent<(usize, u64, Option<Instant>), FULLY_RESIDENT_REMEMBERED>;

/// How warm a block a thread frees is when it is next taken: a caller most often frees a block
/// just after writing it; the reclaimer frees a buffer dropped before a collection, most often
/// a budget's worth of other buffers ago. Which stores zero each best is measured
/// ([`crate::fill::StoreTrials`]).
impl Warmth {
    pub fn after_free_by(by: FreedBy) -> Warmth {
        match by {
            FreedBy::Caller => Warmth::Warm,
            FreedBy::Reclaimer => Warmth::Cold,
        }
    }
}

struct Blocks {
    kept: Vec<Kept>,
    bytes: u64,
    fully_resident: FullyResident,
    /// The length of the block the zeroer thread holds, out of `kept`, while it zeroes it.
    zeroing: Option<u64>,
}

/// A cache of freed mapped blocks; the process uses one, [`REUSE`].
pub struct Reuse {
    blocks: Mutex<Blocks>,
    /// Signalled when there is work for the zeroer thread: a cold block kept, a block offered.
    work_for_zeroer: Condvar,
    /// A large block its taker shares with the zeroer thread while zeroing it.
    split: SplitZeroing,
    /// Signalled when the zeroer thread gives its block back.
    zeroed_behind: Condvar,
    limit: AtomicU64,
    /// Freed `malloc` blocks, for `memory::allocate_zeroed` below the mapping threshold.
    pub malloced: MallocBlocks,
    /// When the `malloc` blocks' trim period last ended.
    malloced_trimmed: Mutex<Option<Instant>>,
}

/// The cache behind `memory::allocate_zeroed` and `memory::free`.
pub static REUSE: Reuse = Reuse::new();

impl Reuse {
    /// A cache that keeps nothing until [`Reuse::set_limit_for_budget`].
    pub const fn new() -> Self {
        Reuse {
            blocks: Mutex::new(Blocks {
                kept: Vec::new(),
                bytes: 0,
                fully_resident: FullyResident::new((0, 0, None)),
                zeroing: None,
            }),
            work_for_zeroer: Condvar::new(),
            split: SplitZeroing::new(),
            zeroed_behind: Condvar::new(),
            limit: AtomicU64::new(0),
            malloced: MallocBlocks::new(),
            malloced_trimmed: Mutex::new(None),
        }
    }

    /// Sets how many bytes of freed blocks may be kept: as much as the budget, at most
    /// [`MAX_LIMIT`]. Zero turns reuse off. Measured (1 MiB buffers, every page written, dropped
    /// through a 64 MiB budget): a quarter of the budget 1.5k buffers/s, half 1.7k, all 3.7k: a
    /// collection frees most of the budget at once, and whatever is not kept comes back as
    /// fresh pages that fault again.
    pub fn set_limit_for_budget(&self, max: u64) {
        self.set_limit(max.min(MAX_LIMIT));
    }

    /// Sets how many bytes of freed blocks may be kept, whatever the budget; zero turns reuse off
    /// (`-Ddirectmem.reuseMemory`). Every kept mapped block is unmapped at once, the kept malloc
    /// blocks go back if they are over the new limit, and those idle all of the malloc cache's
    /// current trim period go back too (its period ends): this runs as the library starts.
    pub fn set_limit(&self, bytes: u64) {
        self.limit.store(bytes, Ordering::Relaxed);
        self.malloced.set_limit(bytes);
        self.trim(Duration::ZERO);
    }

    /// How many bytes of freed blocks may be kept (see [`Reuse::set_limit`]).
    pub fn limit(&self) -> u64 {
        self.limit.load(Ordering::Relaxed)
    }

    /// Whether freed blocks may be kept at all (reuse not turned off).
    pub fn keeps_anything(&self) -> bool {
        self.limit.load(Ordering::Relaxed) > 0
    }

    /// Bytes of freed blocks kept mapped right now.
    pub fn kept_bytes(&self) -> u64 {
        self.blocks.lock().bytes
    }

    /// Takes a kept block of exactly `len` bytes, zeroed, if there is one: one zeroed behind
    /// first, else the newest.
    pub fn take(&self, len: u64) -> Option<NonNull<u8>> {
        let block = {
            let mut blocks = self.blocks.lock();
            let mut deadline = None;
            let at = loop {
                if let Some(at) = Self::position_to_take(&blocks.kept, len) {
                    break at;
                }
                if blocks.zeroing != Some(len) {
                    return None;
                }
                // The zeroer thread holds one: back within a zeroing, which this thread
                // would otherwise do itself after mapping fresh pages that fault on first touch.
                // Not waited for beyond `zeroer_wait`: then fresh pages are quicker.
                let until = *deadline.get_or_insert_with(|| Instant::now() + zeroer_wait(len));
                #[cfg(test)]
                tests::while_waiting_for_zeroer(&mut blocks);
                if self
                    .zeroed_behind
                    .wait_until(&mut blocks, until)
                    .timed_out()
                {
                    break Self::position_to_take(&blocks.kept, len)?;
                }
            };
            let block = blocks.kept.swap_remove(at);
            blocks.bytes -= block.len;
            if block.fully_resident {
                // Known before zeroing, so remembered under this lock rather than a second one.
                blocks.fully_resident.remember(Self::taken_now(&block));
            }
            block
        };
        let ptr = NonNull::new(block.address as *mut u8)?;
        if !block.zeroed {
            // Out of `kept` and not yet handed out: a panic while zeroing it would leave it mapped
            // for good, outside the budget and the cache (review).
            let give_back = GiveBackIfUnwinding::new(|| {
                if block.fully_resident {
                    // Remembered as taken wholly resident, above: forgotten with the block, as
                    // its address may be mapped again for a block that is no such thing (review).
                    let (address, len) = (block.address, block.len);
                    let mut blocks = self.blocks.lock();
                    blocks
                        .fully_resident
                        .take_if(|(a, l, _)| (*a, *l) == (address, len));
                }
                // SAFETY: out of `kept` and never handed out: nobody else holds it.
                unsafe { crate::memory::unmap(ptr, block.len) };
            });
            // SAFETY: the block is a live mapping of `block.len` bytes that nobody else holds.
            let every_page_written = unsafe { self.zero_kept(ptr, &block, true) };
            give_back.defuse();
            if every_page_written && !block.fully_resident {
                let mut blocks = self.blocks.lock();
                blocks.fully_resident.remember(Self::taken_now(&block));
            }
        }
        Some(ptr)
    }

    /// The kept block of `len` bytes to take: the newest zeroed behind, else the newest.
    fn position_to_take(kept: &[Kept], len: u64) -> Option<usize> {
        let mut newest = None;
        for (at, k) in kept.iter().enumerate().rev() {
            if k.len == len {
                if k.zeroed {
                    return Some(at);
                }
                newest = newest.or(Some(at));
            }
        }
        newest
    }

    /// Zeroes a kept block with the stores the trials choose; returns whether every page was
    /// written (rather than dropped as not resident). A large block known wholly resident is
    /// shared with the zeroer thread when `share` (its taker calls).
    ///
    /// # Safety
    /// `ptr` must be `block`'s live mapping, held by the caller alone.
    unsafe fn zero_kept(&self, ptr: NonNull<u8>, block: &Kept, share: bool) -> bool {
        #[cfg(test)]
        tests::while_zeroing(self);
        let len = block.len as usize;
        let choice = STORES.choose(len, block.warmth);
        let every_page_written = if !block.fully_resident {
            zero_resident(ptr, block.len, choice.stores)
        } else if share && len >= SPLIT_FROM {
            self.split
                .zero(ptr.as_ptr(), len, choice.stores, || self.wake_zeroer());
            true
        } else {
            fill(ptr.as_ptr(), len, 0, choice.stores);
            true
        };
        if every_page_written {
            STORES.record(choice, len); // comparable with the other zeroings
        }
        every_page_written
    }

    /// The entry that remembers `block` as taken wholly resident, now.
    fn taken_now(block: &Kept) -> (usize, u64, Option<Instant>) {
        (block.address, block.len, Some(Instant::now()))
    }

    /// Keeps a freed mapped block of `len` bytes for reuse if it fits under the limit; `false`
    /// when the caller must unmap it.
    ///
    /// # Safety
    /// `ptr` must be a mapping of `len` bytes (whole pages) that nothing uses or unmaps any more:
    /// the zeroer writes it, and a later `take` or trim hands it out or unmaps it.
    pub unsafe fn keep(&self, ptr: NonNull<u8>, len: u64, warmth: Warmth) -> bool {
        if len > MAX_BLOCK {
            return false;
        }
        let limit = self.limit.load(Ordering::Relaxed);
        let address = ptr.as_ptr() as usize;
        let now = Instant::now();
        let mut blocks = self.blocks.lock();
        // Forgotten here even if the block is unmapped, as its address may be mapped again.
        let taken = blocks
            .fully_resident
            .take_if(|(a, l, _)| (*a, *l) == (address, len));
        let fully_resident = taken
            .and_then(|(_, _, at)| at)
            .is_some_and(|at| now.saturating_duration_since(at) < RESIDENT_FOR);
        // No room to record it (malloc refused, as it may when the OS refuses memory): the
        // caller unmaps it; a failed push would abort the process.
        if blocks.bytes + len > limit || blocks.kept.try_reserve(1).is_err() {
            return false;
        }
        blocks.bytes += len;
        blocks.kept.push(Kept {
            address,
            len,
            since: now,
            warmth,
            fully_resident,
            zeroed: false,
        });
        if warmth == Warmth::Cold {
            self.work_for_zeroer.notify_one();
        }
        true
    }

    /// The zeroer thread's work, forever: helping takers zero large blocks (see
    /// [`crate::split`]), and zeroing kept cold blocks behind.
    ///
    /// A cold block (one the reclaimer freed) is out of the allocating thread's cache anyway, so
    /// zeroing it on another core costs that thread nothing and takes the zeroing off its path.
    /// Measured (1 MiB buffers dropped through a 64 MiB budget, 2 cores): zeroing was 47 of the
    /// 53 us each buffer cost between collections.
    pub fn zero_forever(&self) -> ! {
        let mut blocks = self.blocks.lock();
        loop {
            if !self.zeroer_step(&mut blocks) {
                self.work_for_zeroer.wait(&mut blocks);
            }
        }
    }

    /// One piece of the zeroer thread's work, a taker's offer first, then kept mapped blocks,
    /// then kept malloc blocks; false if there was none.
    fn zeroer_step(&self, blocks: &mut MutexGuard<Blocks>) -> bool {
        if self.split.has_work() {
            MutexGuard::unlocked(blocks, || {
                // Caught, as `zero_one_behind` catches its own: the chunk counts finished all
                // the same, and its taker zeroes the block again (see `split`). Logged once per
                // block: a spoiled offer has no more work for this thread.
                let helped = std::panic::catch_unwind(AssertUnwindSafe(|| self.split.help()));
                if helped.is_err() {
                    log::error!("helping to zero a taker's block panicked; its taker zeroes it");
                }
            });
            true
        } else if self.zero_one_behind(blocks) {
            true
        } else if self.malloced.has_unzeroed() {
            // Checked under this lock, which `wake_zeroer_for_malloced` wakes the zeroer under:
            // the wake-up cannot fall between this look and the wait.
            MutexGuard::unlocked(blocks, || self.malloced.zero_behind())
        } else {
            false
        }
    }

    /// Wakes the zeroer thread if kept malloc blocks wait for it. Called once per batch of
    /// frees: woken per block, the zeroer ran out of work after each and slept again, a context
    /// switch per block (measured with 12 KiB buffers: 106-131k in 7 s, against 16-19k).
    pub fn wake_zeroer_for_malloced(&self) {
        if self.malloced.has_unzeroed() {
            self.wake_zeroer();
        }
    }

    /// Wakes the zeroer thread for a block on offer.
    fn wake_zeroer(&self) {
        // Under the lock the zeroer checks for work under: the wake-up cannot fall between its
        // look and its wait.
        let _blocks = self.blocks.lock();
        self.work_for_zeroer.notify_one();
    }

    /// Zeroes one kept cold block that is not zeroed yet, if there is one, with the lock
    /// released meanwhile; returns whether there was one.
    fn zero_one_behind(&self, blocks: &mut MutexGuard<Blocks>) -> bool {
        let Some(at) = blocks
            .kept
            .iter()
            .position(|k| k.warmth == Warmth::Cold && !k.zeroed)
        else {
            return false;
        };
        // Still counted in `bytes` while out of `kept`: it is still mapped, and the limit holds
        // meanwhile (before, `keep` could overfill the cache by the block, up to 16 MiB).
        let mut block = blocks.kept.swap_remove(at);
        blocks.zeroing = Some(block.len);
        let zeroed = MutexGuard::unlocked(blocks, || {
            // Caught: a panic must not leave takers waiting for this block forever.
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                // SAFETY: a kept block is a live mapping of `len` bytes; out of `kept`, nobody
                // else holds it.
                NonNull::new(block.address as *mut u8)
                    .map(|ptr| unsafe { self.zero_kept(ptr, &block, false) })
            }))
        });
        blocks.zeroing = None;
        self.zeroed_behind.notify_all();
        let every_page_written = match zeroed {
            Ok(Some(every_page_written)) => every_page_written,
            Ok(None) => {
                blocks.bytes -= block.len; // a null block is never kept
                return true;
            }
            Err(_) => {
                log::error!("zeroing a kept block panicked; it goes back to the OS");
                blocks.bytes -= block.len;
                Self::unmap_unlocked(blocks, &block);
                return true;
            }
        };
        // Kept as it was (its idle time included), now zeroed; unless the limit fell meanwhile.
        // No room to record it (a `keep` meanwhile may have filled the list, and malloc may
        // refuse it more): unmapped, as `keep` would, rather than abort in a failed push.
        if blocks.bytes > self.limit.load(Ordering::Relaxed) || blocks.kept.try_reserve(1).is_err()
        {
            blocks.bytes -= block.len;
            Self::unmap_unlocked(blocks, &block);
            return true;
        }
        block.zeroed = true;
        block.fully_resident = every_page_written;
        blocks.kept.push(block);
        true
    }

    /// Unmaps a block taken out of `kept`, with the lock released meanwhile.
    fn unmap_unlocked(blocks: &mut MutexGuard<Blocks>, block: &Kept) {
        let (address, len) = (block.address, block.len);
        MutexGuard::unlocked(blocks, || {
            if let Some(ptr) = NonNull::new(address as *mut u8) {
                // SAFETY: out of `kept`, so ours.
                unsafe { crate::memory::unmap(ptr, len) };
            }
        });
    }

    /// Unmaps kept blocks that have been unused for `idle` or longer, and gives back `malloc`
    /// blocks of the sizes unused for as long.
    pub fn trim(&self, idle: Duration) {
        self.trim_malloced(idle);
        let stale: Vec<Kept> = {
            let mut blocks = self.blocks.lock();
            if idle.is_zero() {
                // Every block, without allocating: `memory` trims so when the OS refused memory,
                // and malloc may refuse too then (a failed allocation would abort the process).
                let stale = std::mem::take(&mut blocks.kept);
                blocks.bytes -= stale.iter().map(|k| k.len).sum::<u64>();
                stale
            } else {
                Self::drain_idle(&mut blocks, idle)
            }
        };
        for k in stale {
            if let Some(ptr) = NonNull::new(k.address as *mut u8) {
                // SAFETY: a kept block is a live mapping of `len` bytes that nobody holds.
                unsafe { crate::memory::unmap(ptr, k.len) };
            }
        }
    }

    /// Takes the kept blocks unused for `idle` or longer out of `kept` and its count. Both lists
    /// are asked for fallibly, as the trim may run while the OS refuses memory, when malloc may
    /// refuse too (an infallible allocation would abort the process): refused, nothing is taken
    /// out until the next trim.
    fn drain_idle(blocks: &mut MutexGuard<Blocks>, idle: Duration) -> Vec<Kept> {
        let now = Instant::now();
        let is_idle = |k: &Kept| now.saturating_duration_since(k.since) >= idle;
        let count = blocks.kept.iter().filter(|k| is_idle(k)).count();
        let (mut stale, mut fresh) = (Vec::new(), Vec::new());
        if count == 0
            || stale.try_reserve_exact(count).is_err()
            || fresh.try_reserve_exact(blocks.kept.len() - count).is_err()
        {
            return Vec::new();
        }
        // Within the room reserved: no allocation.
        for k in blocks.kept.drain(..) {
            if is_idle(&k) {
                stale.push(k);
            } else {
                fresh.push(k);
            }
        }
        blocks.kept = fresh;
        blocks.bytes -= stale.iter().map(|k| k.len).sum::<u64>();
        stale
    }
}

impl Reuse {
    /// Ends the `malloc` blocks' trim period if it has lasted `idle`: classes unused through
    /// the whole period go back to malloc (see [`MallocBlocks::trim`]).
    fn trim_malloced(&self, idle: Duration) {
        let mut last = self.malloced_trimmed.lock();
        if last.is_none_or(|at| at.elapsed() >= idle) {
            *last = Some(Instant::now());
            self.malloced.trim();
        }
    }
}

impl Default for Reuse {
    fn default() -> Self {
        Reuse::new()
    }
}

/// Zeroes a kept mapped block: resident pages by writing zeros, the others by dropping them
/// with `MADV_DONTNEED`. A page `mincore` calls not resident may still hold data (swapped out),
/// and dropping it makes the next access read a fresh zero page; for a page never touched the
/// call costs next to nothing. Returns whether every page was resident, and so written.
///
/// # Safety
/// `ptr..ptr+len` must be a private anonymous mapping owned by the caller, page-aligned.
unsafe fn zero_resident(ptr: NonNull<u8>, len: u64, stores: Stores) -> bool {
    let page = crate::memory::page_size() as usize;
    let len = len as usize;
    let mut every_page_written = true;
    // mincore in chunks, so that the residency vector stays on the stack.
    const CHUNK_PAGES: usize = 1024;
    let mut residency = [0u8; CHUNK_PAGES];
    let mut offset = 0;
    while offset < len {
        let chunk = (len - offset).min(CHUNK_PAGES * page);
        let pages = chunk.div_ceil(page);
        let base = ptr.as_ptr().add(offset);
        if libc::mincore(base.cast(), chunk, residency.as_mut_ptr()) != 0 {
            fill(base, chunk, 0, stores); // cannot tell: zero it all
        } else {
            let mut p = 0;
            while p < pages {
                let resident = residency[p] & 1;
                let run = residency[p..pages]
                    .iter()
                    .take_while(|r| *r & 1 == resident)
                    .count();
                let start = base.add(p * page);
                let bytes = ((p + run) * page).min(chunk) - p * page;
                let dropped =
                    resident == 0 && libc::madvise(start.cast(), bytes, libc::MADV_DONTNEED) == 0;
                if dropped {
                    every_page_written = false;
                } else {
                    fill(start, bytes, 0, stores);
                }
                p += run;
            }
        }
        offset += chunk;
    }
    every_page_written
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{map, unmap};
    use crate::testing::with_background_loop;
    use std::cell::RefCell;

    /// A step a test runs inside a zeroing.
    type Step = Box<dyn FnOnce(&Reuse)>;

    thread_local! {
        /// When set, runs as this thread next starts zeroing a kept block.
        static WHILE_ZEROING: RefCell<Option<Step>> = const { RefCell::new(None) };
    }

    pub(super) fn while_zeroing(reuse: &Reuse) {
        if let Some(step) = WHILE_ZEROING.with(|w| w.borrow_mut().take()) {
            step(reuse);
        }
    }

    fn arm_while_zeroing(step: impl FnOnce(&Reuse) + 'static) {
        WHILE_ZEROING.with(|w| *w.borrow_mut() = Some(Box::new(step)));
    }

    /// A step a test runs as a taker waits for the zeroer thread, the cache locked.
    type Waiting = Box<dyn FnMut(&mut MutexGuard<Blocks>)>;

    thread_local! {
        /// When set, runs each time this thread starts waiting for the zeroer thread's block.
        static WHILE_WAITING: RefCell<Option<Waiting>> = const { RefCell::new(None) };
    }

    fn arm_while_waiting_for_zeroer(step: impl FnMut(&mut MutexGuard<Blocks>) + 'static) {
        WHILE_WAITING.with(|w| *w.borrow_mut() = Some(Box::new(step)));
    }

    pub(super) fn while_waiting_for_zeroer(blocks: &mut MutexGuard<Blocks>) {
        let step = WHILE_WAITING.with(|w| w.borrow_mut().take());
        if let Some(mut step) = step {
            step(blocks);
            WHILE_WAITING.with(|w| *w.borrow_mut() = Some(step));
        }
    }

    fn write_some_pages(ptr: NonNull<u8>, len: u64) {
        for at in (0..len as usize).step_by(3 * 4096 + 1) {
            // SAFETY: inside the block.
            unsafe { *ptr.as_ptr().add(at) = 0xAB };
        }
    }

    fn all_zero(ptr: NonNull<u8>, len: u64) -> bool {
        // SAFETY: the block is mapped and `len` bytes long.
        let bytes = unsafe { std::slice::from_raw_parts(ptr.as_ptr(), len as usize) };
        bytes.iter().all(|b| *b == 0)
    }

    /// Takes the kept block of `len` bytes, checks it is zeroed, and unmaps it.
    fn take_zeroed_and_unmap(reuse: &Reuse, len: u64) {
        let block = reuse.take(len).expect("kept");
        assert!(all_zero(block, len));
        // SAFETY: taken, so ours; unmapped once.
        unsafe { unmap(block, len) };
    }

    #[test]
    fn a_reused_block_is_zeroed_where_it_was_written_warm_or_cold() {
        for warmth in [Warmth::Warm, Warmth::Cold] {
            let reuse = Reuse::new();
            reuse.set_limit_for_budget(64 << 20);
            let len = 3 << 20;
            let first = map(len).unwrap();
            write_some_pages(first, len);
            assert!(unsafe { reuse.keep(first, len, warmth) });
            assert_eq!(reuse.kept_bytes(), len);
            assert!(
                reuse.take(len + 4096).is_none(),
                "only exact lengths are reused"
            );
            let again = reuse.take(len).expect("the kept block");
            assert_eq!(again, first);
            assert!(all_zero(again, len), "{warmth:?}");
            assert_eq!(reuse.kept_bytes(), 0);
            // SAFETY: mapped above, unmapped once.
            unsafe { unmap(again, len) };
        }
    }

    /// Whether the kept block at `ptr` is marked wholly resident.
    fn kept_fully_resident(reuse: &Reuse, ptr: NonNull<u8>) -> bool {
        let blocks = reuse.blocks.lock();
        let kept = blocks
            .kept
            .iter()
            .find(|k| k.address == ptr.as_ptr() as usize);
        kept.expect("the block is kept").fully_resident
    }

    fn fill_block(ptr: NonNull<u8>, len: u64, value: u8) {
        // SAFETY: the block is mapped, ours and `len` bytes long.
        unsafe { fill(ptr.as_ptr(), len as usize, value, Stores::Cached) };
    }

    /// A cache that keeps up to 64 MiB, and a fresh mapped block of `len` bytes, all written.
    fn cache_and_written_block(len: u64) -> (Reuse, NonNull<u8>) {
        let reuse = Reuse::new();
        reuse.set_limit_for_budget(64 << 20);
        let block = map(len).unwrap();
        fill_block(block, len, 0xAB);
        (reuse, block)
    }

    #[test]
    fn a_block_taken_wholly_resident_is_zeroed_whole_without_asking_next_time() {
        let reuse = Reuse::new();
        reuse.set_limit_for_budget(64 << 20);
        let len = 1 << 20;
        let block = map(len).unwrap();
        write_some_pages(block, len);
        assert!(unsafe { reuse.keep(block, len, Warmth::Warm) });
        assert!(!kept_fully_resident(&reuse, block), "nothing known yet");
        let block = reuse.take(len).expect("kept");
        assert!(all_zero(block, len));
        // Some pages were never written: not wholly resident, so asked again next time.
        assert!(unsafe { reuse.keep(block, len, Warmth::Warm) });
        assert!(!kept_fully_resident(&reuse, block));

        let block = reuse.take(len).expect("kept");
        fill_block(block, len, 0xCD);
        assert!(unsafe { reuse.keep(block, len, Warmth::Warm) });
        let block = reuse.take(len).expect("kept");
        assert!(all_zero(block, len));
        // Every page was resident at that take: the next one zeroes it whole.
        fill_block(block, len, 0xEF);
        assert!(unsafe { reuse.keep(block, len, Warmth::Cold) });
        assert!(kept_fully_resident(&reuse, block));
        let block = reuse.take(len).expect("kept");
        assert!(all_zero(block, len), "zeroed whole");

        // Forgotten once kept, and when not kept: its address may be mapped again.
        reuse.set_limit(0);
        assert!(!unsafe { reuse.keep(block, len, Warmth::Warm) });
        let address = block.as_ptr() as usize;
        let mut blocks = reuse.blocks.lock();
        assert_eq!(blocks.fully_resident.take_if(|b| b.0 == address), None);
        drop(blocks);
        // SAFETY: not kept, so ours.
        unsafe { unmap(block, len) };
    }

    #[test]
    fn a_stale_mark_costs_time_not_zeros() {
        let len = 1 << 20;
        let (reuse, block) = cache_and_written_block(len);
        assert!(unsafe { reuse.keep(block, len, Warmth::Warm) });
        let block = reuse.take(len).expect("kept, every page resident");
        // Pages leave while the block is held (as if swapped out), the others are written.
        // SAFETY: the second half of the block, which is ours.
        unsafe {
            let half = block.as_ptr().add(len as usize / 2);
            assert_eq!(
                libc::madvise(half.cast(), len as usize / 2, libc::MADV_DONTNEED),
                0
            );
        }
        write_some_pages(block, len / 2);
        assert!(unsafe { reuse.keep(block, len, Warmth::Warm) });
        assert!(kept_fully_resident(&reuse, block), "marked, wrongly");
        take_zeroed_and_unmap(&reuse, len);
    }

    #[test]
    fn a_block_held_long_is_asked_about_again() {
        let len = 1 << 20;
        let (reuse, block) = cache_and_written_block(len);
        let long_ago = Instant::now().checked_sub(RESIDENT_FOR * 2);
        reuse
            .blocks
            .lock()
            .fully_resident
            .remember((block.as_ptr() as usize, len, long_ago));
        assert!(unsafe { reuse.keep(block, len, Warmth::Warm) });
        assert!(!kept_fully_resident(&reuse, block));
        take_zeroed_and_unmap(&reuse, len);
    }

    #[test]
    fn the_cache_keeps_no_more_than_its_limit_nor_large_blocks() {
        let reuse = Reuse::new();
        reuse.set_limit_for_budget(2 << 20);
        let blocks: Vec<_> = (0..3).map(|_| map(1 << 20).unwrap()).collect();
        let kept: Vec<bool> = blocks
            .iter()
            .map(|b| unsafe { reuse.keep(*b, 1 << 20, Warmth::Warm) })
            .collect();
        assert_eq!(kept, [true, true, false]);
        // SAFETY: the one not kept is ours to unmap.
        unsafe { unmap(blocks[2], 1 << 20) };
        assert_eq!(reuse.kept_bytes(), 2 << 20);

        reuse.set_limit_for_budget(1 << 40); // also trims what was kept
        assert_eq!(reuse.kept_bytes(), 0);
        let big = map(MAX_BLOCK + 4096).unwrap();
        assert!(
            !unsafe { reuse.keep(big, MAX_BLOCK + 4096, Warmth::Cold) },
            "a block above MAX_BLOCK was kept"
        );
        // SAFETY: not kept, so ours.
        unsafe { unmap(big, MAX_BLOCK + 4096) };
    }

    #[test]
    fn trim_unmaps_only_blocks_idle_long_enough() {
        let reuse = Reuse::new();
        reuse.set_limit_for_budget(64 << 20);
        assert!(unsafe { reuse.keep(map(1 << 20).unwrap(), 1 << 20, Warmth::Cold) });
        reuse.trim(Duration::from_secs(3600));
        assert_eq!(reuse.kept_bytes(), 1 << 20);
        reuse.trim(Duration::ZERO);
        assert_eq!(reuse.kept_bytes(), 0);
    }

    #[test]
    fn a_zero_limit_turns_reuse_off() {
        let reuse = Reuse::new();
        reuse.set_limit_for_budget(0);
        let block = map(1 << 20).unwrap();
        assert!(!unsafe { reuse.keep(block, 1 << 20, Warmth::Warm) });
        // SAFETY: not kept, so ours.
        unsafe { unmap(block, 1 << 20) };
    }

    fn zero_one_behind(reuse: &Reuse) -> bool {
        let mut blocks = reuse.blocks.lock();
        reuse.zero_one_behind(&mut blocks)
    }

    #[test]
    fn a_cold_block_zeroed_behind_is_taken_as_it_is() {
        let len = 1 << 20;
        let (reuse, block) = cache_and_written_block(len);
        assert!(unsafe { reuse.keep(block, len, Warmth::Cold) });
        assert!(zero_one_behind(&reuse));
        assert!(!zero_one_behind(&reuse), "nothing left to zero");
        assert!(all_zero(block, len), "zeroed while kept");
        assert!(kept_fully_resident(&reuse, block), "every page was written");
        // A mark no zeroing would leave: the taker does not zero the block a second time.
        // SAFETY: the block is mapped; nobody else touches it in this test.
        unsafe { *block.as_ptr() = 0x11 };
        let taken = reuse.take(len).expect("kept");
        assert_eq!(taken, block);
        // SAFETY: as above.
        assert_eq!(unsafe { *taken.as_ptr() }, 0x11);
        // SAFETY: mapped above, unmapped once.
        unsafe { unmap(taken, len) };
    }

    #[test]
    fn warm_blocks_are_left_to_their_taker() {
        let len = 1 << 20;
        let (reuse, block) = cache_and_written_block(len);
        assert!(unsafe { reuse.keep(block, len, Warmth::Warm) });
        assert!(
            !zero_one_behind(&reuse),
            "a warm block is zeroed where it is taken"
        );
        take_zeroed_and_unmap(&reuse, len);
    }

    #[test]
    fn a_block_zeroed_behind_is_taken_before_newer_ones() {
        let len = 1 << 20;
        let (reuse, older) = cache_and_written_block(len);
        let newer = map(len).unwrap();
        fill_block(newer, len, 0xAB);
        assert!(unsafe { reuse.keep(older, len, Warmth::Cold) });
        assert!(zero_one_behind(&reuse));
        assert!(unsafe { reuse.keep(newer, len, Warmth::Cold) });
        assert_eq!(reuse.take(len), Some(older));
        assert_eq!(reuse.take(len), Some(newer));
        assert!(all_zero(newer, len));
        // SAFETY: mapped above, unmapped once each.
        unsafe {
            unmap(older, len);
            unmap(newer, len);
        }
    }

    #[test]
    fn a_take_racing_the_zeroer_thread_always_gets_the_block_zeroed() {
        let len = 4 << 20;
        for _ in 0..50 {
            let (reuse, block) = cache_and_written_block(len);
            assert!(unsafe { reuse.keep(block, len, Warmth::Cold) });
            let taken = std::thread::scope(|scope| {
                scope.spawn(|| zero_one_behind(&reuse));
                reuse.take(len)
            });
            // A zeroer slower than `zeroer_wait` (descheduled, or under qemu) leaves the taker
            // without it; the block is then kept, zeroed, for the next take.
            let taken = taken.or_else(|| reuse.take(len));
            assert_eq!(taken, Some(block), "the one block, whoever zeroed it");
            assert!(all_zero(block, len));
            assert_eq!(reuse.kept_bytes(), 0);
            // SAFETY: mapped above, unmapped once.
            unsafe { unmap(block, len) };
        }
    }

    #[test]
    fn a_block_zeroed_behind_while_reuse_is_turned_off_is_not_kept() {
        let len = 4 << 20;
        for _ in 0..20 {
            let (reuse, block) = cache_and_written_block(len);
            assert!(unsafe { reuse.keep(block, len, Warmth::Cold) });
            std::thread::scope(|scope| {
                scope.spawn(|| zero_one_behind(&reuse));
                reuse.set_limit(0); // unmaps what is kept, and later what comes back
            });
            assert_eq!(reuse.kept_bytes(), 0);
            assert_eq!(reuse.take(len), None);
        }
    }

    #[test]
    fn takers_keepers_and_the_zeroer_at_once_hand_out_only_zeroed_blocks() {
        // Three threads take blocks of three lengths (one zeroed on two cores), check every
        // byte, write them whole and give them back cold or warm, while a fourth does the
        // zeroer's work. Whatever the interleaving, no taker sees a byte it did not zero.
        let reuse = Reuse::new();
        reuse.set_limit_for_budget(64 << 20);
        let lens = [1u64 << 20, 3 << 20, 5 << 20];
        let zeroer_step = || {
            let mut blocks = reuse.blocks.lock();
            if !reuse.zeroer_step(&mut blocks) {
                drop(blocks);
                std::thread::yield_now();
            }
        };
        with_background_loop(zeroer_step, || {
            std::thread::scope(|scope| {
                for t in 0..3 {
                    let reuse = &reuse;
                    scope.spawn(move || {
                        for round in 0..60 {
                            let len = lens[(t + round) % lens.len()];
                            let block = reuse.take(len).or_else(|| map(len).ok()).unwrap();
                            assert!(all_zero(block, len), "taker {t}, round {round}");
                            fill_block(block, len, 0x77);
                            let warmth = if round % 3 == 0 {
                                Warmth::Warm
                            } else {
                                Warmth::Cold
                            };
                            if !unsafe { reuse.keep(block, len, warmth) } {
                                // SAFETY: not kept, so ours.
                                unsafe { unmap(block, len) };
                            }
                        }
                    });
                }
            })
        });
        let kept = reuse.blocks.lock().kept.iter().map(|k| k.len).sum::<u64>();
        assert_eq!(
            reuse.kept_bytes(),
            kept,
            "the cache's count matches what it holds"
        );
        assert!(kept <= 64 << 20);
        reuse.set_limit(0);
        assert_eq!(reuse.kept_bytes(), 0);
    }

    /// Before: a taker waited for the zeroer thread's block without a bound, and a stalled
    /// zeroer stalled it, where mapping fresh pages would do (review).
    #[test]
    fn a_taker_waits_for_a_stalled_zeroer_a_little_only() {
        let reuse = &Reuse::new();
        reuse.set_limit_for_budget(64 << 20);
        let len = 1 << 20;
        // A zeroer that holds a block of this length and never gives it back.
        reuse.blocks.lock().zeroing = Some(len);
        let taken = std::thread::scope(|scope| {
            let (sender, receiver) = std::sync::mpsc::channel();
            let taker = scope.spawn(move || {
                let started = Instant::now();
                let taken = reuse_take(reuse, len);
                sender.send((taken, started.elapsed()))
            });
            let taken = receiver.recv_timeout(Duration::from_secs(5));
            // Let a taker still waiting go, so that a failure cannot hang the test.
            reuse.blocks.lock().zeroing = None;
            reuse.zeroed_behind.notify_all();
            let _ = taker.join().expect("the taker");
            taken
        });
        let (taken, waited) = taken.expect("the taker gave up waiting");
        assert_eq!(taken, None, "fresh pages instead");
        // The wait is 250 us; bounded with room for a loaded machine to deschedule the taker.
        assert!(waited < Duration::from_secs(2), "waited {waited:?}");
    }

    /// Before: every length waited up to 4 ms, 20 times what fresh pages cost 256 KiB (review).
    #[test]
    fn the_wait_for_the_zeroer_grows_with_the_block() {
        let micros = |len: u64| zeroer_wait(len).as_micros();
        assert_eq!(micros(crate::memory::MMAP_THRESHOLD), 100, "at least");
        assert_eq!(micros(1 << 20), 251);
        assert_eq!(micros(4 << 20), 1006);
        assert_eq!(micros(MAX_BLOCK), 4000, "at most");
        assert_eq!(micros(u64::MAX), 4000);
        assert_eq!(micros(0), 100);
    }

    /// Before: a panic while its taker zeroed a block left it mapped for good, neither kept nor
    /// handed out (review).
    #[test]
    fn a_block_whose_zeroing_panics_in_its_taker_goes_back_to_the_os() {
        let len = 1 << 20;
        let (reuse, block) = cache_and_written_block(len);
        assert!(unsafe { reuse.keep(block, len, Warmth::Warm) });
        let unmapped = crate::memory::unmapped_here();
        arm_while_zeroing(|_| panic!("armed by a test"));
        let taken = std::panic::catch_unwind(AssertUnwindSafe(|| reuse.take(len)));
        assert!(taken.is_err(), "the zeroing panicked");
        assert_eq!(reuse.kept_bytes(), 0);
        assert_eq!(
            crate::memory::unmapped_here() - unmapped,
            len,
            "the block was unmapped"
        );
        assert_eq!(reuse.take(len), None);
    }

    /// Before: a block remembered as taken wholly resident stayed remembered once its zeroing
    /// panicked and it was unmapped, for whatever is mapped at its address next (review).
    #[test]
    fn a_block_whose_zeroing_panics_is_forgotten_as_wholly_resident() {
        let len = 1 << 20;
        let (reuse, block) = cache_and_written_block(len);
        assert!(unsafe { reuse.keep(block, len, Warmth::Warm) });
        let block = reuse.take(len).expect("kept, every page resident");
        fill_block(block, len, 0xCD);
        assert!(unsafe { reuse.keep(block, len, Warmth::Warm) });
        assert!(kept_fully_resident(&reuse, block));
        arm_while_zeroing(|_| panic!("armed by a test"));
        let taken = std::panic::catch_unwind(AssertUnwindSafe(|| reuse.take(len)));
        assert!(taken.is_err(), "the zeroing panicked");
        let address = block.as_ptr() as usize;
        let mut blocks = reuse.blocks.lock();
        assert_eq!(blocks.fully_resident.take_if(|b| b.0 == address), None);
    }

    /// Before: a refused mapping was retried after the trim alone, which cannot reach the block
    /// the zeroer thread holds: the refusal stood, with that block back moments later (review).
    #[test]
    fn a_refused_mapping_takes_the_block_the_zeroer_holds() {
        let len = 1 << 20;
        let (reuse, block) = cache_and_written_block(len);
        assert!(unsafe { reuse.keep(block, len, Warmth::Cold) });
        let (held, zeroer_holds) = std::sync::mpsc::channel();
        let (go, zeroer_goes) = std::sync::mpsc::channel::<()>();
        let (done, zeroer_done) = std::sync::mpsc::channel();
        let taken = std::thread::scope(|scope| {
            let reuse = &reuse;
            scope.spawn(move || {
                // The zeroer thread, stalled in the block until let go.
                arm_while_zeroing(move |_| {
                    let _ = held.send(());
                    let _ = zeroer_goes.recv();
                });
                assert!(zero_one_behind(reuse));
                let _ = done.send(());
            });
            zeroer_holds.recv().expect("the zeroer holds the block");
            // The allocation's first take gives up on the stalled zeroer; the retry's take
            // lets it go and waits until it is done (its deadline then passes, and it finds the
            // block back in the list), so that no timing decides the outcome.
            let let_go = go.clone();
            let mut waits = 0;
            arm_while_waiting_for_zeroer(move |blocks| {
                waits += 1;
                if waits == 2 {
                    MutexGuard::unlocked(blocks, || {
                        let _ = let_go.send(());
                        let _ = zeroer_done.recv();
                    });
                }
            });
            crate::memory::arm_map_failure();
            let taken = crate::memory::kept_or_mapped(reuse, len);
            WHILE_WAITING.with(|w| w.borrow_mut().take());
            let _ = go.send(()); // a zeroer still stalled (the retry never took) goes on
            taken
        });
        let taken = taken.expect("a block");
        let (is_block, zeroed) = (taken == block, all_zero(taken, len));
        // SAFETY: taken, so ours; unmapped once.
        unsafe { unmap(taken, len) };
        assert!(is_block, "a fresh mapping rather than the zeroer's block");
        assert!(zeroed);
        assert_eq!(reuse.kept_bytes(), 0);
    }

    /// Before: the trim that runs when the OS refused memory shrank the lists of kept malloc
    /// blocks with `shrink_to`, and the periodic one split the kept mapped blocks into two new
    /// lists: a `realloc` or `malloc` that, refused, aborted the process (review). Refused here,
    /// the trims give back what they can without.
    #[test]
    fn trims_need_no_allocation_that_would_abort() {
        let reuse = Reuse::new();
        reuse.set_limit_for_budget(64 << 20);
        let capacity = 100;
        let size = MallocBlocks::block_size(capacity) as usize;
        let keep_malloced = |count| {
            for _ in 0..count {
                // SAFETY: malloc with a non-zero size; kept, so the cache frees it.
                let ptr = NonNull::new(unsafe { libc::malloc(size) }.cast()).unwrap();
                assert!(unsafe { reuse.malloced.keep(ptr, capacity) });
            }
        };
        // A list far longer than the blocks of its class, none idle through a trim period.
        keep_malloced(100);
        reuse.trim(Duration::ZERO); // the period ends
        for _ in 0..100 {
            let ptr = reuse.malloced.take(capacity).expect("kept");
            // SAFETY: taken, so ours; freed once.
            unsafe { crate::memory::free_to_malloc(ptr.as_ptr().cast()) };
        }
        keep_malloced(2);
        let mapped = map(1 << 20).unwrap();
        assert!(unsafe { reuse.keep(mapped, 1 << 20, Warmth::Warm) });
        crate::testing::refusing_allocations(|| reuse.trim(Duration::ZERO));
        assert_eq!(reuse.kept_bytes(), 0, "the mapped block went back");
        assert_eq!(reuse.malloced.kept_bytes(), 2 * size as u64, "not idle yet");
        let mapped = map(1 << 20).unwrap();
        assert!(unsafe { reuse.keep(mapped, 1 << 20, Warmth::Warm) });
        crate::testing::refusing_allocations(|| reuse.trim(Duration::from_secs(3600)));
        assert_eq!(reuse.kept_bytes(), 1 << 20, "not idle: kept");
        // Idle, but the lists it would be split into refused: kept until a trim that gets them.
        std::thread::sleep(Duration::from_millis(2));
        crate::testing::refusing_allocations(|| reuse.trim(Duration::from_millis(1)));
        assert_eq!(reuse.kept_bytes(), 1 << 20, "idle, lists refused: kept");
        reuse.trim(Duration::from_millis(1));
        assert_eq!(reuse.kept_bytes(), 0, "idle: gone back");
        reuse.set_limit(0);
        assert_eq!(reuse.kept_bytes() + reuse.malloced.kept_bytes(), 0);
    }

    /// Before: the block the zeroer held was out of `bytes`, and `keep` could fill the cache past
    /// its limit by as much meanwhile (review).
    #[test]
    fn a_block_being_zeroed_behind_still_counts_against_the_limit() {
        let len = 2 << 20;
        let (reuse, block) = cache_and_written_block(len);
        reuse.set_limit(3 << 20);
        assert!(unsafe { reuse.keep(block, len, Warmth::Cold) });
        let other = map(len).unwrap();
        let seen = std::rc::Rc::new(RefCell::new(None));
        let record = seen.clone();
        // Runs while the zeroer holds the block (caught there, so only recorded).
        arm_while_zeroing(move |reuse| {
            // SAFETY: ours; if kept, the cache holds it.
            let kept = unsafe { reuse.keep(other, len, Warmth::Warm) };
            *record.borrow_mut() = Some((reuse.kept_bytes(), kept));
        });
        assert!(zero_one_behind(&reuse));
        assert_eq!(
            *seen.borrow(),
            Some((len, false)),
            "(kept bytes, other kept)"
        );
        assert_eq!(reuse.kept_bytes(), len, "kept again, zeroed");
        assert!(all_zero(block, len));
        // SAFETY: not kept, so ours.
        unsafe { unmap(other, len) };
        take_zeroed_and_unmap(&reuse, len);
    }

    /// `take`, with the block's address, which can cross threads.
    fn reuse_take(reuse: &Reuse, len: u64) -> Option<usize> {
        reuse.take(len).map(|ptr| ptr.as_ptr() as usize)
    }
}
