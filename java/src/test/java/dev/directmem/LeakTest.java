package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * After a long churn and dropping everything, the ledger is back at zero and the process gives
 * the memory back to the OS: its resident set returns near where it was before the churn.
 */
class LeakTest {
    private static final long MIB = Churn.MIB;
    /** Allowed RSS growth: well under the 64 MiB budget that churned through many times over. */
    private static final long RSS_TOLERANCE = 24 * MIB;

    @Test
    void longChurnReturnsTheLedgerToZeroAndRssNearItsBaseline() throws InterruptedException {
        // Warm up first, so that the Java heap, JIT and malloc arenas reach their working size
        // before the baseline is taken: growth after that would be directmem's.
        Churn.run("leakWarmup", 4, 500, 1, 4 * (int) MIB, false);
        Churn.settle();
        long baseline = Churn.rssBytes();

        Churn.Figures figures = Churn.run("leak", 4, 2 * StressTest.millis(), 1, 4 * (int) MIB, false);
        long duringChurn = Churn.rssBytes();
        System.out.println(figures);
        assertEquals(0, figures.failures(), figures.toString());
        assertTrue(figures.bytes() > 4 * figures.maxMemory(), "churn far beyond the budget: " + figures);

        DirectMemoryStats settled = Churn.settle();
        long after = Churn.rssBytes();
        System.out.printf("LEAK rss baseline=%d MiB afterChurn=%d MiB settled=%d MiB (tolerance %d MiB); "
                        + "ledger count=%d memoryUsed=%d%n", baseline / MIB, duringChurn / MIB, after / MIB,
                RSS_TOLERANCE / MIB, settled.count(), settled.memoryUsed());
        assertEquals(0, settled.memoryUsed());
        assertEquals(0, settled.count());
        assertEquals(0, settled.totalCapacity());
        assertTrue(after - baseline < RSS_TOLERANCE, "RSS grew from " + baseline / MIB + " MiB to "
                + after / MIB + " MiB");
    }
}
