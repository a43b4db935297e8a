package dev.directmem;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A child JVM for {@link HugePagesTest}: allocates a buffer of the given size, writes one byte
 * per page, and prints whether the kernel was asked for huge pages for its memory (the {@code hg}
 * flag of its mapping in {@code /proc/self/smaps}) and how much of it huge pages back. Needs
 * {@code --add-exports java.base/sun.nio.ch=ALL-UNNAMED} to read the buffer's address.
 */
public final class HugePagesProbe {
    private HugePagesProbe() {}

    public static void main(String[] args) throws Exception {
        ByteBuffer buffer = DirectMemory.allocateDirect(Integer.parseInt(args[0]));
        for (int at = 0; at < buffer.capacity(); at += 4096) {
            buffer.put(at, (byte) 1);
        }
        long address = (long) Class.forName("sun.nio.ch.DirectBuffer").getMethod("address").invoke(buffer);
        boolean inside = false;
        String flags = null;
        String hugeKb = null;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            String[] fields = line.split("\\s+");
            if (fields[0].matches("[0-9a-f]+-[0-9a-f]+")) {
                String[] range = fields[0].split("-");
                inside = Long.parseUnsignedLong(range[0], 16) <= address
                        && address < Long.parseUnsignedLong(range[1], 16);
            } else if (inside && fields[0].equals("AnonHugePages:")) {
                hugeKb = fields[1];
            } else if (inside && fields[0].equals("VmFlags:")) {
                flags = line;
            }
        }
        boolean advised = flags != null && List.of(flags.split("\\s+")).contains("hg");
        System.out.println("HUGE advised=" + advised + " anonHugeKb=" + hugeKb);
        DirectMemory.free(buffer);
    }
}
