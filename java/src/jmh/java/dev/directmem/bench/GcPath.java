package dev.directmem.bench;

import dev.directmem.DirectMemory;
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
 * The GC path: allocate, touch, drop. The memory comes back only when the collector finds the
 * dropped buffer and its Cleaner runs; the 64 MiB budget makes that happen over and over.
 *
 * <p>Peers: {@code ByteBuffer.allocateDirect} and, on JDK 22+, {@code Arena.ofAuto()} (both
 * reserve through the JDK's {@code Bits} and so share the budget). Netty's no-cleaner buffers have
 * no GC path.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgs = {Flags.NATIVE_ACCESS, Flags.HEAP_MIN, Flags.HEAP_MAX, Flags.NETTY_REFLECTION,
        Flags.OPEN_NIO, Flags.OPEN_MISC, Flags.BUDGET_64M})
public class GcPath {
    @Param({"64", "4096", "65536", "1048576", "16777216"})
    public int size;

    @Benchmark
    public ByteBuffer directmem(Checks.DirectMemory64m budget) {
        ByteBuffer buffer = DirectMemory.allocateDirect(size);
        Buffers.touch(buffer);
        return buffer;
    }

    @Benchmark
    public ByteBuffer jdk() {
        ByteBuffer buffer = ByteBuffer.allocateDirect(size);
        Buffers.touch(buffer);
        return buffer;
    }

    @Benchmark
    public ByteBuffer ffmAuto(Checks.FfmAvailable ffm) throws Throwable {
        ByteBuffer buffer = Ffm.asByteBuffer(Ffm.allocate(Ffm.ofAuto(), size));
        Buffers.touch(buffer);
        return buffer;
    }
}
