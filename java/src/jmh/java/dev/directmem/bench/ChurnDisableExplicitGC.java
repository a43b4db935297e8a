package dev.directmem.bench;

import org.openjdk.jmh.annotations.Fork;

/**
 * {@link Churn} under {@code -XX:+DisableExplicitGC}: the JDK's {@code System.gc()} becomes a
 * no-op, so {@code ByteBuffer.allocateDirect} throws once the budget holds only garbage, while
 * directmem still reclaims.
 */
@Fork(value = 1, jvmArgs = {Flags.NATIVE_ACCESS, Flags.HEAP_MIN, Flags.HEAP_MAX, Flags.NETTY_REFLECTION,
        Flags.OPEN_NIO, Flags.OPEN_MISC, Flags.BUDGET_64M, Flags.DISABLE_EXPLICIT_GC})
public class ChurnDisableExplicitGC extends Churn {}
