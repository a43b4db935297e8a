package dev.directmem;

/**
 * A child JVM's first use of directmem, for the library-loading fault tests: prints the outcome
 * ("LOADED" or "FAILED <exception>: <message>" with its causes) and exits 0 or 3.
 */
final class LoadProbe {
    private LoadProbe() {}

    public static void main(String[] args) {
        try {
            java.nio.ByteBuffer buffer = DirectMemory.allocateDirect(16);
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
}
