package dev.directmem.bench;

import dev.directmem.DirectMemory;
import io.netty.util.internal.PlatformDependent;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * The explicit path: allocate, touch, free at once. No collection is needed; what counts is the
 * cost of allocating, zeroing (all but Netty zero), registering for cleanup, and freeing.
 *
 * <p>Peers: {@code ByteBuffer.allocateDirect} + {@code sun.misc.Unsafe.invokeCleaner}, Netty's
 * {@code PlatformDependent.allocateDirectNoCleaner}/{@code freeDirectNoCleaner} (no zeroing, no
 * cleaner; and the same zeroed with {@code setMemory}) and, on JDK 22+, {@code Arena.ofConfined()} allocate + close.
 *
 * <p>{@code zeroingAlone} is no peer but the floor of every allocator that hands out zeroed memory:
 * zeroing one buffer that stays allocated, and the same touch, on one thread.
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

    /**
     * Netty's no-cleaner buffer zeroed as directmem's and the JDK's are: what a Netty user who
     * needs zeroed memory pays ({@code Unsafe.setMemory}: a call into the VM up to JDK 22, an
     * intrinsic from JDK 23).
     */
    @Benchmark
    public void nettyZeroed(Checks.NettyNoCleaner netty) {
        ByteBuffer buffer = PlatformDependent.allocateDirectNoCleaner(size);
        PlatformDependent.setMemory(PlatformDependent.directBufferAddress(buffer), size, (byte) 0);
        Buffers.touch(buffer);
        PlatformDependent.freeDirectNoCleaner(buffer);
    }

    /** The floor: zeroes a buffer held for the whole trial, then touches it as the others do. */
    @Benchmark
    public void zeroingAlone(Held held) {
        DirectMemory.fill(held.buffer, (byte) 0);
        Buffers.touch(held.buffer);
    }

    /** One buffer of the trial's size, allocated once, every page already written. */
    @State(Scope.Thread)
    public static class Held {
        ByteBuffer buffer;

        @Setup(Level.Trial)
        public void allocate(BenchmarkParams params) {
            buffer = DirectMemory.allocateDirect(Integer.parseInt(params.getParam("size")));
            DirectMemory.fill(buffer, (byte) 1);
        }

        @TearDown(Level.Trial)
        public void free() {
            DirectMemory.free(buffer);
        }
    }

    @Benchmark
    public void ffmConfined(Checks.FfmAvailable ffm) throws Throwable {
        Object arena = Ffm.ofConfined();
        ByteBuffer buffer = Ffm.asByteBuffer(Ffm.allocate(arena, size));
        Buffers.touch(buffer);
        Ffm.close(arena);
    }
}
