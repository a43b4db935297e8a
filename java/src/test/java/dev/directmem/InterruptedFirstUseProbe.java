package dev.directmem;

/** Run in a child JVM by {@link FaultsTest}: directmem's first use is on an interrupted thread. */
final class InterruptedFirstUseProbe {
    private InterruptedFirstUseProbe() {}

    public static void main(String[] args) throws InterruptedException {
        Thread.currentThread().interrupt();
        try {
            int capacity = DirectMemory.allocateDirect(64).capacity();
            System.out.println("FIRST " + capacity + ", still interrupted: " + Thread.interrupted());
        } catch (Throwable t) {
            System.out.println("FIRST FAILED " + t);
            Thread.interrupted();
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
}
