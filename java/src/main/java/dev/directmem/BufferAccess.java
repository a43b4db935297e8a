package dev.directmem;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.lang.reflect.Field;
import java.nio.Buffer;
import java.nio.ByteBuffer;

/**
 * How directmem reaches a direct buffer's private fields ({@code address}, {@code capacity},
 * {@code att}) and the native memory behind them.
 *
 * <p>Every JNI field access is a VM transition (20-30 ns measured), about a third of a small
 * buffer's explicit allocate-and-free, so up to JDK 25 the fields are set from Java, through
 * method handles unreflected from the fields, and the native calls then take and return plain
 * numbers. The native library makes the fields accessible ({@link Native#makeAccessible}): JNI
 * ignores access control, and writes these same fields anyway. So no flag is needed, and no
 * package is opened to anyone. From JDK 26, writing final fields by reflection warns (JEP 500),
 * so there, and with {@code -Ddirectmem.bufferAccess=jni}, every allocation and free sets the
 * fields in its native call.
 */
abstract sealed class BufferAccess permits BufferAccess.ThroughJni, BufferAccess.FromJava {
    /** The access this JVM allows. */
    static final BufferAccess INSTANCE = FromJava.isAvailable() ? new FromJava() : new ThroughJni();

    /**
     * Reserves budget, allocates zeroed memory of {@code release}'s capacity starting at a
     * multiple of its alignment, records the address in {@code release} as soon as the native
     * call returns, and points {@code buffer}, a fresh duplicate of the empty template, at it:
     * address, capacity and {@code owner} in {@code att}. Returns the address. The caller sets the
     * limit. When the budget is full: with {@code reclaim}, reclaims first; without, returns 0
     * and changes nothing. With a {@code waiting} array, reclaiming never waits in the native
     * call, but returns 0 to have the caller park (see {@link Native#allocate}).
     *
     * <p>If anything fails once the address is recorded (a StackOverflowError at the bottom of a
     * deep stack, a full Java heap), {@link Allocation#arm} frees the memory as the error passes
     * (not here: a free could overflow the stack too); should that free fail as well, the memory
     * goes with the owner, whose release is registered already.
     */
    abstract long allocate(
            ByteBuffer buffer, Allocation.Release release, Object owner, boolean reclaim, long[] waiting);

    /** A direct buffer's {@code att} field (the caller checks the class), or null. */
    abstract Object attachment(ByteBuffer buffer);

    /**
     * Points the buffer at nothing (the caller has set its limit to 0), then frees its memory,
     * allocated with that capacity and alignment.
     */
    abstract void disarmAndFree(ByteBuffer buffer, long address, int capacity, int alignment);

    /**
     * Points the buffer at nothing (the caller has set its limit to 0) and its {@code att} at
     * {@code owner}; frees nothing. {@code att} is written last, ordered after every write before
     * it (the caller's limit included): a thread that reads the new {@code att} and then issues
     * {@link java.lang.invoke.VarHandle#acquireFence} sees the buffer disarmed (see
     * {@link SharedBlock#free}). Through JNI the native code issues a release fence before it writes
     * {@code att}.
     */
    abstract void disarm(ByteBuffer buffer, Object owner);

    /** Which access this is, for logs and tests. */
    abstract String describe();

    static final class ThroughJni extends BufferAccess {
        @Override
        long allocate(
                ByteBuffer buffer, Allocation.Release release, Object owner, boolean reclaim, long[] waiting) {
            long address = Native.allocate(buffer, release.capacity, release.alignment, owner, reclaim, waiting);
            release.address = address; // a field write: nothing can fail between the two
            return address;
        }

        @Override
        Object attachment(ByteBuffer buffer) {
            return Native.attachment(buffer);
        }

        @Override
        void disarmAndFree(ByteBuffer buffer, long address, int capacity, int alignment) {
            Native.disarmAndFree(buffer, address, capacity, alignment);
        }

        @Override
        void disarm(ByteBuffer buffer, Object owner) {
            Native.disarm(buffer, owner);
        }

        @Override
        String describe() {
            return "JNI";
        }
    }

    static final class FromJava extends BufferAccess {
        private static final MethodType SET_LONG = MethodType.methodType(void.class, ByteBuffer.class, long.class);
        private static final MethodType SET_INT = MethodType.methodType(void.class, ByteBuffer.class, int.class);
        private static final MethodType SET_OBJECT =
                MethodType.methodType(void.class, ByteBuffer.class, Object.class);
        private static final MethodType GET_OBJECT = MethodType.methodType(Object.class, ByteBuffer.class);

        /** Setters of address, capacity and att, and a getter of att. */
        private record Fields(MethodHandle setAddress, MethodHandle setCapacity, MethodHandle setAttachment,
                MethodHandle getAttachment) {}

        private static final Fields FIELDS = fieldsOrNull();
        // Static finals, so that the JIT inlines each handle into a plain field access.
        private static final MethodHandle SET_ADDRESS = FIELDS == null ? null : FIELDS.setAddress();
        private static final MethodHandle SET_CAPACITY = FIELDS == null ? null : FIELDS.setCapacity();
        private static final MethodHandle SET_ATTACHMENT = FIELDS == null ? null : FIELDS.setAttachment();
        private static final MethodHandle GET_ATTACHMENT = FIELDS == null ? null : FIELDS.getAttachment();

        /**
         * From this JDK on, writing a final field through reflection prints a warning unless the
         * JVM allows it (JEP 500).
         */
        private static final int FINAL_MEANS_FINAL = 26;

        private FromJava() {}

        /** Whether this JVM lets directmem set buffer fields from Java, and the user allows it. */
        static boolean isAvailable() {
            return SET_ADDRESS != null;
        }

        /** The fields as this JVM lets directmem reach them from Java, or null for JNI. */
        private static Fields fieldsOrNull() {
            if (Native.setupInClassInitializer().jniBufferAccess() || Runtime.version().feature() >= FINAL_MEANS_FINAL) {
                return null;
            }
            try {
                Field address = accessible(Buffer.class, "address");
                Field capacity = accessible(Buffer.class, "capacity");
                Field att = accessible(Class.forName("java.nio.DirectByteBuffer"), "att");
                // capacity and att are final: only a setter unreflected from an accessible Field
                // may write them (as JNI does), and only before the buffer is published.
                MethodHandles.Lookup lookup = MethodHandles.lookup();
                return new Fields(lookup.unreflectSetter(address).asType(SET_LONG),
                        lookup.unreflectSetter(capacity).asType(SET_INT),
                        lookup.unreflectSetter(att).asType(SET_OBJECT),
                        lookup.unreflectGetter(att).asType(GET_OBJECT));
            } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
                // Another JDK's field layout, or no native library (which fails on first use).
                System.getLogger("dev.directmem").log(System.Logger.Level.DEBUG,
                        "cannot set buffer fields from Java; setting them through JNI", e);
                return null;
            }
        }

        private static Field accessible(Class<?> type, String name) throws NoSuchFieldException {
            Field field = type.getDeclaredField(name);
            Native.makeAccessible(field);
            return field;
        }

        @Override
        long allocate(
                ByteBuffer buffer, Allocation.Release release, Object owner, boolean reclaim, long[] waiting) {
            long address = Native.allocateMemory(release.capacity, release.alignment, reclaim, waiting);
            release.address = address; // a field write: nothing can fail between the two
            if (address == 0) {
                return 0;
            }
            try {
                SET_ADDRESS.invokeExact(buffer, address);
                SET_CAPACITY.invokeExact(buffer, release.capacity);
                SET_ATTACHMENT.invokeExact(buffer, owner);
            } catch (Throwable t) { // a StackOverflowError: arm frees the memory
                throw rethrow(t);
            }
            return address;
        }

        @Override
        Object attachment(ByteBuffer buffer) {
            try {
                return (Object) GET_ATTACHMENT.invokeExact(buffer);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        @Override
        void disarmAndFree(ByteBuffer buffer, long address, int capacity, int alignment) {
            pointAtNothing(buffer); // if it throws, the memory stays allocated: better than freed under a live buffer
            Native.freeMemory(address, capacity, alignment);
        }

        @Override
        void disarm(ByteBuffer buffer, Object owner) {
            pointAtNothing(buffer);
            // Plain stores all: without the fence a free that reads the new att on another
            // thread (and returns at once, SharedBlock.free) could still see the old limit and
            // address (aarch64, or the JIT reordering the stores).
            VarHandle.releaseFence();
            try {
                SET_ATTACHMENT.invokeExact(buffer, owner);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        private static void pointAtNothing(ByteBuffer buffer) {
            try {
                SET_CAPACITY.invokeExact(buffer, 0);
                SET_ADDRESS.invokeExact(buffer, 0L);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        @Override
        String describe() {
            return "Java (fields made accessible through JNI)";
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException e) {
            throw e;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException(t);
    }
}
