#!/usr/bin/env bash
# The build's tasks without Gradle, for machines where ./gradlew cannot download its
# distribution: the same cargo commands, javac --release 17, the same jar layout, and the JUnit
# suite once per collector with the flags of build.gradle.kts, writing JUnit XML where Gradle does.
#
#   gradle/without-gradle.sh assemble | check | demo [MiB] | test [--jdk N] [--gc NAME] | matrix
#   gradle/without-gradle.sh publishToMavenLocal | example | newest-javac [JAVA_HOME] | aarch64-test
#   gradle/without-gradle.sh jmh [options] | benchmarks [--quick]   (see gradle/jmh.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

version=$(sed -n 's/^version=//p' gradle.properties)
junit_console=1.13.4   # the JUnit Platform of junit-bom 5.13.4 in build.gradle.kts
junit_console_sha256=3fdfc37e29744a9a67dd5365e81467e26fbde0b7aa204e6f8bbe79eeaa7ae892
test_flags=(--enable-native-access=ALL-UNNAMED -XX:+DisableExplicitGC -Xcheck:jni -XX:MaxDirectMemorySize=64m -Xmx256m)
collectors=(G1 Parallel Serial Z Shenandoah)
jar=build/libs/directmem-$version.jar

# Each step returns on failure: callers run it in a || list too (aarch64.sh, newest-javac.sh),
# where set -e does not apply, and it went on to build a jar past a failed step.
assemble() {
  cargo build --release --locked || return 1
  rm -rf build/classes/java/main build/generated/native-resources || return 1
  mkdir -p build/classes/java/main build/generated/native-resources/native/linux-x86_64 build/libs || return 1
  javac --release 17 -encoding UTF-8 -Xlint:all -Werror -d build/classes/java/main \
    $(find java/src/main/java -name '*.java') || return 1
  cp target/release/libdirectmem.so build/generated/native-resources/native/linux-x86_64/ || return 1
  # linux-aarch64 too, where its cross toolchain is (gradle/aarch64.sh).
  aarch64_assemble build/generated/native-resources || return 1
  # The licence and the crates compiled into the library travel with it, as in Gradle's jars;
  # from a folder of their own: Gradle's jar task adds them itself, and takes the folder above as
  # resources (publishing.sh writes this one too).
  rm -rf build/generated/licence && mkdir -p build/generated/licence/META-INF || return 1
  cp LICENSE THIRD-PARTY.md build/generated/licence/META-INF/ || return 1
  rm -f "$jar" || return 1
  jar --create --file "$jar" -C build/classes/java/main . -C build/generated/native-resources . \
    -C build/generated/licence . || return 1
  echo "built $jar"
}

junit_jar() {
  local file="build/tools/junit-platform-console-standalone-$junit_console.jar"
  if [[ ! -f $file ]]; then
    local url="https://repo1.maven.org/maven2/org/junit/platform/junit-platform-console-standalone/$junit_console/junit-platform-console-standalone-$junit_console.jar"
    mkdir -p build/tools
    # Callers run this in $(...), where set -e does not stop at a failed curl.
    # As gradlew: any error retried, a stall (under 1 KiB/s for a minute) abandoned and retried.
    curl -fsSL --retry 3 --retry-all-errors --speed-limit 1024 --speed-time 60 -o "$file.part" "$url" ||
      { echo "could not download $url" >&2; rm -f "$file.part"; return 1; }
    [[ $(sha256sum "$file.part" | cut -d' ' -f1) == "$junit_console_sha256" ]] ||
      { echo "checksum mismatch for the JUnit console launcher" >&2; rm -f "$file.part"; exit 1; }
    mv "$file.part" "$file"
  fi
  echo "$file"
}

check() {
  local status=0 junit
  assemble
  rm -rf build/test-results
  gradle/cargo-test.sh || status=1   # JUnit XML too; the JUnit runs go on after a Rust failure
  jmh_compile   # the benchmarks must keep compiling against the library (none is run)
  junit=$(junit_jar) || return 1
  compile_tests "$junit"
  for gc in "${collectors[@]}"; do
    local task=test$gc
    [[ $gc == G1 ]] && task=test
    # run_suite (gradle/matrix.sh) also fails the run on any -Xcheck:jni warning.
    run_suite java "build/test-results/$task" "$task" "-XX:+Use${gc}GC" || status=1
  done
  return $status
}

demo() {
  assemble
  mkdir -p build/classes/java/demo
  javac --release 17 -encoding UTF-8 -Xlint:all -Werror -d build/classes/java/demo -cp "$jar" $(find java/src/demo/java -name '*.java')
  # A hung demo fails after 5 minutes (4 GiB take seconds); --foreground: the JVM is the one process.
  timeout --foreground --kill-after=30s "$(time_limit 300)" \
    java --enable-native-access=ALL-UNNAMED -XX:+DisableExplicitGC -XX:MaxDirectMemorySize=64m -Xmx256m \
    -cp "$jar:build/classes/java/demo" dev.directmem.demo.Demo "${1:-4096}"
}

# --- benchmarks: the JMH suite, in its own file ---
source gradle/jmh.sh
# The test matrix (JDK 17/21/25 x collectors) and the JNI-warning check: gradle/matrix.sh.
source gradle/matrix.sh
# Every source set compiled with the newest javac on the machine: gradle/newest-javac.sh.
source gradle/newest-javac.sh
# The linux-aarch64 library: cross-compiled, tested under qemu-user (gradle/aarch64.sh).
source gradle/aarch64.sh

case "${1:-}" in
  assemble) assemble ;;
  check) check ;;
  demo) demo "${2:-}" ;;
  # Publishing and the example consumer: gradle/publishing.sh.
  publishToMavenLocal) source gradle/publishing.sh; assemble; publish_to_maven_local ;;
  example) source gradle/publishing.sh; example ;;
  jmh) shift; jmh "$@" ;;
  benchmarks) shift; benchmarks "$@" ;;
  test) shift; matrix_test "$@" ;;
  matrix) matrix ;;
  newest-javac) newest_javac "${2:-}" ;;
  aarch64-test) aarch64_test ;;
  *) echo "usage: $0 assemble | check | demo [MiB] | test [--jdk N] [--gc NAME] | matrix | newest-javac [JAVA_HOME] | aarch64-test | publishToMavenLocal | example | jmh [options] | benchmarks [--quick]" >&2; exit 2 ;;
esac
