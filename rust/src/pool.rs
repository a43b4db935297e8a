//! The pool: budget, memory and reclamation together, as the JNI layer uses them.

use crate::error::Error;
use crate::ledger::{Ledger, LedgerSnapshot, Reservation};
use crate::memory;
use crate::reclaim::{Collector, Policy, Reclaimer, ReserveError, Waiting};
use once_cell::sync::OnceCell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// Direct memory handed out under one budget.
pub struct Pool {
    ledger: Ledger,
    reclaimer: Reclaimer,
    reclaimed_bytes: AtomicU64,
    freed_bytes: AtomicU64,
    failures: AtomicU64,
    /// Added to the budget's error after collections: what this JVM's collector cannot be made
    /// to find (see `Budget.collectorCaveat` in Java).
    collector_caveat: OnceCell<String>,
}

/// A block `Pool::allocate` handed out, as it must be described to free it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub ptr: NonNull<u8>,
    pub capacity: u64,
    /// The alignment it was allocated with (1: none asked for).
    pub alignment: u64,
    /// The number of the last collection begun once it was allocated (its low 32 bits), as the
    /// Java side stamped it: read for the reclaimer thread's frees only (see
    /// `Reclaimer::freed_by_reclaimer`); 0 elsewhere.
    pub stamp: u32,
}

pub use crate::memory::FreedBy;

/// Everything `DirectMemory.stats()` reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub ledger: LedgerSnapshot,
    pub collections: u64,
    pub reclaimed_bytes: u64,
    pub freed_bytes: u64,
    pub failures: u64,
}

impl Pool {
    pub fn new(max: u64, policy: Policy) -> Self {
        Pool {
            ledger: Ledger::new(max),
            reclaimer: Reclaimer::new(policy),
            reclaimed_bytes: AtomicU64::new(0),
            freed_bytes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            collector_caveat: OnceCell::new(),
        }
    }

    /// Sets the text the budget's error adds after collections; the first one set stays.
    pub fn set_collector_caveat(&self, caveat: String) {
        let _ = self.collector_caveat.set(caveat);
    }

    pub fn set_max(&self, max: u64) {
        self.ledger.set_max(max);
    }

    /// Reserves budget for `capacity` bytes (reclaiming if needed) and allocates them zeroed,
    /// starting at a multiple of `alignment`: a power of two up to `memory::MAX_ALIGNMENT`, 1
    /// when any address will do (then blocks come from the plain path of `memory`).
    pub fn allocate(
        &self,
        capacity: u64,
        alignment: u64,
        collector: &mut dyn Collector,
    ) -> Result<NonNull<u8>, Error> {
        let reservation = reservation_checked(capacity, alignment)?;
        let used = self
            .reclaimer
            .reserve(&self.ledger, reservation, collector)
            .map_err(|e| self.failed(e, reservation))?;
        self.allocate_reserved(capacity, alignment, reservation, used)
    }

    /// As [`Pool::allocate`], one step at a time (see [`Reclaimer::reserve_step`]): `None` asks
    /// the caller to park for `waiting.park()`, then call again with the same `waiting`.
    pub fn allocate_step(
        &self,
        capacity: u64,
        alignment: u64,
        collector: &mut dyn Collector,
        waiting: &mut Waiting,
    ) -> Result<Option<NonNull<u8>>, Error> {
        let reservation = reservation_checked(capacity, alignment)?;
        let reserved = self
            .reclaimer
            .reserve_step(&self.ledger, reservation, collector, waiting)
            .map_err(|e| self.failed(e, reservation))?;
        if !reserved {
            return Ok(None);
        }
        self.allocate_reserved(capacity, alignment, reservation, waiting.granted_at())
            .map(Some)
    }

    /// As [`Pool::allocate`], but never reclaims and never fails for lack of memory: `None`,
    /// with nothing reserved, when the budget cannot take the block right now or the operating
    /// system refuses it. For blocks a caller can do without (small buffers' shared blocks: the
    /// caller then allocates the one buffer it needs, which reclaims and reports as usual).
    pub fn try_allocate(
        &self,
        capacity: u64,
        alignment: u64,
    ) -> Result<Option<NonNull<u8>>, Error> {
        let reservation = reservation_checked(capacity, alignment)?;
        let Some(used) = self.reclaimer.try_reserve(&self.ledger, reservation) else {
            return Ok(None);
        };
        match self.allocate_memory(capacity, alignment, reservation)? {
            Ok(ptr) => {
                self.ledger.note_peak(used);
                Ok(Some(ptr))
            }
            Err(_) => Ok(None),
        }
    }

    /// Allocates the memory of a block whose budget is reserved. If the operating system
    /// refuses it, or the allocation panics, the reservation is given back first (a panic then
    /// goes on): before, a panic kept it reserved for good, where a failed allocation reserves
    /// nothing (review). An `Err` is a ledger refusal of that release.
    fn allocate_memory(
        &self,
        capacity: u64,
        alignment: u64,
        reservation: Reservation,
    ) -> Result<Result<NonNull<u8>, memory::Refusal>, Error> {
        let allocated = std::panic::catch_unwind(|| memory::allocate_aligned(capacity, alignment));
        if let Ok(Ok(ptr)) = allocated {
            return Ok(Ok(ptr));
        }
        let released = self.ledger.release(reservation);
        if let Ok(used) = released {
            // As the program's own free of a block: the low use it may leave counts as room,
            // and a block that never existed counts nothing toward a later early collection
            // (one its reservation already asked for stands: another thread may want it too).
            self.reclaimer.freed_by_program(reservation.footprint, used);
        }
        self.reclaimer.notify_freed();
        match allocated {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(refused) => {
                released.map_err(Error::from)?;
                Ok(refused)
            }
        }
    }

    /// Allocates a block whose budget is reserved (leaving `used` at `used`); gives the
    /// reservation back if the operating system refuses the memory.
    fn allocate_reserved(
        &self,
        capacity: u64,
        alignment: u64,
        reservation: Reservation,
        used: u64,
    ) -> Result<NonNull<u8>, Error> {
        match self.allocate_memory(capacity, alignment, reservation)? {
            Ok(ptr) => {
                self.ledger.note_peak(used);
                Ok(ptr)
            }
            Err(refusal) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                let aligned = if alignment > 1 {
                    format!(" aligned to {alignment}")
                } else {
                    String::new()
                };
                // Java tells this refusal from a full Java heap by its first words
                // (`Allocation.OS_REFUSAL`): they stay as they are.
                Err(Error::OutOfMemory(format!(
                    "the operating system refused {capacity} bytes of direct memory{aligned} \
                     (used: {}, max: {}): {refusal}",
                    self.ledger.used(),
                    self.ledger.max()
                )))
            }
        }
    }

    /// Frees a block from `allocate` and returns its budget. An `Err` means nothing was freed
    /// (see [`past_release`]).
    ///
    /// # Safety
    /// The block must come from one `allocate` of this pool (same capacity and alignment), and
    /// be freed exactly once.
    pub unsafe fn free(&self, block: Block, by: FreedBy) -> Result<(), Error> {
        self.free_quietly(block, by)?;
        self.after_frees(by);
        Ok(())
    }

    /// Wakes waiting threads and the caches' zeroer once memory came back.
    fn after_frees(&self, by: FreedBy) {
        past_release(|| {
            self.notify_freed(by);
            memory::after_frees(by);
        });
    }

    /// Wakes threads waiting for memory; frees by the reclaimer also tell them garbage came back.
    fn notify_freed(&self, by: FreedBy) {
        match by {
            FreedBy::Reclaimer => self.reclaimer.notify_reclaimed_down_to(self.ledger.used()),
            FreedBy::Caller => self.reclaimer.notify_freed_down_to(self.ledger.used()),
        }
    }

    /// Frees several blocks, then wakes waiting threads once rather than once per block. Every
    /// block is freed even if one fails; the first failure among the mapped blocks is returned,
    /// else the first among the others.
    ///
    /// # Safety
    /// As [`Pool::free`], for each block.
    pub unsafe fn free_all(&self, mut blocks: Vec<Block>, by: FreedBy) -> Result<(), Error> {
        if blocks.is_empty() {
            return Ok(()); // nothing came back: waiting threads must not count it as a free
        }
        // Mapped blocks one by one, each released from the budget right before its memory goes:
        // released for the whole batch first, the budget ran ahead of the memory by up to the
        // batch, and other threads mapped and faulted new blocks meanwhile (huge pages, 2 MiB
        // buffers on two threads: 433 MiB resident against a bound of 370). Their ledger steps
        // cost nothing next to an munmap.
        let mut outcome = Ok(());
        blocks.retain(|block| {
            if !memory::is_mapped(block.capacity, block.alignment) {
                return true;
            }
            let freed = self.free_quietly(*block, by);
            if outcome.is_ok() {
                outcome = freed;
            }
            false
        });
        let small = self.free_small(blocks, by);
        self.after_frees(by);
        outcome.and(small)
    }

    /// The blocks from malloc of [`Pool::free_all`]'s batch, with one ledger release for all:
    /// per block, its atomic steps contended with the allocating threads' reservations
    /// (measured on the reclaimer thread).
    ///
    /// # Safety
    /// As [`Pool::free`], for each block.
    unsafe fn free_small(&self, blocks: Vec<Block>, by: FreedBy) -> Result<(), Error> {
        if blocks.is_empty() {
            return Ok(());
        }
        match self.release_batch(&blocks, by) {
            Some(()) => {
                for block in &blocks {
                    past_release(|| {
                        memory::free_aligned(block.ptr, block.capacity, block.alignment, by)
                    });
                }
                Ok(())
            }
            // An invalid block or a ledger refusal: block by block, to free every valid one and
            // report the first failure.
            None => {
                let mut outcome = Ok(());
                for block in blocks {
                    let freed = self.free_quietly(block, by);
                    if outcome.is_ok() {
                        outcome = freed;
                    }
                }
                outcome
            }
        }
    }

    /// Counts the blocks freed and releases the ledger for all of them at once; `None` (nothing
    /// counted or released) if a block is invalid or the ledger refuses.
    fn release_batch(&self, blocks: &[Block], by: FreedBy) -> Option<()> {
        let mut total = Reservation {
            capacity: 0,
            footprint: 0,
        };
        for block in blocks {
            let r = reservation_checked(block.capacity, block.alignment).ok()?;
            total.capacity = total.capacity.checked_add(r.capacity)?;
            total.footprint = total.footprint.checked_add(r.footprint)?;
        }
        self.count_and_release(blocks, total, by).ok()
    }

    /// Counts `total.capacity` (that of `blocks`, all valid) as freed by `by`, then releases
    /// their reservations from the ledger, undoing the count if the ledger refuses. Counted first,
    /// so that whoever sees the ledger at zero sees every freed byte counted (a settled snapshot
    /// adds up). Once released, the blocks are told to the reclaimer, which weighs the two kinds
    /// of free differently.
    fn count_and_release(
        &self,
        blocks: &[Block],
        total: Reservation,
        by: FreedBy,
    ) -> Result<(), crate::ledger::Underflow> {
        let counter = self.freed_counter(by);
        counter.fetch_add(total.capacity, Ordering::Relaxed);
        let released = self.ledger.release_many(blocks.len() as u64, total);
        match released {
            Err(_) => {
                counter.fetch_sub(total.capacity, Ordering::Relaxed);
            }
            Ok(used) if by == FreedBy::Caller => {
                self.reclaimer.freed_by_program(total.footprint, used)
            }
            Ok(used) => {
                let frees = blocks.iter().filter_map(|block| {
                    let r = reservation_checked(block.capacity, block.alignment).ok()?;
                    Some((r.footprint, block.stamp))
                });
                self.reclaimer.freed_by_reclaimer(frees, used)
            }
        }
        released.map(|_| ())
    }

    fn freed_counter(&self, by: FreedBy) -> &AtomicU64 {
        match by {
            FreedBy::Caller => &self.freed_bytes,
            FreedBy::Reclaimer => &self.reclaimed_bytes,
        }
    }

    /// Records whether the reclaimer thread has more frees queued; see [`Reclaimer::set_backlog`].
    pub fn set_reclaimer_backlog(&self, more_queued: bool) {
        self.reclaimer.set_backlog(more_queued);
    }

    /// The number of the last collection begun, which the Java side stamps each block with (see
    /// [`Reclaimer::collections_begun`]).
    pub fn collections_begun(&self) -> &AtomicU64 {
        self.reclaimer.collections_begun()
    }

    unsafe fn free_quietly(&self, block: Block, by: FreedBy) -> Result<(), Error> {
        let Block {
            ptr,
            capacity,
            alignment,
            ..
        } = block;
        // As checked at its allocation: a capacity no buffer has must not reach the ledger, nor
        // its footprint's rounding.
        let reservation = reservation_checked(capacity, alignment)?;
        // The ledger is released before the memory: if it refuses (a bookkeeping bug), nothing
        // is freed.
        self.count_and_release(std::slice::from_ref(&block), reservation, by)?;
        past_release(|| memory::free_aligned(ptr, capacity, alignment, by));
        Ok(())
    }

    /// The background thread's wait for an early collection; see [`Reclaimer::await_early_collection`].
    pub fn await_early_collection(&self, timeout: std::time::Duration) -> bool {
        self.reclaimer.await_early_collection(timeout)
    }

    /// Runs the early collection the background thread was woken for.
    pub fn collect_early(&self, collector: &mut dyn Collector) -> Result<(), Error> {
        self.reclaimer
            .collect_early(&self.ledger, collector)
            .map_err(|f| Error::IllegalState(format!("early collection failed: {}", f.0)))
    }

    /// Capacity given back by the reclaimer thread so far: rises when a collection found garbage.
    pub fn reclaimed_bytes(&self) -> u64 {
        self.reclaimed_bytes.load(Ordering::Relaxed)
    }

    pub fn stats(&self) -> PoolStats {
        PoolStats {
            ledger: self.ledger.snapshot(),
            collections: self.reclaimer.collections_run(),
            reclaimed_bytes: self.reclaimed_bytes.load(Ordering::Relaxed),
            freed_bytes: self.freed_bytes.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }

    /// The error for a reservation the reclaimer could not make. Every message names the
    /// capacity asked for, the budget's use and maximum, and the reservation's footprint where
    /// alignment or rounding makes it larger (the footprint is what the budget must take).
    ///
    /// Only the budget's refusals count as failed allocations. A collector failure is a JNI call
    /// of the JVM's collector that failed with a Java exception pending (`new_object` of the
    /// canary with the Java heap full, `NewWeakGlobalRef` out of C heap): the guard lets that
    /// exception through and Java raises no AllocationFailure event for it; counted, it was a
    /// refusal in the stats for an `OutOfMemoryError: Java heap space` (review). A collector
    /// failure with no exception pending (the canary vanishing: not known to happen; JVMTI's
    /// refusal falls back to heap pressure) would throw this error uncounted.
    fn failed(&self, e: ReserveError, reservation: Reservation) -> Error {
        if matches!(e, ReserveError::Exhausted(_)) {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        let cannot = |used: u64, max: u64| {
            let footprint = if reservation.footprint == reservation.capacity {
                String::new()
            } else {
                format!(", {} with alignment and rounding", reservation.footprint)
            };
            format!(
                "Cannot reserve {} bytes of direct buffer memory (used: {used}, max: {max}{footprint})",
                reservation.capacity
            )
        };
        match e {
            // No collection was tried: freeing buffers cannot help either.
            ReserveError::Exhausted(e) if e.refused.requested > e.refused.max => {
                Error::BudgetExhausted(format!(
                    "{}: more than the whole budget; raise -Ddirectmem.maxMemory",
                    cannot(e.refused.used, e.refused.max)
                ))
            }
            ReserveError::Exhausted(e) if e.contended => Error::BudgetExhausted(format!(
                "{} after waiting {} s, while garbage collections kept giving memory back that \
                 other threads took first; raise -Ddirectmem.maxMemory, free buffers with \
                 DirectMemory.free, or allocate from fewer threads at once{}",
                cannot(e.refused.used, e.refused.max),
                self.reclaimer.policy().max_wait.as_secs_f64(),
                self.collector_caveat.get().map_or("", String::as_str),
            )),
            ReserveError::Exhausted(e) => Error::BudgetExhausted(format!(
                "{} after {} garbage collection(s) and waiting for their cleaners; raise \
                 -Ddirectmem.maxMemory or free buffers with DirectMemory.free{}",
                cannot(e.refused.used, e.refused.max),
                e.collections,
                match self.collector_caveat.get() {
                    Some(caveat) if e.collections > 0 => caveat.as_str(),
                    _ => "",
                }
            )),
            ReserveError::CollectorFailed(f) => Error::BudgetExhausted(format!(
                "{}: could not make the JVM collect garbage to reclaim it: {}",
                cannot(self.ledger.used(), self.ledger.max()),
                f.0
            )),
        }
    }
}

/// What a block of `capacity` bytes at `alignment` takes from the budget, once both are valid:
/// for an allocation and for a free alike.
fn reservation_checked(capacity: u64, alignment: u64) -> Result<Reservation, Error> {
    memory::check_alignment(alignment).map_err(Error::IllegalArgument)?;
    if capacity > memory::MAX_CAPACITY {
        return Err(Error::IllegalArgument(format!(
            "capacity {capacity} exceeds the largest buffer, {}",
            memory::MAX_CAPACITY
        )));
    }
    memory::reservation_for_aligned(capacity, alignment).map_err(Error::IllegalArgument)
}

/// Runs a step that follows a ledger release. The free has then happened for the caller, who
/// must not be told otherwise: Java takes an error from a free (a pending `OutOfMemoryError`, when
/// a panic's exception cannot be made with the Java heap full) for a free that did not happen,
/// keeps the block, and a later free would free it twice. So a panic here (none is known to be
/// reachable) is logged, and the free stands.
fn past_release(step: impl FnOnce()) {
    #[cfg(test)]
    let step = move || {
        tests::panic_if_armed();
        tests::observe_past_release();
        step()
    };
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)) {
        log::error!(
            "directmem: native panic after a free was counted (the free stands): {}",
            crate::error::describe_panic(&*panic)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reclaim::Collection;

    struct NoGarbage;
    impl Collector for NoGarbage {
        fn collect(&mut self) -> Result<Collection, String> {
            Ok(Collection::Forced)
        }
    }

    fn quick() -> Policy {
        Policy {
            max_collections: 1,
            max_wait: std::time::Duration::from_secs(1),
            first_pause: std::time::Duration::from_millis(1),
            last_pause: std::time::Duration::from_millis(2),
            high_water_percent: 100,
        }
    }

    fn plain(ptr: NonNull<u8>, capacity: u64) -> Block {
        Block {
            ptr,
            capacity,
            alignment: 1,
            stamp: 0,
        }
    }

    #[test]
    fn allocate_and_free_keep_the_ledger_exact() {
        let pool = Pool::new(1 << 30, quick());
        let sizes = [0u64, 1, 4096, memory::MMAP_THRESHOLD + 1];
        let blocks: Vec<_> = sizes
            .iter()
            .map(|&c| (pool.allocate(c, 1, &mut NoGarbage).unwrap(), c))
            .collect();
        let s = pool.stats();
        assert_eq!(s.ledger.count, 4);
        assert_eq!(s.ledger.capacity, sizes.iter().sum::<u64>());
        assert!(s.ledger.used >= s.ledger.capacity);
        for (ptr, capacity) in blocks {
            // SAFETY: each block is freed once with its own capacity.
            unsafe { pool.free(plain(ptr, capacity), FreedBy::Reclaimer).unwrap() };
        }
        let s = pool.stats();
        assert_eq!(
            (s.ledger.used, s.ledger.count, s.ledger.capacity),
            (0, 0, 0)
        );
        assert_eq!(s.reclaimed_bytes, sizes.iter().sum::<u64>());
    }

    #[test]
    fn a_batch_frees_every_block_and_a_bad_block_spoils_only_itself() {
        let pool = Pool::new(1 << 30, quick());
        let sizes = [1u64, 64, 4096, memory::MMAP_THRESHOLD];
        let batch = |pool: &Pool| -> Vec<Block> {
            sizes
                .iter()
                .map(|&c| plain(pool.allocate(c, 1, &mut NoGarbage).unwrap(), c))
                .collect()
        };
        let blocks = batch(&pool);
        // SAFETY: each block is freed once, as allocated.
        unsafe { pool.free_all(blocks, FreedBy::Reclaimer).unwrap() };
        let s = pool.stats();
        assert_eq!((s.ledger.used, s.ledger.count), (0, 0));
        assert_eq!(s.reclaimed_bytes, sizes.iter().sum::<u64>());

        let mut blocks = batch(&pool);
        let bad = pool.allocate(8, 1, &mut NoGarbage).unwrap();
        blocks.insert(
            1,
            Block {
                alignment: 3,
                ..plain(bad, 8)
            },
        );
        // SAFETY: as above; the bad block is refused before anything is done with it.
        let err = unsafe { pool.free_all(blocks, FreedBy::Reclaimer).unwrap_err() };
        assert!(matches!(err, Error::IllegalArgument(_)), "{err:?}");
        let s = pool.stats();
        assert_eq!(
            (s.ledger.count, s.ledger.capacity),
            (1, 8),
            "all but the bad block freed"
        );
        // SAFETY: described correctly this time.
        unsafe { pool.free(plain(bad, 8), FreedBy::Caller).unwrap() };
        assert_eq!(pool.stats().ledger.used, 0);
    }

    thread_local! {
        /// While set, every step of this thread's frees past the ledger release panics.
        static PANIC_PAST_RELEASE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    thread_local! {
        /// While set, runs at every step of this thread's frees past the ledger release.
        static OBSERVE_PAST_RELEASE: std::cell::RefCell<Option<Box<dyn Fn()>>> =
            const { std::cell::RefCell::new(None) };
    }

    pub(super) fn observe_past_release() {
        OBSERVE_PAST_RELEASE.with(|o| {
            if let Some(observe) = o.borrow().as_ref() {
                observe();
            }
        });
    }

    #[test]
    fn a_batch_releases_each_mapped_block_right_before_its_memory_goes() {
        // Small blocks aligned above a page are mappings too: released for the whole batch
        // first, the budget ran ahead of the memory (helper-68).
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(1 << 30, quick())));
        let alignment = 2 * memory::page_size();
        let blocks: Vec<_> = (0..2)
            .map(|_| Block {
                ptr: pool.allocate(4096, alignment, &mut NoGarbage).unwrap(),
                capacity: 4096,
                alignment,
                stamp: 0,
            })
            .collect();
        let footprint = pool.stats().ledger.used / 2;
        let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let record = seen.clone();
        OBSERVE_PAST_RELEASE.with(|o| {
            *o.borrow_mut() = Some(Box::new(move || {
                record.borrow_mut().push(pool.stats().ledger.used)
            }))
        });
        // SAFETY: each block is freed once, as allocated.
        let freed = unsafe { pool.free_all(blocks, FreedBy::Reclaimer) };
        OBSERVE_PAST_RELEASE.with(|o| *o.borrow_mut() = None);
        freed.unwrap();
        assert_eq!(
            seen.borrow().first(),
            Some(&footprint),
            "the second block was still counted while the first one's memory went"
        );
        assert_eq!(pool.stats().ledger.used, 0);
    }

    pub(super) fn panic_if_armed() {
        if PANIC_PAST_RELEASE.with(|p| p.get()) {
            panic!("armed by a test");
        }
    }

    /// Runs `body` with every step past a ledger release panicking (memory freed in `body` is
    /// then never given back: the steps that would have are the ones that panic).
    fn panicking_past_release<R>(body: impl FnOnce() -> R) -> R {
        crate::testing::with_flag_set(&PANIC_PAST_RELEASE, body)
    }

    #[test]
    fn a_panic_past_the_ledger_release_is_logged_and_the_free_stands() {
        // A free reported as failed would be kept by Java for a later free: a double free.
        let pool = Pool::new(1 << 30, quick());
        let sizes = [64u64, memory::MMAP_THRESHOLD + 1];
        let blocks: Vec<_> = sizes
            .iter()
            .map(|&c| plain(pool.allocate(c, 1, &mut NoGarbage).unwrap(), c))
            .collect();
        panicking_past_release(|| {
            for block in &blocks {
                // SAFETY: each block is freed once, as allocated.
                unsafe { pool.free(*block, FreedBy::Caller) }.expect("the free stands");
            }
        });
        let s = pool.stats();
        assert_eq!((s.ledger.used, s.ledger.count), (0, 0));
        assert_eq!(s.freed_bytes, sizes.iter().sum::<u64>());
    }

    #[test]
    fn a_panic_past_the_ledger_release_spoils_no_other_block_of_a_batch() {
        let pool = Pool::new(1 << 30, quick());
        let sizes = [
            1u64,
            4096,
            memory::MMAP_THRESHOLD,
            memory::MMAP_THRESHOLD + 1,
        ];
        let blocks: Vec<_> = sizes
            .iter()
            .map(|&c| plain(pool.allocate(c, 1, &mut NoGarbage).unwrap(), c))
            .collect();
        // SAFETY: each block is freed once, as allocated.
        panicking_past_release(|| unsafe { pool.free_all(blocks, FreedBy::Reclaimer) })
            .expect("the frees stand");
        let s = pool.stats();
        assert_eq!((s.ledger.used, s.ledger.count), (0, 0));
        assert_eq!(s.reclaimed_bytes, sizes.iter().sum::<u64>());
    }

    #[test]
    fn a_batch_of_small_aligned_blocks_gives_back_their_padding() {
        // The batch's one ledger release sums each block's footprint, alignment padding included.
        let pool = Pool::new(1 << 30, quick());
        let blocks: Vec<_> = [(100u64, 64u64), (5000, 4096), (10, 8)]
            .iter()
            .map(|&(capacity, alignment)| Block {
                ptr: pool.allocate(capacity, alignment, &mut NoGarbage).unwrap(),
                capacity,
                alignment,
                stamp: 0,
            })
            .collect();
        // SAFETY: each block is freed once, as allocated.
        unsafe { pool.free_all(blocks, FreedBy::Reclaimer).unwrap() };
        let s = pool.stats();
        assert_eq!(
            (s.ledger.used, s.ledger.count, s.ledger.capacity),
            (0, 0, 0)
        );
        assert_eq!(s.reclaimed_bytes, 5110);
    }

    #[test]
    fn a_refused_free_counts_nothing_freed() {
        let pool = Pool::new(1 << 30, quick());
        let ptr = pool.allocate(10, 1, &mut NoGarbage).unwrap();
        // Described as larger than allocated: more than the ledger holds, so refused.
        // SAFETY: refused before anything is done with the block.
        assert!(unsafe { pool.free(plain(ptr, 1 << 20), FreedBy::Caller) }.is_err());
        assert_eq!(pool.stats().freed_bytes, 0);
        // SAFETY: described correctly this time.
        unsafe { pool.free(plain(ptr, 10), FreedBy::Caller).unwrap() };
        assert_eq!(pool.stats().freed_bytes, 10);
    }

    /// Before: such a free wrapped its footprint in release builds (u64::MAX rounded up to
    /// pages came to 0) and panicked in debug ones, and MAX_CAPACITY + 1 was an IllegalState
    /// from the ledger (review).
    #[test]
    fn a_free_with_a_capacity_no_buffer_has_is_an_illegal_argument() {
        let pool = Pool::new(1 << 30, quick());
        let ptr = pool.allocate(10, 1, &mut NoGarbage).unwrap();
        let illegal = |freed: Result<(), Error>, capacity: u64| {
            let err = freed.unwrap_err();
            assert!(
                matches!(err, Error::IllegalArgument(ref m) if m.contains(&capacity.to_string())),
                "{err:?}"
            );
        };
        for capacity in [u64::MAX, u64::MAX - 100, memory::MAX_CAPACITY + 1] {
            for alignment in [1, 2 * memory::page_size()] {
                let block = Block {
                    ptr,
                    capacity,
                    alignment,
                    stamp: 0,
                };
                // SAFETY: refused before anything is done with the block.
                illegal(unsafe { pool.free(block, FreedBy::Caller) }, capacity);
                // SAFETY: as above.
                let freed = unsafe { pool.free_all(vec![block], FreedBy::Reclaimer) };
                illegal(freed, capacity);
            }
        }
        let s = pool.stats();
        assert_eq!(
            (s.ledger.count, s.freed_bytes, s.reclaimed_bytes),
            (1, 0, 0)
        );
        // SAFETY: described correctly this time.
        unsafe { pool.free(plain(ptr, 10), FreedBy::Caller).unwrap() };
        let s = pool.stats();
        assert_eq!((s.ledger.used, s.ledger.count, s.freed_bytes), (0, 0, 10));
    }

    #[test]
    fn the_collector_caveat_follows_an_error_after_collections_only() {
        let pool = Pool::new(100, quick());
        pool.set_collector_caveat("; a caveat".into());
        let held = pool.allocate(80, 1, &mut NoGarbage).unwrap();
        let after_collections = pool.allocate(30, 1, &mut NoGarbage).unwrap_err();
        assert!(after_collections.message().ends_with("; a caveat"));
        let above_the_budget = pool.allocate(101, 1, &mut NoGarbage).unwrap_err();
        assert!(!above_the_budget.message().contains("a caveat"));
        // SAFETY: freed once.
        unsafe { pool.free(plain(held, 80), FreedBy::Caller).unwrap() };
    }

    #[test]
    fn exhausted_budget_reports_numbers_and_reserves_nothing() {
        let pool = Pool::new(100, quick());
        let held = pool.allocate(80, 1, &mut NoGarbage).unwrap();
        let err = pool.allocate(30, 1, &mut NoGarbage).unwrap_err();
        let Error::BudgetExhausted(msg) = err else {
            panic!("expected BudgetExhausted")
        };
        assert!(msg.contains("Cannot reserve 30 bytes"), "{msg}");
        assert!(msg.contains("used: 80, max: 100"), "{msg}");
        assert!(msg.contains("after 1 garbage collection(s)"), "{msg}");
        assert_eq!(pool.stats().ledger.used, 80);
        assert_eq!(pool.stats().failures, 1);
        // SAFETY: freed once.
        unsafe { pool.free(plain(held, 80), FreedBy::Caller).unwrap() };
        assert!(pool.allocate(30, 1, &mut NoGarbage).is_ok());
    }

    /// Before: "after N forced garbage collection(s)", counting collections the JVM ran from heap
    /// pressure, unconfirmed ones and those joined (review).
    #[test]
    fn collections_that_were_not_forced_are_not_called_forced() {
        struct HeapPressure;
        impl Collector for HeapPressure {
            fn collect(&mut self) -> Result<Collection, String> {
                Ok(Collection::HeapPressure)
            }
        }
        let pool = Pool::new(100, quick());
        let held = pool.allocate(80, 1, &mut HeapPressure).unwrap();
        let msg = pool
            .allocate(30, 1, &mut HeapPressure)
            .unwrap_err()
            .message();
        assert!(msg.contains("after 1 garbage collection(s)"), "{msg}");
        assert!(!msg.contains("forced"), "{msg}");
        // SAFETY: freed once.
        unsafe { pool.free(plain(held, 80), FreedBy::Caller).unwrap() };
    }

    #[test]
    fn a_collector_failure_names_the_bytes_asked_for() {
        struct Broken;
        impl Collector for Broken {
            fn collect(&mut self) -> Result<Collection, String> {
                Err("boom".into())
            }
        }
        let pool = Pool::new(100, quick());
        let held = pool.allocate(80, 1, &mut NoGarbage).unwrap();
        let msg = pool.allocate(30, 1, &mut Broken).unwrap_err().message();
        assert!(
            msg.starts_with("Cannot reserve 30 bytes of direct buffer memory (used: 80, max: 100): could not make the JVM collect garbage to reclaim it: boom"),
            "{msg}"
        );
        // The collector's failure, not the budget's refusal: a full Java heap, whose own error
        // the caller gets (before: counted as a failed allocation, review).
        assert_eq!(pool.stats().failures, 0);
        // SAFETY: freed once.
        unsafe { pool.free(plain(held, 80), FreedBy::Caller).unwrap() };
        // Nor in steps. A pool that never collected: its first step collects at once.
        let pool = Pool::new(100, quick());
        let held = pool.allocate(80, 1, &mut NoGarbage).unwrap();
        let stepped = pool.allocate_step(30, 1, &mut Broken, &mut Waiting::default());
        assert!(
            matches!(&stepped, Err(e) if e.message().contains("boom")),
            "{stepped:?}"
        );
        assert_eq!(pool.stats().failures, 0);
        // SAFETY: freed once.
        unsafe { pool.free(plain(held, 80), FreedBy::Caller).unwrap() };
    }

    #[test]
    fn a_footprint_above_the_capacity_is_named_too() {
        let pool = Pool::new(4096, quick());
        let msg = pool
            .allocate(100, 4096, &mut NoGarbage)
            .unwrap_err()
            .message();
        assert!(
            msg.starts_with("Cannot reserve 100 bytes of direct buffer memory (used: 0, max: 4096, 4196 with alignment and rounding): more than the whole budget"),
            "{msg}"
        );
    }

    #[test]
    fn more_than_the_whole_budget_says_so_and_collects_nothing() {
        let pool = Pool::new(100, quick());
        let err = pool.allocate(101, 1, &mut NoGarbage).unwrap_err();
        let Error::BudgetExhausted(msg) = err else {
            panic!("expected BudgetExhausted")
        };
        assert!(msg.contains("Cannot reserve 101 bytes"), "{msg}");
        assert!(msg.contains("more than the whole budget"), "{msg}");
        assert!(!msg.contains("garbage collection"), "{msg}");
        assert_eq!(pool.stats().ledger.used, 0);
    }

    #[test]
    fn a_reservation_that_lost_to_other_threads_says_so() {
        let pool = Pool::new(100, quick());
        let refused = crate::ledger::Refused {
            requested: 60,
            used: 90,
            max: 100,
        };
        let contended = pool.failed(
            ReserveError::Exhausted(crate::reclaim::Exhausted {
                refused,
                collections: 40,
                contended: true,
            }),
            Reservation {
                capacity: 60,
                footprint: 60,
            },
        );
        let Error::BudgetExhausted(msg) = contended else {
            panic!("expected BudgetExhausted")
        };
        assert!(msg.contains("Cannot reserve 60 bytes of direct buffer memory (used: 90, max: 100) after waiting 1 s, while garbage collections kept giving memory back that other threads took first"), "{msg}");
        assert!(!msg.contains("40"), "{msg}");
        assert_eq!(pool.stats().failures, 1);
    }

    #[test]
    fn refused_native_allocation_returns_its_reservation() {
        let pool = Pool::new(1000, quick());
        memory::arm_allocation_failure();
        let err = pool.allocate(64, 1, &mut NoGarbage).unwrap_err();
        assert!(matches!(err, Error::OutOfMemory(ref m) if m.contains("refused 64 bytes")));
        let s = pool.stats().ledger;
        assert_eq!((s.used, s.count, s.capacity, s.peak), (0, 0, 0, 0));
        assert!(pool.allocate(64, 1, &mut NoGarbage).is_ok());
        assert_eq!(pool.stats().ledger.peak, 64);
    }

    /// Before: each reservation the OS refused counted as allocated toward the half budget an
    /// early collection waits for, though nothing was (helper-106's review named the rollback).
    #[test]
    fn a_reservation_the_os_refused_moves_no_early_collection_nearer() {
        let pool = Pool::new(
            100,
            Policy {
                high_water_percent: 90,
                ..quick()
            },
        );
        let live = pool.allocate(80, 1, &mut NoGarbage).unwrap();
        let over = pool.allocate(30, 1, &mut NoGarbage);
        assert!(matches!(over, Err(Error::BudgetExhausted(_))), "{over:?}");
        // That collection began with 80 in use: the mark is at 98 from now on.
        for _ in 0..3 {
            memory::arm_allocation_failure();
            let refused = pool.allocate(15, 1, &mut NoGarbage);
            assert!(matches!(refused, Err(Error::OutOfMemory(_))), "{refused:?}");
        }
        let at_the_mark = pool.allocate(18, 1, &mut NoGarbage).unwrap();
        assert!(
            !pool.await_early_collection(std::time::Duration::from_millis(1)),
            "18 allocated since the collection, not the half budget"
        );
        // SAFETY: each freed once.
        unsafe {
            pool.free(plain(at_the_mark, 18), FreedBy::Caller).unwrap();
            pool.free(plain(live, 80), FreedBy::Caller).unwrap();
        }
    }

    /// Before: the message named neither the call the OS refused nor its error (review). Its
    /// first words stay: Java tells a refusal from a full Java heap by them.
    #[test]
    fn a_refusal_names_the_call_and_its_error() {
        let pool = Pool::new(1 << 30, quick());
        let page = memory::page_size();
        let refused = |capacity: u64, alignment: u64, errno: i32| {
            memory::arm_allocation_failure_with(errno);
            pool.allocate(capacity, alignment, &mut NoGarbage)
                .unwrap_err()
                .message()
        };
        let msg = refused(64, 1, libc::EAGAIN);
        let start =
            "the operating system refused 64 bytes of direct memory (used: 0, max: 1073741824): ";
        assert!(msg.starts_with(start), "{msg}");
        let error = std::io::Error::from_raw_os_error(libc::EAGAIN);
        assert!(msg.ends_with(&format!("malloc failed: {error}")), "{msg}");
        assert!(msg.contains("(os error 11)"), "{msg}");
        let msg = refused(memory::MMAP_THRESHOLD, 1, libc::ENOMEM);
        assert!(msg.contains("): mmap failed: "), "{msg}");
        let msg = refused(100, page, libc::ENOMEM);
        assert!(
            msg.contains(&format!("aligned to {page} (used: 0")),
            "{msg}"
        );
        assert!(msg.contains("): posix_memalign failed: "), "{msg}");
        let msg = refused(100, 2 * page, libc::ENOMEM);
        assert!(msg.contains("): mmap failed: "), "{msg}");
        assert_eq!(pool.stats().ledger.used, 0);
    }

    /// Before: a panic in the allocation left its reservation in the ledger for good (review).
    #[test]
    fn a_panicking_allocation_gives_its_reservation_back() {
        let pool = Pool::new(1 << 30, quick());
        for alignment in [1, 2 * memory::page_size()] {
            memory::arm_allocation_panic();
            let allocated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool.allocate(1 << 20, alignment, &mut NoGarbage)
            }));
            assert!(allocated.is_err(), "the panic goes on");
            memory::arm_allocation_panic();
            let allocated =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.try_allocate(64, 1)));
            assert!(allocated.is_err(), "the panic goes on");
        }
        let s = pool.stats().ledger;
        assert_eq!((s.used, s.count, s.capacity, s.peak), (0, 0, 0, 0));
        let ptr = pool.allocate(1 << 20, 1, &mut NoGarbage).unwrap();
        // SAFETY: freed once.
        unsafe { pool.free(plain(ptr, 1 << 20), FreedBy::Caller).unwrap() };
    }

    #[test]
    fn try_allocate_never_collects_and_a_refusal_leaves_nothing_reserved() {
        struct MustNotCollect;
        impl Collector for MustNotCollect {
            fn collect(&mut self) -> Result<Collection, String> {
                panic!("try_allocate must not collect")
            }
        }
        let pool = Pool::new(100, quick());
        let held = pool.try_allocate(80, 1).unwrap().expect("fits");
        assert_eq!(pool.try_allocate(30, 1).unwrap(), None, "over the budget");
        memory::arm_allocation_failure();
        assert_eq!(pool.try_allocate(8, 1).unwrap(), None, "refused by the OS");
        let s = pool.stats();
        assert_eq!((s.ledger.used, s.ledger.count, s.failures), (80, 1, 0));
        assert_eq!(s.ledger.peak, 80, "the refused block never existed");
        // SAFETY: freed once.
        unsafe { pool.free(plain(held, 80), FreedBy::Caller).unwrap() };
        assert!(pool.try_allocate(30, 1).unwrap().is_some());
        let _ = pool.allocate(1, 1, &mut MustNotCollect).unwrap();
    }

    #[test]
    fn capacity_beyond_a_java_buffer_is_an_illegal_argument() {
        let pool = Pool::new(u64::MAX, quick());
        let err = pool
            .allocate(memory::MAX_CAPACITY + 1, 1, &mut NoGarbage)
            .unwrap_err();
        assert!(matches!(err, Error::IllegalArgument(_)));
    }

    #[test]
    fn aligned_blocks_keep_the_ledger_exact() {
        let pool = Pool::new(1 << 30, quick());
        let cases = [
            (0u64, 4096u64),
            (100, 64),
            (5000, 4096),
            (1 << 20, 1 << 20),
            (10, 8),
        ];
        let blocks: Vec<_> = cases
            .iter()
            .map(|&(c, a)| (pool.allocate(c, a, &mut NoGarbage).unwrap(), c, a))
            .collect();
        let expected: u64 = cases
            .iter()
            .map(|&(c, a)| memory::reservation_for_aligned(c, a).unwrap().footprint)
            .sum();
        assert_eq!(pool.stats().ledger.used, expected);
        assert_eq!(pool.stats().ledger.count, cases.len() as u64);
        for (ptr, capacity, alignment) in blocks {
            assert_eq!(ptr.as_ptr() as u64 % alignment, 0);
            let block = Block {
                ptr,
                capacity,
                alignment,
                stamp: 0,
            };
            // SAFETY: each block is freed once with its own capacity and alignment.
            unsafe { pool.free(block, FreedBy::Caller).unwrap() };
        }
        let s = pool.stats();
        assert_eq!((s.ledger.used, s.ledger.count), (0, 0));
    }

    #[test]
    fn bad_alignments_are_illegal_arguments_and_reserve_nothing() {
        let pool = Pool::new(1 << 30, quick());
        for bad in [0, 3, 2 << 20] {
            let err = pool.allocate(64, bad, &mut NoGarbage).unwrap_err();
            assert!(matches!(err, Error::IllegalArgument(ref m) if m.contains("power of two")));
        }
        assert_eq!(pool.stats().ledger.used, 0);
    }
}
