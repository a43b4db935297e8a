package dev.directmem;

import java.lang.StackWalker.StackFrame;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Opt-in allocation-site tracking: which code holds the live memory.
 *
 * <p>{@code -Ddirectmem.tracking=disabled|sampled|all} (default {@code disabled}); with
 * {@code sampled}, one allocation in {@code -Ddirectmem.tracking.interval} (default 128) is
 * tracked, at random. A tracked allocation records its site (the first caller outside directmem)
 * in a table of live bytes and buffers per site. The site's key travels in the allocation's
 * release (the phantom reference that frees it), never the buffer, so tracking keeps nothing
 * alive; the free, explicit or by the reclaimer thread, takes the allocation out of the table. A
 * site stays in the table at zero once its buffers are gone, hidden from the list (the table
 * grows with the code locations that allocate, not with the buffers).
 */
final class Tracking {
    static final String PROPERTY = "directmem.tracking";
    static final String INTERVAL_PROPERTY = "directmem.tracking.interval";
    static final int DEFAULT_INTERVAL = 128;

    enum Level { DISABLED, SAMPLED, ALL }

    /**
     * Live bytes and buffers of one site. Changed by plain field writes under its lock, which
     * cannot fail halfway: a map's compute could throw (a stack overflow, a full Java heap in its
     * resize) after it changed the entry, and the retry of a free then counted the buffer off
     * twice, taking another buffer's figures or the site's whole entry with it. A site's entry
     * stays at zero once its buffers are gone (sites are code locations, so few).
     */
    private static final class Live {
        private long bytes;
        private long buffers;

        synchronized void add(long capacity, int buffers) {
            this.bytes += capacity;
            this.buffers += buffers;
        }

        synchronized AllocationSite snapshot(String site) {
            return buffers == 0 ? null : new AllocationSite(site, bytes, buffers);
        }
    }

    private static final Set<String> OWN_CLASSES = Set.of(
            DirectMemory.class.getName(), Allocation.class.getName(), Tracking.class.getName());
    private static final StackWalker WALKER = StackWalker.getInstance();
    private static final Map<String, Live> SITES = new ConcurrentHashMap<>();

    private static volatile Level level = Level.DISABLED;
    private static volatile int interval = DEFAULT_INTERVAL;
    /** Why the tracking properties were not applied, or null. */
    private static volatile IllegalArgumentException misconfiguration;

    static {
        try {
            configure(System.getProperty(PROPERTY), System.getProperty(INTERVAL_PROPERTY));
        } catch (IllegalArgumentException e) {
            misconfiguration = e;
        }
    }

    private Tracking() {}

    /** Applies the two properties' values (null: the default); throws for an invalid one. */
    static void configure(String levelValue, String intervalValue) {
        Level newLevel = Level.DISABLED;
        if (levelValue != null) {
            try {
                newLevel = Level.valueOf(levelValue.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("invalid value for system property " + PROPERTY
                        + ": '" + levelValue + "' (expected disabled, sampled or all)");
            }
        }
        int newInterval = DEFAULT_INTERVAL;
        if (intervalValue != null) {
            try {
                newInterval = Integer.parseInt(intervalValue.trim());
            } catch (NumberFormatException e) {
                newInterval = 0;
            }
            if (newInterval < 1) {
                throw new IllegalArgumentException("invalid value for system property "
                        + INTERVAL_PROPERTY + ": '" + intervalValue + "' (expected a positive integer)");
            }
        }
        interval = newInterval;
        level = newLevel;
    }

    /** Throws if the tracking properties are invalid, as Native.checkAvailable does for the budget. */
    static void checkConfiguration() {
        IllegalArgumentException e = misconfiguration;
        if (e != null) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    static Level level() {
        return level;
    }

    static int interval() {
        return interval;
    }

    /** The caller's site if the next allocation is to be tracked, else null. */
    static String siteOfNextAllocation() {
        Level current = level;
        if (current == Level.DISABLED
                || current == Level.SAMPLED && ThreadLocalRandom.current().nextInt(interval) != 0) {
            return null;
        }
        return WALKER.walk(frames -> frames
                .filter(frame -> !OWN_CLASSES.contains(frame.getClassName()))
                .findFirst()
                .map(Tracking::describe)
                .orElse("(unknown)"));
    }

    private static String describe(StackFrame frame) {
        String file = frame.getFileName();
        String where = file == null ? "Unknown Source"
                : frame.getLineNumber() >= 0 ? file + ":" + frame.getLineNumber() : file;
        return frame.getClassName() + "." + frame.getMethodName() + "(" + where + ")";
    }

    /** Counts a buffer under its site: fully, or (if it throws) not at all. */
    static void allocated(String site, long capacity) {
        if (site != null) {
            SITES.computeIfAbsent(site, key -> new Live()).add(capacity, 1);
        }
    }

    /** Counts a buffer off its site: fully, or (if it throws) not at all. */
    static void released(String site, long capacity) {
        Live live = site == null ? null : SITES.get(site);
        if (live != null) {
            live.add(-capacity, -1);
        }
    }

    /** The {@code n} sites with the most live bytes, most first. */
    static List<AllocationSite> top(int n) {
        List<AllocationSite> sites = new ArrayList<>();
        SITES.forEach((site, live) -> {
            AllocationSite figures = live.snapshot(site);
            if (figures != null) {
                sites.add(figures);
            }
        });
        sites.sort(Comparator.comparingLong(AllocationSite::liveBytes).reversed()
                .thenComparing(AllocationSite::site));
        return List.copyOf(sites.subList(0, Math.min(n, sites.size())));
    }

    /**
     * The budget's error, with where to look next appended to its message and its suppressed
     * errors kept; {@code e} itself if the Java heap has no room for that, or if {@code e} is not
     * the budget's (the operating system refused: who holds the budget is no answer).
     */
    static OutOfMemoryError explain(OutOfMemoryError e) {
        if (!(e instanceof BudgetExhaustedError budget)) {
            return e;
        }
        try {
            return explained(budget);
        } catch (Throwable heapFull) {
            return e; // the budget's message is the one the caller needs
        }
    }

    private static BudgetExhaustedError explained(BudgetExhaustedError e) {
        StringBuilder message = new StringBuilder(String.valueOf(e.getMessage()));
        Level current = level;
        if (current == Level.DISABLED) {
            message.append("; to see which code holds the memory, run with -D").append(PROPERTY)
                    .append("=sampled (or =all) and call DirectMemory.topAllocationSites");
        } else {
            List<AllocationSite> top = top(3);
            message.append("; top allocation sites by live bytes (tracking ")
                    .append(current == Level.ALL ? "all allocations" : "1 in " + interval + " allocations")
                    .append("): ");
            if (top.isEmpty()) {
                message.append("none tracked");
            }
            for (int i = 0; i < top.size(); i++) {
                AllocationSite site = top.get(i);
                message.append(i == 0 ? "" : ", ").append(site.site()).append(' ')
                        .append(site.liveBytes()).append(" bytes in ").append(site.liveBuffers())
                        .append(" buffer(s)");
            }
        }
        String recordingNote = Events.recordingOnOldZgcNote();
        if (recordingNote != null) {
            message.append(recordingNote);
        }
        BudgetExhaustedError explained = new BudgetExhaustedError(message.toString());
        explained.setStackTrace(e.getStackTrace());
        for (Throwable suppressed : e.getSuppressed()) { // why reporting or reclaiming failed
            Allocation.withSuppressed(explained, suppressed);
        }
        return explained;
    }
}
