package dev.directmem;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;
import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One native block shared by up to {@value #SLOTS} small buffers of one size: one allocation, one
 * release and one registry entry for all of them, instead of one each.
 *
 * <p>Why: on the GC path, most of a small buffer's cost is its release, a phantom reference that
 * the collector discovers and the reclaimer frees one by one; the JDK pays the same for its
 * Cleaner. Shared, that cost is paid once per block. On the explicit path, a freed buffer's slot
 * goes back to its block and the next buffer of its size takes it: allocate-and-free costs no
 * native allocation at all (see BENCHMARKS.md).
 *
 * <p>A block is {@value #SLOTS} slots of the buffers' capacity rounded up to 16 bytes, carved for
 * the threads of one registry stripe. Each stripe carves one current block per size class; when
 * it has no slot left, a new one replaces it and the old one is retired: it takes no more buffers
 * and is freed as soon as none of its buffers is left. Its memory comes back when all its
 * buffers have been freed or have become unreachable, so one long-lived buffer keeps the other 15
 * slots reserved, in the budget and in memory (a 1-byte buffer, a block of 256 bytes). A current
 * block whose buffers were all freed stays for reuse; the stripe's list holds it weakly (and a
 * freed buffer points at {@link #GIVEN_BACK}, not at it), so the next garbage collection gives it
 * back if no buffer of its size is allocated meanwhile (and a full budget makes one happen). So
 * that current blocks stay a small part of the budget, all of them together hold at most
 * {@link #CURRENT_BYTES_CAP} (past it, buffers get blocks of their own), and a small budget shares
 * only smaller buffers ({@link #largestShared}). {@code -Ddirectmem.packSmallBuffers=false} turns
 * sharing off.
 *
 * <p>Each buffer is a slice of the block's hidden root: its {@code att} is this block, which
 * therefore stays alive while the buffer or any view of it does. Every buffer starts zeroed (a
 * reused slot is cleared when handed out again) at a multiple of 16 bytes, as a block of its own
 * from malloc would.
 */
final class SharedBlock extends Allocation {
    static final int SLOTS = 16;
    /** The largest buffer that shares on a large enough budget: its block is 64 KiB. */
    static final int MAX_CAPACITY = 4096;
    private static final int SLOT_ALIGNMENT = 16;
    private static final int SIZE_CLASSES = MAX_CAPACITY / SLOT_ALIGNMENT;
    /** The largest buffer that shares in this JVM; 0 when sharing is off. */
    static final int LARGEST_SHARED =
            Native.setupInClassInitializer().packSmallBuffers() ? largestShared(Native.setupInClassInitializer().budget(), Registry.STRIPES) : 0;

    /**
     * Per registry stripe and size class, the block being carved. Held weakly: a block with no
     * reachable buffer must be collectable even if its stripe never allocates again. Read without
     * a lock (a stale entry only means a new block a little sooner), hence
     * {@link #CURRENT_ELEMENT}: a block is published with release semantics once armed.
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    private static final WeakReference<SharedBlock>[][] CURRENT =
            new WeakReference[Registry.STRIPES][SIZE_CLASSES];
    private static final VarHandle CURRENT_ELEMENT = MethodHandles.arrayElementVarHandle(WeakReference[].class);
    /**
     * Per stripe and size class, how many more buffers skip sharing after a new block was refused
     * (by the budget, the OS or {@link #CURRENT_BYTES_CAP}). Read and written without a lock: it
     * only steers a heuristic.
     */
    private static final int[][] UNSHARED_LEFT = new int[Registry.STRIPES][SIZE_CLASSES];
    /**
     * The most bytes all stripes' current blocks may hold together: a sixteenth of the budget.
     * Their free slots, and all of an idle one, are budget nobody uses.
     */
    static final long CURRENT_BYTES_CAP = Native.setupInClassInitializer().budget() / 16;
    private static final AtomicLong CURRENT_BYTES = new AtomicLong();
    /**
     * The owner of every freed shared buffer, in place of its block, so that a freed buffer the
     * program still holds does not keep the block alive. Never allocated (its release stays
     * registered, never queued).
     */
    private static final SharedBlock GIVEN_BACK = new SharedBlock(SLOT_ALIGNMENT);

    private final int slotSize;
    /** The buffers handed out and not freed, by slot; guarded by this block. */
    private final ByteBuffer[] buffers = new ByteBuffer[SLOTS];
    /** Slots handed out at least once: slots from here on were never used. */
    private int carved;
    /** Buffers handed out and not freed. */
    private int live;
    /** Bit i: slot i was given back with {@link DirectMemory#free} and may be handed out again. */
    private int reusableSlots;
    /** No longer its stripe's current block: nothing more is handed out. */
    private boolean retired;

    private SharedBlock(int slotSize) {
        super(slotSize * SLOTS, 1, null);
        this.slotSize = slotSize;
    }

    /** For tests: retires every stripe's blocks (freeing those with no buffer left) and refusals. */
    static void startOverForTesting() {
        for (int stripe = 0; stripe < Registry.STRIPES; stripe++) {
            WeakReference<SharedBlock>[] current = CURRENT[stripe];
            synchronized (current) {
                for (int sizeClass = 0; sizeClass < SIZE_CLASSES; sizeClass++) {
                    retire(current, sizeClass);
                }
                Arrays.fill(UNSHARED_LEFT[stripe], 0);
            }
        }
    }

    /** For tests: the bytes current blocks hold now. */
    static long currentBytes() {
        return CURRENT_BYTES.get();
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
     * null if it needs a new block and the budget cannot take one without reclaiming (or did not
     * just before).
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
            retire(current, sizeClass); // full: it makes way
            int slotSize = (sizeClass + 1) * SLOT_ALIGNMENT;
            int blockBytes = slotSize * SLOTS;
            if (CURRENT_BYTES.get() + blockBytes > CURRENT_BYTES_CAP) {
                return refused(unsharedLeft, sizeClass); // the usual refusal, without building a block
            }
            // Registered (constructed) before it is counted, and marked current with no call in
            // between: a block that dies unarmed (a StackOverflowError) is un-counted by the
            // reclaimer, which un-counts current blocks it finds unreachable.
            SharedBlock block = new SharedBlock(slotSize);
            if (!countCurrent(blockBytes)) {
                return refused(unsharedLeft, sizeClass);
            }
            block.release.current = true;
            if (!block.arm(false)) {
                noLongerCurrent(block.release);
                // Reachable until un-counted: the reclaimer un-counts blocks it found unreachable.
                Reference.reachabilityFence(block);
                return refused(unsharedLeft, sizeClass);
            }
            try {
                WeakReference<SharedBlock> published = new WeakReference<>(block);
                buffer = block.carve(capacity);
                CURRENT_ELEMENT.setRelease(current, sizeClass, published);
            } catch (RuntimeException | Error e) {
                // A full Java heap or a stack overflow: the block, unpublished, would hold its
                // memory until a collection; no buffer of it reached the caller.
                block.freeAfterFailedArming(e);
                throw e;
            }
            return buffer;
        }
    }

    /**
     * This buffer and the next 15 of its size go straight to a block of their own (which
     * reclaims if the budget is full), rather than each building a block refused too.
     */
    private static ByteBuffer refused(int[] unsharedLeft, int sizeClass) {
        unsharedLeft[sizeClass] = SLOTS - 1;
        return null;
    }

    /** Counts a new current block of {@code capacity} bytes, unless the cap leaves no room for it. */
    private static boolean countCurrent(int capacity) {
        long bytes;
        do {
            bytes = CURRENT_BYTES.get();
            if (bytes + capacity > CURRENT_BYTES_CAP) {
                return false;
            }
        } while (!CURRENT_BYTES.compareAndSet(bytes, bytes + capacity));
        return true;
    }

    /**
     * Un-counts a block that is no longer current: retired (under its lock), or collected while
     * current (by the reclaimer thread, when nothing else can reach it), never both.
     */
    static void noLongerCurrent(Release release) {
        if (release.current) {
            // Un-counted before the flag is cleared, with no call after: a StackOverflowError in
            // the call leaves the block counted and flagged, for its last free or the reclaimer
            // to un-count later (cleared first, an overflow there left its bytes counted for good).
            CURRENT_BYTES.addAndGet(-release.capacity);
            release.current = false;
        }
    }

    private static int sizeClass(int capacity) {
        return (capacity - 1) / SLOT_ALIGNMENT;
    }

    private static SharedBlock currentBlock(WeakReference<SharedBlock>[] current, int sizeClass) {
        @SuppressWarnings("unchecked")
        var reference = (WeakReference<SharedBlock>) CURRENT_ELEMENT.getAcquire(current, sizeClass);
        return reference == null ? null : reference.get();
    }

    private static ByteBuffer carveCurrent(WeakReference<SharedBlock>[] current, int sizeClass, int capacity) {
        SharedBlock block = currentBlock(current, sizeClass);
        return block == null ? null : block.carve(capacity);
    }

    /** Retires the stripe's current block of this size, if any; the caller holds the stripe's lock. */
    private static void retire(WeakReference<SharedBlock>[] current, int sizeClass) {
        SharedBlock block = currentBlock(current, sizeClass);
        CURRENT_ELEMENT.setRelease(current, sizeClass, (WeakReference<?>) null);
        if (block != null && block.retire()) {
            block.freeBlock();
        }
    }

    /** Takes no more buffers; returns whether none is left, so that the block can go now. */
    private synchronized boolean retire() {
        if (!retired) {
            retired = true;
            noLongerCurrent(release);
        }
        return live == 0;
    }

    /**
     * A free slot as a zeroed buffer of {@code capacity} bytes, or null when none is left. The
     * slot is taken only once its buffer exists: a clearing or a slice that throws (a full Java
     * heap, a stack overflow) leaves it free, where it was lost for the block's life.
     */
    private synchronized ByteBuffer carve(int capacity) {
        if (retired) {
            return null;
        }
        boolean reused = reusableSlots != 0;
        int slot;
        if (reused) {
            slot = Integer.numberOfTrailingZeros(reusableSlots);
        } else if (carved < SLOTS) {
            slot = carved;
        } else {
            return null;
        }
        Error planted = plantedCarveFailure;
        if (planted != null && plantedCarveOn == Thread.currentThread()) {
            plantedCarveFailure = null;
            throw planted;
        }
        if (reused) {
            root.put(slot * slotSize, ZEROS, 0, capacity); // what the freed buffer wrote
        }
        ByteBuffer buffer = root.slice(slot * slotSize, capacity);
        if (reused) {
            reusableSlots &= ~(1 << slot);
        } else {
            carved++;
        }
        buffers[slot] = buffer;
        live++;
        return buffer;
    }

    /** Test hook: what the next carve throws once it picked its slot; see {@link #failNextCarveForTesting}. */
    private static Error plantedCarveFailure;
    private static Thread plantedCarveOn;

    /**
     * Test hook: the next buffer carved from a block throws {@code error} where clearing its slot
     * or slicing it could (a full Java heap, a stack overflow), on the calling thread only. A
     * plain field, one read per carve while unset: a test sets it on the thread that then
     * allocates, and clears it after it ({@link Allocation#clearFailuresForTesting}).
     */
    static void failNextCarveForTesting(Error error) {
        plantedCarveOn = Thread.currentThread();
        plantedCarveFailure = error;
    }

    static void clearCarveFailureForTesting() {
        plantedCarveFailure = null;
        plantedCarveOn = null;
    }

    /** The slot {@code buffer} was handed out as, or -1 if it is a view or was freed. */
    private int slotOf(ByteBuffer buffer) {
        for (int i = 0; i < SLOTS; i++) {
            if (buffers[i] == buffer) {
                return i;
            }
        }
        return -1;
    }

    @Override
    void checkNotFreed(ByteBuffer buffer) {
        if (this == GIVEN_BACK) {
            throw freed(); // a freed buffer, or a view made of it since
        }
        super.checkNotFreed(buffer);
    }

    /**
     * Under the block's lock, which {@link #free} takes too: a buffer still armed here keeps its
     * slot, and the block its memory, until the fill ends. A view made before its buffer was freed
     * still names this block: it writes the slot while the block stays, current or holding other
     * buffers (views of a freed buffer must not be used), and throws once the block is retired
     * with none left, as it goes.
     */
    @Override
    void fill(ByteBuffer buffer, byte value) {
        checkNotFreed(buffer); // a buffer freed before the call names GIVEN_BACK: no lock taken
        synchronized (this) {
            if (ACCESS.attachment(buffer) != this) {
                throw freed(); // freed since the caller found this block
            }
            if (retired && (live == 0 || release.isClaimed())) {
                // The block is being freed: its retirement let go of this lock before freeBlock
                // claims it under the same lock, a window this fill of a view could otherwise
                // write in while the memory goes back; its last buffer's free holds that buffer
                // on its slot until the block is freed, and after.
                throw freed();
            }
            fillRange(buffer, value);
        }
    }

    /**
     * Disarms the buffer at once and points it at {@link #GIVEN_BACK}. Its slot goes back to the
     * block, for the next buffer of its size if the block is still current, else the block itself
     * is freed once no buffer is left. The last buffer of a retired block keeps its slot and its
     * block until the block is freed: if that free throws (a stack overflow, a full Java heap),
     * a later free of the buffer reaches the block again and finishes the job, where the buffer,
     * already pointing at {@link #GIVEN_BACK}, left it to a collection.
     */
    @Override
    void free(ByteBuffer buffer) {
        if (this == GIVEN_BACK) {
            // Freed already (or a view made of a freed buffer: empty). The att read in
            // Allocation.of is plain: the fence pairs with the one in BufferAccess.disarm, so that
            // a free racing the winning one returns only with the buffer disarmed on its thread.
            VarHandle.acquireFence();
            return;
        }
        int slot;
        synchronized (this) {
            slot = slotOf(buffer);
            if (slot < 0) {
                if (ACCESS.attachment(buffer) == GIVEN_BACK) {
                    return; // freed by another thread since the caller found this block
                }
                throw cannotFreeView();
            }
            boolean last = retired && live == 1;
            if (last && release.address == 0) {
                // freeBlock's refusal, made before anything changes, as DirectMemory.free says. Not
                // known to be reachable: this lock follows the block's arming (through its first
                // carve), so the address reads as armed here.
                throw addressReadsZero();
            }
            buffer.limit(0);
            if (last) {
                // The last buffer: disarmed, but still naming this block, until the block is freed.
                ACCESS.disarm(buffer, this);
                // Counted still if an overflow struck its retirement's un-counting: the
                // reclaimer, which would un-count it, never sees a block freed here.
                noLongerCurrent(release);
            } else {
                giveBack(buffer, slot);
                if (!retired) {
                    reusableSlots |= 1 << slot;
                }
                return;
            }
        }
        freeBlock();
        synchronized (this) {
            if (buffers[slot] == buffer) { // not done by a free racing this one
                giveBack(buffer, slot);
            }
        }
    }

    /**
     * Points a disarmed buffer at {@link #GIVEN_BACK}, then takes it off its slot; under the
     * block's lock. The order lets a free that throws here be done again.
     */
    private void giveBack(ByteBuffer buffer, int slot) {
        ACCESS.disarm(buffer, GIVEN_BACK);
        buffers[slot] = null;
        live--;
    }
}
