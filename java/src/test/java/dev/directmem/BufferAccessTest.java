package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.Buffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The ways of reaching a buffer's fields: from Java up to JDK 25, made accessible by reflection
 * when java.nio is open to directmem and through JNI otherwise; through JNI from JDK 26 and when
 * asked for. Each is run in a child JVM here, and the test matrix runs the whole suite each way:
 * its JDK 21 cells open java.nio, the JDK 25 cells ask for JNI, the JDK 17 cells give no flag.
 */
class BufferAccessTest {
    private static final String REFLECTION = "Java (java.nio is open to directmem)";
    private static final String MADE_ACCESSIBLE = "Java (fields made accessible through JNI)";
    private static final String JNI = "JNI";
    private static final boolean BEFORE_26 = Runtime.version().feature() < 26;

    @Test
    void fieldsAreSetFromJavaWhereverTheJvmAllowsItWithoutAWarning() {
        boolean open = Buffer.class.getModule().isOpen("java.nio", DirectMemory.class.getModule());
        boolean askedForJni = "jni".equals(System.getProperty("directmem.bufferAccess"));
        String expected = askedForJni || !BEFORE_26 ? JNI : open ? REFLECTION : MADE_ACCESSIBLE;
        assertEquals(expected, BufferAccess.INSTANCE.describe());
        assertEquals(!expected.equals(JNI), BufferAccess.INSTANCE instanceof BufferAccess.FromJava);
    }

    @Test
    void reflectionAllocatesFreesAndReclaims() throws Exception {
        assertProbeRuns(List.of("--add-opens=java.base/java.nio=ALL-UNNAMED"), BEFORE_26 ? REFLECTION : JNI);
    }

    @Test
    void fieldsMadeAccessibleThroughJniAllocateFreeAndReclaimWithoutAWarning() throws Exception {
        String output = assertProbeRuns(List.of(), BEFORE_26 ? MADE_ACCESSIBLE : JNI);
        assertFalse(output.contains("WARNING"), output);
    }

    @Test
    void makingNothingAccessibleIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Native.makeAccessible(null));
        assertEquals("makeAccessible of null", e.getMessage());
    }

    @Test
    void jniAllocatesFreesAndReclaimsWhenAskedFor() throws Exception {
        // Asked for even where java.nio is open: JNI then covers every cell of the matrix.
        assertProbeRuns(List.of("--add-opens=java.base/java.nio=ALL-UNNAMED", "-Ddirectmem.bufferAccess=jni"), JNI);
    }

    @Test
    void anInvalidAccessSettingMakesDirectMemoryUnavailableSayingWhy() throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                List.of("-Ddirectmem.bufferAccess=fast"), BufferAccessProbe.class.getName());
        assertEquals(1, result.exitCode(), result.output());
        assertTrue(result.output().contains("java.lang.IllegalArgumentException: directmem is unavailable: invalid value "
                + "for system property directmem.bufferAccess: 'fast' (expected auto or jni)"), result.output());
    }

    /** Runs {@link BufferAccessProbe} with {@code flags}, expecting {@code access}; returns its output. */
    private static String assertProbeRuns(List<String> flags, String access) throws Exception {
        List<String> all = new ArrayList<>(flags);
        all.add("-Ddirectmem.maxMemory=64m");
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(), all, BufferAccessProbe.class.getName());
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("ACCESS " + access + "\n"), result.output());
        assertTrue(result.output().contains("OK"), result.output());
        return result.output();
    }
}
