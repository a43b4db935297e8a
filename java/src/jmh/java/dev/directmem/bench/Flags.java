package dev.directmem.bench;

/**
 * JVM flags of every benchmark fork, as compile-time constants for {@code @Fork}.
 *
 * <p>Each benchmark class names all its flags itself, so that it measures the same thing however
 * JMH is launched (the build's jmh task, an IDE, {@code java -cp ... org.openjdk.jmh.Main}).
 */
final class Flags {
    private Flags() {}

    /** JDK 24+ warns on System.load without it; accepted since JDK 17. */
    static final String NATIVE_ACCESS = "--enable-native-access=ALL-UNNAMED";
    /** A fixed heap, the same for every peer, so that GC pressure does not depend on the machine. */
    static final String HEAP_MIN = "-Xms512m";
    static final String HEAP_MAX = "-Xmx512m";
    /** What Netty needs on JDK 9+ to build DirectByteBuffers without a Cleaner. */
    static final String NETTY_REFLECTION = "-Dio.netty.tryReflectionSetAccessible=true";
    static final String OPEN_NIO = "--add-opens=java.base/java.nio=ALL-UNNAMED";
    static final String OPEN_MISC = "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED";
    /** The budget that forces reclamation: both the JDK and directmem take it from this flag. */
    static final String BUDGET_64M = "-XX:MaxDirectMemorySize=64m";
    static final long BUDGET_64M_BYTES = 64L << 20;
    /** A budget that the largest single buffer fits in with room to spare. */
    static final String BUDGET_1G = "-XX:MaxDirectMemorySize=1g";
    static final long BUDGET_1G_BYTES = 1L << 30;
    static final String DISABLE_EXPLICIT_GC = "-XX:+DisableExplicitGC";
}
