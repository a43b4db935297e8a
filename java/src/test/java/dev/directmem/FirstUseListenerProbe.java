package dev.directmem;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.Map;
import javax.management.MBeanServerDelegate;
import javax.management.MBeanServerNotification;
import javax.management.NotificationListener;

/**
 * Run in a child JVM by {@link MonitoringTest}: the JVM has an MBean server before directmem's
 * first use, and a JMX listener told of directmem's MBean uses what the first caller holds. The
 * argument picks what: {@code static-init} (the first use is in a class's static initializer, and
 * the listener reads that class's field: it needs the class-initialization lock the first caller
 * holds), {@code two-callers} (the same, while another thread makes the first call and registers
 * the MBean) or {@code api} (the listener calls directmem). A first use that waits for a listener that
 * waits for the first use hangs: a watchdog prints the threads and exits after 30 s.
 */
final class FirstUseListenerProbe {
    private FirstUseListenerProbe() {}

    /** directmem's first use is in this class's initializer. */
    static final class Holder {
        static final ByteBuffer BUFFER = DirectMemory.allocateDirect(64);

        private Holder() {}
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(30_000);
            } catch (InterruptedException e) {
                return;
            }
            System.out.println("HUNG");
            for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
                StackTraceElement[] stack = e.getValue();
                System.out.println(e.getKey().getName() + " " + e.getKey().getState() + " at "
                        + (stack.length > 0 ? stack[0] : "?"));
            }
            Runtime.getRuntime().halt(3);
        });
        watchdog.setDaemon(true);
        watchdog.start();
        NotificationListener listener = (notification, handback) -> {
            if (notification instanceof MBeanServerNotification registered
                    && MBeanServerNotification.REGISTRATION_NOTIFICATION.equals(registered.getType())
                    && registered.getMBeanName().toString().equals(DirectMemoryMXBean.OBJECT_NAME)) {
                // On the thread initializing Holder, the field is still unset: a nested request
                // to initialize a class returns at once there; on any other thread it waits.
                String what = mode.equals("api")
                        ? "max " + DirectMemory.stats().maxMemory()
                        : "Holder.BUFFER " + (Holder.BUFFER == null ? "not set yet" : "set");
                System.out.println("LISTENER on " + Thread.currentThread().getName() + ": " + what);
            }
        };
        ManagementFactory.getPlatformMBeanServer()
                .addNotificationListener(MBeanServerDelegate.DELEGATE_NAME, listener, null, null);
        if (mode.equals("two-callers")) {
            // Another thread sets up first (and registers the MBean, running the listener, which
            // reads Holder); this one arrives while it does, from Holder's initializer.
            Thread other = new Thread(() -> DirectMemory.stats(), "other");
            other.start();
            Thread.sleep(5);
        }
        int capacity = mode.equals("api") ? DirectMemory.allocateDirect(64).capacity() : Holder.BUFFER.capacity();
        System.out.println("FIRST USE DONE " + capacity);
        watchdog.interrupt();
    }
}
