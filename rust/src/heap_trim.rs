//! When to give malloc's free memory back to the OS.
//!
//! Blocks below the mapping threshold go back to malloc when freed (or when idle in a cache), and
//! glibc keeps their pages: after a churn of 64 B to 256 KiB buffers through a 256 MiB budget,
//! with nothing left in use, the process stayed 330 MiB above its baseline, with
//! `-Ddirectmem.reuseMemory=0` too, until `malloc_trim` gave 270 MiB of it back. Trimming while
//! buffers churn would only make the next ones fault their pages in again, so the background
//! thread trims once frees stop: after a whole period in which the program gave nothing back, if
//! enough went back to malloc since the last trim to be worth a walk over its heaps: what the
//! program gave back, and what directmem's caches gave malloc as they went idle (which happens
//! after frees stop, so it is no sign of activity). A trim took 1 to 14 ms here, each heap locked
//! meanwhile, so trims are spaced ([`SPACING`]) for programs whose frees come in bursts.

use std::time::{Duration, Instant};

/// Bytes given back since the last trim below which no trim is worth it.
pub const WORTH_TRIMMING: u64 = 16 << 20;

/// The least time between two trims.
pub const SPACING: Duration = Duration::from_secs(10);

/// What the last periods saw of the bytes given back (a counter that only grows).
#[derive(Debug)]
pub struct HeapTrim {
    period: Duration,
    spacing: Duration,
    seen: u64,
    at_last_trim: u64,
    /// Bytes the caches gave back to malloc since the last trim.
    from_caches: u64,
    period_began: Option<Instant>,
    last_trim: Option<Instant>,
}

impl HeapTrim {
    /// Periods of `period`, trims at least `spacing` apart.
    pub fn new(period: Duration, spacing: Duration) -> Self {
        HeapTrim {
            period,
            spacing,
            seen: 0,
            at_last_trim: 0,
            from_caches: 0,
            period_began: None,
            last_trim: None,
        }
    }

    /// For a thread that looks more often than once a period: counts what the caches gave back
    /// to malloc since the last look, ends the period if it has lasted that long, and says
    /// whether to trim (see [`HeapTrim::period_ended`]).
    pub fn look(&mut self, given_back: u64, from_caches: u64) -> bool {
        self.from_caches = self.from_caches.saturating_add(from_caches);
        let now = Instant::now();
        let lasted = |since: Option<Instant>, span| {
            since.is_none_or(|at| now.saturating_duration_since(at) >= span)
        };
        if !lasted(self.period_began, self.period) {
            return false;
        }
        self.period_began = Some(now);
        if !lasted(self.last_trim, self.spacing) {
            self.seen = given_back; // the period ends all the same
            return false;
        }
        let trim = self.period_ended(given_back);
        if trim {
            self.last_trim = Some(now);
        }
        trim
    }

    /// Ends a period in which `given_back` bytes had been given back in all: whether to trim
    /// now. Frees during the period put the trim off to the next quiet one.
    fn period_ended(&mut self, given_back: u64) -> bool {
        let quiet = given_back == self.seen;
        self.seen = given_back;
        let since_last_trim = given_back
            .saturating_sub(self.at_last_trim)
            .saturating_add(self.from_caches);
        if quiet && since_last_trim >= WORTH_TRIMMING {
            self.at_last_trim = given_back;
            self.from_caches = 0;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    /// Every look ends a period; trims need no spacing.
    fn every_look() -> HeapTrim {
        HeapTrim::new(Duration::ZERO, Duration::ZERO)
    }

    #[test]
    fn trims_once_after_frees_stop() {
        let mut trim = every_look();
        assert!(!trim.look(100 << 20, 0), "frees during the period");
        assert!(!trim.look(300 << 20, 0), "still freeing");
        assert!(trim.look(300 << 20, 0), "a quiet period after 300 MiB");
        assert!(!trim.look(300 << 20, 0), "trimmed already");
    }

    #[test]
    fn little_given_back_is_not_worth_a_trim() {
        let mut trim = every_look();
        let worth = WORTH_TRIMMING;
        assert!(!trim.look(worth - 1, 0));
        assert!(!trim.look(worth - 1, 0));
        assert!(!trim.look(2 * worth - 1, 0), "more frees");
        assert!(
            trim.look(2 * worth - 1, 0),
            "quiet, with enough since the start"
        );
        assert!(!trim.look(3 * worth - 2, 0), "more frees");
        assert!(
            !trim.look(3 * worth - 2, 0),
            "quiet, but too little since the trim"
        );
    }

    #[test]
    fn what_idle_caches_give_malloc_is_trimmed_too() {
        let mut trim = every_look();
        assert!(!trim.look(100 << 20, 0), "freeing");
        assert!(trim.look(100 << 20, 0), "quiet");
        assert!(!trim.look(100 << 20, WORTH_TRIMMING / 2), "not enough yet");
        assert!(
            trim.look(100 << 20, WORTH_TRIMMING / 2),
            "the caches' idle blocks"
        );
    }

    #[test]
    fn a_look_within_the_period_ends_nothing() {
        let mut trim = HeapTrim::new(HOUR, Duration::ZERO);
        assert!(!trim.look(100 << 20, 0), "the first period ends at once");
        assert!(
            !trim.look(100 << 20, 0),
            "quiet, but the period has not ended"
        );
    }

    #[test]
    fn trims_are_spaced() {
        let mut trim = HeapTrim::new(Duration::ZERO, HOUR);
        assert!(!trim.look(100 << 20, 0), "freeing");
        assert!(trim.look(100 << 20, 0), "the first trim needs no spacing");
        assert!(!trim.look(200 << 20, 0), "freeing again");
        assert!(!trim.look(200 << 20, 0), "quiet and worth it, but too soon");
    }
}
