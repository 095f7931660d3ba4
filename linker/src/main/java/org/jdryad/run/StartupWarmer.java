package org.jdryad.run;

/**
 * Work a cold {@code jdryad run} will need whatever its program, done on the second core while
 * the first parses the command line and opens the program (about 40 ms of a cold JVM's start,
 * in the interpreter).
 *
 * <p>Why only work that depends on no argument: JNA's native library (loaded by {@code Native}'s
 * initialiser), the CPU's capabilities (a cache file), the default agent binary (its cached copy
 * found by the digest the build packaged), a run of the ELF reader over that agent, whose code
 * is then interpreted once already, and the JDK's unix sockets. Each is kept by its own class for the run to find
 * (every one of them is safe to compute from two threads at once, as the warm server does);
 * whatever fails here is ignored, for the run meets it again and reports it in its own words.
 */
public final class StartupWarmer {
    private StartupWarmer() {
    }

    /** Starts the warming thread (a daemon: it never holds the JVM's exit). */
    public static void start() {
        Thread t = new Thread(StartupWarmer::warm, "jdryad-warm-start");
        t.setDaemon(true);
        t.setPriority(Thread.MIN_PRIORITY);
        t.start();
    }

    private static void warm() {
        try {
            Class.forName("com.sun.jna.Native", true, StartupWarmer.class.getClassLoader());
            org.jdryad.search.CpuHwcaps.host();
            java.nio.file.Path agent = AgentBinary.locate(0);
            try (org.jdryad.elf.ElfFile elf = org.jdryad.elf.ElfFile.open(agent)) {
                elf.loadSegments();
                elf.dynamic();
            }
            // The JDK's unix sockets (the agent's and the query server's): their first use seeds a
            // SecureRandom (sun.nio.ch.UnixDomainSockets), about 8 ms of a cold JVM.
            java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX).close();
            java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        } catch (Throwable ignored) {
            // the run does the same work and says what went wrong
        }
    }
}
