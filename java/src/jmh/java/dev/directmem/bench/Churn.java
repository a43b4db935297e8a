package dev.directmem.bench;

import dev.directmem.DirectMemory;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Several threads allocate, touch and drop 1 MiB buffers through a 64 MiB budget: the budget is
 * full all the time and every few allocations wait for reclamation. The suite runs it with 2 and
 * with 4 threads ({@code -t}); {@link ChurnDisableExplicitGC} is the same under
 * {@code -XX:+DisableExplicitGC}.
 *
 * <p>An {@code OutOfMemoryError} does not end the run: it is counted. The score that matters is
 * the {@code allocated} counter (buffers really handed out per second); {@code outOfMemoryErrors}
 * counts the failed calls of the iteration.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Threads(2)
@Fork(value = 1, jvmArgs = {Flags.NATIVE_ACCESS, Flags.HEAP_MIN, Flags.HEAP_MAX, Flags.NETTY_REFLECTION,
        Flags.OPEN_NIO, Flags.OPEN_MISC, Flags.BUDGET_64M})
public class Churn {
    @Param({"1048576"})
    public int size;

    /** Buffers handed out, reported per second. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Allocated {
        public long allocated;

        @Setup(Level.Iteration)
        public void reset() {
            allocated = 0;
        }
    }

    /** Calls that threw OutOfMemoryError, reported per iteration. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Failed {
        public long outOfMemoryErrors;

        @Setup(Level.Iteration)
        public void reset() {
            outOfMemoryErrors = 0;
        }
    }

    @Benchmark
    public ByteBuffer directmem(Checks.DirectMemory64m budget, Allocated allocated, Failed failed) {
        try {
            ByteBuffer buffer = DirectMemory.allocateDirect(size);
            Buffers.touch(buffer);
            allocated.allocated++;
            return buffer;
        } catch (OutOfMemoryError e) {
            failed.outOfMemoryErrors++;
            return null;
        }
    }

    @Benchmark
    public ByteBuffer jdk(Allocated allocated, Failed failed) {
        try {
            ByteBuffer buffer = ByteBuffer.allocateDirect(size);
            Buffers.touch(buffer);
            allocated.allocated++;
            return buffer;
        } catch (OutOfMemoryError e) {
            failed.outOfMemoryErrors++;
            return null;
        }
    }
}
