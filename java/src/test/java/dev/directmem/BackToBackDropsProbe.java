package dev.directmem;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Run in a child JVM by {@link ReclamationTest}, with a 64 MiB budget: holds 60 MiB live while
 * another thread allocates and drops 1 MiB buffers back to back, and asks for 8 MiB, which can
 * never fit. Prints how many collections the request went through before it threw. In a child
 * JVM, because inside the test JVM the other thread ran far less (a few dozen buffers while the
 * request failed, against thousands here) and the old rule's fault did not show.
 */
final class BackToBackDropsProbe {
    private static final int MIB = 1 << 20;

    private BackToBackDropsProbe() {}

    public static void main(String[] args) throws InterruptedException {
        List<ByteBuffer> live = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            live.add(DirectMemory.allocateDirect(MIB));
        }
        AtomicInteger steps = new AtomicInteger();
        AtomicReference<Throwable> stepFailed = new AtomicReference<>();
        Thread other = new Thread(() -> {
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    DirectMemory.allocateDirect(MIB).put(0, (byte) 1);
                    steps.incrementAndGet();
                }
            } catch (Throwable t) {
                stepFailed.set(t);
            }
        }, "drops-back-to-back");
        other.start();
        while (steps.get() < 100 && other.isAlive()) {
            Thread.sleep(1);
        }
        long collectionsBefore = DirectMemory.stats().collections();
        long started = System.nanoTime();
        try {
            DirectMemory.allocateDirect(8 * MIB);
            System.out.println("GRANTED, though 60 of the 64 MiB are live");
        } catch (BudgetExhaustedError e) {
            System.out.printf("FAILED after %.2f s, %d collections in all, %d buffers dropped meanwhile: %s%n",
                    (System.nanoTime() - started) / 1e9, DirectMemory.stats().collections() - collectionsBefore,
                    steps.get(), e.getMessage());
        } finally {
            other.interrupt();
            other.join();
            live.forEach(DirectMemory::free);
        }
        if (stepFailed.get() != null) {
            System.out.println("THE OTHER THREAD THREW " + stepFailed.get());
        }
    }
}
