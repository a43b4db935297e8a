package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class FaultsTest {

    @Test
    void refusedNativeAllocationIsAnOutOfMemoryErrorAndLosesNothing() {
        DirectMemoryStats before = DirectMemory.stats();
        Native.failNextAllocation();
        OutOfMemoryError error = assertThrows(OutOfMemoryError.class, () -> DirectMemory.allocateDirect(4096));
        assertTrue(error.getMessage().contains("refused 4096 bytes"), error.getMessage());
        DirectMemoryStats after = DirectMemory.stats();
        assertEquals(before.failedAllocations() + 1, after.failedAllocations());
        long reclaimed = after.reclaimedBytes() - before.reclaimedBytes();
        assertEquals(before.totalCapacity(), after.totalCapacity() + reclaimed, "nothing stays reserved");

        ByteBuffer next = DirectMemory.allocateDirect(4096);
        assertEquals(4096, next.capacity());
        DirectMemory.free(next);
    }

    @Test
    void aRustPanicArrivesAsAnExceptionAndTheJvmGoesOn() {
        IllegalStateException e = assertThrows(IllegalStateException.class, Native::panicForTesting);
        assertTrue(e.getMessage().contains("deliberate panic"), e.getMessage());
        ByteBuffer buffer = DirectMemory.allocateDirect(8);
        buffer.putLong(0, 1L);
        assertEquals(1L, buffer.getLong(0));
        DirectMemory.free(buffer);
    }
}
