package dev.directmem.probe;

import dev.directmem.DirectMemory;
import java.nio.ByteBuffer;

/**
 * The main class ModuleTest runs on the class path while directmem is on the module path: in a
 * package of its own, since dev.directmem belongs to the module there.
 */
public final class ModuleProbe {
    private ModuleProbe() {}

    public static void main(String[] args) {
        ByteBuffer buffer = DirectMemory.allocateDirect(64);
        DirectMemory.free(buffer);
        System.out.println("probe ok in module " + DirectMemory.class.getModule().getName());
    }
}
