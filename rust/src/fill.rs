//! Writing one byte value over a range, with plain stores or with streaming stores that bypass
//! the cache.
//!
//! A plain store to a line that is not in cache first reads the line from memory (read for
//! ownership); a streaming store does not, but leaves the line out of cache. Measured with glibc
//! `memset` against SSE2 `movntdq`, each followed by writing one byte per page, as a user of the
//! block would (a C loop over blocks used in turn; microseconds per block; both machines KVM
//! guests with 2 cores):
//!
//! | zeroing                                    | AMD EPYC, plain | streaming | Intel Xeon, plain | streaming |
//! |--------------------------------------------|-----------------|-----------|-------------------|-----------|
//! | 1 MiB, the same block again                | 23              | 56        | 17                | 52        |
//! | 1 MiB, one of 64 blocks (64 MiB in turn)   | 157             | 70        | 39                | 50        |
//! | 1 MiB, one of 256 blocks (256 MiB in turn) |                 |           | 96                | 47        |
//! | 8 MiB, the same block again                | 280             | 420       |                   |           |
//! | 12 MiB, the same block again               | 1,700           | 740       |                   |           |
//! | 16 MiB, the same block again               |                 |           | 621               | 753       |
//! | 16 MiB, one of 16 blocks (256 MiB in turn) |                 |           | 1,815             | 746       |
//!
//! So streaming pays for memory out of cache, but where that starts depends on the machine: from
//! about 10 MiB used between two zeroings of a line on the AMD guest (32 MiB of L3), from 64–128
//! MiB on the Intel one (2 MiB of L2 per core, a far larger L3). The cache size the OS reports
//! does not tell: both guests report the host's, 256 and 480 MiB. So [`StoreTrials`] tries both
//! kinds on the blocks the reuse cache hands out, and keeps the faster; until then, and for
//! blocks from `malloc`, the [prior](Stores::prior) follows the AMD figures, where the wrong
//! choice costs more (2.2 times, against 21–28 % on the Intel guest).
//!
//! Streaming stores are used on x86-64 only (SSE2, which every x86-64 CPU has). Elsewhere both
//! kinds are plain stores (`write_bytes`, glibc's `memset`), and nothing is tried: on aarch64
//! glibc's `memset` zeroes large ranges with `DC ZVA`, which writes whole cache lines without
//! reading them first, the cost streaming stores avoid on x86-64.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// Which stores fill a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stores {
    /// Plain stores (`memset`): best while the lines are in cache.
    Cached,
    /// Streaming stores: best for lines out of cache; plain stores where there are none
    /// ([`HAS_STREAMING_STORES`]).
    Streaming,
}

impl Stores {
    /// Streaming for a range larger than [`STREAMING_ABOVE`], plain up to it.
    pub fn for_len(len: usize) -> Stores {
        if len > STREAMING_ABOVE {
            Stores::Streaming
        } else {
            Stores::Cached
        }
    }

    /// The stores for a range this warm before anything is measured: the AMD guest's best.
    pub fn prior(len: usize, warmth: Warmth) -> Stores {
        match warmth {
            Warmth::Warm => Stores::for_len(len),
            Warmth::Cold => Stores::Streaming,
        }
    }

    fn other(self) -> Stores {
        match self {
            Stores::Cached => Stores::Streaming,
            Stores::Streaming => Stores::Cached,
        }
    }
}

/// Between 8 MiB and 12 MiB plain stores stopped paying on the AMD guest.
pub const STREAMING_ABOVE: usize = 8 << 20;

/// Whether [`Stores::Streaming`] differs from plain stores on this target: on x86-64 only.
pub const HAS_STREAMING_STORES: bool = cfg!(target_arch = "x86_64");

/// Whether a block is likely still in cache when it is zeroed: the hint the caller has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Warmth {
    /// Written just before: a block its own thread freed.
    Warm,
    /// Written long before: a block the reclaimer freed, dropped a budget's worth of buffers ago.
    Cold,
}

/// The trials the library uses.
pub static STORES: StoreTrials = StoreTrials::new();

/// Blocks shorter than this take the [prior](Stores::prior) stores, untried: they come from
/// `malloc`, not from the reuse cache, and a trial would cost more than it could find.
pub const TRY_FROM: usize = crate::memory::MMAP_THRESHOLD as usize;
/// Reused blocks go up to [`crate::reuse::MAX_BLOCK`]; larger ones share the last size class.
const SIZE_CLASSES: usize =
    (crate::reuse::MAX_BLOCK.ilog2() - crate::memory::MMAP_THRESHOLD.ilog2() + 1) as usize;
/// Streaming stores leave the block out of cache, which its user pays for on first touch
/// (writing one byte per page after them: 5–13 us per MiB on the Intel guest, against their 40):
/// they are kept only when faster by more than this share.
const STREAMING_MARGIN: f32 = 0.125;

/// The shortest run: with 4 (2 timed zeroings of 16 MiB a side) the decision flipped between
/// runs of the same loop on the Intel guest, where the medians lay within 20 % of each other.
const MIN_RUN: u64 = 16;

/// For each kind of reused block (warm or cold, by power of two of its length), a trial on the
/// zeroings themselves of which stores are faster on this machine: a run of zeroings with the
/// [prior](Stores::prior) stores, then a run with the others, timing the second half of each.
/// The first half of a run brings every block in rotation to that run's steady state: zeroing
/// with plain stores right after a streaming pass finds the block out of cache, and streaming
/// over lines still dirty in cache ran at 200 ps per byte on the Intel guest, against 18 for
/// plain stores. A run is twice as long as the most blocks of its length the reuse cache keeps
/// ([`crate::reuse::MAX_LIMIT`]), at least `MIN_RUN` and at most 512. The medians decide, once
/// per process: how a machine's caches treat a kind of block does not change while it runs.
/// Where both kinds of stores are the same ([`HAS_STREAMING_STORES`]), every block takes the
/// prior, untimed.
pub struct StoreTrials {
    trials: [Trial; SIZE_CLASSES * 2],
    /// Whether to try at all: only where the two kinds of stores differ.
    trying: bool,
}

struct Trial {
    /// 0 while trying, then 1 + the stores kept.
    decided: AtomicU8,
    state: Mutex<TrialState>,
}

struct TrialState {
    choices: u32,
    /// Picoseconds per byte, plain stores then streaming.
    samples: [Vec<f32>; 2],
}

impl Trial {
    #[allow(clippy::declare_interior_mutable_const)] // a template for the array, never shared
    const NEW: Trial = Trial {
        decided: AtomicU8::new(0),
        state: parking_lot::const_mutex(TrialState {
            choices: 0,
            samples: [Vec::new(), Vec::new()],
        }),
    };

    fn decided(&self) -> Option<Stores> {
        match self.decided.load(Ordering::Relaxed) {
            1 => Some(Stores::Cached),
            2 => Some(Stores::Streaming),
            _ => None,
        }
    }

    /// Keeps the faster stores once both runs have their samples.
    fn decide_if_measured(&self, state: &mut TrialState, half_run: usize, index: usize) {
        let [plain, streaming] = &mut state.samples;
        if plain.len() < half_run || streaming.len() < half_run {
            return;
        }
        let (plain, streaming) = (median(plain), median(streaming));
        let kept = if streaming * (1.0 + STREAMING_MARGIN) < plain {
            Stores::Streaming
        } else {
            Stores::Cached
        };
        let (class, warmth) = StoreTrials::described(index);
        log::debug!(
            "zeroing trial, {warmth:?} blocks from {} KiB: plain stores {plain:.1} ps/byte, \
             streaming {streaming:.1}: {kept:?} kept",
            class >> 10
        );
        self.decided.store(1 + kept as u8, Ordering::Relaxed);
        state.samples = [Vec::new(), Vec::new()];
    }
}

fn median(samples: &mut [f32]) -> f32 {
    samples.sort_by(f32::total_cmp);
    samples[samples.len() / 2]
}

/// The stores chosen for one zeroing, and when it started if it is a trial's measurement.
#[must_use = "record the zeroing, or a trial waits for it"]
pub struct Choice {
    pub stores: Stores,
    timed: Option<(usize, Instant)>,
}

impl StoreTrials {
    pub const fn new() -> StoreTrials {
        StoreTrials::with_trials(HAS_STREAMING_STORES)
    }

    /// Trials that run only if `trying` (the tests run them on every target).
    const fn with_trials(trying: bool) -> StoreTrials {
        StoreTrials {
            trials: [Trial::NEW; SIZE_CLASSES * 2],
            trying,
        }
    }

    /// The stores to zero a block of `len` bytes this warm with.
    pub fn choose(&self, len: usize, warmth: Warmth) -> Choice {
        let prior = Stores::prior(len, warmth);
        if len < TRY_FROM || !self.trying {
            return Choice {
                stores: prior,
                timed: None,
            };
        }
        let index = Self::trial_of(len, warmth);
        let trial = &self.trials[index];
        if let Some(stores) = trial.decided() {
            return Choice {
                stores,
                timed: None,
            };
        }
        let run = Self::run_len(len);
        let mut state = trial.state.lock();
        if state.choices >= 2 * run {
            // Zeroings that dropped pages measure nothing: try again.
            state.choices = 0;
            state.samples = [Vec::new(), Vec::new()];
        }
        let n = state.choices;
        state.choices += 1;
        let stores = if n < run { prior } else { prior.other() };
        let measured = n % run >= run / 2;
        Choice {
            stores,
            timed: measured.then(|| (index, Instant::now())),
        }
    }

    /// Records that the zeroing `choice` was made for ends now, over `len` bytes. Call it only
    /// when the whole block was written: a block partly dropped measures other work.
    pub fn record(&self, choice: Choice, len: usize) {
        if let Some((_, started)) = choice.timed {
            self.record_elapsed(choice, len, started.elapsed());
        }
    }

    fn record_elapsed(&self, choice: Choice, len: usize, elapsed: Duration) {
        let (Some((index, _)), true) = (choice.timed, len > 0) else {
            return;
        };
        let trial = &self.trials[index];
        let mut state = trial.state.lock();
        if trial.decided().is_some() {
            return;
        }
        let picos_per_byte = elapsed.as_secs_f32() * 1e12 / len as f32;
        state.samples[choice.stores as usize].push(picos_per_byte);
        trial.decide_if_measured(&mut state, (Self::run_len(len) / 2) as usize, index);
    }

    /// The smallest length and the warmth of the blocks trial `index` is for.
    fn described(index: usize) -> (usize, Warmth) {
        let warmth = if index % 2 == Warmth::Cold as usize {
            Warmth::Cold
        } else {
            Warmth::Warm
        };
        (TRY_FROM << (index / 2), warmth)
    }

    fn trial_of(len: usize, warmth: Warmth) -> usize {
        let class = (len.ilog2() - TRY_FROM.ilog2()) as usize;
        class.min(SIZE_CLASSES - 1) * 2 + warmth as usize
    }

    /// The run length of `len`'s size class (from its lower bound), so that every block of a
    /// class runs the same trial.
    fn run_len(len: usize) -> u32 {
        let class_floor = 1u64 << len.ilog2();
        let blocks_kept = crate::reuse::MAX_LIMIT / class_floor;
        (2 * blocks_kept).clamp(MIN_RUN, 512) as u32
    }
}

impl Default for StoreTrials {
    fn default() -> Self {
        StoreTrials::new()
    }
}

/// Sets `len` bytes at `ptr` to `value`, ordered as plain stores are: a thread that sees a later
/// release store of this one (an unlock, a `Release` atomic, a Java volatile write) sees them
/// all. Not more: on aarch64, unlike x86-64, a later plain or `Relaxed` store may be seen first.
///
/// # Safety
/// `ptr..ptr+len` must be writable memory owned by the caller.
pub unsafe fn fill(ptr: *mut u8, len: usize, value: u8, stores: Stores) {
    #[cfg(target_arch = "x86_64")]
    if stores == Stores::Streaming {
        return stream(ptr, len, value);
    }
    let _ = stores;
    std::ptr::write_bytes(ptr, value, len);
}

/// Streaming stores over the whole 64-byte lines of the range, plain stores over the partial
/// lines at either end.
///
/// # Safety
/// As [`fill`].
#[cfg(target_arch = "x86_64")]
unsafe fn stream(ptr: *mut u8, len: usize, value: u8) {
    use std::arch::x86_64::{__m128i, _mm_set1_epi8, _mm_sfence, _mm_stream_si128};
    const LINE: usize = 64;
    let head = ptr.align_offset(LINE).min(len);
    let lines = (len - head) / LINE;
    std::ptr::write_bytes(ptr, value, head);
    // SSE2 is part of x86-64, so these need no check of the CPU.
    let pattern = _mm_set1_epi8(value as i8);
    let mut line = ptr.add(head);
    for _ in 0..lines {
        let at = line.cast::<__m128i>();
        _mm_stream_si128(at, pattern);
        _mm_stream_si128(at.add(1), pattern);
        _mm_stream_si128(at.add(2), pattern);
        _mm_stream_si128(at.add(3), pattern);
        line = line.add(LINE);
    }
    // Streaming stores are weakly ordered: without the fence, a thread that sees the buffer
    // published could still read the old bytes.
    _mm_sfence();
    std::ptr::write_bytes(line, value, len - head - lines * LINE);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_fill(len: usize, offset: usize, stores: Stores) {
        let mut bytes = vec![0xEEu8; len + offset + 80];
        // SAFETY: inside the vector.
        unsafe { fill(bytes.as_mut_ptr().add(offset), len, 0x5A, stores) };
        let (before, rest) = bytes.split_at(offset);
        let (filled, after) = rest.split_at(len);
        assert!(before.iter().all(|b| *b == 0xEE), "{len}@{offset}: before");
        assert!(filled.iter().all(|b| *b == 0x5A), "{len}@{offset}: filled");
        assert!(after.iter().all(|b| *b == 0xEE), "{len}@{offset}: after");
    }

    #[test]
    fn both_kinds_of_stores_fill_exactly_the_range_whatever_its_alignment() {
        for stores in [Stores::Cached, Stores::Streaming] {
            for len in [0, 1, 15, 63, 64, 65, 127, 128, 200, 4096, 70_001] {
                for offset in [0, 1, 7, 16, 33, 63] {
                    check_fill(len, offset, stores);
                }
            }
        }
    }

    #[test]
    fn only_ranges_larger_than_the_threshold_stream() {
        assert_eq!(Stores::for_len(0), Stores::Cached);
        assert_eq!(Stores::for_len(STREAMING_ABOVE), Stores::Cached);
        assert_eq!(Stores::for_len(STREAMING_ABOVE + 1), Stores::Streaming);
        assert_eq!(Stores::prior(4096, Warmth::Cold), Stores::Streaming);
        assert_eq!(Stores::prior(4096, Warmth::Warm), Stores::Cached);
    }

    const MIB: usize = 1 << 20;

    /// Records `choice` as a zeroing of `len` bytes that took `picos` picoseconds per byte.
    fn record_at(trials: &StoreTrials, choice: Choice, len: usize, picos: f64) {
        let elapsed = Duration::from_secs_f64(picos * len as f64 / 1e12);
        trials.record_elapsed(choice, len, elapsed);
    }

    /// Makes `n` choices for blocks of `len` bytes, each zeroing taking `plain` or `streaming`
    /// picoseconds per byte by the stores chosen; returns the choices.
    fn zero_times(
        trials: &StoreTrials,
        len: usize,
        warmth: Warmth,
        n: usize,
        plain: f64,
        streaming: f64,
    ) -> Vec<Stores> {
        (0..n)
            .map(|_| {
                let choice = trials.choose(len, warmth);
                let stores = choice.stores;
                let picos = if stores == Stores::Cached {
                    plain
                } else {
                    streaming
                };
                record_at(trials, choice, len, picos);
                stores
            })
            .collect()
    }

    #[test]
    fn runs_are_twice_the_blocks_the_reuse_cache_keeps_within_bounds() {
        assert_eq!(StoreTrials::run_len(4 * MIB), 32);
        assert_eq!(StoreTrials::run_len(MIB), 128);
        assert_eq!(StoreTrials::run_len(TRY_FROM), 512);
        assert_eq!(StoreTrials::run_len(8 * MIB), 16, "at least MIN_RUN");
        assert_eq!(StoreTrials::run_len(16 * MIB), 16);
    }

    #[test]
    fn without_streaming_stores_every_block_takes_the_prior_untimed() {
        let trials = StoreTrials::with_trials(false);
        for len in [TRY_FROM, MIB, 16 * MIB] {
            for warmth in [Warmth::Warm, Warmth::Cold] {
                for _ in 0..2 * StoreTrials::run_len(len) {
                    let choice = trials.choose(len, warmth);
                    assert_eq!(choice.stores, Stores::prior(len, warmth));
                    assert!(choice.timed.is_none());
                }
            }
        }
        assert_eq!(StoreTrials::new().trying, HAS_STREAMING_STORES);
    }

    #[test]
    fn short_blocks_take_the_prior_untimed() {
        let trials = StoreTrials::with_trials(true);
        let choice = trials.choose(TRY_FROM - 1, Warmth::Cold);
        assert_eq!(choice.stores, Stores::Streaming);
        assert!(choice.timed.is_none());
    }

    #[test]
    fn a_trial_runs_the_prior_then_the_other_stores_and_keeps_the_faster() {
        // A cold 1 MiB block on a machine whose cache holds the rotation: plain stores win.
        let trials = StoreTrials::with_trials(true);
        let choices = zero_times(&trials, MIB, Warmth::Cold, 400, 39.0, 50.0);
        let run = StoreTrials::run_len(MIB) as usize;
        assert!(
            choices[..run].iter().all(|s| *s == Stores::Streaming),
            "the prior"
        );
        assert!(
            choices[run..].iter().all(|s| *s == Stores::Cached),
            "the other, kept"
        );
        // A warm 16 MiB block on a machine whose cache does not hold it: streaming wins.
        let trials = StoreTrials::with_trials(true);
        let choices = zero_times(&trials, 16 * MIB, Warmth::Warm, 40, 100.0, 45.0);
        let run = StoreTrials::run_len(16 * MIB) as usize;
        assert!(
            choices[..run].iter().all(|s| *s == Stores::Streaming),
            "the prior"
        );
        assert!(
            choices[run..2 * run].iter().all(|s| *s == Stores::Cached),
            "the other"
        );
        assert!(
            choices[2 * run..].iter().all(|s| *s == Stores::Streaming),
            "kept"
        );
    }

    #[test]
    fn only_the_second_half_of_each_run_is_timed() {
        let trials = StoreTrials::with_trials(true);
        let run = StoreTrials::run_len(16 * MIB);
        for n in 0..2 * run {
            let choice = trials.choose(16 * MIB, Warmth::Cold);
            assert_eq!(choice.timed.is_some(), n % run >= run / 2, "choice {n}");
            // Not recorded: the trial goes on for the test.
        }
    }

    #[test]
    fn the_first_half_of_a_run_does_not_count() {
        // Plain stores measure slow right after streaming ones, then fast: the trial sees fast.
        let trials = StoreTrials::with_trials(true);
        let len = 16 * MIB;
        let run = StoreTrials::run_len(len);
        for n in 0..2 * run {
            let choice = trials.choose(len, Warmth::Warm);
            let picos = match (choice.stores, n % run < run / 2) {
                (Stores::Cached, true) => 100.0,
                (Stores::Cached, false) => 35.0,
                (Stores::Streaming, _) => 40.0,
            };
            record_at(&trials, choice, len, picos);
        }
        assert_eq!(trials.choose(len, Warmth::Warm).stores, Stores::Cached);
    }

    #[test]
    fn streaming_stores_must_win_by_the_margin() {
        let trials = StoreTrials::with_trials(true);
        let choices = zero_times(&trials, 16 * MIB, Warmth::Cold, 40, 42.0, 40.0);
        assert_eq!(choices[39], Stores::Cached, "5 % faster is not enough");
        let trials = StoreTrials::with_trials(true);
        let choices = zero_times(&trials, 16 * MIB, Warmth::Cold, 40, 42.0, 30.0);
        assert_eq!(choices[39], Stores::Streaming);
    }

    #[test]
    fn warmth_and_size_classes_are_tried_apart() {
        let trials = StoreTrials::with_trials(true);
        zero_times(&trials, MIB, Warmth::Cold, 300, 15.0, 40.0);
        assert_eq!(trials.choose(MIB, Warmth::Cold).stores, Stores::Cached);
        assert_eq!(trials.choose(MIB + 1, Warmth::Cold).stores, Stores::Cached);
        assert_eq!(
            trials.choose(4 * MIB, Warmth::Cold).stores,
            Stores::Streaming
        );
        let warm = &trials.trials[StoreTrials::trial_of(MIB, Warmth::Warm)];
        assert!(warm.decided().is_none());
        assert_eq!(
            StoreTrials::trial_of(usize::MAX, Warmth::Warm),
            StoreTrials::trial_of(crate::reuse::MAX_BLOCK as usize, Warmth::Warm)
        );
    }

    #[test]
    fn a_trial_without_samples_of_one_kind_starts_over() {
        let trials = StoreTrials::with_trials(true);
        let len = 16 * MIB;
        let run = StoreTrials::run_len(len);
        for _ in 0..2 * run {
            let choice = trials.choose(len, Warmth::Warm);
            if choice.stores == Stores::Streaming {
                record_at(&trials, choice, len, 40.0);
            } // the plain run dropped pages every time: not recorded
        }
        assert_eq!(trials.choose(len, Warmth::Warm).stores, Stores::Streaming);
        let trial = &trials.trials[StoreTrials::trial_of(len, Warmth::Warm)];
        assert!(trial.decided().is_none());
        assert_eq!(trial.state.lock().choices, 1, "started over");
    }
}
