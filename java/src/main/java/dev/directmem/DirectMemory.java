package dev.directmem;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * Direct byte buffers whose memory is allocated, budgeted and freed by directmem's native library.
 *
 * <p>{@link #allocateDirect(int)} is a drop-in for {@link ByteBuffer#allocateDirect(int)}. The
 * difference shows when the budget is full: where the JDK calls {@code System.gc()} (a no-op under
 * {@code -XX:+DisableExplicitGC}) and then throws {@code OutOfMemoryError: Direct buffer memory},
 * directmem makes the JVM collect by means that flag does not disable, waits until the collected
 * buffers' memory is really free, and only then, if the budget is still full, throws.
 *
 * <p>Memory comes back when a buffer and all its views become unreachable, or at once through
 * {@link #free(ByteBuffer)}.
 *
 * <p>The budget is the system property {@code directmem.maxMemory} (bytes, with an optional
 * {@code k}, {@code m}, {@code g} or {@code t} suffix), else the JVM's
 * {@code -XX:MaxDirectMemorySize} if one was given, else {@link Runtime#maxMemory()}, as the JDK's
 * own default. All methods are thread-safe.
 */
public final class DirectMemory {
    private DirectMemory() {}

    /**
     * Allocates a direct buffer: zero-filled, big-endian, position 0, limit and capacity
     * {@code capacity}.
     *
     * @param capacity the buffer's capacity in bytes; 0 is allowed
     * @return a new direct buffer that owns its memory
     * @throws IllegalArgumentException if {@code capacity} is negative
     * @throws OutOfMemoryError if the budget stays full after reclamation (the message gives the
     *     bytes requested, the memory used, the maximum and the collections tried), or the
     *     operating system refuses the memory; nothing is reserved in either case
     */
    public static ByteBuffer allocateDirect(int capacity) {
        Native.checkAvailable();
        if (capacity < 0) {
            throw new IllegalArgumentException("capacity must not be negative: " + capacity);
        }
        return Allocation.allocate(capacity);
    }

    /**
     * Gives a buffer's memory back now, instead of when the buffer becomes unreachable.
     *
     * <p>Afterwards the buffer refuses access: its capacity, limit and position are 0, so every
     * get and put throws instead of touching freed memory. A second {@code free} of the same buffer
     * does nothing. Views made from the buffer before it was freed must not be used afterwards.
     *
     * @param buffer a buffer returned by {@link #allocateDirect(int)}
     * @throws NullPointerException if {@code buffer} is null
     * @throws IllegalArgumentException if directmem did not allocate {@code buffer} (a heap buffer,
     *     a JDK direct or mapped buffer, another library's), or it is a view (slice, duplicate,
     *     read-only) of one that it did; nothing changes in that case
     */
    public static void free(ByteBuffer buffer) {
        Native.checkAvailable();
        Objects.requireNonNull(buffer, "buffer");
        Allocation.of(buffer).free(buffer);
    }

    /**
     * Sets every byte between a buffer's position and limit to {@code value}, without changing its
     * position or limit.
     *
     * @param buffer a buffer from {@link #allocateDirect(int)}, or a writable view of one
     * @param value the byte to write
     * @throws NullPointerException if {@code buffer} is null
     * @throws IllegalArgumentException if directmem did not allocate {@code buffer}'s memory
     * @throws IllegalStateException if that memory was given back with {@link #free}
     * @throws java.nio.ReadOnlyBufferException if {@code buffer} is read-only
     */
    public static void fill(ByteBuffer buffer, byte value) {
        Native.checkAvailable();
        Objects.requireNonNull(buffer, "buffer");
        Allocation owner = Allocation.of(buffer);
        if (buffer.isReadOnly()) {
            throw new java.nio.ReadOnlyBufferException();
        }
        owner.checkNotFreed();
        Native.fill(buffer, buffer.position(), buffer.remaining(), value);
    }

    /**
     * A snapshot of directmem's counters.
     *
     * @return the counters as they are now
     */
    public static DirectMemoryStats stats() {
        Native.checkAvailable();
        return DirectMemoryStats.fromNative(Native.stats());
    }
}
