package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ReadOnlyBufferException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class AllocateDirectTest {

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 7, 64, 4096, 65_536, 262_143, 262_144, 1 << 20, 3_000_001})
    void behavesLikeTheJdksDirectBuffer(int capacity) throws InterruptedException {
        // Settled: a reclaimer batch landing between a snapshot's reads of the ledger and of
        // reclaimedBytes would break the sum below.
        Churn.settle();
        DirectMemoryStats before = DirectMemory.stats();
        ByteBuffer buffer = DirectMemory.allocateDirect(capacity);
        DirectMemoryStats after = DirectMemory.stats();

        assertTrue(buffer.isDirect());
        assertFalse(buffer.isReadOnly());
        assertEquals(capacity, buffer.capacity());
        assertEquals(capacity, buffer.limit());
        assertEquals(0, buffer.position());
        assertEquals(ByteOrder.BIG_ENDIAN, buffer.order());
        for (int i = 0; i < capacity; i++) {
            if (buffer.get(i) != 0) {
                throw new AssertionError("byte " + i + " of " + capacity + " is not zero");
            }
        }
        // Exact even if Cleaner actions ran meanwhile: they are counted in reclaimedBytes.
        long reclaimed = after.reclaimedBytes() - before.reclaimedBytes();
        long reserved = after.totalCapacity() - before.totalCapacity() + reclaimed;
        if (SharedBlock.takes(capacity)) {
            // From its stripe's shared block, or a new one; or a block of its own, where this
            // thread's earlier allocate-and-free cycles turned sharing off for a while.
            long block = (long) SharedBlock.SLOTS * ((capacity + 15) / 16 * 16);
            assertTrue(reserved == 0 || reserved == block || reserved == capacity, "reserved " + reserved);
        } else {
            assertEquals(capacity, reserved);
        }
        assertTrue(after.memoryUsed() >= after.totalCapacity());
        assertTrue(after.peakMemoryUsed() >= after.memoryUsed());
        DirectMemory.free(buffer);
    }

    @Test
    void contentsRoundTripInBothByteOrders() {
        ByteBuffer buffer = DirectMemory.allocateDirect(64);
        buffer.putLong(0, 0x0102030405060708L);
        assertEquals(1, buffer.get(0));
        buffer.order(ByteOrder.LITTLE_ENDIAN).putInt(8, 0x0A0B0C0D);
        assertEquals(0x0D, buffer.get(8));
        assertEquals(0x0102030405060708L, buffer.order(ByteOrder.BIG_ENDIAN).getLong(0));
        DirectMemory.free(buffer);
    }

    @Test
    void eachBufferHasItsOwnMemory() {
        ByteBuffer a = DirectMemory.allocateDirect(16);
        ByteBuffer b = DirectMemory.allocateDirect(16);
        assertNotSame(a, b);
        a.put(0, (byte) 1);
        assertEquals(0, b.get(0));
        DirectMemory.free(a);
        DirectMemory.free(b);
    }

    @Test
    void negativeCapacityIsAnIllegalArgumentAndReservesNothing() {
        DirectMemoryStats before = DirectMemory.stats();
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> DirectMemory.allocateDirect(-1));
        assertTrue(e.getMessage().contains("-1"), e.getMessage());
        assertEquals(before.failedAllocations(), DirectMemory.stats().failedAllocations());
    }

    @Test
    void budgetComesFromMaxDirectMemorySize() {
        // The test JVMs run with -XX:MaxDirectMemorySize=64m and no directmem.maxMemory.
        assertEquals(64L << 20, DirectMemory.stats().maxMemory());
    }

    @Test
    void aLargeFillAndAReusedLargeBlockAreExactToTheByte() {
        // Over 8 MiB both go through streaming stores, with plain stores at the unaligned ends.
        int capacity = 12 << 20;
        ByteBuffer buffer = DirectMemory.allocateDirect(capacity);
        ByteBuffer middle = buffer.slice(3, capacity - 70);
        DirectMemory.fill(middle, (byte) 0x5A);
        for (int i : new int[] {0, 1, 2, capacity - 67, capacity - 66, capacity - 1}) {
            assertEquals(0, buffer.get(i), "byte " + i);
        }
        for (int i = 3; i < capacity - 67; i += 4093) {
            assertEquals(0x5A, buffer.get(i), "byte " + i);
        }
        assertEquals(0x5A, buffer.get(capacity - 68));
        DirectMemory.free(buffer);

        // A kept block, written whole, comes back zeroed. Kept blocks are resident, a fresh
        // mapping is not: a block whose writing does not grow the resident set by half its size
        // was reused, and at least one round must show that, else only fresh pages were checked.
        int reused = 0;
        for (int round = 0; round < 20 && reused == 0; round++) {
            ByteBuffer again = DirectMemory.allocateDirect(capacity);
            for (int i = 0; i < capacity; i += 61) {
                assertEquals(0, again.get(i), "byte " + i + " of the reused block, round " + round);
            }
            assertEquals(0, again.get(capacity - 68));
            long rss = Churn.rssBytes();
            DirectMemory.fill(again, (byte) 0x5A);
            if (Churn.rssBytes() - rss < capacity / 2) {
                reused++;
            }
            DirectMemory.free(again);
        }
        assertTrue(reused > 0, "no round of 20 got a kept block back");
    }

    /** A buffer that shares a block (32 bytes) and one with a block of its own (8 KiB). */
    @ParameterizedTest
    @ValueSource(ints = {32, 8192})
    void fillSetsTheRemainingBytesOnly(int capacity) {
        ByteBuffer buffer = DirectMemory.allocateDirect(capacity);
        buffer.position(8).limit(capacity - 8);
        DirectMemory.fill(buffer, (byte) 7);
        assertEquals(8, buffer.position());
        assertEquals(capacity - 8, buffer.limit());
        buffer.clear();
        for (int i = 0; i < capacity; i++) {
            assertEquals(i >= 8 && i < capacity - 8 ? 7 : 0, buffer.get(i), "byte " + i);
        }
        DirectMemory.fill(buffer.slice(capacity - 2, 2), (byte) 9);
        assertEquals(9, buffer.get(capacity - 1));
        DirectMemory.free(buffer);
    }

    /**
     * Zero fills up to 64 KiB run in Java, in bulk puts of up to 4 KiB, longer ones natively: a
     * fill of each length (on either side of both limits, 15 bytes a shared buffer's) clears
     * exactly its range, through a buffer and through a view.
     */
    @ParameterizedTest
    @ValueSource(ints = {15, 4095, 4096, 4097, 8200, 65535, 65536, 65537, 70000})
    void aZeroFillClearsTheRemainingBytesOnly(int length) {
        int capacity = length + 3;
        ByteBuffer buffer = DirectMemory.allocateDirect(capacity);
        DirectMemory.fill(buffer, (byte) 7);
        buffer.position(2).limit(2 + length);
        DirectMemory.fill(buffer, (byte) 0);
        assertEquals(2, buffer.position());
        assertEquals(2 + length, buffer.limit());
        buffer.clear();
        for (int i = 0; i < capacity; i++) {
            assertEquals(i >= 2 && i < 2 + length ? 0 : 7, buffer.get(i), "byte " + i);
        }
        DirectMemory.fill(buffer, (byte) 7);
        DirectMemory.fill(buffer.slice(1, length), (byte) 0);
        for (int i = 0; i < capacity; i++) {
            assertEquals(i >= 1 && i < 1 + length ? 0 : 7, buffer.get(i), "byte " + i + " after the view's fill");
        }
        DirectMemory.free(buffer);
    }

    @Test
    void fillRejectsWhatItCannotWrite() {
        assertThrows(NullPointerException.class, () -> DirectMemory.fill(null, (byte) 0));
        assertThrows(IllegalArgumentException.class, () -> DirectMemory.fill(ByteBuffer.allocate(4), (byte) 0));
        ByteBuffer jdk = ByteBuffer.allocateDirect(4);
        assertThrows(IllegalArgumentException.class, () -> DirectMemory.fill(jdk, (byte) 1));
        assertEquals(0, jdk.get(0));
        ByteBuffer buffer = DirectMemory.allocateDirect(4);
        assertThrows(ReadOnlyBufferException.class, () -> DirectMemory.fill(buffer.asReadOnlyBuffer(), (byte) 1));
        assertEquals(0, buffer.get(0));
        // A view of a buffer with a block of its own knows when the block is gone (a shared
        // block's slot stays allocated for reuse: SharedBlockTest).
        ByteBuffer unshared = Churn.unshared(4);
        ByteBuffer view = unshared.duplicate();
        DirectMemory.free(unshared);
        assertThrows(IllegalStateException.class, () -> DirectMemory.fill(view, (byte) 1));
        DirectMemory.free(buffer);
        assertThrows(IllegalStateException.class, () -> DirectMemory.fill(buffer.duplicate(), (byte) 1));
    }
}
