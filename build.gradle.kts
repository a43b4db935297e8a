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

// --- footprint (performance work, issue 3) ----------------------------------------------------

tasks.register<JavaExec>("footprint") {
    group = "application"
    description = "Shows resident memory before/after allocating and freeing large buffers, and per small buffer."
    classpath = files(tasks.jar) + sourceSets["demo"].output
    mainClass.set("dev.directmem.demo.Footprint")
    // A fixed, pre-touched heap, so that the resident set grows only by native memory.
    jvmArgs(
        "--enable-native-access=ALL-UNNAMED", "-XX:+DisableExplicitGC", "-Ddirectmem.maxMemory=1g",
        "-Xms256m", "-Xmx256m", "-XX:+AlwaysPreTouch",
    )
}
