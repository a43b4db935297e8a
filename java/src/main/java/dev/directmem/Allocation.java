package dev.directmem;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.PhantomReference;
import java.lang.ref.Reference;
import java.lang.ref.ReferenceQueue;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The owner of one native block: the object its buffer, and every view of it, keeps alive.
 *
 * <p>Native code stores the owner in the buffer's {@code att} field, which the JDK copies into
 * every slice, duplicate and read-only view. A {@link Release} (a phantom reference to the owner)
 * frees the memory once the buffer and all its views are unreachable, and {@link #free} can tell
 * the buffer it allocated (the root) from a view.
 *
 * <p>Why not {@code java.lang.ref.Cleaner}: measured, its per-buffer registration (one list under
 * one lock), its one free per native call and its thread's lag cost more than the allocation itself.
 * Here releases are kept reachable in striped lists, and the reclaimer thread frees whatever the
 * collector found in batches of up to {@value #BATCH}, one native call per batch.
 *
 * <p>Small buffers usually share an owner and its block: see {@link SharedBlock}.
 */
sealed class Allocation permits SharedBlock {
    /**
     * Buffers are made by duplicating this empty buffer, then pointing the copy at new memory.
     * The setup first: it loads the library, and this class may be used before the public API
     * (by tests; the setup itself initializes it on its thread).
     */
    private static final ByteBuffer TEMPLATE = templateAfterSetup();
    /**
     * The number of the last collection begun, which each block is stamped with, read after its
     * allocation: only garbage allocated before a collection began counts as that collection's
     * find (Reclaimer::freed_by_reclaimer in rust/src/reclaim.rs).
     */
    private static final ByteBuffer COLLECTIONS_BEGUN =
            Native.collectionsBegun().asReadOnlyBuffer().order(ByteOrder.nativeOrder());
    static final BufferAccess ACCESS = BufferAccess.INSTANCE;
    private static final ReferenceQueue<Allocation> QUEUE = new ReferenceQueue<>();
    private static final Registry REGISTRY = new Registry();
    static final int BATCH = 256;
    /** The classes of every direct ByteBuffer (no other class can extend ByteBuffer). */
    private static final Class<?> DIRECT = TEMPLATE.getClass();
    private static final Class<?> DIRECT_READ_ONLY = TEMPLATE.asReadOnlyBuffer().getClass();

    /** Frees the memory of owners the collector found unreachable: see {@link #reclaimForever}. */
    private static final Thread RECLAIMER;
    /** Runs the user code the reclaimer must not: see {@link #reportForever}. */
    private static final Thread REPORTER;

    static {
        // Initialized and linked before any allocation: under a full Java heap, a class that
        // failed to initialize would fail every allocation and free after.
        VirtualThreads.current();
        linkFree();
        RECLAIMER = new Thread(Allocation::reclaimForever, "directmem-reclaimer");
        RECLAIMER.setDaemon(true);
        REPORTER = new Thread(Allocation::reportForever, "directmem-reporter");
        REPORTER.setDaemon(true);
        // directmem's own loader, whichever thread initialized this class: a first caller's (a
        // web application's) would be kept from unloading for the life of the JVM.
        RECLAIMER.setContextClassLoader(Allocation.class.getClassLoader());
        REPORTER.setContextClassLoader(Allocation.class.getClassLoader());
        // Nor its priority: a low one would slow reclamation for the life of the JVM.
        RECLAIMER.setPriority(Thread.NORM_PRIORITY);
        REPORTER.setPriority(Thread.NORM_PRIORITY);
        RECLAIMER.start();
        REPORTER.start();
    }

    /**
     * Runs the calls of a free once, on a copy of the template, freeing nothing, so that a
     * program's first free does not link them: linking a native method or a method handle's call
     * site allocates, and with the Java heap full the first free threw OutOfMemoryError there.
     * Best effort: a free whose linking still fails undoes its claim (see {@link #freeBlock}).
     */
    private static void linkFree() {
        ByteBuffer scratch = TEMPLATE.duplicate();
        try {
            ACCESS.attachment(scratch);
            ACCESS.disarm(scratch, null);
            ACCESS.disarmAndFree(scratch, 0, 0, 1); // refused: a null address (IllegalArgumentException)
        } catch (Throwable refusedOrNotLinked) {
            // linked, or left for the first free to link
        }
    }

    private static ByteBuffer templateAfterSetup() {
        Native.setupInClassInitializer();
        return Native.emptyBuffer();
    }

    /** The buffer pointing at the whole block: the one allocateDirect returned, if not shared. */
    final ByteBuffer root;
    final Release release;

    /** An owner for a block of {@code capacity} bytes, registered for release; {@link #arm} allocates. */
    Allocation(int capacity, int alignment, String site) {
        this.root = TEMPLATE.duplicate();
        this.release = new Release(this, capacity, alignment, site);
        // Before any memory exists: whatever fails once it does (a StackOverflowError at the
        // bottom of a deep stack), this owner dies, the collector queues its release, and the
        // reclaimer frees the memory it records (none, if none was allocated).
        REGISTRY.add(release);
    }

    /** A buffer of {@code capacity} bytes; {@code alignment} 0 means whatever the allocator gives. */
    static ByteBuffer allocate(int capacity, int alignment) {
        Tracking.checkConfiguration();
        String site = Tracking.siteOfNextAllocation();
        // A tracked allocation keeps an owner of its own, so that its site's figures stay exact.
        if (site == null && alignment == 0 && SharedBlock.takes(capacity)) {
            ByteBuffer shared = SharedBlock.allocate(capacity);
            if (shared != null) {
                return shared;
            }
            // A new shared block does not fit the budget now: allocate just this buffer, which
            // reclaims if it must (the block might never fit where the buffer does).
        }
        Allocation owner = new Allocation(capacity, Math.max(alignment, 1), site);
        owner.arm(true);
        return owner.root;
    }

    /**
     * Allocates the block and points the root at it (limit included). When the budget is full:
     * with {@code reclaim}, reclaims and, failing that, throws OutOfMemoryError; without, returns
     * false, and nothing was allocated. Whatever throws once the memory is reserved (a full Java
     * heap or a stack overflow in the field setters, the site's figures or the limit) gives the
     * memory back before it goes on: left to the collector, it stayed reserved until a collection,
     * which under {@code -XX:+DisableExplicitGC} may not come while the budget has room.
     */
    final boolean arm(boolean reclaim) {
        Release r = release;
        // Before the try: a full Java heap here is the caller's error, not the budget's.
        long[] waiting = reclaim && VirtualThreads.current() ? new long[Native.WAITING_LONGS] : null;
        long address;
        try {
            Error planted = plantedArmingFailure;
            if (planted != null && plantedOn != Thread.currentThread()) {
                planted = null; // another thread's: a test's hook fires on its own thread only
            }
            if (planted != null && !plantedAfterReservation) {
                plantedArmingFailure = null;
                throw planted;
            }
            // Sets the root's address, capacity and att (this owner), and r.address.
            address = waiting != null
                    ? allocateInSteps(r, waiting)
                    : ACCESS.allocate(root, r, this, reclaim, null);
            if (planted != null && address != 0) {
                plantedArmingFailure = null;
                throw planted;
            }
            if (address == 0) {
                return false; // the release, registered, goes with the owner; the reclaimer passes it over
            }
            r.stamp = (int) COLLECTIONS_BEGUN.getLong(0); // its low 32 bits: the native side's too
            if (r.site != null) {
                Tracking.allocated(r.site, r.capacity);
                r.tracked = true; // set once the site counts it: a field write, no call in between
            }
            root.limit(r.capacity);
        } catch (RuntimeException | Error e) {
            if (r.address != 0) {
                freeAfterFailedArming(e); // the memory was reserved: the error is the caller's
                throw e;
            }
            // Nothing reserved. The release stays registered and goes with the owner; the
            // reclaimer un-counts a current shared block.
            if (e instanceof OutOfMemoryError refused && isRefusal(refused)) {
                try {
                    Events.allocationFailed(r.capacity, r.alignment == 1 ? 0 : r.alignment, e.getMessage());
                } catch (RuntimeException | Error reporting) {
                    withSuppressed(e, reporting); // the budget's error is the one the caller needs
                }
                throw Tracking.explain(refused);
            }
            throw e;
        }
        // Reachable until armed: the collector finds this owner unreachable only after the
        // address is recorded, so the reclaimer reads the address it frees.
        Reference.reachabilityFence(this);
        return true;
    }

    /**
     * The start of the native library's message when the operating system refuses memory
     * (Pool::allocate_reserved in rust/src/pool.rs).
     */
    private static final String OS_REFUSAL = "the operating system refused ";

    /**
     * Whether {@code e}, thrown before any memory was reserved, is the budget's or the operating
     * system's refusal, rather than a full Java heap (linking a method, a JNI frame): only a
     * refusal is an AllocationFailure event.
     */
    private static boolean isRefusal(OutOfMemoryError e) {
        return e instanceof BudgetExhaustedError || String.valueOf(e.getMessage()).startsWith(OS_REFUSAL);
    }

    /**
     * Gives back the memory of an arming that threw once it was reserved, best effort: a free
     * that throws too leaves it to the collector, as before (its claim undone: see
     * {@link #freeBlock}). A shared block is un-counted first: once freed here its release is
     * unregistered, and the reclaimer, which would un-count it, never sees it. What the free
     * throws is added to {@code e}, suppressed.
     */
    final void freeAfterFailedArming(Throwable e) {
        try {
            SharedBlock.noLongerCurrent(release);
            freeBlock();
        } catch (RuntimeException | Error freeing) {
            withSuppressed(e, freeing);
        }
    }

    /**
     * Test hook: what the next arming throws, before its native call or, with
     * {@link #plantedAfterReservation}, once its memory is reserved, on {@link #plantedOn} only.
     * Plain fields, one read per arming while unset: a test sets them on the thread that then
     * allocates, and clears them after it ({@link #clearFailuresForTesting}).
     */
    private static Error plantedArmingFailure;
    private static boolean plantedAfterReservation;
    private static Thread plantedOn;

    /**
     * Test hook: the next allocation that arms a block (not one that takes a slot of a current
     * shared block) throws {@code error}: before its native call (as a full Java heap
     * while linking it could), or once its memory is reserved if {@code afterReservation}.
     */
    static void failNextArmingForTesting(Error error, boolean afterReservation) {
        plantedAfterReservation = afterReservation;
        plantedOn = Thread.currentThread();
        plantedArmingFailure = error;
    }

    /**
     * Test hook: no planted failure, of an arming or a carve, is left to fire: one that a failing
     * test never reached would fail the next test, or a thread a timed-out test left running.
     */
    static void clearFailuresForTesting() {
        plantedArmingFailure = null;
        plantedOn = null;
        SharedBlock.clearCarveFailureForTesting();
    }

    /**
     * Allocates on a virtual thread, reclaiming, in native steps, and parks in between (see
     * {@link VirtualThreads}). Nothing in here but the native steps throws OutOfMemoryError: that
     * error is the budget's, and it carries, suppressed, the last error that kept a park from
     * running (a full Java heap).
     */
    private long allocateInSteps(Release r, long[] waiting) {
        OutOfMemoryError waitFailed = null;
        VirtualThreads.yieldToWaiting(); // memory just freed goes to those who waited for it first
        while (true) {
            long address;
            try {
                address = ACCESS.allocate(root, r, this, true, waiting);
            } catch (OutOfMemoryError budget) {
                throw withSuppressed(budget, waitFailed);
            }
            if (address != 0) {
                return address;
            }
            long nanos = waiting[Native.PARK_NANOS];
            try {
                VirtualThreads.parkUntilFreed(nanos);
            } catch (OutOfMemoryError e) {
                waitFailed = e;
                pause(nanos); // the same pause, with nothing to wake it early
            }
        }
    }

    /** {@code e}, with {@code suppressed} added if there is one; never throws. */
    static <T extends Throwable> T withSuppressed(T e, Throwable suppressed) {
        if (suppressed != null && suppressed != e) { // a full heap throws one shared instance
            try {
                e.addSuppressed(suppressed);
            } catch (Throwable heapFull) {
                // the error itself is the one the caller needs
            }
        }
        return e;
    }

    /** Parks for {@code nanos} even if interrupted, keeping the interrupt for the caller. */
    private static void pause(long nanos) {
        boolean interrupted = Thread.interrupted();
        LockSupport.parkNanos(nanos);
        if (interrupted || Thread.interrupted()) {
            Thread.currentThread().interrupt();
        }
    }

    /** The owner of a buffer directmem allocated, or of a view of one; else IllegalArgumentException. */
    static Allocation of(ByteBuffer buffer) {
        Class<?> type = buffer.getClass();
        if ((type == DIRECT || type == DIRECT_READ_ONLY) && ACCESS.attachment(buffer) instanceof Allocation owner) {
            return owner;
        }
        throw DirectMemory.notAllocatedByDirectmem(buffer);
    }

    /**
     * Throws if {@code buffer}'s memory (the buffer is this owner's, or a view) was given back
     * by {@link #free}: views would point at freed memory.
     */
    void checkNotFreed(ByteBuffer buffer) {
        if (release.isClaimed()) {
            throw freed();
        }
    }

    /**
     * {@link DirectMemory#fill}, for a buffer whose owner this is. A free racing it either waits
     * for it or makes it throw: it never writes memory that was given back. Under this owner's
     * lock, which {@link #freeBlock} claims under, as a shared block's fill does: a lock
     * and not a count of fills under way, because HotSpot lets go of a lock whenever the frame
     * that holds it unwinds. A count taken back in a {@code finally} was left raised when a
     * StackOverflowError struck that {@code finally} too (a compiled handler never run before
     * runs deoptimized, in larger frames), and the free then waited for good (JDK 25, seen in the
     * test that fills at each depth near the bottom of the stack).
     */
    void fill(ByteBuffer buffer, byte value) {
        checkNotFreed(buffer); // freed before the call: no lock taken
        synchronized (this) {
            if (release.isClaimed()) {
                throw freed(); // freed since the look above
            }
            fillRange(buffer, value);
        }
    }

    /** Zeros that a zero fill copies in, and that a reused shared slot is cleared from. */
    static final byte[] ZEROS = new byte[SharedBlock.MAX_CAPACITY];
    /**
     * The longest zero fill done in Java. Measured on JDK 17 (plain loop, one warm buffer): a zero
     * fill took 20 ns at 16 bytes, 49 ns at 4 KiB, 138 ns at 16 KiB and 1.21 us at 64 KiB, the
     * native fill 70 ns, 94 ns, 152 ns and 1.33 us (a JNI call, and two calls back into the VM for
     * the buffer's address and capacity); at 256 KiB both took about 5 us, and from there the
     * native fill chooses its stores by how warm the memory is.
     */
    static final int LONGEST_ZERO_FILL_IN_JAVA = 64 << 10;

    /** Sets every byte between {@code buffer}'s position and limit; the caller holds its owner's lock. */
    static void fillRange(ByteBuffer buffer, byte value) {
        int position = buffer.position();
        int length = buffer.remaining();
        if (value == 0 && length <= LONGEST_ZERO_FILL_IN_JAVA) {
            try {
                for (int done = 0; done < length; done += ZEROS.length) {
                    buffer.put(position + done, ZEROS, 0, Math.min(ZEROS.length, length - done));
                }
                return;
            } catch (IndexOutOfBoundsException limitLowered) {
                // Another thread lowered the limit meanwhile (a data race): the range read above
                // is filled natively, against the capacity, as every fill was before.
            }
        }
        Native.fill(buffer, position, length, value);
    }

    static IllegalStateException freed() {
        return new IllegalStateException("the buffer's memory was freed with DirectMemory.free");
    }

    /** {@link DirectMemory#free}, for a buffer whose owner this is. */
    void free(ByteBuffer buffer) {
        if (buffer != root) {
            if (release.isClaimed() && buffer.capacity() == 0) {
                // A view made after the free: empty, like the buffer (as for shared blocks). An
                // empty view made before it (a slice at the limit) passes too, where a shared
                // block's throws: only its address (not 0) tells it apart, which Java cannot read
                // when fields are set through JNI, and it holds nothing to free either way.
                return;
            }
            throw cannotFreeView();
        }
        freeBlock();
    }

    static IllegalArgumentException cannotFreeView() {
        return new IllegalArgumentException(
                "cannot free a view (slice, duplicate or read-only buffer) of a directmem buffer: "
                        + "free the buffer that DirectMemory.allocateDirect or allocateDirectAligned returned");
    }

    static IllegalStateException addressReadsZero() {
        return new IllegalStateException("the buffer's memory address reads 0 on this thread: the buffer"
                + " reached it without a happens-before edge from the allocating thread (a data race);"
                + " hand buffers over through a lock, a volatile field or a concurrent collection");
    }

    /** Gives the block back now, unless it was already. */
    final void freeBlock() {
        Release r = release;
        // Claimed under the lock, so that a free that loses the claim to another thread's returns
        // only once that one has disarmed the buffer: returning at once, it left the buffer
        // readable on its thread while the other freed the memory. The lock also waits for a
        // fill that found the release unclaimed: see fill.
        synchronized (this) {
            if (r.address == 0) {
                // Before the claim, so that nothing changes: the native free would refuse a null
                // address, and the claim would keep every later free from trying again.
                throw addressReadsZero();
            }
            if (!r.claim()) {
                // Freed already. If by a free that threw once the memory was back, ends what it
                // left: the owner is reachable, so no reclaimer holds the claim, and under the
                // lock no other free is under way. Else nothing (waking parked threads again
                // would only make them yield to no memory).
                if (!r.bookkept) {
                    afterFree(r);
                }
                return;
            }
            // Freed before it is unregistered, so that the errors a call can throw before it does
            // anything lose nothing: a StackOverflowError (any call at the bottom of a deep
            // stack), an OutOfMemoryError (linking a method with the Java heap full) or a
            // RuntimeException (the native free's refusal: an Err there means nothing was freed,
            // see Pool::free) undoes the claim, still under the lock, and a later free or the
            // reclaimer frees the block. Nothing else is undone: an exception delivered to this
            // thread from outside (Thread.stop's ThreadDeath, an Error) can arrive just after the
            // native free, which a retry would repeat.
            try {
                // Disarms the root first, so that it never points at memory that is already gone;
                // limit(0) also takes position and mark to 0 and -1.
                root.limit(0);
                ACCESS.disarmAndFree(root, r.address, r.capacity, r.alignment);
            } catch (StackOverflowError | OutOfMemoryError | RuntimeException e) {
                r.claimed = false; // a field write, where a call could overflow the stack again
                // Reachable until the claim is undone: an owner found unreachable before could
                // have its release dequeued, seen claimed and dropped by the reclaimer, then
                // never freed.
                Reference.reachabilityFence(this);
                throw e;
            }
            // Still under the lock (which keeps the owner reachable): what fails from here on
            // leaves the rest to a later free of the buffer, or to the reclaimer.
            afterFree(r);
        }
    }

    /**
     * The bookkeeping of a free once the memory is back, which a free that threw partway leaves
     * to a later free or to the reclaimer; each step can run again. Waiting virtual threads
     * first, which then take the memory at once rather than after their pause. Unregistered, the
     * release dies with the owner and is never enqueued (unless the free threw before this ended
     * and the owner died: the reclaimer then ends it): no clear() needed (a native call on JDK
     * 16+, 2% of the explicit path measured).
     */
    private static void afterFree(Release r) {
        VirtualThreads.freed();
        untrack(r);
        REGISTRY.remove(r);
        r.bookkept = true;
    }

    /**
     * Takes a freed allocation out of its site's figures, once. Before: a free that threw once its
     * memory was back left the site counting its buffer for good (a later free returned at once,
     * claimed), and the reclaimer un-counted an allocation whose counting had thrown.
     */
    static void untrack(Release r) {
        if (r.tracked) {
            Tracking.released(r.site, r.capacity);
            r.tracked = false;
        }
    }

    /**
     * The reclaimer thread: frees the memory of owners the collector found unreachable. It alone
     * frees unreachable buffers, so it outlives anything thrown at it, a Java heap
     * OutOfMemoryError included, and runs no user code: a JMX listener or an uncaught-exception
     * handler that blocked here (on a lock an allocating thread holds) once stopped reclamation,
     * and allocating threads threw with the budget full of garbage. {@link #reportForever} runs
     * that code instead.
     */
    private static void reclaimForever() {
        try {
            Native.reclaimerStarting(); // nothing, unless a test set a hook
        } catch (Throwable t) {
            report(t);
        }
        linkFreeBatch();
        while (true) {
            try {
                turn(0);
            } catch (Throwable t) {
                report(t);
            }
        }
    }

    /**
     * Links {@link Native#freeBatch} by a call that frees nothing: linking a native method
     * allocates, and a batch whose free failed to link under a full Java heap would be lost (its
     * releases claimed and unregistered, never to be freed twice). So while the Java heap is
     * full, no batch is taken until the call linked (tried again after 10 ms, 20 ms … 1 s).
     */
    private static void linkFreeBatch() {
        long pauseMillis = 10;
        boolean reported = false;
        while (true) {
            try {
                Native.freeBatch(ADDRESSES, CAPACITIES, ALIGNMENTS, STAMPS, 0, false);
                return;
            } catch (OutOfMemoryError | StackOverflowError e) {
                if (!reported) {
                    report(e);
                    reported = true;
                }
                Thread.interrupted(); // a stray interrupt would end every park at once: a spin
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(pauseMillis));
                pauseMillis = Math.min(1000, 2 * pauseMillis); // each try allocates: a collection
            } catch (Throwable t) {
                report(t); // no passing condition: retrying would not help
                return;
            }
        }
    }

    /**
     * The reporter thread: hands the reclaimer's failures to the reclaimer's uncaught-exception
     * handler (by default: a stack trace on stderr), and, while the MBean waits for an MBean
     * server, looks for one once a second (registering it runs JMX listeners). Both are user code,
     * which may allocate, block or throw: nothing here stops the reclaimer.
     */
    private static void reportForever() {
        while (true) {
            try {
                // directmem's own thread: an interrupt (user code that restored one it caught)
                // would make every park below return at once, and the loop spin.
                Thread.interrupted();
                reportFailures();
                Events.learnCollector();
                // After the first caller's own attempt, which runs listeners on its thread.
                if (Native.registrationTried() && registrationPending()) {
                    Monitoring.register();
                }
                if (registrationPending()) {
                    LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(1));
                } else {
                    LockSupport.park(); // until report() has a failure
                }
            } catch (Throwable t) {
                // A full Java heap, or a handler that threw: the next round tries again, after a
                // pause (a failure that lasts must not make this loop spin).
                LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(1));
            }
        }
    }

    /**
     * Whether this runtime has {@code java.management}: a slim one (jlink, {@code --limit-modules})
     * may leave it out, and on the class path Monitoring then cannot load.
     */
    private static final boolean MANAGEMENT_PRESENT =
            ModuleLayer.boot().findModule("java.management").isPresent();

    /** Whether the reporter thread has said that there is no MBean in this runtime. */
    private static boolean saidNoManagement;

    /**
     * Whether the MBean still waits for an MBean server; never without {@code java.management},
     * which the reporter thread logs once, at debug level (before: Monitoring failed to load,
     * and the thread woke once a second to fail again, saying nothing).
     */
    private static boolean registrationPending() {
        if (MANAGEMENT_PRESENT) {
            return Monitoring.pending();
        }
        if (!saidNoManagement) {
            saidNoManagement = true;
            System.getLogger("dev.directmem").log(System.Logger.Level.DEBUG,
                    "no java.management in this runtime: the directmem MBean is not registered");
        }
        return false;
    }

    /**
     * The reclaimer thread's batch: releases it claimed, and what the native free needs of them.
     * Only that thread touches them.
     */
    private static final Release[] CLAIMED = new Release[BATCH];
    private static final long[] ADDRESSES = new long[BATCH];
    private static final int[] CAPACITIES = new int[BATCH];
    private static final int[] ALIGNMENTS = new int[BATCH];
    private static final int[] STAMPS = new int[BATCH];

    /**
     * One turn of the reclaimer thread: waits up to {@code timeoutMillis} (0: for ever) for
     * releases, and frees up to a batch of them.
     */
    private static void turn(long timeoutMillis) {
        Release[] claimed = CLAIMED;
        int n;
        try {
            n = claimQueued(claimed, timeoutMillis);
        } catch (InterruptedException e) {
            return; // only a stray interrupt: this thread is directmem's own
        }
        // A claimed release is freed here or never: nothing that can fail comes before the
        // free, and the bookkeeping (which can) has it in a finally.
        for (int i = 0; i < n; i++) {
            ADDRESSES[i] = claimed[i].address;
            CAPACITIES[i] = claimed[i].capacity;
            ALIGNMENTS[i] = claimed[i].alignment;
            STAMPS[i] = claimed[i].stamp;
        }
        try {
            // Before the free, which wakes threads waiting for memory: they then find the
            // current shared blocks and the allocation sites counted as the ledger is.
            for (int i = 0; i < n; i++) {
                Release r = claimed[i];
                claimed[i] = null;
                try {
                    SharedBlock.noLongerCurrent(r);
                    untrack(r);
                } catch (RuntimeException | Error e) {
                    report(e);
                }
            }
        } finally {
            try {
                // More queued: threads waiting for memory should wait for those frees too.
                boolean more = polledAhead != null;
                // Nothing to free and nothing new to say (a timeout, or releases freed
                // already): no call, which would count as memory coming back.
                if (n > 0 || more != reportedMore) {
                    Native.freeBatch(ADDRESSES, CAPACITIES, ALIGNMENTS, STAMPS, n, more);
                    reportedMore = more;
                    VirtualThreads.freed();
                }
            } catch (RuntimeException | Error e) {
                report(e);
            }
        }
    }

    /**
     * The release the reclaimer thread polled past a full batch, to learn whether more were
     * queued: the first of its next batch. Only that thread touches it.
     */
    private static Release polledAhead;
    /** What the reclaimer thread last told the native side about more releases queued. */
    private static boolean reportedMore;

    /**
     * Waits up to {@code timeoutMillis} (0: for ever) for the collector to queue releases, then
     * claims and unregisters up to a batch of them, without allocating (but for the site figures
     * of a free that threw): returns how many {@code claimed} holds.
     */
    private static int claimQueued(Release[] claimed, long timeoutMillis) throws InterruptedException {
        int n = 0;
        // Polled and not yet handled; kept for the next turn if this one must stop early.
        Release pending = polledAhead != null ? polledAhead : (Release) QUEUE.remove(timeoutMillis);
        polledAhead = null;
        try {
            while (pending != null && n < BATCH) {
                if (pending.claim()) {
                    claimed[n++] = pending;
                } else {
                    // Freed by a free that threw before it unregistered it (afterFree), and no
                    // later free ended that: ends it. Its site figures only if the site table
                    // takes them now: retried, a full Java heap would hold up every release
                    // queued behind this one.
                    REGISTRY.remove(pending);
                    try {
                        untrack(pending);
                    } catch (RuntimeException | Error e) {
                        report(e);
                    }
                }
                pending = null;
                pending = (Release) QUEUE.poll();
            }
        } catch (Throwable t) {
            // Only polled (dequeued) here, a release lost now would never be queued again: the
            // ones claimed are freed this turn, the one that threw is tried again next turn.
            report(t);
        }
        polledAhead = pending;
        // Unregistered together: one lock per stripe and batch rather than one per release, which
        // measured as contention with the allocating threads adding to the same stripe.
        REGISTRY.removeAll(claimed, n);
        // An owner can die before its memory was allocated (an allocation refused, or failed
        // before the native call): its release, registered at construction, has nothing to free.
        int armed = 0;
        for (int i = 0; i < n; i++) {
            Release release = claimed[i];
            claimed[i] = null;
            if (release.address != 0) {
                claimed[armed++] = release;
            } else {
                // A shared block whose arming threw was counted as current: un-count it.
                SharedBlock.noLongerCurrent(release);
            }
        }
        return armed;
    }

    /** Guards {@link #unreported}. */
    private static final Object FAILURES = new Object();
    /** The reclaimer thread's failure not yet reported, later ones suppressed in it. */
    private static Throwable unreported;

    /**
     * Keeps a failure of the reclaimer thread for the reporter thread, which hands it to the
     * handler: user code, which may allocate or block. Never throws.
     */
    private static void report(Throwable e) {
        synchronized (FAILURES) {
            if (unreported == null) {
                unreported = e;
            } else {
                withSuppressed(unreported, e); // the first failure is the one reported
            }
        }
        LockSupport.unpark(REPORTER);
    }

    /**
     * Hands the failure {@link #report} kept to the reclaimer thread's uncaught-exception handler
     * (by default: a stack trace on stderr), as that thread's; the reclaimer goes on. Never
     * throws: a handler that fails (out of heap itself) must not end the reporter.
     */
    private static void reportFailures() {
        Throwable e;
        synchronized (FAILURES) {
            e = unreported;
            unreported = null;
        }
        if (e == null) {
            return;
        }
        try {
            RECLAIMER.getUncaughtExceptionHandler().uncaughtException(RECLAIMER, e);
        } catch (Throwable lost) {
            // nothing left to report it with
        }
    }

    /**
     * What frees one block: only what the native free needs, and the allocation site's key (a
     * string) when tracking sampled it; never the buffer. Reachable from the registry until freed,
     * by whoever claims it: {@link #free} or the reclaimer thread. A free whose disarm or native
     * call threw StackOverflowError, OutOfMemoryError or a RuntimeException (before freeing
     * anything) undoes its claim.
     */
    static final class Release extends PhantomReference<Allocation> {
        private static final VarHandle CLAIMED;

        static {
            try {
                CLAIMED = MethodHandles.lookup().findVarHandle(Release.class, "claimed", boolean.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
            // Linked now: linking allocates, and the reclaimer's first claim may come with the
            // Java heap full.
            new Release(null, 0, 1, null).claim();
        }

        final int capacity;
        /** As given to the native allocation: a power of two, 1 when none was asked for. */
        final int alignment;
        /** The allocation site tracking sampled, or null. */
        final String site;
        /**
         * Written once, as the native allocation returns, in the frame that called it (no call
         * in between, so no StackOverflowError can come between the memory and its record); 0
         * until then, and for good if nothing was allocated. The reclaimer reads it once the
         * owner was found unreachable, which the collector can only find after {@link #arm}
         * ended. {@link Allocation#freeBlock} reads it on a thread the buffer reached after it was
         * armed: ordered by whatever handed the buffer over, as every other use of the buffer on
         * that thread is (handed over without such an order, it may read 0 there, which the free
         * refuses).
         */
        long address;
        /**
         * The number of the last collection begun (low 32 bits) once the memory was allocated:
         * written by {@link #arm} right after {@link #address}, read by the reclaimer as that is.
         */
        int stamp;
        /**
         * Whether the site's figures count this allocation: set by {@link #arm}, cleared by
         * {@link Allocation#untrack} under the owner's lock while the owner is reachable, or by
         * the reclaimer once it is not (volatile for that one: nothing else orders it). Written
         * only for tracked allocations.
         */
        volatile boolean tracked;
        /** Whether {@link Allocation#afterFree} ran to its end; guarded by the owner's lock. */
        boolean bookkept;
        /** Set through CLAIMED; cleared by a free that threw as {@link Release} says. */
        private volatile boolean claimed;
        /** A shared block's, counted among the current blocks: see {@link SharedBlock#noLongerCurrent}. */
        volatile boolean current;
        /** The registry stripe's list; guarded by that stripe. */
        Release previous;
        Release next;
        final int stripe;

        Release(Allocation owner, int capacity, int alignment, String site) {
            super(owner, QUEUE);
            this.capacity = capacity;
            this.alignment = alignment;
            this.site = site;
            this.stripe = Registry.stripeOfCurrentThread();
        }

        /** True for one caller at a time: the one that frees the memory. */
        boolean claim() {
            return CLAIMED.compareAndSet(this, false, true);
        }

        boolean isClaimed() {
            return claimed;
        }
    }

    /** Keeps releases reachable until claimed: doubly linked lists, one lock per stripe. */
    static final class Registry {
        static final int STRIPES = stripes();
        private final Release[] heads = new Release[STRIPES];
        private final Object[] locks = new Object[STRIPES];

        Registry() {
            for (int i = 0; i < STRIPES; i++) {
                locks[i] = new Object();
            }
        }

        private static int stripes() {
            int wanted = Math.min(64, 4 * Runtime.getRuntime().availableProcessors());
            return Integer.highestOneBit(Math.max(1, wanted - 1)) << 1;
        }

        static int stripeOfCurrentThread() {
            // Not identityHashCode: a Thread's monitor is often inflated, which sends that call
            // into the VM every time (JVM_IHashCode, 2% of the explicit path measured).
            long id = Thread.currentThread().getId();
            return (int) (id ^ (id >>> 16)) & (STRIPES - 1);
        }

        void add(Release r) {
            synchronized (locks[r.stripe]) {
                Release head = heads[r.stripe];
                r.next = head;
                if (head != null) {
                    head.previous = r;
                }
                heads[r.stripe] = r;
            }
        }

        void remove(Release r) {
            synchronized (locks[r.stripe]) {
                unlink(r);
            }
        }

        /** Removes {@code releases[0..n)}, taking each stripe's lock once for a run of its releases. */
        void removeAll(Release[] releases, int n) {
            int i = 0;
            while (i < n) {
                int stripe = releases[i].stripe;
                synchronized (locks[stripe]) {
                    while (i < n && releases[i].stripe == stripe) {
                        unlink(releases[i++]);
                    }
                }
            }
        }

        /** Guarded by the release's stripe lock. */
        private void unlink(Release r) {
            Release previous = r.previous;
            Release next = r.next;
            if (previous == null) {
                if (heads[r.stripe] == r) {
                    heads[r.stripe] = next;
                }
            } else {
                previous.next = next;
            }
            if (next != null) {
                next.previous = previous;
            }
            r.previous = null;
            r.next = null;
        }
    }
}
