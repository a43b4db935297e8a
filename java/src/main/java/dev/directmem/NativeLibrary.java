package dev.directmem;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Loads the native library: from {@code -Ddirectmem.library.path} if given, else from this jar
 * (extracted once to a private temporary file), else from {@code java.library.path}.
 */
final class NativeLibrary {
    static final String PATH_PROPERTY = "directmem.library.path";
    private static final String NAME = "directmem";
    private static final System.Logger LOG = System.getLogger("dev.directmem");

    /** Whether a library is loaded: a setup tried again after a passing failure loads none twice. */
    private static boolean loaded;

    private NativeLibrary() {}

    static synchronized void load() {
        if (!loaded) {
            loadOnce();
            loaded = true;
        }
    }

    private static void loadOnce() {
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
                Path file;
                try (InputStream in = NativeLibrary.class.getResourceAsStream(resource)) {
                    file = extract(in);
                }
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
                    deleteQuietly(file);
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
     * Copies the library to a new file in {@code java.io.tmpdir} that only this user can read.
     *
     * <p>Through a {@link FileOutputStream}, not a file channel: a channel copies through the
     * JDK's temporary direct buffers, which count against {@code -XX:MaxDirectMemorySize}, so a
     * first use while the JDK's own direct buffers filled that limit failed (and a failed load
     * stays failed for the life of the JVM); and a channel closes when its thread is interrupted,
     * which failed a first use in a cancelled task.
     *
     * <p>Not through {@code Files.createTempFile}: its {@code SecureRandom} brings up the JDK's
     * security providers, some sixty classes and thousands of objects that every full collection
     * then walks for the life of the JVM. The name need not be secret: the file is created only if
     * nothing is there ({@code O_EXCL}), so a file or link planted under that name makes the
     * attempt fail, and another name is tried. It is then opened by its name, as
     * {@code System.load} opens it: in a shared {@code java.io.tmpdir} (sticky, as {@code /tmp}
     * is) no other user can replace it in between.
     */
    private static Path extract(InputStream in) throws IOException {
        Path folder = Path.of(System.getProperty("java.io.tmpdir"));
        String suffix = "-" + System.mapLibraryName(NAME);
        for (int attempt = 1; ; attempt++) {
            String random = Long.toHexString(ThreadLocalRandom.current().nextLong());
            Path file = folder.resolve("directmem-" + random + suffix);
            try {
                createPrivateFile(file);
            } catch (FileAlreadyExistsException e) {
                if (attempt == 10) {
                    throw e;
                }
                continue;
            }
            try (OutputStream out = new FileOutputStream(file.toFile())) {
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

    /** Creates the file, empty and readable by this user only, if nothing has its name. */
    private static void createPrivateFile(Path file) throws IOException {
        try {
            Files.createFile(file, PosixFilePermissions.asFileAttribute(
                    PosixFilePermissions.fromString("rwx------")));
        } catch (UnsupportedOperationException e) {
            Files.createFile(file); // not a POSIX file system
        }
    }

    /**
     * Deletes the extracted file: once mapped the library no longer needs it. A file that cannot
     * be deleted (a folder that takes new files but lets none go) is left behind, with a warning:
     * it must not turn a library that loaded into one that did not.
     */
    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "directmem could not delete its extracted native library "
                    + file + ": " + e);
        }
    }
}
