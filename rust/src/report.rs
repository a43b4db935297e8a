//! Reclamation reports: what each collection directmem drove cost and brought back.
//!
//! [`ReportingCollector`] wraps whatever [`Collector`] a reservation uses. For every collection
//! it runs, it measures the time from the start of the collection to the end of the wait for
//! its frees (the next collection, or the end of the reservation), and the bytes the reclaimer
//! thread gave back in that span, then hands a [`Reclamation`] to a listener. It knows nothing of the
//! JVM or of threads: the JNI layer decides how a report reaches Java (JFR events).

use crate::reclaim::{Collection, Collector};
use parking_lot::Mutex;
use std::time::{Duration, Instant};

/// Why a collection was run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A reservation of this many bytes did not fit in the budget.
    RefusedAllocation { requested: u64 },
    /// Use crossed the high-water mark: the background thread collected ahead of need.
    Early,
}

/// One collection and the frees that followed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reclamation {
    pub trigger: Trigger,
    pub collection: Collection,
    /// The collection itself, until the collector returned.
    pub collection_time: Duration,
    /// From the start of the collection to the end of the wait for its frees: until the
    /// reserving thread went on (it fit, or the next collection started, or it gave up); for an
    /// early collection, until the reclaimer thread's frees had settled, another collection was
    /// due, or the policy's last pause had passed (see `Reclaimer::collect_early`).
    pub duration: Duration,
    /// Capacity the reclaimer thread gave back in that span (from any collection's garbage) and
    /// no report made before this one counted. Frees that land after the thread went on are not
    /// counted here; the pool's counters have them. So reports add up to the pool's reclaimed
    /// bytes at most, even when their spans overlap (a reserving thread's and the background
    /// thread's: both counted the same frees before). A report whose span held those of more
    /// than 15 others that ended apart may count less (see [`ReportedFrees`]), never more.
    pub bytes_freed: u64,
}

/// A collection whose frees are still being waited for. A reservation made in steps
/// (`Reclaimer::reserve_step`) carries it from one step to the next as [`PendingReport::LONGS`]
/// numbers, so that its report covers the whole wait, as a blocking reservation's does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingReport {
    started: Instant,
    collection_time: Duration,
    /// The reclaimed-bytes counter when the collection started.
    freed_before: u64,
    collection: Collection,
}

impl PendingReport {
    pub const LONGS: usize = 4;

    /// `pending` as numbers, its instant counted from `epoch` (all zeros: none).
    pub fn to_longs(pending: Option<Self>, epoch: Instant) -> [i64; Self::LONGS] {
        let Some(p) = pending else {
            return [0; Self::LONGS];
        };
        let kind = match p.collection {
            Collection::Forced => 1,
            Collection::HeapPressure => 2,
            Collection::Unconfirmed => 3,
        };
        [
            kind,
            nanos(p.started.saturating_duration_since(epoch)),
            nanos(p.collection_time),
            i64::try_from(p.freed_before).unwrap_or(i64::MAX),
        ]
    }

    /// Reads what `to_longs` wrote with the same `epoch`. Anything else reads as none: a report
    /// is not worth failing an allocation for.
    pub fn from_longs(longs: &[i64], epoch: Instant) -> Option<Self> {
        let [kind, started, collection_time, freed_before] =
            <[i64; Self::LONGS]>::try_from(longs).ok()?;
        let collection = match kind {
            1 => Collection::Forced,
            2 => Collection::HeapPressure,
            3 => Collection::Unconfirmed,
            _ => return None,
        };
        let duration = |n: i64| u64::try_from(n).ok().map(Duration::from_nanos);
        Some(PendingReport {
            started: epoch.checked_add(duration(started)?)?,
            collection_time: duration(collection_time)?,
            freed_before: u64::try_from(freed_before).ok()?,
            collection,
        })
    }
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// The stretches of the reclaimed-bytes counter that reports have counted: one for every
/// collector reporting on the same counter, so that each free is counted by one report at most
/// and the reports add up to the counter at most.
///
/// Stretches, not a total or a mark: a total falls behind the counter by every free no report
/// waited for (after an ordinary collection, or after a refused allocation went on), and each
/// report then counted its whole span again, overlapping ones too (review of helper-91's fix); a
/// mark at the highest reading counted moved past frees that only an earlier report's span held
/// when a report that began later ended first, and nobody counted them (helper-91).
pub struct ReportedFrees(Mutex<Spans>);

/// How many disjoint stretches are kept. A report whose span reaches below the lowest one
/// kept counts too little, never too much (see [`Spans::add`]); reports span one collection's
/// wait, so a report still open across this many others that ended apart is rare.
const KEPT_SPANS: usize = 16;

/// Disjoint stretches `(from, to)` of the counter, in order, none touching another.
#[derive(Clone, Copy)]
struct Spans {
    spans: [(u64, u64); KEPT_SPANS],
    len: usize,
}

impl Spans {
    const EMPTY: Spans = Spans {
        spans: [(0, 0); KEPT_SPANS],
        len: 0,
    };

    fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.spans.iter().take(self.len).copied()
    }

    /// Appends `span`, above every stretch here. When all places are taken, the two lowest
    /// stretches become one, and the frees between them count as counted: a later report
    /// reaching down there counts too little rather than twice.
    fn push(&mut self, span: (u64, u64)) {
        if self.len >= KEPT_SPANS {
            // Irrefutable: KEPT_SPANS is at least 2, or this does not compile.
            let [lowest, next, ..] = &mut self.spans;
            lowest.1 = next.1;
            self.spans.copy_within(2.., 1);
            self.len = KEPT_SPANS - 1;
        }
        if let Some(place) = self.spans.get_mut(self.len) {
            *place = span;
            self.len += 1;
        }
    }

    /// Counts `from..to`: returns how much of it no stretch held, and adds it to the stretches.
    fn add(&mut self, from: u64, to: u64) -> u64 {
        let mut kept = Spans::EMPTY;
        let (mut merged, mut held, mut placed) = ((from, to), 0u64, false);
        for (a, b) in self.iter() {
            if b < from {
                kept.push((a, b));
            } else if a > to {
                if !placed {
                    kept.push(merged);
                    placed = true;
                }
                kept.push((a, b));
            } else {
                // Overlapping or touching: a <= to and from <= b.
                held = held.saturating_add(b.min(to).saturating_sub(a.max(from)));
                merged = (merged.0.min(a), merged.1.max(b));
            }
        }
        if !placed {
            kept.push(merged);
        }
        *self = kept;
        to.saturating_sub(from).saturating_sub(held)
    }
}

impl ReportedFrees {
    pub const fn new() -> Self {
        ReportedFrees(parking_lot::const_mutex(Spans::EMPTY))
    }

    /// The frees between `since` and `now` (readings of the counter) that no report counted
    /// yet; from here on they are counted.
    fn take(&self, since: u64, now: u64) -> u64 {
        if now <= since {
            return 0;
        }
        self.0.lock().add(since, now)
    }
}

impl Default for ReportedFrees {
    fn default() -> Self {
        ReportedFrees::new()
    }
}

/// A [`Collector`] that reports each collection it runs, once its frees have been waited for.
pub struct ReportingCollector<'a> {
    inner: &'a mut dyn Collector,
    /// A counter that rises by the capacity of every buffer the reclaimer thread frees.
    reclaimed_bytes: &'a dyn Fn() -> u64,
    reported: &'a ReportedFrees,
    listener: &'a dyn Fn(&Reclamation),
    trigger: Trigger,
    pending: Option<PendingReport>,
}

impl<'a> ReportingCollector<'a> {
    pub fn new(
        inner: &'a mut dyn Collector,
        reclaimed_bytes: &'a dyn Fn() -> u64,
        reported: &'a ReportedFrees,
        listener: &'a dyn Fn(&Reclamation),
        trigger: Trigger,
    ) -> Self {
        ReportingCollector {
            inner,
            reclaimed_bytes,
            reported,
            listener,
            trigger,
            pending: None,
        }
    }

    /// Goes on waiting for the frees of the collection an earlier step of the same reservation
    /// ran (see [`PendingReport`]).
    pub fn resume(&mut self, pending: Option<PendingReport>) {
        self.pending = pending;
    }

    /// Ends a step of a reservation that goes on: its collection is reported by a later step
    /// (which resumes it), not when this collector is dropped.
    pub fn suspend(&mut self) -> Option<PendingReport> {
        self.pending.take()
    }

    /// Reports the collection whose frees were being waited for, if any.
    fn report_pending(&mut self) {
        if let Some(p) = self.pending.take() {
            let report = Reclamation {
                trigger: self.trigger,
                collection: p.collection,
                collection_time: p.collection_time,
                duration: p.started.elapsed(),
                bytes_freed: self.reported.take(p.freed_before, (self.reclaimed_bytes)()),
            };
            log::debug!("{report:?}");
            (self.listener)(&report);
        }
    }
}

impl Collector for ReportingCollector<'_> {
    fn collect(&mut self) -> Result<Collection, String> {
        self.report_pending();
        let started = Instant::now();
        let freed_before = (self.reclaimed_bytes)();
        let collection = self.inner.collect()?;
        self.pending = Some(PendingReport {
            started,
            collection_time: started.elapsed(),
            freed_before,
            collection,
        });
        Ok(collection)
    }
}

impl Drop for ReportingCollector<'_> {
    /// The reservation is over: its last collection's wait has ended.
    fn drop(&mut self) {
        // While a panic unwinds (the guard turns it into an exception) nothing calls out.
        if !std::thread::panicking() {
            self.report_pending();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{Ledger, Reservation};
    use crate::reclaim::{Policy, Reclaimer};
    use std::cell::RefCell;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Each collection "finds" `garbage` bytes, freed at once by its cleaner.
    struct Freeing<'a> {
        ledger: &'a Ledger,
        reclaimer: &'a Reclaimer,
        reclaimed: &'a AtomicU64,
        garbage: Vec<u64>,
    }

    impl Collector for Freeing<'_> {
        fn collect(&mut self) -> Result<Collection, String> {
            if let Some(bytes) = self.garbage.pop() {
                let r = Reservation {
                    capacity: bytes,
                    footprint: bytes,
                };
                self.ledger
                    .release(r)
                    .map_err(|_| "underflow".to_string())?;
                self.reclaimed.fetch_add(bytes, Ordering::SeqCst);
                self.reclaimer.notify_reclaimed_down_to(self.ledger.used());
            }
            Ok(Collection::Forced)
        }
    }

    fn policy() -> Policy {
        Policy {
            max_collections: 2,
            max_wait: Duration::from_secs(5),
            first_pause: Duration::from_millis(1),
            last_pause: Duration::from_millis(2),
            high_water_percent: 100,
        }
    }

    fn res(bytes: u64) -> Reservation {
        Reservation {
            capacity: bytes,
            footprint: bytes,
        }
    }

    #[test]
    fn each_collection_is_reported_once_with_the_bytes_it_brought_back() {
        let ledger = Ledger::new(100);
        let reclaimer = Reclaimer::new(policy());
        let reclaimed = AtomicU64::new(0);
        for bytes in [50, 40, 10] {
            ledger.try_reserve(res(bytes)).unwrap();
        }
        let reports = RefCell::new(Vec::new());
        let listener = |r: &Reclamation| reports.borrow_mut().push(*r);
        let counter = || reclaimed.load(Ordering::SeqCst);
        let reported = ReportedFrees::new();
        // The first collection frees 10 bytes (too few for 30), the second 40.
        let mut inner = Freeing {
            ledger: &ledger,
            reclaimer: &reclaimer,
            reclaimed: &reclaimed,
            garbage: vec![40, 10],
        };
        let trigger = Trigger::RefusedAllocation { requested: 30 };
        {
            let mut collector =
                ReportingCollector::new(&mut inner, &counter, &reported, &listener, trigger);
            reclaimer.reserve(&ledger, res(30), &mut collector).unwrap();
            assert_eq!(reports.borrow().len(), 1, "the last one waits for the drop");
        }
        let reports = reports.into_inner();
        let freed: Vec<u64> = reports.iter().map(|r| r.bytes_freed).collect();
        assert_eq!(freed, vec![10, 40]);
        assert!(reports.iter().all(|r| r.trigger == trigger));
        assert!(reports.iter().all(|r| r.collection == Collection::Forced));
        assert!(reports.iter().all(|r| r.collection_time <= r.duration));
    }

    /// Counts nothing at a collection: the test frees between steps, as the reclaimer thread
    /// would while the reserving thread parks.
    struct Noop;
    impl Collector for Noop {
        fn collect(&mut self) -> Result<Collection, String> {
            Ok(Collection::HeapPressure)
        }
    }

    #[test]
    fn a_reservation_in_steps_reports_its_collection_once_over_the_whole_wait() {
        let ledger = Ledger::new(100);
        let reclaimer = Reclaimer::new(policy());
        let reclaimed = AtomicU64::new(0);
        for bytes in [50, 50] {
            ledger.try_reserve(res(bytes)).unwrap();
        }
        let reports = RefCell::new(Vec::new());
        let listener = |r: &Reclamation| reports.borrow_mut().push(*r);
        let counter = || reclaimed.load(Ordering::SeqCst);
        let reported = ReportedFrees::new();
        let trigger = Trigger::RefusedAllocation { requested: 30 };
        let epoch = Instant::now();
        // One collector per step, as the JNI layer makes; the report goes between them as numbers.
        let mut waiting = crate::reclaim::Waiting::default();
        let mut carried = [0; PendingReport::LONGS];
        let mut steps = 0;
        loop {
            let mut inner = Noop;
            let mut collector =
                ReportingCollector::new(&mut inner, &counter, &reported, &listener, trigger);
            collector.resume(PendingReport::from_longs(&carried, epoch));
            if reclaimer
                .reserve_step(&ledger, res(30), &mut collector, &mut waiting)
                .unwrap()
            {
                break;
            }
            carried = PendingReport::to_longs(collector.suspend(), epoch);
            drop(collector);
            steps += 1;
            assert!(
                reports.borrow().is_empty(),
                "reported before the wait ended"
            );
            std::thread::sleep(waiting.park());
            // The reclaimer thread frees what the collection found, after the step that ran it.
            ledger.release(res(50)).unwrap();
            reclaimed.fetch_add(50, Ordering::SeqCst);
            reclaimer.notify_reclaimed_down_to(ledger.used());
        }
        assert_eq!(steps, 1);
        let reports = reports.into_inner();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].bytes_freed, 50, "{reports:?}");
        assert_eq!(reports[0].collection, Collection::HeapPressure);
        assert!(reports[0].duration >= waiting.park());
    }

    #[test]
    fn a_pending_report_survives_its_numbers_and_foreign_ones_read_as_none() {
        let epoch = Instant::now();
        let pending = PendingReport {
            started: epoch + Duration::from_nanos(1_500),
            collection_time: Duration::from_micros(700),
            freed_before: 12_345,
            collection: Collection::Unconfirmed,
        };
        let longs = PendingReport::to_longs(Some(pending), epoch);
        assert_eq!(PendingReport::from_longs(&longs, epoch), Some(pending));
        assert_eq!(
            PendingReport::to_longs(None, epoch),
            [0; PendingReport::LONGS]
        );
        assert_eq!(PendingReport::from_longs(&[0; 4], epoch), None);
        for foreign in [[4, 0, 0, 0], [1, -1, 0, 0], [1, 0, -1, 0], [1, 0, 0, -1]] {
            assert_eq!(
                PendingReport::from_longs(&foreign, epoch),
                None,
                "{foreign:?}"
            );
        }
        assert_eq!(
            PendingReport::from_longs(&[1, 0, 0], epoch),
            None,
            "wrong length"
        );
    }

    #[test]
    fn a_reservation_that_fits_reports_nothing() {
        let ledger = Ledger::new(100);
        let reclaimer = Reclaimer::new(policy());
        let reclaimed = AtomicU64::new(0);
        let calls = RefCell::new(0);
        let listener = |_: &Reclamation| *calls.borrow_mut() += 1;
        let counter = || reclaimed.load(Ordering::SeqCst);
        let reported = ReportedFrees::new();
        let mut inner = Freeing {
            ledger: &ledger,
            reclaimer: &reclaimer,
            reclaimed: &reclaimed,
            garbage: vec![],
        };
        {
            let trigger = Trigger::RefusedAllocation { requested: 10 };
            let mut collector =
                ReportingCollector::new(&mut inner, &counter, &reported, &listener, trigger);
            reclaimer.reserve(&ledger, res(10), &mut collector).unwrap();
        }
        assert_eq!(calls.into_inner(), 0);
    }

    /// A step of two overlapping reports: a reserving thread's and the background thread's.
    enum Step {
        BeginReserving,
        BeginEarly,
        Free(u64),
        EndReserving,
        EndEarly,
    }

    /// The bytes freed each report says, in the order they end, after `steps`.
    fn bytes_reported(steps: &[Step]) -> Vec<u64> {
        let reclaimed = AtomicU64::new(0);
        let counter = || reclaimed.load(Ordering::SeqCst);
        let reported = ReportedFrees::new();
        let reports = RefCell::new(Vec::new());
        let listener = |r: &Reclamation| reports.borrow_mut().push(r.bytes_freed);
        let (mut first, mut second) = (Noop, Noop);
        let (mut first, mut second) = (Some(&mut first), Some(&mut second));
        let mut begin = |trigger| {
            let inner = match trigger {
                Trigger::Early => second.take(),
                Trigger::RefusedAllocation { .. } => first.take(),
            };
            let inner = inner.expect("each report begins once");
            let mut report =
                ReportingCollector::new(inner, &counter, &reported, &listener, trigger);
            report.collect().unwrap();
            report
        };
        let (mut reserving, mut early) = (None, None);
        for step in steps {
            match *step {
                Step::BeginReserving => {
                    reserving = Some(begin(Trigger::RefusedAllocation { requested: 1 }));
                }
                Step::BeginEarly => early = Some(begin(Trigger::Early)),
                Step::Free(bytes) => _ = reclaimed.fetch_add(bytes, Ordering::SeqCst),
                Step::EndReserving => reserving = None,
                Step::EndEarly => early = None,
            }
        }
        drop((reserving, early));
        reports.into_inner()
    }

    #[test]
    fn reports_whose_spans_overlap_count_each_free_once() {
        // Both wait while 30 and then 20 bytes come back: the first report to end takes what
        // came until then. Before: 30 and 50, 80 in all for 50 freed.
        use Step::*;
        let steps = [
            BeginReserving,
            BeginEarly,
            Free(30),
            EndEarly,
            Free(20),
            EndReserving,
        ];
        assert_eq!(bytes_reported(&steps), vec![30, 20]);
    }

    #[test]
    fn a_report_that_began_later_and_ended_first_leaves_the_earlier_ones_frees_to_it() {
        // 10 bytes come back while only the reserving thread's report waits; the background
        // thread's begins after them and ends at once. With a mark at the counter's last
        // reading: 0 and 0, the 10 bytes in no report.
        use Step::*;
        let steps = [BeginReserving, Free(10), BeginEarly, EndEarly, EndReserving];
        assert_eq!(bytes_reported(&steps), vec![0, 10]);
    }

    #[test]
    fn frees_no_report_counted_do_not_lift_later_reports_over_their_own_frees() {
        // 100 bytes come back outside any report (after an ordinary collection, or after a
        // refused allocation went on), then the two cases above. With a total of the bytes
        // reported: 30 and 50, and 10 and 10, the total lagging behind the counter so far that
        // every report counted its whole span again.
        use Step::*;
        let overlapping = [
            Free(100),
            BeginReserving,
            BeginEarly,
            Free(30),
            EndEarly,
            Free(20),
            EndReserving,
        ];
        assert_eq!(bytes_reported(&overlapping), vec![30, 20]);
        let nested = [
            Free(100),
            BeginReserving,
            Free(10),
            BeginEarly,
            EndEarly,
            EndReserving,
        ];
        assert_eq!(bytes_reported(&nested), vec![0, 10]);
    }

    #[test]
    fn a_report_counts_what_its_span_holds_beyond_the_spans_already_counted() {
        // Spans of the counter, in the order their reports end (threads race to report).
        let reported = ReportedFrees::new();
        assert_eq!(reported.take(20, 30), 10);
        assert_eq!(reported.take(0, 10), 10);
        assert_eq!(reported.take(5, 25), 10, "only 10..20 is new");
        assert_eq!(reported.take(0, 30), 0);
        assert_eq!(reported.take(40, 40), 0);
        assert_eq!(reported.take(35, 45), 10);
        assert_eq!(
            reported.take(30, 50),
            5 + 5,
            "30..35 and 45..50, in no span before"
        );
        assert_eq!(
            reported.take(50, 40),
            0,
            "a reading before the start counts nothing"
        );
    }

    #[test]
    fn a_report_older_than_the_spans_kept_counts_too_little_never_too_much() {
        // Each 10 bytes of the counter, 5 are in a report's span; then a report that began
        // before all of them ends. Only the oldest gaps are forgotten (counted as reported).
        let reported = ReportedFrees::new();
        let spans = u64::try_from(KEPT_SPANS).unwrap() * 3;
        let mut counted = 0;
        for i in 0..spans {
            counted += reported.take(10 * i + 5, 10 * i + 10);
        }
        assert_eq!(counted, 5 * spans);
        // 0..5 and the gaps between the spans kept: 5 * KEPT_SPANS, where 5 * spans is exact.
        let late = reported.take(0, 10 * spans);
        assert_eq!(late, 5 * u64::try_from(KEPT_SPANS).unwrap());
        assert_eq!(reported.take(0, 10 * spans), 0);
    }

    #[test]
    fn fruitless_collections_are_reported_too() {
        let ledger = Ledger::new(10);
        let reclaimer = Reclaimer::new(policy());
        let reclaimed = AtomicU64::new(0);
        ledger.try_reserve(res(10)).unwrap();
        let reports = RefCell::new(Vec::new());
        let listener = |r: &Reclamation| reports.borrow_mut().push(*r);
        let counter = || reclaimed.load(Ordering::SeqCst);
        let reported = ReportedFrees::new();
        let mut inner = Freeing {
            ledger: &ledger,
            reclaimer: &reclaimer,
            reclaimed: &reclaimed,
            garbage: vec![],
        };
        {
            let trigger = Trigger::RefusedAllocation { requested: 5 };
            let mut collector =
                ReportingCollector::new(&mut inner, &counter, &reported, &listener, trigger);
            assert!(reclaimer.reserve(&ledger, res(5), &mut collector).is_err());
        }
        let reports = reports.into_inner();
        assert_eq!(reports.len(), 2, "max_collections fruitless collections");
        assert!(reports.iter().all(|r| r.bytes_freed == 0));
    }
}
