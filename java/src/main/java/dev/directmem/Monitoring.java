package dev.directmem;

import java.lang.System.Logger.Level;
import java.lang.management.ManagementFactory;
import javax.management.AttributeList;
import javax.management.InstanceAlreadyExistsException;
import javax.management.InstanceNotFoundException;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.MBeanServerFactory;
import javax.management.ObjectName;
import javax.management.StandardMBean;

/**
 * The MBean behind {@link DirectMemoryMXBean}, registered once with the platform MBean server.
 *
 * <p>Only once the JVM has an MBean server: creating the platform one loads about a thousand
 * classes and objects that every full collection then walks (measured: 1 MiB buffers dropped
 * through a 64 MiB budget, forced collections 2.8 ms instead of 4.3 ms, a third more buffers
 * per second without it). So an application that never uses JMX never pays for it; one that
 * does (an agent, an exporter, JConsole attaching) finds the bean within a second.
 *
 * <p>Another copy of directmem in the JVM (loaded by another class loader, as a redeployed web
 * application's) has a budget of its own, and registers as {@code name=directmem-2}, and so on.
 *
 * <p>Registered as a {@link OneSnapshot}: the attributes one {@code getAttributes} call reads come
 * from one snapshot of the counters, as {@link DirectMemory#stats()} returns them.
 */
final class Monitoring implements DirectMemoryMXBean {
    /** Registered, turned off, or failed for good: nothing more to try. */
    private static volatile boolean settled;

    /** The most copies of directmem whose beans are told apart by a number in their name. */
    private static final int MAX_COPIES = 16;

    private final ObjectName name;

    /** Not a static field: an initializer that failed (the Java heap full) is never run again. */
    private static System.Logger log() {
        return System.getLogger("dev.directmem");
    }

    private Monitoring(ObjectName name) {
        this.name = name;
    }

    /** Whether registration is still waiting for an MBean server (then call {@link #register} again). */
    static boolean pending() {
        return !settled;
    }

    /**
     * Registers the bean if the JVM has an MBean server by now; called at first use and then once
     * a second by the reporter thread while {@link #pending}. A failure is logged, never thrown;
     * after a VirtualMachineError (the Java heap full for a moment) it stays pending, to be tried
     * again.
     */
    static synchronized void register() {
        if (settled) {
            return;
        }
        try {
            if (!Budget.jmx()) { // Native checked the value at startup: a later change is logged below
                settled = true;
                return;
            }
            if (!platformServerExists()) {
                return; // not yet: creating it is the cost this avoids
            }
            settled = true;
            registerFirstFreeName(ManagementFactory.getPlatformMBeanServer());
        } catch (VirtualMachineError e) {
            settled = false; // not this bean's fault: the next try may well succeed
        } catch (JMException | RuntimeException | Error e) { // a listener's AssertionError too
            settled = true;
            log().log(Level.WARNING, "could not register " + OBJECT_NAME, e);
        }
    }

    /**
     * Whether the platform MBean server exists. Another server alone (one a framework made for
     * itself with {@code MBeanServerFactory}) is not it, and asking for the platform one would
     * create it; the platform server holds the JDK's own beans, which it registers as it is
     * created (a server found before they are in is found again at the next try): the runtime's,
     * and, where the JDK has HotSpot's diagnostic commands (not OpenJ9, nor a runtime without
     * jdk.management), theirs, which a framework mirroring platform beans into its own server is
     * unlikely to copy. A server that throws when asked is not it.
     */
    private static boolean platformServerExists() throws JMException {
        ObjectName runtime = new ObjectName(ManagementFactory.RUNTIME_MXBEAN_NAME);
        ObjectName commands = hasDiagnosticCommands()
                ? new ObjectName("com.sun.management:type=DiagnosticCommand")
                : runtime;
        for (MBeanServer server : MBeanServerFactory.findMBeanServer(null)) {
            try {
                if (server.isRegistered(runtime) && server.isRegistered(commands)) {
                    return true;
                }
            } catch (RuntimeException refused) {
                // not the platform server, or not yet: the next try asks again
            }
        }
        return false;
    }

    /** Whether the JDK registers HotSpot's diagnostic-command bean: its class is there. */
    private static boolean hasDiagnosticCommands() {
        try {
            Class.forName("com.sun.management.internal.DiagnosticCommandImpl", false,
                    ClassLoader.getPlatformClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError | SecurityException absent) {
            return false;
        }
    }

    /**
     * Registers under {@link #OBJECT_NAME}, or, where another copy of directmem (another class
     * loader) holds it, under the first of {@code name=directmem-2} to {@code -16} that is free.
     * A name this copy holds already ends the search: a try that threw after the server took the
     * bean (a registration listener's StackOverflowError, which the server lets through) left it.
     */
    private static void registerFirstFreeName(MBeanServer server) throws JMException {
        boolean retried = false;
        for (int copy = 1; copy <= MAX_COPIES; copy++) {
            ObjectName name = new ObjectName(copy == 1 ? OBJECT_NAME : OBJECT_NAME + "-" + copy);
            try {
                server.registerMBean(new OneSnapshot(new Monitoring(name)), name);
            } catch (InstanceAlreadyExistsException taken) {
                try {
                    if (server.isInstanceOf(name, Monitoring.class.getName())
                            && server.getClassLoaderFor(name) == Monitoring.class.getClassLoader()) {
                        return; // this copy's own
                    }
                } catch (InstanceNotFoundException gone) {
                    if (!retried) {
                        retried = true;
                        copy--; // unregistered since: try the name again, once
                    }
                }
                continue;
            }
            if (copy > 1) {
                log().log(Level.INFO, "another copy of directmem (another class loader) holds {0}: "
                        + "this copy, with a budget of its own, registers as {1}", OBJECT_NAME, name);
            }
            return;
        }
        log().log(Level.WARNING, "{0} and its {1} numbered names are held by other copies of directmem: "
                + "this copy is not registered", OBJECT_NAME, MAX_COPIES - 1);
    }

    /** The snapshot of the {@code getAttributes} call this thread is in, if any. */
    private static final ThreadLocal<DirectMemoryStats> SNAPSHOT = new ThreadLocal<>();

    private static DirectMemoryStats stats() {
        DirectMemoryStats taken = SNAPSHOT.get();
        return taken != null ? taken : DirectMemoryStats.fromNative(Native.stats());
    }

    /**
     * The bean as registered, an MXBean still: one {@code getAttributes} call reads all its
     * attributes from one snapshot. Before, each attribute took a snapshot of its own, and an
     * exporter reading TotalCapacity and MemoryUsed together under churn could see a capacity
     * above the memory used.
     */
    static final class OneSnapshot extends StandardMBean {
        OneSnapshot(Monitoring bean) {
            super(bean, DirectMemoryMXBean.class, true);
        }

        @Override
        public AttributeList getAttributes(String[] attributes) {
            try {
                SNAPSHOT.set(DirectMemoryStats.fromNative(Native.stats()));
            } catch (RuntimeException e) {
                // Each attribute then reads on its own, and one that fails is left out of the
                // list, as a StandardMBean's would be; the whole call must not fail for it.
                return super.getAttributes(attributes);
            }
            try {
                return super.getAttributes(attributes);
            } finally {
                SNAPSHOT.remove();
            }
        }
    }

    @Override
    public ObjectName getObjectName() {
        return name;
    }

    @Override
    public String getName() {
        return name.getKeyProperty("name");
    }

    @Override
    public long getCount() {
        return stats().count();
    }

    @Override
    public long getTotalCapacity() {
        return stats().totalCapacity();
    }

    @Override
    public long getMemoryUsed() {
        return stats().memoryUsed();
    }

    @Override
    public long getMaxMemory() {
        return stats().maxMemory();
    }

    @Override
    public long getPeakMemoryUsed() {
        return stats().peakMemoryUsed();
    }

    @Override
    public long getCollections() {
        return stats().collections();
    }

    @Override
    public long getReclaimedBytes() {
        return stats().reclaimedBytes();
    }

    @Override
    public long getFreedBytes() {
        return stats().freedBytes();
    }

    @Override
    public long getFailedAllocations() {
        return stats().failedAllocations();
    }
}
