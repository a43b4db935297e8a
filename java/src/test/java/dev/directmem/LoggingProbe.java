package dev.directmem;

/** The main class LoggingTest runs in a JVM of its own: fills a 4 MiB budget twice over. */
final class LoggingProbe {
    private LoggingProbe() {}

    /** With the argument {@code panic}, a deliberate Rust panic too, which logs an error. */
    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("panic")) {
            Native.checkAvailable(); // loads the library the test hook is in
            try {
                Native.panicForTesting();
            } catch (IllegalStateException expected) {
                System.out.println("panic arrived as " + expected.getClass().getSimpleName());
            }
        }
        for (int i = 0; i < 8; i++) {
            DirectMemory.allocateDirect(1 << 20).put(0, (byte) i);
        }
        System.out.println("probe ok");
    }
}
