//! When to give malloc's free memory back to the OS.
//!
//! Blocks below the mapping threshold go back to malloc when freed (or when idle in a cache), and
//! glibc keeps their pages: after buffers of 8 KiB to 200 KiB churned through a 128 MiB budget on
//! two threads, with nothing left in use, the process stayed 156 MiB above where it began (120 MiB
//! with `-Ddirectmem.reuseMemory=0`), until `malloc_trim` gave it back. Trimming while buffers
//! come and go would only make the next ones fault their pages in again, so the background thread
//! trims once the program is quiet: a whole period in which it allocated and freed less than
//! [`QUIET`]. And only if enough went back to malloc since the last trim to be worth a walk over
//! its heaps: what the program gave back, and what directmem's caches gave malloc as they went
//! idle (which happens after frees stop, so it is no sign of activity).
//!
//! `malloc_trim` works on the whole process, and each of malloc's heaps stays locked while it is
//! walked: a trim took 1 to 14 ms here, and one over 10,000 free chunks 16 ms. So trims are
//! spaced, at least [`SPACING`] apart and a thousand times as long as the last one took, and
//! `-Ddirectmem.trimMalloc=false` turns them off.

use std::time::{Duration, Instant};

/// Bytes given back since the last trim below which no trim is worth it.
pub const WORTH_TRIMMING: u64 = 16 << 20;

/// Bytes allocated, or freed, in a period below which the program counts as quiet: a trickle
/// (a few buffers reclaimed at each young collection) does not put trims off for good.
pub const QUIET: u64 = 1 << 20;

/// The least time between two trims.
pub const SPACING: Duration = Duration::from_secs(10);

/// What the periods so far saw of the program's allocations and frees.
#[derive(Debug)]
pub struct HeapTrim {
    period: Duration,
    spacing: Duration,
    /// Bytes given back and bytes in use at the end of the last period.
    given_back: u64,
    used: u64,
    /// Bytes given back at the last trim, and what the caches gave malloc since.
    given_back_at_trim: u64,
    from_caches: u64,
    period_began: Option<Instant>,
    last_trim: Option<(Instant, Duration)>,
}

impl HeapTrim {
    /// Periods of `period`; trims at least `spacing` apart.
    pub fn new(period: Duration, spacing: Duration) -> Self {
        HeapTrim {
            period,
            spacing,
            given_back: 0,
            used: 0,
            given_back_at_trim: 0,
            from_caches: 0,
            period_began: None,
            last_trim: None,
        }
    }

    /// For a thread that looks more often than once a period. `given_back`: all the bytes the
    /// program gave back so far (a counter that only grows); `used`: the bytes in use now;
    /// `from_caches`: what directmem's caches gave malloc since the last look. Ends the period
    /// if it has lasted long enough, and says whether to trim now; the caller then reports how
    /// long the trim took ([`HeapTrim::trimmed`]).
    pub fn look(&mut self, given_back: u64, used: u64, from_caches: u64) -> bool {
        self.from_caches = self.from_caches.saturating_add(from_caches);
        let now = Instant::now();
        if self
            .period_began
            .is_some_and(|began| now.saturating_duration_since(began) < self.period)
        {
            return false;
        }
        self.period_began = Some(now);
        // used = used before + allocated - freed, so allocated = used - used before + freed.
        let freed = given_back.saturating_sub(self.given_back);
        let allocated = (used.saturating_add(freed)).saturating_sub(self.used);
        self.given_back = given_back;
        self.used = used;
        let quiet = freed < QUIET && allocated < QUIET;
        let worth = given_back
            .saturating_sub(self.given_back_at_trim)
            .saturating_add(self.from_caches)
            >= WORTH_TRIMMING;
        let spaced = self.last_trim.is_none_or(|(at, took)| {
            now.saturating_duration_since(at) >= self.spacing.max(took.saturating_mul(1000))
        });
        if !(quiet && worth && spaced) {
            return false;
        }
        self.given_back_at_trim = given_back;
        self.from_caches = 0;
        self.last_trim = Some((now, Duration::ZERO));
        true
    }

    /// Records how long the trim [`HeapTrim::look`] asked for took: the next one waits at least a
    /// thousand times as long.
    pub fn trimmed(&mut self, took: Duration) {
        if let Some((_, last)) = self.last_trim.as_mut() {
            *last = took;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);
    const MIB: u64 = 1 << 20;

    /// Every look ends a period; trims need no spacing.
    fn every_look() -> HeapTrim {
        HeapTrim::new(Duration::ZERO, Duration::ZERO)
    }

    #[test]
    fn trims_once_after_frees_stop() {
        let mut trim = every_look();
        assert!(!trim.look(100 * MIB, 0, 0), "frees during the period");
        assert!(!trim.look(300 * MIB, 0, 0), "still freeing");
        assert!(trim.look(300 * MIB, 0, 0), "a quiet period after 300 MiB");
        assert!(!trim.look(300 * MIB, 0, 0), "trimmed already");
    }

    #[test]
    fn a_trickle_of_frees_is_quiet_enough() {
        let mut trim = every_look();
        assert!(!trim.look(300 * MIB, 0, 0), "a burst");
        assert!(
            trim.look(300 * MIB + QUIET - 1, 0, 0),
            "then less than QUIET a period"
        );
    }

    #[test]
    fn allocating_is_no_time_to_trim() {
        let mut trim = every_look();
        assert!(!trim.look(300 * MIB, 0, 0), "a burst of frees");
        assert!(
            !trim.look(300 * MIB, 64 * MIB, 0),
            "then allocations, which fault pages in"
        );
        assert!(trim.look(300 * MIB, 64 * MIB, 0), "quiet");
    }

    #[test]
    fn little_given_back_is_not_worth_a_trim() {
        let mut trim = every_look();
        let worth = WORTH_TRIMMING;
        assert!(!trim.look(worth - 1, 0, 0));
        assert!(!trim.look(worth - 1, 0, 0), "quiet, not worth it");
        assert!(!trim.look(2 * worth - 1, 0, 0), "more frees");
        assert!(
            trim.look(2 * worth - 1, 0, 0),
            "quiet, with enough since the start"
        );
        assert!(!trim.look(3 * worth - 2, 0, 0), "more frees");
        assert!(
            !trim.look(3 * worth - 2, 0, 0),
            "quiet, too little since the trim"
        );
    }

    #[test]
    fn what_idle_caches_give_malloc_is_trimmed_too() {
        let mut trim = every_look();
        assert!(!trim.look(100 * MIB, 0, 0), "freeing");
        assert!(trim.look(100 * MIB, 0, 0), "quiet");
        assert!(
            !trim.look(100 * MIB, 0, WORTH_TRIMMING / 2),
            "not enough yet"
        );
        assert!(
            trim.look(100 * MIB, 0, WORTH_TRIMMING / 2),
            "the caches' idle blocks"
        );
    }

    #[test]
    fn a_look_within_the_period_ends_nothing() {
        let mut trim = HeapTrim::new(HOUR, Duration::ZERO);
        assert!(!trim.look(100 * MIB, 0, 0), "the first period ends at once");
        assert!(
            !trim.look(100 * MIB, 0, 0),
            "quiet, but the period has not ended"
        );
    }

    #[test]
    fn trims_are_spaced() {
        let mut trim = HeapTrim::new(Duration::ZERO, HOUR);
        assert!(!trim.look(100 * MIB, 0, 0), "freeing");
        assert!(
            trim.look(100 * MIB, 0, 0),
            "the first trim needs no spacing"
        );
        assert!(!trim.look(200 * MIB, 0, 0), "freeing again");
        assert!(
            !trim.look(200 * MIB, 0, 0),
            "quiet and worth it, but too soon"
        );
    }

    #[test]
    fn a_slow_trim_spaces_the_next_further() {
        let mut trim = every_look();
        assert!(!trim.look(100 * MIB, 0, 0));
        assert!(trim.look(100 * MIB, 0, 0));
        trim.trimmed(Duration::from_secs(10)); // the next in 10,000 s
        assert!(!trim.look(200 * MIB, 0, 0));
        assert!(
            !trim.look(200 * MIB, 0, 0),
            "quiet and worth it, but too soon after a slow one"
        );
    }
}
