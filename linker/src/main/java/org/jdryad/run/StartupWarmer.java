package org.jdryad.run;

/**
 * Work a cold {@code jdryad run} will need whatever its program, done on the second core while
 * the first builds picocli's model of the command line (about 120 ms of a cold JVM's start,
 * reflection over annotations in the interpreter, which no cache of classes shortens).
 *
 * <p>Why only work that depends on no argument: JNA's native library (extracted and loaded by
 * {@code Native}'s initialiser), the CPU's capabilities (a cache file, a hash), the default agent
 * binary (read from the jar and hashed), and a run of the ELF reader over that agent, whose
 * code is then interpreted once already. Each is kept by its own class for the run to find
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
        } catch (Throwable ignored) {
            // the run does the same work and says what went wrong
        }
    }
}
