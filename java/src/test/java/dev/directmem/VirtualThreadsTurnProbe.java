package dev.directmem;

import java.nio.ByteBuffer;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Run in a child JVM by {@link VirtualThreadsTest}, on JDK 21+ with one carrier thread and a
 * 2 MiB budget, half held by the main thread: a virtual thread waits for 1 MiB while another,
 * which never blocks, frees the other half and then allocates and frees 1 MiB again and again.
 * Prints how many rounds the churner had made when the waiting thread got its buffer.
 */
final class VirtualThreadsTurnProbe {
    private static final int MIB = 1 << 20;
    static final int ROUNDS = 2000;

    private VirtualThreadsTurnProbe() {}

    public static void main(String[] args) throws Exception {
        // Compiled for Java 17: the JDK 21 factory is looked up, not linked.
        ExecutorService virtual = (ExecutorService) Executors.class
                .getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
        ByteBuffer held = DirectMemory.allocateDirect(MIB);
        ByteBuffer blocker = DirectMemory.allocateDirect(MIB); // the budget is full
        AtomicInteger rounds = new AtomicInteger();
        // Submitted first, so it runs first on the one carrier: refused, it parks.
        Future<Integer> waiter = virtual.submit(() -> {
            ByteBuffer buffer = DirectMemory.allocateDirect(MIB);
            int at = rounds.get();
            DirectMemory.free(buffer);
            return at;
        });
        Future<?> churner = virtual.submit(() -> {
            DirectMemory.free(blocker); // wakes the waiter, which needs the carrier to go on
            for (int i = 0; i < ROUNDS; i++) {
                DirectMemory.free(DirectMemory.allocateDirect(MIB));
                rounds.incrementAndGet();
            }
            return null;
        });
        churner.get(60, TimeUnit.SECONDS);
        System.out.println("WAITER SERVED after " + waiter.get(60, TimeUnit.SECONDS) + " of " + ROUNDS
                + " rounds of the churner");
        DirectMemory.free(held);
        virtual.shutdown();
    }
}
