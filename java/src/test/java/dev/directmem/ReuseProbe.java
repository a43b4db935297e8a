package dev.directmem;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A child JVM for {@link ReuseTest}: prints the resident set at the moments its mode asks about.
 *
 * <ul>
 *   <li>{@code mapped [N]}: writes every page of N (default 32) buffers of 1 MiB, frees them;
 *       before (once a first buffer has loaded the library and started its threads: about
 *       12 MiB that otherwise could land before or after the next reading), with them, right
 *       after the free, once idle (3.5 s).
 *   <li>{@code threads N}: N threads each write and free one buffer of 200 KiB, then wait; before,
 *       with all of them waiting, and once idle (3.5 s more).
 *   <li>{@code malloc}: two threads churn buffers of 8 KiB to 200 KiB, twice the budget each,
 *       every page written, half freed, half dropped (so the dropped fill the budget once at
 *       least, whatever the machine's speed); then all of them are given back; before, at the end
 *       of the churn, and once idle (4 s).
 * </ul>
 *
 * <p>With {@code -DreuseProbe.idleAtMost=} the idle reading waits, up to 30 s, for the bound the
 * test checks rather than the fixed time: an earlier reading's name, a sign and bytes
 * ({@code with-29360128}), or bytes alone.
 */
public final class ReuseProbe {
    private static final int PAGE = 4096;
    private static final Pattern BOUND = Pattern.compile("(?:(\\w+)([+-]))?(\\d+)");

    private ReuseProbe() {}

    public static void main(String[] args) throws Exception {
        switch (args.length == 0 ? "mapped" : args[0]) {
            case "mapped" -> mapped(args.length > 1 ? Integer.parseInt(args[1]) : 32);
            case "threads" -> threads(Integer.parseInt(args[1]));
            case "malloc" -> malloc();
            default -> throw new IllegalArgumentException(args[0]);
        }
    }

    private static void mapped(int count) throws InterruptedException {
        int mib = 1 << 20;
        ByteBuffer[] buffers = new ByteBuffer[count];
        DirectMemory.free(DirectMemory.allocateDirect(64)); // the library and its threads first
        long before = Churn.rssBytes();
        for (int i = 0; i < buffers.length; i++) {
            buffers[i] = written(mib);
        }
        long with = Churn.rssBytes();
        for (ByteBuffer buffer : buffers) {
            DirectMemory.free(buffer);
        }
        long afterFree = Churn.rssBytes();
        // Kept blocks go back within two seconds unused: some slack.
        long idle = idle(3500, Map.of("before", before, "with", with, "afterFree", afterFree));
        System.out.println("REUSE before=" + before + " with=" + with + " afterFree=" + afterFree
                + " idle=" + idle);
    }

    private static void threads(int count) throws InterruptedException {
        DirectMemory.free(DirectMemory.allocateDirect(64)); // the library's own threads first
        long before = Churn.rssBytes();
        CountDownLatch freed = new CountDownLatch(count);
        CountDownLatch end = new CountDownLatch(1);
        Semaphore twoAtATime = new Semaphore(2);
        Thread[] threads = new Thread[count];
        for (int i = 0; i < count; i++) {
            threads[i] = new Thread(() -> {
                try {
                    twoAtATime.acquire();
                    try {
                        DirectMemory.free(written(200 << 10));
                    } finally {
                        twoAtATime.release();
                    }
                    freed.countDown();
                    end.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            threads[i].start();
        }
        freed.await();
        long waiting = Churn.rssBytes();
        // An idle thread's kept block goes back to malloc within two seconds, then at its next trim.
        long idle = idle(3500, Map.of("before", before, "waiting", waiting));
        end.countDown();
        for (Thread thread : threads) {
            thread.join();
        }
        System.out.println("THREADS before=" + before + " waiting=" + waiting + " idle=" + idle);
    }

    private static void malloc() throws InterruptedException {
        DirectMemory.free(DirectMemory.allocateDirect(64));
        long before = Churn.rssBytes();
        Thread[] threads = new Thread[2];
        for (int t = 0; t < threads.length; t++) {
            long seed = t;
            threads[t] = new Thread(() -> churn(new SplittableRandom(seed), 2 * DirectMemory.stats().maxMemory()));
            threads[t].start();
        }
        for (Thread thread : threads) {
            thread.join();
        }
        long churned = Churn.rssBytes();
        // Whatever was dropped comes back through a collection, which a request for the whole
        // budget makes happen; then nothing is in use.
        DirectMemory.free(DirectMemory.allocateDirect((int) DirectMemory.stats().maxMemory()));
        if (DirectMemory.stats().memoryUsed() != 0) {
            throw new IllegalStateException("still in use: " + DirectMemory.stats());
        }
        // A quiet period to see frees stopped, one more to trim: some slack.
        long idle = idle(4000, Map.of("before", before, "churned", churned));
        System.out.println("MALLOC before=" + before + " churned=" + churned + " idle=" + idle);
    }

    /**
     * The idle resident set: as soon as it meets the bound {@code -DreuseProbe.idleAtMost} sets
     * (see above), for tests that expect memory back, which can take until a trim 10 s after the
     * last one (a trim that came before the caches' last blocks reached malloc). Without the
     * bound, after {@code millis}: for tests that expect nothing back, or want a reference.
     */
    private static long idle(long millis, Map<String, Long> readings) throws InterruptedException {
        String bound = System.getProperty("reuseProbe.idleAtMost");
        if (bound == null) {
            Thread.sleep(millis);
            return Churn.rssBytes();
        }
        Matcher m = BOUND.matcher(bound);
        if (!m.matches() || (m.group(1) != null && !readings.containsKey(m.group(1)))) {
            throw new IllegalArgumentException("reuseProbe.idleAtMost=" + bound + ", readings " + readings.keySet());
        }
        long bytes = Long.parseLong(m.group(3));
        long atMost = m.group(1) == null ? bytes
                : readings.get(m.group(1)) + (m.group(2).equals("-") ? -bytes : bytes);
        // The readings' changes kept, to show how the resident set moved if the bound is not met
        // (seen once: 45 MiB above the start after 30 s, bound 40, with reuse off).
        StringBuilder trace = new StringBuilder();
        long[] last = {-1};
        long started = System.nanoTime();
        long idle = Churn.pollUntil("idle RSS to " + bound, () -> {
            long rss = Churn.rssBytes();
            if (rss >> 20 != last[0]) { // each change of a MiB or more, with its time in ms
                last[0] = rss >> 20;
                trace.append(String.format(" %d:%d", (System.nanoTime() - started) / 1_000_000L, last[0]));
            }
            return rss;
        }, rss -> rss <= atMost);
        if (idle > atMost) {
            System.out.println("IDLE RSS TRACE (ms:MiB)" + trace + "; at the end " + Churn.residentParts()
                    + "; " + DirectMemory.stats());
        }
        return idle;
    }

    /** Allocates, writes and drops or frees buffers of 8 KiB to 200 KiB, {@code bytes} in all. */
    private static void churn(SplittableRandom random, long bytes) {
        ByteBuffer[] live = new ByteBuffer[32];
        for (long churned = 0, i = 0; churned < bytes; i = (i + 1) % live.length) {
            int at = (int) i;
            if (live[at] != null && random.nextBoolean()) {
                DirectMemory.free(live[at]); // the other half is dropped, for the reclaimer
            }
            live[at] = written(Churn.logUniform(random, 8 << 10, 200 << 10));
            churned += live[at].capacity();
        }
        for (ByteBuffer buffer : live) {
            DirectMemory.free(buffer);
        }
    }

    private static ByteBuffer written(int capacity) {
        ByteBuffer buffer = DirectMemory.allocateDirect(capacity);
        for (int at = 0; at < capacity; at += PAGE) {
            buffer.put(at, (byte) 1);
        }
        return buffer;
    }
}
