package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;

/**
 * After a long churn and dropping everything, the ledger is back at zero and the process gives
 * the memory back to the OS: its resident set returns near where it was before the churn.
 */
class LeakTest {
    private static final long MIB = Churn.MIB;
    /** Allowed RSS growth: half the 64 MiB budget that churned through many times over. */
    private static final long RSS_TOLERANCE = 32 * MIB;

    private static long heapCommitted() {
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getCommitted();
    }

    /**
     * The resident set once directmem's idle kept blocks are gone (within two seconds) and malloc
     * has given its free memory back ({@code jcmd System.trim_native_heap}, here rather than
     * directmem's own trim, whose timing depends on what ran before): what is really held.
     */
    private static long heldRss() throws Exception {
        Thread.sleep(2500);
        ManagementFactory.getPlatformMBeanServer().invoke(
                new ObjectName("com.sun.management:type=DiagnosticCommand"), "systemTrimNativeHeap",
                new Object[] {null}, new String[] {String[].class.getName()});
        return Churn.rssBytes();
    }

    @Test
    void longChurnReturnsTheLedgerToZeroAndRssNearItsBaseline() throws Exception {
        // Warm up first, so that the Java heap, JIT and malloc arenas reach their working size
        // before the baseline is taken: growth after that would be directmem's.
        Churn.run("leakWarmup", 4, 500, 1, 4 * (int) MIB, false);
        Churn.settle();
        long baseline = heldRss();
        long heapBaseline = heapCommitted();

        Churn.Figures figures = Churn.run("leak", 4, 2 * StressTest.millis(), 1, 4 * (int) MIB, false);
        long duringChurn = Churn.rssBytes();
        System.out.println(figures);
        assertEquals(0, figures.failures(), figures.toString());
        assertTrue(figures.bytes() > 4 * figures.maxMemory(), "churn far beyond the budget: " + figures);

        DirectMemoryStats settled = Churn.settle();
        long after = heldRss();
        // The Java heap may grow meanwhile (collectors size it as they go): that is not ours.
        long heapGrowth = Math.max(0, heapCommitted() - heapBaseline);
        System.out.printf("LEAK rss baseline=%d MiB afterChurn=%d MiB settled=%d MiB heapGrowth=%d MiB "
                        + "(tolerance %d MiB); ledger count=%d memoryUsed=%d%n", baseline / MIB, duringChurn / MIB,
                after / MIB, heapGrowth / MIB, RSS_TOLERANCE / MIB, settled.count(), settled.memoryUsed());
        assertEquals(0, settled.memoryUsed());
        assertEquals(0, settled.count());
        assertEquals(0, settled.totalCapacity());
        assertTrue(after - baseline - heapGrowth < RSS_TOLERANCE, "RSS grew from " + baseline / MIB
                + " MiB to " + after / MIB + " MiB, of which the Java heap " + heapGrowth / MIB + " MiB");
    }
}
