package dev.directmem;

import java.lang.System.Logger.Level;
import java.lang.management.ManagementFactory;
import javax.management.JMException;
import javax.management.ObjectName;

/** The MBean behind {@link DirectMemoryMXBean}, registered once when {@link Native} initialises. */
final class Monitoring implements DirectMemoryMXBean {
    static final String ENABLED_PROPERTY = "directmem.jmx";
    private static final System.Logger LOG = System.getLogger("dev.directmem");

    private final ObjectName name;

    private Monitoring(ObjectName name) {
        this.name = name;
    }

    /** Registers the bean with the platform MBean server; a failure is logged, never thrown. */
    static void register() {
        if ("false".equalsIgnoreCase(System.getProperty(ENABLED_PROPERTY))) {
            return;
        }
        try {
            ObjectName name = new ObjectName(OBJECT_NAME);
            var server = ManagementFactory.getPlatformMBeanServer();
            if (server.isRegistered(name)) {
                // Another copy of directmem (another class loader) got there first.
                LOG.log(Level.WARNING, "{0} is already registered; not registering this copy", OBJECT_NAME);
                return;
            }
            server.registerMBean(new Monitoring(name), name);
        } catch (JMException | RuntimeException | LinkageError e) {
            LOG.log(Level.WARNING, "could not register " + OBJECT_NAME, e);
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
