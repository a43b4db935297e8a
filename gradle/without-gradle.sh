#!/usr/bin/env bash
# The build's tasks without Gradle, for machines where ./gradlew cannot download its
# distribution: the same cargo commands, javac --release 17, the same jar layout, and the JUnit
# suite once per collector with the flags of build.gradle.kts, writing JUnit XML where Gradle does.
#
#   gradle/without-gradle.sh assemble | check | demo [MiB] | footprint
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

version=$(sed -n 's/^version=//p' gradle.properties)
junit_console=1.13.4   # the JUnit Platform of junit-bom 5.13.4 in build.gradle.kts
junit_console_sha256=3fdfc37e29744a9a67dd5365e81467e26fbde0b7aa204e6f8bbe79eeaa7ae892
test_flags=(--enable-native-access=ALL-UNNAMED -XX:+DisableExplicitGC -Xcheck:jni -XX:MaxDirectMemorySize=64m -Xmx256m)
collectors=(G1 Parallel Serial Z Shenandoah)
jar=build/libs/directmem-$version.jar

assemble() {
  cargo build --release --locked
  rm -rf build/classes/java/main build/generated/native-resources
  mkdir -p build/classes/java/main build/generated/native-resources/native/linux-x86_64 build/libs
  javac --release 17 -encoding UTF-8 -Xlint:all -Werror -d build/classes/java/main \
    $(find java/src/main/java -name '*.java')
  cp target/release/libdirectmem.so build/generated/native-resources/native/linux-x86_64/
  rm -f "$jar"
  jar --create --file "$jar" -C build/classes/java/main . -C build/generated/native-resources .
  echo "built $jar"
}

junit_jar() {
  local file="build/tools/junit-platform-console-standalone-$junit_console.jar"
  if [[ ! -f $file ]]; then
    mkdir -p build/tools
    curl -fsSL --retry 3 -o "$file.part" \
      "https://repo1.maven.org/maven2/org/junit/platform/junit-platform-console-standalone/$junit_console/junit-platform-console-standalone-$junit_console.jar"
    [[ $(sha256sum "$file.part" | cut -d' ' -f1) == "$junit_console_sha256" ]] ||
      { echo "checksum mismatch for the JUnit console launcher" >&2; rm -f "$file.part"; exit 1; }
    mv "$file.part" "$file"
  fi
  echo "$file"
}

check() {
  assemble
  cargo test --release --locked 2>&1 | tee build/cargo-test.log
  local junit status=0
  junit=$(junit_jar)
  rm -rf build/classes/java/test build/test-results
  mkdir -p build/classes/java/test
  javac --release 17 -encoding UTF-8 -Xlint:all -Werror -d build/classes/java/test -cp "$jar:$junit" \
    $(find java/src/test/java -name '*.java')
  for gc in "${collectors[@]}"; do
    local task=test$gc
    [[ $gc == G1 ]] && task=test
    echo "== JUnit on $gc (-XX:+Use${gc}GC ${test_flags[*]})"
    java "${test_flags[@]}" "-XX:+Use${gc}GC" -jar "$junit" execute --disable-banner \
      --details=summary --class-path "$jar:build/classes/java/test" --select-package dev.directmem \
      --reports-dir "build/test-results/$task" || status=1
  done
  return $status
}

demo() {
  assemble
  mkdir -p build/classes/java/demo
  javac --release 17 -encoding UTF-8 -Xlint:all -Werror -d build/classes/java/demo -cp "$jar" $(find java/src/demo/java -name '*.java')
  java --enable-native-access=ALL-UNNAMED -XX:+DisableExplicitGC -XX:MaxDirectMemorySize=64m -Xmx256m \
    -cp "$jar:build/classes/java/demo" dev.directmem.demo.Demo "${1:-4096}"
}

# --- footprint (performance work, issue 3): resident memory of large and small buffers -------
# A fixed, pre-touched heap, so that the resident set grows only by native memory.
footprint() {
  assemble
  mkdir -p build/classes/java/demo
  javac --release 17 -encoding UTF-8 -Xlint:all -Werror -d build/classes/java/demo -cp "$jar" $(find java/src/demo/java -name '*.java')
  java --enable-native-access=ALL-UNNAMED -XX:+DisableExplicitGC -Ddirectmem.maxMemory=1g \
    -Xms256m -Xmx256m -XX:+AlwaysPreTouch \
    -cp "$jar:build/classes/java/demo" dev.directmem.demo.Footprint
}

case "${1:-}" in
  assemble) assemble ;;
  check) check ;;
  demo) demo "${2:-}" ;;
  footprint) footprint ;;
  *) echo "usage: $0 assemble | check | demo [MiB] | footprint" >&2; exit 2 ;;
esac
