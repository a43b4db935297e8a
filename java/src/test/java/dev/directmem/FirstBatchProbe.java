package dev.directmem;

import java.lang.Thread.UncaughtExceptionHandler;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Run in a child JVM by {@link ReclaimerTest}: the reclaimer thread's first batch free comes with
 * the Java heap full and buffers queued for it. A hook holds the reclaimer at its start until the
 * heap is full, so its first call of the batch free cannot link (linking a native method
 * allocates); the heap stays full, whatever a failed try left to collect, until the reclaimer has
 * tried (it parks between tries, or waits for references once linked) and a moment more. Prints how many OutOfMemoryErrors the reclaimer reported and how much of the dropped buffers'
 * memory came back.
 */
final class FirstBatchProbe {
    private static final int BUFFERS = 16;
    private static final int SIZE = 1 << 20;
    private static final HeapHog HOG = new HeapHog();
    private static volatile boolean heapFull;
    /** The reclaimer thread, which the hook finds. */
    private static volatile Thread reclaimer;
    /** Set by the hook as it returns: the reclaimer's first try to link comes next. */
    private static volatile boolean released;
    private static volatile int reportedOutOfMemory;

    /** Counts the reclaimer's reports; allocates nothing, since the reporter may call it with the heap full. */
    private static final class Counting implements UncaughtExceptionHandler {
        @Override
        public void uncaughtException(Thread thread, Throwable e) {
            if (e instanceof OutOfMemoryError) {
                reportedOutOfMemory++; // only the reporter thread calls it
            }
        }
    }

    private FirstBatchProbe() {}

    public static void main(String[] args) throws InterruptedException {
        Thread.setDefaultUncaughtExceptionHandler(new Counting());
        Native.onReclaimerStartForTesting(FirstBatchProbe::waitForTheFullHeap);
        for (int i = 0; i < BUFFERS; i++) {
            allocateAndDrop(i);
        }
        long usedBefore = DirectMemory.stats().memoryUsed();
        while (reclaimer == null) {
            park(1);
        }
        waits(reclaimer); // linked and initialized (Thread.State too) while the heap has room
        Thread timer = new Thread(FirstBatchProbe::letTheReclaimerTryThenDrop, "timer");
        timer.start();
        HOG.keepFull(); // its collections find the buffers unreachable and queue their releases
        timer.join();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        DirectMemoryStats stats = DirectMemory.stats();
        while (stats.memoryUsed() > 0 && System.nanoTime() < deadline) {
            park(10);
            stats = DirectMemory.stats();
        }
        System.out.println("USED BEFORE " + usedBefore + ", AFTER " + stats.memoryUsed() + ", RECLAIMED "
                + stats.reclaimedBytes());
        park(1500); // the reporter's next round, if the full heap struck it before it took the failure
        System.out.println("REPORTED OUT OF MEMORY " + reportedOutOfMemory);
    }

    private static void allocateAndDrop(int i) {
        DirectMemory.allocateDirect(SIZE).putInt(0, i);
    }

    /**
     * The timer thread; parks and reads a thread's state, which allocate nothing. Once released,
     * the reclaimer is RUNNABLE until its first try to link has failed (it then parks, timed) or
     * linked (it then waits for references, or frees them and waits): whatever the machine's
     * load, the heap is full until then. A minute at most, so that a hang still ends.
     */
    private static void letTheReclaimerTryThenDrop() {
        Thread thread = reclaimer;
        while (!HOG.filled()) {
            park(1);
        }
        park(200); // for the reference handler to queue the releases
        heapFull = true;
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
        while (!(released && waits(thread)) && System.nanoTime() < deadline) {
            park(1);
        }
        park(100); // a second try, in the reclaimer's 10 ms pause, fails as well
        HOG.drop();
    }

    /** Whether {@code thread} parks or waits (not blocked on a monitor: a report of a failure). */
    private static boolean waits(Thread thread) {
        Thread.State state = thread.getState();
        return state == Thread.State.WAITING || state == Thread.State.TIMED_WAITING;
    }

    /** The reclaimer's start, held until the heap is full. */
    private static void waitForTheFullHeap() {
        reclaimer = Thread.currentThread();
        while (!heapFull) {
            park(1);
        }
        released = true;
    }

    private static void park(long millis) {
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(millis));
    }
}
