rootProject.name = "directmem"

dependencyResolutionManagement {
    // Only Gradle's core plugins and plain Maven Central dependencies: no plugin portal needed.
    repositories {
        mavenCentral()
    }
}
