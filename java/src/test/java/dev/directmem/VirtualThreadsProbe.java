package dev.directmem;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Run in a child JVM by {@link VirtualThreadsTest}, on JDK 21+ with one carrier thread: a virtual
 * thread holds the whole budget and frees it a little later (once the asker was interrupted),
 * while another virtual thread, which the main thread interrupts meanwhile, asks for 1 MiB. The
 * asker must wait without holding the carrier, so that the holder can run and free.
 */
final class VirtualThreadsProbe {
    private static final int MIB = 1 << 20;

    private VirtualThreadsProbe() {}

    public static void main(String[] args) throws Exception {
        // Compiled for Java 17: the JDK 21 factory is looked up, not linked.
        ExecutorService virtual = (ExecutorService) Executors.class
                .getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
        long budget = DirectMemory.stats().maxMemory();
        CountDownLatch held = new CountDownLatch(1);
        CountDownLatch interruptSent = new CountDownLatch(1);
        Future<?> holder = virtual.submit(() -> {
            List<ByteBuffer> all = new ArrayList<>();
            for (long i = 0; i < budget / MIB; i++) {
                all.add(DirectMemory.allocateDirect(MIB));
            }
            held.countDown();
            // Unmounts (needs the carrier back to go on), and frees only once the asker, waiting
            // by then as a rule, was interrupted: a fixed sleep could end before the asker asked.
            interruptSent.await(60, TimeUnit.SECONDS);
            Thread.sleep(100);
            all.forEach(DirectMemory::free);
            return null;
        });
        held.await();
        AtomicReference<Thread> askerThread = new AtomicReference<>();
        CountDownLatch asking = new CountDownLatch(1);
        long start = System.nanoTime();
        Future<String> asker = virtual.submit(() -> {
            askerThread.set(Thread.currentThread());
            asking.countDown();
            ByteBuffer buffer = DirectMemory.allocateDirect(MIB);
            String outcome = "ALLOCATED after " + (System.nanoTime() - start) / 1_000_000 + " ms, "
                    + "zeroed " + (buffer.getLong(0) == 0 && buffer.getLong(MIB - 8) == 0)
                    + ", interrupt kept " + Thread.currentThread().isInterrupted();
            DirectMemory.free(buffer);
            return outcome;
        });
        asking.await(60, TimeUnit.SECONDS);
        Thread.sleep(100);
        askerThread.get().interrupt(); // while it waits: it must wait on, and keep the interrupt
        interruptSent.countDown();
        String outcome;
        try {
            outcome = asker.get(60, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            outcome = "FAILED " + e.getCause();
        }
        holder.get(60, TimeUnit.SECONDS);
        System.out.println(outcome);
        DirectMemoryStats after = DirectMemory.stats();
        System.out.println("LEDGER count=" + after.count() + " memoryUsed=" + after.memoryUsed());
        virtual.shutdown();
    }
}
