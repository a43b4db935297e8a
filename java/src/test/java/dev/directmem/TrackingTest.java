package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Allocation-site tracking: exact live figures per site, nothing kept alive, OOM hints. */
class TrackingTest {
    private static final int MIB = 1 << 20;

    @AfterEach
    void trackingAsTheJvmSetIt() {
        restoreJvmSettings();
    }

    /**
     * Tracking as this JVM's -Ddirectmem.tracking and -Ddirectmem.tracking.interval set it (not
     * the defaults: a run with tracking on must keep it on for the tests after).
     */
    static void restoreJvmSettings() {
        Tracking.configure(System.getProperty(Tracking.PROPERTY), System.getProperty(Tracking.INTERVAL_PROPERTY));
    }

    private static Optional<AllocationSite> site(String method) {
        return DirectMemory.topAllocationSites(Integer.MAX_VALUE).stream()
                .filter(s -> s.site().contains("TrackingTest." + method + "(TrackingTest.java:")).findFirst();
    }

    private static List<ByteBuffer> allocateThree(int size) {
        List<ByteBuffer> buffers = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            buffers.add(DirectMemory.allocateDirect(size));
        }
        return buffers;
    }

    private static ByteBuffer allocateOneAligned(int size) {
        return DirectMemory.allocateDirectAligned(size, 4096);
    }

    @Test
    void offByDefaultAndThenTheListIsEmpty() {
        assertEquals(Tracking.Level.DISABLED, Tracking.level());
        ByteBuffer buffer = DirectMemory.allocateDirect(100);
        assertTrue(DirectMemory.topAllocationSites(10).isEmpty());
        DirectMemory.free(buffer);
    }

    private static ByteBuffer allocateShared(int size) {
        return DirectMemory.allocateDirect(size);
    }

    /** Threads counting buffers on and off one site at once lose no update. */
    @Test
    void concurrentAllocationsAndFreesAtOneSiteKeepItsFiguresExact() throws Exception {
        Tracking.configure("all", null);
        ByteBuffer kept = allocateShared(700);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            Thread thread = new Thread(() -> {
                for (int i = 0; i < 20_000; i++) {
                    DirectMemory.free(allocateShared(64 + i % 512));
                }
            });
            thread.start();
            threads.add(thread);
        }
        for (Thread thread : threads) {
            thread.join();
        }
        assertEquals(new AllocationSite(site("allocateShared").orElseThrow().site(), 700, 1),
                site("allocateShared").orElseThrow());
        DirectMemory.free(kept);
        assertEquals(Optional.empty(), site("allocateShared"));
    }

    @Test
    void explicitFreesLeaveTheSiteTableExactly() {
        Tracking.configure("all", null);
        List<ByteBuffer> three = allocateThree(1000);
        ByteBuffer aligned = allocateOneAligned(5000);
        assertEquals(new AllocationSite(site("allocateThree").orElseThrow().site(), 3000, 3),
                site("allocateThree").orElseThrow());
        assertEquals(5000, site("allocateOneAligned").orElseThrow().liveBytes());
        List<AllocationSite> top = DirectMemory.topAllocationSites(1);
        assertEquals(1, top.size());
        assertTrue(top.get(0).liveBytes() >= 5000, "most live bytes first: " + top);

        DirectMemory.free(three.get(0));
        DirectMemory.free(three.get(0)); // a second free changes nothing
        assertEquals(2000, site("allocateThree").orElseThrow().liveBytes());
        assertEquals(2, site("allocateThree").orElseThrow().liveBuffers());
        DirectMemory.free(three.get(1));
        DirectMemory.free(three.get(2));
        DirectMemory.free(aligned);
        assertEquals(Optional.empty(), site("allocateThree"));
        assertEquals(Optional.empty(), site("allocateOneAligned"));
    }

    @Test
    void cleanedBuffersLeaveTheSiteTableAndAreNotKeptAlive() {
        Tracking.configure("all", null);
        List<ByteBuffer> three = allocateThree(MIB);
        WeakReference<ByteBuffer> first = new WeakReference<>(three.get(0));
        assertEquals(3L * MIB, site("allocateThree").orElseThrow().liveBytes());
        three = null;
        Tracking.configure("disabled", null);
        // Churn untracked buffers through the budget until reclamation has cleaned the three.
        for (int round = 0; round < 20 && site("allocateThree").isPresent(); round++) {
            for (int i = 0; i < 64; i++) {
                DirectMemory.allocateDirect(MIB).putInt(0, i);
            }
        }
        assertEquals(Optional.empty(), site("allocateThree"));
        assertNull(first.get(), "tracking must not keep a buffer alive");
    }

    @Test
    void samplingTracksSomeAllocationsExactly() {
        Tracking.configure("sampled", "4");
        List<ByteBuffer> buffers = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            buffers.addAll(allocateThree(100));
        }
        AllocationSite sampled = site("allocateThree").orElseThrow();
        // 1 in 4 of 300 at random: 75 expected; 0 or 300 are vanishingly unlikely.
        assertTrue(sampled.liveBuffers() > 10 && sampled.liveBuffers() < 200, sampled.toString());
        assertEquals(100 * sampled.liveBuffers(), sampled.liveBytes());
        buffers.forEach(DirectMemory::free);
        assertEquals(Optional.empty(), site("allocateThree"));
    }

    @Test
    void theOutOfMemoryMessagePointsAtTracking() {
        BudgetExhaustedError off = assertThrows(BudgetExhaustedError.class, () -> DirectMemory.allocateDirect(65 * MIB));
        assertTrue(off.getMessage().startsWith("Cannot reserve " + 65 * MIB + " bytes"), off.getMessage());
        assertTrue(off.getMessage().contains("-Ddirectmem.tracking=sampled"), off.getMessage());

        Tracking.configure("all", null);
        List<ByteBuffer> held = allocateThree(MIB);
        BudgetExhaustedError on = assertThrows(BudgetExhaustedError.class, () -> DirectMemory.allocateDirect(65 * MIB));
        assertTrue(on.getMessage().contains("top allocation sites by live bytes (tracking all allocations)"),
                on.getMessage());
        assertTrue(on.getMessage().contains(site("allocateThree").orElseThrow().site() + " "
                + 3 * MIB + " bytes in 3 buffer(s)"), on.getMessage());
        held.forEach(DirectMemory::free);
    }

    @Test
    void invalidSettingsAreRejectedWithTheirName() {
        IllegalArgumentException level = assertThrows(IllegalArgumentException.class,
                () -> Tracking.configure("paranoid", null));
        assertTrue(level.getMessage().contains("directmem.tracking") && level.getMessage().contains("paranoid"));
        IllegalArgumentException interval = assertThrows(IllegalArgumentException.class,
                () -> Tracking.configure("sampled", "0"));
        assertTrue(interval.getMessage().contains("directmem.tracking.interval"));
        assertThrows(IllegalArgumentException.class, () -> DirectMemory.topAllocationSites(-1));
    }
}
