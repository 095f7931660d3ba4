package org.jdryad.server;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.jdryad.agent.Spawner;
import org.jdryad.cli.Invocation;
import org.jdryad.cli.Main;

/**
 * Runs {@code jdryad run /usr/bin/true} in the background when the server starts, so that its
 * first clients find the linker compiled by the JIT. Why: the JIT compiles what runs often, and
 * a new server's runs are slow until it has: measured here, the server's part of a warm
 * {@code jdryad run /usr/bin/true} (request to exit status, medians) was 41 ms in its first 5
 * runs, 27 ms in runs 10 to 40, 17 ms in runs 60 to 100 and 12.6 ms from run 250 on.
 *
 * <p>Each run is an ordinary warm run, from the command line on (picocli, search, agent, link,
 * initialisers, the program, its end), with a clean environment, its process started by the
 * server with stdin, stdout and stderr on /dev/null, and nothing printed. A run that fails ends
 * the warm-up (one line in the server's log); so does the server's stop. Clients are served
 * meanwhile, as any runs at once are; the warm-up thread has the lowest priority.
 */
final class WarmUp implements Runnable {
    /** The program warmed with: linked by every jdryad run (the program and libc). */
    static final String PROGRAM = "/usr/bin/true";

    private final int runs;
    private final BooleanSupplier stopping;
    private final AtomicInteger done = new AtomicInteger();

    private WarmUp(int runs, BooleanSupplier stopping) {
        this.runs = runs;
        this.stopping = stopping;
    }

    /** Starts warming up with {@code runs} runs (none when 0 or when there is no PROGRAM). */
    static WarmUp start(int runs, BooleanSupplier stopping) {
        WarmUp w = new WarmUp(runs, stopping);
        if (runs > 0 && Files.isExecutable(Path.of(PROGRAM))) {
            Thread t = new Thread(w, "jdryad-server-warm-up");
            t.setDaemon(true);
            t.setPriority(Thread.MIN_PRIORITY);
            t.start();
        }
        return w;
    }

    /** How many warm-up runs have ended, of how many (for `jdryad server status`). */
    String describe() {
        return "warm-up " + done.get() + " of " + runs + " runs";
    }

    @Override
    public void run() {
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream(), true);
        Map<String, String> env = Map.of("PATH", "/usr/bin:/bin");
        for (int i = 0; i < runs && !stopping.getAsBoolean(); i++) {
            int status;
            try {
                status = Main.execute(new Invocation(env, Map.of(), Path.of("/"), quiet, quiet, QUIET), "run", PROGRAM);
            } catch (RuntimeException e) {
                System.err.println("jdryad server: warm-up run " + (i + 1) + " failed: " + e);
                return;
            }
            if (status != 0) {
                System.err.println("jdryad server: warm-up run " + (i + 1) + " of " + PROGRAM + " ended with status "
                        + status + "; no more warm-up runs");
                return;
            }
            done.incrementAndGet();
        }
    }

    /**
     * Starts a warm-up run's process: the server's child, with its stdio on /dev/null. Not
     * {@code local()}: no terminal's signals are this JVM's to pass on to it.
     */
    private static final Spawner QUIET = new Spawner() {
        @Override
        public Process spawn(List<String> command, Map<String, String> environment) throws IOException {
            File devNull = new File("/dev/null");
            ProcessBuilder pb = new ProcessBuilder(command).redirectInput(devNull)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD);
            pb.environment().clear();
            pb.environment().putAll(environment);
            return pb.start();
        }

        @Override
        public boolean local() {
            return false;
        }
    };
}
