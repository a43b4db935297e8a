package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** directmem buffers through real channels: the JDK reads and writes them like its own. */
class ChannelsTest {
    private static final int CHUNK = 256 * 1024;
    private static final int CHUNKS = 64; // 16 MiB

    private static ByteBuffer randomChunk(SplittableRandom random, CRC32 crc) {
        ByteBuffer buffer = DirectMemory.allocateDirect(CHUNK);
        while (buffer.hasRemaining()) {
            buffer.putLong(random.nextLong());
        }
        buffer.flip();
        crc.update(buffer.duplicate());
        return buffer;
    }

    @Test
    void fileChannelRoundTrip(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("data");
        CRC32 written = new CRC32();
        SplittableRandom random = new SplittableRandom(42);
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            for (int i = 0; i < CHUNKS; i++) {
                ByteBuffer chunk = randomChunk(random, written);
                while (chunk.hasRemaining()) {
                    out.write(chunk);
                }
                DirectMemory.free(chunk);
            }
        }
        CRC32 read = new CRC32();
        long total = 0;
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buffer = DirectMemory.allocateDirect(CHUNK + 17); // not aligned to the chunks
            int n;
            while ((n = in.read(buffer.clear())) > 0) {
                total += n;
                read.update(buffer.flip());
            }
        }
        assertEquals((long) CHUNK * CHUNKS, total);
        assertEquals(written.getValue(), read.getValue());
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void loopbackSocketRoundTrip() throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            CRC32 sent = new CRC32();
            CompletableFuture<Void> sender = CompletableFuture.runAsync(() -> {
                SplittableRandom random = new SplittableRandom(7);
                try (SocketChannel out = SocketChannel.open(server.getLocalAddress())) {
                    for (int i = 0; i < CHUNKS; i++) {
                        ByteBuffer chunk = randomChunk(random, sent);
                        while (chunk.hasRemaining()) {
                            out.write(chunk);
                        }
                        // Dropped, not freed: the Cleaner gives these back.
                    }
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            CRC32 received = new CRC32();
            long total = 0;
            try (SocketChannel in = server.accept()) {
                ByteBuffer buffer = DirectMemory.allocateDirect(64 * 1024 + 3);
                int n;
                while ((n = in.read(buffer.clear())) >= 0) {
                    total += n;
                    received.update(buffer.flip());
                }
                DirectMemory.free(buffer);
            }
            sender.get(60, TimeUnit.SECONDS);
            assertEquals((long) CHUNK * CHUNKS, total);
            assertEquals(sent.getValue(), received.getValue());
        }
    }
}
