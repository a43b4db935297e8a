package dev.directmem;

import java.lang.System.Logger.Level;
import java.lang.management.ManagementFactory;
import javax.management.JMException;
import javax.management.MBeanServerFactory;
import javax.management.ObjectName;

/**
 * The MBean behind {@link DirectMemoryMXBean}, registered once with the platform MBean server.
 *
 * <p>Only once the JVM has an MBean server: creating the platform one loads about a thousand
 * classes and objects that every full collection then walks (measured: 1 MiB buffers dropped
 * through a 64 MiB budget, forced collections 2.8 ms instead of 4.3 ms, a third more buffers
 * per second without it). So an application that never uses JMX never pays for it; one that
 * does (an agent, an exporter, JConsole attaching) finds the bean within a second.
 */
final class Monitoring implements DirectMemoryMXBean {
    /** Registered, turned off, or failed for good: nothing more to try. */
    private static volatile boolean settled;

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
            if (MBeanServerFactory.findMBeanServer(null).isEmpty()) {
                return; // none yet: creating one is the cost this avoids
            }
            settled = true;
            ObjectName name = new ObjectName(OBJECT_NAME);
            var server = ManagementFactory.getPlatformMBeanServer();
            if (server.isRegistered(name)) {
                // Another copy of directmem (another class loader) got there first.
                log().log(Level.WARNING, "{0} is already registered; not registering this copy", OBJECT_NAME);
                return;
            }
            server.registerMBean(new Monitoring(name), name);
        } catch (JMException | RuntimeException | LinkageError e) {
            settled = true;
            log().log(Level.WARNING, "could not register " + OBJECT_NAME, e);
        } catch (VirtualMachineError e) {
            settled = false; // not this bean's fault: the next try may well succeed
        }
    }

    private static DirectMemoryStats stats() {
        return DirectMemoryStats.fromNative(Native.stats());
    }

    @Override
    public ObjectName getObjectName() {
        return name;
    }

    @Override
    public String getName() {
        return "directmem";
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
