package dev.directmem;

import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
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

    /** Whether a library is loaded: a setup tried again after a passing failure loads none twice. */
    private static boolean loaded;

    private NativeLibrary() {}

    static synchronized void load() {
        if (!loaded) {
            loadOnce();
        }
    }

    /**
     * Loads {@code file}, and records at once that a library is loaded: whatever fails after
     * this (a full Java heap while logging) must not make a setup tried again load a second copy.
     * (A failure inside {@code System.load} after it opened the library, in the JDK's own
     * bookkeeping with the heap full, still can: that copy stays mapped, unused. Not handled.)
     */
    private static void loadFile(String file) {
        System.load(file);
        loaded = true;
    }

    /** The JDK's message (17 to 25) for a file that another class loader loaded already. */
    private static final String LOADED_BY = "Native Library ";
    private static final String ELSEWHERE = " already loaded in another classloader";

    /**
     * Loads {@code file}, or a copy of it where another copy of directmem (another class loader)
     * loaded that very file: the JDK links a file to one class loader, and refused the second
     * copy a library given by path, as the jar's library, copied afresh for each, never was.
     */
    private static void loadFileOrCopy(Path file) {
        try {
            loadFile(file.toString());
        } catch (UnsatisfiedLinkError e) {
            loadCopyIfLoadedElsewhere(e);
        }
    }

    /** As {@code System.loadLibrary}, or, where another copy loaded that file, a copy of it. */
    private static void loadFromLibraryPath() {
        try {
            System.loadLibrary(NAME);
            loaded = true;
        } catch (UnsatisfiedLinkError e) {
            loadCopyIfLoadedElsewhere(e);
        }
    }

    /**
     * Loads a copy, in {@code java.io.tmpdir}, of the file that {@code e} says another class
     * loader holds (the file the JDK chose, wherever it searched); else, or if the copy does not
     * load (a tmpdir mounted noexec), throws an error that names both.
     */
    private static void loadCopyIfLoadedElsewhere(UnsatisfiedLinkError e) {
        String message = e.getMessage();
        if (message == null || !message.startsWith(LOADED_BY) || !message.endsWith(ELSEWHERE)) {
            throw e;
        }
        Path copy = null;
        try {
            // A path, canonical; a bare name (a library linked into the JVM) is nothing to copy.
            Path file = Path.of(message.substring(LOADED_BY.length(), message.length() - ELSEWHERE.length()));
            if (!file.isAbsolute()) {
                throw e;
            }
            try (InputStream in = new FileInputStream(file.toFile())) { // no channel: see extract
                copy = extract(in);
            }
            loadFile(copy.toString());
        } catch (IOException | RuntimeException | UnsatisfiedLinkError copyFailed) {
            if (copyFailed == e) {
                throw e;
            }
            UnsatisfiedLinkError both = new UnsatisfiedLinkError(message + "; its copy in java.io.tmpdir "
                    + "did not load either: " + copyFailed);
            both.initCause(e);
            throw both;
        } finally {
            if (copy != null) {
                deleteQuietly(copy);
                deleteQuietly(copy.getParent());
            }
        }
    }

    /** Not a static field: this class initializes during the setup, which must allocate little. */
    private static System.Logger log() {
        return System.getLogger("dev.directmem");
    }

    private static void loadOnce() {
        List<String> tried = new ArrayList<>();
        String explicit = System.getProperty(PATH_PROPERTY);
        if (explicit != null) {
            String file = Path.of(explicit).toAbsolutePath().toString();
            try {
                loadFileOrCopy(Path.of(file));
            } catch (UnsatisfiedLinkError e) {
                // The JDK's message may not say where the path came from, or what was expected.
                UnsatisfiedLinkError error = new UnsatisfiedLinkError("cannot load the directmem "
                        + "native library " + file + " given by -D" + PATH_PROPERTY + " (platform "
                        + platform() + ", os.name=" + System.getProperty("os.name") + ", os.arch="
                        + System.getProperty("os.arch") + "): " + e.getMessage());
                error.initCause(e);
                throw error;
            }
            log().log(System.Logger.Level.DEBUG, "loaded {0} from -D{1}", file, PATH_PROPERTY);
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
                    loadFile(file.toString());
                    log().log(System.Logger.Level.DEBUG, "loaded {0} from this jar (extracted to {1})",
                            resource, file);
                    return;
                } catch (UnsatisfiedLinkError e) {
                    // A java.io.tmpdir mounted noexec, or a library for another C library: try
                    // java.library.path, and say why the jar's did not load if that fails too.
                    tried.add("jar resource " + resource + " (extracted to " + file
                            + " in java.io.tmpdir: " + e.getMessage() + ")");
                } finally {
                    deleteQuietly(file);
                    deleteQuietly(file.getParent());
                }
            } else {
                tried.add("jar resource " + resource + " (absent)");
            }
        } catch (IOException | InvalidPathException e) { // an invalid java.io.tmpdir too
            tried.add("jar resource " + resource + " (could not extract: " + e + ")");
        }
        try {
            loadFromLibraryPath();
            log().log(System.Logger.Level.DEBUG, "loaded {0} from java.library.path",
                    System.mapLibraryName(NAME));
        } catch (UnsatisfiedLinkError e) {
            tried.add("System.loadLibrary(\"" + NAME + "\") on java.library.path="
                    + System.getProperty("java.library.path") + " (" + e.getMessage() + ")");
            throw (UnsatisfiedLinkError) new UnsatisfiedLinkError("no directmem native library for platform " + platform
                    + " (os.name=" + System.getProperty("os.name") + ", os.arch="
                    + System.getProperty("os.arch") + "); tried: " + String.join("; ", tried)
                    + ". Supported: linux-x86_64, linux-aarch64. Set -D" + PATH_PROPERTY + "=/path/to/"
                    + System.mapLibraryName(NAME) + " to use a library built for this platform.")
                    .initCause(e);
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
     * Copies the library into a new folder in {@code java.io.tmpdir} that only this user can
     * enter; returns the file. The caller deletes both.
     *
     * <p>A folder of its own: nothing with its name may exist before ({@code mkdir} fails, links
     * included), and no other user can add, replace or link anything in it, so the file written
     * and loaded by name is the one copied, even in a {@code java.io.tmpdir} others can write to.
     *
     * <p>Through a {@link FileOutputStream}, not a file channel: a channel copies through the
     * JDK's temporary direct buffers, which count against {@code -XX:MaxDirectMemorySize}, so a
     * first use while the JDK's own direct buffers filled that limit failed; and a channel closes
     * when its thread is interrupted, which failed a first use in a cancelled task.
     *
     * <p>Not through {@code Files.createTempDirectory}: its {@code SecureRandom} brings up the
     * JDK's security providers, some sixty classes and thousands of objects that every full
     * collection then walks for the life of the JVM. The name need not be secret: if it is taken,
     * another is tried.
     */
    private static Path extract(InputStream in) throws IOException {
        Path parent = Path.of(System.getProperty("java.io.tmpdir"));
        for (int attempt = 1; ; attempt++) {
            Path folder = parent.resolve("directmem-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
            try {
                createPrivateFolder(folder);
            } catch (FileAlreadyExistsException e) {
                if (attempt == 10) {
                    throw e;
                }
                continue;
            }
            Path file = folder.resolve(System.mapLibraryName(NAME));
            try (OutputStream out = new FileOutputStream(file.toFile())) {
                in.transferTo(out);
            } catch (Throwable t) {
                try {
                    Files.deleteIfExists(file);
                    Files.deleteIfExists(folder);
                } catch (IOException | RuntimeException cleanup) {
                    t.addSuppressed(cleanup);
                }
                throw t;
            }
            return file;
        }
    }

    /** Creates the folder, for this user alone, if nothing has its name. */
    private static void createPrivateFolder(Path folder) throws IOException {
        try {
            Files.createDirectory(folder, PosixFilePermissions.asFileAttribute(
                    PosixFilePermissions.fromString("rwx------")));
        } catch (UnsupportedOperationException e) {
            Files.createDirectory(folder); // not a POSIX file system
        }
    }

    /**
     * Deletes the extracted file, then its folder: once mapped the library no longer needs them.
     * What cannot be deleted (a java.io.tmpdir that takes new files but lets none go) is left
     * behind, with a warning: it must not turn a library that loaded into one that did not.
     */
    private static void deleteQuietly(Path path) {
        try {
            Files.deleteIfExists(path);
        } catch (IOException | RuntimeException e) {
            log().log(System.Logger.Level.WARNING, "directmem could not delete its extracted native library's "
                    + path + ": " + e);
        }
    }
}
