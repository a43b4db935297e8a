package dev.directmem;

import java.nio.ByteBuffer;

/** A child JVM for {@link SharedBlockTest}: the ledger after 16 buffers of {@code args[0]} bytes. */
public final class SharingProbe {
    private SharingProbe() {}

    public static void main(String[] args) {
        int capacity = Integer.parseInt(args[0]);
        ByteBuffer[] buffers = new ByteBuffer[16];
        for (int i = 0; i < buffers.length; i++) {
            buffers[i] = DirectMemory.allocateDirect(capacity);
        }
        DirectMemoryStats stats = DirectMemory.stats();
        System.out.println("SHARING count=" + stats.count() + " capacity=" + stats.totalCapacity()
                + " largest=" + SharedBlock.LARGEST_SHARED);
        for (ByteBuffer buffer : buffers) {
            DirectMemory.free(buffer);
        }
    }
}
