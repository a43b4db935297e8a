package dev.directmem;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.nio.Buffer;
import java.nio.ByteBuffer;

/**
 * How directmem reaches a direct buffer's private fields ({@code address}, {@code capacity},
 * {@code att}) and the native memory behind them.
 *
 * <p>By default through JNI, which ignores Java access control: one native call per allocation
 * and per free, each setting the fields inside. Every JNI field access is a VM transition (20-30
 * ns measured), about a third of a small buffer's explicit allocate-and-free. When {@code
 * java.nio} is open to directmem ({@code --add-opens java.base/java.nio=dev.directmem}, or
 * {@code =ALL-UNNAMED} on the class path: the flag Netty asks for too), the fields are set from
 * Java and the native calls take and return plain numbers.
 */
abstract sealed class BufferAccess permits BufferAccess.ThroughJni, BufferAccess.FromJava {
    /** The access this JVM allows. */
    static final BufferAccess INSTANCE = FromJava.isAvailable() ? new FromJava() : new ThroughJni();

    /**
     * Reserves budget, allocates zeroed memory starting at a multiple of {@code alignment} and
     * points {@code buffer}, a fresh duplicate of the empty template, at it: address, capacity
     * and {@code owner} in {@code att}. Returns the address. The caller sets the limit. When the
     * budget is full: with {@code reclaim}, reclaims first; without, returns 0 and changes
     * nothing.
     */
    abstract long allocate(ByteBuffer buffer, int capacity, int alignment, Object owner, boolean reclaim);

    /** A direct buffer's {@code att} field (the caller checks the class), or null. */
    abstract Object attachment(ByteBuffer buffer);

    /**
     * Points the buffer at nothing (the caller has set its limit to 0), then frees its memory,
     * allocated with that capacity and alignment.
     */
    abstract void disarmAndFree(ByteBuffer buffer, long address, int capacity, int alignment);

    /**
     * Points the buffer at nothing (the caller has set its limit to 0) and its {@code att} at
     * {@code owner}; frees nothing.
     */
    abstract void disarm(ByteBuffer buffer, Object owner);

    /** Which access this is, for logs and tests. */
    abstract String describe();

    static final class ThroughJni extends BufferAccess {
        @Override
        long allocate(ByteBuffer buffer, int capacity, int alignment, Object owner, boolean reclaim) {
            return Native.allocate(buffer, capacity, alignment, owner, reclaim);
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
        // Static finals, so that the JIT inlines each handle into a plain field access.
        private static final MethodHandle SET_ADDRESS;
        private static final MethodHandle SET_CAPACITY;
        private static final MethodHandle SET_ATTACHMENT;
        private static final MethodHandle GET_ATTACHMENT;

        static {
            MethodHandle[] handles = handlesOrNull();
            SET_ADDRESS = handles == null ? null : handles[0];
            SET_CAPACITY = handles == null ? null : handles[1];
            SET_ATTACHMENT = handles == null ? null : handles[2];
            GET_ATTACHMENT = handles == null ? null : handles[3];
        }

        /**
         * From this JDK on, writing a final field through reflection prints a warning unless the
         * JVM allows it (JEP 500): JNI, which writes them without one, is used there.
         */
        private static final int FINAL_MEANS_FINAL = 26;

        private FromJava() {}

        /** Whether java.nio is open to this module and its buffers have the fields expected. */
        static boolean isAvailable() {
            return SET_ADDRESS != null;
        }

        private static MethodHandle[] handlesOrNull() {
            if (!Buffer.class.getModule().isOpen("java.nio", BufferAccess.class.getModule())
                    || Runtime.version().feature() >= FINAL_MEANS_FINAL) {
                return null;
            }
            try {
                Class<?> direct = ByteBuffer.allocateDirect(0).getClass();
                MethodHandles.Lookup lookup = MethodHandles.lookup();
                // capacity and att are final: only a setter unreflected from an accessible Field
                // may write them (as JNI does), and only before the buffer is published.
                Field att = accessible(direct, "att");
                return new MethodHandle[] {
                    lookup.unreflectSetter(accessible(Buffer.class, "address"))
                            .asType(MethodType.methodType(void.class, ByteBuffer.class, long.class)),
                    lookup.unreflectSetter(accessible(Buffer.class, "capacity"))
                            .asType(MethodType.methodType(void.class, ByteBuffer.class, int.class)),
                    lookup.unreflectSetter(att)
                            .asType(MethodType.methodType(void.class, ByteBuffer.class, Object.class)),
                    lookup.unreflectGetter(att).asType(MethodType.methodType(Object.class, ByteBuffer.class)),
                };
            } catch (ReflectiveOperationException | RuntimeException e) {
                // Another JDK's field layout: JNI still works there.
                System.getLogger("dev.directmem").log(System.Logger.Level.DEBUG,
                        "java.nio is open but its buffer fields are not as expected; using JNI", e);
                return null;
            }
        }

        private static Field accessible(Class<?> type, String name) throws NoSuchFieldException {
            Field field = type.getDeclaredField(name);
            field.setAccessible(true);
            return field;
        }

        @Override
        long allocate(ByteBuffer buffer, int capacity, int alignment, Object owner, boolean reclaim) {
            long address = Native.allocateMemory(capacity, alignment, reclaim);
            if (address == 0) {
                return 0;
            }
            try {
                SET_ADDRESS.invokeExact(buffer, address);
                SET_CAPACITY.invokeExact(buffer, capacity);
                SET_ATTACHMENT.invokeExact(buffer, owner);
            } catch (Throwable t) { // a StackOverflowError; nothing else can fail here
                Native.freeMemory(address, capacity, alignment);
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
            return "Java (java.nio is open to directmem)";
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
