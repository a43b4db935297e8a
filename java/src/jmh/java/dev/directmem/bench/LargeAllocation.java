package dev.directmem.bench;

import dev.directmem.DirectMemory;
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
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Latency of one large zeroed buffer: the time {@code allocateDirect} takes to return, nothing
 * else. The buffer is written once per page and freed after each call, outside the measured time,
 * as a buffer in use would be: a block used again must then be zeroed again, for every peer alike.
 *
 * <p>A buffer whose pages the kernel zeroes lazily is cheap here and pays a page fault on first
 * write instead: {@link LargeAllocationTouched} measures the time until every page was written.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgs = {Flags.NATIVE_ACCESS, Flags.HEAP_MIN, Flags.HEAP_MAX, Flags.NETTY_REFLECTION,
        Flags.OPEN_NIO, Flags.OPEN_MISC, Flags.BUDGET_1G})
public class LargeAllocation {
    @Param({"1048576", "67108864", "268435456"})
    public int size;

    /** What the last call allocated, freed after it by {@link #free()}: one of the three. */
    ByteBuffer ours;
    ByteBuffer jdks;
    Object arena;
    ByteBuffer segment;

    @Benchmark
    public ByteBuffer directmem(Checks.DirectMemory1g budget) {
        return ours = DirectMemory.allocateDirect(size);
    }

    @Benchmark
    public ByteBuffer jdk() {
        return jdks = ByteBuffer.allocateDirect(size);
    }

    @Benchmark
    public Object ffmConfined(Checks.FfmAvailable ffm) throws Throwable {
        arena = Ffm.ofConfined();
        Object allocated = Ffm.allocate(arena, size);
        segment = Ffm.asByteBuffer(allocated);
        return allocated;
    }

    @TearDown(Level.Invocation)
    public void free() throws Throwable {
        for (ByteBuffer used : new ByteBuffer[] {ours, jdks, segment}) {
            if (used != null) {
                Buffers.touch(used); // in use before it goes: unwritten, a reused block needs no zeroing
            }
        }
        Buffers.release(ours, jdks, arena);
        ours = jdks = segment = null;
        arena = null;
    }
}
