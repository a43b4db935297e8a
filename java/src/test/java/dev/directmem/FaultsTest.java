package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarInputStream;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class FaultsTest {
    /** A planted failure this test did not reach must not fail the next one. */
    @AfterEach
    void clearPlantedFailures() {
        Allocation.clearFailuresForTesting();
    }

    /** Native's test hooks, called directly here, need the library that the setup loads. */
    @BeforeAll
    static void setUp() {
        Native.checkAvailable();
    }


    @Test
    void refusedNativeAllocationIsAnOutOfMemoryErrorAndLosesNothing() throws InterruptedException {
        // Settled: a reclaimer batch landing between a snapshot's reads of the ledger and of
        // reclaimedBytes would break the sum below.
        Churn.settle();
        DirectMemoryStats before = DirectMemory.stats();
        Native.failNextAllocation();
        OutOfMemoryError error = assertThrows(OutOfMemoryError.class, () -> DirectMemory.allocateDirect(5000));
        assertEquals(OutOfMemoryError.class, error.getClass(), "not the budget's: the budget was not full");
        assertTrue(error.getMessage().startsWith("the operating system refused 5000 bytes of direct memory (used: "),
                error.getMessage());
        // Where the budget went is no answer when the budget was not full.
        assertTrue(!error.getMessage().contains("tracking"), error.getMessage());
        DirectMemoryStats after = DirectMemory.stats();
        assertEquals(before.failedAllocations() + 1, after.failedAllocations());
        long reclaimed = after.reclaimedBytes() - before.reclaimedBytes();
        assertEquals(before.totalCapacity(), after.totalCapacity() + reclaimed, "nothing stays reserved");

        ByteBuffer next = DirectMemory.allocateDirect(5000);
        assertEquals(5000, next.capacity());
        DirectMemory.free(next);
    }

    /**
     * An allocation that throws once its memory is reserved (planted: a full Java heap or a stack
     * overflow, in arming a block or in carving a new shared block's first buffer) gives the
     * memory back before it throws, not through a collection. Before: the memory stayed reserved until
     * a collection found its owner, which under -XX:+DisableExplicitGC may not come while the
     * budget has room.
     */
    @ParameterizedTest
    @CsvSource({"64, arm, false", "64, arm, true", "64, carve, false", "64, carve, true",
            "5000, arm, false", "5000, arm, true", "1048576, arm, true"})
    void anAllocationThatFailsOnceItsMemoryIsReservedGivesItBackAtOnce(
            int capacity, String where, boolean outOfMemory) throws InterruptedException {
        DirectMemoryStats before = Churn.settle();
        SharedBlock.startOverForTesting();
        assertEquals(capacity == 64, SharedBlock.takes(capacity));
        Error planted = outOfMemory ? new OutOfMemoryError("planted: Java heap space") : new StackOverflowError("planted");
        if (where.equals("arm")) {
            Allocation.failNextArmingForTesting(planted, true);
        } else {
            SharedBlock.failNextCarveForTesting(planted);
        }
        assertSame(planted, assertThrows(Error.class, () -> DirectMemory.allocateDirect(capacity)));
        DirectMemoryStats after = DirectMemory.stats();
        assertEquals(0, after.count(), "given back at once");
        assertEquals(0, after.memoryUsed());
        // Not through a collection (an early one that settle's probe started may still come and
        // go meanwhile, freeing nothing: the ledger was empty).
        assertEquals(before.reclaimedBytes(), after.reclaimedBytes(), "freed, not reclaimed");
        assertEquals(before.failedAllocations(), after.failedAllocations(), "not a refusal");
        assertEquals(0, SharedBlock.currentBytes(), "a shared block no longer counted as current");

        ByteBuffer next = DirectMemory.allocateDirect(capacity);
        next.put(capacity - 1, (byte) 4);
        assertEquals(4, next.get(capacity - 1));
        DirectMemory.free(next);
        SharedBlock.startOverForTesting();
        Churn.awaitNothingUsed(); // an idle current block, taken by an early collection, goes a moment later
    }

    /**
     * Arguments are checked before the setup: with a library that does not load, an invalid one
     * throws IllegalArgumentException (it threw UnsatisfiedLinkError), and a rejected call neither
     * loads the library nor starts directmem's threads (it did both). The first valid call then
     * reports the library, or works.
     */
    @Test
    void invalidArgumentsAreRefusedBeforeTheLibraryIsLoaded(@TempDir Path dir) throws Exception {
        Path missing = dir.resolve("nowhere").resolve("libdirectmem.so");
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                List.of("-Ddirectmem.library.path=" + missing), LoadProbe.class.getName(), "arguments-first");
        String output = result.output();
        assertEquals(3, result.exitCode(), output);
        for (String call : List.of("allocateDirect(-1)", "allocateDirectAligned(16, 3)",
                "allocateDirectAligned(-1, 16)", "topAllocationSites(-1)", "free(a heap buffer)",
                "fill(a heap buffer)")) {
            assertTrue(output.contains("REJECTED " + call + ": java.lang.IllegalArgumentException"), call + "\n" + output);
        }
        assertTrue(output.contains("DIRECTMEM THREADS []"), output);
        assertTrue(output.contains("FAILED java.lang.UnsatisfiedLinkError"), output);

        // With the library there: still nothing set up, no thread started, until a valid call.
        Subprocess.Result loaded = Subprocess.run(Subprocess.testClassPath(), List.of(),
                LoadProbe.class.getName(), "arguments-first");
        assertEquals(0, loaded.exitCode(), loaded.output());
        assertTrue(loaded.output().contains("REJECTED allocateDirect(-1): java.lang.IllegalArgumentException"),
                loaded.output());
        assertTrue(loaded.output().contains("DIRECTMEM THREADS []"), loaded.output());
        assertTrue(loaded.output().contains("LOADED"), loaded.output());
    }

    /** An invalid entry in the reclaimer's batch spoils only itself: the valid blocks are freed. */
    @Test
    void anInvalidEntryInAFreeBatchSpoilsOnlyItself() throws InterruptedException {
        DirectMemoryStats before = Churn.settle();
        long first = Native.allocateMemory(5000, 1, true, null);
        long second = Native.allocateMemory(7000, 1, true, null);
        long[] addresses = {first, 0, second};
        int[] capacities = {5000, 6000, 7000};
        int[] alignments = {1, 1, 1};
        int[] stamps = new int[3];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Native.freeBatch(addresses, capacities, alignments, stamps, 3, false));
        assertTrue(e.getMessage().contains("null address"), e.getMessage());
        DirectMemoryStats after = DirectMemory.stats();
        assertEquals(before.count(), after.count(), "both valid blocks freed");
        assertEquals(before.memoryUsed(), after.memoryUsed());
        assertEquals(12000, after.reclaimedBytes() - before.reclaimedBytes());
    }

    /** A free refused for its arguments leaves the buffer armed: it is neither freed nor emptied. */
    @Test
    void aRefusedFreeLeavesTheBufferAsItWas() {
        ByteBuffer buffer = DirectMemory.allocateDirect(5000);
        Allocation owner = Allocation.of(buffer);
        assertThrows(IllegalArgumentException.class,
                () -> Native.disarmAndFree(buffer, owner.release.address, -1, 1));
        assertThrows(IllegalArgumentException.class,
                () -> Native.disarmAndFree(buffer, owner.release.address, 5000, 3));
        assertEquals(5000, buffer.capacity(), "not disarmed");
        buffer.put(4999, (byte) 7);
        assertEquals(7, buffer.get(4999));
        DirectMemory.free(buffer);
        assertEquals(0, buffer.capacity());
    }

    /**
     * A full Java heap can fail an allocation at any step, also after its native memory exists
     * (linking the code that sets buffer fields allocates): the caller gets an OutOfMemoryError,
     * and the memory comes back with the dropped owner. Shared (4096) and not (1 MiB).
     */
    @ParameterizedTest
    @ValueSource(ints = {4096, 1 << 20})
    void aFullJavaHeapDuringAnAllocationLosesNoMemory(int capacity) throws Exception {
        List<String> flags = ManagementFactory.getRuntimeMXBean().getInputArguments();
        // These fail an allocation on a full heap at once; G1 and ZGC rarely fail one here, and
        // Shenandoah stalls the allocating thread instead, for minutes.
        assumeTrue(flags.contains("-XX:+UseSerialGC") || flags.contains("-XX:+UseParallelGC"),
                "checked in the Serial and Parallel runs");
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                List.of("-Xmx32m", "-Ddirectmem.maxMemory=16m"), HeapPressureProbe.class.getName(),
                String.valueOf(capacity));
        assertEquals(0, result.exitCode(), result.output());
        // The full heap struck the allocation (these collectors fail it at once), which went
        // through in the end, as the heap freed up.
        Matcher failures = Pattern.compile("HEAP FAILURES (\\d+), allocated (\\w+)").matcher(result.output());
        assertTrue(failures.find(), result.output());
        assertTrue(Integer.parseInt(failures.group(1)) > 0, "the full heap never failed the allocation: " + failures.group());
        assertEquals("true", failures.group(2), failures.group());
        assertTrue(result.output().contains("BUDGET BACK, current shared bytes 0"), result.output());
    }

    /**
     * A program's first free of a block of its own, with the Java heap full, frees it (a child
     * JVM: nothing may have freed a block before), as the first free at all does. Before: the
     * free's native method and method handles were linked at that call, which allocates, and
     * after a small buffer's free had made the rest of the path, it threw OutOfMemoryError with
     * the block claimed: the block was lost for good. And the first free at all threw making the
     * string of its null check's message (then nothing was claimed). Buffer fields set from Java
     * where the JVM allows it (auto) and through JNI.
     */
    @ParameterizedTest
    @CsvSource({"first, auto", "afterSmallFree, auto", "first, jni", "afterSmallFree, jni"})
    void theFirstFreeWithTheJavaHeapFullFreesTheBlock(String mode, String bufferAccess) throws Exception {
        List<String> flags = ManagementFactory.getRuntimeMXBean().getInputArguments();
        // Shenandoah stalls an allocation on a full heap, for minutes, instead of failing it.
        assumeFalse(flags.contains("-XX:+UseShenandoahGC"), "a full heap stalls Shenandoah");
        Subprocess.Result result;
        int attempts = 0;
        do { // again while the full heap struck the probe's own frame before its free
            result = Subprocess.run(Subprocess.testClassPath(),
                    List.of("-Xmx48m", "-Ddirectmem.bufferAccess=" + bufferAccess), FirstFreeProbe.class.getName(), mode);
        } while (result.output().contains("FIRST FREE not reached") && ++attempts < 3);
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("FIRST FREE returned"), result.output());
        assertTrue(result.output().contains("FREED " + (64 << 10) + ", capacity 0"), result.output());
    }

    /** A shared block the OS refuses costs nothing: the buffer gets a block of its own. */
    @Test
    void aRefusedSharedBlockFallsBackToABlockOfTheBuffersOwn() throws InterruptedException {
        assertTrue(SharedBlock.takes(4000));
        DirectMemoryStats before = Churn.settle();
        SharedBlock.startOverForTesting();
        Native.failNextAllocation();
        ByteBuffer buffer = DirectMemory.allocateDirect(4000);
        DirectMemoryStats after = DirectMemory.stats();
        assertEquals(1, after.count());
        assertEquals(4000, after.totalCapacity());
        assertEquals(before.failedAllocations(), after.failedAllocations());
        buffer.put(3999, (byte) 5);
        assertEquals(5, buffer.get(3999));
        DirectMemory.free(buffer);
        assertEquals(0, DirectMemory.stats().memoryUsed());

        // The next few skip the block that would likely be refused too, then sharing resumes.
        for (int i = 1; i < SharedBlock.SLOTS; i++) {
            ByteBuffer next = DirectMemory.allocateDirect(4000);
            assertSame(Allocation.class, Allocation.of(next).getClass(), "buffer " + i);
            DirectMemory.free(next);
        }
        ByteBuffer shared = DirectMemory.allocateDirect(4000);
        assertTrue(Allocation.of(shared) instanceof SharedBlock);
        DirectMemory.free(shared);
        SharedBlock.startOverForTesting();
        Churn.awaitNothingUsed();
    }

    @Test
    void aRustPanicArrivesAsAnExceptionAndTheJvmGoesOn() {
        IllegalStateException e = assertThrows(IllegalStateException.class, Native::panicForTesting);
        assertTrue(e.getMessage().contains("deliberate panic"), e.getMessage());
        ByteBuffer buffer = DirectMemory.allocateDirect(8);
        buffer.putLong(0, 1L);
        assertEquals(1L, buffer.getLong(0));
        DirectMemory.free(buffer);
    }

    /** With a settled ledger the check is exact: not a byte, not a buffer more or less. */
    @ParameterizedTest
    @ValueSource(ints = {5000, 1 << 20})
    void refusedNativeAllocationLeavesTheLedgerExactlyAsItWas(int capacity) throws InterruptedException {
        DirectMemoryStats before = Churn.settle();
        Native.failNextAllocation();
        OutOfMemoryError error = assertThrows(OutOfMemoryError.class, () -> DirectMemory.allocateDirect(capacity));
        assertTrue(error.getMessage().contains("refused " + capacity + " bytes"), error.getMessage());
        DirectMemoryStats after = DirectMemory.stats();
        assertEquals(0, after.count());
        assertEquals(0, after.memoryUsed());
        assertEquals(0, after.totalCapacity());
        assertEquals(before.failedAllocations() + 1, after.failedAllocations());

        ByteBuffer next = DirectMemory.allocateDirect(capacity);
        next.put(capacity - 1, (byte) 9);
        assertEquals(9, next.get(capacity - 1));
        assertEquals(capacity, DirectMemory.stats().totalCapacity());
        DirectMemory.free(next);
        assertEquals(0, DirectMemory.stats().memoryUsed());
    }

    private static String probe(String classPath, List<String> flags) throws Exception {
        Subprocess.Result result = Subprocess.run(classPath, flags, LoadProbe.class.getName());
        assertEquals(3, result.exitCode(), result.output());
        assertTrue(result.output().contains("FAILED java.lang.UnsatisfiedLinkError"), result.output());
        assertTrue(result.output().contains("directmem is unavailable"), result.output());
        return result.output();
    }

    @Test
    void aCorruptLibraryFileIsAClearErrorNamingThePathAndPlatform(@TempDir Path dir) throws Exception {
        Path corrupt = dir.resolve("libdirectmem.so");
        Files.write(corrupt, "this is not an ELF shared object".repeat(64).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        String output = probe(Subprocess.testClassPath(), List.of("-Ddirectmem.library.path=" + corrupt));
        assertTrue(output.contains(corrupt.toString()), output);
        assertTrue(output.contains(NativeLibrary.platform()), output);
        assertTrue(output.contains("directmem.library.path"), output);
    }

    @Test
    void aMissingLibraryFileIsAClearErrorNamingThePathAndPlatform(@TempDir Path dir) throws Exception {
        Path missing = dir.resolve("nowhere").resolve("libdirectmem.so");
        String output = probe(Subprocess.testClassPath(), List.of("-Ddirectmem.library.path=" + missing));
        assertTrue(output.contains(missing.toString()), output);
        assertTrue(output.contains(NativeLibrary.platform()), output);
    }

    /**
     * The library's first use on an interrupted thread (a cancelled task): the interrupt stays
     * the caller's, and does not fail the library's extraction from the jar, a failure that would
     * have left directmem unavailable to every thread for the life of the JVM.
     */
    @Test
    void aFirstUseOnAnInterruptedThreadLoadsTheLibraryAndKeepsTheInterrupt() throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(), List.of(),
                FirstUseProbe.class.getName(), "interrupted");
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("FIRST 64, still interrupted: true"), result.output());
        assertTrue(result.output().contains("THEN 64 on another thread"), result.output());
    }

    /**
     * The library's first use while the JDK's own direct buffers fill -XX:MaxDirectMemorySize,
     * the very situation directmem is for: the library's extraction from the jar must not need
     * the JDK's direct memory (it did, through a file channel's temporary buffer, and the failure
     * left directmem unavailable for the life of the JVM).
     */
    @Test
    void aFirstUseWhileTheJdksDirectMemoryIsFullLoadsTheLibrary() throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                List.of("-XX:MaxDirectMemorySize=1m", "-Ddirectmem.maxMemory=64m"),
                FirstUseProbe.class.getName(), "jdk-direct-memory-full");
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("JDK FULL with 16 buffers"), result.output());
        assertTrue(result.output().contains("FIRST 64 with the JDK's full"), result.output());
        assertTrue(result.output().contains("THEN 64 on another thread"), result.output());
    }

    /**
     * A setup that fails for a reason that passes (planted: a StackOverflowError, as at the
     * bottom of a deep stack, or an OutOfMemoryError, as with the Java heap full) reaches the
     * caller as it is, and the next call sets up afresh. In a class initializer, which the JVM
     * never runs again, it left directmem unavailable for the life of the JVM.
     */
    @ParameterizedTest
    @ValueSource(strings = {"stack-overflow", "heap-full"})
    void aSetupThatFailsForAPassingReasonIsTriedAgain(String failure) throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(), List.of(),
                FirstUseProbe.class.getName(), failure);
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("FIRST FAILED java.lang." + (failure.equals("heap-full")
                ? "OutOfMemoryError: planted" : "StackOverflowError: planted")), result.output());
        assertTrue(result.output().contains("SECOND 64"), result.output());
        assertTrue(result.output().contains("THEN 64 on another thread"), result.output());
    }

    /**
     * A class of the package used before the public API (SharedBlock, whose superclass points
     * buffers at memory): its initializer sets directmem up. Before, it called the native library
     * before anything loaded it, and the failure stayed for the life of the JVM.
     */
    @Test
    void aClassOfThePackageUsedFirstSetsUp() throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(), List.of(),
                FirstUseProbe.class.getName(), "internals-first");
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("TAKES true"), result.output());
        assertTrue(result.output().contains("FIRST 64"), result.output());
    }

    /**
     * directmem's threads have directmem's class loader as their context class loader, whatever
     * the first caller's: a web application's would be kept from unloading for the life of the
     * JVM.
     */
    @Test
    void directmemsThreadsHaveItsOwnClassLoader() throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(), List.of(),
                FirstUseProbe.class.getName(), "context-loader");
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("LOADER directmem-reclaimer directmem's"), result.output());
        assertTrue(result.output().contains("LOADER directmem-reporter directmem's"), result.output());
        assertTrue(!result.output().contains("the first caller's"), result.output());
    }

    /**
     * A java.io.tmpdir that takes new files but lets none be deleted (here: chattr +a): the
     * library loads from the file it could not delete, which stays behind with a warning. Before,
     * the failed delete read as a library that did not load.
     */
    @Test
    void anExtractedLibraryThatCannotBeDeletedStillLoads(@TempDir Path dir) throws Exception {
        Path appendOnly = Files.createDirectories(dir.resolve("append-only"));
        Process chattr = new ProcessBuilder("chattr", "+a", appendOnly.toString()).redirectErrorStream(true).start();
        String refused = new String(chattr.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assumeTrue(chattr.waitFor() == 0, "chattr +a is not available here: " + refused);
        try {
            Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                    List.of("-Djava.io.tmpdir=" + appendOnly), FirstUseProbe.class.getName(), "plain");
            assertEquals(0, result.exitCode(), result.output());
            assertTrue(result.output().contains("FIRST 64"), result.output());
            assertTrue(result.output().contains("could not delete its extracted native library"), result.output());
        } finally {
            new ProcessBuilder("chattr", "-a", appendOnly.toString()).start().waitFor();
        }
    }

    /**
     * On a JDK that denies native access to code not granted it (JDK 24+ with
     * --illegal-native-access=deny, the default to come), the error names the flag that grants it.
     */
    @Test
    void deniedNativeAccessNamesTheFlagThatGrantsIt() throws Exception {
        assumeTrue(Runtime.version().feature() >= 24, "--illegal-native-access is JDK 24+");
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                List.of("--illegal-native-access=deny"), FirstUseProbe.class.getName(), "plain");
        assertNotEquals(0, result.exitCode(), "the first use must fail: " + result.output());
        assertTrue(result.output().contains("--enable-native-access=ALL-UNNAMED on the class path"), result.output());
    }

    /** The classes without the library the jar carries: the error names platform and places tried. */
    @Test
    void classesWithoutTheirNativeLibraryAreAClearError(@TempDir Path dir) throws Exception {
        Path classes = withoutNativeLibrary(Subprocess.location(DirectMemory.class), dir.resolve("classes"));
        String output = probe(classes + java.io.File.pathSeparator + Subprocess.location(LoadProbe.class),
                List.of());
        assertTrue(output.contains("no directmem native library for platform " + NativeLibrary.platform()), output);
        assertTrue(output.contains("/native/" + NativeLibrary.platform() + "/libdirectmem.so (absent)"), output);
        assertTrue(output.contains("-Ddirectmem.library.path"), output);
        assertTrue(output.contains("Supported: linux-x86_64, linux-aarch64."), output);
    }

    /**
     * A library in the jar that does not load (here: corrupt; in the field: a noexec tmpdir) is
     * not the end: java.library.path is tried next, and if that fails too, the error says why
     * the jar's library did not load.
     */
    @Test
    void aJarLibraryThatDoesNotLoadFallsBackToTheLibraryPath(@TempDir Path dir) throws Exception {
        Path classes = withoutNativeLibrary(Subprocess.location(DirectMemory.class), dir.resolve("classes"));
        Path corrupt = dir.resolve("corrupt").resolve("native/" + NativeLibrary.platform() + "/libdirectmem.so");
        Files.createDirectories(corrupt.getParent());
        Files.write(corrupt, "this is not an ELF shared object".repeat(64).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        Path libraryPath = copyOfTheNativeLibrary(dir.resolve("library-path")).getParent();
        String classPath = String.join(java.io.File.pathSeparator,
                dir.resolve("corrupt").toString(), classes.toString(), Subprocess.location(LoadProbe.class).toString());

        Subprocess.Result loaded = Subprocess.run(classPath, List.of("-Djava.library.path=" + libraryPath),
                LoadProbe.class.getName());
        assertEquals(0, loaded.exitCode(), loaded.output());
        assertTrue(loaded.output().contains("LOADED"), loaded.output());

        String output = probe(classPath, List.of("-Djava.library.path=" + dir.resolve("nowhere")));
        assertTrue(output.contains("/native/" + NativeLibrary.platform() + "/libdirectmem.so (extracted to"), output);
        assertTrue(output.contains("System.loadLibrary"), output);
    }

    /** A copy of the native library the test's class path carries, as {@code folder}/libdirectmem.so. */
    static Path copyOfTheNativeLibrary(Path folder) throws IOException {
        Path library = Files.createDirectories(folder).resolve("libdirectmem.so");
        try (InputStream in = DirectMemory.class.getResourceAsStream("/native/" + NativeLibrary.platform() + "/libdirectmem.so")) {
            assertTrue(in != null, "the test's class path carries the native library");
            Files.copy(in, library);
        }
        return library;
    }

    /** directmem's classes from {@code location} (a jar or a folder), without native/ (MonitoringTest too). */
    static Path withoutNativeLibrary(Path location, Path target) throws IOException {
        if (Files.isDirectory(location)) {
            assertTrue(Files.notExists(location.resolve("native")), "expected classes only in " + location);
            return location;
        }
        try (InputStream in = Files.newInputStream(location); JarInputStream jar = new JarInputStream(in)) {
            for (JarEntry entry; (entry = jar.getNextJarEntry()) != null; ) {
                if (!entry.isDirectory() && entry.getName().endsWith(".class")) {
                    Path file = target.resolve(entry.getName());
                    Files.createDirectories(file.getParent());
                    try (OutputStream out = Files.newOutputStream(file)) {
                        jar.transferTo(out);
                    }
                }
            }
        }
        return target;
    }
}
