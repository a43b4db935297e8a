package dev.directmem;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.management.MBeanServer;
import javax.management.MBeanServerDelegate;
import javax.management.MBeanServerNotification;
import javax.management.NotificationListener;

/**
 * Run in a child JVM by {@link ReclaimerTest}: user code that directmem runs (a JMX listener told
 * of the MBean's registration, which directmem's reporter thread makes). The argument picks what
 * the listener does:
 * <ul>
 * <li>none: fills the budget with buffers it drops, then allocates one;
 * <li>{@code deep}: the same at each depth near the bottom of the thread's stack;
 * <li>{@code blocking}: waits for a lock the main thread holds while it drops four budgets'
 *     worth of buffers (a listener that blocks must not stop reclamation).
 * </ul>
 * Then the main thread takes the whole budget, which it gets only if every dropped buffer came back.
 */
final class ListenerProbe {
    private static final int MIB = 1 << 20;

    private ListenerProbe() {}

    public static void main(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "";
        DirectMemory.free(DirectMemory.allocateDirect(MIB)); // directmem started
        Object lock = new Object();
        CompletableFuture<String> entered = new CompletableFuture<>();
        CompletableFuture<String> outcome = new CompletableFuture<>();
        NotificationListener listener = (notification, handback) -> {
            if (notification instanceof MBeanServerNotification registered
                    && MBeanServerNotification.REGISTRATION_NOTIFICATION.equals(registered.getType())
                    && registered.getMBeanName().toString().equals(DirectMemoryMXBean.OBJECT_NAME)) {
                entered.complete(Thread.currentThread().getName());
                try {
                    outcome.complete(switch (mode) {
                        case "deep" -> allocateAtEveryDepth();
                        case "blocking" -> waitFor(lock);
                        case "interrupting" -> interruptItsThread();
                        default -> allocateOnce();
                    });
                } catch (Throwable t) {
                    outcome.complete("THREW " + t);
                }
            }
        };
        synchronized (lock) {
            // directmem looks for an MBean server once a second: the listener is in place long
            // before it finds this one.
            MBeanServer server = ManagementFactory.getPlatformMBeanServer();
            server.addNotificationListener(MBeanServerDelegate.DELEGATE_NAME, listener, null, null);
            String listenerThread = entered.get(120, TimeUnit.SECONDS);
            if (mode.equals("blocking")) {
                System.out.println(dropFourBudgets("while a listener on " + listenerThread + " waits for a lock"));
            }
        }
        if (mode.equals("interrupting")) {
            System.out.println(outcome.get(120, TimeUnit.SECONDS));
            System.out.println(cpuOfIdle(listenerThreadAfterwards()));
        }
        System.out.println(outcome.get(120, TimeUnit.SECONDS));

        ByteBuffer whole = DirectMemory.allocateDirect((int) DirectMemory.stats().maxMemory());
        DirectMemory.free(whole);
        System.out.println("THEN THE WHOLE BUDGET on " + Thread.currentThread().getName() + ", "
                + DirectMemory.stats().memoryUsed() + " bytes used after");
    }

    private static String interruptItsThread() {
        Thread.currentThread().interrupt(); // as code that restores an interrupt it caught
        return "INTERRUPTED " + Thread.currentThread().getName();
    }

    private static Thread listenerThreadAfterwards() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals("directmem-reporter")).findFirst().orElseThrow();
    }

    /** The CPU time {@code thread} takes in a second in which it has nothing to do. */
    private static String cpuOfIdle(Thread thread) throws InterruptedException {
        Thread.sleep(200); // the listener has returned
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        long before = threads.getThreadCpuTime(thread.getId());
        Thread.sleep(1000);
        long after = threads.getThreadCpuTime(thread.getId());
        return "IDLE " + thread.getName() + " CPU " + (after - before) / 1_000_000 + " ms in 1000 ms, "
                + thread.getState();
    }

    private static String waitFor(Object lock) {
        synchronized (lock) {
            return "LISTENER DONE on " + Thread.currentThread().getName();
        }
    }

    /** Allocates and drops four budgets' worth of 1 MiB buffers. */
    private static String dropFourBudgets(String when) {
        long start = System.nanoTime();
        int budgets = 4 * (int) (DirectMemory.stats().maxMemory() / MIB);
        for (int i = 0; i < budgets; i++) {
            try {
                DirectMemory.allocateDirect(MIB).put(0, (byte) 1);
            } catch (OutOfMemoryError e) {
                return "FAILED at buffer " + i + " of " + budgets + " " + when + ": " + e;
            }
        }
        return "DROPPED " + budgets + " MiB " + when + ", in " + (System.nanoTime() - start) / 1_000_000 + " ms";
    }

    private static String allocateOnce() {
        DirectMemoryStats before = fillTheBudgetWithGarbage();
        long start = System.nanoTime();
        try {
            ByteBuffer buffer = DirectMemory.allocateDirect(4 * MIB);
            buffer.put(0, (byte) 1);
            return "ALLOCATED on " + Thread.currentThread().getName() + " in "
                    + (System.nanoTime() - start) / 1_000_000 + " ms, with " + before.memoryUsed() + " of "
                    + before.maxMemory() + " bytes used before, collections "
                    + (DirectMemory.stats().collections() - before.collections());
        } catch (Throwable t) {
            StringBuilder failed = new StringBuilder("FAILED after " + (System.nanoTime() - start) / 1_000_000
                    + " ms: " + t);
            for (Throwable suppressed : t.getSuppressed()) {
                failed.append("\nSUPPRESSED ").append(suppressed);
            }
            return failed.toString();
        }
    }

    /**
     * Allocates at each depth from just below the deepest frame reachable down by 150,
     * the budget full of garbage each time: wherever the stack overflows, nothing may be lost and
     * nothing but the StackOverflowError may be thrown.
     */
    private static String allocateAtEveryDepth() {
        Map<String, Integer> outcomes = new TreeMap<>();
        int deepest = StackDepth.deepest(depth -> {
            reachedBottom = false;
            return atDepth(depth, false).equals("REACHED");
        });
        for (int depth = deepest + 10; depth >= Math.max(0, deepest - 150); depth--) {
            fillTheBudgetWithGarbage();
            reachedBottom = false;
            outcomes.merge(atDepth(depth, true), 1, Integer::sum);
        }
        return "DEEPEST " + deepest + " OUTCOMES " + outcomes
                + (firstFailure == null ? "" : "\nFIRST FAILURE " + firstFailure);
    }

    /** Whether the current probe's recursion reached its bottom frame. */
    private static boolean reachedBottom;
    /** The first failure other than StackOverflowError, kept without building anything at depth. */
    private static Throwable firstFailure;

    /**
     * Recurses {@code depth} frames, then allocates a buffer there and drops it. The outcomes are
     * constants: building a string down there could overflow and hide a failure.
     */
    private static String atDepth(int depth, boolean allocate) {
        if (depth > 0) {
            try {
                return atDepth(depth - 1, allocate);
            } catch (StackOverflowError e) {
                // Struck on the way down, or else escaped the bottom frame's own handling.
                return reachedBottom ? "FAILED" : "NOT_REACHED";
            }
        }
        reachedBottom = true;
        if (!allocate) {
            return "REACHED";
        }
        try {
            DirectMemory.allocateDirect(MIB).put(0, (byte) 1);
            return "ALLOCATED";
        } catch (StackOverflowError e) {
            return "OVERFLOWED";
        } catch (Throwable t) {
            if (firstFailure == null) {
                firstFailure = t;
            }
            return "FAILED";
        }
    }

    /**
     * Fills the budget with 1 MiB buffers, held (an early collection finds none of them), and drops
     * them; returns the stats while they were held (read after the drop, an early collection that
     * came meanwhile could have freed them).
     */
    private static DirectMemoryStats fillTheBudgetWithGarbage() {
        List<ByteBuffer> held = new ArrayList<>();
        long budget = DirectMemory.stats().maxMemory();
        for (long i = 0; i < budget / MIB; i++) {
            held.add(DirectMemory.allocateDirect(MIB));
        }
        DirectMemoryStats full = DirectMemory.stats();
        held.clear();
        return full;
    }
}
