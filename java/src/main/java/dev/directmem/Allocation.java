package dev.directmem;

import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;

/**
 * The owner of one native block: the object its buffer, and every view of it, keeps alive.
 *
 * <p>Native code stores the owner in the buffer's {@code att} field, which the JDK copies into
 * every slice, duplicate and read-only view. The Cleaner watches the owner, so the memory is freed
 * only when the buffer and all its views are unreachable, and {@link #free} can tell the buffer it
 * allocated (the root) from a view.
 */
final class Allocation {
    private static final Cleaner CLEANER = Cleaner.create(runnable -> {
        Thread thread = new Thread(runnable, "directmem-cleaner");
        thread.setDaemon(true);
        thread.setPriority(Thread.MAX_PRIORITY - 2);
        return thread;
    });

    private final Release release;
    private final Cleaner.Cleanable cleanable;
    /** The buffer allocateDirect returned; written once, before the buffer is published. */
    private volatile ByteBuffer root;

    private Allocation(Release release) {
        this.release = release;
        this.cleanable = CLEANER.register(this, release);
    }

    /** A buffer of {@code capacity} bytes; {@code alignment} 0 means whatever the allocator gives. */
    static ByteBuffer allocate(int capacity, int alignment) {
        Tracking.checkConfiguration();
        String site = Tracking.siteOfNextAllocation();
        long address;
        try {
            address = alignment == 0 ? Native.allocate(capacity) : Native.allocateAligned(capacity, alignment);
        } catch (OutOfMemoryError e) {
            Events.allocationFailed(capacity, alignment, e.getMessage());
            throw Tracking.explain(e);
        }
        Release release = new Release(address, capacity, alignment, site);
        Tracking.allocated(site, capacity);
        Allocation owner;
        try {
            owner = new Allocation(release);
        } catch (Throwable t) {
            release.explicit = true;
            release.run();
            throw t;
        }
        // From here on the Cleanable owns the memory: failures release it through clean().
        try {
            ByteBuffer buffer = Native.wrap(address, capacity, owner);
            owner.root = buffer;
            return buffer;
        } catch (Throwable t) {
            owner.release.explicit = true;
            owner.cleanable.clean();
            throw t;
        }
    }

    /** The owner of a buffer directmem allocated, or of a view of one; else IllegalArgumentException. */
    static Allocation of(ByteBuffer buffer) {
        if (buffer.isDirect() && Native.attachment(buffer) instanceof Allocation owner) {
            return owner;
        }
        throw new IllegalArgumentException("directmem did not allocate this buffer: " + describe(buffer));
    }

    /** Throws if the memory was given back by {@link #free}: views would point at freed memory. */
    void checkNotFreed() {
        if (release.explicit) {
            throw new IllegalStateException("the buffer's memory was freed with DirectMemory.free");
        }
    }

    void free(ByteBuffer buffer) {
        if (buffer != root) {
            throw new IllegalArgumentException(
                    "cannot free a view (slice, duplicate or read-only buffer) of a directmem buffer: "
                            + "free the buffer DirectMemory.allocateDirect returned");
        }
        release.explicit = true;
        // Disarm before freeing, so the buffer never points at memory that is already gone.
        Native.disarm(buffer);
        cleanable.clean(); // runs the release at most once, whoever (Cleaner or caller) is first
    }

    private static String describe(ByteBuffer buffer) {
        String kind = !buffer.isDirect() ? "heap buffer" : "direct buffer";
        return kind + " " + buffer.getClass().getName() + "[cap=" + buffer.capacity() + "]";
    }

    /**
     * The cleaning action: only what the native free needs, and the allocation site's key (a
     * string) when tracking sampled it; never the buffer or its owner.
     */
    private static final class Release implements Runnable {
        private final long address;
        private final int capacity;
        private final int alignment;
        private final String site;
        volatile boolean explicit;

        Release(long address, int capacity, int alignment, String site) {
            this.address = address;
            this.capacity = capacity;
            this.alignment = alignment;
            this.site = site;
        }

        @Override
        public void run() {
            if (alignment == 0) {
                Native.free(address, capacity, !explicit);
            } else {
                Native.freeAligned(address, capacity, alignment, !explicit);
            }
            Tracking.released(site, capacity);
        }
    }
}
