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

/** Buffers of 2 MiB and more ask for transparent huge pages, unless turned off. */
class HugePagesTest {
    private static final Pattern FIGURES = Pattern.compile("HUGE advised=(\\w+) anonHugeKb=(\\w+)");

    @BeforeAll
    static void kernelHasTransparentHugePagesAndShowsTheAdvice() throws Exception {
        assumeTrue(Files.isDirectory(Path.of("/sys/kernel/mm/transparent_hugepage")),
                "this kernel has no transparent huge pages");
        assumeTrue(Files.readString(Path.of("/proc/self/smaps")).contains("VmFlags:"),
                "smaps shows no VmFlags here");
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
        assertTrue(advised(4 << 20));
        assertTrue(advised(4 << 20, "-Ddirectmem.hugePages=TRUE"));
        assertTrue(!advised(1 << 20), "a 1 MiB buffer cannot hold a huge page");
    }

    @Test
    void hugePagesCanBeTurnedOffAndABadSettingIsAClearError() throws Exception {
        assertTrue(!advised(4 << 20, "-Ddirectmem.hugePages=false"));

        Subprocess.Result bad = Subprocess.run(Subprocess.testClassPath(),
                List.of("-Ddirectmem.hugePages=on"), HugePagesProbe.class.getName(), "4194304");
        assertTrue(bad.exitCode() != 0, bad.output());
        assertTrue(bad.output().contains("IllegalArgumentException: directmem is unavailable: invalid value "
                + "for system property directmem.hugePages: 'on' (expected true or false)"), bad.output());
    }
}
