package dev.directmem;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The soak behind scripts/soak.sh: churns buffers for minutes, and after every round brings the
 * ledger back to zero and samples the process's RSS. Fails (exit 1) on a failed allocation, a
 * ledger that does not return to zero, or RSS that keeps growing: the last third of the samples
 * above the first third by more than the allowed growth.
 *
 * <p>Arguments: minutes (default 5), threads (4), largest buffer in bytes (4 MiB), allowed RSS
 * growth in MiB (32).
 */
final class Soak {
    private static final long MIB = Churn.MIB;

    private Soak() {}

    public static void main(String[] args) throws InterruptedException {
        double minutes = args.length > 0 ? Double.parseDouble(args[0]) : 5;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 4;
        int maxSize = args.length > 2 ? Integer.parseInt(args[2]) : 4 * (int) MIB;
        long allowedGrowth = (args.length > 3 ? Long.parseLong(args[3]) : 32) * MIB;
        long total = (long) (minutes * 60_000);
        long round = Math.max(1_000, Math.min(15_000, total / 20));

        // Warm-up: heap, JIT and malloc arenas reach their working size before the baseline.
        Churn.run("soakWarmup", threads, Math.min(30_000, Math.max(2_000, total / 10)), 1, maxSize, false);
        Churn.settle();
        long started = System.nanoTime();
        List<Long> rss = new ArrayList<>();
        long bytes = 0;
        long failures = 0;
        System.out.printf(Locale.ROOT, "SOAK %.1f min, %d threads, sizes 1B..%d, budget %d MiB, rounds of %d s%n",
                minutes, threads, maxSize, DirectMemory.stats().maxMemory() / MIB, round / 1000);
        while ((System.nanoTime() - started) / 1_000_000 < total) {
            Churn.Figures figures = Churn.run("soak", threads, round, 1, maxSize, false);
            figures.problems().forEach(p -> System.out.println("PROBLEM " + p));
            DirectMemoryStats settled = Churn.settle(); // throws if the ledger stays above zero
            long sample = Churn.rssBytes();
            rss.add(sample);
            bytes += figures.bytes();
            failures += figures.failures();
            System.out.printf(Locale.ROOT, "SOAK t=%5.0fs rss=%4d MiB used=%d count=%d collections=%d "
                            + "pushed=%.1f GiB failures=%d%n", (System.nanoTime() - started) / 1e9, sample / MIB,
                    settled.memoryUsed(), settled.count(), settled.collections(), bytes / (double) (1L << 30),
                    failures);
        }
        int third = Math.max(1, rss.size() / 3);
        long early = median(rss.subList(0, third));
        long late = median(rss.subList(rss.size() - third, rss.size()));
        boolean grew = late - early > allowedGrowth;
        System.out.printf(Locale.ROOT, "SOAK result: %d samples, RSS median first third %d MiB, last third %d MiB "
                        + "(allowed growth %d MiB), %.1f GiB pushed, %d failures: %s%n", rss.size(), early / MIB,
                late / MIB, allowedGrowth / MIB, bytes / (double) (1L << 30), failures,
                grew || failures > 0 ? "FAIL" : "PASS");
        System.exit(grew || failures > 0 ? 1 : 0);
    }

    private static long median(List<Long> values) {
        List<Long> sorted = new ArrayList<>(values);
        sorted.sort(null);
        return sorted.get(sorted.size() / 2);
    }
}
