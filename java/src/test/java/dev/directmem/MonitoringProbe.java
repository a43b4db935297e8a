package dev.directmem;

import java.lang.management.ManagementFactory;
import javax.management.MBeanServerFactory;
import javax.management.ObjectName;

/**
 * Run in a child JVM by {@link MonitoringTest}: directmem in use creates no MBean server, and its
 * bean appears within seconds of the application creating one.
 */
final class MonitoringProbe {
    private MonitoringProbe() {}

    public static void main(String[] args) throws Exception {
        DirectMemory.free(DirectMemory.allocateDirect(4096));
        System.out.println("SERVERS " + MBeanServerFactory.findMBeanServer(null).size());
        long created = System.nanoTime();
        var server = ManagementFactory.getPlatformMBeanServer();
        ObjectName name = new ObjectName(DirectMemoryMXBean.OBJECT_NAME);
        while (!server.isRegistered(name) && System.nanoTime() - created < 5_000_000_000L) {
            Thread.sleep(10);
        }
        System.out.println("REGISTERED " + server.isRegistered(name) + " after "
                + (System.nanoTime() - created) / 1_000_000 + " ms");
    }
}
