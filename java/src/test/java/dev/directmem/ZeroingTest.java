package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Every byte of a new buffer reads zero, whoever zeroed its reused memory: the allocating
 * thread, the zeroer thread ahead of it (blocks the reclaimer freed), or both together (blocks
 * of 4 MiB and more). Each buffer is written whole before it goes, so a byte left unzeroed shows.
 */
class ZeroingTest {
    private static final Pattern FIGURES =
            Pattern.compile("ZEROING reclaimed=(\\d+) freed=(\\d+) collections=(\\d+) first=(.*)");
    private static final Pattern RESIDENT =
            Pattern.compile("ZEROING built on resident memory: reclaimed=(\\d+) freed=(\\d+)");

    @Test
    void buffersBuiltOnReusedMemoryReadZeroWhoeverZeroedIt() throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                List.of("-Ddirectmem.maxMemory=64m"), ZeroingProbe.class.getName());
        assertEquals(0, result.exitCode(), result.output());
        Matcher m = FIGURES.matcher(result.output());
        assertTrue(m.find(), result.output());
        assertTrue(Long.parseLong(m.group(3)) > 0, "no collection brought memory back: " + m.group());
        assertEquals("0 0", m.group(1) + " " + m.group(2),
                "buffers not zero-filled (dropped, freed); the first: " + m.group(4));
        // Reused memory was handed out, reclaimed and freed alike: else the checks above saw only
        // fresh zero pages (a cache turned off passes them). Of 50 buffers of 1 MiB and more each.
        Matcher reused = RESIDENT.matcher(result.output());
        assertTrue(reused.find(), result.output());
        assertTrue(Integer.parseInt(reused.group(1)) >= 10 && Integer.parseInt(reused.group(2)) >= 10,
                "too few buffers built on reused memory: " + reused.group());
    }
}
