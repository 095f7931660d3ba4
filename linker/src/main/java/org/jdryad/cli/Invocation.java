package org.jdryad.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jdryad.agent.Spawner;
import org.jdryad.run.RunContext;

/**
 * One command line as a warm server's client gave it: the user's environment (exactly as the
 * launcher was started with it), the launcher's own JDRYAD_* variables, the working directory,
 * the user's stdout and stderr, and who starts the program's process. Why: in cold mode these
 * are the JVM's own (System.getenv, System.out, its cwd); a server serving many users' runs at
 * once must take them from each client instead, and never from itself.
 */
public final class Invocation {
    private final Map<String, String> environment;
    private final Map<String, String> launcher;
    private final Path workingDirectory;
    private final PrintStream out;
    private final PrintStream err;
    private final Spawner spawner;
    private volatile String coldReason;

    /**
     * @param environment the program's environment as given, in order, LD_* included
     * @param launcher the launcher's JDRYAD_* variables (JDRYAD_LD_*, JDRYAD_QUERY, ...)
     */
    public Invocation(Map<String, String> environment, Map<String, String> launcher, Path workingDirectory,
                      PrintStream out, PrintStream err, Spawner spawner) {
        this.environment = environment;
        this.launcher = launcher;
        this.workingDirectory = workingDirectory;
        this.out = out;
        this.err = err;
        this.spawner = spawner;
    }

    public Map<String, String> environment() {
        return environment;
    }

    public PrintStream out() {
        return out;
    }

    public PrintStream err() {
        return err;
    }

    public Path workingDirectory() {
        return workingDirectory;
    }

    /** The run's context: the client's directory, stderr and process starter. */
    public RunContext runContext() {
        return new RunContext(workingDirectory, false, err, spawner, RunContext.launcherWasPreloaded(launcher::get),
                launcher.get("JDRYAD_QUERY"));
    }

    /**
     * Marks this command as one the warm server leaves to cold mode (it needs the terminal
     * itself: gdb, --wait-for-debugger); the client then runs it with a JVM of its own.
     */
    void needsColdMode(String why) {
        coldReason = why;
    }

    /** Why the command must run in cold mode; null when it ran here. */
    public String coldReason() {
        return coldReason;
    }

    /** The subcommands the warm server runs itself; the launcher sends only these. */
    public static final List<String> WARM_COMMANDS = List.of("run");
}
