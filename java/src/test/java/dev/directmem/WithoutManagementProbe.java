package dev.directmem;

/**
 * Run in a child JVM by {@link MonitoringTest} in a runtime without {@code java.management}:
 * uses directmem, waits, and prints the state of the reporter thread, which has no MBean to
 * register there.
 */
final class WithoutManagementProbe {
    private WithoutManagementProbe() {}

    public static void main(String[] args) throws Exception {
        System.out.println("MANAGEMENT IN THIS RUNTIME " + ModuleLayer.boot().findModule("java.management").isPresent());
        DirectMemory.free(DirectMemory.allocateDirect(4096));
        Thread.sleep(3000);
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().equals("directmem-reporter")) {
                System.out.println("REPORTER " + t.getState());
            }
        }
    }
}
