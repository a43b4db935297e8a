package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Native logging: -Ddirectmem.log for those who cannot set RUST_LOG, and RUST_LOG itself. */
class LoggingTest {
    /** Runs LoggingProbe, which fills a 4 MiB budget twice over, so that reclamation happens. */
    private static String run(List<String> flags, Map<String, String> environment, String... probeArgs)
            throws Exception {
        List<String> jvmFlags = ManagementFactory.getRuntimeMXBean().getInputArguments();
        assumeTrue(jvmFlags.contains("-XX:+UseG1GC"), "checked in the G1 run");
        Path jar = ModuleTest.jar();
        Path testClasses = Path.of(LoggingProbe.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path log = Files.createTempFile("directmem-logging", ".txt");
        try {
            List<String> command = new ArrayList<>(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-XX:+DisableExplicitGC", "-Xcheck:jni", "--enable-native-access=ALL-UNNAMED",
                    "-Ddirectmem.maxMemory=4m", "-cp", jar + java.io.File.pathSeparator + testClasses));
            command.addAll(flags);
            command.add(LoggingProbe.class.getName());
            command.addAll(List.of(probeArgs));
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(log.toFile());
            builder.environment().remove("RUST_LOG");
            builder.environment().putAll(environment);
            Process process = builder.start();
            if (!process.waitFor(120, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("the probe JVM did not finish: " + command);
            }
            String output = Files.readString(log, StandardCharsets.UTF_8);
            // Echoed as Subprocess.run does, and checked: the cell's -Xcheck:jni check never saw it.
            System.out.println("---- child JVM: " + command + "\n" + output + "---- exit " + process.exitValue());
            assertFalse(Subprocess.JNI_WARNING.matcher(output).find(), output);
            assertEquals(0, process.exitValue(), output);
            assertTrue(output.contains("probe ok"), output);
            return output;
        } finally {
            Files.deleteIfExists(log);
        }
    }

    @Test
    void quietByDefault() throws Exception {
        String output = run(List.of(), Map.of());
        assertFalse(output.contains("DEBUG"), output);
    }

    @Test
    void thePropertySelectsWhatIsLogged() throws Exception {
        String output = run(List.of("-Ddirectmem.log=directmem=debug"), Map.of());
        assertTrue(output.contains("DEBUG directmem::jvm::exports] directmem budget: 4194304 bytes"), output);
        assertTrue(output.contains("DEBUG directmem::report] Reclamation"), output);
    }

    @Test
    void rustLogWorksWhenThePropertyIsAbsent() throws Exception {
        String output = run(List.of(), Map.of("RUST_LOG", "directmem::reclaim=debug"));
        assertTrue(output.contains("DEBUG directmem::reclaim] collection"), output);
        assertFalse(output.contains("directmem budget"), output);
    }

    /**
     * A filter that names only modules leaves warnings and errors of the rest on. Before, a typo
     * such as "verbose" (read as a module name) silenced everything else, errors included.
     */
    @Test
    void aFilterThatNamesOnlyModulesKeepsErrorsOn() throws Exception {
        String output = run(List.of("-Ddirectmem.log=verbose"), Map.of(), "panic");
        assertTrue(output.contains("panic arrived as IllegalStateException"), output);
        assertTrue(output.contains("ERROR directmem::jvm::exports]"), output);
    }

    @Test
    void offTurnsEvenErrorsOff() throws Exception {
        String output = run(List.of(), Map.of("RUST_LOG", "off"), "panic");
        assertTrue(output.contains("panic arrived as IllegalStateException"), output);
        assertFalse(output.contains("ERROR"), output);
    }

    @Test
    void thePropertyWinsOverRustLog() throws Exception {
        String output = run(List.of("-Ddirectmem.log=warn"), Map.of("RUST_LOG", "debug"));
        assertFalse(output.contains("DEBUG"), output);
    }
}
