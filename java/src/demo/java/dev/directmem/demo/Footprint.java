package dev.directmem.demo;

import dev.directmem.DirectMemory;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Shows what directmem's buffers cost in resident memory: a freed buffer above 16 MiB goes back to
 * the OS the moment it is freed; freed buffers of 256 KiB to 16 MiB are kept mapped for reuse, up
 * to 64 MiB (and no more than the budget), and go back once unused for a second; a small buffer
 * takes its capacity plus the allocator's own rounding, nothing more.
 *
 * <p>Meant to run with a pre-touched, fixed-size Java heap ({@code -Xms256m -Xmx256m
 * -XX:+AlwaysPreTouch}, as {@code ./gradlew footprint} does), so that the resident set grows only
 * by native memory while it runs.
 */
public final class Footprint {
    private static final int MIB = 1 << 20;

    public static void main(String[] args) throws IOException, InterruptedException {
        System.out.printf("JVM %s; resident set (VmRSS) from /proc/self/status%n%n", Runtime.version());
        List<ByteBuffer> keep = new ArrayList<>(600_000);
        // Warm-up, not shown: the first buffers also pay for code, threads and malloc arenas.
        residentPerBuffer(50_000, 64, keep, false);
        residentPerBuffer(50_000, 64, keep, true);
        small(200_000, 64, keep);
        small(50_000, 1000, keep);
        small(20_000, 4096, keep);
        keep.clear();
        System.out.println();
        large(1, 256 * MIB);
        System.out.println();
        large(16, 16 * MIB);
    }

    /** Allocates and touches every page of {@code count} large buffers, then frees them. */
    private static void large(int count, int capacity) throws IOException, InterruptedException {
        long before = rss();
        List<ByteBuffer> buffers = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            ByteBuffer buffer = DirectMemory.allocateDirect(capacity);
            DirectMemory.fill(buffer, (byte) 1); // every page resident
            buffers.add(buffer);
        }
        long allocated = rss();
        for (ByteBuffer buffer : buffers) {
            DirectMemory.free(buffer);
        }
        long freed = rss();
        System.out.printf("%d buffers of %d MiB, every page written:%n", count, capacity / MIB);
        System.out.printf("  RSS before %,8d KiB%n", before / 1024);
        System.out.printf("  allocated  %,8d KiB  (+%,d KiB for %,d KiB of buffers)%n",
                allocated / 1024, (allocated - before) / 1024, (long) count * capacity / 1024);
        System.out.printf("  freed      %,8d KiB  (%+,d KiB against before)%n", freed / 1024, (freed - before) / 1024);
        Thread.sleep(2500); // kept blocks go back once idle for a second
        long idle = rss();
        System.out.printf("  2.5 s on   %,8d KiB  (%+,d KiB against before)%n", idle / 1024, (idle - before) / 1024);
    }

    /**
     * Resident bytes per small buffer, against its capacity, for directmem and for the JDK's
     * allocateDirect (whose native side is a plain malloc of the capacity). Both include the
     * JVM's own costs per buffer object (such as collector bookkeeping), which are alike. The
     * buffers stay alive until the end, so that no phase reuses memory another freed.
     */
    private static void small(int count, int capacity, List<ByteBuffer> keep) throws IOException {
        long jdk = residentPerBuffer(count, capacity, keep, false);
        long dm = residentPerBuffer(count, capacity, keep, true);
        System.out.printf("%,7d buffers of %,5d B: directmem %,6d resident bytes each (%+4d beyond the "
                        + "capacity), ByteBuffer.allocateDirect %,6d (%+4d)%n",
                count, capacity, dm, dm - capacity, jdk, jdk - capacity);
    }

    private static long residentPerBuffer(int count, int capacity, List<ByteBuffer> keep, boolean directmem)
            throws IOException {
        long before = rss();
        for (int i = 0; i < count; i++) {
            ByteBuffer buffer = directmem ? DirectMemory.allocateDirect(capacity) : ByteBuffer.allocateDirect(capacity);
            for (int at = 0; at < capacity; at += 64) {
                buffer.put(at, (byte) 1); // every line of the buffer written, so resident
            }
            keep.add(buffer);
        }
        return Math.round((rss() - before) / (double) count);
    }

    /** VmRSS from /proc/self/status, in bytes. */
    private static long rss() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                String[] parts = line.trim().split("\\s+");
                return Long.parseLong(parts[1]) * 1024;
            }
        }
        throw new IOException("no VmRSS in /proc/self/status");
    }
}
