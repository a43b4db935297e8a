package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.Buffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Both ways of reaching a buffer's fields: JNI by default, Java when java.nio is open to
 * directmem. (The whole suite runs with java.nio open in the JDK 21 cells of the test matrix.)
 */
class BufferAccessTest {
    @Test
    void fieldsAreSetFromJavaExactlyWhenJavaNioIsOpen() {
        boolean open = Buffer.class.getModule().isOpen("java.nio", DirectMemory.class.getModule());
        assertEquals(open, BufferAccess.INSTANCE instanceof BufferAccess.FromJava,
                BufferAccess.INSTANCE.describe());
    }

    @Test
    void javaAccessAllocatesFreesAndReclaims() throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                List.of("--add-opens=java.base/java.nio=ALL-UNNAMED", "-Ddirectmem.maxMemory=64m"),
                BufferAccessProbe.class.getName());
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("ACCESS Java"), result.output());
        assertTrue(result.output().contains("OK"), result.output());
    }
}
