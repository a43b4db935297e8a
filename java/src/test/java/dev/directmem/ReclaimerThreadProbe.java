package dev.directmem;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.management.MBeanServer;
import javax.management.MBeanServerDelegate;
import javax.management.MBeanServerNotification;
import javax.management.NotificationListener;

/**
 * Run in a child JVM by {@link ReclaimerTest}: user code on the reclaimer thread (a JMX listener
 * told of the MBean's registration, which that thread makes) fills the budget with buffers it
 * drops, then allocates: only that thread frees unreachable buffers.
 */
final class ReclaimerThreadProbe {
    private ReclaimerThreadProbe() {}

    public static void main(String[] args) throws Exception {
        DirectMemory.free(DirectMemory.allocateDirect(1 << 20)); // directmem started
        CompletableFuture<String> outcome = new CompletableFuture<>();
        NotificationListener listener = (notification, handback) -> {
            if (notification instanceof MBeanServerNotification registered
                    && MBeanServerNotification.REGISTRATION_NOTIFICATION.equals(registered.getType())
                    && registered.getMBeanName().toString().equals(DirectMemoryMXBean.OBJECT_NAME)) {
                fillTheBudgetWithGarbage();
                DirectMemoryStats before = DirectMemory.stats();
                long start = System.nanoTime();
                try {
                    ByteBuffer buffer = DirectMemory.allocateDirect(4 << 20);
                    buffer.put(0, (byte) 1);
                    outcome.complete("ALLOCATED on " + Thread.currentThread().getName() + " in "
                            + (System.nanoTime() - start) / 1_000_000 + " ms, with " + before.memoryUsed() + " of "
                            + before.maxMemory() + " bytes used before, collections "
                            + (DirectMemory.stats().collections() - before.collections()));
                } catch (Throwable t) {
                    outcome.complete("FAILED after " + (System.nanoTime() - start) / 1_000_000 + " ms: " + t);
                }
            }
        };
        // The reclaimer thread looks for an MBean server once a second: the listener is in place
        // long before it finds this one.
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        server.addNotificationListener(MBeanServerDelegate.DELEGATE_NAME, listener, null, null);
        System.out.println(outcome.get(60, TimeUnit.SECONDS));
    }

    /** The whole budget in buffers held (an early collection finds none of them), then dropped. */
    private static void fillTheBudgetWithGarbage() {
        List<ByteBuffer> held = new ArrayList<>();
        long budget = DirectMemory.stats().maxMemory();
        for (long i = 0; i < budget / (1 << 20); i++) {
            held.add(DirectMemory.allocateDirect(1 << 20));
        }
        held.clear();
    }
}
