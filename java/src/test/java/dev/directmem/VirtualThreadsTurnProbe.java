package dev.directmem;

import java.nio.ByteBuffer;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Run in a child JVM by {@link VirtualThreadsTest}, on JDK 21+ with one carrier thread: a virtual
 * thread waits for memory while another, which never blocks, allocates and frees 1 MiB again and
 * again. Prints how many rounds the churner had made, since the memory the waiter needs was
 * freed, when the waiter got its buffer; the churner stops then, or after {@link #ROUNDS} rounds
 * (the waiter is then served after all of them).
 *
 * <p>{@code virtual}: a 2 MiB budget, half held by the main thread; the waiter asks for 1 MiB,
 * and the churner frees the other half before it starts. {@code platform}: a 3 MiB budget, 1 MiB
 * held; the waiter asks for 2 MiB, and the main thread (a platform thread, as the reclaimer is)
 * frees the blocking 1 MiB while the churner runs. Rounds count from that free, not from the
 * churner's start: a main thread kept off the CPU would otherwise use the rounds up first.
 */
final class VirtualThreadsTurnProbe {
    private static final int MIB = 1 << 20;
    static final int ROUNDS = 2000;

    private VirtualThreadsTurnProbe() {}

    public static void main(String[] args) throws Exception {
        boolean platform = args[0].equals("platform");
        // Compiled for Java 17: the JDK 21 factory is looked up, not linked.
        ExecutorService virtual = (ExecutorService) Executors.class
                .getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
        ByteBuffer held = DirectMemory.allocateDirect(MIB);
        ByteBuffer blocker = DirectMemory.allocateDirect(MIB); // the budget is full for the waiter
        AtomicInteger churned = new AtomicInteger();
        AtomicInteger sinceFreed = new AtomicInteger();
        AtomicBoolean blockerFreed = new AtomicBoolean();
        AtomicBoolean served = new AtomicBoolean();
        // Submitted first, so it runs first on the one carrier: refused, it parks.
        Future<Integer> waiter = virtual.submit(() -> {
            ByteBuffer buffer = DirectMemory.allocateDirect(platform ? 2 * MIB : MIB);
            int at = sinceFreed.get();
            served.set(true);
            DirectMemory.free(buffer);
            return at;
        });
        Future<?> churner = virtual.submit(() -> {
            if (!platform) {
                DirectMemory.free(blocker); // wakes the waiter, which needs the carrier to go on
                blockerFreed.set(true);
            }
            while (!served.get() && sinceFreed.get() < ROUNDS) {
                DirectMemory.free(DirectMemory.allocateDirect(MIB));
                churned.incrementAndGet();
                if (blockerFreed.get()) {
                    sinceFreed.incrementAndGet();
                }
            }
            return null;
        });
        if (platform) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (churned.get() < 10) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the churner made " + churned.get() + " rounds in 60 s");
                }
                Thread.onSpinWait();
            }
            DirectMemory.free(blocker);
            blockerFreed.set(true);
        }
        churner.get(60, TimeUnit.SECONDS);
        System.out.println("WAITER SERVED after " + waiter.get(60, TimeUnit.SECONDS) + " of " + ROUNDS
                + " rounds of the churner");
        DirectMemory.free(held);
        virtual.shutdown();
    }
}
