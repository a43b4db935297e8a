package dev.directmem;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * One native block shared by up to {@value #SLOTS} small buffers of one size: one allocation, one
 * release and one registry entry for all of them, instead of one each.
 *
 * <p>Why: on the GC path, most of a small buffer's cost is its release, a phantom reference that
 * the collector discovers and the reclaimer frees one by one; the JDK pays the same for its
 * Cleaner. Shared, that cost is paid once per block (see BENCHMARKS.md).
 *
 * <p>A block is {@value #SLOTS} slots of the buffers' capacity rounded up to 16 bytes. The price:
 * its memory comes back only when all its buffers have been freed or have become unreachable, so
 * one long-lived buffer keeps the other 15 slots reserved, in the budget and in memory (a 1-byte
 * buffer, a block of 256 bytes). Each stripe also keeps the block it is carving for each size, up
 * to 15 slots not handed out yet; so that those stay a small part of the budget, a small budget
 * shares only smaller buffers ({@link #largestShared}). {@code -Ddirectmem.packSmallBuffers=false}
 * turns sharing off.
 *
 * <p>Explicit frees: once every buffer carved from a block is freed, the block is freed at once,
 * even if not all its slots were handed out (it is then retired: nothing more is carved from it).
 * A stripe that retires blocks early frees its buffers about as fast as it allocates them: sharing
 * buys nothing there, so its next buffers of that size get blocks of their own, the cheaper cycle
 * for allocate-and-free: {@value #FIRST_UNSHARED_RUN} of them, twice as many after each early
 * retirement in a row, up to {@value #LONGEST_UNSHARED_RUN}, and {@value #FIRST_UNSHARED_RUN}
 * again once a block fills up.
 *
 * <p>Each buffer is a slice of the block's hidden root: its {@code att} is this block, which
 * therefore stays alive while the buffer or any view of it does. Slots are handed out in order and
 * never reused, so every buffer starts zeroed; each starts at a multiple of 16 bytes, as a block
 * of its own from malloc would.
 */
final class SharedBlock extends Allocation {
    static final int SLOTS = 16;
    /** The largest buffer that shares on a large enough budget: its block is 64 KiB. */
    static final int MAX_CAPACITY = 4096;
    private static final int SLOT_ALIGNMENT = 16;
    private static final int SIZE_CLASSES = MAX_CAPACITY / SLOT_ALIGNMENT;
    static final int FIRST_UNSHARED_RUN = 16;
    static final int LONGEST_UNSHARED_RUN = 1024;
    /** The largest buffer that shares in this JVM; 0 when sharing is off. */
    static final int LARGEST_SHARED =
            Native.PACK_SMALL_BUFFERS ? largestShared(Native.BUDGET, Registry.STRIPES) : 0;

    /**
     * Per registry stripe and size class, the block being carved. Held weakly: a block whose
     * buffers are all unreachable must be collectable even if its stripe never allocates again.
     * Read without a lock (a stale entry only means a new block a little sooner), hence
     * {@link #CURRENT_ELEMENT}: a block is published with release semantics once armed.
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    private static final WeakReference<SharedBlock>[][] CURRENT =
            new WeakReference[Registry.STRIPES][SIZE_CLASSES];
    private static final VarHandle CURRENT_ELEMENT = MethodHandles.arrayElementVarHandle(WeakReference[].class);
    /*
     * Per stripe and size class, how many more buffers get blocks of their own, and how many the
     * next early retirement gives. Read and written without a lock: they only steer a heuristic.
     */
    private static final int[][] UNSHARED_LEFT = new int[Registry.STRIPES][SIZE_CLASSES];
    private static final int[][] NEXT_UNSHARED_RUN = new int[Registry.STRIPES][SIZE_CLASSES];

    static {
        for (int[] runs : NEXT_UNSHARED_RUN) {
            Arrays.fill(runs, FIRST_UNSHARED_RUN);
        }
    }

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
                Arrays.fill(CURRENT[stripe], null);
                Arrays.fill(UNSHARED_LEFT[stripe], 0);
                Arrays.fill(NEXT_UNSHARED_RUN[stripe], FIRST_UNSHARED_RUN);
            }
        }
    }

    /**
     * The largest capacity that shares under a budget of {@code budget} bytes with {@code stripes}
     * stripes: {@value #MAX_CAPACITY}, or less where the stripes' current blocks of one size could
     * hold more than a sixteenth of the budget (a 64 MiB budget shares up to 4 KiB on up to 64
     * stripes, a 1 MiB budget up to 512 bytes on 8).
     */
    static int largestShared(long budget, int stripes) {
        long slot = budget / (16L * stripes * SLOTS);
        return (int) Math.min(MAX_CAPACITY, slot & -SLOT_ALIGNMENT);
    }

    /** Whether a buffer of {@code capacity} bytes (with no alignment asked for) shares a block. */
    static boolean takes(int capacity) {
        return capacity > 0 && capacity <= LARGEST_SHARED;
    }

    /**
     * A zeroed buffer of {@code capacity} bytes from this thread's stripe's block of its size;
     * null if it should have a block of its own, or needs a new block and the budget cannot take
     * one without reclaiming.
     */
    static ByteBuffer allocate(int capacity) {
        int sizeClass = sizeClass(capacity);
        int stripe = Registry.stripeOfCurrentThread();
        int[] unsharedLeft = UNSHARED_LEFT[stripe];
        if (unsharedLeft[sizeClass] > 0) {
            unsharedLeft[sizeClass]--;
            return null;
        }
        WeakReference<SharedBlock>[] current = CURRENT[stripe];
        ByteBuffer buffer = carveCurrent(current, sizeClass, capacity);
        if (buffer != null) {
            return buffer;
        }
        synchronized (current) {
            // Another thread of the stripe may have replaced the block meanwhile.
            buffer = carveCurrent(current, sizeClass, capacity);
            if (buffer != null) {
                return buffer;
            }
            SharedBlock block = new SharedBlock((sizeClass + 1) * SLOT_ALIGNMENT, stripe);
            if (!block.arm(false)) {
                // The budget is full: this buffer and the next 15 go straight to the path that
                // reclaims, rather than each building a block that would be refused too.
                unsharedLeft[sizeClass] = SLOTS - 1;
                return null;
            }
            buffer = block.carve(capacity);
            CURRENT_ELEMENT.setRelease(current, sizeClass, new WeakReference<>(block));
            return buffer;
        }
    }

    private static int sizeClass(int capacity) {
        return (capacity - 1) / SLOT_ALIGNMENT;
    }

    private static ByteBuffer carveCurrent(WeakReference<SharedBlock>[] current, int sizeClass, int capacity) {
        @SuppressWarnings("unchecked")
        var reference = (WeakReference<SharedBlock>) CURRENT_ELEMENT.getAcquire(current, sizeClass);
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
        if (carved == SLOTS) {
            // Filled: this stripe's buffers of this size are not being freed as fast as made.
            NEXT_UNSHARED_RUN[stripe][sizeClass(slotSize)] = FIRST_UNSHARED_RUN;
        }
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
            int sizeClass = sizeClass(slotSize);
            int run = NEXT_UNSHARED_RUN[stripe][sizeClass];
            UNSHARED_LEFT[stripe][sizeClass] = run;
            NEXT_UNSHARED_RUN[stripe][sizeClass] = Math.min(2 * run, LONGEST_UNSHARED_RUN);
        }
    }
}
