#!/usr/bin/env python3
"""JUnit XML from the output of `cargo test`, one case per Rust test, for .ci/run to count.

    cargo-junit.py <suite> <log> <xml> <cargo's exit status> [name|reason of a skipped test...]

Used for the x86-64 tests (gradle/matrix.sh) and the aarch64 ones under qemu (gradle/aarch64.sh).
A test binary that ended without its "test result:" line (an abort, a signal, a timeout) is a
failed case of its own, named for the binary; a failure that no case names (the build, the
runner) is the case cargo_test_ran. Exits 1 when anything failed.
"""
import os
import re
import sys
from xml.sax.saxutils import quoteattr

suite, log, out, status, skips = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
try:
    text = open(log, errors="replace").read()
except OSError as e:
    text = ""
    print(f"{suite}: cannot read {log}: {e}")

# One section per test binary: cargo's "Running <file> (<binary>)" or "Doc-tests <crate>" line.
header = re.compile(r"^\s+(?:Running (?:unittests )?(\S+)|Doc-tests (\S+))", re.M)
starts = list(header.finditer(text))
sections = []
for i, m in enumerate(starts):
    end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
    binary = "doc" if m[2] else os.path.splitext(os.path.basename(m[1]))[0]
    sections.append((binary, text[m.end():end]))


def why(body, name):
    """The first lines libtest printed for a failed test (its panic message)."""
    m = re.search(r"^---- " + re.escape(name) + r" std(?:out|err) ----\n(.*?)(?=^---- |^failures:|\Z)", body, re.M | re.S)
    lines = [l.strip() for l in (m[1] if m else "").splitlines() if l.strip() and not l.startswith("note: run with")]
    return " ".join(lines[:3])[:300]


rows, failed, skipped = [], 0, 0
for binary, body in sections:
    classname = quoteattr(f"{suite}.{binary}")
    for name, result in re.findall(r"^test (.+?) \.\.\. (ok|FAILED|ignored.*)$", body, re.M):
        if result == "ok":
            rows.append(f"  <testcase classname={classname} name={quoteattr(name)}/>")
        elif result == "FAILED":
            failed += 1
            message = why(body, name) or "failed"
            rows.append(f"  <testcase classname={classname} name={quoteattr(name)}>"
                        f"<failure message={quoteattr(message + '; see ' + log)}/></testcase>")
        else:
            skipped += 1
            rows.append(f"  <testcase classname={classname} name={quoteattr(name)}><skipped message={quoteattr(result)}/></testcase>")
    running = re.search(r"^running (\d+) tests?$", body, re.M)
    if running and not re.search(r"^test result: ", body, re.M):
        # The binary ended before its summary: cargo says how ("process didn't exit successfully:
        # `...` (signal: 6, SIGABRT: process abort signal)") after the section, before the next.
        how = re.search(r"process didn't exit successfully: `[^`]*` \(([^)]*)\)", body)
        done = len(re.findall(r"^test .+? \.\.\. ", body, re.M))
        ended = "cargo test was killed at its time limit" if status in (124, 137) else f"cargo exit status {status}"
        message = (f"the test binary ended before its summary ({how[1] if how else ended}), "
                   f"{done} of {running[1]} tests reported; see {log}")
        rows.append(f"  <testcase classname={classname} name={quoteattr(binary + '_did_not_finish')}>"
                    f"<failure message={quoteattr(message)}/></testcase>")
        failed += 1
for skip in skips:
    name, reason = skip.split("|", 1)
    rows.append(f"  <testcase classname={quoteattr(suite)} name={quoteattr(name)}><skipped message={quoteattr('skipped: ' + reason)}/></testcase>")
    skipped += 1
if status and not failed or not rows:  # a build, runner or timeout failure that names no test
    timed_out = " (killed by its timeout)" if status in (124, 137) else ""
    rows.append(f'  <testcase classname={quoteattr(suite)} name="cargo_test_ran"><failure message='
                f'{quoteattr(f"cargo test exited with status {status}{timed_out} before or outside its tests; see {log}")}/></testcase>')
    failed += 1
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out, "w") as f:
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    f.write(f'<testsuite name={quoteattr(suite)} tests="{len(rows)}" failures="{failed}" errors="0" skipped="{skipped}">\n')
    f.write("\n".join(rows) + "\n</testsuite>\n")
print(f"{suite}: {len(rows) - failed - skipped} passed, {failed} failed, {skipped} skipped")
for skip in skips:
    print("  skipped: " + skip.replace("|", ": "))
sys.exit(1 if failed else 0)
