package org.jdryad.run;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;
import org.jdryad.agent.AgentException;
import org.jdryad.agent.AgentProcess;

/**
 * {@code jdryad run --wait-for-debugger}: the process waits for a debugger to attach before
 * the program's first instruction runs.
 *
 * <p>Where it waits: every object is mapped, relocated, protected and announced through r_debug
 * (so an attaching gdb lists them all, resolves {@code break main} and breakpoints in any
 * library, and the {@code jdryad} commands answer), and no initialiser of a jdryad object has
 * run yet, so breakpoints in constructors hit as well as {@code main}. This is glibc's nearest
 * analogue (gdb {@code starti}, stopping at the entry point) moved to the first moment a
 * debugger can see the whole program. What has already run by then is only what jdryad cannot
 * postpone: glibc's host objects' own start-up in the agent, and IFUNC resolvers (relocation
 * calls them).
 *
 * <p>The agent's main thread blocks in a wait that a ptrace attach interrupts, and checks
 * TracerPid in /proc (attach.c): no core spins, and the program goes on as soon as the debugger
 * continues it (or detaches). The process never stops itself, so a shell sees a running job, and
 * Ctrl-C or SIGTERM to jdryad end the wait cleanly with the signal's status.
 */
final class DebuggerWait {
    private DebuggerWait() {
    }

    /** {@link #await} when the run asks for it (--wait-for-debugger), else empty. */
    static OptionalInt ifAsked(RunOptions options, AgentProcess agent) {
        return options.waitForDebugger() ? await(agent) : OptionalInt.empty();
    }

    /**
     * Waits until a debugger attached to the agent lets it continue. Empty: it did; otherwise
     * the status the process ended with while waiting (128+N for signal N).
     */
    static OptionalInt await(AgentProcess agent) {
        try {
            agent.waitForDebugger(announcement(agent.info().pid()));
            return OptionalInt.empty();
        } catch (AgentException e) {
            if (agent.isAlive()) {
                throw e;
            }
            return OptionalInt.of(agent.waitForExit()); // Ctrl-C, kill: no more to say than a shell would
        }
    }

    /** The line the agent prints once a debugger may attach: its pid and the command to attach with. */
    static String announcement(long pid) {
        StringBuilder gdb = new StringBuilder("gdb -p ").append(pid);
        Path scripts = scripts();
        if (scripts != null) {
            gdb.append(" -x ").append(shellQuote(scripts.toString()));
        }
        return "jdryad: pid " + pid + " waits for a debugger: " + gdb + "\n";
    }

    /** gdb-scripts/jdryad.py beside the launcher (JDRYAD_HOME), when it is there. */
    static Path scripts() {
        String home = System.getenv("JDRYAD_HOME");
        if (home == null || home.isEmpty()) {
            return null;
        }
        Path p = Path.of(home, "gdb-scripts", "jdryad.py").toAbsolutePath().normalize();
        return Files.isRegularFile(p) ? p : null;
    }

    /** Quoted for a command line a user pastes into a shell. */
    private static String shellQuote(String s) {
        return s.matches("[A-Za-z0-9_@%+=:,./-]+") ? s : "'" + s.replace("'", "'\\''") + "'";
    }
}
