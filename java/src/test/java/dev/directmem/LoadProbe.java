package dev.directmem;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A child JVM's first use of directmem, for the library-loading fault tests: prints the outcome
 * ("LOADED" or "FAILED <exception>: <message>" with its causes) and exits 0 or 3. With
 * {@code arguments-first}, calls with invalid arguments come first, each printed as
 * "REJECTED <call>: <exception>", then the names of directmem's threads.
 */
final class LoadProbe {
    private LoadProbe() {}

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("arguments-first")) {
            ByteBuffer heap = ByteBuffer.allocate(8);
            reject("allocateDirect(-1)", () -> DirectMemory.allocateDirect(-1));
            reject("allocateDirectAligned(16, 3)", () -> DirectMemory.allocateDirectAligned(16, 3));
            reject("allocateDirectAligned(-1, 16)", () -> DirectMemory.allocateDirectAligned(-1, 16));
            reject("topAllocationSites(-1)", () -> DirectMemory.topAllocationSites(-1));
            reject("free(a heap buffer)", () -> DirectMemory.free(heap));
            reject("fill(a heap buffer)", () -> DirectMemory.fill(heap, (byte) 1));
            List<String> threads = Thread.getAllStackTraces().keySet().stream().map(Thread::getName)
                    .filter(name -> name.startsWith("directmem")).sorted().collect(Collectors.toList());
            System.out.println("DIRECTMEM THREADS " + threads);
        }
        try {
            ByteBuffer buffer = DirectMemory.allocateDirect(16);
            DirectMemory.free(buffer);
            System.out.println("LOADED");
            System.exit(0);
        } catch (Throwable e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                System.out.println((t == e ? "FAILED " : "CAUSE ") + t);
            }
            System.exit(3);
        }
    }

    private static void reject(String call, Runnable body) {
        try {
            body.run();
            System.out.println("ACCEPTED " + call);
        } catch (Throwable e) {
            System.out.println("REJECTED " + call + ": " + e);
        }
    }
}
