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
 * directmem's GC and explicit paths at small sizes in a JVM started without the flags Netty needs
 * (the other benchmark classes open {@code java.nio} for it), as a user who gives none runs it:
 * the buffer fields must be set as fast there. The report shows these next to the default rows.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgs = {Flags.NATIVE_ACCESS, Flags.HEAP_MIN, Flags.HEAP_MAX, Flags.BUDGET_64M})
public class WithoutOpens {
    @Param({"64", "4096"})
    public int size;

    @Benchmark
    public ByteBuffer gcPath(Checks.DirectMemory64m budget) {
        ByteBuffer buffer = DirectMemory.allocateDirect(size);
        Buffers.touch(buffer);
        return buffer;
    }

    @Benchmark
    public void explicitPath(Checks.DirectMemory64m budget) {
        ByteBuffer buffer = DirectMemory.allocateDirect(size);
        Buffers.touch(buffer);
        DirectMemory.free(buffer);
    }
}
