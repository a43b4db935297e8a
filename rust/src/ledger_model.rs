//! An exhaustive interleaving check of the ledger's concurrency (test only).
//!
//! Each `Ledger` operation is written here as the sequence of atomic steps the real code makes
//! (`rust/src/ledger.rs`: loads, compare-and-swaps, `fetch_add`/`fetch_max`, and the
//! `fetch_update` loops of `checked_sub`). A depth-first search runs every interleaving of a few
//! threads' operations, step by step, and checks in every reachable state that the budget is never
//! exceeded, that a snapshot never reads a capacity higher than what is live, and in every final
//! state that the counters are exact. Small scenarios, all orders:
//! what a stress test can only sample, this enumerates. Keep the steps in sync with ledger.rs.

use std::collections::HashSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Op {
    Reserve {
        capacity: u64,
        footprint: u64,
    },
    Release {
        capacity: u64,
        footprint: u64,
    },
    /// `snapshot`'s capacity: the removed rounding, `used`, the added rounding.
    Snapshot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Outcome {
    Granted,
    Refused,
    /// A release after a refused reservation: a caller never frees what it did not get.
    Skipped,
}

/// The shared counters, as in `Ledger`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
struct Counters {
    used: u64,
    count: u64,
    /// `footprint - capacity` summed is `rounding_added - rounding_removed`; the capacity the
    /// ledger reports is `used` less that.
    rounding_added: u64,
    rounding_removed: u64,
    peak: u64,
    /// Not in the ledger: the capacity of the blocks whose footprints `used` holds, changed by
    /// the same steps as `used`. A snapshot may never report more than it was when `used` was
    /// read.
    capacity_in_used: u64,
}

/// Where one thread is inside its current operation, with its local variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Pc {
    /// About to start operation `op` of the thread's program.
    Start,
    // try_reserve: rounding first, then the compare-and-swap loop on `used` (taking the rounding
    // back on a refusal), then count.
    ReserveLoad,
    ReserveCas {
        seen: u64,
    },
    ReserveUndo,
    ReserveCount {
        next: u64,
    },
    /// `note_peak(next)`, which the pool calls once the reservation's memory exists: a
    /// `fetch_max`, one step here as the peak is no one's input.
    ReservePeak {
        next: u64,
    },
    // release: a read of count, then of the rounding, either refusing; checked_sub(used), the one
    // step that refuses atomically; then the rounding removed (one fetch_add) and a saturating
    // subtraction of count. Each subtraction is a fetch_update loop (load, then
    // compare-and-swap). Nothing is undone.
    Check {
        stage: Stage,
    },
    SubLoad {
        stage: Stage,
    },
    SubCas {
        stage: Stage,
        seen: u64,
    },
    RemoveRounding,
    // snapshot: the removed rounding, `used`, the added rounding
    SnapshotUsed {
        removed: u64,
    },
    SnapshotAdded {
        removed: u64,
        used: u64,
        live: u64,
    },
}

/// The counter a release step works on, in the order release() subtracts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Stage {
    Used,
    /// Skipped by the real code when the amount is 0: here steps that change nothing.
    Rounding,
    Count,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Thread {
    program: Vec<Op>,
    op: usize,
    pc: Pc,
    outcomes: Vec<Outcome>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct State {
    counters: Counters,
    threads: Vec<Thread>,
}

fn amount(op: Op, stage: Stage) -> u64 {
    let (capacity, footprint) = match op {
        Op::Release {
            capacity,
            footprint,
        }
        | Op::Reserve {
            capacity,
            footprint,
        } => (capacity, footprint),
        Op::Snapshot => (0, 0),
    };
    match stage {
        Stage::Count => 1,
        Stage::Rounding => footprint - capacity,
        Stage::Used => footprint,
    }
}

/// The counter a release subtracts from (the rounding is added to its removed counter instead).
fn counter(c: &mut Counters, stage: Stage) -> &mut u64 {
    match stage {
        Stage::Count => &mut c.count,
        Stage::Used => &mut c.used,
        Stage::Rounding => unreachable!("the rounding is removed by RemoveRounding"),
    }
}

/// What a release's check reads.
fn held(c: &Counters, stage: Stage) -> u64 {
    match stage {
        Stage::Count => c.count,
        Stage::Used => c.used,
        Stage::Rounding => c.rounding_added.saturating_sub(c.rounding_removed),
    }
}

fn next_stage(stage: Stage) -> Option<Stage> {
    match stage {
        Stage::Used => Some(Stage::Rounding),
        Stage::Rounding => Some(Stage::Count),
        Stage::Count => None,
    }
}

/// Runs one atomic step of thread `t`.
fn step(state: &mut State, t: usize, max: u64) {
    let c = &mut state.counters;
    let thread = &mut state.threads[t];
    let op = thread.program[thread.op];
    let finish = |thread: &mut Thread, outcome| {
        thread.outcomes.push(outcome);
        thread.op += 1;
        thread.pc = Pc::Start;
    };
    match (op, thread.pc) {
        // self.rounding_added.fetch_add(rounding)
        (
            Op::Reserve {
                capacity,
                footprint,
            },
            Pc::Start,
        ) => {
            c.rounding_added += footprint - capacity;
            thread.pc = Pc::ReserveLoad;
        }
        // let mut used = self.used.load(Relaxed);
        (Op::Reserve { .. }, Pc::ReserveLoad) => thread.pc = Pc::ReserveCas { seen: c.used },
        // checked_add, the max check, then compare_exchange_weak(used, next)
        (
            Op::Reserve {
                capacity,
                footprint,
            },
            Pc::ReserveCas { seen },
        ) => match seen.checked_add(footprint) {
            Some(next) if next <= max => {
                if c.used == seen {
                    c.used = next;
                    c.capacity_in_used += capacity;
                    thread.pc = Pc::ReserveCount { next };
                } else {
                    thread.pc = Pc::ReserveCas { seen: c.used };
                }
            }
            _ => thread.pc = Pc::ReserveUndo,
        },
        // self.rounding_removed.fetch_add(rounding), refused
        (
            Op::Reserve {
                capacity,
                footprint,
            },
            Pc::ReserveUndo,
        ) => {
            c.rounding_removed += footprint - capacity;
            finish(thread, Outcome::Refused);
        }
        (Op::Reserve { .. }, Pc::ReserveCount { next }) => {
            c.count += 1;
            thread.pc = Pc::ReservePeak { next };
        }
        (Op::Reserve { .. }, Pc::ReservePeak { next }) => {
            c.peak = c.peak.max(next);
            finish(thread, Outcome::Granted);
        }
        (Op::Release { .. }, Pc::Start)
            if thread.op > 0
                && matches!(thread.program[thread.op - 1], Op::Reserve { .. })
                && thread.outcomes[thread.op - 1] != Outcome::Granted =>
        {
            finish(thread, Outcome::Skipped)
        }
        (Op::Release { .. }, Pc::Start) => {
            thread.pc = Pc::Check {
                stage: Stage::Count,
            }
        }
        // self.count.load() < count || self.rounding() < rounding
        (Op::Release { .. }, Pc::Check { stage }) => {
            if held(c, stage) < amount(op, stage) {
                finish(thread, Outcome::Refused);
            } else if stage == Stage::Count {
                thread.pc = Pc::Check {
                    stage: Stage::Rounding,
                };
            } else {
                thread.pc = Pc::SubLoad { stage: Stage::Used };
            }
        }
        (Op::Release { .. }, Pc::SubLoad { stage }) => {
            thread.pc = Pc::SubCas {
                stage,
                seen: *counter(c, stage),
            }
        }
        (Op::Release { .. }, Pc::SubCas { stage, seen }) => {
            let lower = match seen.checked_sub(amount(op, stage)) {
                Some(lower) => lower,
                None if stage == Stage::Used => return finish(thread, Outcome::Refused),
                None => 0, // saturating_sub
            };
            let value = counter(c, stage);
            if *value != seen {
                thread.pc = Pc::SubCas {
                    stage,
                    seen: *value,
                };
            } else {
                *value = lower;
                if stage == Stage::Used {
                    // A bogus release (a caller bug) may take more than the live blocks hold.
                    c.capacity_in_used = c
                        .capacity_in_used
                        .saturating_sub(amount(op, Stage::Used) - amount(op, Stage::Rounding));
                }
                match next_stage(stage) {
                    Some(Stage::Rounding) => thread.pc = Pc::RemoveRounding,
                    Some(stage) => thread.pc = Pc::SubLoad { stage },
                    None => finish(thread, Outcome::Granted),
                }
            }
        }
        // self.rounding_removed.fetch_add(rounding)
        (Op::Release { .. }, Pc::RemoveRounding) => {
            c.rounding_removed += amount(op, Stage::Rounding);
            thread.pc = Pc::SubLoad {
                stage: Stage::Count,
            };
        }
        // let removed = self.rounding_removed.load(); let used = self.used();
        (Op::Snapshot, Pc::Start) => {
            thread.pc = Pc::SnapshotUsed {
                removed: c.rounding_removed,
            }
        }
        (Op::Snapshot, Pc::SnapshotUsed { removed }) => {
            thread.pc = Pc::SnapshotAdded {
                removed,
                used: c.used,
                live: c.capacity_in_used,
            }
        }
        // self.rounding_added.load().saturating_sub(removed); used.saturating_sub(rounding)
        (
            Op::Snapshot,
            Pc::SnapshotAdded {
                removed,
                used,
                live,
            },
        ) => {
            let capacity = used.saturating_sub(c.rounding_added.saturating_sub(removed));
            // Every block that `used` held when read was live then.
            assert!(
                capacity <= live,
                "snapshot read capacity {capacity} with {live} live; counters {c:?}"
            );
            finish(thread, Outcome::Granted);
        }
        (op, pc) => unreachable!("{op:?} at {pc:?}"),
    }
}

/// What every final state must satisfy, given each thread's outcomes. Exact sums: no scenario
/// here has two releases of one reservation at once, which can both pass the plain `count` read
/// and leave `count` stopped at zero (see `Underflow`).
fn check_final(state: &State, max: u64) {
    // Signed: a bogus release may be granted before the reservation it takes from is counted.
    let (mut used, mut count, mut rounding) = (0i64, 0i64, 0i64);
    for thread in &state.threads {
        for (op, outcome) in thread.program.iter().zip(&thread.outcomes) {
            let sign = match (op, outcome) {
                (_, Outcome::Refused | Outcome::Skipped) | (Op::Snapshot, _) => continue,
                (Op::Reserve { .. }, Outcome::Granted) => 1,
                (Op::Release { .. }, Outcome::Granted) => -1,
            };
            used += sign * amount(*op, Stage::Used) as i64;
            count += sign;
            rounding += sign * amount(*op, Stage::Rounding) as i64;
        }
    }
    let c = state.counters;
    assert_eq!(
        (
            c.used as i64,
            c.count as i64,
            c.rounding_added as i64 - c.rounding_removed as i64
        ),
        (used, count, rounding),
        "counters not exact in final state {state:?}"
    );
    assert!(
        c.peak <= max && c.peak >= c.used,
        "peak {} out of range",
        c.peak
    );
}

/// Explores every interleaving of `programs`; returns the distinct final outcome vectors.
fn explore(max: u64, programs: Vec<Vec<Op>>) -> HashSet<Vec<Vec<Outcome>>> {
    let start = State {
        counters: Counters::default(),
        threads: programs
            .into_iter()
            .map(|program| Thread {
                program,
                op: 0,
                pc: Pc::Start,
                outcomes: Vec::new(),
            })
            .collect(),
    };
    let mut seen = HashSet::new();
    let mut finals = HashSet::new();
    let mut stack = vec![start];
    while let Some(state) = stack.pop() {
        if !seen.insert(state.clone()) {
            continue;
        }
        assert!(
            state.counters.used <= max,
            "budget exceeded: used {} > max {max} in {state:?}",
            state.counters.used
        );
        // Rounding may exceed used between a release's steps and before a reservation's
        // compare-and-swap (the snapshot saturates), but a ledger that reads empty with no
        // reservation in flight holds no rounding: settling on used and count is enough.
        let c = state.counters;
        let reserving = state.threads.iter().any(|t| {
            matches!(
                t.pc,
                Pc::ReserveLoad | Pc::ReserveCas { .. } | Pc::ReserveUndo
            )
        });
        assert!(
            reserving || c.used != 0 || c.count != 0 || c.rounding_added == c.rounding_removed,
            "rounding left in an empty ledger: {state:?}"
        );
        let runnable: Vec<usize> = (0..state.threads.len())
            .filter(|&t| state.threads[t].op < state.threads[t].program.len())
            .collect();
        if runnable.is_empty() {
            check_final(&state, max);
            finals.insert(state.threads.iter().map(|t| t.outcomes.clone()).collect());
            continue;
        }
        for t in runnable {
            let mut next = state.clone();
            step(&mut next, t, max);
            stack.push(next);
        }
    }
    assert!(seen.len() > 1);
    finals
}

fn reserve(bytes: u64) -> Op {
    Op::Reserve {
        capacity: bytes,
        footprint: bytes,
    }
}

fn release(bytes: u64) -> Op {
    Op::Release {
        capacity: bytes,
        footprint: bytes,
    }
}

#[test]
fn three_threads_racing_for_two_slots_grant_exactly_two_in_every_order() {
    let finals = explore(2, vec![vec![reserve(1)]; 3]);
    for outcomes in &finals {
        let granted = outcomes
            .iter()
            .flatten()
            .filter(|o| **o == Outcome::Granted)
            .count();
        assert_eq!(granted, 2, "{outcomes:?}");
    }
    assert_eq!(finals.len(), 3, "each thread can be the one refused");
}

#[test]
fn reserve_then_release_on_every_thread_is_exact_and_never_refused() {
    // Different sizes and a mapped-style footprint larger than the capacity.
    let programs = vec![
        vec![reserve(3), release(3)],
        vec![
            Op::Reserve {
                capacity: 2,
                footprint: 4,
            },
            Op::Release {
                capacity: 2,
                footprint: 4,
            },
        ],
        vec![reserve(1), release(1)],
    ];
    for outcomes in explore(8, programs) {
        // Everything fits at once, so nothing may be refused and the ledger ends empty.
        assert!(outcomes.iter().flatten().all(|o| *o == Outcome::Granted));
    }
}

#[test]
fn a_tight_budget_refuses_only_while_full_and_ends_exact() {
    let programs = vec![
        vec![reserve(2), release(2), reserve(2), release(2)],
        vec![reserve(2), release(2)],
        vec![reserve(1)],
    ];
    let finals = explore(3, programs);
    // Some orders refuse, some do not; check_final verified the counters of every one.
    assert!(finals.len() > 1);
}

/// A release nobody reserved (a bookkeeping bug) must be refused or absorbed without ever
/// letting `used` exceed the budget, even while other threads reserve in the meantime.
#[test]
fn a_bogus_release_never_lets_the_budget_be_exceeded() {
    let programs = vec![vec![reserve(2)], vec![release(2)], vec![reserve(3)]];
    explore(3, programs);
}

/// A release larger than anything reserved (a caller bug) is refused without touching a
/// counter, so a right release racing it is never refused. Taking `count` first and giving it
/// back on the refusal, as the ledger once did, refused the right one in some orders.
#[test]
fn a_wrong_release_never_makes_a_right_one_fail() {
    let too_large = Op::Release {
        capacity: 3,
        footprint: 3,
    };
    let too_much_rounding = Op::Release {
        capacity: 1,
        footprint: 2,
    };
    for wrong in [too_large, too_much_rounding] {
        let programs = vec![vec![reserve(2), release(2)], vec![wrong]];
        for outcomes in explore(3, programs) {
            assert_eq!(
                outcomes,
                vec![
                    vec![Outcome::Granted, Outcome::Granted],
                    vec![Outcome::Refused]
                ],
                "{wrong:?}"
            );
        }
    }
}

#[test]
fn three_threads_two_rounds_each_through_a_budget_for_two() {
    let round = |bytes| {
        vec![
            reserve(bytes),
            release(bytes),
            reserve(bytes),
            release(bytes),
        ]
    };
    let finals = explore(4, vec![round(2), round(2), round(1)]);
    assert!(finals.len() > 1, "some orders refuse, others do not");
}

/// A snapshot racing reservations and releases of page-rounded blocks (capacity 1, footprint
/// 4: a mapped block's shape) never reads more capacity than is live. Adding the rounding after
/// `used`, as the ledger once did, read 3 with 2 live.
#[test]
fn a_snapshot_never_reads_more_capacity_than_is_live() {
    let rounded = |capacity, footprint| {
        (
            Op::Reserve {
                capacity,
                footprint,
            },
            Op::Release {
                capacity,
                footprint,
            },
        )
    };
    let (reserve_page, release_page) = rounded(1, 4);
    let (reserve_padded, release_padded) = rounded(2, 3);
    let programs = vec![
        vec![reserve_page, release_page, reserve_page],
        vec![reserve_padded, release_padded],
        vec![Op::Snapshot, Op::Snapshot],
    ];
    explore(8, programs);
    // A tight budget: reservations refused, their rounding taken back, while a snapshot reads.
    explore(
        5,
        vec![
            vec![reserve_page, release_page],
            vec![reserve_page],
            vec![Op::Snapshot, Op::Snapshot],
        ],
    );
}
