plugins {
    application
}

// The directmem version to consume: -PdirectmemVersion=... (CI passes the version it just
// published), else the current release.
val directmemVersion = providers.gradleProperty("directmemVersion").getOrElse("0.1.0")

dependencies {
    implementation("dev.directmem:directmem:$directmemVersion")
}

tasks.withType<JavaCompile>().configureEach {
    options.release.set(17)
    options.encoding = "UTF-8"
    options.compilerArgs.addAll(listOf("-Xlint:all", "-Werror"))
}

application {
    // A named module: directmem goes on the module path as module dev.directmem.
    mainModule.set("example.consumer")
    mainClass.set("example.consumer.Consumer")
    applicationDefaultJvmArgs = listOf(
        "-XX:+DisableExplicitGC",                // what directmem is for: System.gc() is a no-op
        "--enable-native-access=dev.directmem",  // JDK 24+: load the native library without a warning
        "-Ddirectmem.maxMemory=32m",
    )
}
