#!/usr/bin/env bash
# Tests the CI scripts on planted inputs, with stubs only (a few seconds, nothing built): the
# summary's last line whatever the XML files hold (gradle/ci-summary.py); cargo test's output
# turned into named cases, an aborted test binary too (gradle/cargo-junit.py); run_suite's named
# cases for failures the launcher's XML does not show, and its killing of what a killed JVM left
# running (gradle/matrix.sh, with a stub java); aarch64-test's own status for a missing
# toolchain; assemble stopping at a failed step; the CI deadline's cap on each limit
# (gradle/time-limit.sh). Writes JUnit XML to
# build/test-results/ci-scripts, which .ci/run counts with the rest.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
repo=$PWD
source gradle/junit-xml.sh
source gradle/time-limit.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cases=()   # one "name|failure message or empty" per case
expect() { # name, condition (a bash expression), what went wrong
  if eval "$2"; then cases+=("$1|"); else cases+=("$1|$3"); fi
}
xml() { # file, then the lines of a <testsuite>
  local file=$1; shift
  mkdir -p "$(dirname "$file")"
  printf '%s\n' '<?xml version="1.0" encoding="UTF-8"?>' "$@" >"$file"
}

# --- the summary ---
xml "$work/ok/cell/TEST-a.xml" '<testsuite name="a" tests="3" failures="1" errors="0" skipped="1">' \
  '<testcase classname="a.A" name="fails"><failure message="expected 1"/></testcase>' '</testsuite>'
out=$(python3 gradle/ci-summary.py 0 "$work/ok")
expect summary_counts_and_names_each_failure \
  '[[ $(tail -1 <<<"$out") == "1 passed, 1 failed" ]] && grep -qx "FAILED cell a.A.fails: expected 1" <<<"$out"' \
  "got: $out"

cp -r "$work/ok" "$work/bad"
printf '<?xml version="1.0"?>\n<testsuite name="cut" tests="2"><testcase' >"$work/bad/cell/TEST-cut.xml"
xml "$work/bad/cell/TEST-nan.xml" '<testsuite name="n" tests="many" failures="0" errors="0" skipped="0"/>'
printf '<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="b" tests="1" failures="1"><testcase classname="b" name="c"><failure message="bad \xff\xfe byte"/></testcase></testsuite>\n' \
  >"$work/bad/cell/TEST-bytes.xml"
out=$(python3 gradle/ci-summary.py 0 "$work/bad" 2>&1)
expect summary_counts_an_unreadable_file_as_a_named_failure \
  '[[ $(tail -1 <<<"$out") == "1 passed, 4 failed" ]] && grep -q "FAILED .*TEST-cut.xml: unreadable" <<<"$out" &&
   grep -q "FAILED .*TEST-nan.xml: unreadable" <<<"$out"' \
  "the last line is not the summary or a file is not named: $out"

out=$(python3 gradle/ci-summary.py 1 "$work/none")
expect summary_counts_a_failed_run_without_xml \
  '[[ $(tail -1 <<<"$out") == "0 passed, 1 failed" ]]' "got: $out"

# --- cargo test's output ---
{
  printf '     Running unittests rust/src/lib.rs (target/release/deps/directmem-1)\n\nrunning 3 tests\n'
  printf 'test a::passes ... ok\ntest a::ignored ... ignored\ntest a::fails ... FAILED\n\nfailures:\n\n'
  printf -- "---- a::fails stdout ----\n\nthread 'a::fails' panicked at rust/src/a.rs:4:26:\nplanted \xff failure\n\n"
  printf 'failures:\n    a::fails\n\ntest result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out\n\n'
  printf '     Running rust/tests/caches_on.rs (target/release/deps/caches_on-2)\n\nrunning 2 tests\ntest first ... ok\n'
  printf 'error: test failed, to rerun pass `--test caches_on`\n\nCaused by:\n'
  printf '  process didn'"'"'t exit successfully: `target/release/deps/caches_on-2` (signal: 6, SIGABRT: process abort signal)\n'
  printf '   Doc-tests directmem\n\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n'
} >"$work/cargo.log"
python3 gradle/cargo-junit.py cargo "$work/cargo.log" "$work/cargo/TEST-cargo.xml" 101 >"$work/out" 2>&1
status=$?
out=$(python3 gradle/ci-summary.py 0 "$work/cargo")
expect cargo_junit_names_a_failed_test_and_an_aborted_binary \
  '[[ $status == 1 && $(tail -1 <<<"$out") == "2 passed, 2 failed" ]] &&
   grep -q "FAILED cargo cargo.lib.a::fails: thread .a::fails. panicked at rust/src/a.rs:4:26: planted" <<<"$out" &&
   grep -q "FAILED cargo cargo.caches_on.caches_on_did_not_finish: .*SIGABRT.*1 of 2 tests" <<<"$out"' \
  "status $status, parser: $(cat "$work/out"), summary: $out"

printf '   Compiling directmem v0.1.0\nerror[E0425]: cannot find value `x`\n' >"$work/cargo-build.log"
python3 gradle/cargo-junit.py cargo "$work/cargo-build.log" "$work/cargo-build/TEST-cargo.xml" 101 >"$work/out" 2>&1
status=$?
out=$(python3 gradle/ci-summary.py 0 "$work/cargo-build")
expect cargo_junit_names_a_build_that_failed \
  '[[ $status == 1 && $(tail -1 <<<"$out") == "0 passed, 1 failed" ]] && grep -q "cargo.cargo_test_ran: cargo test exited with status 101" <<<"$out"' \
  "status $status, parser: $(cat "$work/out"), summary: $out"

# --- run_suite, with a java that writes a passing suite's XML and summary, then does $STUB ---
mkdir -p "$work/repo"
ln -s "$repo/gradle" "$work/repo/gradle"
cat >"$work/java" <<'EOF'
#!/bin/sh
while [ $# -gt 0 ]; do [ "$1" = --reports-dir ] && dir=$2; shift; done
mkdir -p "$dir"
printf '<?xml version="1.0"?>\n<testsuite name="s" tests="1" failures="0" errors="0" skipped="0"><testcase classname="s" name="t"/></testsuite>\n' >"$dir/TEST-s.xml"
case $STUB in
  hang) sleep 300 & sleep 300 ;;   # a JVM that hangs with a child JVM, killed at the limit
  exit1) echo "Test run finished after 1 ms"; exit 1 ;;   # an @AfterAll failure, say
  jni) echo "Test run finished after 1 ms"; echo "WARNING in native method: JNI call made without checking exceptions" ;;
esac
EOF
chmod +x "$work/java"
suite() { # label, STUB: run_suite on the stub java in $work/repo; its status, then the summary of its XML
  (
    cd "$work/repo" || exit 1
    test_flags=() collectors=() jar=none.jar
    junit_jar() { echo none.jar; }
    source gradle/matrix.sh
    STUB=$2 run_suite "$work/java" "$work/results/$1" "$1" >"$work/$1.out" 2>&1
    echo "status $?"
  )
  python3 gradle/ci-summary.py 0 "$work/results/$1"
}
out=$(suite exit1 exit1)
expect run_suite_names_an_exit_status_after_the_summary \
  '[[ $(head -1 <<<"$out") == "status 1" && $(tail -1 <<<"$out") == "1 passed, 1 failed" ]] && grep -q "exit1.launcher_exit_1:" <<<"$out"' \
  "got: $out"
out=$(suite jni jni)
expect run_suite_names_jni_warnings \
  '[[ $(head -1 <<<"$out") == "status 1" && $(tail -1 <<<"$out") == "1 passed, 1 failed" ]] &&
   grep -q "jni.jni_warnings: jni: -Xcheck:jni warnings, the first: WARNING in native method" <<<"$out"' \
  "got: $out"
# The stub and its child sleep on after the limit's QUIT ends the sh; the label is this run's own
# (run_suite marks with "<label>-<pid>-<random>"), not an earlier run's.
out=$(DIRECTMEM_CELL_TIMEOUT_SECONDS=1 suite "hang$$" hang)
left=$(grep -lzE "^DIRECTMEM_CELL_MARK=hang$$-" /proc/[0-9]*/environ 2>/dev/null | wc -l)
expect run_suite_kills_what_a_killed_jvm_left_running \
  '[[ $(head -1 <<<"$out") == "status 1" && $left == 0 ]] && grep -q "hang$$.run_did_not_finish:.*killed after 1 s" <<<"$out"' \
  "$left processes left running; got: $out"

# --- the rest ---
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=no-such-gcc gradle/without-gradle.sh aarch64-test >"$work/out" 2>&1
status=$?
expect aarch64_test_says_toolchain_missing_with_its_own_status \
  '[[ $status == 77 ]] && grep -q "no no-such-gcc" "$work/out"' "status $status: $(cat "$work/out")"

# assemble in a || list (as aarch64.sh and newest-javac.sh call it), where set -e does not apply:
# a failing cargo build must end it before it touches build/.
mkdir -p "$work/bin"
printf '#!/bin/sh\necho "stub cargo $*: failing" >&2\nexit 1\n' >"$work/bin/cargo"
chmod +x "$work/bin/cargo"
cp gradle.properties "$work/repo/"
PATH="$work/bin:$PATH" "$work/repo/gradle/without-gradle.sh" newest-javac /no-jdk >"$work/out" 2>&1
status=$?
expect assemble_stops_at_its_first_failing_step \
  '[[ $status != 0 && ! -e $work/repo/build/classes/java/main ]]' \
  "status $status, build/classes/java/main $([[ -e $work/repo/build/classes/java/main ]] && echo made || echo not made): $(tail -3 "$work/out")"

limits="$(DIRECTMEM_DEADLINE='' time_limit 600) $(DIRECTMEM_DEADLINE=$(($(date +%s) + 100)) time_limit 600) $(DIRECTMEM_DEADLINE=1 time_limit 600)"
expect time_limit_is_capped_by_the_deadline \
  '[[ $limits =~ ^600\ (99|100)\ 10$ ]]' "600 s with no deadline, 100 s left, and the deadline past gave: $limits"

junit_xml ci-scripts build/test-results/ci-scripts/TEST-ci-scripts.xml "${cases[@]}"
