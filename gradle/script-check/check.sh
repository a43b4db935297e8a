#!/usr/bin/env bash
# Type-checks the Gradle build scripts (build.gradle.kts, settings.gradle.kts and the example
# consumer's) with the Kotlin compiler Gradle 9.3 embeds, against Gradle's API jar: for machines
# where the Gradle distribution cannot be downloaded, so that a script error still fails CI.
#
#   gradle/script-check/check.sh     JUnit XML in build/test-results/script-check/
#
# From Maven Central: Gradle's API jar (dev.gradleplugins:gradle-api, republished up to 8.11.1;
# SHA-256 pinned below) and the compiler (pom.xml here); cached under $DIRECTMEM_CACHE or
# ~/.cache/directmem. The API jar lacks the Kotlin DSL layer: stubs/ declares the parts our scripts
# call, with the Kotlin DSL's signatures (stubs/KotlinDsl.kt) and the accessors Gradle generates
# per project (stubs/root, stubs/consumer); a script that uses a new one fails here with
# "Unresolved reference" until it is declared there too.
#
# It cannot see what only a run shows (runtime deprecations, task wiring), nor APIs newer than
# 8.11 (an error then names them). A deliberately broken copy of build.gradle.kts checks that it
# reports errors and deprecations at all.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source gradle/junit-xml.sh
here=gradle/script-check
cache=${DIRECTMEM_CACHE:-$HOME/.cache/directmem}/script-check
work=build/script-check
api_version=8.11.1
api_sha256=6f4658c280ce4d63a7fe269d94332604449c95a6d2181949e4f6809ac010f871
api=$cache/gradle-api-$api_version.jar
kotlin=$cache/kotlin-$(sed -n 's#.*<kotlin.version>\(.*\)</kotlin.version>.*#\1#p' $here/pom.xml)
mkdir -p "$cache" "$work"

if [[ ! -f $api ]]; then
  echo "== downloading Gradle's API jar $api_version"
  # As gradlew: any error retried, a stall (under 1 KiB/s for a minute) abandoned and retried.
  curl -fsSL --retry 3 --retry-all-errors --speed-limit 1024 --speed-time 60 -o "$api.part" \
    "https://repo1.maven.org/maven2/dev/gradleplugins/gradle-api/$api_version/gradle-api-$api_version.jar" || exit 2
  echo "$api_sha256  $api.part" | sha256sum -c --quiet || { rm -f "$api.part"; exit 2; }
  mv "$api.part" "$api"
fi
if [[ ! -f $kotlin/.complete ]]; then
  echo "== downloading the Kotlin compiler"
  mvn -q -B -Dstyle.color=never -f $here/pom.xml dependency:copy-dependencies -DoutputDirectory="$kotlin" || exit 2
  touch "$kotlin/.complete"
fi
jars() { local IFS=:; echo "$*"; }
compiler_classpath=$(jars "$kotlin"/kotlin-compiler-embeddable-*.jar "$kotlin"/kotlin-stdlib-2*.jar \
  "$kotlin"/kotlin-script-runtime-*.jar "$kotlin"/kotlin-reflect-*.jar "$kotlin"/kotlin-daemon-embeddable-*.jar \
  "$kotlin"/kotlinx-coroutines-core-jvm-*.jar "$kotlin"/annotations-*.jar)
script_classpath=$(jars "$api" "$kotlin"/groovy-3*.jar "$kotlin"/kotlin-stdlib-2*.jar)

# Gradle's implicit imports: every public API package of the jar, plus the Kotlin DSL's own. Gradle
# imports each simple name from one package, so a name found in two is pinned (org.gradle.api wins).
imports=$cache/imports-$api_version.txt
if [[ ! -s $imports ]]; then
  unzip -Z1 "$api" | python3 $here/imports.py >"$imports.part" && mv "$imports.part" "$imports" || exit 2
fi
plugin_list=$work/core-plugins.txt
unzip -Z1 "$api" 'META-INF/gradle-plugins/*' >"$plugin_list" || exit 2

# One compilation per script: the DSL declarations, that project's accessors, the wrapped script.
compile() { # name script receiver accessors
  local name=$1 script=$2 receiver=$3 accessors=${4:-}
  rm -rf "$work/$name" && mkdir -p "$work/$name/classes"
  python3 $here/wrap.py "$script" "$work/$name/script.kt" "$receiver" "$imports" || return 2
  # Only Gradle's core plugins resolve without the plugin portal.
  local plugin core=0
  while read -r plugin; do
    grep -qx "META-INF/gradle-plugins/org.gradle.${plugin#org.gradle.}.properties" "$plugin_list" ||
      { echo "$script: plugin $plugin is not one of Gradle's core plugins"; core=1; }
  done <"$work/$name/script.plugins"
  local offset; offset=$(cat "$work/$name/script.offset")
  java -cp "$compiler_classpath" org.jetbrains.kotlin.cli.jvm.K2JVMCompiler \
    -no-stdlib -no-reflect -classpath "$script_classpath" -d "$work/$name/classes" -module-name "$name" \
    -language-version 2.2 -api-version 2.2 -jvm-target 17 \
    -Xjsr305=strict -Xsam-conversions=class -Xreport-all-warnings -Xskip-prerelease-check \
    -Xplugin="$(echo "$kotlin"/kotlin-sam-with-receiver-compiler-plugin-embeddable-*.jar)" \
    -P plugin:org.jetbrains.kotlin.samWithReceiver:annotation=org.gradle.api.HasImplicitReceiver \
    -Xplugin="$(echo "$kotlin"/kotlin-assignment-compiler-plugin-embeddable-*.jar)" \
    -P plugin:org.jetbrains.kotlin.assignment:annotation=org.gradle.api.SupportsKotlinAssignmentOverloading \
    $here/stubs/KotlinDsl.kt ${accessors:+$here/stubs/$accessors/*.kt} "$work/$name/script.kt" \
    >"$work/$name/kotlinc.log" 2>&1
  local status=$?
  # Diagnostics at the script's own lines: the wrapped file has $offset header lines.
  perl -pe 's#\S*/script\.kt:(\d+):(\d+)#"'"$script"':".($1-'"$offset"').":$2"#e' "$work/$name/kotlinc.log"
  # A warning fails the check too: a deprecation in 8.11 is an API that 9.x may have removed.
  [[ $status == 0 && ! -s $work/$name/kotlinc.log && $core == 0 ]]
}

cases=()
check() { # name script receiver accessors
  echo "== $2"
  local output status
  output=$(compile "$@" 2>&1)
  status=$?
  if [[ $status == 0 ]]; then
    cases+=("$1|")
  else
    echo "$output"
    cases+=("$1|$(head -3 <<<"$output" | tr '\n' ' ')")
  fi
}

# The check itself: a copy of build.gradle.kts with three faults and a line that is fine must give
# exactly three diagnostics: a deprecated API, a nullable value where none may be, and a plugin
# from the plugin portal; none for `=` on a Property, which the Kotlin DSL allows.
broken=$work/faulty-copy/build.gradle.kts
mkdir -p "$(dirname "$broken")" && cp build.gradle.kts "$broken"
sed -i 's/^plugins {$/plugins {\n    id("org.jetbrains.kotlin.jvm")/' "$broken"
cat >>"$broken" <<'EOF'
val deprecatedInGradle8 = buildDir
val notNullable: String = providers.gradleProperty("x").orNull
tasks.register<JavaExec>("assignedProperty") { mainClass = "x" }
EOF
echo "== the check itself (build.gradle.kts with three faults)"
output=$(compile faults "$broken" Project root 2>&1)
if grep -q "buildDir: File' is deprecated" <<<"$output" && grep -q "actual 'String?'" <<<"$output" &&
    grep -q "plugin org.jetbrains.kotlin.jvm is not" <<<"$output" && ! grep -q assignedProperty <<<"$output" &&
    [[ $(grep -c ": \(warning\|error\): \|is not one of" <<<"$output") == 3 ]]; then
  cases+=("finds_errors_deprecations_and_portal_plugins|")
else
  echo "$output"
  cases+=("finds_errors_deprecations_and_portal_plugins|expected a deprecation, a nullability error and a portal plugin, got: $(head -3 <<<"$output" | tr '\n' ' ')")
fi

check root_build build.gradle.kts Project root
check root_settings settings.gradle.kts Settings
check consumer_build examples/consumer/build.gradle.kts Project consumer
check consumer_settings examples/consumer/settings.gradle.kts Settings

junit_xml script-check build/test-results/script-check/TEST-script-check.xml "${cases[@]}"
