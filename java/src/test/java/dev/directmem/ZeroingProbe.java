package dev.directmem;

import java.nio.ByteBuffer;

/**
 * A child JVM for {@link ZeroingTest}, so that the reuse caches start empty: allocates buffers
 * of kept sizes, checks each reads zero, writes it whole, then drops or frees it; prints how
 * many read otherwise, the first of them, the collections that brought memory back, and how many
 * mapped buffers were built on memory already resident: reused blocks, which directmem zeroed
 * (a fresh mapping's pages become resident only as they are written, so writing it whole grows
 * the resident set by its size). Without those the zero checks would test the kernel's zero
 * pages only.
 */
public final class ZeroingProbe {
    private static final int MIB = 1 << 20;
    /**
     * Kept sizes, multiples of 8: from malloc (below 256 KiB), mapped ones below and above the
     * size zeroed on two cores, and odd ones.
     */
    private static final int[] SIZES = {12 * 1024, 64 * 1024 + 8, 200_000,
            256 * 1024, MIB, 3 * MIB, 4 * MIB, 5 * MIB + 4096, 16 * MIB};
    /** How many of each size below 256 KiB a round allocates: enough to come back in batches. */
    private static final int MALLOCED_PER_ROUND = 32;
    /** About 290 MiB of mapped buffers and 90 MiB of malloc ones, several times the budget. */
    private static final int ROUNDS = 10;

    private ZeroingProbe() {}

    public static void main(String[] args) {
        String first = "none";
        int[] notZero = new int[2];
        int[] resident = new int[2];
        for (int freeing = 0; freeing < 2; freeing++) {
            for (int round = 0; round < ROUNDS; round++) {
                for (int n = 0; n < SIZES.length * MALLOCED_PER_ROUND; n++) {
                    int size = SIZES[n % SIZES.length];
                    if (size >= 256 * 1024 && n >= SIZES.length) {
                        continue; // mapped sizes once a round
                    }
                    ByteBuffer buffer = DirectMemory.allocateDirect(size);
                    int at = firstNonZeroLong(buffer);
                    if (at >= 0 && notZero[freeing]++ == 0 && first.equals("none")) {
                        first = size + "-byte buffer, bytes " + at + ".." + (at + 7) + " = 0x"
                                + Long.toHexString(buffer.getLong(at));
                    }
                    long rssBefore = size >= MIB ? Churn.rssBytes() : 0;
                    for (int i = 0; i < size; i += Long.BYTES) {
                        buffer.putLong(i, 0x5A5A_5A5A_5A5A_5A5AL);
                    }
                    if (size >= MIB && Churn.rssBytes() - rssBefore < size / 2) {
                        resident[freeing]++; // the resident set grew by less than half its size
                    }
                    if (freeing == 1) {
                        DirectMemory.free(buffer);
                    } // else dropped: the budget fills, and a collection brings the block back
                }
            }
        }
        System.out.println("ZEROING reclaimed=" + notZero[0] + " freed=" + notZero[1] + " collections="
                + DirectMemory.stats().collections() + " first=" + first);
        System.out.println("ZEROING built on resident memory: reclaimed=" + resident[0] + " freed=" + resident[1]);
    }

    private static int firstNonZeroLong(ByteBuffer buffer) {
        for (int i = 0; i < buffer.capacity(); i += Long.BYTES) {
            if (buffer.getLong(i) != 0) {
                return i;
            }
        }
        return -1;
    }
}
