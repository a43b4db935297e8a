package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The ways of reaching a buffer's fields: from Java up to JDK 25, made accessible through JNI,
 * whatever the flags; through JNI from JDK 26 and when asked for. Each is run in a child JVM
 * here, and the test matrix runs the whole suite both ways: its JDK 25 cells ask for JNI.
 */
class BufferAccessTest {
    /** Native's test hooks, called directly here, need the library that the setup loads. */
    @BeforeAll
    static void setUp() {
        Native.checkAvailable();
    }

    private static final String FROM_JAVA = "Java (fields made accessible through JNI)";
    private static final String JNI = "JNI";
    private static final boolean BEFORE_26 = Runtime.version().feature() < 26;

    @Test
    void fieldsAreSetFromJavaWhereverTheJvmAllowsItWithoutAWarning() {
        boolean askedForJni = "jni".equals(System.getProperty("directmem.bufferAccess"));
        String expected = askedForJni || !BEFORE_26 ? JNI : FROM_JAVA;
        assertEquals(expected, BufferAccess.INSTANCE.describe());
        assertEquals(!expected.equals(JNI), BufferAccess.INSTANCE instanceof BufferAccess.FromJava);
    }

    @Test
    void fieldsSetFromJavaAllocateFreeAndReclaimWithoutAWarningWithOrWithoutOpens() throws Exception {
        String output = assertProbeRuns(List.of(), BEFORE_26 ? FROM_JAVA : JNI);
        assertFalse(output.contains("WARNING"), output);
        // Netty's flag, which many JVMs run with, changes nothing.
        assertProbeRuns(List.of("--add-opens=java.base/java.nio=ALL-UNNAMED"), BEFORE_26 ? FROM_JAVA : JNI);
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
