package dev.directmem;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * Direct byte buffers whose memory is allocated, budgeted and freed by directmem's native library.
 *
 * <p>{@link #allocateDirect(int)} is a drop-in for {@link ByteBuffer#allocateDirect(int)}. The
 * difference shows when the budget is full: where the JDK calls {@code System.gc()} (a no-op under
 * {@code -XX:+DisableExplicitGC}) and then throws {@code OutOfMemoryError: Direct buffer memory},
 * directmem makes the JVM collect by means that flag does not disable, waits until the collected
 * buffers' memory is really free, and only then, if the budget is still full, throws. A virtual
 * thread waits parked, which leaves its carrier thread to others.
 *
 * <p>Memory comes back when a buffer and all its views become unreachable, or at once through
 * {@link #free(ByteBuffer)}. Buffers of up to 4 KiB (less under a small budget) usually share a
 * native block with up to 15 others of their size, which makes the GC path several times cheaper
 * and lets {@code free} give a slot to the next buffer of its size without a native call (system
 * property {@code directmem.packSmallBuffers=false} turns this off).
 *
 * <p>The budget is the system property {@code directmem.maxMemory} (bytes, with an optional
 * {@code k}, {@code m}, {@code g} or {@code t} suffix), else the JVM's
 * {@code -XX:MaxDirectMemorySize} if one was given, else {@link Runtime#maxMemory()}, as the JDK's
 * own default. All methods are thread-safe; using a buffer on one thread while another frees it
 * is not (see {@link #free}).
 *
 * <p>For monitoring, directmem registers the MBean {@code java.nio:type=BufferPool,name=directmem}
 * ({@link DirectMemoryMXBean}) with the platform MBean server once the JVM has one, records the
 * JFR events {@code dev.directmem.Reclamation} (each garbage collection it drove: duration, bytes freed,
 * trigger) and {@code dev.directmem.AllocationFailure}, and, with {@code -Ddirectmem.tracking=sampled}
 * or {@code all}, reports where live memory was allocated through {@link #topAllocationSites}.
 * The native library logs through {@code env_logger}: {@code -Ddirectmem.log=debug}, or
 * {@code RUST_LOG}.
 *
 * <p>On JDK 24 and later, run with {@code --enable-native-access=dev.directmem} (module path) or
 * {@code --enable-native-access=ALL-UNNAMED} (class path), or loading the native library prints a
 * warning.
 *
 * <p>The first call whose arguments pass their checks sets directmem up: it loads the native
 * library and reads its configuration (an invalid argument throws as documented, and sets nothing
 * up). If that cannot succeed, every such call throws, giving the reason:
 * {@code IllegalArgumentException} for an invalid {@code directmem.*} property (but
 * {@code directmem.tracking} and {@code directmem.tracking.interval}, which fail only the
 * allocating methods and {@link #topAllocationSites}), {@code UnsatisfiedLinkError} for a native
 * library that does not load here, {@code IllegalStateException} for native access the JVM denies or
 * for one of directmem's class initializers that failed. A failure that may pass (an
 * {@code OutOfMemoryError}, a {@code StackOverflowError}) outside those initializers is thrown as
 * it is, and the next call tries again.
 */
public final class DirectMemory {
    /** The largest alignment {@link #allocateDirectAligned} accepts: 1 MiB. */
    public static final int MAX_ALIGNMENT = 1 << 20;

    private DirectMemory() {}

    /**
     * Allocates a direct buffer: zero-filled, big-endian, position 0, limit and capacity
     * {@code capacity}.
     *
     * @param capacity the buffer's capacity in bytes; 0 is allowed
     * @return a new direct buffer that owns its memory
     * @throws IllegalArgumentException if {@code capacity} is negative
     * @throws BudgetExhaustedError if the budget stays full after reclamation, if
     *     {@code capacity} is more than the whole budget, or if the JVM could not be made to
     *     collect garbage (see {@link BudgetExhaustedError} for the message); nothing is reserved
     * @throws OutOfMemoryError if the operating system refuses the memory; nothing is reserved
     */
    public static ByteBuffer allocateDirect(int capacity) {
        if (capacity < 0) {
            throw new IllegalArgumentException("capacity must not be negative: " + capacity);
        }
        Native.checkAvailable();
        return Allocation.allocate(capacity, 0);
    }

    /**
     * Allocates a direct buffer whose first byte lies at a multiple of {@code alignment}, such as
     * a page-aligned buffer for {@code O_DIRECT} I/O: otherwise as {@link #allocateDirect(int)},
     * and freed the same ways.
     *
     * <p>{@code buffer.alignmentOffset(0, alignment)} is 0. Alignments above 16 bytes cost budget:
     * small blocks (under 256 KiB, alignment up to a page) reserve {@code capacity + alignment}
     * bytes, other blocks whole pages, as {@link DirectMemoryStats#memoryUsed()} shows.
     *
     * @param capacity the buffer's capacity in bytes; 0 is allowed
     * @param alignment a power of two from 1 to {@link #MAX_ALIGNMENT}
     * @return a new, zero-filled, aligned direct buffer that owns its memory
     * @throws IllegalArgumentException if {@code capacity} is negative or {@code alignment} is
     *     not a power of two from 1 to {@link #MAX_ALIGNMENT}
     * @throws BudgetExhaustedError as for {@link #allocateDirect(int)}
     * @throws OutOfMemoryError as for {@link #allocateDirect(int)}
     */
    public static ByteBuffer allocateDirectAligned(int capacity, int alignment) {
        if (capacity < 0) {
            throw new IllegalArgumentException("capacity must not be negative: " + capacity);
        }
        if (alignment < 1 || alignment > MAX_ALIGNMENT || Integer.bitCount(alignment) != 1) {
            throw new IllegalArgumentException(
                    "alignment must be a power of two from 1 to " + MAX_ALIGNMENT + ": " + alignment);
        }
        Native.checkAvailable();
        return Allocation.allocate(capacity, alignment);
    }

    /**
     * Gives a buffer's memory back now, instead of when the buffer becomes unreachable: to the
     * native allocator, or, for a buffer of up to 4 KiB that shares a native block, to that block.
     *
     * <p>Afterwards the buffer refuses access: its capacity, limit and position are 0, so every
     * get and put that comes after the free (on this thread, or on one the free was handed to
     * through a lock, a volatile or a queue) throws instead of touching freed memory. A get or
     * put racing the free is a data race, as with the JDK's {@code invokeCleaner}: it may touch
     * the freed memory or the next buffer's, or crash the JVM. {@link #fill} is safe against a racing
     * free: it ends before the memory goes, or throws; it never writes memory that went back
     * (through a view made before the free of a small buffer that shares a block, it may still
     * write the freed slot while its block stays: current, or holding other buffers). A second {@code free} of the same buffer does nothing;
     * one racing the first (on another thread) returns once the buffer refuses access. If
     * {@code free} throws (a stack overflow, or a full Java heap), the memory may or may not have
     * gone back, and the buffer may already refuse access; nothing is lost or freed twice: a
     * later {@code free} or the collector finishes the job. Views made from the buffer before
     * it was freed (slices, duplicates, {@code asLongBuffer()} and the like, a
     * {@code MemorySegment.ofBuffer}) must not be used afterwards: they still point at its
     * memory, which may be freed or handed to another buffer.
     *
     * <p>A shared block takes the freed slot's next buffer of its size (the slot cleared). The
     * block's memory comes back once its last buffer is freed or unreachable, if the block is no
     * longer the one its stripe takes buffers of that size from; if it still is, the next garbage
     * collection that finds it unused gives it back. Current blocks hold at most a sixteenth of the
     * budget together; a retired block holds all its slots until its last buffer is freed or
     * unreachable, so one long-lived small buffer keeps its block's other 15 slots reserved.
     *
     * <p>Not {@code sun.misc.Unsafe.invokeCleaner}: the JDK takes directmem's buffers for views
     * (their {@code att} field holds directmem's owner) and throws
     * {@code IllegalArgumentException}. Likewise {@code sun.nio.ch.DirectBuffer.cleaner()} returns
     * null for them, and {@code attachment()} returns that owner, which is not a
     * {@code ByteBuffer}: code that frees or unwraps direct buffers through these needs pointing
     * at this method.
     *
     * @param buffer a buffer returned by {@link #allocateDirect(int)} or
     *     {@link #allocateDirectAligned(int, int)}
     * @throws NullPointerException if {@code buffer} is null
     * @throws IllegalArgumentException if directmem did not allocate {@code buffer} (a heap buffer,
     *     a JDK direct or mapped buffer, another library's), or it is a view (slice, duplicate,
     *     read-only) of one that it did; nothing changes in that case. A view made after the
     *     buffer was freed is empty, like the buffer, and {@code free} does nothing with it.
     * @throws IllegalStateException if the buffer reached this thread without a happens-before
     *     edge from the allocating thread (a data race), and its memory's address reads 0 here;
     *     nothing changes in that case
     */
    public static void free(ByteBuffer buffer) {
        if (buffer == null) {
            // The message's string is made only here: made at the first call, it once failed a
            // program's first free with the Java heap full.
            throw new NullPointerException("buffer");
        }
        checkDirect(buffer);
        Native.checkAvailable();
        Allocation.of(buffer).free(buffer);
    }

    /**
     * Sets every byte between a buffer's position and limit to {@code value}, without changing its
     * position or limit. Fills of one buffer and of its views run one at a time, and a
     * {@link #free} of the buffer waits for a fill under way.
     *
     * @param buffer a buffer from {@link #allocateDirect(int)} or
     *     {@link #allocateDirectAligned(int, int)}, or a writable view of one
     * @param value the byte to write
     * @throws NullPointerException if {@code buffer} is null
     * @throws IllegalArgumentException if directmem did not allocate {@code buffer}'s memory
     * @throws IllegalStateException if that memory was given back with {@link #free}, before or
     *     during this call (for a view made before the free of a buffer that shares a block,
     *     only once the block is retired and holds no buffer, its memory on its way back: until
     *     then such a view writes the freed slot, which the next buffer of its size may hold;
     *     views of a freed buffer must not be used)
     * @throws java.nio.ReadOnlyBufferException if {@code buffer} is read-only
     */
    public static void fill(ByteBuffer buffer, byte value) {
        if (buffer == null) {
            throw new NullPointerException("buffer"); // made here only, as in free
        }
        checkDirect(buffer);
        Native.checkAvailable();
        Allocation owner = Allocation.of(buffer);
        if (buffer.isReadOnly()) {
            throw new java.nio.ReadOnlyBufferException();
        }
        owner.fill(buffer, value);
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

    /**
     * The allocation sites holding the most live memory, for finding leaks and retention.
     *
     * <p>Tracking is off unless the JVM runs with {@code -Ddirectmem.tracking=sampled} (one
     * allocation in {@code -Ddirectmem.tracking.interval}, default 128, is tracked) or
     * {@code -Ddirectmem.tracking=all}; with it off the list is empty. A site is the first caller
     * outside directmem. A buffer leaves its site's figures when it is freed, explicitly or after
     * it became unreachable; tracking never keeps a buffer alive.
     *
     * @param n how many sites at most
     * @return up to {@code n} sites, most live bytes first
     * @throws IllegalArgumentException if {@code n} is negative, or a tracking property is invalid
     */
    public static List<AllocationSite> topAllocationSites(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("n must not be negative: " + n);
        }
        Native.checkAvailable();
        Tracking.checkConfiguration();
        return Tracking.top(n);
    }

    /**
     * Refuses a heap buffer before the setup: arguments are checked first in every method, so
     * that a rejected one neither sets directmem up nor reports an unavailable library instead.
     */
    private static void checkDirect(ByteBuffer buffer) {
        if (!buffer.isDirect()) {
            throw notAllocatedByDirectmem(buffer);
        }
    }

    static IllegalArgumentException notAllocatedByDirectmem(ByteBuffer buffer) {
        String kind = !buffer.isDirect() ? "heap buffer" : "direct buffer";
        return new IllegalArgumentException("directmem did not allocate this buffer: " + kind + " "
                + buffer.getClass().getName() + "[cap=" + buffer.capacity() + "]");
    }
}
