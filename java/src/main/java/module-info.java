/**
 * directmem: direct {@link java.nio.ByteBuffer}s backed by a native allocator with its own budget,
 * reclaimed even when the JVM runs with {@code -XX:+DisableExplicitGC}.
 *
 * <p>Start at {@link dev.directmem.DirectMemory}. On JDK 24 and later, run with
 * {@code --enable-native-access=dev.directmem} (module path) or
 * {@code --enable-native-access=ALL-UNNAMED} (class path) to load the native library without a
 * warning.
 */
module dev.directmem {
    // BufferPoolMXBean and the platform MBean server: the java.nio:type=BufferPool,name=directmem bean.
    requires transitive java.management;
    // HotSpotDiagnosticMXBean: reading -XX:MaxDirectMemorySize for the default budget.
    requires jdk.management;
    // The dev.directmem.Reclamation and dev.directmem.AllocationFailure events.
    requires jdk.jfr;

    exports dev.directmem;
}
