package dev.directmem;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;

/**
 * A child JVM for {@link ReuseTest}: prints the resident set at the moments its mode asks about.
 *
 * <ul>
 *   <li>{@code mapped}: writes every page of 32 buffers of 1 MiB, frees them; before, with them,
 *       right after the free, after 3.5 idle seconds.
 *   <li>{@code threads N}: N threads each write and free one buffer of 200 KiB, then wait; before,
 *       with all of them waiting, and after 3.5 idle seconds more.
 *   <li>{@code malloc}: two threads churn buffers of 8 KiB to 200 KiB for 1.5 s, every page
 *       written, half freed, half dropped; then all of them are given back; before, at the end of
 *       the churn, and after 4 idle seconds.
 * </ul>
 */
public final class ReuseProbe {
    private static final int PAGE = 4096;

    private ReuseProbe() {}

    public static void main(String[] args) throws Exception {
        switch (args.length == 0 ? "mapped" : args[0]) {
            case "mapped" -> mapped();
            case "threads" -> threads(Integer.parseInt(args[1]));
            case "malloc" -> malloc();
            default -> throw new IllegalArgumentException(args[0]);
        }
    }

    private static void mapped() throws InterruptedException {
        int mib = 1 << 20;
        ByteBuffer[] buffers = new ByteBuffer[32];
        long before = Churn.rssBytes();
        for (int i = 0; i < buffers.length; i++) {
            buffers[i] = written(mib);
        }
        long with = Churn.rssBytes();
        for (ByteBuffer buffer : buffers) {
            DirectMemory.free(buffer);
        }
        long afterFree = Churn.rssBytes();
        Thread.sleep(3500); // kept blocks go back within two seconds unused: some slack
        long idle = Churn.rssBytes();
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
        Thread.sleep(3500); // an idle thread's kept block goes back within two seconds
        long idle = Churn.rssBytes();
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
            threads[t] = new Thread(() -> churn(new SplittableRandom(seed), 1500));
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
        Thread.sleep(4000); // a quiet period to see frees stopped, one more to trim: some slack
        long idle = Churn.rssBytes();
        System.out.println("MALLOC before=" + before + " churned=" + churned + " idle=" + idle);
    }

    /** Allocates, writes and drops or frees buffers of 8 KiB to 200 KiB for {@code millis}. */
    private static void churn(SplittableRandom random, long millis) {
        ByteBuffer[] live = new ByteBuffer[32];
        long end = System.nanoTime() + millis * 1_000_000;
        for (int i = 0; System.nanoTime() < end; i = (i + 1) % live.length) {
            if (live[i] != null && random.nextBoolean()) {
                DirectMemory.free(live[i]); // the other half is dropped, for the reclaimer
            }
            live[i] = written(Churn.logUniform(random, 8 << 10, 200 << 10));
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
