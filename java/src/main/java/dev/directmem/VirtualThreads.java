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

    /**
     * The most times a thread about to allocate gives up its carrier to woken waiters: a waiter
     * woken from a platform thread (the reclaimer) is queued as the yielding thread is, so one
     * yield does not always let it run first (JDK 25).
     */
    private static final int MAX_YIELDS = 8;

    /**
     * Test hook: the thread whose next leaving of {@link #PARKED} fails there, as a stack overflow
     * can; null (always, outside tests) for none.
     */
    private static volatile Thread failNextLeave;

    /** A parked thread, whether memory came back since it parked, and whether it went on. */
    private static final class Parked {
        final Thread thread = Thread.currentThread();
        volatile boolean freed;
        /**
         * Set as it stops waiting, before it leaves {@link #PARKED}: an entry a stack overflow
         * or a full heap kept from leaving is passed over, and removed by whoever sees it.
         */
        volatile boolean ended;
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
        boolean interrupted = false;
        try {
            PARKED.add(me);
            long end = System.nanoTime() + nanos;
            for (long left = nanos; left > 0 && !me.freed; left = end - System.nanoTime()) {
                LockSupport.parkNanos(left);
                interrupted |= Thread.interrupted();
            }
        } finally {
            me.ended = true; // no call: cannot fail
            if (failNextLeave == Thread.currentThread()) {
                failNextLeave = null;
                throw new StackOverflowError("test hook: failed as it left the parked set");
            }
            PARKED.remove(me);
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Called by a virtual thread before it allocates: while a thread that a free woke has not
     * yet run, gives up its carrier (at most {@link #MAX_YIELDS} times), so that the woken one
     * takes its next step, and the memory freed for it, first. Virtual threads are not
     * preempted: without this, threads that found memory at once kept the carriers, and a woken
     * thread ran only after the memory freed for it had been taken again (a soak, 64 virtual
     * threads through a 128 MiB budget held three quarters live: waits up to 9–18 s, now at
     * most 0.65 s; 128 threads: BudgetExhaustedError with the live set fitting, now none).
     * Waiters that no free woke cost no yield (one that never fits would otherwise slow every
     * allocation). One read when none waits.
     */
    static void yieldToWaiting() {
        for (int i = 0; i < MAX_YIELDS && wokenWaiting(); i++) {
            Thread.yield();
        }
    }

    /**
     * Whether a parked thread was woken by a free and has not run since, which makes
     * {@link #yieldToWaiting} yield; drops stale entries. Package-private for the tests.
     */
    static boolean wokenWaiting() {
        if (PARKED.isEmpty()) {
            return false;
        }
        for (Parked parked : PARKED) {
            if (parked.ended) {
                PARKED.remove(parked);
            } else if (parked.freed) {
                return true;
            }
        }
        return false;
    }

    /**
     * Test hook: {@code thread}, the next time it stops waiting in {@link #parkUntilFreed}, throws
     * StackOverflowError as it leaves the parked set, so that its entry stays there. No other
     * thread is touched, and null clears it: a test sets it for the thread it watches, and clears
     * it after, reached or not.
     */
    static void failNextLeaveForTesting(Thread thread) {
        failNextLeave = thread;
    }

    /** Memory came back: wakes every parked thread. Two reads when none is parked. */
    static void freed() {
        if (PARKED.isEmpty()) {
            return;
        }
        for (Parked parked : PARKED) {
            if (parked.ended) {
                PARKED.remove(parked);
                continue;
            }
            parked.freed = true;
            LockSupport.unpark(parked.thread);
        }
    }
}
