#!/usr/bin/env bash
# cargo test on this machine, for Gradle's cargoTest task and gradle/without-gradle.sh: cargo's
# output to the console and build/cargo-test.log, and one JUnit case per test in
# build/test-results/cargo/ (gradle/cargo-junit.py, as for aarch64), which .ci/run counts.
# --no-fail-fast: a failing or aborting test binary does not keep the others from running, and
# names itself in the XML. Exits 1 when a test or cargo itself failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
mkdir -p build
source gradle/time-limit.sh
status=0
# A hung test ends the run after 10 minutes (a normal one takes 5 s, after a 30 s build), named
# in the XML. Not --foreground: in a process group of its own, the test binaries, cargo's
# children, are killed with it (killing cargo alone left them running, holding tee's pipe).
timeout --kill-after=30s "$(time_limit 600)" cargo test --release --locked --no-fail-fast 2>&1 |
  tee build/cargo-test.log || status=${PIPESTATUS[0]}
exec python3 gradle/cargo-junit.py cargo build/cargo-test.log build/test-results/cargo/TEST-cargo.xml "$status"
