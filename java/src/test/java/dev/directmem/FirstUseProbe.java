package dev.directmem;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Run in a child JVM by {@link FaultsTest}: directmem's first use in a situation that must not
 * leave it unavailable for the life of the JVM. The first argument picks the situation:
 * {@code interrupted} (a cancelled task), {@code jdk-direct-memory-full} (the JDK's own direct
 * buffers fill -XX:MaxDirectMemorySize), {@code deep} (the bottom of a small stack, tried again
 * one frame higher after each StackOverflowError), {@code stack-overflow} and {@code heap-full}
 * (the setup fails once so, through a test hook), {@code internals-first} (a class of the
 * package used before the public API), {@code context-loader} (a first caller with a class loader
 * of its own) or {@code plain}.
 */
final class FirstUseProbe {
    private FirstUseProbe() {}

    /** Kept reachable: the JDK's buffers that fill its direct memory. */
    private static final List<ByteBuffer> JDK_BUFFERS = new ArrayList<>();

    public static void main(String[] args) throws InterruptedException, ClassNotFoundException {
        switch (args[0]) {
            case "interrupted" -> interrupted();
            case "jdk-direct-memory-full" -> jdkDirectMemoryFull();
            case "deep" -> deep();
            case "plain" -> System.out.println("FIRST " + DirectMemory.allocateDirect(64).capacity() + ", budget "
                    + DirectMemory.stats().maxMemory());
            case "internals-first" -> internalsFirst();
            case "context-loader" -> contextLoader();
            case "stack-overflow" -> passingFailure(new StackOverflowError("planted"));
            case "heap-full" -> passingFailure(new OutOfMemoryError("planted: Java heap space"));
            default -> throw new IllegalArgumentException(args[0]);
        }
        Thread other = new Thread(() -> {
            try {
                System.out.println("THEN " + DirectMemory.allocateDirect(64).capacity() + " on another thread");
            } catch (Throwable t) {
                System.out.println("THEN FAILED " + t);
            }
        });
        other.start();
        other.join();
    }

    private static void interrupted() {
        Thread.currentThread().interrupt();
        try {
            int capacity = DirectMemory.allocateDirect(64).capacity();
            System.out.println("FIRST " + capacity + ", still interrupted: " + Thread.interrupted());
        } catch (Throwable t) {
            System.out.println("FIRST FAILED " + t);
            Thread.interrupted();
        }
    }

    /** A class of the package used before the public API, as tests do: its initializer sets up. */
    private static void internalsFirst() {
        System.out.println("TAKES " + SharedBlock.takes(64));
        System.out.println("FIRST " + DirectMemory.allocateDirect(64).capacity());
    }

    /**
     * The first use on a thread whose context class loader is an application's own: directmem's
     * threads must not keep it (they have directmem's loader).
     */
    private static void contextLoader() {
        ClassLoader own = new java.net.URLClassLoader(new java.net.URL[0], FirstUseProbe.class.getClassLoader());
        Thread.currentThread().setContextClassLoader(own);
        System.out.println("FIRST " + DirectMemory.allocateDirect(64).capacity());
        Thread.currentThread().setContextClassLoader(FirstUseProbe.class.getClassLoader());
        for (Thread thread : Thread.getAllStackTraces().keySet()) {
            if (thread.getName().startsWith("directmem-")) {
                ClassLoader loader = thread.getContextClassLoader();
                System.out.println("LOADER " + thread.getName() + " "
                        + (loader == own ? "the first caller's" : loader == DirectMemory.class.getClassLoader()
                                ? "directmem's" : String.valueOf(loader)));
            }
        }
    }

    /** The setup fails once with {@code error}, as it might at the bottom of a deep stack or with the heap full. */
    private static void passingFailure(Error error) {
        Native.failNextSetupForTesting(error);
        try {
            System.out.println("FIRST " + DirectMemory.allocateDirect(64).capacity());
        } catch (Throwable t) {
            System.out.println("FIRST FAILED " + t);
        }
        try {
            System.out.println("SECOND " + DirectMemory.allocateDirect(64).capacity());
        } catch (Throwable t) {
            System.out.println("SECOND FAILED " + t);
        }
    }

    private static void jdkDirectMemoryFull() {
        try {
            while (true) {
                JDK_BUFFERS.add(ByteBuffer.allocateDirect(64 << 10));
            }
        } catch (OutOfMemoryError e) {
            System.out.println("JDK FULL with " + JDK_BUFFERS.size() + " buffers: " + e.getMessage());
        }
        try {
            System.out.println("FIRST " + DirectMemory.allocateDirect(64).capacity() + " with the JDK's full");
        } catch (Throwable t) {
            System.out.println("FIRST FAILED " + t);
            t.printStackTrace(System.out);
        }
    }

    /** The outcome of each attempt, from the bottom of the stack up: null for success. */
    private static final Throwable[] ATTEMPTS = new Throwable[1 << 16];
    private static int attempts;
    private static int capacity = -1;

    /**
     * Recurses to the bottom of a 256 KiB stack, then tries the first use on the way back up: one
     * attempt per frame until one succeeds. A StackOverflowError may end any attempt; nothing
     * else may.
     */
    private static void deep() throws InterruptedException, ClassNotFoundException {
        // directmem's classes loaded (not initialized) first: reading a jar at the bottom of the
        // stack can fail the initializer of a JDK class (java.util.zip.CRC32), which no library
        // can mend, and which any program that got that far from its own jar has run already.
        for (String name : List.of("DirectMemory", "Native", "NativeLibrary", "Budget", "Allocation")) {
            Class.forName("dev.directmem." + name, false, FirstUseProbe.class.getClassLoader());
        }
        Thread deep = new Thread(null, () -> descend(0), "deep", 256 << 10);
        deep.start();
        deep.join();
        int overflows = 0;
        List<String> others = new ArrayList<>();
        for (int i = 0; i < attempts; i++) {
            if (ATTEMPTS[i] instanceof StackOverflowError) {
                overflows++;
            } else if (ATTEMPTS[i] != null) {
                others.add(ATTEMPTS[i].toString());
            }
        }
        System.out.println("DEEP attempts " + attempts + ", overflows " + overflows + ", other failures "
                + others.stream().distinct().toList() + " (" + others.size() + "), capacity " + capacity);
    }

    private static void descend(int depth) {
        try {
            descend(depth + 1);
        } catch (StackOverflowError bottom) {
            // fall through: try here, one frame above the last overflow
        }
        if (capacity >= 0 || attempts == ATTEMPTS.length) {
            return;
        }
        Throwable outcome = null;
        try {
            capacity = DirectMemory.allocateDirect(64).capacity();
        } catch (Throwable t) {
            outcome = t;
        }
        ATTEMPTS[attempts++] = outcome; // no call: cannot overflow
    }
}
