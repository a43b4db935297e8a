package dev.directmem;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

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
        try (InputStream in = NativeLibrary.class.getResourceAsStream(resource)) {
            if (in != null) {
                Path file = extract(in);
                try {
                    System.load(file.toString());
                    LOG.log(System.Logger.Level.DEBUG, "loaded {0} from this jar (extracted to {1})",
                            resource, file);
                } finally {
                    // Once mapped the library no longer needs its file: leave nothing behind.
                    Files.deleteIfExists(file);
                }
                return;
            }
            tried.add("jar resource " + resource + " (absent)");
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

    private static Path extract(InputStream in) throws IOException {
        Path file;
        try {
            file = Files.createTempFile("directmem-", "-" + System.mapLibraryName(NAME),
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (UnsupportedOperationException e) {
            file = Files.createTempFile("directmem-", "-" + System.mapLibraryName(NAME));
        }
        Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
        return file;
    }
}
