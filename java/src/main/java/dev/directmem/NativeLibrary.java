package dev.directmem;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Loads the native library: from {@code -Ddirectmem.library.path} if given, else from this jar
 * (extracted once to a private temporary file), else from {@code java.library.path}.
 */
final class NativeLibrary {
    static final String PATH_PROPERTY = "directmem.library.path";
    private static final String NAME = "directmem";
    private static final System.Logger LOG = System.getLogger("dev.directmem");

    private NativeLibrary() {}

    static synchronized void load() {
        List<String> tried = new ArrayList<>();
        String explicit = System.getProperty(PATH_PROPERTY);
        if (explicit != null) {
            String file = Path.of(explicit).toAbsolutePath().toString();
            try {
                System.load(file);
            } catch (UnsatisfiedLinkError e) {
                // The JDK's message may not say where the path came from, or what was expected.
                UnsatisfiedLinkError error = new UnsatisfiedLinkError("cannot load the directmem "
                        + "native library " + file + " given by -D" + PATH_PROPERTY + " (platform "
                        + platform() + ", os.name=" + System.getProperty("os.name") + ", os.arch="
                        + System.getProperty("os.arch") + "): " + e.getMessage());
                error.initCause(e);
                throw error;
            }
            LOG.log(System.Logger.Level.DEBUG, "loaded {0} from -D{1}", file, PATH_PROPERTY);
            return;
        }
        String platform = platform();
        String resource = "/native/" + platform + "/" + System.mapLibraryName(NAME);
        try {
            if (NativeLibrary.class.getResource(resource) != null) {
                Path file = extractUninterrupted(resource);
                try {
                    System.load(file.toString());
                    LOG.log(System.Logger.Level.DEBUG, "loaded {0} from this jar (extracted to {1})",
                            resource, file);
                    return;
                } catch (UnsatisfiedLinkError e) {
                    // A java.io.tmpdir mounted noexec, or a library for another C library: try
                    // java.library.path, and say why the jar's did not load if that fails too.
                    tried.add("jar resource " + resource + " (extracted to " + file
                            + " in java.io.tmpdir: " + e.getMessage() + ")");
                } finally {
                    // Once mapped the library no longer needs its file: leave nothing behind.
                    Files.deleteIfExists(file);
                }
            } else {
                tried.add("jar resource " + resource + " (absent)");
            }
        } catch (IOException e) {
            tried.add("jar resource " + resource + " (could not extract: " + e + ")");
        }
        try {
            System.loadLibrary(NAME);
            LOG.log(System.Logger.Level.DEBUG, "loaded {0} from java.library.path",
                    System.mapLibraryName(NAME));
        } catch (UnsatisfiedLinkError e) {
            tried.add("System.loadLibrary(\"" + NAME + "\") on java.library.path="
                    + System.getProperty("java.library.path") + " (" + e.getMessage() + ")");
            throw new UnsatisfiedLinkError("no directmem native library for platform " + platform
                    + " (os.name=" + System.getProperty("os.name") + ", os.arch="
                    + System.getProperty("os.arch") + "); tried: " + String.join("; ", tried)
                    + ". Supported: linux-x86_64. Set -D" + PATH_PROPERTY + "=/path/to/"
                    + System.mapLibraryName(NAME) + " to use a library built for this platform.");
        }
    }

    /** The jar's folder name for this OS and architecture, such as linux-x86_64. */
    static String platform() {
        String os = System.getProperty("os.name", "unknown").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "unknown").toLowerCase(Locale.ROOT);
        String osName = os.startsWith("linux") ? "linux"
                : os.startsWith("mac") ? "macos"
                : os.startsWith("windows") ? "windows"
                : os.replaceAll("[^a-z0-9]", "");
        String archName = switch (arch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> arch.replaceAll("[^a-z0-9_]", "");
        };
        return osName + "-" + archName;
    }

    /**
     * {@link #extract}, with the thread's interrupt status kept for after it: the file channel
     * fails on an interrupted thread, and a library that failed to load stays unavailable for the
     * life of the JVM (a first use in a cancelled task disabled directmem for every thread). An
     * interrupt that comes during the copy makes it start again.
     */
    private static Path extractUninterrupted(String resource) throws IOException {
        boolean interrupted = Thread.interrupted();
        try {
            for (int attempt = 1; ; attempt++) {
                try (InputStream in = NativeLibrary.class.getResourceAsStream(resource)) {
                    return extract(in);
                } catch (ClosedByInterruptException e) {
                    interrupted |= Thread.interrupted();
                    if (attempt == 10) {
                        throw e;
                    }
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Copies the library to a new file in {@code java.io.tmpdir} that only this user can read.
     *
     * <p>Not through {@code Files.createTempFile}: its {@code SecureRandom} brings up the JDK's
     * security providers, some sixty classes and thousands of objects that every full collection
     * then walks for the life of the JVM. The name need not be secret: the file is created only if
     * nothing is there ({@code O_EXCL}), so a file or link planted under that name makes the
     * attempt fail, and another name is tried.
     */
    private static Path extract(InputStream in) throws IOException {
        Path folder = Path.of(System.getProperty("java.io.tmpdir"));
        String suffix = "-" + System.mapLibraryName(NAME);
        for (int attempt = 1; ; attempt++) {
            String random = Long.toHexString(ThreadLocalRandom.current().nextLong());
            Path file = folder.resolve("directmem-" + random + suffix);
            OutputStream out;
            try {
                out = Channels.newOutputStream(createPrivateFile(file));
            } catch (FileAlreadyExistsException e) {
                if (attempt == 10) {
                    throw e;
                }
                continue;
            }
            try (out) {
                in.transferTo(out);
            } catch (Throwable t) {
                try {
                    Files.deleteIfExists(file);
                } catch (IOException | RuntimeException cleanup) {
                    t.addSuppressed(cleanup);
                }
                throw t;
            }
            return file;
        }
    }

    /** Creates and opens the file in one call, so that what is written is what was created. */
    private static SeekableByteChannel createPrivateFile(Path file) throws IOException {
        Set<StandardOpenOption> options = EnumSet.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        try {
            return Files.newByteChannel(file, options, PosixFilePermissions.asFileAttribute(
                    PosixFilePermissions.fromString("rwx------")));
        } catch (UnsupportedOperationException e) {
            return Files.newByteChannel(file, options); // not a POSIX file system
        }
    }
}
