package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class FreeTest {

    @Test
    void freeGivesTheMemoryBackAtOnce() {
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

    @Test
    void secondFreeIsANoOp() {
        ByteBuffer buffer = DirectMemory.allocateDirect(1000);
        DirectMemory.free(buffer);
        DirectMemoryStats once = DirectMemory.stats();
        DirectMemory.free(buffer);
        assertEquals(once.freedBytes(), DirectMemory.stats().freedBytes());
    }

    /** Shared: each round's buffer is the only one of a retired block, which goes with it. */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void concurrentFreesOfOneBufferFreeItOnce(boolean shared) throws InterruptedException {
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

    @Test
    void zeroCapacityBuffersAllocateAndFree() {
        ByteBuffer empty = DirectMemory.allocateDirect(0);
        assertEquals(0, empty.capacity());
        assertThrows(BufferUnderflowException.class, empty::get);
        DirectMemory.free(empty);
        DirectMemory.free(empty);
    }
}
