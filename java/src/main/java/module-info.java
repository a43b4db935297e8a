/**
 * directmem: direct {@link java.nio.ByteBuffer}s backed by a native allocator with its own budget,
 * reclaimed even when the JVM runs with {@code -XX:+DisableExplicitGC}.
 *
 * <p>Start at {@link dev.directmem.DirectMemory}.
 */
module dev.directmem {
    // HotSpotDiagnosticMXBean: reading -XX:MaxDirectMemorySize for the default budget.
    requires jdk.management;

    exports dev.directmem;
}
