//! Zeroing one large block on two cores: the thread that takes it and a helper share it in
//! chunks.
//!
//! A reused block of 4 MiB or more is larger than a core's own cache (2 MiB of L2 on our Intel
//! guest), so zeroing it runs at the speed of the shared cache or memory, and a second core
//! roughly doubles that. Measured (C, two threads zeroing halves, then one byte written per
//! page; µs per block, Intel guest): 4 MiB 200 → 77, 16 MiB 774 → 378; 1 MiB only 18 → 12, too
//! little to pay for waking a thread.
//!
//! The taker offers the block, then claims chunks itself until none are left, and waits only
//! for chunks the helper is still writing. A helper that is busy or slow to wake costs the
//! taker nothing beyond the offer: the taker then zeroes every chunk itself. A chunk whose
//! writer panicked still counts as finished, so that the taker never waits for it forever, and
//! spoils the offer: the helper leaves it, and the taker zeroes the whole block again itself.

use crate::fill::{fill, Stores};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// Blocks this long or longer are offered for sharing. Measured (explicit path, plain loop,
/// Intel guest) with sharing from 2 MiB instead: 2 MiB 46 → 49–55 us (it fits one core's L2, and
/// half of it moved to the other core's), 3 MiB 105–109 → 88–101 us. 4 MiB keeps clear of the
/// first on machines whose L2 is as large.
pub const SPLIT_FROM: usize = 4 << 20;
/// The unit of sharing: small enough that the taker rarely waits long for the helper's last.
const CHUNK: usize = 256 << 10;

/// The block on offer, one at a time.
pub struct SplitZeroing {
    /// Set while a taker uses the offer; another taker zeroes alone meanwhile.
    in_use: AtomicBool,
    offer: Mutex<Offer>,
    /// The offer's generation (high 40 bits) and its next unclaimed chunk (low 24 bits): a
    /// helper holding an old job can claim nothing of a new one.
    cursor: AtomicU64,
    /// Chunks of the current offer finished, by either thread: written, or given up on by a
    /// writer that panicked (see `spoiled`).
    finished: AtomicU32,
    /// Whether a chunk of the current offer was given up on unwritten: set before that chunk
    /// counts in `finished`, so a taker that sees the count sees this too.
    spoiled: AtomicBool,
}

struct Offer {
    job: Option<Job>,
    /// The last offer's generation: from 1 up to [`MAX_GENERATION`], then 1 again; never 0,
    /// the cursor's value before any offer.
    generations: u64,
}

#[derive(Clone, Copy)]
struct Job {
    address: usize,
    len: usize,
    chunks: u64,
    stores: Stores,
    generation: u64,
}

const INDEX_BITS: u32 = 24;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
/// The last generation before they start at 1 again (2^40 - 1 offers).
const MAX_GENERATION: u64 = u64::MAX >> INDEX_BITS;

fn next_generation(generation: u64) -> u64 {
    generation % MAX_GENERATION + 1
}

impl Job {
    /// The chunk the cursor points at, if it is this job's and one is left.
    fn next_chunk(&self, cursor: u64) -> Option<u64> {
        let index = cursor & INDEX_MASK;
        (cursor >> INDEX_BITS == self.generation && index < self.chunks).then_some(index)
    }
}

impl SplitZeroing {
    pub const fn new() -> Self {
        SplitZeroing {
            in_use: AtomicBool::new(false),
            offer: parking_lot::const_mutex(Offer {
                job: None,
                generations: 0,
            }),
            cursor: AtomicU64::new(0),
            finished: AtomicU32::new(0),
            spoiled: AtomicBool::new(false),
        }
    }

    /// Zeroes `len` bytes at `ptr` with `stores`, sharing them with a helper if one comes:
    /// `wake_helper` is called once the block is on offer. Returns once every byte is written
    /// and visible to this thread.
    ///
    /// # Safety
    /// `ptr..ptr+len` must be writable memory held by the caller alone until this returns.
    pub unsafe fn zero(
        &self,
        ptr: *mut u8,
        len: usize,
        stores: Stores,
        wake_helper: impl FnOnce(),
    ) {
        let chunks = len.div_ceil(CHUNK) as u64;
        if chunks > INDEX_MASK || self.in_use.swap(true, Ordering::Acquire) {
            return fill(ptr, len, 0, stores);
        }
        let job = {
            let mut offer = self.offer.lock();
            offer.generations = next_generation(offer.generations);
            let job = Job {
                address: ptr as usize,
                len,
                chunks,
                stores,
                generation: offer.generations,
            };
            offer.job = Some(job);
            self.finished.store(0, Ordering::Relaxed);
            self.spoiled.store(false, Ordering::Relaxed);
            self.cursor
                .store(job.generation << INDEX_BITS, Ordering::Release);
            job
        };
        // Ended however this returns, after a panic too (from `wake_helper` or one of this
        // thread's chunks): that left the block on offer and `in_use` set for good, and every
        // later taker zeroed alone.
        let end = EndOffer {
            split: self,
            job,
            ended: false,
        };
        wake_helper();
        while let Some(index) = self.claim(&job) {
            self.write(&job, index);
        }
        if end.finish() {
            // A helper panicked in a chunk it claimed (this thread's own chunks panic out of
            // here): that chunk may hold old bytes. Not one of them may reach the caller, and
            // this is the rare path: the whole block again.
            fill(ptr, len, 0, stores);
        }
    }

    /// Helps with the block on offer, if any; returns whether it wrote any of it.
    pub fn help(&self) -> bool {
        let job = self.offer.lock().job;
        match job {
            // SAFETY: a claimed chunk of an offered job is the taker's memory, which it holds
            // until every claimed chunk is finished.
            Some(job) => unsafe { self.work(job) > 0 },
            None => false,
        }
    }

    /// Whether a block is on offer that still has chunks to claim, and is not spoiled: its taker
    /// zeroes a spoiled one whole again anyway, and a helper whose every chunk panics would
    /// otherwise go on claiming them, its thread logging each panic (review).
    pub fn has_work(&self) -> bool {
        if self.spoiled.load(Ordering::Relaxed) {
            return false;
        }
        let job = self.offer.lock().job;
        job.is_some_and(|job| {
            job.next_chunk(self.cursor.load(Ordering::Acquire))
                .is_some()
        })
    }

    /// Claims and writes chunks of `job` until none are left; returns how many it wrote.
    ///
    /// # Safety
    /// `job` must have been offered by [`SplitZeroing::zero`]: chunks are claimed only while it
    /// is still the current offer.
    unsafe fn work(&self, job: Job) -> u32 {
        let mut written = 0;
        while let Some(index) = self.claim(&job) {
            self.write(&job, index);
            written += 1;
        }
        written
    }

    /// Claims the next chunk of `job`, if it is still on offer and one is left.
    fn claim(&self, job: &Job) -> Option<u64> {
        let mut cursor = self.cursor.load(Ordering::Acquire);
        while let Some(index) = job.next_chunk(cursor) {
            match self.cursor.compare_exchange_weak(
                cursor,
                cursor + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(index),
                Err(now) => cursor = now,
            }
        }
        None
    }

    /// Writes a claimed chunk and counts it finished, also if the writing panics: then the
    /// offer is spoiled first.
    ///
    /// # Safety
    /// As [`SplitZeroing::work`], for a chunk this thread claimed.
    unsafe fn write(&self, job: &Job, index: u64) {
        /// Counts the chunk finished however the writing ends: before, a helper that panicked
        /// in its chunk left the taker waiting for it forever (review).
        struct Finish<'a> {
            split: &'a SplitZeroing,
            written: bool,
        }
        impl Drop for Finish<'_> {
            fn drop(&mut self) {
                if !self.written {
                    self.split.spoiled.store(true, Ordering::Relaxed);
                }
                // Release: the taker that sees the count sees the zeros, and `spoiled`.
                self.split.finished.fetch_add(1, Ordering::Release);
            }
        }
        let mut finish = Finish {
            split: self,
            written: false,
        };
        #[cfg(test)]
        tests::before_chunk();
        let start = index as usize * CHUNK;
        let len = CHUNK.min(job.len - start);
        fill((job.address + start) as *mut u8, len, 0, job.stores);
        finish.written = true;
    }
}

/// The end of a taker's offer, in [`SplitZeroing::zero`]: [`EndOffer::finish`], or its drop
/// after a panic.
struct EndOffer<'a> {
    split: &'a SplitZeroing,
    job: Job,
    ended: bool,
}

impl EndOffer<'_> {
    /// Ends the offer once every claimed chunk is finished; returns whether one was given up
    /// on unwritten (see `SplitZeroing::spoiled`).
    fn finish(mut self) -> bool {
        self.end()
    }

    fn end(&mut self) -> bool {
        if std::mem::replace(&mut self.ended, true) {
            return false;
        }
        let (split, job) = (self.split, self.job);
        // No chunk can be claimed any more; after a panic, some were left.
        let cursor = split.cursor.swap(
            (job.generation << INDEX_BITS) | job.chunks,
            Ordering::AcqRel,
        );
        let claimed = (cursor & INDEX_MASK).min(job.chunks);
        // Every claimed chunk counts in `finished` once its writer is done with it, written or
        // not. The helper's may still be in writing (a few microseconds, unless it was
        // descheduled meanwhile: then the core is given up between looks). Waited for after a
        // panic too, as they are the caller's memory.
        let mut spins = 0u32;
        while u64::from(split.finished.load(Ordering::Acquire)) < claimed {
            if spins < 4096 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        // Read before the offer ends: the next offer resets it.
        let spoiled = split.spoiled.load(Ordering::Relaxed);
        split.offer.lock().job = None;
        split.in_use.store(false, Ordering::Release);
        spoiled
    }
}

impl Drop for EndOffer<'_> {
    fn drop(&mut self) {
        self.end();
    }
}

impl Default for SplitZeroing {
    fn default() -> Self {
        SplitZeroing::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::with_background_loop;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration;

    thread_local! {
        /// When set, this thread's next chunk panics before it is written.
        static PANIC_IN_NEXT_CHUNK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
        /// When set, runs as this thread's next chunk is claimed, before it is written.
        static IN_NEXT_CHUNK: std::cell::RefCell<Option<Box<dyn FnOnce()>>> =
            const { std::cell::RefCell::new(None) };
    }

    /// Runs as a chunk is about to be written: what the test armed on this thread, if any.
    pub(super) fn before_chunk() {
        if let Some(hold) = IN_NEXT_CHUNK.with(|h| h.borrow_mut().take()) {
            hold();
        }
        if PANIC_IN_NEXT_CHUNK.with(|p| p.replace(false)) {
            panic!("armed by a test");
        }
    }

    /// Runs `body` while another thread keeps calling `help`, as the zeroer thread would if it
    /// never slept.
    fn with_spinning_helper<R>(split: &SplitZeroing, body: impl FnOnce() -> R) -> R {
        with_background_loop(
            || {
                split.help();
            },
            body,
        )
    }

    /// Zeroes `len` bytes between two sentinels and checks exactly those were written.
    fn zero_and_check(split: &SplitZeroing, len: usize, stores: Stores, what: &str) {
        let mut bytes = vec![0xA5u8; len + 2];
        // SAFETY: inside the vector, which this thread holds.
        unsafe { split.zero(bytes.as_mut_ptr().add(1), len, stores, || {}) };
        assert_eq!(bytes[0], 0xA5, "{what}: before");
        assert!(bytes[1..=len].iter().all(|b| *b == 0), "{what}: zeroed");
        assert_eq!(bytes[len + 1], 0xA5, "{what}: after");
    }

    #[test]
    fn a_block_is_zeroed_exactly_with_or_without_a_helper() {
        let split = SplitZeroing::new();
        for len in [
            0,
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            5 * CHUNK + 77,
            SPLIT_FROM,
        ] {
            for stores in [Stores::Cached, Stores::Streaming] {
                zero_and_check(&split, len, stores, &format!("{len} alone"));
                with_spinning_helper(&split, || {
                    zero_and_check(&split, len, stores, &format!("{len} helped"))
                });
            }
        }
        assert!(!split.has_work(), "nothing left on offer");
        assert!(!split.help());
    }

    #[test]
    fn a_helper_that_keeps_trying_across_offers_writes_only_the_current_one() {
        // A stale job must claim nothing of a later block: it would write outside that block,
        // over the sentinels.
        let split = SplitZeroing::new();
        with_spinning_helper(&split, || {
            for round in 0..300 {
                let len = CHUNK * (1 + round % 7) + round;
                zero_and_check(&split, len, Stores::Cached, &format!("round {round}"));
            }
        });
    }

    #[test]
    fn two_takers_at_once_each_get_their_block_zeroed() {
        let split = SplitZeroing::new();
        with_spinning_helper(&split, || {
            thread::scope(|scope| {
                for taker in 0..2 {
                    let split = &split;
                    scope.spawn(move || {
                        for round in 0..100 {
                            let len = 3 * CHUNK + taker * 1000 + round;
                            zero_and_check(split, len, Stores::Cached, &format!("{taker}/{round}"));
                        }
                    });
                }
            })
        });
    }

    /// Whether the offer ended: nothing on offer, and the next taker may offer again.
    fn ended(split: &SplitZeroing) -> bool {
        !split.has_work() && !split.in_use.load(Ordering::Acquire)
    }

    /// Before: a panic from `wake_helper` left the block on offer and `in_use` set for good
    /// (review).
    #[test]
    fn a_panic_from_the_wake_up_ends_the_offer() {
        let split = SplitZeroing::new();
        let mut bytes = vec![0xA5u8; 3 * CHUNK];
        // SAFETY: inside the vector, which this thread holds.
        let zeroed = catch_unwind(AssertUnwindSafe(|| unsafe {
            split.zero(bytes.as_mut_ptr(), bytes.len(), Stores::Cached, || {
                panic!("wake")
            })
        }));
        assert!(zeroed.is_err());
        assert!(ended(&split), "the block is still on offer");
        with_spinning_helper(&split, || {
            zero_and_check(&split, 3 * CHUNK, Stores::Cached, "the next offer")
        });
    }

    /// A block offered on a thread of its own (so that a taker stuck for good cannot hang the
    /// test), whose `wake_helper` runs `helper` on a second thread and waits only until
    /// `helper` says it has begun (the test decides when): the taker then goes on, and runs
    /// `in_first_chunk` in the first chunk it claims, then panics there if `panic_in_it`. The
    /// block's bytes once `zero` returned, or the panic, come back through the channel returned.
    fn offer_on_a_thread_of_its_own(
        split: &'static SplitZeroing,
        len: usize,
        in_first_chunk: impl FnOnce() + Send + 'static,
        panic_in_it: bool,
        helper: impl FnOnce(mpsc::Sender<()>) + Send + 'static,
    ) -> mpsc::Receiver<thread::Result<Vec<u8>>> {
        let (done, outcome) = mpsc::channel();
        thread::spawn(move || {
            let mut bytes = vec![0xA5u8; len];
            IN_NEXT_CHUNK.with(|h| *h.borrow_mut() = Some(Box::new(in_first_chunk)));
            PANIC_IN_NEXT_CHUNK.with(|p| p.set(panic_in_it));
            // SAFETY: inside the vector, which this thread holds.
            let zeroed = catch_unwind(AssertUnwindSafe(|| unsafe {
                split.zero(bytes.as_mut_ptr(), len, Stores::Cached, || {
                    let (began, beginning) = mpsc::channel();
                    thread::spawn(move || helper(began));
                    beginning.recv().expect("the helper began");
                })
            }));
            let _ = done.send(zeroed.map(|()| bytes));
        });
        outcome
    }

    /// Waits for the taker of [`offer_on_a_thread_of_its_own`]: it returned, did not panic, and
    /// zeroed every byte.
    fn taker_zeroed_every_byte(outcome: &mpsc::Receiver<thread::Result<Vec<u8>>>) {
        let bytes = outcome
            .recv_timeout(Duration::from_secs(10))
            .expect("the taker returned")
            .expect("the taker did not panic");
        assert!(bytes.iter().all(|b| *b == 0), "every byte zeroed");
    }

    /// Before: a helper that panicked in a chunk it claimed never counted it finished, and its
    /// taker waited for it forever, in use (review: the Java thread stuck in allocateDirect).
    /// The chunk was never written: counted finished alone, it would hand old bytes out.
    #[test]
    fn a_helper_panicking_in_its_chunk_leaves_the_taker_to_zero_the_block() {
        let split: &'static SplitZeroing = Box::leak(Box::new(SplitZeroing::new()));
        let outcome = offer_on_a_thread_of_its_own(
            split,
            16 * CHUNK,
            || {},
            false,
            move |began| {
                // Claims chunk 0 before the taker claims any, and panics in it.
                PANIC_IN_NEXT_CHUNK.with(|p| p.set(true));
                let helped = catch_unwind(AssertUnwindSafe(|| split.help()));
                assert!(helped.is_err(), "the helper's chunk panicked");
                let _ = began.send(());
            },
        );
        taker_zeroed_every_byte(&outcome);
        assert!(ended(split), "the block is still on offer");
        zero_and_check(split, 3 * CHUNK, Stores::Cached, "the next offer");
        assert!(
            !split.spoiled.load(Ordering::Relaxed),
            "reset by the next offer"
        );
    }

    /// Before: a spoiled offer still had work for the helper, so a zeroer thread that panicked
    /// in every chunk claimed them one after another, and logged each panic (review).
    #[test]
    fn a_spoiled_offer_has_no_more_work_for_the_helper() {
        let split: &'static SplitZeroing = Box::leak(Box::new(SplitZeroing::new()));
        let (counted, panics) = mpsc::channel();
        let outcome = offer_on_a_thread_of_its_own(
            split,
            16 * CHUNK,
            || {},
            false,
            move |began| {
                // Helps as the zeroer thread does, while there is work, panicking in every chunk,
                // all before the taker claims any.
                let mut panicked = 0;
                while split.has_work() {
                    PANIC_IN_NEXT_CHUNK.with(|p| p.set(true));
                    if catch_unwind(AssertUnwindSafe(|| split.help())).is_err() {
                        panicked += 1;
                    }
                }
                let _ = counted.send(panicked);
                let _ = began.send(());
            },
        );
        taker_zeroed_every_byte(&outcome);
        assert_eq!(
            panics.recv().expect("the helper counted"),
            1,
            "chunks panicked"
        );
    }

    /// The taker panics in its own chunk while the helper writes another: the taker waits for
    /// the helper's chunk (the caller's memory) before the panic leaves `zero`. Before, this
    /// test ran with a helper that spun: it could not tell whether the wait happened, and a
    /// helper that claimed all 16 chunks first left the taker's panic armed (review).
    #[test]
    fn a_panic_in_its_own_chunk_ends_the_offer_once_the_helpers_chunks_are_written() {
        let split: &'static SplitZeroing = Box::leak(Box::new(SplitZeroing::new()));
        let (release, released) = mpsc::channel::<()>();
        let (claimed, taker_claimed) = mpsc::channel::<()>();
        let in_its_chunk = move || {
            let _ = claimed.send(());
        };
        let outcome =
            offer_on_a_thread_of_its_own(split, 16 * CHUNK, in_its_chunk, true, move |began| {
                // Claims chunk 0 and holds it, unwritten, until the test lets it go.
                IN_NEXT_CHUNK.with(|h| {
                    *h.borrow_mut() = Some(Box::new(move || {
                        let _ = began.send(());
                        let _ = released.recv();
                    }))
                });
                assert!(split.help());
            });
        // The taker claimed chunk 1 and panics in it (unless a loaded machine has not let it run
        // yet: released before, the helper wrote every chunk); it waits for chunk 0.
        taker_claimed
            .recv_timeout(Duration::from_secs(10))
            .expect("the taker claimed a chunk");
        assert!(
            outcome.recv_timeout(Duration::from_millis(50)).is_err(),
            "the taker went on while the helper still wrote its chunk"
        );
        release.send(()).expect("the helper holds its chunk");
        let zeroed = outcome
            .recv_timeout(Duration::from_secs(10))
            .expect("the taker returned");
        assert!(zeroed.is_err(), "the taker's panic went on");
        assert!(ended(split), "the block is still on offer");
        zero_and_check(split, 3 * CHUNK, Stores::Cached, "the next offer");
    }

    /// Before: the generation after the last one was 0, the cursor's value before any offer.
    #[test]
    fn generations_start_again_at_1_never_0() {
        let split = SplitZeroing::new();
        split.offer.lock().generations = MAX_GENERATION;
        zero_and_check(&split, CHUNK, Stores::Cached, "after the last generation");
        assert_eq!(split.offer.lock().generations, 1);
        assert_eq!(next_generation(0), 1);
    }
}
