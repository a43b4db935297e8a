package dev.directmem;

import java.nio.ByteBuffer;
import jdk.jfr.Recording;

/**
 * Churns three budgets of dropped 1 MiB buffers while a JFR recording runs, in a JVM of its own
 * (see {@link RecordingChurnTest}): prints "REFUSED AT i" at the first refusal, else "CHURNED"
 * and the collections it took.
 */
final class RecordingChurnProbe {
    private static final int MIB = 1 << 20;

    public static void main(String[] args) {
        long buffers = 3 * DirectMemory.stats().maxMemory() / MIB;
        try (Recording recording = new Recording()) {
            recording.start();
            for (long i = 0; i < buffers; i++) {
                ByteBuffer buffer;
                try {
                    buffer = DirectMemory.allocateDirect(MIB);
                } catch (OutOfMemoryError e) {
                    System.out.println("REFUSED AT " + i + " OF " + buffers + ": " + e.getMessage());
                    return;
                }
                buffer.putLong(0, i);
            }
        }
        System.out.println("CHURNED " + buffers + " COLLECTIONS " + DirectMemory.stats().collections());
    }
}
