package dev.directmem.bench;

import dev.directmem.DirectMemory;
import io.netty.util.internal.PlatformDependent;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The explicit path: allocate, touch, free at once. No collection is needed; what counts is the
 * cost of allocating, zeroing (all but Netty zero), registering for cleanup, and freeing.
 *
 * <p>Peers: {@code ByteBuffer.allocateDirect} + {@code sun.misc.Unsafe.invokeCleaner}, Netty's
 * {@code PlatformDependent.allocateDirectNoCleaner}/{@code freeDirectNoCleaner} (no zeroing, no
 * cleaner) and, on JDK 22+, {@code Arena.ofConfined()} allocate + close.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgs = {Flags.NATIVE_ACCESS, Flags.HEAP_MIN, Flags.HEAP_MAX, Flags.NETTY_REFLECTION,
        Flags.OPEN_NIO, Flags.OPEN_MISC, Flags.BUDGET_64M})
public class ExplicitPath {
    // 16 KiB: where glibc can settle into handing back older blocks in turn, not the one just
    // freed, which the warmth guess of recent_frees.rs misses.
    @Param({"64", "4096", "16384", "65536", "1048576", "16777216"})
    public int size;

    @Benchmark
    public void directmem(Checks.DirectMemory64m budget) {
        ByteBuffer buffer = DirectMemory.allocateDirect(size);
        Buffers.touch(buffer);
        DirectMemory.free(buffer);
    }

    @Benchmark
    public void jdk() throws Throwable {
        ByteBuffer buffer = ByteBuffer.allocateDirect(size);
        Buffers.touch(buffer);
        Buffers.invokeCleaner(buffer);
    }

    @Benchmark
    public void netty(Checks.NettyNoCleaner netty) {
        ByteBuffer buffer = PlatformDependent.allocateDirectNoCleaner(size);
        Buffers.touch(buffer);
        PlatformDependent.freeDirectNoCleaner(buffer);
    }

    @Benchmark
    public void ffmConfined(Checks.FfmAvailable ffm) throws Throwable {
        Object arena = Ffm.ofConfined();
        ByteBuffer buffer = Ffm.asByteBuffer(Ffm.allocate(arena, size));
        Buffers.touch(buffer);
        Ffm.close(arena);
    }
}
