package dev.directmem;

import java.lang.management.BufferPoolMXBean;

/**
 * directmem's buffer pool as JMX shows it, registered as
 * {@code java.nio:type=BufferPool,name=directmem} with the platform MBean server, beside the
 * JDK's {@code direct} and {@code mapped} pools: when directmem is first used (any call) if the
 * JVM has that server by then, else within a second of its creation (directmem never creates the
 * server). Another copy of directmem in the JVM (another class loader) registers as
 * {@code name=directmem-2}, and so on. The
 * {@link BufferPoolMXBean} attributes (Name, Count, TotalCapacity, MemoryUsed) mean what they mean
 * for those pools, except that small buffers sharing a native block count as that one block; the
 * others are the counters of {@link DirectMemoryStats}.
 *
 * <p>The attributes one {@code getAttributes} call reads (as JMX exporters and JConsole read them)
 * come from one snapshot of the counters, so they agree with each other as the fields of one
 * {@link DirectMemory#stats()} do ({@code TotalCapacity} never above {@code MemoryUsed}, for
 * one). Attributes read one at a time ({@code getAttribute}, or a proxy's getters) are each a
 * snapshot of its own, and under concurrency may be a moment apart.
 *
 * <p>Set {@code -Ddirectmem.jmx=false} to leave it unregistered.
 */
public interface DirectMemoryMXBean extends BufferPoolMXBean {
    /** The object name this bean is registered under. */
    String OBJECT_NAME = "java.nio:type=BufferPool,name=directmem";

    /**
     * The budget.
     *
     * @return the maximum memory in bytes
     */
    long getMaxMemory();

    /**
     * The highest memory used seen once the memory was allocated (a reservation the operating
     * system then refused the memory for does not count).
     *
     * @return peak memory used in bytes
     */
    long getPeakMemoryUsed();

    /**
     * Garbage collections directmem made the JVM run to reclaim memory.
     *
     * @return the number of collections
     */
    long getCollections();

    /**
     * Capacity given back by the reclaimer thread: blocks whose buffers all became unreachable,
     * and shared blocks (small buffers) it found unused, their buffers freed or unreachable. A
     * program that frees every buffer may still see some: not a leak by itself.
     *
     * @return reclaimed bytes
     */
    long getReclaimedBytes();

    /**
     * Capacity given back at once, not by the reclaimer thread: by {@link DirectMemory#free},
     * and by an allocation that failed after its memory was reserved (the memory goes back as
     * the error is thrown). A shared block counts its whole capacity when it goes back: here if
     * that is at a {@code free} or when an allocation retires it with no buffer left, else in
     * {@link #getReclaimedBytes()}.
     *
     * @return freed bytes
     */
    long getFreedBytes();

    /**
     * Allocations the budget or the operating system refused (each threw
     * {@code OutOfMemoryError}); an {@code OutOfMemoryError} of the Java heap during an allocation
     * does not count.
     *
     * @return the number of failed allocations
     */
    long getFailedAllocations();
}
