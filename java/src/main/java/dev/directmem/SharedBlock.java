package dev.directmem;

import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;

/**
 * One native block shared by up to {@value #SLOTS} small buffers of one size: one allocation, one
 * release and one registry entry for all of them, instead of one each.
 *
 * <p>Why: on the GC path, most of a small buffer's cost is its release, a phantom reference that
 * the collector discovers and the reclaimer frees one by one; the JDK pays the same for its
 * Cleaner. Shared, that cost is paid once per block (see BENCHMARKS.md).
 *
 * <p>The price: a block's memory comes back only when all its buffers have been freed or have
 * become unreachable, so one long-lived buffer keeps the other slots of its block reserved (at
 * most 15 times its own size, in the budget and in memory). {@code
 * -Ddirectmem.packSmallBuffers=false} turns sharing off.
 *
 * <p>Explicit frees: once every buffer carved from a block is freed, the block is freed at once,
 * even if not all its slots were handed out (it is then retired: nothing more is carved from it).
 * A stripe whose blocks keep being retired early frees its buffers as fast as it allocates them:
 * sharing buys nothing there, so its next {@value #UNSHARED_AFTER_RETIREMENT} buffers of that size
 * get blocks of their own, the cheaper cycle for allocate-and-free.
 *
 * <p>Each buffer is a slice of the block's hidden root: its {@code att} is this block, which
 * therefore stays alive while the buffer or any view of it does. Slots are handed out in order and
 * never reused, so every buffer starts zeroed; each starts at a multiple of 16 bytes, as a block
 * of its own from malloc would.
 */
final class SharedBlock extends Allocation {
    static final int SLOTS = 16;
    /** The largest buffer that shares: its block is 64 KiB. */
    static final int MAX_CAPACITY = 4096;
    private static final int SLOT_ALIGNMENT = 16;
    static final int UNSHARED_AFTER_RETIREMENT = 1024;

    /**
     * Per registry stripe and size class, the block being carved. Held weakly: a block whose
     * buffers are all unreachable must be collectable even if its stripe never allocates again.
     * Read without a lock: a stale entry only means a new block a little sooner.
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    private static final WeakReference<SharedBlock>[][] CURRENT =
            new WeakReference[Registry.STRIPES][MAX_CAPACITY / SLOT_ALIGNMENT];
    /**
     * Per stripe and size class, how many more buffers get blocks of their own after a block was
     * retired early. Read and written without a lock: it only steers a heuristic.
     */
    private static final int[][] UNSHARED_LEFT = new int[Registry.STRIPES][MAX_CAPACITY / SLOT_ALIGNMENT];

    private final int slotSize;
    /** The buffers handed out, in slot order; guarded by this block. */
    private final ByteBuffer[] buffers = new ByteBuffer[SLOTS];
    private int carved;
    /** Bit i: slot i was given back with {@link DirectMemory#free}. */
    private int freedSlots;
    /** Freed before all its slots were handed out: nothing more is carved. */
    private boolean retired;
    private final int stripe;

    private SharedBlock(int slotSize, int stripe) {
        super(slotSize * SLOTS, 1, null);
        this.slotSize = slotSize;
        this.stripe = stripe;
    }

    /** For tests: forgets every stripe's blocks and retirements, as in a fresh JVM. */
    static void startOverForTesting() {
        for (int stripe = 0; stripe < Registry.STRIPES; stripe++) {
            synchronized (CURRENT[stripe]) {
                java.util.Arrays.fill(CURRENT[stripe], null);
                java.util.Arrays.fill(UNSHARED_LEFT[stripe], 0);
            }
        }
    }

    /** Whether a buffer of {@code capacity} bytes (with no alignment asked for) shares a block. */
    static boolean takes(int capacity) {
        return capacity > 0 && capacity <= MAX_CAPACITY && Native.PACK_SMALL_BUFFERS;
    }

    /**
     * A zeroed buffer of {@code capacity} bytes from this thread's stripe's block of its size;
     * null if it should have a block of its own, or needs a new block and the budget cannot take
     * one without reclaiming.
     */
    static ByteBuffer allocate(int capacity) {
        int sizeClass = (capacity - 1) / SLOT_ALIGNMENT;
        int stripe = Registry.stripeOfCurrentThread();
        int[] unsharedLeft = UNSHARED_LEFT[stripe];
        if (unsharedLeft[sizeClass] > 0) {
            unsharedLeft[sizeClass]--;
            return null;
        }
        WeakReference<SharedBlock>[] current = CURRENT[stripe];
        ByteBuffer buffer = carve(current[sizeClass], capacity);
        if (buffer != null) {
            return buffer;
        }
        synchronized (current) {
            // Another thread of the stripe may have replaced the block meanwhile.
            buffer = carve(current[sizeClass], capacity);
            if (buffer != null) {
                return buffer;
            }
            SharedBlock block = new SharedBlock((sizeClass + 1) * SLOT_ALIGNMENT, stripe);
            if (!block.arm(false)) {
                return null;
            }
            current[sizeClass] = new WeakReference<>(block);
            return block.carve(capacity);
        }
    }

    private static ByteBuffer carve(WeakReference<SharedBlock> reference, int capacity) {
        SharedBlock block = reference == null ? null : reference.get();
        return block == null ? null : block.carve(capacity);
    }

    /** The next slot as a buffer of {@code capacity} bytes, or null when none is left. */
    private synchronized ByteBuffer carve(int capacity) {
        if (carved == SLOTS || retired) {
            return null;
        }
        ByteBuffer buffer = root.slice(carved * slotSize, capacity);
        buffers[carved++] = buffer;
        return buffer;
    }

    /** The slot {@code buffer} was handed out as, or -1 for a view. */
    private int slotOf(ByteBuffer buffer) {
        for (int i = 0; i < carved; i++) {
            if (buffers[i] == buffer) {
                return i;
            }
        }
        return -1;
    }

    @Override
    void checkNotFreed(ByteBuffer buffer) {
        super.checkNotFreed(buffer);
        synchronized (this) {
            int slot = slotOf(buffer);
            if (slot >= 0 && (freedSlots & (1 << slot)) != 0) {
                throw freed();
            }
        }
    }

    /**
     * Disarms the buffer at once; its slot stays reserved (never reused) until the whole block
     * comes back, which is now if no other buffer carved from it is still unfreed.
     */
    @Override
    void free(ByteBuffer buffer) {
        boolean blockUnused;
        boolean early;
        synchronized (this) {
            int slot = slotOf(buffer);
            if (slot < 0) {
                throw cannotFreeView();
            }
            if ((freedSlots & (1 << slot)) != 0) {
                return; // freed already
            }
            buffer.limit(0);
            ACCESS.disarm(buffer);
            freedSlots |= 1 << slot;
            blockUnused = freedSlots == (1 << carved) - 1;
            early = blockUnused && carved < SLOTS;
            retired |= early;
        }
        if (blockUnused) {
            freeBlock();
        }
        if (early) {
            UNSHARED_LEFT[stripe][(slotSize - 1) / SLOT_ALIGNMENT] = UNSHARED_AFTER_RETIREMENT;
        }
    }
}
