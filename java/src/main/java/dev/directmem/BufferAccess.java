package dev.directmem;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.Buffer;
import java.nio.ByteBuffer;

/**
 * How directmem reaches a direct buffer's private fields ({@code address}, {@code capacity},
 * {@code att}) and the native memory behind them.
 *
 * <p>Every JNI field access is a VM transition (20-30 ns measured), about a third of a small
 * buffer's explicit allocate-and-free, so the fields are set from Java wherever the JVM allows it
 * without a warning, and the native calls then take and return plain numbers:
 * <ul>
 *   <li>when {@code java.nio} is open to directmem ({@code --add-opens
 *       java.base/java.nio=dev.directmem}, or {@code =ALL-UNNAMED} on the class path: the flag
 *       Netty asks for too), through reflection, up to JDK 25;
 *   <li>otherwise through {@code sun.misc.Unsafe} field offsets, as Netty does, up to JDK 23:
 *       from JDK 24 its memory-access methods warn (JEP 498), as they do on 23 with
 *       {@code --sun-misc-unsafe-memory-access=warn};
 *   <li>otherwise, or with {@code -Ddirectmem.bufferAccess=jni}, through JNI, which ignores Java
 *       access control: one native call per allocation and per free, each setting the fields.
 * </ul>
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
        private static final MethodType SET_LONG = MethodType.methodType(void.class, ByteBuffer.class, long.class);
        private static final MethodType SET_INT = MethodType.methodType(void.class, ByteBuffer.class, int.class);
        private static final MethodType SET_OBJECT =
                MethodType.methodType(void.class, ByteBuffer.class, Object.class);
        private static final MethodType GET_OBJECT = MethodType.methodType(Object.class, ByteBuffer.class);

        /** Setters of address, capacity and att and a getter of att, and how they reach them. */
        private record Fields(String how, MethodHandle setAddress, MethodHandle setCapacity,
                MethodHandle setAttachment, MethodHandle getAttachment) {}

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
        /** From this JDK on, sun.misc.Unsafe's memory-access methods print a warning (JEP 498). */
        private static final int UNSAFE_WARNS = 24;

        private FromJava() {}

        /** Whether this JVM lets directmem set buffer fields from Java, and the user allows it. */
        static boolean isAvailable() {
            return SET_ADDRESS != null;
        }

        /** The fields as this JVM lets directmem reach them from Java, or null for JNI. */
        private static Fields fieldsOrNull() {
            if (Native.JNI_BUFFER_ACCESS) {
                return null;
            }
            int feature = Runtime.version().feature();
            if (Buffer.class.getModule().isOpen("java.nio", BufferAccess.class.getModule())
                    && feature < FINAL_MEANS_FINAL) {
                try {
                    return reflectiveFields();
                } catch (ReflectiveOperationException | RuntimeException e) {
                    cannotReach("by reflection", e); // another JDK's field layout: try Unsafe
                }
            }
            // JDK 23 warns too when asked to (--sun-misc-unsafe-memory-access=warn).
            String unsafeAccess = System.getProperty("sun.misc.unsafe.memory.access", "allow");
            if (feature < UNSAFE_WARNS && unsafeAccess.equals("allow")) {
                try {
                    return unsafeFields();
                } catch (ReflectiveOperationException | RuntimeException e) {
                    cannotReach("through sun.misc.Unsafe", e); // JNI still works
                }
            }
            return null;
        }

        private static void cannotReach(String how, Exception e) {
            System.getLogger("dev.directmem").log(System.Logger.Level.DEBUG,
                    "cannot reach buffer fields " + how + "; trying the next way", e);
        }

        /** The class of the buffers JNI's NewDirectByteBuffer makes, which holds att. */
        private static Class<?> directBuffer() throws ClassNotFoundException {
            return Class.forName("java.nio.DirectByteBuffer");
        }

        private static Fields reflectiveFields() throws ReflectiveOperationException {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            // capacity and att are final: only a setter unreflected from an accessible Field may
            // write them (as JNI does), and only before the buffer is published.
            Field att = accessible(directBuffer(), "att");
            return new Fields("Java (java.nio is open to directmem)",
                    lookup.unreflectSetter(accessible(Buffer.class, "address")).asType(SET_LONG),
                    lookup.unreflectSetter(accessible(Buffer.class, "capacity")).asType(SET_INT),
                    lookup.unreflectSetter(att).asType(SET_OBJECT),
                    lookup.unreflectGetter(att).asType(GET_OBJECT));
        }

        /**
         * The same accesses as sun.misc.Unsafe puts and gets at the fields' offsets, each handle
         * bound to the Unsafe instance and its offset, so that the JIT sees a plain field access.
         * jdk.unsupported opens sun.misc, so its instance is readable without any flag.
         */
        private static Fields unsafeFields() throws ReflectiveOperationException {
            Class<?> type = Class.forName("sun.misc.Unsafe");
            Object unsafe = accessible(type, "theUnsafe").get(null);
            Method offsetOf = type.getMethod("objectFieldOffset", Field.class);
            long address = (long) offsetOf.invoke(unsafe, Buffer.class.getDeclaredField("address"));
            long capacity = (long) offsetOf.invoke(unsafe, Buffer.class.getDeclaredField("capacity"));
            long att = (long) offsetOf.invoke(unsafe, directBuffer().getDeclaredField("att"));
            return new Fields("Java (sun.misc.Unsafe)",
                    atOffset(type, unsafe, "putLong", address, SET_LONG),
                    atOffset(type, unsafe, "putInt", capacity, SET_INT),
                    atOffset(type, unsafe, "putObject", att, SET_OBJECT),
                    atOffset(type, unsafe, "getObject", att, GET_OBJECT));
        }

        /** Unsafe's {@code name(Object, long offset[, value])} with the instance and offset bound, as {@code access}. */
        private static MethodHandle atOffset(Class<?> type, Object unsafe, String name, long offset, MethodType access)
                throws ReflectiveOperationException {
            MethodType signature = access.changeParameterType(0, Object.class).insertParameterTypes(1, long.class);
            MethodHandle method = MethodHandles.publicLookup().findVirtual(type, name, signature).bindTo(unsafe);
            return MethodHandles.insertArguments(method, 1, offset).asType(access);
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
            return FIELDS.how();
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
