package dev.directmem;

/**
 * Live memory allocated from one place in the code, from {@link DirectMemory#topAllocationSites}.
 *
 * <p>Only tracked allocations count: all of them with {@code -Ddirectmem.tracking=all}, about
 * one in {@code -Ddirectmem.tracking.interval} (default 128) with {@code sampled}.
 *
 * @param site the first caller outside directmem, as {@code class.method(File.java:line)}
 * @param liveBytes the capacity of the tracked buffers from this site that are not yet freed
 * @param liveBuffers how many such buffers there are
 */
public record AllocationSite(String site, long liveBytes, long liveBuffers) {}
