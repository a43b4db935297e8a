# Sourced by gradle/without-gradle.sh: publishToMavenLocal and the example consumer, as the
# "publishing" section of build.gradle.kts and examples/consumer/ do them with Gradle.
# Uses $version and $jar from without-gradle.sh, after assemble.

group_path=dev/directmem
artifact=directmem
m2_repository=${M2_REPOSITORY:-$HOME/.m2/repository}

# The POM of build.gradle.kts's publication: keep the two in step.
write_pom() {
  cat >"$1" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.directmem</groupId>
  <artifactId>$artifact</artifactId>
  <version>$version</version>
  <name>directmem</name>
  <description>Direct ByteBuffers backed by a native Rust allocator with its own budget, reclaimed even under -XX:+DisableExplicitGC</description>
  <url>https://github.com/directmem/directmem</url>
  <licenses>
    <license>
      <name>Apache-2.0</name>
      <url>https://www.apache.org/licenses/LICENSE-2.0.txt</url>
      <distribution>repo</distribution>
    </license>
  </licenses>
  <developers>
    <developer>
      <id>directmem</id>
      <name>The directmem developers</name>
      <url>https://github.com/directmem</url>
    </developer>
  </developers>
  <scm>
    <connection>scm:git:https://github.com/directmem/directmem.git</connection>
    <developerConnection>scm:git:ssh://git@github.com/directmem/directmem.git</developerConnection>
    <url>https://github.com/directmem/directmem</url>
  </scm>
</project>
POM
}

# build/libs/directmem-<version>-sources.jar and -javadoc.jar, as withSourcesJar/withJavadocJar.
sources_and_javadoc_jars() {
  rm -rf build/docs/javadoc
  javadoc --release 17 -encoding UTF-8 -Xdoclint:all -Werror -quiet -d build/docs/javadoc \
    $(find java/src/main/java -name '*.java')
  rm -f "build/libs/$artifact-$version-sources.jar" "build/libs/$artifact-$version-javadoc.jar"
  rm -rf build/generated/licence && mkdir -p build/generated/licence/META-INF
  cp LICENSE THIRD-PARTY.md build/generated/licence/META-INF/
  jar --create --file "build/libs/$artifact-$version-sources.jar" -C java/src/main/java . -C build/generated/licence .
  jar --create --file "build/libs/$artifact-$version-javadoc.jar" -C build/docs/javadoc . -C build/generated/licence .
}

publish_to_maven_local() {
  sources_and_javadoc_jars
  local dir="$m2_repository/$group_path/$artifact/$version"
  mkdir -p "$dir"
  cp "$jar" "$dir/$artifact-$version.jar"
  cp "build/libs/$artifact-$version-sources.jar" "build/libs/$artifact-$version-javadoc.jar" "$dir/"
  write_pom "$dir/$artifact-$version.pom"
  # The artifact's version list, merged with versions published before, as Maven writes it.
  local metadata="$m2_repository/$group_path/$artifact/maven-metadata-local.xml"
  local versions
  versions=$({ [[ -f $metadata ]] && sed -n 's:.*<version>\(.*\)</version>.*:\1:p' "$metadata"; echo "$version"; } | sort -uV)
  {
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo '<metadata modelVersion="1.1.0">'
    echo "  <groupId>dev.directmem</groupId>"
    echo "  <artifactId>$artifact</artifactId>"
    echo "  <versioning>"
    echo "    <latest>$version</latest>"
    echo "    <release>$version</release>"
    echo "    <versions>"
    while read -r v; do echo "      <version>$v</version>"; done <<<"$versions"
    echo "    </versions>"
    echo "    <lastUpdated>$(date -u +%Y%m%d%H%M%S)</lastUpdated>"
    echo "  </versioning>"
    echo "</metadata>"
  } >"$metadata"
  echo "published dev.directmem:$artifact:$version to $dir"
  ls -1 "$dir"
}

# Builds and runs examples/consumer against the published coordinates in the local repository,
# not against build/: what a user's project gets from mavenLocal().
example() {
  local published="$m2_repository/$group_path/$artifact/$version/$artifact-$version.jar"
  [[ -f $published ]] || { echo "not published: $published (run publishToMavenLocal first)" >&2; exit 1; }
  local out=examples/consumer/build/classes/java/main
  rm -rf "$out"
  mkdir -p "$out"
  javac --release 17 -encoding UTF-8 -Xlint:all -Werror --module-path "$published" -d "$out" \
    $(find examples/consumer/src/main/java -name '*.java')
  # The flags of examples/consumer/build.gradle.kts (application.applicationDefaultJvmArgs).
  # A hung consumer fails after 5 minutes (it takes seconds); --foreground: the JVM is the one process.
  timeout --foreground --kill-after=30s "$(time_limit 300)" \
    java -XX:+DisableExplicitGC --enable-native-access=dev.directmem -Ddirectmem.maxMemory=32m \
    --module-path "$published:$out" -m example.consumer/example.consumer.Consumer
}
