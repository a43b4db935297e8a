package dev.directmem;

/**
 * An immutable snapshot of directmem's counters, from {@link DirectMemory#stats()}.
 *
 * <p>Each counter is exact; counters read together may be a moment apart under concurrency.
 * {@code totalCapacity}, which is {@code memoryUsed} less the allocator rounding, may read low by
 * the rounding of the blocks being allocated or freed at that moment (up to a page, or an
 * alignment's padding, each), never high.
 *
 * <p>The counters count native blocks. A buffer of up to 4 KiB usually shares its block with up to
 * 15 others of its size (see {@code -Ddirectmem.packSmallBuffers} in the README): such a block
 * counts once, with the capacity of all its slots, from its first buffer until it comes back.
 *
 * @param count live blocks: buffers, a shared block counting once (as {@code BufferPoolMXBean.getCount})
 * @param totalCapacity the sum of live blocks' capacities ({@code getTotalCapacity})
 * @param memoryUsed bytes taken from the budget: capacities plus allocator rounding, such as whole
 *     pages for large buffers ({@code getMemoryUsed})
 * @param maxMemory the budget
 * @param peakMemoryUsed the highest {@code memoryUsed} seen once the memory was allocated (a
 *     reservation the operating system then refused the memory for does not count), so a snapshot
 *     taken while an allocation to a new high is under way can show {@code memoryUsed} above it
 * @param collections garbage collections directmem made the JVM run to reclaim memory
 * @param reclaimedBytes capacity given back by the reclaimer thread: blocks whose buffers all became
 *     unreachable, and shared blocks it found unused, their buffers freed or unreachable (so a
 *     program that frees every buffer may still see some: not a leak by itself)
 * @param freedBytes capacity given back at once, not by the reclaimer thread: by
 *     {@link DirectMemory#free}, and by an allocation that failed after its memory was reserved
 *     (the memory goes back as the error is thrown); a shared block counts its whole capacity when
 *     it goes back, here if that is at a {@code free} or when an allocation retires it with no
 *     buffer left, else in {@code reclaimedBytes}
 * @param failedAllocations allocations the budget or the operating system refused (each threw
 *     {@code OutOfMemoryError}); an {@code OutOfMemoryError} of the Java heap during an
 *     allocation does not count
 */
public record DirectMemoryStats(
        long count,
        long totalCapacity,
        long memoryUsed,
        long maxMemory,
        long peakMemoryUsed,
        long collections,
        long reclaimedBytes,
        long freedBytes,
        long failedAllocations) {

    static DirectMemoryStats fromNative(long[] v) {
        // Order shared with Java_dev_directmem_Native_stats in rust/src/jvm/exports.rs.
        return new DirectMemoryStats(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]);
    }
}
