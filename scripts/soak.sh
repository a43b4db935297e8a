#!/usr/bin/env bash
# Soak: minutes of churn through a 64 MiB budget under -XX:+DisableExplicitGC -Xcheck:jni,
# sampling RSS and the ledger after every round; fails on a failed allocation, a ledger that
# does not return to zero, RSS growth, or a -Xcheck:jni warning. Not part of CI.
#
#   scripts/soak.sh [minutes=5] [threads=4] [largest buffer bytes=4194304] [allowed RSS growth MiB=32]
#   GC=Shenandoah JDK=25 scripts/soak.sh 10      collector (default G1) and JDK (17, 21, 25)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

gradle/without-gradle.sh assemble >/dev/null
source gradle/matrix.sh # java_for, jni_warning_pattern
version=$(sed -n 's/^version=//p' gradle.properties)
jar=build/libs/directmem-$version.jar
classes=build/classes/java/soak
rm -rf "$classes"
mkdir -p "$classes" build/test-logs
javac --release 17 -encoding UTF-8 -Xlint:all -Werror -d "$classes" -cp "$jar" \
  java/src/test/java/dev/directmem/Churn.java java/src/test/java/dev/directmem/Soak.java
java=$(java_for "${JDK:-17}")
log=build/test-logs/soak.log
echo "== soak on JDK ${JDK:-17}, ${GC:-G1}; log: $log"
status=0
# The whole Java heap is committed and touched up front (-Xms = -Xmx, AlwaysPreTouch), so that
# its pages do not show up as RSS growth over the run: what grows then is native memory.
"$java" --enable-native-access=ALL-UNNAMED -XX:+DisableExplicitGC -Xcheck:jni -XX:MaxDirectMemorySize=64m \
  -Xms256m -Xmx256m -XX:+AlwaysPreTouch "-XX:+Use${GC:-G1}GC" -cp "$jar:$classes" dev.directmem.Soak "$@" 2>&1 | tee "$log" || status=1
if grep -qE "$jni_warning_pattern" "$log"; then
  echo "!! -Xcheck:jni warnings:" >&2
  grep -nE -A3 "$jni_warning_pattern" "$log" >&2
  status=1
fi
exit $status
