package dev.directmem;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Run in a child JVM by {@link FaultsTest}: directmem's first use in a situation that must not
 * leave it unavailable for the life of the JVM. The first argument picks the situation:
 * {@code interrupted} (a cancelled task), {@code jdk-direct-memory-full} (the JDK's own direct
 * buffers fill -XX:MaxDirectMemorySize), {@code stack-overflow} and {@code heap-full}
 * (the setup fails once so, through a test hook), {@code internals-first} (a class of the
 * package used before the public API), {@code context-loader} (a first caller with a class loader
 * of its own) or {@code plain}.
 */
final class FirstUseProbe {
    private FirstUseProbe() {}

    /** Kept reachable: the JDK's buffers that fill its direct memory. */
    private static final List<ByteBuffer> JDK_BUFFERS = new ArrayList<>();

    public static void main(String[] args) throws InterruptedException {
        switch (args[0]) {
            case "interrupted" -> interrupted();
            case "jdk-direct-memory-full" -> jdkDirectMemoryFull();
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
}
