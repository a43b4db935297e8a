package example.consumer;

import dev.directmem.DirectMemory;
import dev.directmem.DirectMemoryMXBean;
import dev.directmem.DirectMemoryStats;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.List;
import javax.management.MBeanServer;
import javax.management.ObjectName;

/**
 * Streams 512 MiB of 1 MiB buffers through a 32 MiB budget under -XX:+DisableExplicitGC, with a
 * page-aligned buffer held throughout, and checks what a JDK-only program could not do.
 */
public final class Consumer {
    private Consumer() {}

    public static void main(String[] args) throws Exception {
        List<String> flags = ManagementFactory.getRuntimeMXBean().getInputArguments();
        check(flags.contains("-XX:+DisableExplicitGC"), "runs under -XX:+DisableExplicitGC: " + flags);
        // As in an application that uses JMX: its MBean server exists before directmem's first use,
        // which then registers its bean at once (without one, directmem does not create one).
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();

        ByteBuffer aligned = DirectMemory.allocateDirectAligned(64 * 1024, 4096);
        check(aligned.alignmentOffset(0, 4096) == 0, "page-aligned");

        int mib = 1 << 20;
        long checksum = 0;
        for (int i = 0; i < 512; i++) {
            ByteBuffer buffer = DirectMemory.allocateDirect(mib);
            buffer.putInt(mib - 4, i);
            checksum += buffer.getInt(mib - 4);
        }
        check(checksum == 511L * 512 / 2, "every buffer kept its contents");
        DirectMemory.free(aligned);

        DirectMemoryStats stats = DirectMemory.stats();
        check(stats.maxMemory() == 32L * mib, "budget from -Ddirectmem.maxMemory: " + stats);
        check(stats.collections() > 0 && stats.failedAllocations() == 0, "reclaimed, never failed: " + stats);

        Object poolName = server.getAttribute(new ObjectName(DirectMemoryMXBean.OBJECT_NAME), "Name");
        check("directmem".equals(poolName), "the BufferPool MBean is registered");

        System.out.printf("consumer: 512 MiB through a 32 MiB budget in module %s: %d collections, "
                        + "%d MiB reclaimed, peak %d MiB%n",
                DirectMemory.class.getModule().getName(), stats.collections(),
                stats.reclaimedBytes() / mib, stats.peakMemoryUsed() / mib);
    }

    private static void check(boolean condition, String what) {
        if (!condition) {
            throw new IllegalStateException("consumer check failed: " + what);
        }
    }
}
