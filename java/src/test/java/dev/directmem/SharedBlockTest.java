package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Small buffers sharing native blocks ({@link SharedBlock}): each still behaves as a buffer of its
 * own, and the ledger stays exact, block by block.
 */
class SharedBlockTest {
    private static final int SLOTS = SharedBlock.SLOTS;

    @BeforeEach
    void freshStripes() throws InterruptedException {
        Churn.settle();
        SharedBlock.startOverForTesting();
    }

    private static ByteBuffer[] allocate(int n, int capacity) {
        ByteBuffer[] buffers = new ByteBuffer[n];
        for (int i = 0; i < n; i++) {
            buffers[i] = DirectMemory.allocateDirect(capacity);
        }
        return buffers;
    }

    @Test
    void sixteenSmallBuffersShareOneBlockYetEachIsABufferOfItsOwn() {
        ByteBuffer[] buffers = allocate(SLOTS, 100);
        DirectMemoryStats stats = DirectMemory.stats();
        assertEquals(1, stats.count());
        assertEquals(SLOTS * 112, stats.totalCapacity(), "slots of 100 bytes rounded to 16");
        for (int i = 0; i < SLOTS; i++) {
            ByteBuffer buffer = buffers[i];
            assertSame(Allocation.of(buffers[0]), Allocation.of(buffer));
            assertEquals(100, buffer.capacity());
            assertEquals(100, buffer.limit());
            assertEquals(0, buffer.position());
            assertEquals(0, buffer.alignmentOffset(0, 16), "starts where malloc's blocks would");
            for (int at = 0; at < 100; at++) {
                assertEquals(0, buffer.get(at));
            }
            buffer.put(0, (byte) i).put(99, (byte) -i);
        }
        for (int i = 0; i < SLOTS; i++) {
            assertEquals((byte) i, buffers[i].get(0));
            assertEquals((byte) -i, buffers[i].get(99));
        }
        ByteBuffer seventeenth = DirectMemory.allocateDirect(100);
        assertNotSame(Allocation.of(buffers[0]), Allocation.of(seventeenth));
        assertEquals(2, DirectMemory.stats().count());

        for (ByteBuffer buffer : buffers) {
            DirectMemory.free(buffer);
        }
        assertEquals(SLOTS * 112, DirectMemory.stats().freedBytes() - stats.freedBytes(),
                "the full block came back with its last buffer");
        DirectMemory.free(seventeenth);
        stats = DirectMemory.stats();
        assertEquals(0, stats.count());
        assertEquals(0, stats.memoryUsed(), "a block freed before it was full comes back too");
    }

    @Test
    void freeDisarmsOneBufferAndLeavesItsNeighboursAlone() {
        ByteBuffer[] buffers = allocate(3, 64);
        ByteBuffer view = buffers[1].slice(8, 8);
        buffers[1].put(8, (byte) 42);
        DirectMemory.free(buffers[0]);

        assertEquals(0, buffers[0].capacity());
        assertThrows(IndexOutOfBoundsException.class, () -> buffers[0].get(0));
        DirectMemory.free(buffers[0]); // a second free does nothing
        assertThrows(IllegalStateException.class, () -> DirectMemory.fill(buffers[0], (byte) 1));
        assertThrows(IllegalArgumentException.class, () -> DirectMemory.free(view));
        assertThrows(IllegalArgumentException.class, () -> DirectMemory.free(buffers[2].duplicate()));

        assertEquals(42, view.get(0));
        DirectMemory.fill(view, (byte) 7);
        assertEquals(7, buffers[1].get(15));
        assertEquals(0, buffers[1].get(16));
        assertEquals(0, buffers[2].get(0));
        assertEquals(1, DirectMemory.stats().count());

        DirectMemory.free(buffers[1]);
        DirectMemory.free(buffers[2]);
        assertEquals(0, DirectMemory.stats().memoryUsed());
        assertThrows(IllegalStateException.class, () -> DirectMemory.fill(view, (byte) 1));
    }

    @Test
    void aStripeThatRetiresBlocksEarlyGivesItsNextBuffersBlocksOfTheirOwn() {
        ByteBuffer first = DirectMemory.allocateDirect(48);
        assertEquals(SLOTS * 48, DirectMemory.stats().totalCapacity());
        DirectMemory.free(first); // the block's only buffer: it is retired at once
        assertEquals(0, DirectMemory.stats().memoryUsed());

        ByteBuffer next = DirectMemory.allocateDirect(48);
        assertEquals(48, DirectMemory.stats().totalCapacity(), "a block of its own");
        assertSame(Allocation.class, Allocation.of(next).getClass());
        DirectMemory.free(next);
        assertEquals(0, DirectMemory.stats().memoryUsed());
    }

    @Test
    void aBlockComesBackThroughTheCleanerOnceNoBufferOrViewOfItIsLeft() throws InterruptedException {
        DirectMemoryStats before = DirectMemory.stats();
        ByteBuffer[] buffers = allocate(SLOTS, 64);
        ByteBuffer view = buffers[5].asReadOnlyBuffer();
        buffers[5].put(3, (byte) 9);
        java.util.Arrays.fill(buffers, null);

        // Collections run (the churn fills the budget over and over) while the view lives.
        for (int i = 0; i < 300; i++) {
            DirectMemory.allocateDirect(Churn.MIB).put(0, (byte) 1);
        }
        assertEquals(9, view.get(3), "the view kept the block");
        assertTrue(DirectMemory.stats().count() >= 1);

        view = null;
        DirectMemoryStats after = Churn.settle();
        assertEquals(0, after.memoryUsed());
        long churned = 300L * Churn.MIB;
        assertEquals(SLOTS * 64 + churned, after.reclaimedBytes() - before.reclaimedBytes());
    }

    @Test
    void sharingCanBeTurnedOffAndABadSettingIsAClearError() throws Exception {
        assertEquals("count=1 capacity=1024", probe("-Ddirectmem.packSmallBuffers=true"));
        assertEquals("count=16 capacity=1024", probe("-Ddirectmem.packSmallBuffers=false"));

        Subprocess.Result bad = Subprocess.run(Subprocess.testClassPath(),
                List.of("-Ddirectmem.packSmallBuffers=yes"), SharingProbe.class.getName());
        assertTrue(bad.exitCode() != 0, bad.output());
        assertTrue(bad.output().contains("IllegalArgumentException: directmem is unavailable: invalid value "
                + "for system property directmem.packSmallBuffers: 'yes' (expected true or false)"), bad.output());
    }

    private static String probe(String flag) throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(), List.of(flag),
                SharingProbe.class.getName());
        assertEquals(0, result.exitCode(), result.output());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("SHARING (.*)").matcher(result.output());
        assertTrue(m.find(), result.output());
        return m.group(1).trim();
    }
}
