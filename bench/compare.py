#!/usr/bin/env python3
"""Compares two JMH runs of the suite, benchmark by benchmark: what a change bought.

    python3 bench/compare.py BEFORE.json AFTER.json

Prints one Markdown row per benchmark present in both, with each run's score and the speed-up
(throughput after / before, latency before / after: above 1 means faster after). Peers are shown
too: they did not change, so their drift shows the noise of the machine. Standard library only.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import Result, ratio_text, size_label, speedup  # noqa: E402


def load(path):
    with open(path) as f:
        results = [Result(entry) for entry in json.load(f)]
    return {(r.jdk, r.scenario, r.peer, r.size, r.threads): r for r in results}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    before, after = load(sys.argv[1]), load(sys.argv[2])
    print("| benchmark | size | threads | before | after | speed-up |")
    print("|---|---|---|---|---|---|")
    for key in sorted(before.keys() & after.keys()):
        jdk, scenario, peer, size, threads = key
        old, new = before[key], after[key]
        print(f"| {scenario}.{peer} (JDK {jdk}) | {size_label(size)} | {threads} | {old.text()} | {new.text()} "
              f"| {ratio_text(speedup(new, old))} |")


if __name__ == "__main__":
    main()
