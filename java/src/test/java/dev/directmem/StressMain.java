package dev.directmem;

/**
 * A stress scenario in a JVM of its own, so that it can have its own budget: run by
 * {@link StressTest} through {@link Subprocess}, and by scripts/soak.sh.
 *
 * <p>Arguments: scenario name, threads, milliseconds, smallest size, largest size. Prints the
 * figures and the settled ledger; exits 1 if any allocation failed or the ledger did not return to
 * zero.
 */
final class StressMain {
    private StressMain() {}

    public static void main(String[] args) throws InterruptedException {
        String scenario = args[0];
        int threads = Integer.parseInt(args[1]);
        long millis = Long.parseLong(args[2]);
        int minSize = Integer.parseInt(args[3]);
        int maxSize = Integer.parseInt(args[4]);
        Churn.Figures figures = Churn.run(scenario, threads, millis, minSize, maxSize, false);
        System.out.println(figures);
        figures.problems().forEach(p -> System.out.println("PROBLEM " + p));
        DirectMemoryStats settled = Churn.settle();
        System.out.println("LEDGER " + settled);
        System.exit(figures.failures() == 0 ? 0 : 1);
    }
}
