package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Stress under -XX:+DisableExplicitGC, bounded in time: each scenario runs
 * {@code directmem.stress.seconds} (system property, else the environment variable
 * DIRECTMEM_STRESS_SECONDS, else 2) seconds, so that the whole JDK x collector matrix stays
 * affordable; raise it for a soak. Every scenario must end with zero failed allocations and, once
 * everything is dropped, an empty ledger. The figures are printed as lines starting "STRESS".
 */
class StressTest {
    private static final int MIB = Churn.MIB;
    private static final int CORES = Runtime.getRuntime().availableProcessors();

    static long millis() {
        String configured = System.getProperty("directmem.stress.seconds",
                System.getenv().getOrDefault("DIRECTMEM_STRESS_SECONDS", "2"));
        return (long) (Double.parseDouble(configured) * 1000);
    }

    private static void assertClean(Churn.Figures figures) throws InterruptedException {
        System.out.println(figures);
        assertEquals(List.of(), figures.problems(), figures.toString());
        assertEquals(0, figures.failures());
        assertTrue(figures.peakMemoryUsed() <= figures.maxMemory());
        DirectMemoryStats settled = Churn.settle();
        assertEquals(0, settled.memoryUsed());
        assertEquals(0, settled.count());
    }

    /** Runs a scenario in a child JVM with its own budget and checks its figures. */
    private static void inChildJvm(String budget, String scenario, int threads, int minSize, int maxSize)
            throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                List.of("-XX:MaxDirectMemorySize=" + budget, "-Xmx256m"), StressMain.class.getName(),
                scenario, Integer.toString(threads), Long.toString(millis()), Integer.toString(minSize),
                Integer.toString(maxSize));
        String out = result.output();
        assertFalse(Subprocess.JNI_WARNING.matcher(out).find(), "-Xcheck:jni warning in the child JVM:\n" + out);
        assertEquals(0, result.exitCode(), out);
        Matcher figures = Pattern.compile("STRESS " + scenario + ": .*allocations=(\\d+) .*failures=(\\d+) "
                + "collections=(\\d+)").matcher(out);
        assertTrue(figures.find(), out);
        assertEquals("0", figures.group(2), out);
        assertTrue(Long.parseLong(figures.group(1)) > 0, out);
        Matcher ledger = Pattern.compile("LEDGER DirectMemoryStats\\[count=0, totalCapacity=0, memoryUsed=0,")
                .matcher(out);
        assertTrue(ledger.find(), "the child's ledger must return to zero:\n" + out);
    }

    /**
     * JDK bug 6857566, "DirectByteBuffer garbage creation can outpace reclamation": at least four
     * threads allocating 1 MiB buffers in a loop through a 128 MiB budget. Not one may fail.
     */
    @Test
    void bug6857566GarbageCreationDoesNotOutpaceReclamation() throws Exception {
        inChildJvm("128m", "bug6857566", Math.max(4, 2 * CORES), MIB, MIB);
    }

    /** Sizes from 1 byte to 64 MiB, four threads, through a 256 MiB budget. */
    @Test
    void mixedSizesFromOneByteToSixtyFourMebibytes() throws Exception {
        inChildJvm("256m", "mixedSizes", 4, 1, 64 * MIB);
    }

    /** Many more threads than cores, each churning small to medium buffers through 64 MiB. */
    @Test
    void manyMoreThreadsThanCores() throws Exception {
        int threads = Math.max(32, 16 * CORES);
        assertClean(Churn.run("manyThreads", threads, millis(), 64, MIB, false));
    }

    /**
     * Threads interrupted before and during reclamation: the interrupt status survives every
     * allocation and no reservation leaks (the ledger returns to zero).
     */
    @Test
    void threadsInterruptedInTheMiddleOfReclamation() throws Exception {
        Churn.Figures figures = Churn.run("interrupted", 4, millis(), 256 * 1024, 2 * MIB, true);
        assertClean(figures);
        assertTrue(figures.collections() > 0, "reclamation must have run: " + figures);
        assertTrue(figures.interruptedAllocations() > 0, figures.toString());
    }
}
