package org.jdryad.agent;

import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * Who starts the agent's process (and a static program's). Why a seam: in cold mode the JVM
 * starts it as its own child with the terminal's stdin, stdout and stderr; with the warm server
 * (org.jdryad.server) the jdryad client, whose terminal it is, forks and execs it, so the
 * program is the client's child and the server only hears its pid and, at the end, its status.
 */
public interface Spawner {
    /** Starts {@code command} with exactly {@code environment}; the process's stdio is the user's terminal. */
    Process spawn(List<String> command, Map<String, String> environment) throws IOException;

    /**
     * Whether the process is this JVM's child, so that this JVM stands in the terminal's
     * foreground for it (ignores Ctrl-C, passes SIGTERM and SIGHUP on: ForegroundSignals).
     */
    boolean local();

    /**
     * Returns once everything jdryad has printed so far has reached the process's stdout and
     * stderr, before the program runs code of its own (its entry, an initialiser, a callback's
     * return). Why: with the warm server jdryad's lines travel to the client, which writes them,
     * while the program writes to the same terminal directly; without this the program's output
     * (and the agent's LD_DEBUG lines at exit) could come before jdryad's. Cheap when nothing
     * was printed since the last call. Nothing to wait for in this JVM.
     */
    default void settleOutput() {
    }

    /** The JVM's own child, with this JVM's stdin, stdout and stderr. */
    Spawner LOCAL = new Spawner() {
        @Override
        public Process spawn(List<String> command, Map<String, String> environment) throws IOException {
            ProcessBuilder pb = new ProcessBuilder(command).inheritIO();
            pb.environment().clear();
            pb.environment().putAll(environment);
            return pb.start();
        }

        @Override
        public boolean local() {
            return true;
        }
    };
}
