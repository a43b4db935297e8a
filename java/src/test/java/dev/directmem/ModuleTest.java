package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.management.ManagementFactory;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import dev.directmem.probe.ModuleProbe;
import org.junit.jupiter.api.Test;

/**
 * JPMS: module dev.directmem exports only its API, and on JDK 24+ the documented
 * --enable-native-access=dev.directmem silences the native-access warning (checked on JDK 25).
 */
class ModuleTest {
    /** The JDK 24+ used for the warning check: -Ddirectmem.test.jdk, else $JDK25_HOME, else Temurin's path. */
    private static Path modernJdk() {
        String configured = System.getProperty("directmem.test.jdk", System.getenv("JDK25_HOME"));
        return Path.of(configured != null ? configured : "/usr/lib/jvm/temurin-25-jdk-amd64");
    }

    /** The jar under test: -Ddirectmem.test.jar (Gradle), else the jar this class path loads it from. */
    static Path jar() throws Exception {
        String configured = System.getProperty("directmem.test.jar");
        if (configured != null) {
            return Path.of(configured);
        }
        Path source = Path.of(DirectMemory.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        assumeTrue(source.toString().endsWith(".jar"), "directmem is not loaded from a jar: " + source);
        return source;
    }

    @Test
    void theModuleExportsOnlyItsApi() throws Exception {
        ModuleDescriptor module = ModuleFinder.of(jar()).find("dev.directmem").orElseThrow().descriptor();
        Set<String> exported = module.exports().stream().map(ModuleDescriptor.Exports::source)
                .collect(Collectors.toSet());
        assertEquals(Set.of("dev.directmem"), exported);
        assertTrue(module.exports().stream().noneMatch(ModuleDescriptor.Exports::isQualified));
        assertTrue(module.opens().isEmpty());
        assertFalse(module.isOpen());
        assertEquals(Set.of("dev.directmem"), module.packages());
    }

    private record Run(int exitCode, String output) {}

    private static Run runOnModulePath(List<String> extraFlags) throws Exception {
        Path java = modernJdk().resolve("bin/java");
        assumeTrue(Files.isExecutable(java), "no JDK 24+ at " + modernJdk() + " (set -Ddirectmem.test.jdk)");
        Path testClasses = Path.of(ModuleProbe.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path log = Files.createTempFile("directmem-module", ".txt");
        try {
            List<String> command = new ArrayList<>(List.of(java.toString(),
                    "-XX:+DisableExplicitGC", "-Xcheck:jni", "--module-path", jar().toString(),
                    "--add-modules", "dev.directmem", "-cp", testClasses.toString()));
            command.addAll(extraFlags);
            command.add(ModuleProbe.class.getName());
            Process process = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
            if (!process.waitFor(120, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("the JVM on the module path did not finish: " + command);
            }
            String output = Files.readString(log, StandardCharsets.UTF_8);
            // Echoed as Subprocess does, so that the build's check of -Xcheck:jni warnings sees
            // the child's too; and checked here.
            System.out.println("---- child JVM: " + String.join(" ", command) + "\n" + output + "---- exit "
                    + process.exitValue());
            assertFalse(Subprocess.JNI_WARNING.matcher(output).find(), output);
            return new Run(process.exitValue(), output);
        } finally {
            Files.deleteIfExists(log);
        }
    }

    private static void onlyOnce() {
        // Spawning JVMs does not depend on the collector: do it in the G1 run of the suite only.
        List<String> flags = ManagementFactory.getRuntimeMXBean().getInputArguments();
        assumeTrue(flags.contains("-XX:+UseG1GC"), "checked in the G1 run");
    }

    @Test
    void theDocumentedFlagSilencesTheNativeAccessWarning() throws Exception {
        onlyOnce();
        Run run = runOnModulePath(List.of("--enable-native-access=dev.directmem"));
        assertEquals(0, run.exitCode(), run.output());
        assertTrue(run.output().contains("probe ok in module dev.directmem"), run.output());
        assertFalse(run.output().contains("WARNING"), run.output());
    }

    @Test
    void withoutTheFlagJdk25Warns() throws Exception {
        onlyOnce();
        Run run = runOnModulePath(List.of());
        assertEquals(0, run.exitCode(), run.output());
        assertTrue(run.output().contains("probe ok in module dev.directmem"), run.output());
        assertTrue(run.output().contains("WARNING: A restricted method in java.lang.System has been called"),
                run.output());
        assertTrue(run.output().contains("--enable-native-access=dev.directmem"), run.output());
    }
}
