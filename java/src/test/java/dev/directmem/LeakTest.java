package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import javax.management.JMException;
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

    /** The resident set and how much the Java heap grew since the baseline, read together. */
    private record Held(long rss, long heapGrowth) {}

    /**
     * The resident set once malloc has given its free memory back ({@code jcmd
     * System.trim_native_heap}, here rather than directmem's own trim, whose timing depends on what
     * ran before): what is really held, once directmem's idle kept blocks are gone too.
     */
    private static long trimmedRss() {
        try {
            ManagementFactory.getPlatformMBeanServer().invoke(
                    new ObjectName("com.sun.management:type=DiagnosticCommand"), "systemTrimNativeHeap",
                    new Object[] {null}, new String[] {String[].class.getName()});
        } catch (JMException e) {
            throw new IllegalStateException("cannot trim the native heap", e);
        }
        return Churn.rssBytes();
    }

    @Test
    void longChurnReturnsTheLedgerToZeroAndRssNearItsBaseline() throws Exception {
        // Warm up first, so that the Java heap, JIT and malloc arenas reach their working size
        // before the baseline is taken: growth after that would be directmem's.
        Churn.run("leakWarmup", 4, 500, 1, 4 * (int) MIB, false);
        Churn.settle();
        // Kept blocks go back within two seconds; one still kept would only raise the baseline,
        // so a fixed wait does here.
        Thread.sleep(2500);
        long baseline = trimmedRss();
        long heapBaseline = heapCommitted();

        Churn.Figures figures = Churn.run("leak", 4, 2 * StressTest.millis(), 1, 4 * (int) MIB, false);
        long duringChurn = Churn.rssBytes();
        System.out.println(figures);
        assertEquals(0, figures.failures(), figures.toString());
        assertTrue(figures.bytes() > 4 * figures.maxMemory(), "churn far beyond the budget: " + figures);

        DirectMemoryStats settled = Churn.settle();
        // Polled, a trim before each reading: kept blocks reach malloc within about two seconds of
        // their last use, later on a busy machine. The Java heap may grow meanwhile (collectors
        // size it as they go): that is not ours.
        Held held = Churn.pollUntil("held RSS",
                () -> new Held(trimmedRss(), Math.max(0, heapCommitted() - heapBaseline)),
                h -> h.rss() - baseline - h.heapGrowth() < RSS_TOLERANCE);
        long after = held.rss();
        long heapGrowth = held.heapGrowth();
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
