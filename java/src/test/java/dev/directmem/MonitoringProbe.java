package dev.directmem;

import java.lang.management.ManagementFactory;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.Set;
import javax.management.MBeanServer;
import javax.management.MBeanServerBuilder;
import javax.management.MBeanServerDelegate;
import javax.management.MBeanServerFactory;
import javax.management.MBeanServerNotification;
import javax.management.ObjectName;

/**
 * Run in a child JVM by {@link MonitoringTest}: directmem in use creates no MBean server, and its
 * bean appears within seconds of the application creating one. With the argument
 * {@code own-server}, the application first makes a server of its own, which is not the platform
 * one: directmem must not take it for that and create the platform server. With
 * {@code throwing-server}, that server of its own throws when asked which beans it holds, as a
 * guarded one may: directmem must pass it over and still register once the platform server exists.
 * With {@code failing-listener}, a listener on the platform server throws StackOverflowError at
 * the bean's first registration notification, after the server took the bean: directmem must
 * find its own bean at the next try, not register a second one under a numbered name.
 */
final class MonitoringProbe {
    private MonitoringProbe() {}

    /** With the argument {@code busy}, 1 MiB buffers are dropped all along, so that releases never pause. */
    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("failing-listener")) {
            failingListener();
            return;
        }
        boolean throwingServer = args.length > 0 && args[0].equals("throwing-server");
        boolean ownServer = throwingServer || args.length > 0 && args[0].equals("own-server");
        MBeanServer own = throwingServer ? createThrowingServer()
                : ownServer ? MBeanServerFactory.createMBeanServer() : null;
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
        if (ownServer && !throwingServer) {
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

    private static void failingListener() throws Exception {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        boolean[] thrown = {false};
        server.addNotificationListener(MBeanServerDelegate.DELEGATE_NAME, (notification, handback) -> {
            if (notification instanceof MBeanServerNotification registered
                    && registered.getType().equals(MBeanServerNotification.REGISTRATION_NOTIFICATION)
                    && registered.getMBeanName().toString().contains("name=directmem")
                    && !thrown[0]) {
                thrown[0] = true;
                throw new StackOverflowError("planted in a registration listener");
            }
        }, null, null);
        DirectMemory.free(DirectMemory.allocateDirect(4096));
        Thread.sleep(2500); // the reporter tries again once a second
        System.out.println("THROWN " + thrown[0]);
        System.out.println("BEANS " + server.queryNames(new ObjectName("java.nio:type=BufferPool,name=directmem*"), null));
    }

    /**
     * An MBean server from {@code MBeanServerFactory}, so that directmem finds it, which throws
     * SecurityException when asked whether a bean is registered or which names it holds.
     */
    private static MBeanServer createThrowingServer() {
        System.setProperty("javax.management.builder.initial", ThrowingServerBuilder.class.getName());
        try {
            return MBeanServerFactory.createMBeanServer();
        } finally {
            System.clearProperty("javax.management.builder.initial"); // the platform server is a plain one
        }
    }

    /** Builds servers that refuse {@code isRegistered}, {@code queryNames} and {@code queryMBeans}. */
    public static final class ThrowingServerBuilder extends MBeanServerBuilder {
        private static final Set<String> REFUSED = Set.of("isRegistered", "queryNames", "queryMBeans");

        @Override
        public MBeanServer newMBeanServer(String defaultDomain, MBeanServer outer, MBeanServerDelegate delegate) {
            MBeanServer server = super.newMBeanServer(defaultDomain, outer, delegate);
            return (MBeanServer) Proxy.newProxyInstance(MBeanServer.class.getClassLoader(),
                    new Class<?>[] {MBeanServer.class}, (proxy, method, methodArgs) -> {
                        if (REFUSED.contains(method.getName())) {
                            throw new SecurityException("this server does not say which beans it holds");
                        }
                        try {
                            return method.invoke(server, methodArgs);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
        }
    }
}
