package dev.directmem.demo;

import dev.directmem.DirectMemory;
import dev.directmem.DirectMemoryStats;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Streams several GiB of direct buffers through a small budget, then runs the same stream through
 * {@link ByteBuffer#allocateDirect}. Meant to run with {@code -XX:+DisableExplicitGC
 * -XX:MaxDirectMemorySize=64m}, as {@code ./gradlew demo} does.
 */
public final class Demo {
    private static final int MIB = 1 << 20;

    public static void main(String[] args) {
        long totalMib = args.length > 0 ? Long.parseLong(args[0]) : 4096;
        List<String> flags = ManagementFactory.getRuntimeMXBean().getInputArguments();
        System.out.printf("JVM %s, flags %s%n", Runtime.version(), flags);
        System.out.printf("streaming %,d MiB of 1 MiB buffers; every reference is dropped at once%n%n", totalMib);

        System.out.println("directmem: DirectMemory.allocateDirect");
        long started = System.nanoTime();
        long corrupt = 0;
        for (long i = 1; i <= totalMib; i++) {
            ByteBuffer buffer = DirectMemory.allocateDirect(MIB);
            corrupt += buffer.getLong(MIB / 2) == 0 ? 0 : 1; // fresh memory must be zero
            buffer.putLong(0, i);
            buffer.putLong(MIB - 8, ~i);
            corrupt += buffer.getLong(0) == i && buffer.getLong(MIB - 8) == ~i ? 0 : 1;
            if (i % (totalMib / 8) == 0 || i == totalMib) {
                printProgress(i, started);
            }
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        System.out.printf("  done: %,d MiB in %.1f s (%.0f MiB/s), %d buffers with wrong contents%n%n",
                totalMib, seconds, totalMib / seconds, corrupt);
        if (corrupt > 0) {
            System.exit(1); // a wrong byte is a failure, whatever the JDK does next
        }

        System.out.println("JDK: ByteBuffer.allocateDirect, same flags, same budget");
        started = System.nanoTime();
        long i = 0;
        try {
            for (i = 1; i <= totalMib; i++) {
                ByteBuffer.allocateDirect(MIB).putLong(0, i);
            }
            System.out.printf("  the JDK got through %,d MiB as well (was explicit GC really disabled?)%n", totalMib);
        } catch (OutOfMemoryError e) {
            System.out.printf("  failed at buffer %,d of %,d after %.1f s: OutOfMemoryError: %s%n",
                    i, totalMib, (System.nanoTime() - started) / 1e9, e.getMessage());
        }
    }

    private static void printProgress(long mib, long started) {
        DirectMemoryStats s = DirectMemory.stats();
        System.out.printf("  %,7d MiB  %5.1f s  live %3d buffers, used %3d / %d MiB (peak %d), "
                        + "%d collections, %,d MiB reclaimed%n",
                mib, (System.nanoTime() - started) / 1e9, s.count(), s.memoryUsed() / MIB,
                s.maxMemory() / MIB, s.peakMemoryUsed() / MIB, s.collections(), s.reclaimedBytes() / MIB);
    }
}
