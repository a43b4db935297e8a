package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Buffers of a huge page and more ask for transparent huge pages, unless turned off. A huge page
 * is 2 MiB on x86-64 and on aarch64 with 4 KiB pages, 32 MiB with 16 KiB pages, 512 MiB with 64 KiB.
 */
class HugePagesTest {
    private static final Pattern FIGURES = Pattern.compile("HUGE advised=(\\w+) anonHugeKb=(\\w+)");
    /** The kernel's huge page size, read in {@link #kernelHasTransparentHugePagesAndShowsTheAdvice}. */
    private static int huge;

    @BeforeAll
    static void kernelHasTransparentHugePagesAndShowsTheAdvice() throws Exception {
        assumeTrue(Files.isDirectory(Path.of("/sys/kernel/mm/transparent_hugepage")),
                "this kernel has no transparent huge pages");
        assumeTrue(Files.readString(Path.of("/proc/self/smaps")).contains("VmFlags:"),
                "smaps shows no VmFlags here");
        long size = Long.parseLong(Files.readString(
                Path.of("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")).trim());
        // Two of them must fit the child's budget (the heap, 256 MiB) with room to spare.
        assumeTrue(size <= 32 << 20, "huge pages of " + (size >> 20) + " MiB are too large to test here");
        huge = (int) size;
    }

    /** Whether the mapping behind a child JVM's buffer of {@code size} bytes was advised. */
    private static boolean advised(int size, String... flags) throws Exception {
        List<String> all = new ArrayList<>(List.of(flags));
        all.add("--add-exports=java.base/sun.nio.ch=ALL-UNNAMED");
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(), all,
                HugePagesProbe.class.getName(), String.valueOf(size));
        assertEquals(0, result.exitCode(), result.output());
        Matcher m = FIGURES.matcher(result.output());
        assertTrue(m.find(), result.output());
        return Boolean.parseBoolean(m.group(1));
    }

    @Test
    void buffersOfAHugePageAndMoreAskForHugePagesByDefault() throws Exception {
        assertTrue(advised(2 * huge));
        assertTrue(advised(2 * huge, "-Ddirectmem.hugePages=TRUE"));
        assertTrue(!advised(huge / 2), "half a huge page cannot hold one");
    }

    @Test
    void hugePagesCanBeTurnedOffAndABadSettingIsAClearError() throws Exception {
        assertTrue(!advised(2 * huge, "-Ddirectmem.hugePages=false"));

        Subprocess.Result bad = Subprocess.run(Subprocess.testClassPath(),
                List.of("-Ddirectmem.hugePages=on"), HugePagesProbe.class.getName(), "4194304");
        assertTrue(bad.exitCode() != 0, bad.output());
        assertTrue(bad.output().contains("IllegalArgumentException: directmem is unavailable: invalid value "
                + "for system property directmem.hugePages: 'on' (expected true or false)"), bad.output());
    }
}
