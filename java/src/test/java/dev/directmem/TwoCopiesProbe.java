package dev.directmem;

import java.io.File;
import java.lang.management.ManagementFactory;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import javax.management.MBeanServer;
import javax.management.ObjectName;

/**
 * Run in a child JVM by {@link MonitoringTest}: a second copy of directmem, loaded from the same
 * class path (the first argument) by a class loader of its own, holds 2 MiB while the first holds
 * 1 MiB. Prints each directmem pool JMX shows, by name, with its total capacity.
 */
final class TwoCopiesProbe {
    private TwoCopiesProbe() {}

    public static void main(String[] args) throws Exception {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        ByteBuffer first = DirectMemory.allocateDirect(1 << 20);

        List<URL> urls = new ArrayList<>();
        for (String entry : args[0].split(File.pathSeparator)) {
            urls.add(Path.of(entry).toUri().toURL());
        }
        try (URLClassLoader loader = new URLClassLoader(urls.toArray(new URL[0]),
                ClassLoader.getPlatformClassLoader())) {
            Class<?> copy = loader.loadClass(DirectMemory.class.getName());
            if (copy == DirectMemory.class) {
                throw new AssertionError("not a second copy");
            }
            Object second = copy.getMethod("allocateDirect", int.class).invoke(null, 2 << 20);

            TreeMap<String, Object> pools = new TreeMap<>();
            for (ObjectName name : server.queryNames(new ObjectName("java.nio:type=BufferPool,*"), null)) {
                String pool = (String) server.getAttribute(name, "Name");
                if (pool.startsWith("directmem")) {
                    pools.put(pool, server.getAttribute(name, "TotalCapacity"));
                }
            }
            pools.forEach((pool, capacity) -> System.out.println("POOL " + pool + " " + capacity));
            DirectMemory.free(first);
            copy.getMethod("free", ByteBuffer.class).invoke(null, second);
        }
    }
}
