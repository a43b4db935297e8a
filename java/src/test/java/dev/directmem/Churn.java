package dev.directmem;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Shared by the stress, race and leak tests, the subprocess scenarios and the soak: threads that
 * allocate, check and drop buffers for a while, and a way back to a quiet ledger.
 */
final class Churn {
    static final int MIB = 1 << 20;
    /** Bytes settle() has freed itself, left out of the freedBytes it reports. */
    private static final AtomicLong PROBES_FREED = new AtomicLong();

    private Churn() {}

    /** What a churn did, as the report prints it. */
    record Figures(String scenario, int threads, int minSize, int maxSize, long allocations,
            long bytes, double seconds, long failures, long collections, long reclaimedBytes,
            long peakMemoryUsed, long maxMemory, long interruptedAllocations, List<String> problems) {

        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT,
                    "STRESS %s: threads=%d sizes=%s..%s allocations=%d bytes=%d (%.1f GiB) seconds=%.2f "
                            + "failures=%d collections=%d reclaimed=%d peak=%d max=%d interruptedAllocations=%d",
                    scenario, threads, size(minSize), size(maxSize), allocations, bytes,
                    bytes / (double) (1L << 30), seconds, failures, collections, reclaimedBytes,
                    peakMemoryUsed, maxMemory, interruptedAllocations);
        }

        private static String size(int bytes) {
            return bytes % MIB == 0 ? bytes / MIB + "MiB" : bytes % 1024 == 0 ? bytes / 1024 + "KiB" : bytes + "B";
        }
    }

    /**
     * {@code threads} threads allocate buffers of log-uniform sizes in [minSize, maxSize] for
     * {@code millis}, write both ends, check the fresh memory is zero and drop each buffer. With
     * {@code interrupt}, half the allocations start with the thread's interrupt flag set and another
     * thread keeps interrupting the workers, so that reclamation runs while interrupted: a flag set
     * before an allocation must still be set after it.
     */
    static Figures run(String scenario, int threads, long millis, int minSize, int maxSize, boolean interrupt)
            throws InterruptedException {
        DirectMemoryStats before = DirectMemory.stats();
        AtomicLong allocations = new AtomicLong();
        AtomicLong bytes = new AtomicLong();
        AtomicLong interrupted = new AtomicLong();
        ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> workers = new ArrayList<>();
        long started = System.nanoTime();
        long deadline = started + millis * 1_000_000L;
        for (int t = 0; t < threads; t++) {
            int seed = t;
            Thread worker = new Thread(() -> {
                SplittableRandom random = new SplittableRandom(0x6857566L * 31 + seed);
                long n = 0;
                while (System.nanoTime() < deadline && problems.size() < 10) {
                    int size = logUniform(random, minSize, maxSize);
                    boolean selfInterrupt = interrupt && random.nextBoolean();
                    if (selfInterrupt) {
                        Thread.currentThread().interrupt();
                    }
                    try {
                        ByteBuffer buffer = DirectMemory.allocateDirect(size);
                        if (selfInterrupt && !Thread.currentThread().isInterrupted()) {
                            problems.add("allocateDirect(" + size + ") cleared the interrupt status");
                        }
                        if (Thread.currentThread().isInterrupted()) {
                            interrupted.incrementAndGet();
                        }
                        Thread.interrupted();
                        check(buffer, size, seed * 1_000_003L + n++, problems);
                        allocations.incrementAndGet();
                        bytes.addAndGet(size);
                    } catch (Throwable e) {
                        Thread.interrupted();
                        problems.add(Thread.currentThread().getName() + ": " + e);
                    }
                }
                Thread.interrupted();
            }, scenario + "-" + t);
            workers.add(worker);
        }
        Thread interrupter = new Thread(() -> {
            SplittableRandom random = new SplittableRandom(42);
            while (!stop.get()) {
                workers.get(random.nextInt(workers.size())).interrupt();
                try {
                    Thread.sleep(0, 200_000);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, scenario + "-interrupter");
        workers.forEach(Thread::start);
        if (interrupt) {
            interrupter.start();
        }
        for (Thread worker : workers) {
            worker.join();
        }
        stop.set(true);
        interrupter.join();
        double seconds = (System.nanoTime() - started) / 1e9;
        DirectMemoryStats after = DirectMemory.stats();
        long failures = after.failedAllocations() - before.failedAllocations();
        if (failures != 0) {
            problems.add(failures + " failed allocation(s) counted in stats()");
        }
        return new Figures(scenario, threads, minSize, maxSize, allocations.get(), bytes.get(), seconds,
                problems.size(), after.collections() - before.collections(),
                after.reclaimedBytes() - before.reclaimedBytes(), after.peakMemoryUsed(),
                after.maxMemory(), interrupted.get(), List.copyOf(problems));
    }

    static int logUniform(SplittableRandom random, int minSize, int maxSize) {
        double low = Math.log(minSize);
        double high = Math.log(maxSize);
        long size = Math.round(Math.exp(low + random.nextDouble() * (high - low)));
        return (int) Math.max(minSize, Math.min(maxSize, size));
    }

    /**
     * A buffer with a block of its own even where {@link DirectMemory#allocateDirect} would share
     * one ({@link SharedBlock}): alignment 1 is no alignment at all, but never shared.
     */
    static ByteBuffer unshared(int capacity) {
        return DirectMemory.allocateDirectAligned(capacity, 1);
    }

    /** Fresh memory is zero at both ends and in the middle; writes land where they should. */
    private static void check(ByteBuffer buffer, int size, long stamp, ConcurrentLinkedQueue<String> problems) {
        if (buffer.capacity() != size || buffer.get(0) != 0 || buffer.get(size / 2) != 0 || buffer.get(size - 1) != 0) {
            problems.add("fresh buffer of " + size + " bytes is not zero-filled or has capacity " + buffer.capacity());
            return;
        }
        byte value = (byte) (stamp | 1);
        buffer.put(0, value);
        buffer.put(size - 1, value);
        if (buffer.get(0) != value || buffer.get(size - 1) != value) {
            problems.add("buffer of " + size + " bytes lost a write");
        }
    }

    /**
     * Brings every dropped buffer back and waits until the ledger is empty: a buffer of the whole
     * budget can only be reserved once everything unreachable is freed. Returns the stats then.
     * Fails if something stays counted: that is a leak (or a live buffer held by a test). The
     * freedBytes it returns leave out its own probes, so two settled snapshots subtract exactly.
     */
    static DirectMemoryStats settle() throws InterruptedException {
        long max = DirectMemory.stats().maxMemory();
        if (max <= Integer.MAX_VALUE) {
            DirectMemory.free(DirectMemory.allocateDirect((int) max));
            PROBES_FREED.addAndGet(max);
        }
        // Zero-capacity buffers hold no budget, so the reservation above need not wait for them:
        // a few young collections, from plain heap garbage, find the last of those.
        DirectMemoryStats stats = awaitEmptyLedger(20, true);
        // Leave out the probes' own frees, so that callers can account for their buffers alone.
        return new DirectMemoryStats(stats.count(), stats.totalCapacity(), stats.memoryUsed(),
                stats.maxMemory(), stats.peakMemoryUsed(), stats.collections(), stats.reclaimedBytes(),
                stats.freedBytes() - PROBES_FREED.get(), stats.failedAllocations());
    }

    /**
     * Waits, forcing no collection, until the ledger counts nothing: for an idle shared block that
     * a collection may have taken before the test retired it, which the reclaimer thread frees a
     * moment later. Fails if something stays counted for 10 s.
     */
    static void awaitNothingUsed() throws InterruptedException {
        awaitEmptyLedger(10, false);
    }

    /** Polls until the ledger counts no buffer and no byte, making heap garbage if asked; fails after the seconds given. */
    private static DirectMemoryStats awaitEmptyLedger(int seconds, boolean makeGarbage) throws InterruptedException {
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        DirectMemoryStats stats = DirectMemory.stats();
        while (stats.count() != 0 || stats.memoryUsed() != 0 || stats.totalCapacity() != 0) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the ledger did not return to zero: " + stats);
            }
            if (makeGarbage) {
                byte[][] garbage = new byte[16][];
                for (int i = 0; i < garbage.length; i++) {
                    garbage[i] = new byte[MIB];
                }
            }
            Thread.sleep(makeGarbage ? 5 : 1);
            stats = DirectMemory.stats();
        }
        return stats;
    }

    /**
     * Takes {@code reading} every 150 ms until {@code done} holds of it or 30 s have passed, and
     * returns the last one. For memory that goes back in the background: kept blocks within two
     * seconds of their last use, malloc's free memory at the next trim, which can come 10 s after
     * the one before (rust/src/heap_trim.rs SPACING), so a fixed sleep is either long or flaky.
     */
    static <T> T pollUntil(String what, Supplier<T> reading, Predicate<? super T> done)
            throws InterruptedException {
        return pollUntil(what, reading, done, 150, 30_000);
    }

    /**
     * {@link #pollUntil(String, Supplier, Predicate)} with another interval and bound: a race
     * that must be stopped soon after what it waits for polls every millisecond.
     */
    static <T> T pollUntil(String what, Supplier<T> reading, Predicate<? super T> done, long everyMillis,
            long forMillis) throws InterruptedException {
        long started = System.nanoTime();
        T value = reading.get();
        while (!done.test(value) && System.nanoTime() - started < forMillis * 1_000_000L) {
            Thread.sleep(everyMillis);
            value = reading.get();
        }
        System.out.printf("POLLED %s for %d ms: %s%n", what, (System.nanoTime() - started) / 1_000_000,
                done.test(value) ? "met" : "not met");
        return value;
    }

    /**
     * The parts of this process's resident set, as /proc/self/status gives them (anonymous memory,
     * mapped files, shared memory), for a message when a bound on it is missed.
     */
    static String residentParts() {
        try {
            StringBuilder parts = new StringBuilder();
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Rss")) {
                    parts.append(parts.length() == 0 ? "" : ", ").append(line.replaceAll("\\s+", " "));
                }
            }
            return parts.toString();
        } catch (IOException e) {
            return "no /proc/self/status: " + e;
        }
    }

    /** This process's resident set size (VmRSS), in bytes. */
    static long rssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /proc/self/status", e);
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}
