// directmem: a Rust cdylib (rust/, built by cargo) inside a Java library jar (java/).
//
//   ./gradlew assemble   build/libs/directmem-<version>.jar, native library included
//   ./gradlew check      cargo test, then the JUnit suite once per collector
//   ./gradlew demo       the demo program against the assembled jar

plugins {
    `java-library`
    `maven-publish` // see "publishing" below
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
tasks.withType<Test>().configureEach {
    inputs.file(testedJar)
    jvmArgumentProviders.add(CommandLineArgumentProvider {
        listOf("-Ddirectmem.test.jar=" + testedJar.get().asFile.absolutePath)
    })
}
