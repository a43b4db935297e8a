//! Reclamation: what a thread does when the budget is full.
//!
//! Unreachable buffers hold budget until the JVM collects them *and* the reclaimer thread frees
//! them.
//! So a refused reservation (1) makes the JVM collect, through a [`Collector`] that works even
//! under `-XX:+DisableExplicitGC`, then (2) waits for the frees themselves, retrying as each
//! one lands, and gives up only after several collections in a row bring back too little garbage
//! to make room for it.
//!
//! Only the reclaimer thread's frees show what a collection found. A free the program makes
//! (`DirectMemory.free`) wakes waiting threads to try again, but neither makes a collection count
//! as fruitful nor starts the back-off over: a budget full of live buffers, while other threads
//! allocate and free, once had a waiting thread force a full collection every 12 ms for 30 s.
//! Nor does garbage too small for the request: while another thread dropped 1 MiB buffers at the
//! edge of a budget full of live ones, a request for 8 MiB, which could never fit, counted every
//! collection that found one of them as fruitful, and forced collections until the 30 s deadline.
//! Nor memory other threads allocate after the collection began and drop again: only blocks
//! allocated before it count as its fruit (see `Reclaimer::fruit`), so the same room, taken and
//! dropped again and again, counts once.
//! Unless the room keeps growing: a collection that finds garbage and leaves more room free than
//! any earlier one of the same request is fruitful too (see `Reclaimer::gained_room`), so that a
//! request goes on while other threads drop buffers and do not replace them.
//!
//! One thread drives a collection at a time; threads that fail meanwhile wait for that
//! collection's end instead of starting their own, taking memory freed before it ends. Waiting
//! never touches the Java thread's interrupt status.
//!
//! To keep allocating threads from stalling at all, a collection is also started *early*, off
//! the allocating threads: once the memory used crosses the policy's high-water mark, and enough
//! has been allocated since the last collection for one to be worth its cost, a background
//! thread (see [`Reclaimer::await_early_collection`]) runs it while allocations go on in the
//! headroom above the mark.

use crate::ledger::{Ledger, Refused, Reservation};
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How many collections back the frees of blocks allocated since each began are kept (2 KiB;
/// see `Reclaimer::young_freed`). A reservation's collection is normally one or two back when it
/// looks; measured, with one other thread refused and collecting back to back (a collection
/// every 4 ms), 40 back; a collection further back than the ring makes no room.
const WINDOWS: usize = 256;
/// A collection that ended this recently may still have frees on their way.
const SETTLE_WINDOW: Duration = Duration::from_millis(100);
/// Waiting for those stops once a pause this long brought none. Measured: 8 ms here cost 15 ms
/// of idle waiting per cycle when the last collection's frees had all landed already.
const SETTLE_PAUSE: Duration = Duration::from_millis(1);
/// Once frees have come back after a collection and then stop for this long, that collection's
/// garbage is all freed: collect again rather than wait out the full back-off.
const QUIET_AFTER_FREES: Duration = Duration::from_millis(4);
/// A caller that parks outside Rust while another thread collects looks again this often for the
/// collection's end, which does not wake it (a thread waiting in Rust is woken by it).
const JOIN_POLL: Duration = Duration::from_millis(16);
/// An early collection starts only if no memory came back for this long before it.
const EARLY_QUIET: Duration = Duration::from_millis(5);
/// While the reclaimer thread says more frees are queued, waiting stops only after a pause this
/// long brought none. Measured (64-byte buffers, 64 MiB budget): a collection finds about a
/// million of them, and collecting again while they were still being freed (every 40 ms, each
/// collection slower for the references still pending) cut throughput to a quarter.
const QUIET_WITH_BACKLOG: Duration = Duration::from_millis(64);

/// Makes the JVM run a garbage collection that finds unreachable buffers.
pub trait Collector {
    /// Returns once the collection has finished (the frees may still be pending).
    fn collect(&mut self) -> Result<Collection, String>;
}

/// How a collection was brought about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collection {
    /// The collector honoured a forced collection (JVMTI ForceGarbageCollection).
    Forced,
    /// The collector ignored the forced one, so heap allocation pressure drove a cycle.
    HeapPressure,
    /// Neither showed evidence of a collection within its bounds.
    Unconfirmed,
}

/// Bounds on how long a refused reservation keeps trying.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Collections in a row that bring back too little garbage to make room for the reservation
    /// (had no other thread taken it), and leave no more room free than an earlier one, before it
    /// fails.
    pub max_collections: u32,
    /// Longest a refused reservation keeps trying while memory does come back to others.
    pub max_wait: Duration,
    /// First pause while waiting for frees; doubled after each pause that brought none.
    pub first_pause: Duration,
    /// Waiting after a collection stops once a pause this long brought no free.
    pub last_pause: Duration,
    /// Percent of the maximum at which a background collection starts early; 100 or more: never.
    pub high_water_percent: u8,
}

impl Policy {
    /// Whether a collection should start early, before any reservation is refused.
    ///
    /// `floor` is the lowest use seen since the last collection began (an estimate of the live
    /// memory); the high-water mark sits that percentage of the way from it to the maximum, so
    /// that live memory cannot keep use above the mark for good. And at least half the maximum
    /// must have been allocated since the last collection began: measured, without that rule
    /// lagging frees kept use above the mark and collections ran twice as often as needed.
    pub fn wants_early_collection(
        &self,
        used: u64,
        floor: u64,
        max: u64,
        allocated_since: u64,
    ) -> bool {
        if self.high_water_percent >= 100 || max == 0 || used > max {
            return false;
        }
        let floor = floor.min(used);
        let headroom = max - floor;
        let to_mark = headroom / 100 * u64::from(self.high_water_percent)
            + headroom % 100 * u64::from(self.high_water_percent) / 100;
        used >= floor + to_mark && allocated_since >= max / 2
    }
}

impl Default for Policy {
    fn default() -> Self {
        // As java.nio.Bits: pauses of 1, 2, 4 ... 256 ms, about half a second without progress.
        Policy {
            max_collections: 3,
            max_wait: Duration::from_secs(30),
            first_pause: Duration::from_millis(1),
            last_pause: Duration::from_millis(256),
            // Measured (2 threads churning 1 MiB buffers through 64 MiB, median of 3): 100 (off)
            // 7.8k/s, 90: 8.5k/s, 75: 8.3k/s with a sixth more collections.
            high_water_percent: 90,
        }
    }
}

/// The outcome of a reservation that could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exhausted {
    pub refused: Refused,
    /// Collections this reservation waited through.
    pub collections: u32,
    /// It gave up at the deadline while the last collection it waited through still found
    /// garbage that would have made room for it (see `Reclaimer::made_room`), which other
    /// threads took first: contention, not a budget full of live buffers.
    pub contended: bool,
}

/// A failure of the collector itself (not of the budget).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectorFailed(pub String);

#[derive(Debug)]
pub enum ReserveError {
    Exhausted(Exhausted),
    CollectorFailed(CollectorFailed),
}

#[derive(Default)]
struct Collections {
    running: bool,
    /// Collections begun: the number of the last one (its window: see `Reclaimer::begun`).
    begun: u64,
    finished: u64,
    last_finished_at: Option<Instant>,
}

/// What [`Reclaimer::collect_unless_running`] did.
#[derive(Clone, Copy, Debug)]
enum Turn {
    /// Ran collection number `window` (see `Collections::begun`) to its end.
    Collected { window: u64 },
    /// Found collection number `window` running, `finished` collections having finished.
    Running { finished: u64, window: u64 },
}

/// Coordinates collections and the waits for the frees that follow them.
pub struct Reclaimer {
    policy: Policy,
    collections: Mutex<Collections>,
    collection_finished: Condvar,
    /// Frees so far: rises whenever memory comes back, whoever then takes it.
    frees: AtomicU64,
    /// The reclaimer thread's batches so far: garbage a collection found, coming back.
    reclaims: AtomicU64,
    /// The footprint the reclaimer thread has given back so far (see `freed_by_reclaimer`).
    reclaimed: AtomicU64,
    /// Held by a waiter from its last look at `frees` until it sleeps, and by a notifier while it
    /// wakes the waiters, so that no free lands unseen in between.
    free_signal: Mutex<()>,
    freed: Condvar,
    waiting_for_frees: AtomicUsize,
    /// Set by the reclaimer thread while it has more frees queued than one batch.
    backlog: AtomicBool,
    /// When the reclaimer thread last freed a batch, in nanoseconds since `epoch` (0: never).
    reclaimer_freed_at: AtomicU64,
    epoch: Instant,
    collections_run: AtomicU64,
    /// Bytes reserved since the last collection began.
    allocated_since_collection: AtomicU64,
    /// The lowest use seen since the last collection began: the policy's estimate of live memory.
    floor: AtomicU64,
    /// The footprint the reclaimer thread has given back of blocks allocated while each of the
    /// last `WINDOWS` collections was the last begun, at its number modulo `WINDOWS`: summed
    /// from a collection's number on, the frees that are no fruit of it (see `fruit`).
    young_freed: [AtomicU64; WINDOWS],
    /// Collections begun, as `Collections::begun`, read without the lock: stored once the new
    /// one's slot of `young_freed` has started over. The Java side stamps each block with it
    /// (see `collections_begun`).
    begun: AtomicU64,
    /// Set when an early collection is wanted, cleared when any collection begins.
    early_wanted: Mutex<bool>,
    early_requested: Condvar,
    /// Tests only: while set, the time this reclaimer reads (a clock that moves when told).
    #[cfg(test)]
    frozen_clock: Mutex<Option<Instant>>,
}

impl Reclaimer {
    pub fn new(policy: Policy) -> Self {
        Reclaimer {
            policy,
            collections: Mutex::new(Collections::default()),
            collection_finished: Condvar::new(),
            frees: AtomicU64::new(0),
            reclaims: AtomicU64::new(0),
            reclaimed: AtomicU64::new(0),
            free_signal: Mutex::new(()),
            freed: Condvar::new(),
            waiting_for_frees: AtomicUsize::new(0),
            backlog: AtomicBool::new(false),
            reclaimer_freed_at: AtomicU64::new(0),
            epoch: Instant::now(),
            collections_run: AtomicU64::new(0),
            allocated_since_collection: AtomicU64::new(0),
            floor: AtomicU64::new(0),
            young_freed: std::array::from_fn(|_| AtomicU64::new(0)),
            begun: AtomicU64::new(0),
            early_wanted: Mutex::new(false),
            early_requested: Condvar::new(),
            #[cfg(test)]
            frozen_clock: Mutex::new(None),
        }
    }

    /// The time, as the windows and pauses of waiting read it.
    fn now(&self) -> Instant {
        #[cfg(test)]
        {
            if let Some(frozen) = *self.frozen_clock.lock() {
                return frozen;
            }
        }
        Instant::now()
    }

    /// How this reclaimer waits and when it gives up.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Collections this reclaimer has driven.
    pub fn collections_run(&self) -> u64 {
        self.collections_run.load(Ordering::Relaxed)
    }

    /// Reserves `r`, reclaiming unreachable buffers first if the budget is full. Waits here,
    /// woken early by frees; see [`Reclaimer::reserve_step`] for a caller that must not.
    pub fn reserve(
        &self,
        ledger: &Ledger,
        r: Reservation,
        collector: &mut dyn Collector,
    ) -> Result<u64, ReserveError> {
        let mut waiting = Waiting::default();
        while !self.reserve_step(ledger, r, collector, &mut waiting)? {
            self.park_until_freed(&waiting);
        }
        Ok(waiting.granted_at)
    }

    /// One step of [`Reclaimer::reserve`]: reserves `r` (true), or asks the caller to park for
    /// `waiting.park()` and then call again with the same `waiting` (false), collecting first if
    /// it is time to; `Waiting::default()` starts a reservation. Fails as `reserve` does. A
    /// reservation made leaves `used` as it left it in `waiting.granted_at()`.
    ///
    /// For a virtual thread, which parks in Java: a wait inside a native call would keep its
    /// carrier thread, and with it maybe the very threads whose frees it waits for.
    pub fn reserve_step(
        &self,
        ledger: &Ledger,
        r: Reservation,
        collector: &mut dyn Collector,
        waiting: &mut Waiting,
    ) -> Result<bool, ReserveError> {
        let w = waiting;
        if w.phase == Phase::Start {
            let refused = match ledger.try_reserve(r) {
                Ok(used) => {
                    w.granted_at = used;
                    self.reserved(ledger, r);
                    return Ok(true);
                }
                Err(refused) => refused,
            };
            if r.footprint > ledger.max() {
                // No collection can make room for more than the whole budget.
                return Err(ReserveError::Exhausted(Exhausted {
                    refused,
                    collections: 0,
                    contended: false,
                }));
            }
            w.deadline = self
                .nanos_since_epoch()
                .saturating_add(nanos(self.policy.max_wait));
            // Frees from a collection that just ended may still be landing: wait for them
            // briefly before asking for another collection.
            if self.frees_may_be_landing() {
                w.await_frees(
                    Phase::Settling,
                    self.reclaims.load(Ordering::SeqCst),
                    &self.policy,
                );
            } else {
                w.phase = Phase::Collect;
            }
        } else {
            let first = nanos(self.policy.first_pause);
            if std::mem::take(&mut w.parked) {
                // The reclaimer's frees during the park start the back-off over. A park cut
                // short by another free goes on with the same pause, until its end; a park to
                // its end doubles it.
                if self.reclaims.load(Ordering::SeqCst) != w.reclaims_seen {
                    w.pause = first;
                    w.pause_ends = 0;
                } else if self.nanos_since_epoch() >= w.pause_ends {
                    w.pause = w.pause.saturating_mul(2).max(first);
                    w.pause_ends = 0;
                }
            }
            // The state came back from the caller, parked or not: never spin on a pause of
            // nothing, nor wait past the longest wait allowed.
            w.pause = w.pause.max(first);
            let latest = self
                .nanos_since_epoch()
                .saturating_add(nanos(self.policy.max_wait));
            w.deadline = w.deadline.min(latest);
        }
        loop {
            if w.phase == Phase::Collect {
                w.reclaims_before = self.reclaims.load(Ordering::SeqCst);
                match self
                    .collect_unless_running(ledger, collector, Some(w))
                    .map_err(ReserveError::CollectorFailed)?
                {
                    Turn::Collected { window } => {
                        w.window = window;
                        w.collected(&self.policy);
                    }
                    Turn::Running { finished, window } => {
                        // Another thread's collection serves this reservation too, and what it
                        // gives back from now on is judged: measured again.
                        w.window = window;
                        self.measure(ledger, w, self.young_since(window).unwrap_or(0));
                        w.phase = Phase::Joining;
                        w.running = finished;
                        w.pause = nanos(self.policy.first_pause);
                        w.pause_ends = 0;
                    }
                }
            }
            if w.phase == Phase::Joining {
                let state = self.collections.lock();
                if state.running && state.finished == w.running {
                    drop(state);
                    // Memory freed while another thread collects is taken at once: a waiter
                    // that looked only for the collection's end passed up every free until then
                    // (a virtual thread woken by a churner's frees through a 65 ms early
                    // collection on Shenandoah was served only once the churner stopped).
                    if self.look(ledger, r, w).is_ok() {
                        self.reserved(ledger, r);
                        return Ok(true);
                    }
                    // A virtual thread's park ends on a free, not on the collection's end: it
                    // looks again at least every JOIN_POLL. And its back-off counts from now, so
                    // that one free during the collection does not make every later park the
                    // shortest.
                    w.park = w.pause.min(nanos(JOIN_POLL));
                    w.parked = true;
                    return Ok(false);
                }
                drop(state);
                w.collected(&self.policy);
            }
            let refused = match self.look_for_frees(ledger, r, w) {
                Ok(true) => {
                    self.reserved(ledger, r);
                    return Ok(true);
                }
                Ok(false) => {
                    w.parked = true;
                    return Ok(false);
                }
                Err(refused) => refused,
            };
            if w.phase == Phase::AfterCollection {
                // Garbage that came back but went to other threads means contention, not
                // exhaustion; garbage too small to make room, whoever took it, does not count,
                // unless the room it left keeps growing.
                let made_room = self.made_room(r, w);
                let gained_room = self.gained_room(w);
                w.fruitless = if made_room || gained_room {
                    0
                } else {
                    w.fruitless.saturating_add(1)
                };
                log::debug!(
                    "a refused reservation of {} bytes after collection {} (its {}): made room {}, \
                     more room than after any before {}, {} fruitless in a row",
                    r.footprint,
                    w.window,
                    w.collections,
                    made_room,
                    gained_room,
                    w.fruitless
                );
                if w.fruitless >= self.policy.max_collections
                    || self.nanos_since_epoch() >= w.deadline
                {
                    return Err(ReserveError::Exhausted(Exhausted {
                        refused,
                        collections: w.collections,
                        contended: w.fruitless < self.policy.max_collections
                            && self.made_room(r, w),
                    }));
                }
            }
            w.phase = Phase::Collect;
        }
    }

    /// Notes in `w` what the reclaimer has given back so far and the room free now, from which
    /// what its collection gives back next is judged (see `fruit`); `young`: `young_since` its
    /// collection (begun), read first. Only a young block whose free noted it before the first
    /// read and added it to `reclaimed` after the second counts as fruit: `freed_by_reclaimer`
    /// does the two a few instructions apart.
    fn measure(&self, ledger: &Ledger, w: &mut Waiting, young: u64) {
        w.young_before = young;
        w.reclaimed_before = self.reclaimed.load(Ordering::SeqCst);
        w.headroom_before = ledger.max().saturating_sub(ledger.used());
    }

    /// What the collection `w` waited through (ran or joined) has given back since `w` measured:
    /// the reclaimer's frees since, less those of blocks allocated after that collection began,
    /// which are later collections' garbage (memory other threads allocate and drop again, which
    /// once counted again at each turn). So, but for races of a block, it never exceeds what was
    /// in use, and not live for good, when `w` measured (after its collection began): the room
    /// the request would have had, had the garbage come back to it alone, is the room free then
    /// plus this, and nothing counts twice. `None` if that
    /// collection is more than `WINDOWS - 2` back (or was never begun: a forged `Waiting`).
    ///
    /// Before, a collection made room only if the request would have fit at some moment since
    /// it began: under 32 threads each dropping and allocating buffers of up to 1 MiB, every
    /// freed batch was taken at once, and requests for about 1 MiB failed after 3 collections
    /// with half the budget garbage (JDK 21 Shenandoah, in CI).
    fn fruit(&self, w: &Waiting) -> Option<u64> {
        // `reclaimed` first: a free in between counts as young only (less fruit, never more).
        let reclaimed = self.reclaimed.load(Ordering::SeqCst);
        let young = self.young_since(w.window)?;
        Some(
            reclaimed
                .saturating_sub(w.reclaimed_before)
                .saturating_sub(young.saturating_sub(w.young_before)),
        )
    }

    /// The room `r` would have had after the collection `w` waited through, had its garbage come
    /// back to `r` alone (see `fruit`), and whether that garbage was any.
    fn room_made(&self, w: &Waiting) -> Option<(u64, bool)> {
        let fruit = self.fruit(w)?;
        Some((w.headroom_before.saturating_add(fruit), fruit > 0))
    }

    /// Whether the collection `w` waited through found garbage that would have made room for
    /// `r`, had no other thread taken any.
    fn made_room(&self, r: Reservation, w: &Waiting) -> bool {
        self.room_made(w)
            .is_some_and(|(room, found)| found && room >= r.footprint)
    }

    /// Whether the collection `w` waited through found garbage and would have left more room
    /// than any earlier collection of the same reservation (see `room_made`): room that grows
    /// collection by collection (buffers other threads drop and do not replace, as when a
    /// pipeline drains) is progress, though no one collection's garbage made room for the
    /// reservation. Review: a request for 5 of 10 bytes, all used, 1 byte given back by each
    /// collection and kept, failed after 3 collections with 3 bytes free.
    ///
    /// The first collection only sets the mark: it gives back, once, the garbage dropped before
    /// the request, so counting it would add a collection to every request that never fits. A
    /// gain needs a byte more room than ever before, and the room never exceeds `max`: the gains
    /// run out.
    fn gained_room(&self, w: &mut Waiting) -> bool {
        let Some((room, found)) = self.room_made(w) else {
            return false;
        };
        let gained = w.collections > 1 && found && room > w.best_room;
        w.best_room = w.best_room.max(room);
        gained
    }

    /// The reclaimer's frees so far of blocks allocated since collection number `window` began
    /// (summed over `young_freed`): none of them its garbage. `None` if `window` is more than
    /// `WINDOWS - 2` back (the oldest slot is the one the next collection takes over), or not
    /// begun. Read again if a collection began meanwhile (it may have reset a slot read).
    fn young_since(&self, window: u64) -> Option<u64> {
        loop {
            let begun = self.begun.load(Ordering::SeqCst);
            if window == 0 || begun.checked_sub(window)? > WINDOWS as u64 - 2 {
                return None;
            }
            let young = (window..=begun)
                .map(|n| self.young_slot(n).load(Ordering::SeqCst))
                .fold(0, u64::saturating_add);
            if self.begun.load(Ordering::SeqCst) == begun {
                return Some(young);
            }
        }
    }

    fn young_slot(&self, window: u64) -> &AtomicU64 {
        &self.young_freed[(window % WINDOWS as u64) as usize]
    }

    /// The number of the last collection begun. The Java side reads it after each allocation
    /// (through a buffer over it: the reclaimer lives as long as the process) and stamps the
    /// block with it, never older than the block, and hands the stamp back with the block's
    /// free (see [`Reclaimer::freed_by_reclaimer`]).
    pub fn collections_begun(&self) -> &AtomicU64 {
        &self.begun
    }

    /// Adds the footprints of blocks the reclaimer thread frees, given as (footprint, stamp),
    /// to their collections' slots of `young_freed`; returns the sum of all. Only the stamps of
    /// the last `WINDOWS - 1` collections are kept: an older block is young for no collection
    /// still judged (a slot takes a block of its last user only if two collections begin while
    /// this runs: it then looks young to more collections, which errs toward less fruit).
    fn note_young(&self, blocks: impl IntoIterator<Item = (u64, u32)>) -> u64 {
        let begun = self.begun.load(Ordering::SeqCst) as u32;
        let mut total = 0u64;
        // Summed per run of equal stamps: a batch is mostly of one or two.
        let mut run: Option<(u32, u64)> = None;
        for (footprint, stamp) in blocks {
            total = total.saturating_add(footprint);
            if begun.wrapping_sub(stamp) >= WINDOWS as u32 - 1 {
                continue;
            }
            match &mut run {
                Some((same, bytes)) if *same == stamp => *bytes = bytes.saturating_add(footprint),
                _ => {
                    if let Some((stamp, bytes)) = run.replace((stamp, footprint)) {
                        self.young_slot(stamp.into())
                            .fetch_add(bytes, Ordering::SeqCst);
                    }
                }
            }
        }
        if let Some((stamp, bytes)) = run {
            self.young_slot(stamp.into())
                .fetch_add(bytes, Ordering::SeqCst);
        }
        total
    }

    /// Records that use came down to `used`: a load first, as a locked update on every free
    /// showed in the profile. A free racing a collection's start may leave its floor a little
    /// high (an early collection then comes a little later).
    fn lower_floor(&self, used: u64) {
        if used < self.floor.load(Ordering::SeqCst) {
            self.floor.fetch_min(used, Ordering::SeqCst);
        }
    }

    /// Reserves `r` if the budget can take it now (`used` as it left it), never collecting or
    /// waiting.
    pub fn try_reserve(&self, ledger: &Ledger, r: Reservation) -> Option<u64> {
        let used = ledger.try_reserve(r).ok()?;
        self.reserved(ledger, r);
        Some(used)
    }

    /// Records whether the reclaimer thread has more frees queued after the ones it is making:
    /// while it has, waiting threads wait for them rather than ask for another collection.
    pub fn set_backlog(&self, more_queued: bool) {
        self.backlog.store(more_queued, Ordering::SeqCst);
    }

    /// Records that memory came back, leaving `used` in use, and wakes threads that wait for it.
    pub fn notify_freed_down_to(&self, used: u64) {
        self.lower_floor(used);
        self.notify_freed();
    }

    /// Records that the reclaimer thread freed a batch, leaving `used` in use: as
    /// [`Reclaimer::notify_freed_down_to`], and remembers when.
    pub fn notify_reclaimed_down_to(&self, used: u64) {
        self.reclaimer_freed_at
            .store(self.nanos_since_epoch(), Ordering::SeqCst);
        // Before the free is signalled: a thread it wakes sees that garbage came back.
        self.reclaims.fetch_add(1, Ordering::SeqCst);
        self.notify_freed_down_to(used);
    }

    /// Records that memory came back, waking threads that wait for it.
    pub fn notify_freed(&self) {
        // SeqCst on both sides (here and in await_frees_and_reserve): either this thread sees
        // the waiter, or the waiter sees this free before it sleeps.
        self.frees.fetch_add(1, Ordering::SeqCst);
        if self.waiting_for_frees.load(Ordering::SeqCst) == 0 {
            return;
        }
        let _signal = self.free_signal.lock();
        self.freed.notify_all();
    }

    /// Counts memory the reclaimer thread gave back (garbage a collection found): `blocks` as
    /// (footprint, stamp: the low 32 bits of `collections_begun` read after its allocation),
    /// once released from the ledger and before the batch is signalled
    /// ([`Reclaimer::notify_reclaimed_down_to`]). A collection makes a waiting reservation's
    /// count of fruitless ones start over only if the blocks allocated before it began that come
    /// back after it could have made room for it (see `fruit`).
    ///
    /// `used_after` is `used` as the release left it: the room it made, before other threads
    /// can take any (the `used` a later signal reads may be higher already).
    pub fn freed_by_reclaimer(
        &self,
        blocks: impl IntoIterator<Item = (u64, u32)>,
        used_after: u64,
    ) {
        // Young first, next to `reclaimed`: a reservation measuring between the two would count
        // the young blocks among them as fruit (see `measure`).
        let footprint = self.note_young(blocks);
        self.reclaimed.fetch_add(footprint, Ordering::SeqCst);
        self.lower_floor(used_after);
    }

    /// Counts memory the program freed itself (not the reclaimer): never garbage, so no reason
    /// for an early collection. Measured before (60 MiB live, 4 MiB allocated and freed every
    /// 10 ms): 58 full collections in 5 s that found nothing. A free of memory allocated before
    /// the last collection began counts off too (the program's frees do not pass the blocks'
    /// stamps), so garbage allocated since may be undercounted: an early collection then comes
    /// later, and a refused reservation still collects.
    ///
    /// `used_after`: as for [`Reclaimer::freed_by_reclaimer`].
    pub fn freed_by_program(&self, footprint: u64, used_after: u64) {
        self.lower_floor(used_after);
        // A load and a store, as in `reserved`.
        let since = self
            .allocated_since_collection
            .load(Ordering::Relaxed)
            .saturating_sub(footprint);
        self.allocated_since_collection
            .store(since, Ordering::Relaxed);
    }

    /// Counts a reservation made and asks for an early collection if the policy wants one.
    fn reserved(&self, ledger: &Ledger, r: Reservation) {
        // A load and a store, not a locked fetch_add: each locked RMW showed in the profile. An
        // update lost to a racing thread moves the next early collection a little: later, or,
        // when the store undoes a starting collection's reset, sooner (the half-budget rule is
        // then met at once; the quiet pause in `collect_early` still skips a collection while
        // the last one's frees land) (helper-68).
        let since = self
            .allocated_since_collection
            .load(Ordering::Relaxed)
            .saturating_add(r.footprint);
        self.allocated_since_collection
            .store(since, Ordering::Relaxed);
        let floor = self.floor.load(Ordering::Relaxed);
        if self
            .policy
            .wants_early_collection(ledger.used(), floor, ledger.max(), since)
        {
            let mut wanted = self.early_wanted.lock();
            if !*wanted {
                *wanted = true;
                self.early_requested.notify_one();
            }
        }
    }

    /// Blocks the background thread until an early collection is wanted (or `timeout` passes:
    /// returns whether one is wanted).
    pub fn await_early_collection(&self, timeout: Duration) -> bool {
        let mut wanted = self.early_wanted.lock();
        if !*wanted {
            self.early_requested.wait_for(&mut wanted, timeout);
        }
        *wanted
    }

    /// Runs the early collection the background thread was woken for, unless another collection
    /// is running or has begun since the request (which then serves it: a running one is waited
    /// for, so that the background thread does not spin while it runs). After a collection it
    /// ran, returns once its frees have landed (see `await_early_frees`), so that a
    /// report of it counts them.
    pub fn collect_early(
        &self,
        ledger: &Ledger,
        collector: &mut dyn Collector,
    ) -> Result<(), CollectorFailed> {
        let Some(reclaims) = self.early_request_stands() else {
            return Ok(());
        };
        // Memory still coming back (the reclaimer working through what the last collections,
        // young ones included, found) makes a forced collection premature: skip it, and let a
        // reservation past the mark ask again. Measured (64-byte buffers): early full
        // collections while frees were flowing cost a third of the throughput.
        std::thread::sleep(EARLY_QUIET);
        self.collect_early_after_pause(reclaims, ledger, collector)
    }

    /// Whether an early collection is still to run before the quiet pause; if so, the count of
    /// reclaimer batches to compare after it. A running collection serves the request, once over.
    fn early_request_stands(&self) -> Option<u64> {
        if !*self.early_wanted.lock() {
            return None;
        }
        let state = self.collections.lock();
        if state.running {
            let running = state.finished;
            drop(state);
            self.await_collection(running);
            // That collection served the request; a reservation past the mark asks again.
            *self.early_wanted.lock() = false;
            return None;
        }
        Some(self.reclaims.load(Ordering::SeqCst))
    }

    /// The early collection after the quiet pause, unless frees landed during it or a
    /// collection began during it (a refused reservation's: beginning, it cleared the request,
    /// and it served it even if it ended before its frees landed; helper-68).
    fn collect_early_after_pause(
        &self,
        reclaims: u64,
        ledger: &Ledger,
        collector: &mut dyn Collector,
    ) -> Result<(), CollectorFailed> {
        if self.reclaims.load(Ordering::SeqCst) != reclaims {
            *self.early_wanted.lock() = false;
            return Ok(());
        }
        if !*self.early_wanted.lock() {
            return Ok(());
        }
        match self.collect_unless_running(ledger, collector, None)? {
            Turn::Running { finished, .. } => self.await_collection(finished),
            Turn::Collected { .. } => self.await_early_frees(),
        }
        Ok(())
    }

    /// Whether frees from a collection that ended recently (or is running) may still land.
    /// Not once the reclaimer thread freed a batch after it ended, has nothing more queued, and
    /// has been quiet since for a settle pause: then what it found is freed. Measured (1 MiB
    /// buffers dropped through a 64 MiB budget, a collection per 64): those frees land within
    /// a fraction of a millisecond, and waiting out a fresh settle pause anyway cost 1 ms of the
    /// 8 ms cycle.
    fn frees_may_be_landing(&self) -> bool {
        let finished = {
            let state = self.collections.lock();
            if state.running {
                return true;
            }
            match state.last_finished_at {
                Some(at) if self.now().saturating_duration_since(at) < SETTLE_WINDOW => at,
                _ => return false,
            }
        };
        !self.reclaimer_quiet_since(finished, SETTLE_PAUSE)
    }

    /// Whether the reclaimer thread freed a batch after `finished` (a collection's end), has
    /// nothing more queued, and has freed nothing for `quiet` since.
    fn reclaimer_quiet_since(&self, finished: Instant, quiet: Duration) -> bool {
        let freed_at = self.reclaimer_freed_at.load(Ordering::SeqCst);
        freed_at != 0
            && !self.backlog.load(Ordering::SeqCst)
            && self.epoch + Duration::from_nanos(freed_at) > finished
            && self.nanos_since_epoch().saturating_sub(freed_at) >= nanos(quiet)
    }

    /// After an early collection this thread ran: waits until its frees have landed, as far as
    /// can be told (the reclaimer thread freed a batch since, has nothing more queued, and has
    /// then been quiet for `QUIET_AFTER_FREES`), or until an early collection is wanted again,
    /// another collection begins, or the policy's last pause (256 ms by default, the longest a
    /// refused reservation waits for frees) has passed since the collection ended. Nothing else
    /// waits for this thread meanwhile: the wait lets the collection's report (see `report`)
    /// count its frees. Reported as soon as the collection returned, an early collection showed
    /// almost nothing freed on G1, Parallel and Serial, whose references reach the reclaimer
    /// thread only after the collection (helper-85).
    fn await_early_frees(&self) {
        let (finished, ended) = {
            let state = self.collections.lock();
            (state.finished, state.last_finished_at)
        };
        let Some(ended) = ended else { return };
        loop {
            if *self.early_wanted.lock() {
                return;
            }
            {
                let state = self.collections.lock();
                if state.running || state.finished != finished {
                    return;
                }
            }
            if self.reclaimer_quiet_since(ended, QUIET_AFTER_FREES) {
                return;
            }
            let waited = self.now().saturating_duration_since(ended);
            match self.policy.last_pause.checked_sub(waited) {
                Some(left) if !left.is_zero() => std::thread::sleep(left.min(SETTLE_PAUSE)),
                _ => return,
            }
        }
    }

    fn nanos_since_epoch(&self) -> u64 {
        u64::try_from(self.now().saturating_duration_since(self.epoch).as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Runs one collection, or waits for the one another thread is running.
    #[cfg(test)]
    fn collect_or_join(
        &self,
        ledger: &Ledger,
        collector: &mut dyn Collector,
    ) -> Result<(), CollectorFailed> {
        if let Turn::Running { finished, .. } =
            self.collect_unless_running(ledger, collector, None)?
        {
            self.await_collection(finished);
        }
        Ok(())
    }

    /// Waits until the collection running when `finished` read `running` has ended.
    fn await_collection(&self, running: u64) {
        let mut state = self.collections.lock();
        while state.finished == running {
            self.collection_finished.wait(&mut state);
        }
    }

    /// Runs one collection, unless another thread is running one: then returns the count of
    /// finished collections to wait past. Either way, the number of the collection. A reservation
    /// that runs it is measured (`waiting`) once it has begun: a block allocated before it began
    /// was then in use.
    fn collect_unless_running(
        &self,
        ledger: &Ledger,
        collector: &mut dyn Collector,
        waiting: Option<&mut Waiting>,
    ) -> Result<Turn, CollectorFailed> {
        let mut state = self.collections.lock();
        if state.running {
            return Ok(Turn::Running {
                finished: state.finished,
                window: state.begun,
            });
        }
        state.running = true;
        state.begun += 1;
        let window = state.begun;
        // Under the lock, so that a thread joining this collection finds it begun. Its slot of
        // `young_freed` starts over before its number is published: a block stamped with the
        // number is allocated, and freed, after; a block stamped with the slot's last number
        // is too old to be noted (see `reclaiming`).
        self.young_slot(window).store(0, Ordering::SeqCst);
        self.floor.store(ledger.used(), Ordering::SeqCst);
        self.begun.store(window, Ordering::SeqCst);
        if let Some(w) = waiting {
            self.measure(ledger, w, self.young_since(window).unwrap_or(0));
        }
        drop(state);
        // Whatever was allocated before this collection is now subject to it.
        self.allocated_since_collection.store(0, Ordering::Relaxed);
        *self.early_wanted.lock() = false;

        // Marks the collection finished even if the collector panics, so no thread waits forever.
        struct Finish<'a>(&'a Reclaimer);
        impl Drop for Finish<'_> {
            fn drop(&mut self) {
                let mut state = self.0.collections.lock();
                state.running = false;
                state.finished += 1;
                state.last_finished_at = Some(self.0.now());
                self.0.collection_finished.notify_all();
                drop(state);
                // Threads that joined it wait with those that wait for frees (see
                // park_until_freed). Not under `collections`: they take it under this lock.
                let _signal = self.0.free_signal.lock();
                self.0.freed.notify_all();
            }
        }
        let _finish = Finish(self);
        let started = Instant::now();
        let outcome = collector.collect().map_err(CollectorFailed)?;
        self.collections_run.fetch_add(1, Ordering::Relaxed);
        log::debug!(
            "collection {:?} took {:.1} ms",
            outcome,
            started.elapsed().as_secs_f64() * 1e3
        );
        Ok(Turn::Collected { window })
    }

    /// Tries the ledger for `r`, having noted `frees` and `reclaims` first: a free after this
    /// look then cuts the next park short, and the back-off sees whether the reclaimer freed.
    fn look(&self, ledger: &Ledger, r: Reservation, w: &mut Waiting) -> Result<(), Refused> {
        w.seen = self.frees.load(Ordering::SeqCst);
        w.reclaims_seen = self.reclaims.load(Ordering::SeqCst);
        w.granted_at = ledger.try_reserve(r)?;
        Ok(())
    }

    /// One look while waiting for frees: reserves `r` (true), or sets the pause to park for
    /// (false), or gives up waiting (the refusal) once a pause longer than the phase allows
    /// would be needed (the caller collects again) or the deadline has passed. The pauses go
    /// 1, 2, 4 ... ms while no free lands.
    fn look_for_frees(
        &self,
        ledger: &Ledger,
        r: Reservation,
        w: &mut Waiting,
    ) -> Result<bool, Refused> {
        let refused = match self.look(ledger, r, w) {
            Ok(()) => return Ok(true),
            Err(refused) => refused,
        };
        let last_pause = match w.phase {
            Phase::Settling => SETTLE_PAUSE,
            _ => self.policy.last_pause,
        };
        // Frees came and stopped: what the collection found is freed, waiting longer for more
        // is wasted (the caller collects again); while none came yet, the reclaimer may only be
        // late, so the full back-off applies.
        let quiet = if self.backlog.load(Ordering::SeqCst) {
            QUIET_WITH_BACKLOG
        } else if w.reclaims_seen != w.reclaims_before {
            last_pause.min(QUIET_AFTER_FREES)
        } else {
            last_pause
        };
        // Nor once a collection begun after this one's end has ended too: what this one found
        // has had its time to come back, and the frees still landing are later collections'.
        // Before, while another thread collected back to back, each of its frees started the
        // back-off over, and a request that could never fit waited on them to the deadline
        // (after 2 collections of its own, 30 s, on JDK 25 G1 in CI).
        let outrun = w.phase == Phase::AfterCollection
            && self.begun.load(Ordering::SeqCst) > w.window.saturating_add(1);
        let now = self.nanos_since_epoch();
        if w.pause > nanos(quiet) || outrun || now >= w.deadline {
            return Err(refused);
        }
        if w.pause_ends == 0 {
            w.pause_ends = now.saturating_add(w.pause);
        }
        w.park = w.pause_ends.saturating_sub(now).min(w.deadline - now);
        Ok(false)
    }

    /// Sleeps for the park `w` asks for, or until a free lands if none has since its last look,
    /// or, while it joins another thread's collection, until that collection ends.
    fn park_until_freed(&self, w: &Waiting) {
        // Counted before the look at `frees`, SeqCst on both sides (here and in notify_freed):
        // either the notifier sees this waiter and wakes it under the signal lock, which this
        // thread holds from its look until it sleeps, or this look sees the free. A collection's
        // end always wakes under that lock, so it is seen here or wakes the sleep.
        self.waiting_for_frees.fetch_add(1, Ordering::SeqCst);
        let mut signal = self.free_signal.lock();
        let joined_has_ended =
            w.phase == Phase::Joining && self.collections.lock().finished != w.running;
        if self.frees.load(Ordering::SeqCst) == w.seen && !joined_has_ended {
            self.freed.wait_for(&mut signal, w.park());
        }
        drop(signal);
        self.waiting_for_frees.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Where a refused reservation stands between two steps of [`Reclaimer::reserve_step`]; a
/// caller that parks outside Rust keeps it as [`Waiting::LONGS`] numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Waiting {
    phase: Phase,
    /// When the reservation gives up, in nanoseconds since the reclaimer's epoch.
    deadline: u64,
    collections: u32,
    /// Collections in a row after which too little garbage came back to make room, and no more
    /// room was left free than after an earlier one.
    fruitless: u32,
    /// `reclaims` when this phase's wait began (for a collection, before it ran).
    reclaims_before: u64,
    /// `reclaimed`, the room free and `young_since` the collection, when this reservation last
    /// measured, at its collection's start or its join (see `measure`).
    reclaimed_before: u64,
    headroom_before: u64,
    young_before: u64,
    /// The most room any collection of this reservation so far would have left (see
    /// `gained_room`).
    best_room: u64,
    /// The number of the last collection this reservation ran or joined.
    window: u64,
    /// `frees` at the last look: a park ends early once it moves.
    seen: u64,
    /// `reclaims` at the last look.
    reclaims_seen: u64,
    /// The back-off pause, in nanoseconds.
    pause: u64,
    /// When the current pause ends, in nanoseconds since the reclaimer's epoch; 0: not begun.
    pause_ends: u64,
    /// The park last asked for, in nanoseconds: the pause, cut short at the deadline.
    park: u64,
    /// While joining: the count of finished collections when another thread's was running.
    running: u64,
    /// Whether the last step asked for a park, so that the next looks at what it brought.
    parked: bool,
    /// `used` as the granted reservation left it, for the peak; set by the step that grants it,
    /// so not among the numbers carried between steps.
    granted_at: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Phase {
    /// Nothing tried yet.
    #[default]
    Start,
    /// Waiting briefly for frees a collection that just ended may still bring.
    Settling,
    /// Collecting next.
    Collect,
    /// Waiting for another thread's collection to end, rather than run one (or for a free).
    Joining,
    /// Waiting for the frees of a collection this reservation went through.
    AfterCollection,
}

impl Waiting {
    /// How many numbers [`Waiting::to_longs`] writes and [`Waiting::from_longs`] reads.
    pub const LONGS: usize = 17;
    /// Which of them is [`Waiting::park`], in nanoseconds.
    pub const PARK_NANOS: usize = 0;

    /// How long the caller should park before the next step.
    pub fn park(&self) -> Duration {
        Duration::from_nanos(self.park)
    }

    /// `used` as the reservation a step granted left it (see [`Ledger::note_peak`]).
    pub fn granted_at(&self) -> u64 {
        self.granted_at
    }

    /// A collection (this reservation's, or one it joined) has ended: its frees come next.
    fn collected(&mut self, policy: &Policy) {
        self.collections = self.collections.saturating_add(1);
        self.await_frees(Phase::AfterCollection, self.reclaims_before, policy);
    }

    fn await_frees(&mut self, phase: Phase, reclaims_before: u64, policy: &Policy) {
        self.phase = phase;
        self.reclaims_before = reclaims_before;
        self.pause = nanos(policy.first_pause);
        self.pause_ends = 0;
    }

    pub fn to_longs(&self) -> [i64; Self::LONGS] {
        [
            self.park,
            self.phase as u64,
            self.deadline,
            u64::from(self.collections),
            u64::from(self.fruitless),
            self.reclaims_before,
            self.seen,
            self.pause,
            u64::from(self.parked),
            self.running,
            self.reclaims_seen,
            self.pause_ends,
            self.reclaimed_before,
            self.headroom_before,
            self.young_before,
            self.best_room,
            self.window,
        ]
        .map(|n| n as i64)
    }

    /// Reads what `to_longs` wrote (all zeros: a new reservation); refuses anything else.
    pub fn from_longs(longs: &[i64]) -> Result<Self, String> {
        let [park, phase, deadline, collections, fruitless, reclaims_before, seen, pause, parked, running, reclaims_seen, pause_ends, reclaimed_before, headroom_before, young_before, best_room, window] =
            <[i64; Self::LONGS]>::try_from(longs)
                .map_err(|_| {
                    format!(
                        "{} numbers of waiting state, not {}",
                        longs.len(),
                        Self::LONGS
                    )
                })?
                .map(|n| n as u64);
        let invalid = || "invalid waiting state".to_string();
        Ok(Waiting {
            phase: match phase {
                0 => Phase::Start,
                1 => Phase::Settling,
                2 => Phase::Collect,
                3 => Phase::Joining,
                4 => Phase::AfterCollection,
                _ => return Err(invalid()),
            },
            deadline,
            collections: u32::try_from(collections).map_err(|_| invalid())?,
            fruitless: u32::try_from(fruitless).map_err(|_| invalid())?,
            reclaims_before,
            reclaimed_before,
            headroom_before,
            young_before,
            best_room,
            window,
            seen,
            reclaims_seen,
            pause,
            pause_ends,
            park,
            running,
            parked: match parked {
                0 => false,
                1 => true,
                _ => return Err(invalid()),
            },
            granted_at: 0,
        })
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;
    use std::sync::Arc;
    use std::thread;

    fn res(bytes: u64) -> Reservation {
        Reservation {
            capacity: bytes,
            footprint: bytes,
        }
    }

    /// The reclaimer thread's free of `r`, garbage a collection found, as the pool makes it: a
    /// block allocated before any collection began.
    fn reclaim(ledger: &Ledger, reclaimer: &Reclaimer, r: Reservation) {
        reclaim_stamped(ledger, reclaimer, r, 0);
    }

    /// As `reclaim`, of a block allocated while collection `stamp` was the last begun.
    fn reclaim_stamped(ledger: &Ledger, reclaimer: &Reclaimer, r: Reservation, stamp: u32) {
        let used = ledger.release(r).unwrap();
        reclaimer.freed_by_reclaimer([(r.footprint, stamp)], used);
        reclaimer.notify_reclaimed_down_to(ledger.used());
    }

    /// Each collection reclaims `bytes` of garbage `rounds` times, and each time another thread
    /// takes them at once: the garbage of each round after the first is the block that thread
    /// took in the round before.
    struct Thief {
        ledger: Arc<Ledger>,
        reclaimer: Arc<Reclaimer>,
        bytes: u64,
        rounds: u32,
        /// The stamp of the block the other thread holds (see `Reclaimer::collections_begun`).
        held: u32,
    }

    impl Thief {
        fn new(ledger: &Arc<Ledger>, reclaimer: &Arc<Reclaimer>, bytes: u64, rounds: u32) -> Self {
            Thief {
                ledger: ledger.clone(),
                reclaimer: reclaimer.clone(),
                bytes,
                rounds,
                held: 0,
            }
        }
    }

    impl Collector for Thief {
        fn collect(&mut self) -> Result<Collection, String> {
            for _ in 0..self.rounds {
                reclaim_stamped(&self.ledger, &self.reclaimer, res(self.bytes), self.held);
                self.ledger
                    .try_reserve(res(self.bytes))
                    .map_err(|e| format!("{e:?}"))?;
                self.held = self.reclaimer.collections_begun().load(Ordering::SeqCst) as u32;
            }
            Ok(Collection::Forced)
        }
    }

    /// A collection that finds no garbage.
    struct NoGarbage;

    impl Collector for NoGarbage {
        fn collect(&mut self) -> Result<Collection, String> {
            Ok(Collection::Forced)
        }
    }

    /// A collection that finds no garbage and counts itself.
    struct Counting(u32);

    impl Collector for Counting {
        fn collect(&mut self) -> Result<Collection, String> {
            self.0 += 1;
            Ok(Collection::Forced)
        }
    }

    /// A budget of 10 bytes, all in use, and a reclaimer that gives up after `max_wait`.
    fn full_budget(max_wait: Duration) -> (Arc<Ledger>, Arc<Reclaimer>) {
        let ledger = Arc::new(Ledger::new(10));
        ledger.try_reserve(res(10)).unwrap();
        let reclaimer = Arc::new(Reclaimer::new(Policy {
            max_wait,
            ..fast_policy()
        }));
        (ledger, reclaimer)
    }

    fn fast_policy() -> Policy {
        Policy {
            max_collections: 3,
            max_wait: Duration::from_secs(10),
            first_pause: Duration::from_millis(1),
            last_pause: Duration::from_millis(8),
            high_water_percent: 100,
        }
    }

    /// A collector whose "garbage" is freed by a cleaner thread, one reservation every `lag`,
    /// after each collection.
    struct LaggingCleaner {
        ledger: Arc<Ledger>,
        reclaimer: Arc<Reclaimer>,
        garbage: Arc<Mutex<Vec<Reservation>>>,
        lag: Duration,
        calls: Arc<AtomicU32>,
        /// Whether the cleaner says more frees are queued until its last one, as the real
        /// reclaimer does while it works through a batch.
        reports_backlog: bool,
    }

    impl Collector for LaggingCleaner {
        fn collect(&mut self) -> Result<Collection, String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(5));
            let found: Vec<_> = self.garbage.lock().drain(..).collect();
            let (ledger, reclaimer, lag) = (self.ledger.clone(), self.reclaimer.clone(), self.lag);
            let backlog = self.reports_backlog && !found.is_empty();
            if backlog {
                reclaimer.set_backlog(true);
            }
            // The cleaner runs before the collection returns: a thread slow to start (under
            // qemu-user) once left a waiter three quiet waits in a row.
            let (started, running) = std::sync::mpsc::channel();
            thread::spawn(move || {
                started.send(()).unwrap();
                let last = found.len();
                for (i, r) in found.into_iter().enumerate() {
                    thread::sleep(lag);
                    if backlog {
                        reclaimer.set_backlog(i + 1 < last);
                    }
                    reclaim(&ledger, &reclaimer, r);
                }
            });
            running.recv().map_err(|e| e.to_string())?;
            Ok(Collection::Forced)
        }
    }

    struct Setup {
        ledger: Arc<Ledger>,
        reclaimer: Arc<Reclaimer>,
        garbage: Arc<Mutex<Vec<Reservation>>>,
        calls: Arc<AtomicU32>,
    }

    impl Setup {
        fn new(max: u64) -> Self {
            Setup {
                ledger: Arc::new(Ledger::new(max)),
                reclaimer: Arc::new(Reclaimer::new(fast_policy())),
                garbage: Arc::new(Mutex::new(Vec::new())),
                calls: Arc::new(AtomicU32::new(0)),
            }
        }

        /// As `new`, but waiting up to 64 ms for frees after a collection and giving up after 10
        /// fruitless ones in a row, not 8 ms and 3: for tests that expect every reservation to
        /// succeed while their cleaner threads may be starved (tests in parallel on 2 cores, and
        /// under qemu-user, where a spawned thread can take tens of ms to run, once ran out of
        /// collections without a free).
        fn patient(max: u64) -> Self {
            Setup {
                reclaimer: Arc::new(Reclaimer::new(Policy {
                    max_collections: 10,
                    last_pause: Duration::from_millis(64),
                    ..fast_policy()
                })),
                ..Setup::new(max)
            }
        }

        fn collector(&self, lag: Duration) -> LaggingCleaner {
            LaggingCleaner {
                ledger: self.ledger.clone(),
                reclaimer: self.reclaimer.clone(),
                garbage: self.garbage.clone(),
                lag,
                calls: self.calls.clone(),
                reports_backlog: false,
            }
        }

        /// Reserves, then drops the allocation as garbage (as a Java caller drops a buffer).
        fn churn(&self, bytes: u64, lag: Duration) -> Result<(), ReserveError> {
            let mut collector = self.collector(lag);
            self.reclaimer
                .reserve(&self.ledger, res(bytes), &mut collector)?;
            self.garbage.lock().push(res(bytes));
            Ok(())
        }
    }

    #[test]
    fn no_collection_while_the_budget_has_room() {
        let s = Setup::new(100);
        s.churn(50, Duration::ZERO).unwrap();
        assert_eq!(s.calls.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn waits_for_lagging_cleaners_instead_of_failing() {
        // Each free lands 3 ms after the collection: the reserving thread must wait for it.
        let s = Setup::patient(10);
        for _ in 0..100 {
            s.churn(5, Duration::from_millis(3)).unwrap();
        }
        assert!(s.calls.load(Ordering::SeqCst) >= 40);
        assert!(s.ledger.used() <= 10);
    }

    #[test]
    fn fails_after_the_collections_bring_nothing_back() {
        let s = Setup::new(10);
        let mut live = s.collector(Duration::ZERO);
        s.reclaimer.reserve(&s.ledger, res(10), &mut live).unwrap(); // held, never garbage
        let err = s.churn(1, Duration::ZERO).unwrap_err();
        match err {
            ReserveError::Exhausted(e) => {
                assert_eq!(e.collections, 3);
                assert_eq!(
                    e.refused,
                    Refused {
                        requested: 1,
                        used: 10,
                        max: 10
                    }
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(s.calls.load(Ordering::SeqCst), 3);
        assert_eq!(s.ledger.used(), 10, "a failed reservation reserves nothing");
    }

    /// As `Setup::churn`, one step at a time, sleeping (as a virtual thread parks) between
    /// steps through the numbers a Java caller keeps; returns how many parks it took.
    fn churn_in_steps(s: &Setup, bytes: u64, lag: Duration) -> Result<u32, ReserveError> {
        let mut collector = s.collector(lag);
        let mut longs = [0i64; Waiting::LONGS];
        let mut parks = 0;
        loop {
            let mut waiting = Waiting::from_longs(&longs).unwrap();
            let reserved =
                s.reclaimer
                    .reserve_step(&s.ledger, res(bytes), &mut collector, &mut waiting)?;
            longs = waiting.to_longs();
            if reserved {
                s.garbage.lock().push(res(bytes));
                return Ok(parks);
            }
            let park = Duration::from_nanos(longs[Waiting::PARK_NANOS] as u64);
            assert!(park > Duration::ZERO && park <= s.reclaimer.policy.last_pause);
            thread::sleep(park);
            parks += 1;
        }
    }

    #[test]
    fn a_reservation_in_steps_parks_outside_until_the_lagging_frees_land() {
        let s = Setup::patient(10);
        let mut parks = 0;
        for _ in 0..50 {
            parks += churn_in_steps(&s, 5, Duration::from_millis(3)).unwrap();
        }
        assert!(s.calls.load(Ordering::SeqCst) >= 20, "collected as it went");
        assert!(parks > 0, "the frees lag: some steps asked to park");
        assert!(s.ledger.used() <= 10);
    }

    #[test]
    fn a_reservation_in_steps_fails_as_a_waiting_one_does() {
        let s = Setup::new(10);
        let mut live = s.collector(Duration::ZERO);
        s.reclaimer.reserve(&s.ledger, res(10), &mut live).unwrap();
        match churn_in_steps(&s, 1, Duration::ZERO).unwrap_err() {
            ReserveError::Exhausted(e) => {
                assert_eq!((e.collections, e.refused.used, e.refused.max), (3, 10, 10))
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(s.calls.load(Ordering::SeqCst), 3);
        assert_eq!(s.ledger.used(), 10);
    }

    /// For a reservation that must join another thread's collection, or give up without one.
    struct MustNotCollect;
    impl Collector for MustNotCollect {
        fn collect(&mut self) -> Result<Collection, String> {
            panic!("no collection of its own: join the running one, or give up")
        }
    }

    /// A collection that runs until the test lets it end.
    struct Gated(std::sync::mpsc::Receiver<()>);
    impl Collector for Gated {
        fn collect(&mut self) -> Result<Collection, String> {
            self.0.recv().map_err(|e| e.to_string())?;
            Ok(Collection::Forced)
        }
    }

    /// A full budget of 1 byte, and another thread's [`Gated`] collection, running until ended.
    struct GatedCollection {
        ledger: Arc<Ledger>,
        reclaimer: Arc<Reclaimer>,
        gate: std::sync::mpsc::Sender<()>,
        running: thread::JoinHandle<Result<(), CollectorFailed>>,
    }

    impl GatedCollection {
        fn start(policy: Policy) -> Self {
            let ledger = Arc::new(Ledger::new(1));
            ledger.try_reserve(res(1)).unwrap();
            let reclaimer = Arc::new(Reclaimer::new(policy));
            let (gate, told) = std::sync::mpsc::channel();
            let running = {
                let (ledger, reclaimer) = (ledger.clone(), reclaimer.clone());
                thread::spawn(move || reclaimer.collect_or_join(&ledger, &mut Gated(told)))
            };
            while !reclaimer.collections.lock().running {
                thread::yield_now();
            }
            GatedCollection {
                ledger,
                reclaimer,
                gate,
                running,
            }
        }

        fn end(self) {
            self.gate.send(()).unwrap();
            self.running.join().unwrap().unwrap();
        }
    }

    #[test]
    fn a_reservation_in_steps_parks_while_another_threads_collection_runs() {
        let collection = GatedCollection::start(fast_policy());
        let (ledger, reclaimer) = (collection.ledger.clone(), collection.reclaimer.clone());
        // Each step returns while that collection runs (a step that waited for its end would
        // never return: the watchdog fails the test), parks, and soon waits for it in parks.
        // Before: each step had to return within 100 ms, which a descheduling could exceed.
        let (steps_done, done) = std::sync::mpsc::channel();
        let stepping = {
            let (ledger, reclaimer) = (ledger.clone(), reclaimer.clone());
            thread::spawn(move || {
                let mut waiting = Waiting::default();
                for _ in 0..3 {
                    let reserved = reclaimer
                        .reserve_step(&ledger, res(1), &mut MustNotCollect, &mut waiting)
                        .unwrap();
                    assert!(!reserved);
                    thread::sleep(waiting.park());
                }
                steps_done.send(()).unwrap();
                waiting
            })
        };
        assert!(
            done.recv_timeout(Duration::from_secs(60)).is_ok(),
            "a step waited for the collection"
        );
        let mut waiting = stepping.join().unwrap();
        assert!(reclaimer.collections.lock().running, "the collection ended");
        assert_eq!(waiting.phase, Phase::Joining);
        // Once it has ended and its garbage is freed, the next step counts it and reserves.
        collection.end();
        reclaim(&ledger, &reclaimer, res(1));
        assert!(reclaimer
            .reserve_step(&ledger, res(1), &mut MustNotCollect, &mut waiting)
            .unwrap());
        assert_eq!(waiting.collections, 1);
        assert_eq!(reclaimer.collections_run(), 1);
    }

    #[test]
    fn joining_steps_back_off_after_a_free_and_look_for_the_end_every_join_poll() {
        let collection = GatedCollection::start(Policy::default());
        let (ledger, reclaimer) = (collection.ledger.clone(), collection.reclaimer.clone());
        let mut waiting = Waiting::default();
        let mut parks = Vec::new();
        while parks.len() < 12 {
            let reserved = reclaimer
                .reserve_step(&ledger, res(1), &mut MustNotCollect, &mut waiting)
                .unwrap();
            assert!(!reserved);
            if waiting.phase == Phase::Joining {
                parks.push(waiting.park());
                if parks.len() == 3 {
                    // One reclaimer free elsewhere, during the collection: the back-off starts over.
                    reclaimer.notify_reclaimed_down_to(ledger.used());
                }
            }
            thread::sleep(waiting.park()); // a park that no free cuts short
        }
        // Before: every park after that free was 1 ms (223 in a 300 ms collection).
        assert!(parks.iter().all(|p| *p <= JOIN_POLL), "{parks:?}");
        assert_eq!(parks.last(), Some(&JOIN_POLL), "{parks:?}");
        // The first step after the collection's end sees it (before: up to 256 ms late).
        collection.end();
        assert!(!reclaimer
            .reserve_step(&ledger, res(1), &mut MustNotCollect, &mut waiting)
            .unwrap());
        assert_eq!(waiting.phase, Phase::AfterCollection);
    }

    #[test]
    fn a_reservation_in_steps_takes_memory_freed_while_the_collection_it_joined_runs() {
        let collection = GatedCollection::start(Policy::default());
        let (ledger, reclaimer) = (&*collection.ledger, &*collection.reclaimer);
        let mut waiting = Waiting::default();
        while waiting.phase != Phase::Joining {
            assert!(!reclaimer
                .reserve_step(ledger, res(1), &mut MustNotCollect, &mut waiting)
                .unwrap());
            thread::sleep(waiting.park());
        }
        // The program frees; the free wakes the parked thread, whose next step takes it.
        ledger.release(res(1)).unwrap();
        reclaimer.notify_freed_down_to(ledger.used());
        assert!(reclaimer
            .reserve_step(ledger, res(1), &mut MustNotCollect, &mut waiting)
            .unwrap());
        assert_eq!(ledger.used(), 1);
        // Before: the step parked again while the collection ran, and a churner on the one
        // carrier took the memory back each time.
        assert!(
            reclaimer.collections.lock().running,
            "served before the collection ended"
        );
        collection.end();
    }

    #[test]
    fn a_thread_that_joined_a_collection_takes_memory_freed_while_it_runs() {
        let collection = GatedCollection::start(Policy::default());
        let (ledger, reclaimer) = (&collection.ledger, &collection.reclaimer);
        let waiter = {
            let (ledger, reclaimer) = (ledger.clone(), reclaimer.clone());
            thread::spawn(move || reclaimer.reserve(&ledger, res(1), &mut MustNotCollect))
        };
        while reclaimer.waiting_for_frees.load(Ordering::SeqCst) == 0 {
            thread::yield_now();
        }
        // Past the first few ms, for frees of a collection that may have just ended: it has
        // joined the running one, and waits.
        thread::sleep(Duration::from_millis(100));
        ledger.release(res(1)).unwrap();
        reclaimer.notify_freed_down_to(ledger.used());
        // Before: it waited for the collection's end, however long, with the memory there.
        let give_up = Instant::now() + Duration::from_secs(10);
        while !waiter.is_finished() && Instant::now() < give_up {
            thread::sleep(Duration::from_millis(1));
        }
        let served_while_running = waiter.is_finished();
        collection.end();
        assert_eq!(waiter.join().unwrap().unwrap(), 1);
        assert!(
            served_while_running,
            "served only once the collection ended"
        );
    }

    #[test]
    fn a_thread_waiting_for_frees_wakes_at_a_free() {
        let reclaimer = Arc::new(Reclaimer::new(Policy::default()));
        // A park far longer than any a step asks for: only the free cuts it short.
        let waiting = Waiting {
            phase: Phase::AfterCollection,
            seen: reclaimer.frees.load(Ordering::SeqCst),
            park: nanos(Duration::from_secs(10)),
            ..Waiting::default()
        };
        // Without the signal (a mutation's check), the park ran its 10 s.
        let slept = time_a_park(&reclaimer, waiting, || reclaimer.notify_freed());
        assert!(slept < Duration::from_secs(5), "woken after {slept:?}");
    }

    #[test]
    fn a_thread_waiting_for_the_collection_it_joined_wakes_at_its_end() {
        let collection = GatedCollection::start(Policy::default());
        let reclaimer = collection.reclaimer.clone();
        // A park far longer than any a step asks for: only the collection's end cuts it short.
        let joined = Waiting {
            phase: Phase::Joining,
            running: reclaimer.collections.lock().finished,
            seen: reclaimer.frees.load(Ordering::SeqCst),
            park: nanos(Duration::from_secs(10)),
            ..Waiting::default()
        };
        // Before (the end notified only `collection_finished`): the park ran its 10 s.
        let slept = time_a_park(&reclaimer, joined, || collection.end());
        assert!(slept < Duration::from_secs(5), "woken after {slept:?}");
    }

    /// How long a thread parked in `waiting` sleeps when `wake` runs once it is asleep.
    fn time_a_park(reclaimer: &Arc<Reclaimer>, waiting: Waiting, wake: impl FnOnce()) -> Duration {
        let parked = {
            let reclaimer = reclaimer.clone();
            thread::spawn(move || {
                let started = Instant::now();
                reclaimer.park_until_freed(&waiting);
                started.elapsed()
            })
        };
        while reclaimer.waiting_for_frees.load(Ordering::SeqCst) == 0 {
            thread::yield_now();
        }
        thread::sleep(Duration::from_millis(50)); // asleep by now, as a rule
        wake();
        parked.join().unwrap()
    }

    #[test]
    fn a_waiting_state_from_the_caller_cannot_wait_past_its_bounds() {
        let ledger = Ledger::new(1);
        ledger.try_reserve(res(1)).unwrap();
        let reclaimer = Reclaimer::new(Policy {
            max_wait: Duration::from_millis(50),
            ..Policy::default()
        });
        // Joining a collection that is not running (nothing is): it has ended, and the wait is
        // past its deadline: the step gives up at once rather than park for ever.
        let mut joining = [0i64; Waiting::LONGS];
        joining[1] = Phase::Joining as i64;
        joining[2] = 1;
        let mut waiting = Waiting::from_longs(&joining).unwrap();
        let refused = reclaimer.reserve_step(&ledger, res(1), &mut MustNotCollect, &mut waiting);
        assert!(
            matches!(refused, Err(ReserveError::Exhausted(_))),
            "{refused:?}"
        );
        // A pause of 0 would spin, a deadline far ahead would never come, counts at their
        // maximum would overflow: the steps still pause, give up within max_wait, and count on.
        // Marked parked or not (helper-68: not parked, the steps were not bounded: they spun on
        // a pause of 0 until the forged deadline, 292 years away).
        for parked in [1, 0] {
            let mut forged = [0i64; Waiting::LONGS];
            forged[1] = Phase::AfterCollection as i64;
            forged[2] = i64::MAX;
            forged[3] = i64::from(u32::MAX);
            forged[4] = i64::from(u32::MAX);
            forged[8] = parked;
            let mut waiting = Waiting::from_longs(&forged).unwrap();
            let started = Instant::now();
            let outcome = loop {
                match reclaimer.reserve_step(&ledger, res(1), &mut MustNotCollect, &mut waiting) {
                    Ok(false) => {
                        let park = waiting.park();
                        assert!(park > Duration::ZERO, "{waiting:?}");
                        assert!(
                            park <= Duration::from_millis(50),
                            "parked: {parked}, {park:?}"
                        );
                        thread::sleep(park);
                    }
                    other => break other,
                }
                assert!(started.elapsed() < Duration::from_secs(5), "{waiting:?}");
            };
            assert!(
                matches!(outcome, Err(ReserveError::Exhausted(_))),
                "{outcome:?}"
            );
        }
    }

    /// Another thread collects back to back, each of its collections giving back a byte it
    /// takes again at once: frees land every millisecond or so, and a waiting reservation's
    /// back-off starts over at each. It must still give up after 3 collections of its own that
    /// made no room, not wait on frees that are other collections' until the deadline (a
    /// request for 8 MiB of a budget holding 60 of 64 live, while another thread dropped 1 MiB
    /// buffers back to back, threw at the 30 s deadline after 2 collections on JDK 25 G1 in CI).
    #[test]
    fn a_request_stops_waiting_on_frees_that_later_collections_found() {
        let (ledger, reclaimer) = full_budget(Duration::from_secs(20));
        let stop = Arc::new(AtomicBool::new(false));
        let other = {
            let (ledger, reclaimer, stop) = (ledger.clone(), reclaimer.clone(), stop.clone());
            thread::spawn(move || {
                let mut take_back = Thief::new(&ledger, &reclaimer, 1, 1);
                while !stop.load(Ordering::SeqCst) {
                    reclaimer.collect_or_join(&ledger, &mut take_back).unwrap();
                    thread::sleep(Duration::from_micros(500));
                }
            })
        };
        let started = Instant::now();
        let mut own = Thief::new(&ledger, &reclaimer, 1, 1);
        let result = reclaimer.reserve(&ledger, res(5), &mut own);
        stop.store(true, Ordering::SeqCst);
        other.join().unwrap();
        assert!(
            matches!(result, Err(ReserveError::Exhausted(e)) if e.collections == 3 && !e.contended),
            "{result:?} after {:?}",
            started.elapsed()
        );
    }

    /// What comes back counts as a collection's fruit only if allocated before it began: memory
    /// another thread allocates and drops while it runs, however often, is later collections'
    /// garbage. A collection is judged up to `WINDOWS - 2` collections back.
    #[test]
    fn only_blocks_allocated_before_a_collection_began_are_its_fruit() {
        let ledger = held_in_bytes(10);
        let reclaimer = Reclaimer::new(fast_policy());
        reclaimer.collect_or_join(&ledger, &mut NoGarbage).unwrap(); // collection 1
        let mut first = Waiting {
            window: 1,
            ..Waiting::default()
        };
        reclaimer.measure(&ledger, &mut first, reclaimer.young_since(1).unwrap());
        assert_eq!(reclaimer.fruit(&first), Some(0));
        reclaim_stamped(&ledger, &reclaimer, res(4), 0);
        assert_eq!(reclaimer.fruit(&first), Some(4));
        for _ in 0..5 {
            // Taken by another thread, dropped, found and freed again.
            ledger.try_reserve(res(4)).unwrap();
            reclaim_stamped(&ledger, &reclaimer, res(4), 1);
        }
        assert_eq!(reclaimer.fruit(&first), Some(4));
        assert!(reclaimer.made_room(res(4), &first));
        assert!(!reclaimer.made_room(res(5), &first), "20 bytes came back");

        // Blocks allocated during collection 1 are collection 2's.
        reclaimer.collect_or_join(&ledger, &mut NoGarbage).unwrap();
        ledger.try_reserve(res(4)).unwrap();
        let mut second = Waiting {
            window: 2,
            ..Waiting::default()
        };
        reclaimer.measure(&ledger, &mut second, reclaimer.young_since(2).unwrap());
        reclaim_stamped(&ledger, &reclaimer, res(3), 1);
        assert_eq!(reclaimer.fruit(&second), Some(3));
        assert_eq!(reclaimer.fruit(&first), Some(4));

        // Kept `WINDOWS - 2` collections back; further back, a collection makes no room.
        while reclaimer.collections_begun().load(Ordering::SeqCst) < WINDOWS as u64 - 1 {
            reclaimer.collect_or_join(&ledger, &mut NoGarbage).unwrap();
        }
        assert_eq!(reclaimer.fruit(&first), Some(4));
        reclaimer.collect_or_join(&ledger, &mut NoGarbage).unwrap();
        assert_eq!(reclaimer.fruit(&first), None);
        assert!(!reclaimer.made_room(res(1), &first));
        assert_eq!(reclaimer.fruit(&second), Some(3));

        // A block stamped with the last user of a slot's number is not noted in that slot.
        reclaimer.collect_or_join(&ledger, &mut NoGarbage).unwrap(); // 257: collection 1's slot
        reclaim_stamped(&ledger, &reclaimer, res(1), 1);
        assert_eq!(reclaimer.young_since(257), Some(0));
    }

    /// Each collection finds as much garbage as the request lacks, but gives it back a byte at a
    /// time, each byte taken at once by another thread (which drops it again before the next
    /// collection): the room was never there at one moment, and the request goes on, as long as
    /// collections keep finding it enough, until it gets the memory. Before, a collection made room
    /// only if the request would have fit at some moment since it began, and this failed after 3
    /// collections: as 32 threads churning buffers of up to 1 MiB through 64 MiB, each holding
    /// one, left requests for about 1 MiB in CI (JDK 21 Shenandoah), with half the budget garbage.
    #[test]
    fn garbage_enough_for_a_request_keeps_it_going_though_others_take_each_byte() {
        struct Scramble<'a> {
            ledger: &'a Ledger,
            reclaimer: &'a Reclaimer,
            calls: u32,
            /// The stamp of the other thread's blocks, dropped before this collection.
            dropped: u32,
        }
        impl Collector for Scramble<'_> {
            fn collect(&mut self) -> Result<Collection, String> {
                self.calls += 1;
                let begun = self.reclaimer.collections_begun().load(Ordering::SeqCst) as u32;
                for _ in 0..5 {
                    reclaim_stamped(self.ledger, self.reclaimer, res(1), self.dropped);
                    if self.calls < 6 {
                        self.ledger.try_reserve(res(1)).unwrap();
                    }
                }
                self.dropped = begun;
                Ok(Collection::Forced)
            }
        }
        let reclaimer = Reclaimer::new(fast_policy());
        let ledger = held_in_bytes(10);
        let mut scramble = Scramble {
            ledger: &ledger,
            reclaimer: &reclaimer,
            calls: 0,
            dropped: 0,
        };
        let result = reclaimer.reserve(&ledger, res(5), &mut scramble);
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(scramble.calls, 6);
        assert_eq!(ledger.used(), 10);
    }

    #[test]
    fn waiting_state_survives_its_numbers_and_refuses_foreign_ones() {
        let waiting = Waiting {
            phase: Phase::AfterCollection,
            deadline: 7,
            collections: 2,
            fruitless: 1,
            reclaims_before: 40,
            reclaimed_before: 43,
            headroom_before: 46,
            young_before: 47,
            best_room: 44,
            window: 45,
            seen: 41,
            reclaims_seen: 42,
            pause: 4_000_000,
            pause_ends: 9_000_000,
            park: 3_000_000,
            running: 5,
            parked: true,
            granted_at: 0,
        };
        let longs = waiting.to_longs();
        assert_eq!(longs[Waiting::PARK_NANOS], 3_000_000);
        assert_eq!(Waiting::from_longs(&longs), Ok(waiting));
        assert_eq!(
            Waiting::from_longs(&[0; Waiting::LONGS]),
            Ok(Waiting::default())
        );
        assert!(Waiting::from_longs(&[0; 3]).is_err(), "wrong length");
        let mut bad = longs;
        bad[1] = 9;
        assert!(Waiting::from_longs(&bad).is_err(), "no such phase");
        let mut bad = longs;
        bad[3] = -1;
        assert!(
            Waiting::from_longs(&bad).is_err(),
            "collections out of range"
        );
    }

    #[test]
    fn more_than_the_whole_budget_fails_without_collecting() {
        let s = Setup::new(10);
        let err = s.churn(11, Duration::ZERO).unwrap_err();
        assert!(matches!(err, ReserveError::Exhausted(e) if e.collections == 0));
        assert_eq!(s.calls.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn collector_failure_is_reported_and_reserves_nothing() {
        struct Broken;
        impl Collector for Broken {
            fn collect(&mut self) -> Result<Collection, String> {
                Err("no JVM".into())
            }
        }
        let ledger = Ledger::new(1);
        ledger.try_reserve(res(1)).unwrap();
        let reclaimer = Reclaimer::new(fast_policy());
        let err = reclaimer.reserve(&ledger, res(1), &mut Broken).unwrap_err();
        assert!(matches!(err, ReserveError::CollectorFailed(CollectorFailed(m)) if m == "no JVM"));
        assert_eq!(ledger.used(), 1);
        // The failed collection did not leave the reclaimer stuck "running".
        assert!(!reclaimer.collections.lock().running);
    }

    #[test]
    fn a_request_that_never_fits_fails_after_fruitless_collections_while_others_free() {
        let ledger = Arc::new(Ledger::new(10));
        ledger.try_reserve(res(6)).unwrap(); // held for good: 5 more never fit
        let reclaimer = Arc::new(Reclaimer::new(Policy {
            max_wait: Duration::from_secs(60),
            ..fast_policy()
        }));
        // Another thread allocates and frees all along: its frees wake the waiting thread, but
        // are no garbage found by a collection.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let churner = {
            let (ledger, reclaimer, stop) = (ledger.clone(), reclaimer.clone(), stop.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    if ledger.try_reserve(res(1)).is_ok() {
                        ledger.release(res(1)).unwrap();
                        reclaimer.notify_freed_down_to(ledger.used());
                    }
                    thread::sleep(Duration::from_micros(100));
                }
            })
        };
        let started = Instant::now();
        let mut collector = Counting(0);
        let result = reclaimer.reserve(&ledger, res(5), &mut collector);
        stop.store(true, Ordering::SeqCst);
        churner.join().unwrap();
        // Before: a collection every few ms until the 30 s deadline.
        assert!(
            matches!(result, Err(ReserveError::Exhausted(e)) if e.collections == 3),
            "{result:?}"
        );
        assert!(matches!(result, Err(ReserveError::Exhausted(e)) if !e.contended));
        assert_eq!(collector.0, 3);
        // About 50 ms of back-off; the deadline, a minute, is far off.
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "took {:?}",
            started.elapsed()
        );
    }

    /// Every collection gives memory back, and another thread takes it first: the reservation
    /// gives up at the deadline, and says it was contention (a soak on 128 virtual threads got
    /// "after 2 forced garbage collection(s)" while the JVM ran hundreds). Not when what came
    /// back could never have made room, nor when collections outlast the wait and free nothing.
    #[test]
    fn a_reservation_that_loses_every_reclaimed_byte_says_so_at_the_deadline() {
        let (ledger, reclaimer) = full_budget(Duration::from_millis(200));
        // 5 bytes back each time: enough for the request, had no one taken them.
        let mut thief = Thief::new(&ledger, &reclaimer, 5, 1);
        let result = reclaimer.reserve(&ledger, res(5), &mut thief);
        assert!(
            matches!(result, Err(ReserveError::Exhausted(e)) if e.contended && e.collections > 3),
            "{result:?}"
        );
        assert_eq!(ledger.used(), 10);

        // Each collection gives 1 byte back, which another thread takes: 5 never fit. Before,
        // every collection's byte counted as fruit, and this ran to the deadline. Then the same
        // byte back and taken 6 times a collection, as another thread that drops a buffer and
        // allocates the next while a slow collection runs: 6 bytes come back, more than the 5
        // lacked, yet there was never room for 5. Before: 27 collections, to the deadline.
        for rounds in [1, 6] {
            let mut trickle = Thief::new(&ledger, &reclaimer, 1, rounds);
            let result = reclaimer.reserve(&ledger, res(5), &mut trickle);
            assert!(
                matches!(result, Err(ReserveError::Exhausted(e)) if !e.contended && e.collections == 3),
                "{rounds} round(s): {result:?}"
            );
        }

        // 2 bytes free already, and 3 back each time: enough with them, had no one taken them.
        let short = Arc::new(Ledger::new(10));
        short.try_reserve(res(3)).unwrap();
        short.try_reserve(res(5)).unwrap();
        let mut rest = Thief::new(&short, &reclaimer, 3, 1);
        let result = reclaimer.reserve(&short, res(5), &mut rest);
        assert!(
            matches!(result, Err(ReserveError::Exhausted(e)) if e.contended && e.collections > 3),
            "{result:?}"
        );
        assert_eq!(short.used(), 8);

        // Collections slower than the whole wait, which free nothing.
        struct Slow;
        impl Collector for Slow {
            fn collect(&mut self) -> Result<Collection, String> {
                thread::sleep(Duration::from_millis(120));
                Ok(Collection::Forced)
            }
        }
        let result = reclaimer.reserve(&ledger, res(5), &mut Slow);
        assert!(
            matches!(result, Err(ReserveError::Exhausted(e)) if !e.contended),
            "{result:?}"
        );
    }

    /// Contention at the deadline is judged by the room the collection the request waited
    /// through (ran or joined) made, not the last one begun: here another thread's collection,
    /// which found nothing, began after it. Before, the flag read that one's floor, and the failure blamed a budget full of live
    /// buffers though 5 bytes had come back for the request and gone to another thread.
    #[test]
    fn contention_at_the_deadline_is_judged_by_the_collection_the_request_waited_through() {
        let (ledger, reclaimer) = full_budget(Duration::from_secs(1));
        freeze_clock(&reclaimer);
        let mut thief = Thief::new(&ledger, &reclaimer, 5, 1);
        let mut waiting = Waiting::default();
        let step = reclaimer.reserve_step(&ledger, res(5), &mut thief, &mut waiting);
        assert!(
            matches!(step, Ok(false)),
            "parks for the collection's frees: {step:?}"
        );
        reclaimer.collect_or_join(&ledger, &mut NoGarbage).unwrap();
        advance_clock(&reclaimer, Duration::from_secs(2));
        let result = reclaimer.reserve_step(&ledger, res(5), &mut thief, &mut waiting);
        assert!(
            matches!(result, Err(ReserveError::Exhausted(e)) if e.contended && e.collections == 1),
            "{result:?}"
        );
    }

    /// Each collection gives back less than the request lacks, and no other thread takes it: the
    /// room grows collection by collection, as when a pipeline drains its buffers, and the
    /// reservation keeps going until it fits. Found by review: once a collection counted only if
    /// its garbage alone made room, this failed after 3 collections with 3 of the 5 bytes free.
    /// A ledger of `max` whose every byte is held, one reservation per byte.
    fn held_in_bytes(max: u64) -> Ledger {
        let ledger = Ledger::new(max);
        for _ in 0..max {
            ledger.try_reserve(res(1)).unwrap();
        }
        ledger
    }

    #[test]
    fn room_that_collections_keep_adding_keeps_a_reservation_going() {
        /// Each collection reclaims `bytes` of garbage, which no one takes.
        struct Drip<'a> {
            ledger: &'a Ledger,
            reclaimer: &'a Reclaimer,
            bytes: u64,
            calls: u32,
        }
        impl Collector for Drip<'_> {
            fn collect(&mut self) -> Result<Collection, String> {
                self.calls += 1;
                reclaim(self.ledger, self.reclaimer, res(self.bytes));
                Ok(Collection::Forced)
            }
        }
        let reclaimer = Reclaimer::new(fast_policy());
        let ledger = held_in_bytes(10);
        let mut drip = Drip {
            ledger: &ledger,
            reclaimer: &reclaimer,
            bytes: 1,
            calls: 0,
        };
        let result = reclaimer.reserve(&ledger, res(5), &mut drip);
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(drip.calls, 5);
        assert_eq!(ledger.used(), 10);

        // The same in steps, the wait kept in the numbers a Java caller keeps between them.
        let ledger = held_in_bytes(10);
        let mut drip = Drip {
            ledger: &ledger,
            reclaimer: &reclaimer,
            bytes: 1,
            calls: 0,
        };
        let mut longs = [0i64; Waiting::LONGS];
        let result = loop {
            let mut waiting = Waiting::from_longs(&longs).unwrap();
            match reclaimer.reserve_step(&ledger, res(5), &mut drip, &mut waiting) {
                Ok(false) => {
                    longs = waiting.to_longs();
                    thread::sleep(waiting.park());
                }
                other => break other,
            }
        };
        assert!(matches!(result, Ok(true)), "{result:?}");
        assert_eq!(drip.calls, 5);
        assert_eq!(ledger.used(), 10);

        // Room that another thread's garbage takes up again is no progress, though more of it is
        // left when a later wait ends: each collection gives back 3 bytes of that garbage; the
        // other thread takes back all 3 after the first, 2 after each later one (and the rest
        // as the next begins). The room a collection would have left the request (free when it
        // began, plus what it found) goes 3, 3, 4, 4 ...: one gain, when the other thread keeps
        // a byte less, then 3 collections without.
        struct Ebb<'a> {
            ledger: &'a Ledger,
            reclaimer: &'a Reclaimer,
            calls: u32,
        }
        impl Collector for Ebb<'_> {
            fn collect(&mut self) -> Result<Collection, String> {
                self.calls += 1;
                while self.ledger.try_reserve(res(1)).is_ok() {}
                for _ in 0..3 {
                    reclaim(self.ledger, self.reclaimer, res(1));
                }
                for _ in u32::from(self.calls > 1)..3 {
                    self.ledger.try_reserve(res(1)).unwrap();
                }
                Ok(Collection::Forced)
            }
        }
        let ledger = held_in_bytes(10);
        let mut ebb = Ebb {
            ledger: &ledger,
            reclaimer: &reclaimer,
            calls: 0,
        };
        let result = reclaimer.reserve(&ledger, res(5), &mut ebb);
        assert!(
            matches!(result, Err(ReserveError::Exhausted(e)) if !e.contended && e.collections == 6),
            "{result:?}"
        );
        assert_eq!(ebb.calls, 6);

        // Room the program's own frees make is no collection's fruit: collections that find
        // nothing stay fruitless while another thread frees a byte during each.
        struct Barren<'a>(&'a Ledger, &'a Reclaimer);
        impl Collector for Barren<'_> {
            fn collect(&mut self) -> Result<Collection, String> {
                self.0.release(res(1)).unwrap();
                self.1.notify_freed_down_to(self.0.used());
                Ok(Collection::Forced)
            }
        }
        let ledger = held_in_bytes(10);
        let result = reclaimer.reserve(&ledger, res(5), &mut Barren(&ledger, &reclaimer));
        assert!(
            matches!(result, Err(ReserveError::Exhausted(e)) if !e.contended && e.collections == 3),
            "{result:?}"
        );
    }

    #[test]
    fn concurrent_threads_share_collections_and_stay_within_budget() {
        let s = Arc::new(Setup::patient(64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = Arc::clone(&s);
                thread::spawn(move || {
                    for _ in 0..200 {
                        s.churn(8, Duration::from_micros(200)).unwrap();
                        assert!(s.ledger.used() <= 64);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let calls = s.calls.load(Ordering::SeqCst) as u64;
        assert!(calls >= 1);
        // 800 reservations of 8 through a 64-byte budget: at most one per 8 in the worst case,
        // and far fewer than one per failing thread per refill.
        assert!(calls <= 800 / 8 * 6 / 5, "collections piled up: {calls}");
        assert_eq!(s.reclaimer.collections_run(), calls);
    }
    fn early(percent: u8) -> Policy {
        Policy {
            high_water_percent: percent,
            ..fast_policy()
        }
    }

    #[test]
    fn early_collection_starts_past_the_mark_once_half_the_budget_was_allocated() {
        let p = early(75);
        // Nothing live: the mark is 75 of 100.
        assert!(!p.wants_early_collection(74, 0, 100, 100));
        assert!(p.wants_early_collection(75, 0, 100, 50));
        // Not before half the budget was allocated since the last collection.
        assert!(!p.wants_early_collection(90, 0, 100, 49));
    }

    #[test]
    fn live_memory_raises_the_mark_towards_the_maximum() {
        let p = early(75);
        // 60 live: the mark is 60 + 75% of the remaining 40 = 90.
        assert!(!p.wants_early_collection(89, 60, 100, 80));
        assert!(p.wants_early_collection(90, 60, 100, 80));
        // The floor is never above use: at 80 used the mark is 80 + 75% of 20 = 95; from a
        // floor of 95 it is 95 + 75% of 5 = 98.
        assert!(!p.wants_early_collection(80, 95, 100, 80));
        assert!(p.wants_early_collection(99, 95, 100, 80));
    }

    #[test]
    fn early_collection_can_be_turned_off() {
        assert!(!early(100).wants_early_collection(100, 0, 100, 1000));
        assert!(!early(75).wants_early_collection(10, 0, 0, 1000));
        // A budget of nothing never asks for a collection (zero-capacity buffers only).
        assert!(!early(75).wants_early_collection(0, 0, 0, 0));
    }

    #[test]
    fn an_early_request_made_during_a_running_collection_is_served_by_it_without_spinning() {
        struct Slow;
        impl Collector for Slow {
            fn collect(&mut self) -> Result<Collection, String> {
                thread::sleep(Duration::from_millis(200));
                Ok(Collection::Forced)
            }
        }
        let ledger = Arc::new(Ledger::new(100));
        let reclaimer = Arc::new(Reclaimer::new(early(50)));
        let running = {
            let (ledger, reclaimer) = (ledger.clone(), reclaimer.clone());
            thread::spawn(move || reclaimer.collect_or_join(&ledger, &mut Slow))
        };
        while !reclaimer.collections.lock().running {
            thread::yield_now();
        }
        // Past the mark while that collection runs: the request stays set after it began.
        for _ in 0..6 {
            ledger.try_reserve(res(10)).unwrap();
            reclaimer.reserved(&ledger, res(10));
        }
        assert!(reclaimer.await_early_collection(Duration::from_millis(1)));
        // The background thread's turn: it waits for the running collection instead of
        // returning at once (and looping), and that collection clears the request.
        reclaimer.collect_early(&ledger, &mut Slow).unwrap();
        assert!(!reclaimer.collections.lock().running);
        assert!(!reclaimer.await_early_collection(Duration::from_millis(1)));
        running.join().unwrap().unwrap();
        assert_eq!(reclaimer.collections_run(), 1);
    }

    #[test]
    fn an_early_request_served_by_a_collection_begun_during_the_quiet_pause_runs_no_second() {
        let ledger = Ledger::new(100);
        let reclaimer = Reclaimer::new(early(50));
        for _ in 0..6 {
            ledger.try_reserve(res(10)).unwrap();
            reclaimer.reserved(&ledger, res(10));
        }
        let reclaims = reclaimer.early_request_stands().expect("an early request");
        // During the background thread's pause, a refused reservation collects, and nothing
        // it found is freed yet.
        let mut own = Counting(0);
        reclaimer.collect_or_join(&ledger, &mut own).unwrap();
        assert_eq!(own.0, 1);
        let mut background = Counting(0);
        reclaimer
            .collect_early_after_pause(reclaims, &ledger, &mut background)
            .unwrap();
        assert_eq!(
            background.0, 0,
            "a second full collection right after the one that served the request"
        );
        assert_eq!(reclaimer.collections_run(), 1);
    }

    #[test]
    fn crossing_the_mark_wakes_the_background_thread_which_runs_one_collection() {
        let s = Setup {
            reclaimer: Arc::new(Reclaimer::new(early(50))),
            ..Setup::new(100)
        };
        assert!(!s.reclaimer.await_early_collection(Duration::from_millis(1)));
        s.churn(40, Duration::ZERO).unwrap();
        assert!(!s.reclaimer.await_early_collection(Duration::from_millis(1)));
        let background = {
            let reclaimer = s.reclaimer.clone();
            thread::spawn(move || reclaimer.await_early_collection(Duration::from_secs(10)))
        };
        s.churn(20, Duration::ZERO).unwrap(); // 60 of 100 used, 60 allocated
        assert!(
            background.join().unwrap(),
            "the background thread was not woken"
        );
        let mut collector = s.collector(Duration::ZERO);
        s.reclaimer
            .collect_early(&s.ledger, &mut collector)
            .unwrap();
        assert_eq!(s.calls.load(Ordering::SeqCst), 1);
        // Served: a second call does nothing until the mark is crossed again.
        s.reclaimer
            .collect_early(&s.ledger, &mut collector)
            .unwrap();
        assert_eq!(s.calls.load(Ordering::SeqCst), 1);
        assert!(!s.reclaimer.await_early_collection(Duration::from_millis(1)));
    }

    #[test]
    fn a_collection_for_a_refused_reservation_also_serves_a_pending_early_request() {
        let s = Setup {
            reclaimer: Arc::new(Reclaimer::new(early(50))),
            ..Setup::new(100)
        };
        s.churn(60, Duration::ZERO).unwrap();
        assert!(s.reclaimer.await_early_collection(Duration::from_millis(1)));
        // Refused at first: collects, frees the first 60, and stays below the mark (50).
        s.churn(45, Duration::ZERO).unwrap();
        assert_eq!(s.calls.load(Ordering::SeqCst), 1);
        let mut collector = s.collector(Duration::ZERO);
        s.reclaimer
            .collect_early(&s.ledger, &mut collector)
            .unwrap();
        assert_eq!(
            s.calls.load(Ordering::SeqCst),
            1,
            "the early request was served already"
        );
    }

    #[test]
    fn memory_the_program_frees_itself_asks_for_no_early_collection() {
        let s = Setup {
            reclaimer: Arc::new(Reclaimer::new(early(50))),
            ..Setup::new(100)
        };
        let mut collector = s.collector(Duration::ZERO);
        s.reclaimer
            .reserve(&s.ledger, res(85), &mut collector)
            .unwrap(); // live for good
        s.reclaimer
            .collect_or_join(&s.ledger, &mut collector)
            .unwrap();
        // Above the mark (92) from now on, allocating and freeing 10 at a time.
        for _ in 0..20 {
            s.reclaimer
                .reserve(&s.ledger, res(10), &mut collector)
                .unwrap();
            s.ledger.release(res(10)).unwrap();
            s.reclaimer.freed_by_program(10, s.ledger.used());
            s.reclaimer.notify_freed_down_to(s.ledger.used());
        }
        // Before: one was wanted at the fifth, once 50 had been allocated.
        assert!(!s.reclaimer.await_early_collection(Duration::from_millis(1)));
    }

    #[test]
    fn after_frees_stop_coming_the_next_collection_starts_without_the_full_back_off() {
        // The budget holds 10 in two 5-byte blocks, and 8 are needed: each collection finds one.
        let ledger = Ledger::new(10);
        ledger.try_reserve(res(5)).unwrap();
        let reclaimer = Reclaimer::new(Policy {
            last_pause: Duration::from_secs(20),
            max_wait: Duration::from_secs(120),
            ..fast_policy()
        });
        struct OneBlock<'a>(&'a Ledger, &'a Reclaimer, Vec<Instant>);
        impl Collector for OneBlock<'_> {
            fn collect(&mut self) -> Result<Collection, String> {
                self.2.push(Instant::now());
                reclaim(self.0, self.1, res(5));
                Ok(Collection::Forced)
            }
        }
        ledger.try_reserve(res(5)).unwrap(); // now full
        let mut collector = OneBlock(&ledger, &reclaimer, Vec::new());
        reclaimer.reserve(&ledger, res(8), &mut collector).unwrap();
        // The first collection's frees came and stopped: a few ms of quiet, then the second
        // collection. Without the quiet rule the wait between them backs off to the last pause,
        // 1 + 2 + ... + 16384 ms, about 33 s (before, with a 2 s last pause, the test bounded
        // the whole reservation to 3 s, which a loaded machine could exceed).
        let calls = &collector.2;
        assert_eq!(calls.len(), 2);
        let between = calls[1] - calls[0];
        assert!(between < Duration::from_secs(10), "{between:?}");
    }

    #[test]
    fn frees_stop_landing_once_the_reclaimer_went_quiet_after_the_collection() {
        let ledger = Ledger::new(10);
        let reclaimer = Reclaimer::new(fast_policy());
        // A clock that moves only when told: each look below comes within the windows it
        // means to, however late the thread runs (before: real sleeps of 2 ms, and a look right
        // after a batch that had to come within SETTLE_PAUSE, 1 ms, of it).
        freeze_clock(&reclaimer);
        assert!(!reclaimer.frees_may_be_landing(), "no collection yet");
        reclaimer.collect_or_join(&ledger, &mut NoGarbage).unwrap();
        let after_settle_pause = || advance_clock(&reclaimer, SETTLE_PAUSE * 2);
        after_settle_pause();
        assert!(
            reclaimer.frees_may_be_landing(),
            "no reclaimer batch since the collection: its frees may be late"
        );
        reclaimer.notify_reclaimed_down_to(0);
        assert!(
            reclaimer.frees_may_be_landing(),
            "a batch just landed: more may follow"
        );
        after_settle_pause();
        assert!(!reclaimer.frees_may_be_landing(), "quiet since the batch");
        reclaimer.set_backlog(true);
        assert!(
            reclaimer.frees_may_be_landing(),
            "the reclaimer says more are queued"
        );
        reclaimer.set_backlog(false);
        reclaimer.collect_or_join(&ledger, &mut NoGarbage).unwrap();
        after_settle_pause();
        assert!(
            reclaimer.frees_may_be_landing(),
            "the batch came before this collection"
        );
        advance_clock(&reclaimer, SETTLE_WINDOW);
        assert!(
            !reclaimer.frees_may_be_landing(),
            "the collection ended longer ago than the settle window"
        );
    }

    /// Stops `reclaimer`'s clock: from now on it moves only by [`advance_clock`].
    fn freeze_clock(reclaimer: &Reclaimer) {
        *reclaimer.frozen_clock.lock() = Some(Instant::now());
    }

    fn advance_clock(reclaimer: &Reclaimer, by: Duration) {
        if let Some(at) = reclaimer.frozen_clock.lock().as_mut() {
            *at += by;
        }
    }

    /// The report of an early collection counts the frees the reclaimer thread makes after the
    /// collection returned (before: reported at once, it showed nothing freed on G1, Parallel
    /// and Serial, whose references reach the reclaimer thread only after the collection).
    #[test]
    fn an_early_collections_report_waits_for_its_frees() {
        use crate::report::{Reclamation, ReportingCollector, Trigger};
        let s = Setup {
            reclaimer: Arc::new(Reclaimer::new(Policy {
                high_water_percent: 50,
                last_pause: Duration::from_secs(30),
                ..fast_policy()
            })),
            ..Setup::new(100)
        };
        for _ in 0..3 {
            s.churn(20, Duration::ZERO).unwrap();
        }
        assert!(s.reclaimer.await_early_collection(Duration::from_millis(1)));
        // The cleaner frees the three blocks 20 ms apart, the first 20 ms after the collection
        // returned, saying more are queued until the last has landed.
        struct LateCleaner(Arc<Ledger>, Arc<Reclaimer>);
        impl Collector for LateCleaner {
            fn collect(&mut self) -> Result<Collection, String> {
                let (ledger, reclaimer) = (self.0.clone(), self.1.clone());
                reclaimer.set_backlog(true);
                thread::spawn(move || {
                    for i in 0..3 {
                        thread::sleep(Duration::from_millis(20));
                        reclaim(&ledger, &reclaimer, res(20));
                        reclaimer.set_backlog(i < 2);
                    }
                });
                Ok(Collection::Forced)
            }
        }
        let mut cleaner = LateCleaner(s.ledger.clone(), s.reclaimer.clone());
        let reports = std::cell::RefCell::new(Vec::new());
        let listener = |r: &Reclamation| reports.borrow_mut().push(*r);
        let reclaimed = || 1000 - s.ledger.used();
        let reported = crate::report::ReportedFrees::new();
        {
            let mut collector = ReportingCollector::new(
                &mut cleaner,
                &reclaimed,
                &reported,
                &listener,
                Trigger::Early,
            );
            s.reclaimer
                .collect_early(&s.ledger, &mut collector)
                .unwrap();
        }
        assert_eq!(s.reclaimer.collections_run(), 1);
        let reports = reports.into_inner();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].bytes_freed, 60, "{reports:?}");
        assert_eq!(s.ledger.used(), 0);
    }

    /// A new early request ends that wait at once: the next collection is due.
    #[test]
    fn the_wait_for_an_early_collections_frees_ends_at_the_next_request() {
        struct Requesting<'a>(&'a Reclaimer);
        impl Collector for Requesting<'_> {
            fn collect(&mut self) -> Result<Collection, String> {
                // Finds nothing, and use crosses the mark again while it runs.
                *self.0.early_wanted.lock() = true;
                Ok(Collection::Forced)
            }
        }
        let ledger = Ledger::new(100);
        let reclaimer = Reclaimer::new(Policy {
            last_pause: Duration::from_secs(3600),
            ..early(50)
        });
        *reclaimer.early_wanted.lock() = true;
        // Would wait the hour for frees that never come.
        reclaimer
            .collect_early(&ledger, &mut Requesting(&reclaimer))
            .unwrap();
        assert_eq!(reclaimer.collections_run(), 1);
        assert!(reclaimer.await_early_collection(Duration::from_millis(1)));
    }

    #[test]
    fn while_the_reclaimer_reports_a_backlog_its_slow_frees_are_waited_for_not_collected_again() {
        // A collection finds ten 1-byte blocks; the reclaimer frees one every 10 ms (longer than
        // QUIET_AFTER_FREES), saying more are queued until the last one.
        let s = Setup::new(10);
        for _ in 0..10 {
            s.ledger.try_reserve(res(1)).unwrap();
            s.garbage.lock().push(res(1));
        }
        let mut collector = LaggingCleaner {
            reports_backlog: true,
            ..s.collector(Duration::from_millis(10))
        };
        s.reclaimer
            .reserve(&s.ledger, res(10), &mut collector)
            .unwrap();
        assert_eq!(s.calls.load(Ordering::SeqCst), 1);
        assert_eq!(s.ledger.used(), 10);
    }
}
