package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class BudgetTest {

    @Test
    void parsesBytesAndSuffixesLikeMaxDirectMemorySize() {
        assertEquals(0, Budget.parseSize("p", "0"));
        assertEquals(123, Budget.parseSize("p", "123"));
        assertEquals(2048, Budget.parseSize("p", "2k"));
        assertEquals(64L << 20, Budget.parseSize("p", "64m"));
        assertEquals(64L << 20, Budget.parseSize("p", "64M"));
        assertEquals(3L << 30, Budget.parseSize("p", " 3g "));
        assertEquals(1L << 40, Budget.parseSize("p", "1T"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "m", "-1", "1.5g", "12x", "10 m", "99999999999t", "0x10"})
    void rejectsNonsenseNamingThePropertyAndTheValue(String value) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Budget.parseSize(Budget.PROPERTY, value));
        assertTrue(e.getMessage().contains("directmem.maxMemory"), e.getMessage());
        assertTrue(e.getMessage().contains("'" + value + "'"), e.getMessage());
    }

    @Test
    void platformNamesTheJarFolder() {
        assertEquals("linux-x86_64", NativeLibrary.platform());
    }
}
