package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Reclamation under -XX:+DisableExplicitGC: the budget is 64 MiB (-XX:MaxDirectMemorySize=64m),
 * and every test pushes many times that through it with dropped references.
 */
class ReclamationTest {
    private static final int MIB = 1 << 20;
    private static final long BUDGET = 64L * MIB;

    @BeforeAll
    static void explicitGcIsDisabled() {
        List<String> flags = ManagementFactory.getRuntimeMXBean().getInputArguments();
        assertTrue(flags.contains("-XX:+DisableExplicitGC"), "test JVM flags: " + flags);
        assertEquals(BUDGET, DirectMemory.stats().maxMemory());
    }

    /** Allocates, writes and checks {@code count} buffers of {@code size}, dropping each. */
    private static long churn(int count, int size, int seed) {
        long checksum = 0;
        for (int i = 0; i < count; i++) {
            ByteBuffer buffer = DirectMemory.allocateDirect(size);
            int value = seed * 31 + i;
            buffer.putInt(0, value);
            buffer.putInt(size - 4, ~value);
            assertEquals(0, buffer.getInt(size / 2 & ~3), "fresh memory must be zero");
            assertEquals(value, buffer.getInt(0));
            assertEquals(~value, buffer.getInt(size - 4));
            checksum += value;
        }
        return checksum;
    }

    @Test
    void churnOfThirtyTimesTheBudgetSucceedsWhereTheJdkFails() throws InterruptedException {
        DirectMemoryStats before = DirectMemory.stats();
        churn(30 * 64, MIB, 1);
        DirectMemoryStats after = DirectMemory.stats();
        assertEquals(before.failedAllocations(), after.failedAllocations());
        assertTrue(after.collections() > before.collections(), "reclamation must have run");
        assertTrue(after.reclaimedBytes() - before.reclaimedBytes() >= 29L * 64 * MIB);
        assertTrue(after.peakMemoryUsed() <= BUDGET);

        // The same workload through the JDK, same flags, same budget: it cannot get through.
        long jdkPoolBefore = jdkPool().getMemoryUsed();
        OutOfMemoryError jdk = assertThrows(OutOfMemoryError.class, () -> {
            for (int i = 0; i < 30 * 64; i++) {
                ByteBuffer.allocateDirect(MIB).putInt(0, i);
            }
        });
        assertTrue(jdk.getMessage().contains("direct buffer memory")
                || jdk.getMessage().contains("Direct buffer memory"), jdk.getMessage());
        awaitJdkPoolEmptied(jdkPoolBefore);
    }

    /** The JDK's own direct buffers: their count and bytes, as its "direct" buffer pool says. */
    private static BufferPoolMXBean jdkPool() {
        return ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                .filter(pool -> pool.getName().equals("direct")).findFirst().orElseThrow();
    }

    /**
     * Leaves the JDK's direct memory as it was, for the tests after: its garbage buffers go only
     * with a collection (System.gc() does nothing here), which heap garbage brings. Best effort,
     * for 30 s: a class later that needs the JDK's pool fails with its own message if not.
     */
    private static void awaitJdkPoolEmptied(long usedBefore) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (jdkPool().getMemoryUsed() > usedBefore && System.nanoTime() < deadline) {
            byte[][] garbage = new byte[16][];
            for (int i = 0; i < garbage.length; i++) {
                garbage[i] = new byte[MIB];
            }
            Thread.sleep(5);
        }
        System.out.println("JDK direct pool: " + jdkPool().getMemoryUsed() + " bytes used, " + usedBefore + " before");
    }

    @Test
    void severalThreadsChurnAtOnce() throws InterruptedException {
        DirectMemoryStats before = DirectMemory.stats();
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int seed = t;
            Thread thread = new Thread(() -> {
                try {
                    churn(8 * 64, MIB / 2 + seed * 4096, seed);
                } catch (Throwable e) {
                    failures.add(e);
                }
            }, "churn-" + t);
            threads.add(thread);
            thread.start();
        }
        for (Thread thread : threads) {
            thread.join();
        }
        assertTrue(failures.isEmpty(), () -> "failures: " + failures);
        assertEquals(before.failedAllocations(), DirectMemory.stats().failedAllocations());
        assertTrue(DirectMemory.stats().peakMemoryUsed() <= BUDGET);
    }

    @Test
    void viewsKeepTheMemoryAliveAfterTheirParentIsDropped() {
        ByteBuffer parent = DirectMemory.allocateDirect(MIB);
        for (int i = 0; i < MIB; i += 4) {
            parent.putInt(i, i ^ 0x5A5A5A5A);
        }
        ByteBuffer slice = parent.slice(4096, 8192);
        ByteBuffer duplicate = parent.duplicate();
        ByteBuffer readOnly = parent.asReadOnlyBuffer();
        parent = null; // only the views remain

        churn(4 * 64, MIB, 7); // several reclamations; a freed parent would be reused and zeroed

        for (int i = 0; i < MIB; i += 4) {
            assertEquals(i ^ 0x5A5A5A5A, duplicate.getInt(i));
            assertEquals(i ^ 0x5A5A5A5A, readOnly.getInt(i));
        }
        for (int i = 0; i < 8192; i += 4) {
            assertEquals((4096 + i) ^ 0x5A5A5A5A, slice.getInt(i));
        }
    }

    /**
     * README: views such as asLongBuffer() and the like, and a MemorySegment.ofBuffer (JDK 22+,
     * reached by reflection here), keep the memory alive as long as any of them is reachable;
     * fill refuses a buffer made from such a segment, which the JDK does not link to directmem.
     */
    @Test
    void typedViewsAndSegmentsKeepTheMemoryAliveAfterTheBufferIsDropped() throws ReflectiveOperationException {
        ByteBuffer buffer = DirectMemory.allocateDirect(MIB);
        for (int i = 0; i < MIB; i += 8) {
            buffer.putLong(i, i * 0x9E3779B97F4A7C15L);
        }
        LongBuffer longs = buffer.asLongBuffer();
        IntBuffer ints = buffer.slice(4096, 4096).asIntBuffer();
        CharBuffer chars = buffer.asReadOnlyBuffer().asCharBuffer();
        ByteBuffer fromSegment = segmentView(buffer);
        buffer = null; // only the views remain

        churn(4 * 64, MIB, 13); // several reclamations; a freed block would be reused and zeroed

        for (int i = 0; i < MIB / 8; i++) {
            assertEquals(i * 8 * 0x9E3779B97F4A7C15L, longs.get(i), "long " + i);
        }
        ByteBuffer expected = ByteBuffer.allocate(MIB);
        for (int i = 0; i < MIB; i += 8) {
            expected.putLong(i, i * 0x9E3779B97F4A7C15L);
        }
        assertEquals(expected.getInt(4096 + 40), ints.get(10));
        assertEquals(expected.getChar(2 * 1000), chars.get(1000));
        if (fromSegment != null) {
            assertEquals(-1, fromSegment.mismatch(expected), "the segment's view");
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> DirectMemory.fill(fromSegment, (byte) 1));
            assertTrue(refused.getMessage().contains("did not allocate"), refused.getMessage());
            assertEquals(expected.get(0), fromSegment.get(0), "fill wrote nothing");
        }
    }

    /**
     * A ByteBuffer over {@code MemorySegment.ofBuffer(buffer)}, which holds only the segment (and
     * so what the segment holds of {@code buffer}); null below JDK 22, which has no final FFM API.
     */
    private static ByteBuffer segmentView(ByteBuffer buffer) throws ReflectiveOperationException {
        if (Runtime.version().feature() < 22) {
            return null;
        }
        Class<?> segments = Class.forName("java.lang.foreign.MemorySegment");
        Object segment = segments.getMethod("ofBuffer", java.nio.Buffer.class).invoke(null, buffer);
        return (ByteBuffer) segments.getMethod("asByteBuffer").invoke(segment);
    }

    /**
     * README: the directmem-early-reclaimer thread "forces one once the memory used has climbed
     * 90 % of the way from its low since the last collection to the maximum and at least half the
     * budget was allocated since": 95 % of the budget dropped, no allocation refused, and a
     * collection comes (only directmem's own collections count in collections()).
     */
    @Test
    void aCollectionStartsEarlyWithNoAllocationRefused() throws InterruptedException {
        Churn.settle(); // its low: nothing used
        // An early collection settle's own probe started may land a moment later: not this one.
        DirectMemoryStats before = DirectMemory.stats();
        for (int i = 0; i < 20; i++) {
            Thread.sleep(500);
            DirectMemoryStats now = DirectMemory.stats();
            if (now.collections() == before.collections()) {
                break;
            }
            before = now;
        }
        int count = (int) (BUDGET * 95 / 100 / MIB);
        for (int i = 0; i < count; i++) {
            DirectMemory.allocateDirect(MIB).put(0, (byte) 1); // dropped
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        DirectMemoryStats stats = DirectMemory.stats();
        while (stats.collections() == before.collections() && System.nanoTime() < deadline) {
            Thread.sleep(10);
            stats = DirectMemory.stats();
        }
        assertTrue(stats.collections() > before.collections(), "no early collection in 30 s: " + stats);
        assertEquals(before.failedAllocations(), stats.failedAllocations());
        assertEquals(0, Churn.settle().memoryUsed());
    }

    @Test
    void exhaustedBudgetFailsWithNumbersThenRecovers() throws InterruptedException {
        List<ByteBuffer> held = new ArrayList<>();
        // Settled, so that no earlier test's garbage is still coming back to make collections
        // fruitful.
        Churn.settle();
        DirectMemoryStats before = DirectMemory.stats();
        BudgetExhaustedError error = assertThrows(BudgetExhaustedError.class, () -> {
            while (true) {
                held.add(DirectMemory.allocateDirect(MIB));
            }
        });
        String message = error.getMessage();
        assertTrue(message.contains("Cannot reserve 1048576 bytes"), message);
        assertTrue(message.contains("max: " + BUDGET), message);
        // Three fruitless collections in a row, as the policy says (a few more if earlier tests'
        // garbage was still coming back): nothing else may pass for memory coming back (an idle
        // reclaimer thread once did, and this took sixty collections, to the 30 s deadline).
        Matcher collections = Pattern.compile("after (\\d+) garbage collection").matcher(message);
        assertTrue(collections.find(), message);
        int n = Integer.parseInt(collections.group(1));
        assertTrue(n >= 3 && n <= 10, message);
        assertFalse(message.contains("generational Shenandoah"), message);
        DirectMemoryStats full = DirectMemory.stats();
        assertEquals(before.failedAllocations() + 1, full.failedAllocations());
        assertTrue(full.memoryUsed() + MIB > BUDGET, "failed only because the budget was full");

        for (ByteBuffer buffer : held) {
            DirectMemory.free(buffer);
        }
        DirectMemoryStats freed = DirectMemory.stats();
        assertEquals((long) held.size() * MIB, freed.freedBytes() - full.freedBytes());
        ByteBuffer again = DirectMemory.allocateDirect(MIB);
        assertEquals(MIB, again.capacity());
        DirectMemory.free(again);
    }

    /**
     * Generational Shenandoah (JDK 25) under -XX:+DisableExplicitGC: directmem cannot start the
     * old cycles that find promoted buffers, and its error says so, with what to do instead.
     */
    @Test
    void onGenerationalShenandoahTheErrorSaysWhatDirectmemCannotReclaim() throws Exception {
        assumeTrue(Runtime.version().feature() >= 25
                && ManagementFactory.getRuntimeMXBean().getInputArguments().contains("-XX:+UseShenandoahGC"),
                "generational Shenandoah: JDK 25+, checked in the Shenandoah run");
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                List.of("-XX:ShenandoahGCMode=generational", "-Ddirectmem.maxMemory=16m"),
                ExhaustionProbe.class.getName());
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("HELD 16 MiB; Cannot reserve 1048576 bytes"), result.output());
        assertTrue(result.output().contains("generational Shenandoah with -XX:+DisableExplicitGC"),
                result.output());
        assertTrue(result.output().contains("-XX:ShenandoahGCMode=satb"), result.output());
    }

    /**
     * A budget full of live buffers while another thread allocates and frees at its edge: that
     * thread's frees let the waiting one try again, but are no garbage a collection found, so it
     * fails after three fruitless collections (before: a forced full collection every 12 ms for
     * 30 s, about 2,500 of them, then the same error).
     */
    @Test
    void aBudgetFullOfLiveBuffersFailsAfterAFewCollectionsWhileAnotherThreadFrees() throws Exception {
        Outcome outcome = failWithLiveBuffersWhileAnotherThread("FREES",
                () -> DirectMemory.free(DirectMemory.allocateDirect(MIB)));
        assertTrue(outcome.collections() <= 10,
                outcome.collections() + " collections; " + outcome.error().getMessage());
    }

    /**
     * As above, but the other thread drops its buffers: collections find its garbage, never the
     * 8 MiB asked for (4 MiB at most), so they count as fruitless all the same. Before, any garbage
     * a collection found started the count over, and the allocation forced a full collection
     * every 10 to 20 ms until the 30 s deadline, hundreds of them. The other thread's own
     * collections are not the failing allocation's: its error counts those it went through.
     */
    @Test
    void aBudgetFullOfLiveBuffersFailsAfterAFewCollectionsWhileAnotherThreadDropsBuffers() throws Exception {
        assertFewCollectionsOfItsOwn(failWithLiveBuffersWhileAnotherThread("DROPS",
                () -> DirectMemory.allocateDirect(MIB).put(0, (byte) 1)).error().getMessage());
    }

    /**
     * As above, with the other thread dropping its buffers back to back, so that it is refused
     * and collects too (in a child JVM: {@link BackToBackDropsProbe}): what comes back while the
     * request waits adds up to more than the 8 MiB it lacks, the same 1 MiB again and again, but
     * the room never reaches 8 MiB, so the collections count as fruitless all the same. Before,
     * they counted as fruitful, and the request collected until the 30 s deadline, or for 6 to
     * 25 s (26 to 216 collections of its own in 6 runs on JDK 17 G1).
     */
    @Test
    void aBudgetFullOfLiveBuffersFailsAfterAFewCollectionsWhileAnotherThreadDropsBuffersBackToBack()
            throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                List.of("-Ddirectmem.maxMemory=64m"), BackToBackDropsProbe.class.getName());
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("FAILED: Cannot reserve 8388608 bytes"), result.output());
        assertFewCollectionsOfItsOwn(result.output());
    }

    /**
     * Asserts that the failing request's error says it gave up after 3 to 10 collections, with
     * no contention.
     */
    private static void assertFewCollectionsOfItsOwn(String message) {
        assertFalse(message.contains("other threads took first"), message);
        Matcher collections = Pattern.compile("after (\\d+) garbage collection").matcher(message);
        assertTrue(collections.find(), message);
        int n = Integer.parseInt(collections.group(1));
        assertTrue(n >= 3 && n <= 10, message);
    }

    /**
     * A budget full of live buffers that another thread drops one at a time, one after each
     * collection, as when a pipeline drains: each collection finds 1 MiB of garbage, less than
     * the 8 MiB asked for lacks, but the room it leaves grows collection by collection, and the
     * request goes on until it fits. Before, a collection counted only if its garbage alone could
     * have made room: this failed after 3 collections, with 6 MiB free.
     */
    @Test
    void aRequestGoesOnWhileTheRoomGrowsCollectionByCollection() throws Exception {
        Churn.settle();
        List<ByteBuffer> live = new ArrayList<>();
        for (int i = 0; i < 52; i++) {
            live.add(DirectMemory.allocateDirect(MIB));
        }
        ConcurrentLinkedQueue<ByteBuffer> draining = new ConcurrentLinkedQueue<>();
        for (int i = 0; i < 8; i++) {
            draining.add(DirectMemory.allocateDirect(MIB));
        }
        AtomicInteger dropped = new AtomicInteger();
        AtomicReference<Throwable> dropFailed = new AtomicReference<>();
        Thread drainer = new Thread(() -> {
            try {
                long seen = DirectMemory.stats().collections();
                while (!Thread.currentThread().isInterrupted() && !draining.isEmpty()) {
                    long now = DirectMemory.stats().collections();
                    if (now != seen) {
                        seen = now;
                        draining.poll();
                        dropped.incrementAndGet();
                    }
                    Thread.sleep(1);
                }
            } catch (InterruptedException e) {
                // the end
            } catch (Throwable t) {
                dropFailed.set(t);
            }
        }, "drains-after-each-collection");
        long collectionsBefore = DirectMemory.stats().collections();
        drainer.start();
        ByteBuffer granted = null;
        try {
            granted = DirectMemory.allocateDirect(8 * MIB);
            assertEquals(8 * MIB, granted.capacity());
        } finally {
            drainer.interrupt();
            drainer.join();
            live.forEach(DirectMemory::free);
            draining.forEach(DirectMemory::free);
            if (granted != null) {
                DirectMemory.free(granted);
            }
        }
        assertEquals(null, dropFailed.get(), "the draining thread threw");
        System.out.println("DRAINS: granted after " + dropped.get() + " buffers dropped, "
                + (DirectMemory.stats().collections() - collectionsBefore) + " collections");
    }

    /** What {@link #failWithLiveBuffersWhileAnotherThread} saw. */
    record Outcome(BudgetExhaustedError error, long collections) {}

    /**
     * Holds 60 MiB of the 64 live, has another thread run {@code step} every 10 ms, and once it
     * has run one, asks for 8 MiB, which can never fit. Returns the error, and the collections
     * run meanwhile, the other thread's included.
     */
    private static Outcome failWithLiveBuffersWhileAnotherThread(String name, Runnable step) throws Exception {
        return failWithLiveBuffersWhileAnotherThread(name, 10, step);
    }

    /**
     * As above, with {@code pauseMillis} between the other thread's steps; with none, once it
     * has run 100 (refused and collecting by then).
     */
    static Outcome failWithLiveBuffersWhileAnotherThread(String name, long pauseMillis, Runnable step)
            throws Exception {
        Churn.settle();
        List<ByteBuffer> live = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            live.add(DirectMemory.allocateDirect(MIB));
        }
        AtomicInteger steps = new AtomicInteger();
        AtomicReference<Throwable> stepFailed = new AtomicReference<>();
        Thread other = new Thread(() -> {
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    step.run();
                    steps.incrementAndGet();
                    if (pauseMillis > 0) {
                        Thread.sleep(pauseMillis);
                    }
                }
            } catch (InterruptedException e) {
                // the end
            } catch (Throwable t) {
                stepFailed.set(t);
            }
        }, "other-thread-" + name);
        other.start();
        // Running before the allocation that must fail starts, whatever the machine's load.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        int stepsFirst = pauseMillis > 0 ? 1 : 100;
        while (steps.get() < stepsFirst && other.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        long collectionsBefore = DirectMemory.stats().collections();
        int stepsBefore = steps.get();
        Outcome outcome;
        try {
            BudgetExhaustedError error = assertThrows(BudgetExhaustedError.class,
                    () -> DirectMemory.allocateDirect(8 * MIB));
            outcome = new Outcome(error, DirectMemory.stats().collections() - collectionsBefore);
        } finally {
            other.interrupt();
            other.join();
            live.forEach(DirectMemory::free);
        }
        assertEquals(null, stepFailed.get(), "the other thread's allocation or free threw");
        assertTrue(stepsBefore > 0, "the other thread never ran");
        System.out.println(name + " by the other thread: " + stepsBefore + " before the allocation, "
                + (steps.get() - stepsBefore) + " while it failed, " + outcome.collections()
                + " collections; " + outcome.error().getMessage());
        return outcome;
    }

    /**
     * Each block carries the number of collections begun when it was allocated, read in Java from
     * the native counter: the reclaimer hands it back with the block's free, and only garbage
     * allocated before a collection began counts as what that collection found. Read wrongly
     * (another byte order, another offset), the stamps would not follow the collections run.
     */
    @Test
    void eachBlockIsStampedWithTheNumberOfCollectionsBegunBeforeIt() throws Exception {
        ByteBuffer begun = Native.collectionsBegun().order(ByteOrder.nativeOrder());
        Churn.settle();
        long low = begun.getLong(0);
        ByteBuffer first = DirectMemory.allocateDirect(MIB);
        long high = begun.getLong(0);
        int stamp = Allocation.of(first).release.stamp;
        assertTrue(low <= stamp && stamp <= high, low + " <= " + stamp + " <= " + high);
        long collections = DirectMemory.stats().collections();
        for (int i = 0; i < 4 * BUDGET / MIB; i++) { // dropped: collections must run
            DirectMemory.allocateDirect(MIB).put(0, (byte) 1);
        }
        long ran = DirectMemory.stats().collections() - collections;
        ByteBuffer later = DirectMemory.allocateDirect(MIB);
        int laterStamp = Allocation.of(later).release.stamp;
        // Less one: a collection running at the first stamp may have ended among those counted.
        assertTrue(ran >= 2 && laterStamp - stamp >= ran - 1,
                ran + " collections ran, the stamps went from " + stamp + " to " + laterStamp);
        assertTrue(laterStamp <= begun.getLong(0));
        DirectMemory.free(first);
        DirectMemory.free(later);
    }

    @Test
    void moreThanTheWholeBudgetFailsAtOnce() {
        BudgetExhaustedError error = assertThrows(BudgetExhaustedError.class,
                () -> DirectMemory.allocateDirect((int) BUDGET + 1));
        assertTrue(error.getMessage().contains("more than the whole budget; raise -Ddirectmem.maxMemory"),
                error.getMessage());
        assertTrue(!error.getMessage().contains("garbage collection"), error.getMessage());
    }

    @Test
    void anInterruptedThreadReclaimsAndKeepsItsInterruptStatus() {
        DirectMemoryStats before = DirectMemory.stats();
        Thread.currentThread().interrupt();
        try {
            churn(3 * 64, MIB, 11);
            assertTrue(Thread.currentThread().isInterrupted(), "interrupt status must survive");
        } finally {
            Thread.interrupted();
        }
        DirectMemoryStats after = DirectMemory.stats();
        assertEquals(before.failedAllocations(), after.failedAllocations());
        assertTrue(after.memoryUsed() <= BUDGET);
    }
}
