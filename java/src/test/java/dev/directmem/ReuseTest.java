package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Freed memory kept for reuse, and freed memory malloc holds: bounded, returned when idle, and
 * off on request.
 */
class ReuseTest {
    private static final long MIB = 1 << 20;
    private static final Pattern FIGURE = Pattern.compile("(\\w+)=(\\d+)");
    /** Of the 32 MiB the mapped mode writes, this much is asserted resident, and then gone. */
    private static final long MAPPED_SEEN = 28 * MIB;
    /** Trimmed, with nothing in use, the resident set is less than this above where it began. */
    private static final long TRIMMED_WITHIN = 40 * MIB;

    /** {before, with, afterFree, idle} resident bytes of a child JVM run with {@code flags}. */
    private static long[] probe(String... flags) throws Exception {
        return figures(List.of(flags), "mapped", "before", "with", "afterFree", "idle");
    }

    /**
     * The resident bytes {@code names} that ReuseProbe in {@code mode} prints, run with
     * {@code flags} and a 128 MiB budget unless they say otherwise. The Java heap is resident
     * whole from the start: collectors grow it as they go (Shenandoah by 190 MiB in the malloc
     * mode, where garbage arrays push it to collect), which is not directmem's memory.
     */
    private static long[] figures(List<String> flags, String mode, String... names) throws Exception {
        return figures(run(flags, mode), names);
    }

    /** The resident bytes {@code names} that a ReuseProbe run printed. */
    private static long[] figures(Subprocess.Result result, String... names) {
        Map<String, Long> printed = new HashMap<>();
        Matcher m = FIGURE.matcher(result.output());
        while (m.find()) {
            printed.put(m.group(1), Long.parseLong(m.group(2)));
        }
        long[] values = new long[names.length];
        for (int i = 0; i < names.length; i++) {
            Long value = printed.get(names[i]);
            assertNotNull(value, names[i] + " missing: " + result.output());
            values[i] = value;
        }
        return values;
    }

    /**
     * The flag that has ReuseProbe wait, for up to 30 s, until its idle reading is at most
     * {@code bytes} above the earlier reading {@code name} (below it, if negative): the bound a
     * test that expects memory back asserts, so that a late release (a malloc trim 10 s after the
     * last) is waited for.
     */
    private static String idleAtMost(String name, long bytes) {
        return "-DreuseProbe.idleAtMost=" + name + (bytes < 0 ? "-" : "+") + Math.abs(bytes);
    }

    /** As {@link #idleAtMost(String, long)}, for a bound of {@code bytes} resident. */
    private static String idleAtMost(long bytes) {
        return "-DreuseProbe.idleAtMost=" + bytes;
    }

    /** ReuseProbe in {@code mode}, as {@link #figures} runs it; it must succeed. */
    private static Subprocess.Result run(List<String> flags, String mode) throws Exception {
        List<String> all = new ArrayList<>(List.of("-Ddirectmem.maxMemory=128m", "-Xms256m", "-Xmx256m",
                "-XX:+AlwaysPreTouch"));
        all.addAll(flags); // a later -D wins
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(), all,
                ReuseProbe.class.getName(), mode.split(" "));
        assertEquals(0, result.exitCode(), result.output());
        return result;
    }

    @Test
    void withReuseOffFreedMemoryGoesBackToTheOsAtOnce() throws Exception {
        long[] rss = probe("-Ddirectmem.maxMemory=64m", "-Ddirectmem.reuseMemory=0");
        assertTrue(rss[1] - rss[0] >= MAPPED_SEEN, "the 32 MiB written are resident");
        assertTrue(rss[1] - rss[2] >= MAPPED_SEEN, "right after free, the pages are gone: " + (rss[1] - rss[2]));
    }

    @Test
    void keptBlocksGoBackToTheOsOnceIdle() throws Exception {
        long[] rss = probe("-Ddirectmem.maxMemory=64m", idleAtMost("with", -MAPPED_SEEN));
        assertTrue(rss[1] - rss[0] >= MAPPED_SEEN, "the 32 MiB written are resident");
        // Kept, they stay resident right after the free (with reuse off they go: see above), so
        // the caches are on.
        assertTrue(rss[1] - rss[2] < 8 * MIB, "right after free, kept pages went: " + (rss[1] - rss[2]));
        assertTrue(rss[1] - rss[3] >= MAPPED_SEEN, "once idle, the kept pages are gone: " + (rss[1] - rss[3]));
    }

    /**
     * README: the default reuse limit is at most 64 MiB, but "an explicit value is capped at the
     * budget, not at 64 MiB": with 128 MiB asked of a 256 MiB budget, 96 MiB of 1 MiB blocks
     * freed together all stay kept (resident right after the free), and go back once idle. With
     * the default limit, 64 MiB, a third of them goes back at once.
     */
    @Test
    void anExplicitReuseLimitIsNotCappedAt64MiB() throws Exception {
        long written = 90 * MIB; // of the 96 MiB
        long[] kept = figures(List.of("-Ddirectmem.maxMemory=256m", "-Ddirectmem.reuseMemory=128m",
                idleAtMost("with", -written)), "mapped 96", "before", "with", "afterFree", "idle");
        assertTrue(kept[1] - kept[0] >= written, "the 96 MiB written are resident");
        assertTrue(kept[1] - kept[2] < 8 * MIB, "right after free, kept pages went: " + (kept[1] - kept[2]) / MIB
                + " MiB");
        assertTrue(kept[1] - kept[3] >= written, "once idle, the kept pages are gone: " + (kept[1] - kept[3]) / MIB
                + " MiB");
        long[] byDefault = figures(List.of("-Ddirectmem.maxMemory=256m"), "mapped 96", "before", "with", "afterFree");
        assertTrue(byDefault[1] - byDefault[2] >= 28 * MIB, "by default 64 MiB kept at most, yet "
                + (byDefault[1] - byDefault[2]) / MIB + " MiB went back right after free");
    }

    /**
     * Each thread keeps the last mid-size block it freed, but only a quarter of the reuse limit
     * in all (64 threads here: 12.5 MiB), and a waiting thread's block goes back once idle.
     * Before: 300 threads that each freed a 200 KiB buffer held 56 MiB more than with reuse off,
     * idle or not. Two child JVMs: each one's growth from its own start is compared, with slack
     * for what differs between two JVMs (thread stacks, malloc arenas), well below those 56 MiB.
     */
    @Test
    void blocksKeptForThreadsAreBoundedAndGoBackOnceIdle() throws Exception {
        List<String> off = List.of("-Ddirectmem.reuseMemory=0");
        long[] none = figures(off, "threads 300", "before", "waiting", "idle");
        long idleWithin = 12 * MIB;
        long[] kept = figures(List.of(idleAtMost("before", none[2] - none[0] + idleWithin - 1)), "threads 300",
                "before", "waiting", "idle");
        long waitingMore = (kept[1] - kept[0]) - (none[1] - none[0]);
        assertTrue(waitingMore < 24 * MIB, "at most 64 blocks of 200 KiB kept: "
                + waitingMore / MIB + " MiB more than with reuse off");
        long idleMore = (kept[2] - kept[0]) - (none[2] - none[0]);
        assertTrue(idleMore < idleWithin, "once idle, none: " + idleMore / MIB + " MiB more than with reuse off");
    }

    /**
     * Buffers below 256 KiB come from malloc, which keeps the pages of freed blocks; once frees
     * stop, directmem has it give them back to the OS (malloc_trim), with reuse on or off. Before:
     * after churning 8 KiB to 200 KiB buffers through a 128 MiB budget, with nothing left in use,
     * the resident set stayed 156 MiB above where it began (120 MiB with reuse off).
     */
    @Test
    void mallocGivesFreedMemoryBackToTheOsOnceFreesStop() throws Exception {
        for (List<String> flags : List.of(List.<String>of(), List.of("-Ddirectmem.reuseMemory=0"))) {
            List<String> untilTrimmed = new ArrayList<>(flags);
            untilTrimmed.add(idleAtMost("before", TRIMMED_WITHIN - 1));
            Subprocess.Result probe = run(untilTrimmed, "malloc");
            long[] rss = figures(probe, "before", "churned", "idle");
            assertTrue(rss[1] - rss[0] >= 64 * MIB, flags + ": the churn grew the resident set by "
                    + (rss[1] - rss[0]) / MIB + " MiB only");
            assertTrue(rss[2] - rss[0] < TRIMMED_WITHIN, flags + ": idle with nothing in use, still "
                    + (rss[2] - rss[0]) / MIB + " MiB above where it began\n" + probe.output());
        }
    }

    /**
     * Only blocks that went to malloc's free make a trim worth it: large buffers go back by munmap,
     * so a program of 1 MiB buffers alone never trims. Before: its 32 MiB freed made a trim once
     * the program was quiet.
     */
    @Test
    void freedLargeBuffersAreNoReasonToTrimMalloc() throws Exception {
        String trimmed = "malloc_trim took"; // what -Ddirectmem.log=debug shows of a trim
        List<String> debug = List.of("-Ddirectmem.log=debug", "-Ddirectmem.reuseMemory=0");
        Subprocess.Result large = run(debug, "mapped");
        assertFalse(large.output().contains(trimmed), large.output());
        List<String> untilTrimmed = new ArrayList<>(debug);
        untilTrimmed.add(idleAtMost("before", TRIMMED_WITHIN - 1));
        Subprocess.Result mid = run(untilTrimmed, "malloc");
        assertTrue(mid.output().contains(trimmed), "buffers below 256 KiB: trimmed once quiet\n" + mid.output());
    }

    /** {@code -Ddirectmem.trimMalloc=false} leaves malloc's free memory alone; a bad value is a clear error. */
    @Test
    void mallocTrimsCanBeTurnedOffAndABadSettingIsAClearError() throws Exception {
        long[] rss = figures(List.of("-Ddirectmem.trimMalloc=false"), "malloc", "before", "churned", "idle");
        assertTrue(rss[2] - rss[0] >= 64 * MIB, "not trimmed: " + (rss[2] - rss[0]) / MIB + " MiB above");

        Subprocess.Result bad = Subprocess.run(Subprocess.testClassPath(),
                List.of("-Ddirectmem.trimMalloc=sometimes"), ReuseProbe.class.getName(), "malloc");
        assertTrue(bad.exitCode() != 0, bad.output());
        assertTrue(bad.output().contains("IllegalArgumentException: directmem is unavailable: invalid value "
                + "for system property directmem.trimMalloc: 'sometimes' (expected true or false)"), bad.output());
    }
}
