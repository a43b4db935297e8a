// A project of its own that uses directmem the way an adopter does: from a Maven repository.
// Publish first (from the repository root): ./gradlew publishToMavenLocal
// Then:                                      ./gradlew -p examples/consumer run
rootProject.name = "directmem-consumer"

dependencyResolutionManagement {
    repositories {
        mavenLocal()   // dev.directmem:directmem, from publishToMavenLocal
        mavenCentral()
    }
}
