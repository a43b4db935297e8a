package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.nio.Buffer;
import java.nio.ByteBuffer;
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
        NullPointerException e = assertThrows(NullPointerException.class, () -> Native.makeAccessible(null));
        assertEquals("field", e.getMessage());
    }

    /** The native call sets any field's flag: it takes only the three it exists for. */
    @Test
    void makingAnyOtherFieldAccessibleIsRefused() throws Exception {
        Field limit = Buffer.class.getDeclaredField("limit");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Native.makeAccessible(limit));
        assertEquals("makeAccessible is for java.nio's buffer fields address, capacity and att only, not limit",
                e.getMessage());
        assertThrows(IllegalAccessException.class, () -> limit.getInt(ByteBuffer.allocate(1)));
        Field value = String.class.getDeclaredField("value");
        assertThrows(IllegalArgumentException.class, () -> Native.makeAccessible(value));
        assertThrows(IllegalAccessException.class, () -> value.get("a string"));
        Field att = Class.forName("java.nio.DirectByteBuffer").getDeclaredField("att");
        Native.makeAccessible(att); // one of the three, as BufferAccess does
    }

    /** Null where the native side stores fields or reads arrays: an exception, not a crashed JVM. */
    @Test
    void nullArgumentsOfTheNativeCallsThrowNullPointerException() {
        long[] waiting = new long[Native.WAITING_LONGS];
        assertEquals("buffer", assertThrows(NullPointerException.class,
                () -> Native.allocate(null, 8, 1, new Object(), false, waiting)).getMessage());
        assertEquals("buffer", assertThrows(NullPointerException.class,
                () -> Native.disarm(null, new Object())).getMessage());
        assertEquals("buffer", assertThrows(NullPointerException.class,
                () -> Native.fill(null, 0, 0, (byte) 0)).getMessage());
        assertEquals("addresses", assertThrows(NullPointerException.class,
                () -> Native.freeBatch(null, new int[1], new int[1], new int[1], 1, false)).getMessage());
        assertEquals("stamps", assertThrows(NullPointerException.class,
                () -> Native.freeBatch(new long[1], new int[1], new int[1], null, 1, false)).getMessage());
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
