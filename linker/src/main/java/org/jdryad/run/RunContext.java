package org.jdryad.run;

import java.io.PrintStream;
import java.nio.file.Path;
import org.jdryad.agent.Spawner;

/**
 * Where a run happens, apart from what it was asked to do (RunOptions): the directory its
 * relative paths mean, where jdryad's own messages go, who starts its processes, and what the
 * launcher saw. Why: in cold mode all of that is the JVM's own (its working directory, its
 * stderr, its environment), but the warm server serves many clients at once, each with its
 * own working directory and terminal, none of them the server's.
 *
 * @param workingDirectory the user's working directory
 * @param own whether that is this JVM's own working directory (cold mode: paths are used as given)
 * @param err jdryad's messages (the user's stderr)
 * @param spawner starts the agent and static programs
 * @param loaderSawPreload the system loader started the launcher with LD_PRELOAD (and said its words about it)
 * @param queryMode JDRYAD_QUERY as the launcher had it, null when unset
 */
public record RunContext(Path workingDirectory, boolean own, PrintStream err, Spawner spawner, boolean loaderSawPreload,
                         String queryMode) {

    /** This JVM's own: its working directory, {@code err}, its children, its environment. */
    public static RunContext cold(PrintStream err) {
        return new RunContext(Path.of("").toAbsolutePath(), true, err, Spawner.LOCAL,
                System.getenv("JDRYAD_ENVIRON_FD") != null && launcherWasPreloaded(System::getenv),
                System.getenv("JDRYAD_QUERY"));
    }

    /**
     * Whether the system loader started the launcher with LD_PRELOAD, given the launcher's
     * variables: it moved LD_PRELOAD aside (JDRYAD_LD_PRELOAD) and was the bash script started
     * directly. The static front (JDRYAD_FRONT) is a static program, which no loader starts, and
     * it hands bash an environment without LD_*: then jdryad says glibc's words itself.
     */
    public static boolean launcherWasPreloaded(java.util.function.Function<String, String> launcherVariable) {
        return launcherVariable.apply("JDRYAD_LD_PRELOAD") != null && launcherVariable.apply("JDRYAD_FRONT") == null;
    }

    /** A path the user gave, as this JVM must open it (relative paths mean the user's working directory). */
    public Path resolve(String path) {
        Path p = Path.of(path);
        return own ? p : workingDirectory.resolve(p);
    }

    /** The same context printing to {@code newErr}. */
    public RunContext withErr(PrintStream newErr) {
        return new RunContext(workingDirectory, own, newErr, spawner, loaderSawPreload, queryMode);
    }
}
