#!/usr/bin/env python3
"""Tests of bench/report.py's statistics and verdicts, on made-up JMH entries. Standard library only:

    python3 bench/test_report.py [--junit-xml FILE]
"""

import contextlib
import io
import json
import math
import os
import shutil
import sys
import tempfile
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402

MIB = report.MIB


def entry(benchmark, forks, mode="thrpt", size=MIB, threads=1, secondary=None, jvm_args=(), time="1 s"):
    """A JMH JSON entry as the suite writes it: forks is rawData, one list of iterations per fork."""
    values = [v for fork in forks for v in fork]
    metric = {"score": sum(values) / len(values), "scoreError": "NaN", "rawData": forks,
              "scoreUnit": "ops/s" if mode == "thrpt" else "us/op"}
    return {"benchmark": f"dev.directmem.bench.{benchmark}", "params": {"size": str(size)}, "threads": threads,
            "jdkVersion": "17.0.15", "jvm": "/usr/bin/java", "jvmArgs": list(jvm_args), "mode": mode,
            "forks": len(forks), "warmupIterations": 2, "warmupTime": time, "measurementIterations": len(forks[0]),
            "measurementTime": time, "jmhVersion": "1.37", "vmName": "OpenJDK 64-Bit Server VM",
            "vmVersion": "17.0.15+6", "primaryMetric": metric,
            "secondaryMetrics": secondary or {}}


def result(benchmark, fork_scores, mode="thrpt", **options):
    """A Result whose forks scored fork_scores, each over two iterations around it."""
    return report.Result(entry(benchmark, [[s * 0.99, s * 1.01] for s in fork_scores], mode, **options))


def churn(scenario, fork_scores, out_of_memory=0, peer="directmem", threads=2):
    """A churn Result: fork_scores buffers handed out per second a fork, out_of_memory errors an
    iteration (JMH scores calls; the buffers and errors are secondary metrics)."""
    forks = [[s * 0.99, s * 1.01] for s in fork_scores]
    secondary = {"allocated": {"score": sum(fork_scores) / len(fork_scores), "scoreError": "NaN", "rawData": forks},
                 "outOfMemoryErrors": {"score": out_of_memory * 2 * len(forks),
                                       "rawData": [[out_of_memory] * 2 for _ in forks]}}
    calls = [[s + out_of_memory for s in fork] for fork in forks]
    return report.Result(entry(f"{scenario}.{peer}", calls, threads=threads, secondary=secondary))


class StudentTQuantile(unittest.TestCase):
    def test_table_values(self):
        for p, dof, expected in ((0.975, 1, 12.706), (0.975, 4, 2.776), (0.995, 8, 3.355), (0.975, 10, 2.228),
                                 (0.95, 3, 2.353), (0.9995, 30, 3.646)):
            with self.subTest(p=p, dof=dof):
                self.assertAlmostEqual(report.student_t_quantile(p, dof), expected, places=3)

    def test_one_degree_of_freedom_is_cauchy(self):
        for p in (0.6, 0.9, 0.975, 0.999):
            with self.subTest(p=p):
                expected = math.tan(math.pi * (p - 0.5))
                self.assertAlmostEqual(report.student_t_quantile(p, 1) / expected, 1, places=9)

    def test_two_degrees_of_freedom_closed_form(self):
        for p in (0.75, 0.975, 0.995):
            with self.subTest(p=p):
                expected = (2 * p - 1) / math.sqrt(2 * p * (1 - p))
                self.assertAlmostEqual(report.student_t_quantile(p, 2), expected, places=9)

    def test_fractional_degrees_of_freedom_lie_between_their_neighbours(self):
        # Welch's degrees of freedom are rarely whole numbers.
        low, middle, high = (report.student_t_quantile(0.975, dof) for dof in (2, 1.5, 1))
        self.assertLess(low, middle)
        self.assertLess(middle, high)

    def test_many_degrees_of_freedom_approach_the_normal(self):
        self.assertAlmostEqual(report.student_t_quantile(0.975, 1e6), 1.959966, places=4)


class ForkScores(unittest.TestCase):
    def test_each_fork_is_the_mean_of_its_iterations(self):
        self.assertEqual(report.fork_means({"rawData": [[1, 2, 3], [10, 20]]}), [2, 15])

    def test_a_result_keeps_one_score_per_fork(self):
        self.assertEqual(report.Result(entry("GcPath.jdk", [[4, 6], [8, 12], [1, 3]])).fork_scores, [5, 10, 2])

    def test_churn_forks_come_from_buffers_handed_out(self):
        secondary = {"allocated": {"score": 150, "scoreError": "NaN", "rawData": [[100, 200], [140, 160]]},
                     "outOfMemoryErrors": {"score": 0, "rawData": [[0, 0], [0, 0]]}}
        churn = report.Result(entry("Churn.directmem", [[900, 1100], [990, 1010]], secondary=secondary))
        self.assertEqual(churn.fork_scores, [150, 150])

    def test_runs_of_one_benchmark_pool_their_forks(self):
        rounds = [entry("ExplicitPath.jdk", [[1, 3], [5, 7]]), entry("ExplicitPath.jdk", [[9, 11]])]
        self.assertEqual(report.Result(report.pooled(rounds)).fork_scores, [2, 6, 10])


class WelchInterval(unittest.TestCase):
    def test_degrees_of_freedom(self):
        self.assertAlmostEqual(report.welch_degrees_of_freedom(1, 5, 1, 5), 8)  # equal spread: n1 + n2 - 2
        self.assertAlmostEqual(report.welch_degrees_of_freedom(0, 5, 1, 3), 2)  # one side alone: its n - 1
        self.assertTrue(4 < report.welch_degrees_of_freedom(1, 5, 4, 5) < 8)

    def test_interval_by_hand(self):
        # Means 1.1 and 0.1, variances 0.02 each, n = 2: standard error 0.1414, 2 degrees of freedom.
        low, high = report.mean_difference_interval([1.0, 1.2], [0.0, 0.2], 0.95)
        half_width = 0.95 / math.sqrt(2 * 0.975 * 0.025) * math.sqrt(0.02)
        self.assertAlmostEqual(low, 1 - half_width, places=9)
        self.assertAlmostEqual(high, 1 + half_width, places=9)

    def test_throughput_ratio_on_the_log_scale(self):
        ours, theirs = result("GcPath.directmem", [300, 360, 330]), result("GcPath.jdk", [100, 140, 90])
        interval = report.speedup_interval(ours, theirs)
        logs = report.mean_difference_interval([math.log(s) for s in ours.fork_scores],
                                               [math.log(s) for s in theirs.fork_scores], 0.95)
        self.assertAlmostEqual(interval.low, math.exp(logs[0]))
        self.assertAlmostEqual(interval.high, math.exp(logs[1]))
        geometric = (300 * 360 * 330) ** (1 / 3) / (100 * 140 * 90) ** (1 / 3)
        self.assertAlmostEqual(math.sqrt(interval.low * interval.high), geometric)

    def test_latency_ratio_is_theirs_over_ours(self):
        ours = result("LargeAllocation.directmem", [2, 2.2], mode="avgt")
        theirs = result("LargeAllocation.jdk", [200, 260], mode="avgt")
        as_throughput = report.speedup_interval(theirs, ours)  # the same numbers, the other way round
        interval = report.speedup_interval(ours, theirs)
        self.assertGreater(interval.low, 1)
        self.assertAlmostEqual(interval.low, 1 / as_throughput.high)
        self.assertAlmostEqual(interval.high, 1 / as_throughput.low)

    def test_one_fork_gives_no_interval(self):
        interval = report.speedup_interval(result("GcPath.directmem", [300]), result("GcPath.jdk", [100, 110]))
        self.assertEqual(interval.missing, "one fork")
        self.assertEqual(interval.judge(1.5), "INCONCLUSIVE")

    def test_directmem_at_zero_in_every_fork_fails(self):
        # Throughput: it handed out nothing, whatever the peer did; one fork is enough to tell.
        for ours, theirs in (([0, 0], [100, 110]), ([0, 0], [0, 0]), ([0], [100])):
            with self.subTest(ours=ours, theirs=theirs):
                interval = report.speedup_interval(result("GcPath.directmem", ours), result("GcPath.jdk", theirs))
                self.assertEqual(interval.judge(1.5), "FAIL")

    def test_the_peer_at_zero_in_every_fork_passes(self):
        interval = report.speedup_interval(result("GcPath.directmem", [300, 310]), result("GcPath.jdk", [0, 0]))
        self.assertEqual(interval.judge(1.5), "PASS")

    def test_some_forks_at_zero_are_inconclusive(self):
        for ours, theirs in (([0, 300], [100, 110]), ([300, 310], [0, 100])):
            with self.subTest(ours=ours, theirs=theirs):
                interval = report.speedup_interval(result("GcPath.directmem", ours), result("GcPath.jdk", theirs))
                self.assertEqual(interval.missing, "a fork scored 0")

    def test_a_latency_of_zero_is_no_verdict(self):
        # A call that took no time is a broken measurement, not an infinite speed-up: no PASS on it.
        for ours, theirs in (([0, 0], [200, 260]), ([2, 2.2], [0, 0])):
            with self.subTest(ours=ours, theirs=theirs):
                interval = report.speedup_interval(result("LargeAllocation.directmem", ours, mode="avgt"),
                                                   result("LargeAllocation.jdk", theirs, mode="avgt"))
                self.assertEqual(interval.missing, "a fork scored 0")

    def test_forks_that_agree_give_a_point(self):
        interval = report.speedup_interval(result("GcPath.directmem", [300, 300]), result("GcPath.jdk", [100, 100]))
        self.assertAlmostEqual(interval.low, 3)
        self.assertAlmostEqual(interval.high, 3)


class Rounding(unittest.TestCase):
    def test_ratios_away_from_their_target_keep_their_digits(self):
        self.assertEqual(report.ratio_text(2.996), "3.00x")
        self.assertEqual(report.ratio_text(4.5, 3), "4.50x")
        self.assertEqual(report.ratio_text(153.7, 100), "154x")

    def test_a_ratio_near_its_target_gets_a_digit_more(self):
        self.assertEqual(report.ratio_text(2.996, 3), "2.996x")
        self.assertEqual(report.ratio_text(3.02, 3), "3.020x")
        self.assertEqual(report.ratio_text(99.6, 100), "99.60x")
        self.assertEqual(report.ratio_text(100.4, 100), "100.4x")
        self.assertEqual(report.ratio_text(0.665, 1 / 1.5), "0.665x")

    def test_more_digits_while_rounding_would_cross_the_target(self):
        self.assertEqual(report.ratio_text(2.9996, 3), "2.9996x")
        self.assertEqual(report.percent_text(0.8996, 0.9), "89.96%")

    def test_percentages(self):
        self.assertEqual(report.percent_text(0.96, 0.9), "96%")
        self.assertEqual(report.percent_text(0.896, 0.9), "89.6%")
        self.assertEqual(report.percent_text(0.9, 0.9), "90.0%")


class Verdicts(unittest.TestCase):
    def check(self, ours, theirs, minimum=3, mode="thrpt"):
        table = report.Table([result("ExplicitPath.directmem", ours, mode), result("ExplicitPath.jdk", theirs, mode)])
        return report.ratio_check(table, 17, "ExplicitPath", MIB, "jdk", minimum, "Explicit path")

    def test_the_interval_judges(self):
        interval = report.SpeedupInterval(2, 4)
        self.assertEqual(interval.judge(1.5), "PASS")
        self.assertEqual(interval.judge(2), "PASS")  # at the target counts
        self.assertEqual(interval.judge(3), "INCONCLUSIVE")
        self.assertEqual(interval.judge(4), "INCONCLUSIVE")
        self.assertEqual(interval.judge(4.5), "FAIL")

    def test_pass(self):
        check = self.check([400, 410, 405], [100, 101, 99])
        self.assertEqual(check.verdict(), "PASS")
        self.assertRegex(check.measured, r"^4\.0\dx \(3\.\d\dx–4\.\d\dx\)$")

    def test_fail(self):
        self.assertEqual(self.check([150, 160, 155], [100, 101, 99]).verdict(), "FAIL")

    def test_inconclusive_when_the_forks_disagree(self):
        # 3.2x on average, but the JDK's forks spread from 60 to 140.
        check = self.check([320, 320, 320], [60, 100, 140])
        self.assertEqual(check.verdict(), "INCONCLUSIVE (estimate: above)")

    def test_inconclusive_with_one_fork(self):
        check = self.check([400], [100], minimum=3)
        self.assertEqual(check.verdict(), "INCONCLUSIVE (one fork; estimate: above)")
        self.assertEqual(check.measured, "4.00x")

    def test_latency_passes_when_the_peer_is_slower(self):
        self.assertEqual(self.check([1, 1.05], [300, 310], minimum=100, mode="avgt").verdict(), "PASS")

    def test_zero_scores_are_measured(self):
        # A side at zero was measured: its ratio is 0 or ∞, not "not measured".
        for ours, theirs, mode, measured, verdict in (
                ([0, 0], [100, 101], "thrpt", "0x", "FAIL"),
                ([100, 101], [0, 0], "thrpt", "∞", "PASS"),
                ([0, 0], [300, 310], "avgt", "∞", "INCONCLUSIVE (a fork scored 0; estimate: above)"),
                ([1, 1.05], [0, 0], "avgt", "0x", "INCONCLUSIVE (a fork scored 0; estimate: below)")):
            with self.subTest(ours=ours, theirs=theirs, mode=mode):
                check = self.check(ours, theirs, mode=mode)
                self.assertEqual(check.measured.split(" ")[0], measured)
                self.assertEqual(check.verdict(), verdict)

    def churn_check(self, with_flag, without):
        return report.churn_check(report.Table([with_flag, without]), 17, 2)

    def test_churn_without_the_flag_at_zero(self):
        check = self.churn_check(churn("ChurnDisableExplicitGC", [13000, 13100]), churn("Churn", [0, 0]))
        self.assertTrue(check.measured.startswith("∞ "), check.measured)
        check = self.churn_check(churn("ChurnDisableExplicitGC", [0, 0]), churn("Churn", [0, 0]))
        self.assertTrue(check.measured.startswith("0% "), check.measured)
        self.assertEqual(check.verdict(), "FAIL")

    def test_a_ratio_just_below_its_target_does_not_print_as_the_target(self):
        check = self.check([299.6, 299.6], [100, 100])
        self.assertEqual(check.verdict(), "FAIL")
        self.assertEqual(check.measured, "2.996x (2.996x–2.996x)")

    def test_a_share_just_below_90_percent_does_not_print_as_90(self):
        check = self.churn_check(churn("ChurnDisableExplicitGC", [8960, 8960]), churn("Churn", [10000, 10000]))
        self.assertEqual(check.verdict(), "FAIL")
        self.assertTrue(check.measured.startswith("89.6% ("), check.measured)
        self.assertIn(", 89.6%–89.6%)", check.measured)

    def test_churn_fails_when_directmem_throws(self):
        # Throughput kept while calls fail is not the target met, under the flag or without it.
        for with_errors, without_errors in ((2.5, 0), (0, 2.5)):
            with self.subTest(with_errors=with_errors, without_errors=without_errors):
                check = self.churn_check(churn("ChurnDisableExplicitGC", [13000, 13100], with_errors),
                                         churn("Churn", [13000, 13050], without_errors))
                self.assertEqual(check.verdict(), "FAIL")
                self.assertRegex(check.measured, r"; directmem's OutOfMemoryErrors per iteration: .*2\.50")

    def test_churn_without_errors_says_none(self):
        check = self.churn_check(churn("ChurnDisableExplicitGC", [13000, 13100]), churn("Churn", [13000, 13050]))
        self.assertEqual(check.verdict(), "PASS")
        self.assertNotIn("OutOfMemoryError", check.measured)

    def test_the_churn_table_shows_directmem_errors(self):
        table = report.Table([churn("Churn", [13000, 13100], 2.5), churn("Churn", [9000, 9100], peer="jdk")])
        row = next(line for line in report.scenario_tables(table, 17) if line.startswith("| 1 MiB"))
        directmem_cell = row.split(" | ")[2]
        self.assertIn("2.50 OutOfMemoryErrors/iteration", directmem_cell)

    def test_the_paragraph_names_the_level_and_its_t(self):
        text = report.interval_text()
        self.assertIn("95 % interval", text)
        self.assertIn("4.3 to 12.7", text)

    def test_the_paragraph_names_every_verdict(self):
        text = report.interval_text()
        for word in ("PASS", "FAIL", "INCONCLUSIVE", "\"one fork\"", "\"a fork scored 0\"", "NOT MEASURED"):
            with self.subTest(word=word):
                self.assertIn(word, text)


class Loading(unittest.TestCase):
    def load(self, *files):
        """report.load over JSON files holding the given lists of entries."""
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        paths = []
        for i, entries in enumerate(files):
            paths.append(os.path.join(folder, f"run-{i}.json"))
            with open(paths[-1], "w") as f:
                f.write("" if entries is None else json.dumps(entries))
        return report.load(paths)[0]

    def test_rounds_of_one_measurement_make_one_row(self):
        results = self.load([entry("GcPath.jdk", [[1, 2]])], [entry("GcPath.jdk", [[3, 4]])])
        self.assertEqual(len(results), 1)
        self.assertEqual(report.Table(results).get(17, "GcPath", MIB, 1, "jdk").fork_scores, [1.5, 3.5])

    def test_an_empty_file_holds_no_results(self):
        # JMH creates the result file first and writes it at the end: a run that -foe stopped leaves it empty.
        with contextlib.redirect_stderr(io.StringIO()) as warning:
            results = self.load([entry("GcPath.jdk", [[1, 2]])], None)
        self.assertEqual(len(results), 1)
        self.assertIn("run-1.json is empty", warning.getvalue())

    def test_a_row_twice_is_an_error(self):
        # A quick run's JSON left beside a full run's: other iterations, so not rounds to pool.
        results = self.load([entry("GcPath.jdk", [[1, 2]])], [entry("GcPath.jdk", [[3, 4]], time="500 ms")])
        with self.assertRaisesRegex(ValueError, r"GcPath\.jdk.*JDK 17.*1 MiB.*1 thread"):
            report.Table(results)


class Settings(unittest.TestCase):
    def test_the_pooled_rows_are_named_as_they_are(self):
        def pooled(benchmark, size):
            rounds = [entry(benchmark, [[1, 2], [3, 4]], size=size), entry(benchmark, [[1, 2]] * 3, size=size)]
            return report.Result(report.pooled(rounds))

        results = [report.Result(entry("ExplicitPath.netty", [[1, 2], [3, 4]], size=64)),
                   pooled("GcPath.directmem", 64), pooled("GcPath.jdk", 64), pooled("GcPath.directmem", MIB),
                   pooled("GcPath.jdk", MIB), pooled("ExplicitPath.jdk", MIB), pooled("ExplicitPath.directmem", MIB)]
        text = report.settings_text(results)
        self.assertTrue(text.startswith("2 forks, 2 warm-up iterations of 1 s"), text)
        self.assertNotIn("1 MiB and above", text)  # it said so, and listed 64 B among them
        self.assertIn("; directmem and the JDK in the target rows against the JDK (GC path at 64 B and 1 MiB, "
                      "explicit path at 1 MiB) in 5 forks from 2 runs, pooled", text)


    def test_every_fork_flags_come_from_a_stable_entry(self):
        base = ["--enable-native-access=ALL-UNNAMED", "-Xmx512m"]
        flagged = base + ["-XX:MaxDirectMemorySize=64m", "-XX:+DisableExplicitGC"]
        churn_with_flag = report.Result(entry("ChurnDisableExplicitGC.directmem", [[1, 2]], threads=2, jvm_args=flagged))
        gc_path = report.Result(entry("GcPath.jdk", [[1, 2]], jvm_args=base + ["-XX:MaxDirectMemorySize=64m"]))
        jdk25 = report.Result(dict(entry("GcPath.jdk", [[1, 2]], jvm_args=["--sun-misc-unsafe-memory-access=allow"]
                                         + base + ["-XX:MaxDirectMemorySize=64m"]), jdkVersion="25.0.2"))
        expected = "--enable-native-access=ALL-UNNAMED -Xmx512m"
        self.assertEqual(report.every_fork_flags([churn_with_flag, jdk25, gc_path]), expected)
        # Without the GC path's entry, the budget and the flag go by their prefix all the same.
        self.assertEqual(report.every_fork_flags([churn_with_flag]), expected)


class Chart(unittest.TestCase):
    def test_bars_keep_their_size_when_a_directmem_row_is_missing(self):
        # The labels and marks went by the peer's sizes, so a bar without directmem's row shifted them.
        sizes = [64, 4096, MIB]
        table = report.Table([result("GcPath.jdk", [100, 100], size=size) for size in sizes]
                             + [result("GcPath.directmem", [200, 200], size=4096),
                                result("GcPath.directmem", [400, 400], size=MIB)])
        points = report.bar_points(table, 17, "GcPath", sizes, "jdk")
        self.assertEqual([(x, size) for x, _, size in points], [(1, 4096), (2, MIB)])
        self.assertEqual([round(value, 9) for _, value, _ in points], [2, 4])

    def test_no_bar_for_what_a_log_axis_cannot_show(self):
        table = report.Table([result("GcPath.jdk", [100, 100], size=64), result("GcPath.directmem", [0, 0], size=64),
                              result("GcPath.jdk", [0, 0], size=4096), result("GcPath.directmem", [5, 5], size=4096)])
        self.assertEqual(report.bar_points(table, 17, "GcPath", [64, 4096], "jdk"), [])


class MissingRows(unittest.TestCase):
    def test_a_missing_row_reads_not_measured_in_a_full_run(self):
        check = report.Check.not_measured("GC path vs allocateDirect at 64 B: ≥ 1.5x")
        self.assertEqual(check.verdict(), "n/a")
        self.assertEqual(check.verdict(full=True), "NOT MEASURED")
        self.assertEqual(report.Check.not_measured("an aim", kind="aim").verdict(full=True), "NOT MEASURED (aim)")

    def test_the_targets_of_a_missing_row_are_missing(self):
        table = report.Table([result("GcPath.directmem", [300, 310], size=64),
                              result("GcPath.jdk", [100, 110], size=64)])
        checks = {check.target: check for check in report.targets(table, [], 17)}
        self.assertFalse(checks["GC path vs allocateDirect at 64 B: ≥ 1.5x"].missing)
        self.assertTrue(checks["GC path vs allocateDirect at 4 KiB: ≥ 1.5x"].missing)
        self.assertTrue(checks["Churn, 2 threads: throughput under -XX:+DisableExplicitGC ≥ 90 % of without"].missing)

    def run_report(self, mode):
        """report.main over one GC path pair at 64 B (the chart left out: matplotlib is not needed here):
        its exit status, BENCHMARKS.md and what it wrote to stderr."""
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        path, markdown = os.path.join(folder, "jdk17.json"), os.path.join(folder, "BENCHMARKS.md")
        with open(path, "w") as f:
            json.dump([entry("GcPath.directmem", [[300, 310], [305, 300]], size=64),
                       entry("GcPath.jdk", [[100, 110], [105, 100]], size=64)], f)
        argv = ["report.py", "--mode", mode, "--markdown", markdown, "--chart", os.path.join(folder, "chart.png"),
                path]
        status = 0
        with mock.patch.object(sys, "argv", argv), mock.patch.object(report, "chart"), \
                contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as errors:
            try:
                report.main()
            except SystemExit as exit:
                status = exit.code
        with open(markdown) as f:
            return status, f.read(), errors.getvalue()

    def test_a_full_run_with_missing_rows_fails_after_writing_the_report(self):
        status, markdown, errors = self.run_report("full")
        self.assertEqual(status, 1)
        self.assertRegex(markdown, r"\| GC path vs allocateDirect at 64 B: ≥ 1\.5x \| 2\.\d\dx \(.*\) \| PASS \|")
        self.assertIn("| GC path vs allocateDirect at 4 KiB: ≥ 1.5x | not measured | NOT MEASURED |", markdown)
        self.assertIn("GC path vs allocateDirect at 4 KiB", errors)

    def test_a_quick_run_may_miss_rows(self):
        status, markdown, _ = self.run_report("quick")
        self.assertEqual(status, 0)
        self.assertIn("| GC path vs allocateDirect at 4 KiB: ≥ 1.5x | not measured | n/a |", markdown)


def write_junit_xml(path):
    """Runs every test here, and writes the results as JUnit XML (which .ci/run counts) to path."""
    import xml.etree.ElementTree as ET

    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    names = [test.id() for test in flatten(suite)]  # before the run, which empties the suite
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    # A failing subtest counts against the test that holds it.
    problems = {getattr(test, "test_case", test).id(): text for test, text in result.failures + result.errors}
    root = ET.Element("testsuite", name="bench.test_report", tests=str(len(names)),
                      failures=str(len(problems)), errors="0", skipped="0")
    for name in names:
        test_class, test = name.rsplit(".", 1)
        case = ET.SubElement(root, "testcase", classname=test_class.replace("__main__", "bench.test_report"), name=test)
        if name in problems:
            lines = problems[name].strip().splitlines()
            ET.SubElement(case, "failure", message=next((line for line in lines if "Error: " in line), lines[-1]))
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)
    return result.wasSuccessful()


def flatten(suite):
    for test in suite:
        yield from flatten(test) if isinstance(test, unittest.TestSuite) else (test,)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--junit-xml"]:
        sys.exit(0 if write_junit_xml(sys.argv[2]) else 1)
    unittest.main()
