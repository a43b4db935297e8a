package dev.directmem;

/**
 * Run in a child JVM by {@link ReclamationTest}, with a 64 MiB budget: holds 60 MiB live while
 * another thread allocates and drops 1 MiB buffers back to back, asks for 8 MiB, which can never
 * fit, and prints the error. In a child JVM, because inside the test JVM the other thread ran
 * far less (a few dozen buffers while the request failed, against thousands here) and the old
 * rule's fault did not show. A failed assertion exits non-zero.
 */
final class BackToBackDropsProbe {
    private BackToBackDropsProbe() {}

    public static void main(String[] args) throws Exception {
        ReclamationTest.Outcome outcome = ReclamationTest.failWithLiveBuffersWhileAnotherThread(
                "DROPS BACK TO BACK", 0, () -> DirectMemory.allocateDirect(1 << 20).put(0, (byte) 1));
        System.out.println("FAILED: " + outcome.error().getMessage());
    }
}
