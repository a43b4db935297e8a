package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.BufferOverflowException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class FreeTest {
    /** Native's test hooks, called directly here, need the library that the setup loads. */
    @BeforeAll
    static void setUp() {
        Native.checkAvailable();
    }


    @Test
    void freeGivesTheMemoryBackAtOnce() throws InterruptedException {
        // Settled: a reclaimer batch landing between a snapshot's reads of the ledger and of
        // reclaimedBytes would break the sum below.
        Churn.settle();
        DirectMemoryStats before = DirectMemory.stats();
        ByteBuffer buffer = DirectMemory.allocateDirect(1 << 20);
        DirectMemory.free(buffer);
        DirectMemoryStats after = DirectMemory.stats();
        assertEquals(1 << 20, after.freedBytes() - before.freedBytes());
        long reclaimed = after.reclaimedBytes() - before.reclaimedBytes();
        assertEquals(before.totalCapacity(), after.totalCapacity() + reclaimed);
    }

    @Test
    void freedBufferRefusesAccess() {
        ByteBuffer buffer = DirectMemory.allocateDirect(4096);
        buffer.putInt(0, 42);
        DirectMemory.free(buffer);
        assertEquals(0, buffer.capacity());
        assertEquals(0, buffer.limit());
        assertEquals(0, buffer.remaining());
        assertThrows(IndexOutOfBoundsException.class, () -> buffer.get(0));
        assertThrows(IndexOutOfBoundsException.class, () -> buffer.getInt(0));
        assertThrows(IndexOutOfBoundsException.class, () -> buffer.put(100, (byte) 1));
        assertThrows(BufferUnderflowException.class, () -> buffer.get());
        assertThrows(BufferOverflowException.class, () -> buffer.put((byte) 1));
        assertThrows(BufferUnderflowException.class, () -> buffer.get(new byte[8]));
        assertThrows(BufferOverflowException.class, () -> buffer.put(new byte[8]));
        assertEquals(0, buffer.slice().capacity());
    }

    /**
     * A block of its own (a shared block's slot going back is no native free, so freedBytes would
     * not show a second one), and the ledger whole: a second free of a block some other buffer
     * now holds would move count and memoryUsed too.
     */
    @Test
    void secondFreeIsANoOp() throws InterruptedException {
        Churn.settle();
        ByteBuffer buffer = Churn.unshared(1000);
        DirectMemory.free(buffer);
        DirectMemoryStats once = DirectMemory.stats();
        assertEquals(0, once.count());
        ByteBuffer other = Churn.unshared(1000); // often the freed block again
        DirectMemory.free(buffer);
        DirectMemoryStats twice = DirectMemory.stats();
        assertEquals(once.freedBytes(), twice.freedBytes());
        assertEquals(1, twice.count());
        assertEquals(1000, twice.totalCapacity());
        other.put(999, (byte) 1); // still armed
        DirectMemory.free(other);
        assertEquals(once.freedBytes() + 1000, DirectMemory.stats().freedBytes());
    }

    /** Shared: each round's buffer is the only one of a retired block, which goes with it. */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void concurrentFreesOfOneBufferFreeItOnce(boolean shared) throws InterruptedException {
        // No current block an earlier test left: round 0's buffer must open a block of its own.
        Churn.settle();
        SharedBlock.startOverForTesting();
        for (int round = 0; round < 200; round++) {
            ByteBuffer buffer = shared ? DirectMemory.allocateDirect(512) : Churn.unshared(512);
            assertEquals(shared, Allocation.of(buffer) instanceof SharedBlock);
            if (shared) {
                SharedBlock.startOverForTesting();
            }
            long freedBefore = DirectMemory.stats().freedBytes();
            CountDownLatch start = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                Thread thread = new Thread(() -> {
                    try {
                        start.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    DirectMemory.free(buffer);
                });
                thread.start();
                threads.add(thread);
            }
            start.countDown();
            for (Thread thread : threads) {
                thread.join();
            }
            assertEquals(shared ? SharedBlock.SLOTS * 512 : 512, DirectMemory.stats().freedBytes() - freedBefore);
        }
    }

    @Test
    void nullIsANullPointer() {
        assertThrows(NullPointerException.class, () -> DirectMemory.free(null));
    }

    @Test
    void buffersDirectmemDidNotAllocateAreRefusedAndUntouched(@TempDir Path dir) throws IOException {
        ByteBuffer heap = ByteBuffer.allocate(16);
        ByteBuffer jdkDirect = ByteBuffer.allocateDirect(16);
        jdkDirect.put(0, (byte) 5);
        Path file = Files.write(dir.resolve("mapped"), new byte[64]);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, 64);
            for (ByteBuffer foreign : List.of(heap, jdkDirect, jdkDirect.slice(), mapped)) {
                IllegalArgumentException e =
                        assertThrows(IllegalArgumentException.class, () -> DirectMemory.free(foreign));
                assertTrue(e.getMessage().contains("did not allocate"), e.getMessage());
            }
            assertEquals(64, mapped.capacity());
        }
        assertEquals(16, jdkDirect.capacity());
        assertEquals(5, jdkDirect.get(0));
    }

    @Test
    void viewsAreRefusedAndTheBufferStaysUsable() {
        ByteBuffer buffer = DirectMemory.allocateDirect(64);
        buffer.put(10, (byte) 3);
        List<ByteBuffer> views = List.of(
                buffer.slice(), buffer.slice(8, 16), buffer.duplicate(), buffer.asReadOnlyBuffer(),
                buffer.duplicate().slice().asReadOnlyBuffer());
        for (ByteBuffer view : views) {
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> DirectMemory.free(view));
            assertTrue(e.getMessage().contains("view"), e.getMessage());
        }
        assertEquals(64, buffer.capacity());
        assertEquals(3, buffer.get(10));
        assertEquals(3, views.get(1).get(2));
        DirectMemory.free(buffer);
    }

    /**
     * A fill racing the free of the same buffer either ends before the memory goes or throws
     * IllegalStateException. Before, it could write into the next buffer of its size (about 1
     * round in 20 at 1 MiB, 1 in 500 in shared blocks), throw IllegalArgumentException, or, for a
     * block too large to keep for reuse (20 MiB), crash the JVM on unmapped memory.
     */
    @ParameterizedTest
    @ValueSource(ints = {256, 4096, 65536, 1 << 20, 20 << 20})
    void aFillRacingAFreeNeverWritesFreedMemory(int capacity) throws InterruptedException {
        fillsRacingFrees(capacity, (byte) 0x55);
    }

    /**
     * The same for zero fills, which run in Java up to 64 KiB: the next buffer is marked at once,
     * and a stray zero fill would clear part of the mark.
     */
    @ParameterizedTest
    @ValueSource(ints = {256, 4096, 65536})
    void aZeroFillRacingAFreeNeverWritesFreedMemory(int capacity) throws InterruptedException {
        fillsRacingFrees(capacity, (byte) 0);
    }

    /**
     * Rounds of a free racing 50 fills with {@code value} on another thread, each followed by an
     * allocation of the same capacity, which often gets the freed memory again: that buffer must
     * hold what it was given (zeros, or for zero fills a mark written at once) once the fills end.
     */
    private static void fillsRacingFrees(int capacity, byte value) throws InterruptedException {
        int rounds = capacity <= 4096 ? 4000 : capacity <= 1 << 20 ? 200 : 20;
        byte mark = 0x77;
        ByteBuffer expected = ByteBuffer.allocate(capacity);
        if (value == 0) {
            while (expected.hasRemaining()) {
                expected.put(mark);
            }
            expected.clear();
        }
        int dirty = 0;
        AtomicInteger unexpected = new AtomicInteger();
        AtomicReference<Throwable> firstUnexpected = new AtomicReference<>();
        for (int round = 0; round < rounds; round++) {
            ByteBuffer buffer = DirectMemory.allocateDirect(capacity);
            CountDownLatch started = new CountDownLatch(1);
            Thread filler = new Thread(() -> {
                started.countDown();
                for (int i = 0; i < 50; i++) {
                    try {
                        DirectMemory.fill(buffer, value);
                    } catch (IllegalStateException freed) {
                        // the documented outcome once the free came first
                    } catch (Throwable t) {
                        unexpected.incrementAndGet();
                        firstUnexpected.compareAndSet(null, t);
                    }
                }
            });
            filler.start();
            started.await();
            DirectMemory.free(buffer);
            ByteBuffer next = DirectMemory.allocateDirect(capacity); // often the freed memory again
            if (value == 0) {
                DirectMemory.fill(next, mark);
            }
            filler.join();
            if (next.mismatch(expected) >= 0) {
                dirty++;
            }
            DirectMemory.free(next);
        }
        assertEquals(0, unexpected.get(), "fills that threw something else; the first: " + firstUnexpected.get());
        assertEquals(0, dirty, "new buffers holding the bytes of a fill of a freed one, in " + rounds + " rounds");
    }

    /**
     * After a free, shared (64 B) or not (1 MiB): a view made before it is still refused, a view
     * made after it is empty, so free does nothing with it and fill refuses it.
     */
    @ParameterizedTest
    @ValueSource(ints = {64, 1 << 20})
    void aViewMadeAfterTheFreeIsEmptyAndFreeDoesNothingWithIt(int capacity) throws InterruptedException {
        // No retired block an earlier test left that this free could take with it.
        Churn.settle();
        SharedBlock.startOverForTesting();
        DirectMemoryStats before = DirectMemory.stats();
        ByteBuffer buffer = DirectMemory.allocateDirect(capacity);
        ByteBuffer viewBefore = buffer.slice(0, 16);
        DirectMemory.free(buffer);
        ByteBuffer viewAfter = buffer.duplicate();
        assertEquals(0, viewAfter.capacity());

        DirectMemory.free(viewAfter);
        DirectMemory.free(buffer); // a second free: nothing either
        assertThrows(IllegalStateException.class, () -> DirectMemory.fill(viewAfter, (byte) 1));
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> DirectMemory.free(viewBefore));
        assertTrue(e.getMessage().contains("view"), e.getMessage());
        // A shared buffer's slot goes back to its block, which is not a native free.
        long freed = capacity > SharedBlock.LARGEST_SHARED ? capacity : 0;
        assertEquals(freed, DirectMemory.stats().freedBytes() - before.freedBytes(), "freed once");
    }

    /**
     * Between 4 KiB and 256 KiB a thread's last freed block is kept for its next allocation of
     * that capacity: it comes back zeroed, also when a buffer of another capacity took its place
     * in between, and the ledger counts every free once. The same block comes back (its address
     * repeats), so the zero checks read memory the round before wrote, not fresh memory.
     */
    @ParameterizedTest
    @ValueSource(ints = {4097, 12288, 16384, 65536, 200000})
    void aBufferFreedAndAllocatedAgainOnOneThreadReadsZero(int capacity) {
        DirectMemoryStats before = DirectMemory.stats();
        long freed = 0;
        long lastAddress = 0;
        int sameBlock = 0;
        for (int round = 0; round < 40; round++) {
            int length = round % 5 == 4 ? capacity + 4096 : capacity;
            ByteBuffer buffer = DirectMemory.allocateDirect(length);
            long address = Allocation.of(buffer).release.address;
            if (length == capacity) {
                sameBlock += address == lastAddress ? 1 : 0;
                lastAddress = address;
            }
            assertReadsZeroThenFill(buffer, (byte) (round + 1), "round " + round);
            DirectMemory.free(buffer);
            freed += length;
        }
        assertEquals(freed, DirectMemory.stats().freedBytes() - before.freedBytes());
        assertTrue(sameBlock >= 10, "the block written the round before came back in " + sameBlock + " of 31 rounds");
    }

    /** Threads that end holding a kept block give it back: nothing crashes, nothing is reused. */
    @Test
    void threadsThatEndWithAKeptBlockLoseNothing() throws InterruptedException {
        List<Throwable> failures = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            Thread thread = new Thread(() -> {
                ByteBuffer buffer = DirectMemory.allocateDirect(65536);
                assertReadsZeroThenFill(buffer, (byte) 7, "in a short-lived thread");
                DirectMemory.free(buffer);
            });
            thread.setUncaughtExceptionHandler((t, e) -> failures.add(e));
            thread.start();
            thread.join();
        }
        assertEquals(List.of(), failures);
        ByteBuffer after = DirectMemory.allocateDirect(65536);
        assertReadsZeroThenFill(after, (byte) 9, "after the threads ended");
        DirectMemory.free(after);
    }

    private static void assertReadsZeroThenFill(ByteBuffer buffer, byte value, String when) {
        for (int i = 0; i < buffer.capacity(); i++) {
            if (buffer.get(i) != 0) {
                throw new AssertionError(when + ": byte " + i + " of " + buffer.capacity() + " is " + buffer.get(i));
            }
            buffer.put(i, value);
        }
    }

    @Test
    void zeroCapacityBuffersAllocateAndFree() {
        ByteBuffer empty = DirectMemory.allocateDirect(0);
        assertEquals(0, empty.capacity());
        assertThrows(BufferUnderflowException.class, empty::get);
        DirectMemory.free(empty);
        DirectMemory.free(empty);
    }

    /**
     * A StackOverflowError can strike any call inside free. Freeing at each depth near the bottom
     * of a small stack makes it strike one call after another: whatever it struck, the buffer is
     * freed exactly once, by that free or by the next, and its tracked allocation site counts it
     * no more. Before: a free that threw once the memory was back left the site counting the
     * buffer for good (a site of 1 buffer showed 47 to 302 in a review's probe).
     */
    @Test
    void aFreeThatOverflowsTheStackLosesNothing() throws InterruptedException {
        int[] outcomes = new int[3];
        Tracking.configure("all", null);
        try {
            onASmallStack("directmem-deep-free", () -> freeNearTheBottomOfTheStack(outcomes));
        } finally {
            TrackingTest.restoreJvmSettings();
        }
        assertTrue(outcomes[THREW] > 0, "no free overflowed the stack, so nothing was tested: " + outcomes[FREED]
                + " freed, " + outcomes[NOT_REACHED] + " not reached");
        assertTrue(outcomes[FREED] > 0, "no free had stack enough");
        List<AllocationSite> counted = DirectMemory.topAllocationSites(Integer.MAX_VALUE).stream()
                .filter(site -> site.site().contains("FreeTest.")).toList();
        assertEquals(List.of(), counted, "every buffer freed, and sites still count some");
    }

    /**
     * A StackOverflowError can strike any call inside fill too: whatever it struck, the buffer's
     * free afterwards neither waits forever for a fill that is over nor fails.
     */
    @ParameterizedTest
    @ValueSource(bytes = {0, 1}) // a zero fill of BLOCK runs in Java, any other natively
    void aFillThatOverflowsTheStackLeavesTheBufferFreeable(byte value) throws InterruptedException {
        int[] outcomes = new int[3];
        onASmallStack("directmem-deep-fill", () -> {
            DirectMemory.fill(DirectMemory.allocateDirect(BLOCK), value); // first-time work, shallow
            atEachDepthNearTheBottom(outcomes, depth -> {
                ByteBuffer buffer = DirectMemory.allocateDirect(BLOCK);
                outcomes[actAtDepth(buffer, depth, Optional.of(value))]++;
                // Freed below on this thread, which would take the owner's lock again if a fill
                // had left it held: another thread's free would then wait for good.
                assertFalse(Thread.holdsLock(Allocation.of(buffer)), "the fill's lock is held after depth " + depth);
                long freedBefore = DirectMemory.stats().freedBytes();
                DirectMemory.free(buffer);
                assertEquals(BLOCK, DirectMemory.stats().freedBytes() - freedBefore, "freed after a fill at depth " + depth);
            });
        });
        assertTrue(outcomes[THREW] > 0, "no fill overflowed the stack, so nothing was tested: " + outcomes[FREED]
                + " filled, " + outcomes[NOT_REACHED] + " not reached");
    }

    /**
     * A StackOverflowError can strike any call inside an allocation too, also after the memory
     * exists. Allocating at each depth near the bottom of a small stack makes it strike one call
     * after another: whatever it struck, every byte comes back once the buffers are dropped, and
     * a shared block that died unarmed is no longer counted as current.
     */
    @ParameterizedTest
    @ValueSource(ints = {64, 5000})
    void anAllocationThatOverflowsTheStackLosesNothing(int capacity) throws InterruptedException {
        Churn.settle();
        int[] outcomes = new int[3];
        onASmallStack("directmem-deep-allocate", () -> {
            // The depth is found again each round: frames shrink as the JIT compiles them.
            for (int round = 0; round < 3 || (outcomes[THREW] == 0 && round < 20); round++) {
                int deepest = deepestAllocatingFrame();
                for (int depth = deepest - 2000; depth <= deepest + 20; depth++) {
                    outcomes[allocateAtDepth(capacity, depth)]++;
                }
            }
        });
        assertTrue(outcomes[THREW] > 0, "no allocation overflowed the stack, so nothing was tested: "
                + outcomes[FREED] + " allocated, " + outcomes[NOT_REACHED] + " not reached");
        assertTrue(outcomes[FREED] > 0, "no allocation had stack enough");

        SharedBlock.startOverForTesting();
        assertEquals(0, Churn.settle().memoryUsed(), "every dropped buffer came back");
        // Blocks that died unarmed hold no budget, so the settled ledger need not wait for them.
        for (int i = 0; i < 20 && SharedBlock.currentBytes() != 0; i++) {
            Churn.settle();
        }
        assertEquals(0, SharedBlock.currentBytes(), "no block stays counted as current");
    }

    /** Recurses {@code depth} frames, then allocates a buffer there and drops it (a negative capacity: probes). */
    private static int allocateAtDepth(int capacity, int depth) {
        if (depth > 0) {
            try {
                return allocateAtDepth(capacity, depth - 1);
            } catch (StackOverflowError e) {
                return NOT_REACHED;
            }
        }
        if (capacity < 0) {
            return FREED;
        }
        try {
            DirectMemory.allocateDirect(capacity).put(0, (byte) 1);
            return FREED; // allocated, and dropped
        } catch (StackOverflowError e) {
            return THREW;
        }
    }

    /**
     * An error from the native free before it did anything (a StackOverflowError, which any call
     * at the bottom of a deep stack may throw; an OutOfMemoryError, which linking a native method
     * with the heap full may throw; an IllegalStateException, the native ledger's refusal) frees
     * nothing and undoes the claim: a later free frees the block, and so does the collector if
     * the buffer is dropped instead. Before: only those two errors undid the claim, and after a
     * RuntimeException the block was lost for good.
     */
    @ParameterizedTest
    @ValueSource(ints = {Native.FREE_FAILS_WITH_STACK_OVERFLOW, Native.FREE_FAILS_WITH_OUT_OF_MEMORY,
            Native.FREE_FAILS_WITH_ILLEGAL_STATE})
    void aFreeWhoseNativeCallFailedIsDoneLater(int error) throws InterruptedException {
        Class<? extends Throwable> thrown = thrownBy(error);
        long freedBefore = DirectMemory.stats().freedBytes();
        ByteBuffer buffer = DirectMemory.allocateDirect(BLOCK);
        buffer.put(BLOCK - 1, (byte) 7);
        Native.failNextFree(error);
        assertThrows(thrown, () -> DirectMemory.free(buffer));
        assertEquals(freedBefore, DirectMemory.stats().freedBytes(), "the free that threw freed the block");
        DirectMemory.free(buffer);
        assertEquals(freedBefore + BLOCK, DirectMemory.stats().freedBytes());
        assertEquals(0, buffer.capacity());

        DirectMemoryStats before = Churn.settle();
        failToFreeThenDrop(error, thrown);
        DirectMemoryStats after = Churn.settle(); // fails unless the dropped block was reclaimed
        assertEquals(BLOCK, after.reclaimedBytes() - before.reclaimedBytes());
        assertEquals(before.freedBytes(), after.freedBytes());
    }

    private static void failToFreeThenDrop(int error, Class<? extends Throwable> thrown) {
        ByteBuffer buffer = DirectMemory.allocateDirect(BLOCK);
        Native.failNextFree(error);
        assertThrows(thrown, () -> DirectMemory.free(buffer));
    }

    /** What {@link Native#failNextFree} throws for {@code error}. */
    static Class<? extends Throwable> thrownBy(int error) {
        switch (error) {
            case Native.FREE_FAILS_WITH_STACK_OVERFLOW:
                return StackOverflowError.class;
            case Native.FREE_FAILS_WITH_OUT_OF_MEMORY:
                return OutOfMemoryError.class;
            default:
                return IllegalStateException.class;
        }
    }

    /**
     * A free that reads the buffer's address as 0 (a buffer that reached this thread without a
     * happens-before edge from the allocating one; made here by hand) throws
     * IllegalStateException and changes nothing: once the address reads right, a later free
     * frees the block. Before: the native free refused the null address after the claim, which
     * stayed, so the later free did nothing and the block and its budget were lost for good.
     */
    @Test
    void aFreeThatReadsANullAddressThrowsAndChangesNothing() throws InterruptedException {
        Churn.settle();
        ByteBuffer buffer = DirectMemory.allocateDirect(BLOCK);
        buffer.put(BLOCK - 1, (byte) 7);
        Allocation.Release release = Allocation.of(buffer).release;
        long address = release.address;
        release.address = 0;
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> DirectMemory.free(buffer));
        assertTrue(e.getMessage().contains("happens-before"), e.getMessage());
        assertEquals(7, buffer.get(BLOCK - 1), "the buffer was left as it was");

        release.address = address;
        DirectMemory.free(buffer);
        assertEquals(0, buffer.capacity());
        DirectMemoryStats after = DirectMemory.stats();
        assertEquals(0, after.count());
        assertEquals(0, after.memoryUsed());
    }

    /**
     * Two threads free one buffer: the one that loses the claim returns only once the buffer is
     * disarmed, so that no get or put after its free reaches the memory. Before: it returned at
     * once, while the winner waited for a fill of a view (18 and 19 rounds of 20 left the buffer
     * armed).
     */
    @Test
    void aFreeThatLostToAnotherThreadsReturnsOnlyOnceTheBufferIsDisarmed() throws InterruptedException {
        int armedAfterFree = 0;
        for (int round = 0; round < 20; round++) {
            ByteBuffer buffer = DirectMemory.allocateDirect(16 << 20); // a block of its own
            ByteBuffer view = buffer.duplicate();
            Allocation owner = Allocation.of(buffer);
            CountDownLatch filling = new CountDownLatch(1);
            Thread filler = new Thread(() -> {
                try {
                    while (true) {
                        filling.countDown();
                        DirectMemory.fill(view, (byte) 1); // holds the owner's lock a few ms
                    }
                } catch (IllegalStateException freed) {
                    // the free came
                }
            });
            filler.start();
            filling.await();
            Thread other = new Thread(() -> DirectMemory.free(buffer));
            other.start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!owner.release.isClaimed()) {
                assertTrue(System.nanoTime() < deadline, "the other thread's free never claimed");
                Thread.onSpinWait();
            }
            DirectMemory.free(buffer); // lost the claim
            int limit = buffer.limit();
            int capacity = buffer.capacity();
            other.join(30_000);
            filler.join(30_000);
            assertFalse(other.isAlive() || filler.isAlive(), "the other free or the fill never ended");
            if (limit != 0 || capacity != 0) {
                armedAfterFree++;
            }
        }
        assertEquals(0, armedAfterFree, "rounds of 20 where a free returned with the buffer still armed");
    }

    private static final int NOT_REACHED = 0;
    private static final int THREW = 1;
    private static final int FREED = 2;
    private static final int BLOCK = 64 << 10; // a block of its own: freedBytes counts it exactly

    private static void freeNearTheBottomOfTheStack(int[] outcomes) {
        // First on a shallow stack: first-time work (class initialisation, linking) must not
        // overflow, which could leave a class unusable.
        DirectMemory.free(DirectMemory.allocateDirect(BLOCK));
        atEachDepthNearTheBottom(outcomes, depth -> {
            ByteBuffer buffer = DirectMemory.allocateDirect(BLOCK);
            long freedBefore = DirectMemory.stats().freedBytes();
            int outcome = actAtDepth(buffer, depth, Optional.empty());
            outcomes[outcome]++;
            if (outcome != FREED) {
                DirectMemory.free(buffer);
            }
            assertEquals(BLOCK, DirectMemory.stats().freedBytes() - freedBefore,
                    "freed bytes after a free at depth " + depth + " (outcome " + outcome + ") and another");
            assertEquals(0, buffer.capacity());
        });
    }

    /**
     * Three rounds of {@code act} at each depth from 300 frames above the bottom of the stack, as
     * {@link #deepestFrame} finds it, to 20 below it; more, up to 20, while none of the
     * {@code outcomes} it counts is THREW (a compilation that lands late moves the bottom).
     */
    private static void atEachDepthNearTheBottom(int[] outcomes, IntConsumer act) {
        for (int round = 0; round < 3 || (outcomes[THREW] == 0 && round < 20); round++) {
            int bottom = 0;
            for (int probe = 0; probe < 20; probe++) { // once the recursion is compiled, frames shrink
                bottom = Math.max(bottom, deepestFrame());
            }
            for (int depth = Math.max(0, bottom - 300); depth <= bottom + 20; depth++) {
                act.accept(depth);
            }
        }
    }

    /** Runs {@code body} on a new thread with a 256 KiB stack, and fails with whatever it threw. */
    private static void onASmallStack(String name, Runnable body) throws InterruptedException {
        Throwable[] failure = new Throwable[1];
        Thread deep = new Thread(null, () -> {
            try {
                body.run();
            } catch (Throwable t) {
                failure[0] = t;
            }
        }, name, 256 << 10);
        deep.setDaemon(true); // so that one stuck for good (a free waiting forever) does not keep the JVM
        deep.start();
        deep.join(TimeUnit.MINUTES.toMillis(3));
        if (deep.isAlive()) {
            throw new AssertionError(name + " still runs after 3 minutes: " + List.of(deep.getStackTrace()));
        }
        if (failure[0] != null) {
            throw new AssertionError(failure[0]);
        }
    }

    /** How deep {@link #actAtDepth} can recurse before the stack overflows, when it does nothing. */
    private static int deepestFrame() {
        return StackDepth.deepest(depth -> actAtDepth(null, depth, Optional.empty()) != NOT_REACHED);
    }

    /** How deep {@link #allocateAtDepth} can recurse before the stack overflows, when it allocates nothing. */
    private static int deepestAllocatingFrame() {
        return StackDepth.deepest(depth -> allocateAtDepth(-1, depth) != NOT_REACHED);
    }

    /** Recurses {@code depth} frames, then fills the buffer there with {@code fill}'s value, or frees it. */
    private static int actAtDepth(ByteBuffer buffer, int depth, Optional<Byte> fill) {
        if (depth > 0) {
            try {
                return actAtDepth(buffer, depth - 1, fill);
            } catch (StackOverflowError e) {
                return NOT_REACHED; // struck on the way down, before the free
            }
        }
        if (buffer == null) {
            return FREED; // a probe of the depth
        }
        try {
            if (fill.isPresent()) {
                DirectMemory.fill(buffer, fill.get());
            } else {
                DirectMemory.free(buffer);
            }
            return FREED;
        } catch (StackOverflowError e) {
            return THREW;
        }
    }
}
