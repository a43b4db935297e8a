package dev.directmem;

/** The main class LoggingTest runs in a JVM of its own: fills a 4 MiB budget twice over. */
final class LoggingProbe {
    private LoggingProbe() {}

    public static void main(String[] args) {
        for (int i = 0; i < 8; i++) {
            DirectMemory.allocateDirect(1 << 20).put(0, (byte) i);
        }
        System.out.println("probe ok");
    }
}
