package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Freed mapped blocks kept for reuse: bounded, returned when idle, and off on request. */
class ReuseTest {
    private static final long MIB = 1 << 20;
    private static final Pattern FIGURES =
            Pattern.compile("REUSE before=(\\d+) with=(\\d+) afterFree=(\\d+) idle=(\\d+)");

    /** {before, with, afterFree, idle} resident bytes of a child JVM run with {@code flags}. */
    private static long[] probe(String... flags) throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                List.of(flags), ReuseProbe.class.getName());
        assertEquals(0, result.exitCode(), result.output());
        Matcher m = FIGURES.matcher(result.output());
        assertTrue(m.find(), result.output());
        return new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2)),
                Long.parseLong(m.group(3)), Long.parseLong(m.group(4))};
    }

    @Test
    void withReuseOffFreedMemoryGoesBackToTheOsAtOnce() throws Exception {
        long[] rss = probe("-Ddirectmem.maxMemory=64m", "-Ddirectmem.reuseMemory=0");
        assertTrue(rss[1] - rss[0] >= 28 * MIB, "the 32 MiB written are resident");
        assertTrue(rss[1] - rss[2] >= 28 * MIB, "right after free, the pages are gone: " + (rss[1] - rss[2]));
    }

    @Test
    void keptBlocksGoBackToTheOsOnceIdle() throws Exception {
        long[] rss = probe("-Ddirectmem.maxMemory=64m");
        assertTrue(rss[1] - rss[0] >= 28 * MIB, "the 32 MiB written are resident");
        assertTrue(rss[1] - rss[3] >= 28 * MIB, "after 3.5 idle seconds, the kept pages are gone: " + (rss[1] - rss[3]));
    }
}
