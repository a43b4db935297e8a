package dev.directmem;

import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * A child JVM for {@link ConfigurationTest}, run with the settings under test.
 *
 * <ul>
 *   <li>{@code calls own|jdk}: makes each public call once and prints its outcome ({@code CALL
 *       name ok}, or the exception's class and message); {@code free} and {@code fill} get a
 *       buffer directmem allocated without the public API ({@code own}: for a tracking setting
 *       that refuses allocations) or one the JDK allocated ({@code jdk}: for a setting that
 *       makes directmem unavailable, which every call must report before looking at the buffer).
 *   <li>{@code jdk-interfaces}: what the JDK's own ways of freeing and unwrapping direct buffers
 *       make of one of directmem's; run with {@code --add-exports java.base/sun.nio.ch=ALL-UNNAMED}.
 * </ul>
 */
public final class ConfigurationProbe {
    private ConfigurationProbe() {}

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "calls" -> calls(args[1].equals("own"));
            case "jdk-interfaces" -> jdkInterfaces();
            default -> throw new IllegalArgumentException(args[0]);
        }
    }

    private static void calls(boolean own) {
        ByteBuffer buffer;
        if (own) {
            Allocation owner = new Allocation(8192, 1, null); // no tracking check on this path
            owner.arm(true);
            buffer = owner.root;
        } else {
            buffer = ByteBuffer.allocateDirect(8192);
        }
        Map<String, Callable<?>> calls = new LinkedHashMap<>();
        calls.put("allocateDirect", () -> DirectMemory.allocateDirect(64));
        calls.put("allocateDirectAligned", () -> DirectMemory.allocateDirectAligned(8192, 4096));
        calls.put("topAllocationSites", () -> DirectMemory.topAllocationSites(5));
        calls.put("stats", DirectMemory::stats);
        calls.put("fill", () -> {
            DirectMemory.fill(buffer, (byte) 3);
            return buffer.get(8191) == 3 ? null : "not filled";
        });
        calls.put("free", () -> {
            DirectMemory.free(buffer);
            return buffer.capacity() == 0 ? null : "not freed";
        });
        calls.put("stats again", () -> DirectMemory.stats().freedBytes() == 8192 ? null : DirectMemory.stats());
        for (Map.Entry<String, Callable<?>> call : calls.entrySet()) {
            String outcome;
            try {
                Object result = call.getValue().call();
                outcome = result instanceof String ? result.toString() : "ok";
            } catch (Throwable t) {
                outcome = t.getClass().getName() + ": " + t.getMessage();
            }
            System.out.println("CALL " + call.getKey() + " " + outcome);
        }
    }

    private static void jdkInterfaces() throws ReflectiveOperationException {
        ByteBuffer buffer = DirectMemory.allocateDirect(64 << 10); // a block of its own
        Class<?> unsafeClass = Class.forName("sun.misc.Unsafe");
        Field theUnsafe = unsafeClass.getDeclaredField("theUnsafe");
        theUnsafe.setAccessible(true);
        Method invokeCleaner = unsafeClass.getMethod("invokeCleaner", ByteBuffer.class);
        try {
            invokeCleaner.invoke(theUnsafe.get(null), buffer);
            System.out.println("INVOKECLEANER returned");
        } catch (InvocationTargetException e) {
            System.out.println("INVOKECLEANER " + e.getCause());
        }
        buffer.put(65535, (byte) 9);
        System.out.println("STILL USABLE " + (buffer.capacity() == 64 << 10 && buffer.get(65535) == 9));

        Class<?> directBuffer = Class.forName("sun.nio.ch.DirectBuffer");
        System.out.println("CLEANER " + directBuffer.getMethod("cleaner").invoke(buffer));
        Object attachment = directBuffer.getMethod("attachment").invoke(buffer);
        System.out.println("ATTACHMENT " + (attachment instanceof ByteBuffer ? "a ByteBuffer"
                : attachment == null ? "null" : attachment.getClass().getName()));
        DirectMemory.free(buffer);
        System.out.println("FREED " + DirectMemory.stats().freedBytes());
    }
}
