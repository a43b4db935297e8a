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
 * Like {@link LargeAllocation}, but the measured time runs until one byte of every page was
 * written: what a large buffer costs before it is really in use, whoever zeroes it.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgs = {Flags.NATIVE_ACCESS, Flags.HEAP_MIN, Flags.HEAP_MAX, Flags.NETTY_REFLECTION,
        Flags.OPEN_NIO, Flags.OPEN_MISC, Flags.BUDGET_1G})
public class LargeAllocationTouched {
    @Param({"1048576", "67108864", "268435456"})
    public int size;

    /** What the last call allocated, freed after it by {@link #free()}: one of the three. */
    ByteBuffer ours;
    ByteBuffer jdks;
    Object arena;

    @Benchmark
    public ByteBuffer directmem(Checks.DirectMemory1g budget) {
        ours = DirectMemory.allocateDirect(size);
        Buffers.touch(ours);
        return ours;
    }

    @Benchmark
    public ByteBuffer jdk() {
        jdks = ByteBuffer.allocateDirect(size);
        Buffers.touch(jdks);
        return jdks;
    }

    @Benchmark
    public ByteBuffer ffmConfined(Checks.FfmAvailable ffm) throws Throwable {
        arena = Ffm.ofConfined();
        ByteBuffer segment = Ffm.asByteBuffer(Ffm.allocate(arena, size));
        Buffers.touch(segment);
        return segment;
    }

    @TearDown(Level.Invocation)
    public void free() throws Throwable {
        Buffers.release(ours, jdks, arena);
        ours = jdks = null;
        arena = null;
    }
}
