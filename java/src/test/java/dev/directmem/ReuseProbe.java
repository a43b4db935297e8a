package dev.directmem;

import java.nio.ByteBuffer;

/**
 * A child JVM for {@link ReuseTest}: writes every page of 32 buffers of 1 MiB, frees them, and
 * prints the resident set before, with them, right after the free and after 3.5 idle seconds.
 */
public final class ReuseProbe {
    private ReuseProbe() {}

    public static void main(String[] args) throws InterruptedException {
        int mib = 1 << 20;
        ByteBuffer[] buffers = new ByteBuffer[32];
        long before = Churn.rssBytes();
        for (int i = 0; i < buffers.length; i++) {
            buffers[i] = DirectMemory.allocateDirect(mib);
            for (int at = 0; at < mib; at += 4096) {
                buffers[i].put(at, (byte) 1);
            }
        }
        long with = Churn.rssBytes();
        for (ByteBuffer buffer : buffers) {
            DirectMemory.free(buffer);
        }
        long afterFree = Churn.rssBytes();
        Thread.sleep(3500); // kept blocks go back within two seconds unused: some slack
        long idle = Churn.rssBytes();
        System.out.println("REUSE before=" + before + " with=" + with + " afterFree=" + afterFree
                + " idle=" + idle);
    }
}
