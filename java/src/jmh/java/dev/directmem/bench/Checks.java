package dev.directmem.bench;

import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Benchmark states that only check the fork before it measures: each peer's benchmark takes the
 * one it needs, so a JDK fork never loads directmem and a directmem fork never initialises Netty.
 */
public final class Checks {
    private Checks() {}

    /** directmem's budget is the fork's -XX:MaxDirectMemorySize=64m. */
    @State(Scope.Benchmark)
    public static class DirectMemory64m {
        @Setup(Level.Trial)
        public void check() {
            Buffers.checkDirectMemoryBudget(Flags.BUDGET_64M_BYTES);
        }
    }

    /** directmem's budget is the fork's -XX:MaxDirectMemorySize=1g. */
    @State(Scope.Benchmark)
    public static class DirectMemory1g {
        @Setup(Level.Trial)
        public void check() {
            Buffers.checkDirectMemoryBudget(Flags.BUDGET_1G_BYTES);
        }
    }

    /** Netty allocates through its no-cleaner path. */
    @State(Scope.Benchmark)
    public static class NettyNoCleaner {
        @Setup(Level.Trial)
        public void check() {
            Buffers.checkNettyNoCleaner();
        }
    }

    /** The JDK has the FFM API (22+). */
    @State(Scope.Benchmark)
    public static class FfmAvailable {
        @Setup(Level.Trial)
        public void check() {
            Ffm.checkAvailable();
        }
    }
}
