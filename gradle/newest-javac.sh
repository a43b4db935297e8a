# Every Java source set (main, test, demo, jmh) compiled with the newest javac on the machine, still
# for --release 17 and with -Xlint:all -Werror: a newer javac lints more (JDK 25's flags dangling
# doc comments), and users build with new JDKs. Sourced by gradle/without-gradle.sh, which defines
# assemble, junit_jar and $jar; gradle/jmh.sh gives the benchmarks' class path. JUnit XML in
# build/test-results/newest-javac/, one case per source set.
#
#   gradle/without-gradle.sh newest-javac [JAVA_HOME]
#       default JAVA_HOME: the JDK with the highest javac version under /usr/lib/jvm

source gradle/junit-xml.sh

# The home of the JDK under /usr/lib/jvm whose javac has the highest feature version.
newest_jdk() {
  local home best="" best_feature=0 feature
  for home in /usr/lib/jvm/*/; do
    [[ -x ${home}bin/javac ]] || continue
    feature=$("${home}bin/javac" -version 2>&1 | sed -n 's/^javac \([0-9]*\).*/\1/p')
    if [[ -n $feature && $feature -gt $best_feature ]]; then best=${home%/} best_feature=$feature; fi
  done
  [[ -n $best ]] && echo "$best"
}

newest_javac() {
  local jdk javac out=build/newest-javac junit jmh_cp processor
  jdk=${1:-$(newest_jdk)} || { echo "no JDK with javac under /usr/lib/jvm" >&2; return 1; }
  javac=$jdk/bin/javac
  [[ -f $jar ]] || assemble >/dev/null || return 1   # assemble returns at a failing step
  junit=$(junit_jar)
  jmh_cp=$(jmh_compile_classpath)
  processor="$(maven_jar $jmh_processor_artifact):$jmh_cp"
  rm -rf "$out"
  echo "== $("$javac" -version 2>&1) from $jdk: --release 17 -Xlint:all -Werror"
  local cases=()
  newest_javac_compile main "" 
  newest_javac_compile test "$jar:$junit"
  newest_javac_compile demo "$jar"
  newest_javac_compile jmh "$jmh_cp" -processorpath "$processor" -s "$out/jmh-generated"
  junit_xml newest-javac build/test-results/newest-javac/TEST-newest-javac.xml "${cases[@]}"
}

# newest_javac_compile <source set> <class path> [javac options...]: adds one case to `cases`,
# failed with the compiler's first lines.
newest_javac_compile() {
  local set=$1 cp=$2 output
  shift 2
  mkdir -p "$out/$set"
  if output=$("$javac" --release 17 -encoding UTF-8 -Xlint:all -Werror -d "$out/$set" ${cp:+-cp "$cp"} "$@" \
      $(find "java/src/$set/java" -name '*.java') 2>&1); then
    cases+=("compiles_$set|")
  else
    echo "$output" >&2
    cases+=("compiles_$set|$(head -3 <<<"$output" | tr '\n' ' ')")
  fi
}
