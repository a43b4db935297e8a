package dev.directmem;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/** Run in a child JVM by {@link ReclamationTest}: holds 1 MiB buffers until the budget is full. */
final class ExhaustionProbe {
    private ExhaustionProbe() {}

    public static void main(String[] args) {
        List<ByteBuffer> held = new ArrayList<>();
        try {
            while (true) {
                held.add(DirectMemory.allocateDirect(1 << 20));
            }
        } catch (OutOfMemoryError e) {
            System.out.println("HELD " + held.size() + " MiB; " + e.getMessage());
        }
    }
}
