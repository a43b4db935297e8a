package dev.directmem;

import com.sun.management.HotSpotDiagnosticMXBean;
import com.sun.management.VMOption;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Locale;

/**
 * The settings read once at startup. The budget comes from directmem.maxMemory, else
 * -XX:MaxDirectMemorySize, else the heap.
 */
final class Budget {
    static final String PROPERTY = "directmem.maxMemory";
    static final String REUSE_PROPERTY = "directmem.reuseMemory";
    static final String PACK_PROPERTY = "directmem.packSmallBuffers";
    static final String ACCESS_PROPERTY = "directmem.bufferAccess";
    static final String HUGE_PAGES_PROPERTY = "directmem.hugePages";
    static final String TRIM_MALLOC_PROPERTY = "directmem.trimMalloc";
    static final String JMX_PROPERTY = "directmem.jmx";

    private Budget() {}

    static long maxMemory() {
        String configured = System.getProperty(PROPERTY);
        if (configured != null) {
            return parseSize(PROPERTY, configured);
        }
        long jvmLimit = jvmMaxDirectMemorySize();
        return jvmLimit >= 0 ? jvmLimit : Runtime.getRuntime().maxMemory();
    }

    /** directmem.reuseMemory: the most freed memory kept mapped for reuse; -1 when not set. */
    static long reuseMemory() {
        String configured = System.getProperty(REUSE_PROPERTY);
        return configured == null ? -1 : parseSize(REUSE_PROPERTY, configured);
    }

    /** directmem.packSmallBuffers: whether small buffers share blocks ({@link SharedBlock}); default true. */
    static boolean packSmallBuffers() {
        return !otherThanDefault(PACK_PROPERTY, "true", "false");
    }

    /**
     * directmem.hugePages: whether buffers of a huge page and more (2 MiB on x86-64; on aarch64
     * 2, 32 or 512 MiB with 4, 16 or 64 KiB pages) ask the kernel for transparent huge pages;
     * default true.
     */
    static boolean hugePages() {
        return !otherThanDefault(HUGE_PAGES_PROPERTY, "true", "false");
    }

    /**
     * directmem.trimMalloc: whether malloc gives its free memory back to the OS once the program
     * is quiet (rust/src/heap_trim.rs); default true.
     */
    static boolean trimMalloc() {
        return !otherThanDefault(TRIM_MALLOC_PROPERTY, "true", "false");
    }

    /** directmem.jmx: whether to register the MBean ({@link Monitoring}); default true. */
    static boolean jmx() {
        return !otherThanDefault(JMX_PROPERTY, "true", "false");
    }

    /**
     * directmem.bufferAccess: {@code auto} (the default) reaches buffer fields from Java where the
     * JVM allows it ({@link BufferAccess}); {@code jni} always through JNI. True for {@code jni}.
     */
    static boolean jniBufferAccess() {
        return otherThanDefault(ACCESS_PROPERTY, "auto", "jni");
    }

    /**
     * Whether a property that takes one of two values (any case) was set to {@code other} rather
     * than left unset or set to {@code byDefault}.
     */
    private static boolean otherThanDefault(String property, String byDefault, String other) {
        String configured = System.getProperty(property);
        String value = configured == null ? byDefault : configured.trim().toLowerCase(Locale.ROOT);
        if (value.equals(byDefault) || value.equals(other)) {
            return value.equals(other);
        }
        throw new IllegalArgumentException("invalid value for system property " + property + ": '" + configured
                + "' (expected " + byDefault + " or " + other + ")");
    }

    /** -XX:MaxDirectMemorySize if it was given, else -1. */
    private static long jvmMaxDirectMemorySize() {
        try {
            HotSpotDiagnosticMXBean hotspot =
                    ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
            VMOption option = hotspot.getVMOption("MaxDirectMemorySize");
            return option.getOrigin() == VMOption.Origin.DEFAULT ? -1 : Long.parseLong(option.getValue());
        } catch (RuntimeException | LinkageError e) {
            // Not HotSpot, or a runtime without jdk.management (jlink): the flag as given.
            try {
                return maxDirectMemorySizeArgument(ManagementFactory.getRuntimeMXBean().getInputArguments());
            } catch (RuntimeException | LinkageError notEvenThat) {
                // No java.management either: nothing in java.base tells the flag. Said, not guessed.
                System.getLogger("dev.directmem").log(System.Logger.Level.WARNING, "directmem cannot read "
                        + "-XX:MaxDirectMemorySize on this runtime (it has no java.management module): the "
                        + "budget is the JVM's maximum heap unless -D" + PROPERTY + " sets it");
                return -1;
            }
        }
    }

    /**
     * The last -XX:MaxDirectMemorySize among the JVM's arguments, read as HotSpot reads it
     * (decimal or 0x hexadecimal, an optional k, m, g or t suffix), else -1. A value this cannot
     * read (the JVM started with it, so it is valid there) leaves the JDK's default, with a
     * warning: never a reason to fail.
     */
    static long maxDirectMemorySizeArgument(List<String> arguments) {
        String prefix = "-XX:MaxDirectMemorySize=";
        String value = null;
        for (String argument : arguments) {
            if (argument.startsWith(prefix)) {
                value = argument.substring(prefix.length());
            }
        }
        if (value == null) {
            return -1;
        }
        String text = value.trim().toLowerCase(Locale.ROOT);
        boolean hex = text.startsWith("0x");
        try {
            return parseSize("-XX:MaxDirectMemorySize", hex ? hexToDecimal(text.substring(2)) : text);
        } catch (IllegalArgumentException e) {
            System.getLogger("dev.directmem").log(System.Logger.Level.WARNING, "directmem cannot read "
                    + prefix + value + "; the budget is the JVM's maximum heap instead");
            return -1;
        }
    }

    /** {@code digits} (hexadecimal, with an optional k, m, g or t suffix) in decimal, suffix kept. */
    private static String hexToDecimal(String digits) {
        boolean suffixed = !digits.isEmpty() && "kmgt".indexOf(digits.charAt(digits.length() - 1)) >= 0;
        String number = suffixed ? digits.substring(0, digits.length() - 1) : digits;
        try {
            return Long.parseLong(number, 16) + (suffixed ? digits.substring(digits.length() - 1) : "");
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(e);
        }
    }

    /**
     * What a refused reservation's OutOfMemoryError adds, after collections, where this JVM's
     * collector cannot be made to find every unreachable buffer, else an empty string. Generational Shenandoah (JDK 25)
     * ignores forced collections under -XX:+DisableExplicitGC, as Shenandoah does, and the heap
     * pressure directmem applies instead brings only young cycles: a buffer whose owner reached
     * the old generation comes back in an old cycle, which the collector starts on its own.
     */
    static String collectorCaveat() {
        return "true".equals(vmOption("UseShenandoahGC"))
                && "generational".equals(vmOption("ShenandoahGCMode"))
                && "true".equals(vmOption("DisableExplicitGC"))
                ? "; on generational Shenandoah with -XX:+DisableExplicitGC, a dropped buffer that"
                        + " lived long enough to reach the old generation is freed only after an old"
                        + " cycle, which directmem cannot start: free such buffers with DirectMemory.free,"
                        + " or run without -XX:+DisableExplicitGC or with -XX:ShenandoahGCMode=satb"
                : "";
    }

    /** A HotSpot flag's value, or null (no such flag, or not HotSpot). */
    private static String vmOption(String name) {
        try {
            return ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class).getVMOption(name).getValue();
        } catch (RuntimeException | LinkageError e) {
            return null;
        }
    }

    /** Parses bytes with an optional k, m, g or t suffix (any case), as -XX:MaxDirectMemorySize. */
    static long parseSize(String property, String value) {
        String text = value.trim();
        int shift = 0;
        if (!text.isEmpty()) {
            // Both cases listed, as lower-casing would take the Kelvin sign for a k.
            int suffix = "kmgtKMGT".indexOf(text.charAt(text.length() - 1));
            if (suffix >= 0) {
                shift = 10 * (suffix % 4 + 1);
                text = text.substring(0, text.length() - 1);
            }
        }
        try {
            // ASCII digits only, as the JVM reads its own sizes: isDigit took "５１２m" for 512 MiB.
            if (text.isEmpty() || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
                throw new NumberFormatException();
            }
            long number = Long.parseLong(text);
            if (number > (Long.MAX_VALUE >> shift)) {
                throw new NumberFormatException();
            }
            return number << shift;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("invalid value for system property " + property + ": '"
                    + value + "' (expected a byte count with an optional k, m, g or t suffix, such as 512m)");
        }
    }
}
