#!/usr/bin/env python3
"""The summary .ci/run ends with: every JUnit XML file under a folder counted, each failure named.

    ci-summary.py <the run's status> [folder, default build/test-results]

Its last line is exactly "N passed, N failed", which CI reads, whatever the files hold: a file
that cannot be read or counted (cut short by a killed runner, bad bytes, a count that is no
number) is a failure named for the file, never a reason to print nothing.
"""
import glob
import sys
import xml.etree.ElementTree as ET

status = int(sys.argv[1]) if sys.argv[1:] and sys.argv[1].lstrip("-").isdigit() else 1
folder = sys.argv[2] if len(sys.argv) > 2 else "build/test-results"
passed = failed = skipped = 0
try:
    for path in sorted(glob.glob(f"{folder}/**/*.xml", recursive=True)):
        cell = path.split("/")[-2]
        try:
            root = ET.parse(path).getroot()
            counts = [(int(s.get("tests", 0)), int(s.get("failures", 0)) + int(s.get("errors", 0)), int(s.get("skipped", 0)))
                      for s in root.iter("testsuite")]
            names = []
            for case in root.iter("testcase"):
                for problem in list(case.iter("failure")) + list(case.iter("error")):
                    first = (problem.get("message") or problem.text or "").strip().splitlines()[:1]
                    names.append(f"FAILED {cell} {case.get('classname')}.{case.get('name')}: {first[0][:300] if first else ''}")
        except Exception as e:  # ParseError, OSError, ValueError from int(), ...
            print(f"FAILED {path}: unreadable JUnit XML ({type(e).__name__}: {str(e)[:200]})")
            failed += 1
            continue
        for tests, bad, skip in counts:
            passed += tests - bad - skip; failed += bad; skipped += skip
        # Each failure named here, as the log's tail may be all a reader of CI gets.
        for line in names:
            print(line)
except Exception as e:  # whatever else goes wrong, the last line still comes
    print(f"FAILED summary: {type(e).__name__}: {e}")
    failed += 1
if status != 0 and failed == 0:
    failed = 1  # the build itself failed
print(f"{skipped} skipped")
# CI reads the last line, which must be exactly "N passed, N failed".
print(f"{passed} passed, {failed} failed")
sys.exit(0 if status == 0 and failed == 0 and passed > 0 else 1)
