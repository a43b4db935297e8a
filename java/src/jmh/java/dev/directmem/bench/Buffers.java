package dev.directmem.bench;

import dev.directmem.DirectMemory;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;

/** What the benchmarks share: touching a buffer, the JDK's explicit free, budget checks. */
final class Buffers {
    private Buffers() {}

    static final int PAGE = 4096;

    /**
     * Writes one byte in every 4 KiB page and the last byte: every page becomes resident, as in any
     * real use, so an allocator that hands out untouched zero pages pays for their faults here.
     */
    static void touch(ByteBuffer buffer) {
        int capacity = buffer.capacity();
        for (int i = 0; i < capacity; i += PAGE) {
            buffer.put(i, (byte) 1);
        }
        if (capacity > 0) {
            buffer.put(capacity - 1, (byte) 1);
        }
    }

    /** {@code sun.misc.Unsafe.invokeCleaner(ByteBuffer)}, bound to the Unsafe instance. */
    private static final MethodHandle INVOKE_CLEANER = invokeCleaner();

    private static MethodHandle invokeCleaner() {
        try {
            // Reached reflectively: javac cannot be told to keep quiet about sun.misc.Unsafe.
            Class<?> unsafeClass = Class.forName("sun.misc.Unsafe");
            Field theUnsafe = unsafeClass.getDeclaredField("theUnsafe");
            theUnsafe.setAccessible(true);
            MethodHandle handle = MethodHandles.lookup().findVirtual(
                    unsafeClass, "invokeCleaner", MethodType.methodType(void.class, ByteBuffer.class));
            return handle.bindTo(theUnsafe.get(null));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Frees a JDK direct buffer now, as {@code sun.misc.Unsafe.invokeCleaner} does. */
    static void invokeCleaner(ByteBuffer buffer) throws Throwable {
        INVOKE_CLEANER.invokeExact(buffer);
    }

    /** Frees what a large-allocation benchmark allocated, each peer its own way; nulls are skipped. */
    static void release(ByteBuffer ours, ByteBuffer jdks, Object arena) throws Throwable {
        if (ours != null) {
            DirectMemory.free(ours);
        }
        if (jdks != null) {
            invokeCleaner(jdks);
        }
        if (arena != null) {
            Ffm.close(arena);
        }
    }

    /**
     * Fails the fork unless directmem's budget is what the benchmark's flags say: a benchmark
     * whose budget silently fell back to the heap size would not force reclamation.
     */
    static void checkDirectMemoryBudget(long expected) {
        long actual = DirectMemory.stats().maxMemory();
        if (actual != expected) {
            throw new IllegalStateException(
                    "directmem's budget is " + actual + " bytes, the benchmark expects " + expected);
        }
    }

    /** Fails the fork unless Netty really takes its no-cleaner path (it needs the fork's flags). */
    static void checkNettyNoCleaner() {
        if (!io.netty.util.internal.PlatformDependent.useDirectBufferNoCleaner()) {
            throw new IllegalStateException("Netty does not use its no-cleaner direct buffers: "
                    + "it needs -Dio.netty.tryReflectionSetAccessible=true and "
                    + "--add-opens java.base/java.nio=ALL-UNNAMED");
        }
    }
}
