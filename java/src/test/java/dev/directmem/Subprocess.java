package dev.directmem;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * A child JVM with this test JVM's flags (collector, -Xcheck:jni, ...) and its own extras. It
 * opens no package unless asked to: {@link BufferAccessTest} picks how each child reaches buffer
 * fields.
 */
final class Subprocess {
    /** What -Xcheck:jni prints on JNI misuse; the same patterns as the build's check. */
    static final Pattern JNI_WARNING = Pattern.compile(
            "(?m)^(WARNING in native method:|WARNING: JNI local refs:|FATAL ERROR in native method:)");

    /**
     * A child still running after this long, plus a stress scenario's length (a soak's children
     * run that long: -PstressSeconds), is killed, and its result fails the test.
     */
    private static final long TIMEOUT_MINUTES = 5;

    /** A child's exit code (-1: killed at the timeout) and combined output. */
    record Result(int exitCode, String output) {}

    private Subprocess() {}

    /**
     * Runs {@code mainClass} with the given extra JVM flags (after this JVM's own, so they win)
     * on {@code classPath}, and returns its exit code and combined output.
     */
    static Result run(String classPath, List<String> extraFlags, String mainClass, String... args)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        // A child that sets --illegal-native-access decides native access itself.
        boolean nativeAccessDecided = extraFlags.stream().anyMatch(f -> f.startsWith("--illegal-native-access"));
        for (String flag : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (nativeAccessDecided && flag.startsWith("--enable-native-access")) {
                continue;
            }
            // The child gets its own budget and must not write to this JVM's VM log.
            if (!flag.startsWith("-XX:MaxDirectMemorySize") && !flag.startsWith("-Ddirectmem.")
                    && !flag.startsWith("-XX:LogFile") && !flag.equals("-XX:+LogVMOutput")
                    && !flag.startsWith("-Djava.class.path") && !flag.startsWith("-javaagent")
                    && !flag.startsWith("-agentlib") && !flag.startsWith("-Dorg.gradle")
                    && !flag.startsWith("--add-opens")) {
                command.add(flag);
            }
        }
        command.addAll(extraFlags);
        command.add("-cp");
        command.add(classPath);
        command.add(mainClass);
        command.addAll(List.of(args));
        // To a file, not a pipe read to its end: that read waited for a hung child for good.
        Path log = Files.createTempFile("directmem-child", ".log");
        Process process = null;
        try {
            process = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
            String timedOut = "";
            long timeoutMillis = TimeUnit.MINUTES.toMillis(TIMEOUT_MINUTES) + StressTest.millis();
            if (!process.waitFor(timeoutMillis, TimeUnit.MILLISECONDS)) {
                dumpThreads(process);
                process.waitFor(5, TimeUnit.SECONDS);
                process.destroyForcibly().waitFor();
                timedOut = "---- TIMED OUT after " + timeoutMillis / 1000 + " s, killed\n";
            }
            String text = new String(Files.readAllBytes(log), StandardCharsets.UTF_8) + timedOut;
            // Echoed, so that the figures land in the test's own output and log too.
            System.out.println("---- child JVM: " + String.join(" ", command) + "\n" + text + "---- exit "
                    + process.exitValue());
            return new Result(timedOut.isEmpty() ? process.exitValue() : -1, text);
        } finally {
            if (process != null && process.isAlive()) {
                process.destroyForcibly(); // left early: a wait above was interrupted
            }
            Files.deleteIfExists(log);
        }
    }

    /**
     * SIGQUIT: a thread dump into the child's output says where it hung. Through sh's own kill:
     * /bin/kill (procps) is not on every machine, and a missing one must not keep the child from
     * being killed.
     */
    private static void dumpThreads(Process process) throws InterruptedException {
        try {
            Process kill = new ProcessBuilder("sh", "-c", "kill -QUIT " + process.pid())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            kill.getOutputStream().close();
            kill.waitFor();
        } catch (IOException e) {
            System.out.println("---- no thread dump of the child: " + e);
        }
    }

    /** This JVM's class path plus where directmem's classes and this test's came from. */
    static String testClassPath() {
        return String.join(java.io.File.pathSeparator, System.getProperty("java.class.path"),
                location(DirectMemory.class).toString(), location(Subprocess.class).toString());
    }

    static Path location(Class<?> type) {
        try {
            return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
