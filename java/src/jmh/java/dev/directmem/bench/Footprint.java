package dev.directmem.bench;

import dev.directmem.DirectMemory;
import io.netty.util.internal.PlatformDependent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/**
 * The memory targets, which JMH does not measure: resident memory (RSS, from /proc/self/statm)
 * per small buffer, and RSS before and after freeing a large buffer. One JVM per measurement,
 * started by the suite with a pre-touched heap ({@code -Xms1g -Xmx1g -XX:+AlwaysPreTouch}) so that
 * Java objects do not move RSS.
 *
 * <pre>
 * java ... dev.directmem.bench.Footprint perBuffer directmem|jdk|netty OUT.jsonl
 * java ... dev.directmem.bench.Footprint largeFree directmem|jdk|netty OUT.jsonl
 * java ... dev.directmem.bench.Footprint keptFree directmem|jdk|netty OUT.jsonl
 * </pre>
 *
 * Appends one JSON object per run to OUT.jsonl.
 */
public final class Footprint {
    private Footprint() {}

    /** Small buffers held at once: enough that a byte of overhead each is 1 MB of RSS. */
    private static final int COUNT = 1_000_000;
    private static final int SMALL = 64;
    private static final int LARGE = 256 << 20;
    /** The largest buffer directmem keeps mapped for reuse once freed (until idle for 1 s). */
    private static final int KEPT = 16 << 20;
    /** Longer than directmem's idle period plus the 1 s between its trims. */
    private static final long IDLE_WAIT_MILLIS = 2_500;
    private static final long PAGE = 4096;

    public static void main(String[] args) throws Throwable {
        if (args.length != 3) {
            throw new IllegalArgumentException("usage: Footprint perBuffer|largeFree|keptFree directmem|jdk|netty OUT.jsonl");
        }
        String measurement = args[0], peer = args[1];
        Allocator allocator = allocator(peer);
        String json;
        if (measurement.equals("perBuffer")) {
            json = perBuffer(peer, allocator);
        } else if (measurement.equals("largeFree")) {
            json = largeFree(peer, allocator);
        } else if (measurement.equals("keptFree")) {
            json = keptFree(peer, allocator);
        } else {
            throw new IllegalArgumentException("unknown measurement " + measurement);
        }
        System.out.println(json);
        Files.writeString(Path.of(args[2]), json + "\n", StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    interface Allocator {
        ByteBuffer allocate(int size);

        void free(ByteBuffer buffer) throws Throwable;
    }

    private static Allocator allocator(String peer) {
        switch (peer) {
            case "directmem":
                return new Allocator() {
                    @Override public ByteBuffer allocate(int size) { return DirectMemory.allocateDirect(size); }
                    @Override public void free(ByteBuffer buffer) { DirectMemory.free(buffer); }
                };
            case "jdk":
                return new Allocator() {
                    @Override public ByteBuffer allocate(int size) { return ByteBuffer.allocateDirect(size); }
                    @Override public void free(ByteBuffer buffer) throws Throwable { Buffers.invokeCleaner(buffer); }
                };
            case "netty":
                Buffers.checkNettyNoCleaner();
                return new Allocator() {
                    @Override public ByteBuffer allocate(int size) { return PlatformDependent.allocateDirectNoCleaner(size); }
                    @Override public void free(ByteBuffer buffer) { PlatformDependent.freeDirectNoCleaner(buffer); }
                };
            default:
                throw new IllegalArgumentException("unknown peer " + peer);
        }
    }

    /**
     * RSS growth per live 64-byte buffer. Netty's no-cleaner buffer is a bare {@code malloc}, so
     * directmem's figure minus Netty's is directmem's native overhead beyond the allocator's own.
     */
    private static String perBuffer(String peer, Allocator allocator) throws Throwable {
        ByteBuffer[] held = new ByteBuffer[COUNT];
        // Warm up the allocation and free paths (class loading, JIT) on a few buffers, kept
        // apart from the measured ones so that malloc cannot hand their memory back out.
        ByteBuffer[] warm = new ByteBuffer[10_000];
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < warm.length; i++) {
                warm[i] = allocator.allocate(SMALL);
            }
            for (int i = 0; i < warm.length; i++) {
                allocator.free(warm[i]);
            }
        }
        long before = rss();
        for (int i = 0; i < COUNT; i++) {
            held[i] = allocator.allocate(SMALL);
        }
        long after = rss();
        double perBuffer = (double) (after - before) / COUNT;
        String json = String.format(Locale.ROOT,
                "{\"measurement\":\"perBuffer\",\"peer\":\"%s\",\"size\":%d,\"count\":%d,"
                        + "\"rssBefore\":%d,\"rssAfter\":%d,\"rssPerBuffer\":%.2f,\"jdk\":\"%s\"}",
                peer, SMALL, COUNT, before, after, perBuffer, Runtime.version());
        for (ByteBuffer buffer : held) {
            allocator.free(buffer);
        }
        return json;
    }

    /** RSS before allocating, with a touched 256 MiB buffer, and right after freeing it. */
    private static String largeFree(String peer, Allocator allocator) throws Throwable {
        RssAroundFree rss = rssAroundFree(allocator, LARGE);
        return String.format(Locale.ROOT,
                "{\"measurement\":\"largeFree\",\"peer\":\"%s\",\"size\":%d,"
                        + "\"rssBefore\":%d,\"rssAllocated\":%d,\"rssAfterFree\":%d,\"jdk\":\"%s\"}",
                peer, LARGE, rss.before(), rss.allocated(), rss.afterFree(), Runtime.version());
    }

    /**
     * RSS around a freed 16 MiB buffer, which directmem keeps mapped for the next buffer of its
     * length: right after the free, and again once the kept block has been idle long enough to go
     * back to the OS. What the reuse cache costs in memory, shown beside what it saves in time.
     */
    private static String keptFree(String peer, Allocator allocator) throws Throwable {
        RssAroundFree rss = rssAroundFree(allocator, KEPT);
        Thread.sleep(IDLE_WAIT_MILLIS);
        long idle = rss();
        return String.format(Locale.ROOT,
                "{\"measurement\":\"keptFree\",\"peer\":\"%s\",\"size\":%d,\"rssBefore\":%d,"
                        + "\"rssAllocated\":%d,\"rssAfterFree\":%d,\"rssAfterIdle\":%d,\"idleMillis\":%d,"
                        + "\"jdk\":\"%s\"}",
                peer, KEPT, rss.before(), rss.allocated(), rss.afterFree(), idle, IDLE_WAIT_MILLIS,
                Runtime.version());
    }

    /** RSS before allocating a buffer, once it is allocated and touched, and right after it is freed. */
    private record RssAroundFree(long before, long allocated, long afterFree) {}

    /** Allocates a buffer of {@code size}, touches each page, and frees it, reading RSS at each step. */
    private static RssAroundFree rssAroundFree(Allocator allocator, int size) throws Throwable {
        long before = rss();
        ByteBuffer buffer = allocator.allocate(size);
        Buffers.touch(buffer);
        long allocated = rss();
        allocator.free(buffer);
        long afterFree = rss();
        return new RssAroundFree(before, allocated, afterFree);
    }

    /** Resident set size in bytes, from /proc/self/statm (second field, in pages). */
    private static long rss() throws IOException {
        String[] fields = Files.readString(Path.of("/proc/self/statm")).trim().split(" ");
        return Long.parseLong(fields[1]) * PAGE;
    }
}
