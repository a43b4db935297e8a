package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class BudgetTest {

    @Test
    void parsesBytesAndSuffixesLikeMaxDirectMemorySize() {
        assertEquals(0, Budget.parseSize("p", "0"));
        assertEquals(123, Budget.parseSize("p", "123"));
        assertEquals(2048, Budget.parseSize("p", "2k"));
        assertEquals(64L << 20, Budget.parseSize("p", "64m"));
        assertEquals(64L << 20, Budget.parseSize("p", "64M"));
        assertEquals(3L << 30, Budget.parseSize("p", " 3g "));
        assertEquals(1L << 40, Budget.parseSize("p", "1T"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "m", "-1", "1.5g", "12x", "10 m", "99999999999t", "0x10", "\uFF15\uFF11\uFF12m", "512\u212A"})
    void rejectsNonsenseNamingThePropertyAndTheValue(String value) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Budget.parseSize(Budget.PROPERTY, value));
        assertTrue(e.getMessage().contains("directmem.maxMemory"), e.getMessage());
        assertTrue(e.getMessage().contains("'" + value + "'"), e.getMessage());
    }

    @Test
    void theLastMaxDirectMemorySizeArgumentCounts() {
        assertEquals(-1, Budget.maxDirectMemorySizeArgument(List.of("-Xmx1g", "-XX:+DisableExplicitGC")));
        assertEquals(32L << 20, Budget.maxDirectMemorySizeArgument(
                List.of("-XX:MaxDirectMemorySize=1g", "-Xmx1g", "-XX:MaxDirectMemorySize=32M")));
        // HotSpot also takes hexadecimal, which must not fail directmem where the JVM started.
        assertEquals(0x1800000, Budget.maxDirectMemorySizeArgument(List.of("-XX:MaxDirectMemorySize=0x1800000")));
        assertEquals(0x10L << 20, Budget.maxDirectMemorySizeArgument(List.of("-XX:MaxDirectMemorySize=0x10m")));
        assertEquals(-1, Budget.maxDirectMemorySizeArgument(List.of("-XX:MaxDirectMemorySize=unreadable")));
    }

    /**
     * A runtime without jdk.management (jlink; here --limit-modules) still takes the budget from
     * -XX:MaxDirectMemorySize: before, the flag was ignored there, and the budget was the heap.
     */
    @Test
    void theJvmFlagSetsTheBudgetWithoutJdkManagement() throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                List.of("--limit-modules", "java.base,java.management", "-XX:MaxDirectMemorySize=24m"),
                FirstUseProbe.class.getName(), "plain");
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("FIRST 64, budget " + (24L << 20)), result.output());
    }

    /**
     * Without java.management nothing tells directmem the flag: it says so, and names the
     * property that sets the budget (before: the budget silently became the heap).
     */
    @Test
    void aRuntimeWithoutJavaManagementSaysTheFlagCannotBeRead() throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                List.of("--limit-modules", "java.base", "-XX:MaxDirectMemorySize=24m", "-Xmx200m"),
                FirstUseProbe.class.getName(), "plain");
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("directmem cannot read -XX:MaxDirectMemorySize on this runtime (it "
                + "has no java.management module): the budget is the JVM's maximum heap unless "
                + "-Ddirectmem.maxMemory sets it"), result.output());
        // The heap, as the warning says (its exact figure depends on the collector).
        assertTrue(result.output().contains("FIRST 64, budget "), result.output());
        assertFalse(result.output().contains("FIRST 64, budget " + (24L << 20)), result.output());
    }

    @Test
    void platformNamesTheJarFolder() {
        String arch = System.getProperty("os.arch");
        assertEquals(arch.equals("aarch64") ? "linux-aarch64" : "linux-x86_64", NativeLibrary.platform(), arch);
    }
}
