//! The budget ledger: how much direct memory is reserved, against a fixed maximum.
//!
//! Reservation is a compare-and-swap loop on `used`, so `used <= max` holds at every instant
//! under any concurrency. The other counters follow with plain atomic adds; each is exact on
//! its own, a snapshot of several is not taken atomically (as in `java.nio.Bits`).
//!
//! The total capacity is not a counter of its own: it is `used` less the bytes taken beyond
//! capacities (page rounding, alignment padding), which only mapped and aligned blocks have. So
//! a small block costs two atomic steps to reserve and two to release, not three (measured: each
//! was about 3 % of a 64-byte buffer's explicit allocate-and-free). That rounding is kept as two
//! counters that only grow, added and removed, so that a snapshot can bound it from above
//! whatever reservations and releases run meanwhile (see [`Ledger::snapshot`]).

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of live allocations and their limit.
#[derive(Debug)]
pub struct Ledger {
    max: AtomicU64,
    used: AtomicU64,
    count: AtomicU64,
    /// Bytes of `used` beyond the capacities, `footprint - capacity` summed, is `rounding_added`
    /// less `rounding_removed`. Added before a reservation's `used`, removed after a release's.
    rounding_added: AtomicU64,
    rounding_removed: AtomicU64,
    peak: AtomicU64,
}

/// What one allocation holds in the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// The buffer's capacity as Java sees it.
    pub capacity: u64,
    /// Bytes taken from the budget: the capacity plus any rounding the allocator needs (never
    /// less than the capacity).
    pub footprint: u64,
}

impl Reservation {
    /// Bytes taken beyond the capacity.
    fn rounding(&self) -> u64 {
        self.footprint.saturating_sub(self.capacity)
    }
}

/// Why a reservation was refused: the figures at the moment it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    pub requested: u64,
    pub used: u64,
    pub max: u64,
}

/// A release that would take a counter below zero: a bookkeeping bug. Refused whenever the
/// counters show it at the time; two concurrent releases of the same last reservation can both
/// pass the `count` read, and the second is then absorbed (`count` stops at zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Underflow {
    pub reservation: Reservation,
}

/// A point-in-time copy of the counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LedgerSnapshot {
    pub max: u64,
    pub used: u64,
    pub count: u64,
    pub capacity: u64,
    pub peak: u64,
}

impl Ledger {
    pub const fn new(max: u64) -> Self {
        Ledger {
            max: AtomicU64::new(max),
            used: AtomicU64::new(0),
            count: AtomicU64::new(0),
            rounding_added: AtomicU64::new(0),
            rounding_removed: AtomicU64::new(0),
            peak: AtomicU64::new(0),
        }
    }

    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// Sets the limit. Reservations already made stay, even above a lower limit.
    pub fn set_max(&self, max: u64) {
        self.max.store(max, Ordering::Relaxed);
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    /// Bytes of `used` beyond the capacities, as far as two reads tell (never below zero).
    fn rounding(&self) -> u64 {
        let removed = self.rounding_removed.load(Ordering::Acquire);
        self.rounding_added
            .load(Ordering::Acquire)
            .saturating_sub(removed)
    }

    /// Takes `r.footprint` bytes from the budget if they fit, else changes nothing. Returns
    /// `used` as this reservation left it, for [`Ledger::note_peak`] once the memory exists.
    pub fn try_reserve(&self, r: Reservation) -> Result<u64, Refused> {
        let max = self.max();
        // Rounding before `used`, and removed again on a refusal (see `snapshot`).
        let rounding = r.rounding();
        if rounding > 0 {
            self.rounding_added.fetch_add(rounding, Ordering::AcqRel);
        }
        let mut used = self.used.load(Ordering::Relaxed);
        let next = loop {
            let next = match used.checked_add(r.footprint) {
                Some(next) if next <= max => next,
                _ => {
                    if rounding > 0 {
                        self.rounding_removed.fetch_add(rounding, Ordering::AcqRel);
                    }
                    return Err(Refused {
                        requested: r.footprint,
                        used,
                        max,
                    });
                }
            };
            match self
                .used
                .compare_exchange_weak(used, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break next,
                Err(current) => used = current,
            }
        };
        self.count.fetch_add(1, Ordering::Relaxed);
        Ok(next)
    }

    /// Raises the peak to `used` as a reservation left it (what `try_reserve` returned). Called
    /// once that reservation's memory exists, so that one the operating system then refuses
    /// (given back at once) never shows as a peak, while a free landing in between does not
    /// hide the high it reached.
    pub fn note_peak(&self, used: u64) {
        // A read first: the peak rarely moves, and an unconditional fetch_max is a locked RMW.
        if used > self.peak.load(Ordering::Relaxed) {
            self.peak.fetch_max(used, Ordering::Relaxed);
        }
    }

    /// Gives back what `try_reserve` took. Refuses, changing nothing, a release that was never
    /// reserved, as far as the counters show it at the time (one larger than everything
    /// reserved, or one more than the count): see [`Underflow`].
    pub fn release(&self, r: Reservation) -> Result<u64, Underflow> {
        self.release_many(1, r)
    }

    /// Gives back `count` reservations at once, `total` their sum: three atomic steps for a
    /// whole batch instead of three per block. Refuses as [`Ledger::release`], changing nothing.
    ///
    /// `used` is the one step that can refuse, and it refuses atomically: a refused release
    /// never touched a counter, so it cannot make a concurrent right release fail (it did when
    /// `count` was taken first and given back on a refusal). Nothing is ever given back: had
    /// `used` been lowered and restored, another thread could reserve the bytes in between and
    /// the restore would push `used` over the maximum (both found by ledger_model.rs). The
    /// `count` and rounding checks before it are plain reads, for the caller's bug alone; a
    /// wrong release that passes them saturates `count` rather than wrapping it, and the
    /// rounding reads as zero. After `used` comes the rounding, then `count`.
    ///
    /// Returns `used` as this release left it: the lowest it was, however soon other threads
    /// reserve again (the reclaimer's record of the room a free made).
    pub fn release_many(&self, count: u64, total: Reservation) -> Result<u64, Underflow> {
        let underflow = Underflow { reservation: total };
        let rounding = total.rounding();
        if self.count.load(Ordering::Relaxed) < count
            || (rounding > 0 && self.rounding() < rounding)
        {
            return Err(underflow);
        }
        // A capacity larger than everything reserved is caught here: `used` holds capacities
        // and rounding together.
        let before = checked_sub(&self.used, total.footprint).ok_or(underflow)?;
        // The rounding after `used` (see `snapshot`), then `count`.
        if rounding > 0 {
            self.rounding_removed.fetch_add(rounding, Ordering::AcqRel);
        }
        saturating_sub(&self.count, count);
        Ok(before - total.footprint)
    }

    pub fn snapshot(&self) -> LedgerSnapshot {
        // The capacity is `used` less the rounding, which reservations and releases in flight
        // change apart from `used`: a reservation adds its rounding before `used`, a release
        // removes it after. So the removed rounding is read before `used` and the added after:
        // every block that `used` holds was added by then and not yet removed, and the
        // difference holds its rounding. The capacity may read low by the rounding of blocks in
        // flight (a page or an alignment's padding each; hence the saturation), never high:
        // ledger_model.rs checks it in every order.
        let removed = self.rounding_removed.load(Ordering::Acquire);
        let used = self.used();
        let rounding = self
            .rounding_added
            .load(Ordering::Acquire)
            .saturating_sub(removed);
        LedgerSnapshot {
            max: self.max(),
            used,
            count: self.count.load(Ordering::Acquire),
            capacity: used.saturating_sub(rounding),
            peak: self.peak.load(Ordering::Relaxed),
        }
    }
}

fn checked_sub(counter: &AtomicU64, amount: u64) -> Option<u64> {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |v| {
            v.checked_sub(amount)
        })
        .ok()
}

fn saturating_sub(counter: &AtomicU64, amount: u64) {
    // Always Ok: the closure always returns Some.
    let _ = counter.fetch_update(Ordering::AcqRel, Ordering::Relaxed, |v| {
        Some(v.saturating_sub(amount))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;

    fn res(capacity: u64) -> Reservation {
        Reservation {
            capacity,
            footprint: capacity,
        }
    }

    #[test]
    fn reserves_up_to_max_and_refuses_beyond() {
        let ledger = Ledger::new(100);
        assert_eq!(ledger.try_reserve(res(60)), Ok(60));
        let high = ledger.try_reserve(res(40)).unwrap();
        assert_eq!(ledger.snapshot().peak, 0, "no memory noted yet");
        ledger.note_peak(high);
        let refused = ledger.try_reserve(res(1)).unwrap_err();
        assert_eq!(
            refused,
            Refused {
                requested: 1,
                used: 100,
                max: 100
            }
        );
        let s = ledger.snapshot();
        assert_eq!((s.used, s.count, s.capacity, s.peak), (100, 2, 100, 100));
    }

    #[test]
    fn a_batch_is_released_at_once_or_not_at_all() {
        let ledger = Ledger::new(100);
        for c in [10, 20, 30] {
            ledger.try_reserve(res(c)).unwrap();
        }
        assert!(ledger.release_many(4, res(60)).is_err(), "one too many");
        assert!(ledger.release_many(3, res(61)).is_err(), "a byte too many");
        assert_eq!(ledger.snapshot().used, 60, "a refusal changes nothing");
        assert_eq!(
            ledger.release_many(2, res(30)),
            Ok(30),
            "use as the release left it"
        );
        let s = ledger.snapshot();
        assert_eq!((s.used, s.count, s.capacity), (30, 1, 30));
    }

    #[test]
    fn release_returns_budget_and_keeps_peak() {
        let ledger = Ledger::new(100);
        let high = ledger.try_reserve(res(70)).unwrap();
        ledger.release(res(70)).unwrap();
        ledger.note_peak(high); // a free before the note hides nothing
        let s = ledger.snapshot();
        assert_eq!((s.used, s.count, s.capacity, s.peak), (0, 0, 0, 70));
        assert!(ledger.try_reserve(res(100)).is_ok());
    }

    #[test]
    fn footprint_counts_against_max_but_capacity_is_reported_apart() {
        let ledger = Ledger::new(8192);
        let r = Reservation {
            capacity: 5000,
            footprint: 8192,
        };
        ledger.try_reserve(r).unwrap();
        let s = ledger.snapshot();
        assert_eq!((s.used, s.capacity), (8192, 5000));
        assert!(ledger.try_reserve(res(1)).is_err());
    }

    #[test]
    fn a_refused_reservation_leaves_nothing_behind() {
        let ledger = Ledger::new(4096);
        let padded = Reservation {
            capacity: 5000,
            footprint: 8192,
        };
        assert!(ledger.try_reserve(padded).is_err());
        assert_eq!(ledger.try_reserve(res(100)), Ok(100));
        let s = ledger.snapshot();
        assert_eq!((s.used, s.count, s.capacity), (100, 1, 100));
    }

    #[test]
    fn zero_capacity_counts_a_buffer_and_no_bytes() {
        let ledger = Ledger::new(0);
        ledger.try_reserve(res(0)).unwrap();
        assert_eq!(ledger.snapshot().count, 1);
        ledger.release(res(0)).unwrap();
        assert_eq!(ledger.snapshot(), LedgerSnapshot::default());
    }

    #[test]
    fn overflow_is_refused_not_wrapped() {
        let ledger = Ledger::new(u64::MAX);
        ledger.try_reserve(res(u64::MAX - 1)).unwrap();
        assert!(ledger.try_reserve(res(2)).is_err());
        assert_eq!(ledger.used(), u64::MAX - 1);
    }

    #[test]
    fn release_never_reserved_is_refused_and_changes_nothing() {
        let ledger = Ledger::new(100);
        ledger.try_reserve(res(10)).unwrap();
        assert!(ledger.release(res(11)).is_err());
        let s = ledger.snapshot();
        assert_eq!((s.used, s.count, s.capacity), (10, 1, 10));
        ledger.release(res(10)).unwrap();
        assert!(ledger.release(res(0)).is_err(), "count would go below zero");
        assert_eq!(ledger.snapshot().count, 0);
    }

    #[test]
    fn concurrent_reserve_and_release_stay_exact_and_never_exceed_max() {
        const THREADS: u64 = 8;
        const ROUNDS: u64 = 20_000;
        let ledger = Arc::new(Ledger::new(1000));
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let ledger = Arc::clone(&ledger);
                thread::spawn(move || {
                    let mut granted = 0u64;
                    for i in 0..ROUNDS {
                        let r = res(1 + (t * 31 + i) % 97);
                        if ledger.try_reserve(r).is_ok() {
                            granted += 1;
                            assert!(ledger.used() <= 1000);
                            ledger.release(r).unwrap();
                        }
                    }
                    granted
                })
            })
            .collect();
        let granted: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert!(granted > 0);
        let s = ledger.snapshot();
        assert_eq!((s.used, s.count, s.capacity), (0, 0, 0));
        assert!(s.peak <= 1000);
    }

    #[test]
    fn concurrent_fill_to_the_limit_grants_exactly_the_budget() {
        // 8 threads race for 1,000 one-byte reservations' worth of budget: exactly 1,000 win.
        let ledger = Arc::new(Ledger::new(1000));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let ledger = Arc::clone(&ledger);
                thread::spawn(move || {
                    (0..500)
                        .filter(|_| ledger.try_reserve(res(1)).is_ok())
                        .count()
                })
            })
            .collect();
        let granted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(granted, 1000);
        assert_eq!(ledger.snapshot().used, 1000);
    }
}
