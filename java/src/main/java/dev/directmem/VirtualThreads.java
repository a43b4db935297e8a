package dev.directmem;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;

/**
 * Virtual threads (JDK 21+) waiting for memory.
 *
 * <p>A thread waits for memory inside a native call, woken by frees. A virtual thread cannot: in
 * a native call it keeps its carrier thread, and once every carrier is kept so, the virtual
 * threads whose frees they wait for cannot run (measured: 64 virtual threads sharing a budget
 * through 2 carriers got no buffer in 120 s and 152 OutOfMemoryErrors). So an allocation on a
 * virtual thread goes in native steps, and parks here between them, which frees the carrier; a
 * free wakes it, as it wakes a thread waiting in the native call.
 */
final class VirtualThreads {
    /** {@code Thread::isVirtual}, or null on a JDK without virtual threads. */
    private static final MethodHandle IS_VIRTUAL = isVirtualOrNull();
    private static final Set<Parked> PARKED = ConcurrentHashMap.newKeySet();

    /** A parked thread, and whether memory came back since it parked. */
    private static final class Parked {
        final Thread thread = Thread.currentThread();
        volatile boolean freed;
    }

    private VirtualThreads() {}

    private static MethodHandle isVirtualOrNull() {
        try {
            return MethodHandles.publicLookup()
                    .findVirtual(Thread.class, "isVirtual", MethodType.methodType(boolean.class));
        } catch (ReflectiveOperationException e) {
            return null; // JDK 17
        }
    }

    static {
        current(); // linked now: the first call of a method handle allocates
    }

    /** Whether the current thread is a virtual one. */
    static boolean current() {
        if (IS_VIRTUAL == null) {
            return false;
        }
        try {
            return (boolean) IS_VIRTUAL.invokeExact(Thread.currentThread());
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t); // Thread::isVirtual declares nothing
        }
    }

    /**
     * Parks for {@code nanos}, or until memory comes back. Interrupts do not cut it short (the
     * next step would find nothing freed and collect again too soon); they stay for the caller
     * to see, as they do through a wait in the native call. A free between the native step and
     * this park goes unseen: the park then lasts its time, a pause of the step's back-off.
     */
    static void parkUntilFreed(long nanos) {
        Parked me = new Parked();
        PARKED.add(me);
        boolean interrupted = false;
        try {
            long end = System.nanoTime() + nanos;
            for (long left = nanos; left > 0 && !me.freed; left = end - System.nanoTime()) {
                LockSupport.parkNanos(left);
                interrupted |= Thread.interrupted();
            }
        } finally {
            PARKED.remove(me);
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Called by a virtual thread before it allocates: if others wait for memory, gives up its
     * carrier once, so that those a free woke take their next step, and the memory freed for
     * them, before it does. Virtual threads are not preempted: without this, threads that
     * found memory at once kept the carriers, and a woken thread ran only after the memory
     * freed for it had been taken again (a soak, 64 virtual threads through a 128 MiB budget
     * held three quarters live: waits up to 9–18 s; 128 threads: BudgetExhaustedError with the
     * live set fitting). One read when none waits.
     */
    static void yieldToWaiting() {
        if (!PARKED.isEmpty()) {
            Thread.yield();
        }
    }

    /** Memory came back: wakes every parked thread. Two reads when none is parked. */
    static void freed() {
        if (PARKED.isEmpty()) {
            return;
        }
        for (Parked parked : PARKED) {
            parked.freed = true;
            LockSupport.unpark(parked.thread);
        }
    }
}
