package dev.directmem;

import java.util.function.IntPredicate;

/** For the tests that allocate and free where the thread's stack runs out. */
final class StackDepth {
    private StackDepth() {}

    /**
     * The largest depth at which {@code reaches} says it got to its bottom frame, found by
     * bisection; {@code reaches} recurses that many frames and returns false where the stack
     * overflowed on the way down.
     */
    static int deepest(IntPredicate reaches) {
        int reached = 0;
        int overflowed = 1 << 20;
        while (overflowed - reached > 1) {
            int depth = (reached + overflowed) >>> 1;
            if (reaches.test(depth)) {
                reached = depth;
            } else {
                overflowed = depth;
            }
        }
        return reached;
    }
}
