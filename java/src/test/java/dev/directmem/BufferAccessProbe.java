package dev.directmem;

import java.nio.ByteBuffer;

/**
 * Run in a child JVM by {@link BufferAccessTest}: allocates, reads, frees and reclaims through
 * whichever {@link BufferAccess} that JVM has, and prints it. Exits non-zero on any surprise.
 */
final class BufferAccessProbe {
    private BufferAccessProbe() {}

    public static void main(String[] args) {
        System.out.println("ACCESS " + BufferAccess.INSTANCE.describe());
        for (int capacity : new int[] {1, 64, 4096, 1 << 20, 16 << 20}) {
            ByteBuffer buffer = DirectMemory.allocateDirect(capacity);
            check(buffer.capacity() == capacity && buffer.limit() == capacity, "capacity " + capacity);
            check(buffer.get(capacity - 1) == 0, "zeroed");
            buffer.put(capacity - 1, (byte) 7);
            ByteBuffer view = buffer.duplicate();
            check(view.get(capacity - 1) == 7, "a view sees the contents");
            expect(IllegalArgumentException.class, () -> DirectMemory.free(view));
            DirectMemory.free(buffer);
            expect(IndexOutOfBoundsException.class, () -> buffer.get(0));
            check(buffer.capacity() == 0, "disarmed");
            DirectMemory.free(buffer); // a second free does nothing
        }
        ByteBuffer aligned = DirectMemory.allocateDirectAligned(100, 4096);
        check(aligned.alignmentOffset(0, 4096) == 0, "aligned");
        DirectMemory.free(aligned);
        expect(IllegalArgumentException.class, () -> DirectMemory.free(ByteBuffer.allocateDirect(8)));
        SharedBlock.startOverForTesting(); // the small buffers' blocks, kept for reuse, go too
        check(DirectMemory.stats().count() == 0, "every block freed: " + DirectMemory.stats());
        // 1 GiB through the 64 MiB budget, dropped: only collections can bring it back.
        long checksum = 0;
        for (int i = 0; i < 1024; i++) {
            ByteBuffer dropped = DirectMemory.allocateDirect(1 << 20);
            dropped.put(i, (byte) 1);
            checksum += dropped.get(i);
        }
        check(checksum == 1024 && DirectMemory.stats().collections() > 0, "reclaimed: " + DirectMemory.stats());
        System.out.println("OK");
    }

    private static void check(boolean condition, String what) {
        if (!condition) {
            throw new AssertionError(what);
        }
    }

    private static void expect(Class<? extends Throwable> type, Runnable action) {
        try {
            action.run();
        } catch (Throwable t) {
            check(type.isInstance(t), "expected " + type.getSimpleName() + ", got " + t);
            return;
        }
        throw new AssertionError("expected " + type.getSimpleName());
    }
}
