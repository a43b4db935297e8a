//! When to give malloc's free memory back to the OS.
//!
//! Blocks below the mapping threshold go back to malloc when freed (or when idle in a cache), and
//! glibc keeps their pages: after buffers of 8 KiB to 200 KiB churned through a 128 MiB budget on
//! two threads, with nothing left in use, the process stayed 156 MiB above where it began (120 MiB
//! with `-Ddirectmem.reuseMemory=0`), until `malloc_trim` gave it back. Trimming while buffers
//! come and go would only make the next ones fault their pages in again, so the background thread
//! trims once the program is quiet: a whole period in which it allocated and freed less than
//! [`QUIET`]. And only if enough went to malloc's `free` since the last trim to be worth a walk
//! over its heaps: blocks the program freed, and blocks directmem's caches gave malloc as they
//! went idle (which happens after frees stop, so it is no sign of activity). Mapped blocks go
//! back to the OS by `munmap` and count for nothing here.
//!
//! `malloc_trim` works on the whole process, and each of malloc's heaps stays locked while it is
//! walked: a trim took 1 to 14 ms here, and one over 10,000 free chunks 16 ms. So trims are
//! spaced, at least [`SPACING`] apart and a thousand times as long as the last one took, and
//! `-Ddirectmem.trimMalloc=false` turns them off.

use std::time::{Duration, Instant};

/// Bytes given to malloc's `free` since the last trim below which no trim is worth it.
pub const WORTH_TRIMMING: u64 = 16 << 20;

/// Bytes allocated, or freed, in a period below which the program counts as quiet: a trickle
/// (a few buffers reclaimed at each young collection) does not put trims off for good.
pub const QUIET: u64 = 1 << 20;

/// The least time between two trims.
pub const SPACING: Duration = Duration::from_secs(10);

/// What the background thread reads at each look: counters that only grow, but `used`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Capacity the program gave back so far.
    pub given_back: u64,
    /// Capacity in use now.
    pub used: u64,
    /// Bytes handed to malloc's `free` so far, by the program's frees and by directmem's caches:
    /// what a trim can give back.
    pub to_malloc: u64,
}

/// What the periods so far saw of the program's allocations and frees.
#[derive(Debug)]
pub struct HeapTrim {
    period: Duration,
    spacing: Duration,
    /// The counters at the end of the last period.
    seen: Counters,
    /// `to_malloc` at the last trim.
    to_malloc_at_trim: u64,
    period_began: Option<Instant>,
    last_trim: Option<(Instant, Duration)>,
}

impl HeapTrim {
    /// Periods of `period`; trims at least `spacing` apart.
    pub fn new(period: Duration, spacing: Duration) -> Self {
        HeapTrim {
            period,
            spacing,
            seen: Counters::default(),
            to_malloc_at_trim: 0,
            period_began: None,
            last_trim: None,
        }
    }

    /// For a thread that looks more often than once a period, with the counters read now. Ends
    /// the period if it has lasted long enough, and says whether to trim now; the caller then
    /// reports how long the trim took ([`HeapTrim::trimmed`]).
    pub fn look(&mut self, now_seen: Counters) -> bool {
        let now = Instant::now();
        if self
            .period_began
            .is_some_and(|began| now.saturating_duration_since(began) < self.period)
        {
            return false;
        }
        self.period_began = Some(now);
        // used = used before + allocated - freed, so allocated = used - used before + freed.
        let freed = now_seen.given_back.saturating_sub(self.seen.given_back);
        let allocated = (now_seen.used.saturating_add(freed)).saturating_sub(self.seen.used);
        self.seen = now_seen;
        let quiet = freed < QUIET && allocated < QUIET;
        let worth = now_seen.to_malloc.saturating_sub(self.to_malloc_at_trim) >= WORTH_TRIMMING;
        let spaced = self.last_trim.is_none_or(|(at, took)| {
            now.saturating_duration_since(at) >= self.spacing.max(took.saturating_mul(1000))
        });
        if !(quiet && worth && spaced) {
            return false;
        }
        self.to_malloc_at_trim = now_seen.to_malloc;
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

    /// The program freed `bytes` so far, all of them to malloc, and holds nothing.
    fn freed(bytes: u64) -> Counters {
        seen(bytes, 0, bytes)
    }

    fn seen(given_back: u64, used: u64, to_malloc: u64) -> Counters {
        Counters {
            given_back,
            used,
            to_malloc,
        }
    }

    #[test]
    fn trims_once_after_frees_stop() {
        let mut trim = every_look();
        assert!(!trim.look(freed(100 * MIB)), "frees during the period");
        assert!(!trim.look(freed(300 * MIB)), "still freeing");
        assert!(trim.look(freed(300 * MIB)), "a quiet period after 300 MiB");
        assert!(!trim.look(freed(300 * MIB)), "trimmed already");
    }

    #[test]
    fn a_trickle_of_frees_is_quiet_enough() {
        let mut trim = every_look();
        assert!(!trim.look(freed(300 * MIB)), "a burst");
        assert!(
            trim.look(freed(300 * MIB + QUIET - 1)),
            "then less than QUIET a period"
        );
    }

    #[test]
    fn allocating_is_no_time_to_trim() {
        let mut trim = every_look();
        assert!(!trim.look(freed(300 * MIB)), "a burst of frees");
        let allocated = seen(300 * MIB, 64 * MIB, 300 * MIB);
        assert!(
            !trim.look(allocated),
            "then allocations, which fault pages in"
        );
        assert!(trim.look(allocated), "quiet");
    }

    #[test]
    fn little_given_to_malloc_is_not_worth_a_trim() {
        let mut trim = every_look();
        let worth = WORTH_TRIMMING;
        assert!(!trim.look(freed(worth - 1)));
        assert!(!trim.look(freed(worth - 1)), "quiet, not worth it");
        assert!(!trim.look(freed(2 * worth - 1)), "more frees");
        assert!(
            trim.look(freed(2 * worth - 1)),
            "quiet, with enough since the start"
        );
        assert!(!trim.look(freed(3 * worth - 2)), "more frees");
        assert!(
            !trim.look(freed(3 * worth - 2)),
            "quiet, too little since the trim"
        );
    }

    #[test]
    fn mapped_blocks_are_not_worth_a_trim() {
        // 300 MiB of large buffers freed: unmapped (or kept mapped), none of it went to malloc.
        let mut trim = every_look();
        assert!(!trim.look(seen(300 * MIB, 0, 0)), "freeing");
        assert!(!trim.look(seen(300 * MIB, 0, 0)), "quiet, nothing to trim");
    }

    #[test]
    fn what_idle_caches_give_malloc_is_trimmed_too() {
        let mut trim = every_look();
        // The reclaimer's frees went to a cache, not to malloc.
        assert!(!trim.look(seen(100 * MIB, 0, 0)), "freeing");
        assert!(!trim.look(seen(100 * MIB, 0, 0)), "quiet, all cached");
        assert!(
            !trim.look(seen(100 * MIB, 0, WORTH_TRIMMING / 2)),
            "the cache gave some back: not enough yet"
        );
        assert!(
            trim.look(seen(100 * MIB, 0, WORTH_TRIMMING)),
            "the cache's idle blocks"
        );
    }

    #[test]
    fn a_look_within_the_period_ends_nothing() {
        let mut trim = HeapTrim::new(HOUR, Duration::ZERO);
        assert!(
            !trim.look(freed(100 * MIB)),
            "the first period ends at once"
        );
        assert!(
            !trim.look(freed(100 * MIB)),
            "quiet, but the period has not ended"
        );
    }

    #[test]
    fn trims_are_spaced() {
        let mut trim = HeapTrim::new(Duration::ZERO, HOUR);
        assert!(!trim.look(freed(100 * MIB)), "freeing");
        assert!(
            trim.look(freed(100 * MIB)),
            "the first trim needs no spacing"
        );
        assert!(!trim.look(freed(200 * MIB)), "freeing again");
        assert!(
            !trim.look(freed(200 * MIB)),
            "quiet and worth it, but too soon"
        );
    }

    #[test]
    fn a_slow_trim_spaces_the_next_further() {
        let mut trim = every_look();
        assert!(!trim.look(freed(100 * MIB)));
        assert!(trim.look(freed(100 * MIB)));
        trim.trimmed(Duration::from_secs(10)); // the next in 10,000 s
        assert!(!trim.look(freed(200 * MIB)));
        assert!(
            !trim.look(freed(200 * MIB)),
            "quiet and worth it, but too soon after a slow one"
        );
    }
}
