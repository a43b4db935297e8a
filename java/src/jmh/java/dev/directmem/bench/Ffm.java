package dev.directmem.bench;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.ByteBuffer;

/**
 * The FFM API (final in JDK 22) reached through method handles, since the benchmarks compile with
 * {@code --release 17}. On an older JDK {@link #AVAILABLE} is false and the handles are null.
 */
final class Ffm {
    private Ffm() {}

    static final boolean AVAILABLE = Runtime.version().feature() >= 22;

    /** {@code Arena.ofConfined()}, as {@code () -> Object}. */
    private static final MethodHandle OF_CONFINED;
    /** {@code Arena.ofAuto()}, as {@code () -> Object}. */
    private static final MethodHandle OF_AUTO;
    /** {@code arena.allocate(long)} (zeroed), as {@code (Object, long) -> Object}. */
    private static final MethodHandle ALLOCATE;
    /** {@code segment.asByteBuffer()}, as {@code (Object) -> ByteBuffer}. */
    private static final MethodHandle AS_BYTE_BUFFER;
    /** {@code arena.close()}, as {@code (Object) -> void}. */
    private static final MethodHandle CLOSE;

    static {
        MethodHandle ofConfined = null, ofAuto = null, allocate = null, asByteBuffer = null, close = null;
        if (AVAILABLE) {
            try {
                MethodHandles.Lookup lookup = MethodHandles.publicLookup();
                Class<?> arena = Class.forName("java.lang.foreign.Arena");
                Class<?> segment = Class.forName("java.lang.foreign.MemorySegment");
                MethodType toObject = MethodType.methodType(Object.class);
                ofConfined = lookup.findStatic(arena, "ofConfined", MethodType.methodType(arena)).asType(toObject);
                ofAuto = lookup.findStatic(arena, "ofAuto", MethodType.methodType(arena)).asType(toObject);
                allocate = lookup.findVirtual(arena, "allocate", MethodType.methodType(segment, long.class))
                        .asType(MethodType.methodType(Object.class, Object.class, long.class));
                asByteBuffer = lookup.findVirtual(segment, "asByteBuffer", MethodType.methodType(ByteBuffer.class))
                        .asType(MethodType.methodType(ByteBuffer.class, Object.class));
                close = lookup.findVirtual(arena, "close", MethodType.methodType(void.class))
                        .asType(MethodType.methodType(void.class, Object.class));
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }
        OF_CONFINED = ofConfined;
        OF_AUTO = ofAuto;
        ALLOCATE = allocate;
        AS_BYTE_BUFFER = asByteBuffer;
        CLOSE = close;
    }

    /** Fails the fork on a JDK without FFM; the suite runs the ffm* benchmarks on JDK 22+ only. */
    static void checkAvailable() {
        if (!AVAILABLE) {
            throw new UnsupportedOperationException("the FFM peer needs JDK 22 or newer, this is "
                    + Runtime.version() + ": n/a");
        }
    }

    static Object ofConfined() throws Throwable {
        return (Object) OF_CONFINED.invokeExact();
    }

    static Object ofAuto() throws Throwable {
        return (Object) OF_AUTO.invokeExact();
    }

    static Object allocate(Object arena, long size) throws Throwable {
        return (Object) ALLOCATE.invokeExact(arena, size);
    }

    static ByteBuffer asByteBuffer(Object segment) throws Throwable {
        return (ByteBuffer) AS_BYTE_BUFFER.invokeExact(segment);
    }

    static void close(Object arena) throws Throwable {
        CLOSE.invokeExact(arena);
    }
}
