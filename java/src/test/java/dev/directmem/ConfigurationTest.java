package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What README promises of settings and of the JDK's own interfaces, each in a child JVM run with
 * the setting ({@link ConfigurationProbe}).
 */
class ConfigurationTest {
    private static Subprocess.Result probe(List<String> flags, String... args) throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(), flags,
                ConfigurationProbe.class.getName(), args);
        assertEquals(0, result.exitCode(), result.output());
        return result;
    }

    /**
     * README: "An invalid value makes allocateDirect, allocateDirectAligned and topAllocationSites
     * throw IllegalArgumentException (free, fill and stats go on working)".
     */
    @Test
    void anInvalidTrackingSettingFailsAllocationsAndSitesOnly() throws Exception {
        String output = probe(List.of("-Ddirectmem.tracking=bogus"), "calls", "own").output();
        String refusal = "java.lang.IllegalArgumentException: invalid value for system property "
                + "directmem.tracking: 'bogus'";
        for (String call : List.of("allocateDirect", "allocateDirectAligned", "topAllocationSites")) {
            assertTrue(output.contains("CALL " + call + " " + refusal), call + "\n" + output);
        }
        for (String call : List.of("stats", "fill", "free", "stats again")) {
            assertTrue(output.contains("CALL " + call + " ok\n"), call + "\n" + output);
        }
    }

    /**
     * README: "An invalid value makes every call throw IllegalArgumentException naming the
     * property and the value"; free and fill before they look at the buffer (one the JDK
     * allocated, which they would otherwise refuse with a message of their own).
     */
    @Test
    void anInvalidBudgetFailsEveryCallNamingThePropertyAndTheValue() throws Exception {
        String output = probe(List.of("-Ddirectmem.maxMemory=lots"), "calls", "jdk").output();
        for (String call : List.of("allocateDirect", "allocateDirectAligned", "topAllocationSites", "stats",
                "fill", "free", "stats again")) {
            String line = output.lines().filter(l -> l.startsWith("CALL " + call + " ")).findFirst().orElse("");
            assertTrue(line.startsWith("CALL " + call + " java.lang.IllegalArgumentException: "), call + "\n" + output);
            assertTrue(line.contains("directmem.maxMemory") && line.contains("'lots'"), call + "\n" + output);
        }
    }

    /**
     * README: Unsafe.invokeCleaner throws IllegalArgumentException on directmem's buffers (and
     * changes nothing), DirectBuffer.cleaner() returns null, and attachment() returns directmem's
     * owner object, not a ByteBuffer.
     */
    @Test
    void theJdksWaysToFreeAndUnwrapDirectBuffersSeeAView() throws Exception {
        String output = probe(List.of("--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED"), "jdk-interfaces").output();
        assertTrue(output.contains("INVOKECLEANER java.lang.IllegalArgumentException"), output);
        assertTrue(output.contains("STILL USABLE true"), output);
        assertTrue(output.contains("CLEANER null"), output);
        assertTrue(output.contains("ATTACHMENT " + Allocation.class.getName()), output);
        assertTrue(output.contains("FREED " + (64 << 10)), output);
    }
}
