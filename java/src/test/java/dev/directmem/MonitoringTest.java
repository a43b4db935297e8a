package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import javax.management.Attribute;
import javax.management.JMX;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The java.nio:type=BufferPool,name=directmem MBean, read as JConsole and exporters read it. */
class MonitoringTest {
    private static final long BUDGET = 64L << 20;

    /** The platform MBean server, once directmem's bean is in it: at most a second after it exists. */
    static MBeanServer serverWithTheBean() throws Exception {
        DirectMemory.stats(); // directmem in use
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        ObjectName name = new ObjectName(DirectMemoryMXBean.OBJECT_NAME);
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!server.isRegistered(name) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        return server;
    }

    @Test
    void thePoolIsRegisteredBesideTheJdksPools() throws Exception {
        MBeanServer server = serverWithTheBean();
        Set<String> pools = server.queryNames(new ObjectName("java.nio:type=BufferPool,*"), null).stream()
                .map(name -> name.getKeyProperty("name")).collect(Collectors.toSet());
        assertTrue(pools.containsAll(Set.of("direct", "mapped", "directmem")), pools.toString());
    }

    @Test
    void attributesFollowTheLedger() throws Exception {
        MBeanServer server = serverWithTheBean();
        ObjectName name = new ObjectName(DirectMemoryMXBean.OBJECT_NAME);
        ByteBuffer held = DirectMemory.allocateDirect(12345);
        try {
            assertEquals("directmem", server.getAttribute(name, "Name"));
            assertEquals(BUDGET, server.getAttribute(name, "MaxMemory"));
            assertTrue((Long) server.getAttribute(name, "Count") >= 1);
            assertTrue((Long) server.getAttribute(name, "TotalCapacity") >= 12345);
            assertTrue((Long) server.getAttribute(name, "MemoryUsed") >= 12345);
            assertTrue((Long) server.getAttribute(name, "PeakMemoryUsed") >= 12345);

            // Through the standard interface, as JMX exporters see every buffer pool.
            BufferPoolMXBean pool = JMX.newMXBeanProxy(server, name, BufferPoolMXBean.class);
            assertEquals("directmem", pool.getName());
            long freedBefore = JMX.newMXBeanProxy(server, name, DirectMemoryMXBean.class).getFreedBytes();
            DirectMemory.free(held);
            long freedAfter = JMX.newMXBeanProxy(server, name, DirectMemoryMXBean.class).getFreedBytes();
            assertEquals(12345, freedAfter - freedBefore);
        } finally {
            DirectMemory.free(held);
        }
    }

    private static final int MIB = 1 << 20;

    /** The attributes besides Name, as DirectMemoryStats has them. */
    private static final String[] COUNTERS = {"Count", "TotalCapacity", "MemoryUsed", "MaxMemory", "PeakMemoryUsed",
        "Collections", "ReclaimedBytes", "FreedBytes", "FailedAllocations"};

    /** The counter attributes by name, read with one getAttributes call. */
    private static Map<String, Long> attributes(MBeanServer server, ObjectName name, String... names)
            throws Exception {
        Map<String, Long> values = new LinkedHashMap<>();
        for (Attribute a : server.getAttributes(name, names).asList()) {
            values.put(a.getName(), (Long) a.getValue());
        }
        assertEquals(List.of(names), List.copyOf(values.keySet()));
        return values;
    }

    private static Map<String, Long> asAttributes(DirectMemoryStats s) {
        Map<String, Long> values = new LinkedHashMap<>();
        values.put("Count", s.count());
        values.put("TotalCapacity", s.totalCapacity());
        values.put("MemoryUsed", s.memoryUsed());
        values.put("MaxMemory", s.maxMemory());
        values.put("PeakMemoryUsed", s.peakMemoryUsed());
        values.put("Collections", s.collections());
        values.put("ReclaimedBytes", s.reclaimedBytes());
        values.put("FreedBytes", s.freedBytes());
        values.put("FailedAllocations", s.failedAllocations());
        return values;
    }

    /**
     * The stats and the attributes of one getAttributes call, read while nothing changed (the
     * same stats before and after it): they must be the same figures.
     */
    private static DirectMemoryStats settledAndAttributesAgree(MBeanServer server, ObjectName name)
            throws Exception {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (true) {
            DirectMemoryStats stats = DirectMemory.stats();
            Map<String, Long> read = attributes(server, name, COUNTERS);
            if (stats.equals(DirectMemory.stats()) || System.nanoTime() > deadline) {
                assertEquals(asAttributes(stats), read);
                return stats;
            }
            Thread.sleep(100);
        }
    }

    /**
     * Each counter attribute is its DirectMemory.stats() field, and moves as the ledger does: a
     * free, two refused allocations, and a collection that reclaims a dropped buffer. Before,
     * four of them were checked only as not negative: a getter returning another counter passed.
     */
    @Test
    void eachCounterAttributeIsItsStatsFieldAndMovesWithIt() throws Exception {
        MBeanServer server = serverWithTheBean();
        ObjectName name = new ObjectName(DirectMemoryMXBean.OBJECT_NAME);
        ByteBuffer held = DirectMemory.allocateDirect(12345);
        DirectMemoryStats before = settledAndAttributesAgree(server, name);
        DirectMemory.free(held);
        for (int i = 0; i < 2; i++) {
            assertThrows(OutOfMemoryError.class, () -> DirectMemory.allocateDirect(65 * MIB));
        }
        DirectMemory.allocateDirect(40 * MIB).put(0, (byte) 1); // dropped
        // Fits only once the dropped one is reclaimed: a collection.
        ByteBuffer second = DirectMemory.allocateDirect(40 * MIB);
        DirectMemory.free(second);
        DirectMemoryStats after = settledAndAttributesAgree(server, name);

        assertEquals(2, after.failedAllocations() - before.failedAllocations());
        assertEquals(12345 + 40L * MIB, after.freedBytes() - before.freedBytes());
        assertTrue(after.collections() - before.collections() >= 1, after.toString());
        assertTrue(after.reclaimedBytes() - before.reclaimedBytes() >= 40L * MIB, after.toString());
        assertTrue(after.peakMemoryUsed() >= 40L * MIB, after.toString());
        assertEquals(BUDGET, after.maxMemory());
    }

    /**
     * One getAttributes call reads one snapshot: under churn, TotalCapacity never exceeds
     * MemoryUsed (before, each attribute took a snapshot of its own, and a capacity read while a
     * buffer was live could come with the memory used read after its free).
     */
    @Test
    void oneGetAttributesCallReadsOneSnapshot() throws Exception {
        MBeanServer server = serverWithTheBean();
        ObjectName name = new ObjectName(DirectMemoryMXBean.OBJECT_NAME);
        AtomicBoolean stop = new AtomicBoolean();
        Thread churn = new Thread(() -> {
            while (!stop.get()) {
                DirectMemory.free(DirectMemory.allocateDirect(MIB));
            }
        });
        churn.start();
        try {
            for (int i = 0; i < 20_000; i++) {
                Map<String, Long> read = attributes(server, name, "TotalCapacity", "MemoryUsed", "Count");
                assertTrue(read.get("TotalCapacity") <= read.get("MemoryUsed"), "read " + i + ": " + read);
            }
        } finally {
            stop.set(true);
            churn.join();
        }
    }

    /** Also while buffers are reclaimed all along ({@code busy}), so that releases never pause. */
    @ParameterizedTest
    @ValueSource(strings = {"idle", "busy"})
    void noMBeanServerIsCreatedForItAndTheBeanFollowsTheApplicationsServer(String load) throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(), List.of(),
                MonitoringProbe.class.getName(), load);
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("SERVERS 0"), result.output());
        assertTrue(result.output().contains("REGISTERED true"), result.output());
    }

    /**
     * A server the application made for itself is not the platform one: directmem neither
     * creates the platform server because of it nor registers there (before: the platform
     * server was created at the first use, "SERVERS 1").
     */
    @Test
    void anApplicationsOwnServerIsNotTakenForThePlatformOne() throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(), List.of(),
                MonitoringProbe.class.getName(), "own-server");
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("SERVERS 0"), result.output());
        assertTrue(result.output().contains("IN THE APPLICATION'S OWN SERVER false"), result.output());
        assertTrue(result.output().contains("REGISTERED true"), result.output());
    }

    /**
     * An application's own server that throws when asked which beans it holds (a guarded one) is
     * passed over for that try only: directmem registers once the platform server exists (before:
     * the first try's exception stopped registration for good, "REGISTERED false").
     */
    @Test
    void anApplicationsOwnServerThatThrowsDoesNotStopRegistration() throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(), List.of(),
                MonitoringProbe.class.getName(), "throwing-server");
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("SERVERS 0"), result.output());
        assertTrue(result.output().contains("REGISTERED true"), result.output());
        assertFalse(result.output().contains("could not register"), result.output());
    }

    /**
     * A registration that throws after the server took the bean (a listener's StackOverflowError,
     * which the server does not catch): the next try finds the bean its own (before: it took the
     * name for another copy's and registered a second bean, {@code name=directmem-2}, for the
     * same budget, which exporters summing the pools counted twice).
     */
    @Test
    void aRegistrationThatThrowsAfterTheServerTookTheBeanLeavesOneBean() throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(), List.of(),
                MonitoringProbe.class.getName(), "failing-listener");
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("THROWN true"), result.output());
        assertTrue(result.output().contains("BEANS [java.nio:type=BufferPool,name=directmem]"), result.output());
        assertFalse(result.output().contains("another copy"), result.output());
    }

    /**
     * Two copies of directmem in one JVM (two class loaders, as a redeployed web application's):
     * each has its own budget and its own bean, the second as {@code name=directmem-2} (before:
     * only the first was registered, and JMX showed the first copy's figures alone).
     */
    @Test
    void aSecondCopyOfDirectmemRegistersUnderANameOfItsOwn() throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(), List.of(),
                TwoCopiesProbe.class.getName(), Subprocess.testClassPath());
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("POOL directmem 1048576"), result.output());
        assertTrue(result.output().contains("POOL directmem-2 2097152"), result.output());
    }

    /**
     * Two copies whose library comes by path, from {@code -Ddirectmem.library.path} or from
     * {@code java.library.path}, not from the jar: the JDK links a file to one class loader, so
     * the second copy loads a copy of the file (before: every call of the second copy threw
     * UnsatisfiedLinkError, "already loaded in another classloader").
     */
    @ParameterizedTest
    @ValueSource(strings = {"directmem.library.path", "java.library.path"})
    void aSecondCopyLoadsALibraryGivenByPathToo(String property, @TempDir Path dir) throws Exception {
        Path library = FaultsTest.copyOfTheNativeLibrary(dir.resolve("lib"));
        boolean explicit = property.equals("directmem.library.path");
        String classPath = explicit ? Subprocess.testClassPath()
                : FaultsTest.withoutNativeLibrary(Subprocess.location(DirectMemory.class), dir.resolve("classes"))
                        + File.pathSeparator + Subprocess.location(TwoCopiesProbe.class);
        Subprocess.Result result = Subprocess.run(classPath,
                List.of("-D" + property + "=" + (explicit ? library : library.getParent())),
                TwoCopiesProbe.class.getName(), classPath);
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("POOL directmem 1048576"), result.output());
        assertTrue(result.output().contains("POOL directmem-2 2097152"), result.output());
    }

    /** A copy that cannot be made (here: no java.io.tmpdir) fails the second copy with both reasons. */
    @Test
    void aSecondCopyWhoseLibraryCannotBeCopiedSaysWhy(@TempDir Path dir) throws Exception {
        Path library = FaultsTest.copyOfTheNativeLibrary(dir.resolve("lib"));
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                List.of("-Ddirectmem.library.path=" + library, "-Djava.io.tmpdir=" + dir.resolve("absent")),
                TwoCopiesProbe.class.getName(), Subprocess.testClassPath());
        assertTrue(result.exitCode() != 0, result.output());
        assertTrue(result.output().contains("already loaded in another classloader; its copy in java.io.tmpdir "
                + "did not load either: java.nio.file.NoSuchFileException"), result.output());
    }

    @Test
    void jmxFalseLeavesTheBeanOutAndABadValueIsAClearError() throws Exception {
        Subprocess.Result off = Subprocess.run(Subprocess.testClassPath(), List.of("-Ddirectmem.jmx=FALSE"),
                MonitoringProbe.class.getName());
        assertEquals(0, off.exitCode(), off.output());
        assertTrue(off.output().contains("REGISTERED false"), off.output());

        // Before, any value but false registered the bean: "off" and "no" among them.
        Subprocess.Result bad = Subprocess.run(Subprocess.testClassPath(), List.of("-Ddirectmem.jmx=off"),
                MonitoringProbe.class.getName());
        assertTrue(bad.exitCode() != 0, bad.output());
        assertTrue(bad.output().contains("IllegalArgumentException: directmem is unavailable: invalid value "
                + "for system property directmem.jmx: 'off' (expected true or false)"), bad.output());
    }

    /**
     * A JMX listener told of the MBean at directmem's first use runs on the first caller's
     * thread, where the locks that caller holds are its own: the first use in a static
     * initializer, with a listener that reads that class, and a listener that calls directmem.
     * When the setup ran on a thread of its own and registered the MBean there, both hung.
     */
    @ParameterizedTest
    @ValueSource(strings = {"static-init", "api"})
    void aListenerAtTheFirstUseRunsOnTheFirstCallersThread(String mode) throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(), List.of(),
                FirstUseListenerProbe.class.getName(), mode);
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("LISTENER on main: "), result.output());
        assertTrue(result.output().contains("FIRST USE DONE 64"), result.output());
    }

    /**
     * Two first callers: one registers the MBean, and its listener waits for a class the other
     * initializes while it waited for the setup. Only the thread that ran the setup registers, so
     * the other goes on and the listener then gets the class (before: both registered, and the
     * second waited for the first's listener, which waited for it).
     */
    @Test
    void aListenerOfOneFirstCallerDoesNotHangAnother() throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(), List.of(),
                FirstUseListenerProbe.class.getName(), "two-callers");
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("FIRST USE DONE 64"), result.output());
    }

    /**
     * A runtime without java.management (here --limit-modules): no bean, said once at debug
     * level, and the reporter thread parks until a failure is to be reported (before: it woke
     * once a second for good, to fail to load the bean's class, saying nothing).
     */
    @Test
    void withoutJavaManagementTheReporterSaysSoOnceAndStopsLooking() throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                List.of("--limit-modules", "java.base", "-Ddirectmem.maxMemory=16m",
                        "-Djdk.system.logger.level=DEBUG"),
                WithoutManagementProbe.class.getName());
        String out = result.output();
        assertEquals(0, result.exitCode(), out);
        assertTrue(out.contains("MANAGEMENT IN THIS RUNTIME false"), out);
        assertTrue(out.contains("REPORTER WAITING"), out);
        String said = "no java.management in this runtime: the directmem MBean is not registered";
        assertEquals(out.indexOf(said), out.lastIndexOf(said), out);
        assertTrue(out.contains(said), out);
        assertFalse(out.contains("NoClassDefFoundError"), out);
    }

    @Test
    void theJdksOwnListOfPoolsDoesNotIncludeIt() {
        // ManagementFactory.getPlatformMXBeans lists only the JDK's built-in pools, whatever is
        // registered in the MBean server: tools that query the server (JConsole, VisualVM, JMX
        // exporters) see directmem; code that calls getPlatformMXBeans does not.
        DirectMemory.stats();
        List<String> names = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                .map(BufferPoolMXBean::getName).collect(Collectors.toList());
        assertTrue(names.contains("direct"), names.toString());
        assertFalse(names.contains("directmem"), names.toString());
    }
}
