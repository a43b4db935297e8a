package dev.directmem;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;

/**
 * Run in a child JVM by {@link EventsTest}, with a JFR recording of Reclamation events. With the
 * argument {@code failing}, every event throws (planted), while 1 MiB buffers are dropped through
 * the budget 40 times over. With {@code early}, 60 1 MiB buffers are dropped through a 64 MiB
 * budget and nothing more is allocated, so that only the background reclaimer collects. Prints
 * each event as {@code EVENT trigger=... bytesFreed=...} and the pool's figures.
 */
final class EventsProbe {
    private EventsProbe() {}

    private static final int MIB = 1 << 20;

    public static void main(String[] args) throws Exception {
        Path file = Files.createTempFile("directmem-events-probe", ".jfr");
        try (Recording recording = new Recording()) {
            recording.enable("dev.directmem.Reclamation");
            recording.start();
            long budget = DirectMemory.stats().maxMemory();
            if (args[0].equals("failing")) {
                Events.failReclamationEventsForTesting(1_000_000);
                for (long i = 0; i < 40 * budget / MIB; i++) {
                    ByteBuffer buffer = DirectMemory.allocateDirect(MIB);
                    buffer.putLong(0, i);
                }
                System.out.println("THROWN " + (1_000_000 - Events.reclamationEventFailuresLeft()));
            } else {
                for (int i = 0; i < 60; i++) {
                    ByteBuffer buffer = DirectMemory.allocateDirect(MIB);
                    buffer.putInt(0, i);
                }
                // No allocation from here on: the background reclaimer's collection alone, and
                // the reclaimer thread's frees of what it found.
                long deadline = System.nanoTime() + 120_000_000_000L;
                while (DirectMemory.stats().reclaimedBytes() < 50L * MIB && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                Thread.sleep(2000); // the event comes once its frees have landed (256 ms at most)
            }
            DirectMemoryStats stats = DirectMemory.stats();
            System.out.println("COLLECTIONS " + stats.collections());
            System.out.println("RECLAIMED " + stats.reclaimedBytes());
            recording.stop();
            recording.dump(file);
        }
        try {
            for (RecordedEvent e : RecordingFile.readAllEvents(file)) {
                if (e.getEventType().getName().equals("dev.directmem.Reclamation")) {
                    System.out.println("EVENT trigger=" + e.getString("trigger") + " bytesFreed="
                            + e.getLong("bytesFreed") + " reclamationTime=" + e.getDuration("reclamationTime"));
                }
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
