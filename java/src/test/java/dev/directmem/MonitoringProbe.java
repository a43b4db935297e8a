package dev.directmem;

import java.lang.management.ManagementFactory;
import javax.management.MBeanServerFactory;
import javax.management.ObjectName;

/**
 * Run in a child JVM by {@link MonitoringTest}: directmem in use creates no MBean server, and its
 * bean appears within seconds of the application creating one. With the argument
 * {@code own-server}, the application first makes a server of its own, which is not the platform
 * one: directmem must not take it for that and create the platform server.
 */
final class MonitoringProbe {
    private MonitoringProbe() {}

    /** With the argument {@code busy}, 1 MiB buffers are dropped all along, so that releases never pause. */
    public static void main(String[] args) throws Exception {
        boolean ownServer = args.length > 0 && args[0].equals("own-server");
        var own = ownServer ? MBeanServerFactory.createMBeanServer() : null;
        DirectMemory.free(DirectMemory.allocateDirect(4096));
        if (ownServer) {
            Thread.sleep(2500); // the reporter looks for the platform server once a second
        }
        if (args.length > 0 && args[0].equals("busy")) {
            Thread churn = new Thread(() -> {
                while (true) {
                    DirectMemory.allocateDirect(1 << 20).put(0, (byte) 1);
                    try {
                        Thread.sleep(2);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            churn.setDaemon(true);
            churn.start();
            Thread.sleep(500);
        }
        System.out.println("SERVERS " + (MBeanServerFactory.findMBeanServer(null).size() - (ownServer ? 1 : 0)));
        if (ownServer) {
            System.out.println("IN THE APPLICATION'S OWN SERVER "
                    + own.isRegistered(new ObjectName(DirectMemoryMXBean.OBJECT_NAME)));
        }
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
