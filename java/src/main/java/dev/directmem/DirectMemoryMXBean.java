package dev.directmem;

import java.lang.management.BufferPoolMXBean;

/**
 * directmem's buffer pool as JMX shows it, registered as
 * {@code java.nio:type=BufferPool,name=directmem} with the platform MBean server, beside the
 * JDK's {@code direct} and {@code mapped} pools: when directmem is first used if the JVM has that
 * server by then, else within a second of its creation (directmem never creates it). The
 * {@link BufferPoolMXBean} attributes (Name, Count, TotalCapacity, MemoryUsed) mean what they mean
 * for those pools, except that small buffers sharing a native block count as that one block; the
 * others are the counters of {@link DirectMemoryStats}.
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
     * The highest memory used seen.
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
     * Capacity given back by the reclaimer thread after buffers became unreachable.
     *
     * @return reclaimed bytes
     */
    long getReclaimedBytes();

    /**
     * Capacity given back by {@link DirectMemory#free}.
     *
     * @return freed bytes
     */
    long getFreedBytes();

    /**
     * Allocations that threw {@code OutOfMemoryError}.
     *
     * @return the number of failed allocations
     */
    long getFailedAllocations();
}
