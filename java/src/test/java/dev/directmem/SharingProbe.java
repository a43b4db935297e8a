package dev.directmem;

import java.nio.ByteBuffer;

/** A child JVM for {@link SharedBlockTest}: the ledger after 16 buffers of 64 bytes. */
public final class SharingProbe {
    private SharingProbe() {}

    public static void main(String[] args) {
        ByteBuffer[] buffers = new ByteBuffer[16];
        for (int i = 0; i < buffers.length; i++) {
            buffers[i] = DirectMemory.allocateDirect(64);
        }
        DirectMemoryStats stats = DirectMemory.stats();
        System.out.println("SHARING count=" + stats.count() + " capacity=" + stats.totalCapacity());
        for (ByteBuffer buffer : buffers) {
            DirectMemory.free(buffer);
        }
    }
}
