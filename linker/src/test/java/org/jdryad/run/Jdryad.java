package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.ProcessRunner;
import org.jdryad.fixtures.ProcessRunner.Result;

/**
 * Runs programs natively and through the {@code ./jdryad} launcher, and compares the runs.
 *
 * <p>The launcher builds its jar with Maven when it is missing or stale. So that the tests never
 * race another build, it is pointed (through {@code JDRYAD_BUILD_DIR}) at a build directory of
 * its own: the system property {@code jdryad.launcher.build.dir}, else {@code launcher/} inside
 * this build's directory. The first use builds it, with a generous timeout; every run after that
 * gets {@link #RUN_TIMEOUT}. Native runs get the same environment, {@code JDRYAD_BUILD_DIR}
 * included, so a program printing its environment must print the same under both.
 */
final class Jdryad {
    static final Duration RUN_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration BUILD_TIMEOUT = Duration.ofMinutes(15);
    private static volatile Result warmUp;

    private Jdryad() {
    }

    static Path launcher() {
        return Fixtures.root().resolve("jdryad");
    }

    static Path launcherBuildDir() {
        String p = System.getProperty("jdryad.launcher.build.dir");
        if (p != null && !p.isBlank()) {
            return Path.of(p);
        }
        String agent = System.getProperty("jdryad.agent"); // <build>/native-out/jdryad-agent
        Path build = agent != null ? Path.of(agent).getParent().getParent() : Fixtures.root().resolve("target");
        return build.resolve("launcher");
    }

    /** The environment for {@code ./jdryad}: the program's, plus where the launcher keeps its jar. */
    private static Map<String, String> launcherEnv(Map<String, String> env) {
        Map<String, String> e = new HashMap<>(env);
        e.put("JDRYAD_BUILD_DIR", launcherBuildDir().toString());
        return e;
    }

    /** Builds the launcher's jar once (through {@code ./jdryad --help}); fails clearly when that fails. */
    static synchronized void ensureBuilt() {
        if (warmUp == null) {
            Path dir = Fixtures.root();
            warmUp = ProcessRunner.run(List.of(launcher().toString(), "--help"),
                    launcherEnv(ProcessRunner.environment(dir, Map.of())), dir, BUILD_TIMEOUT);
        }
        if (warmUp.timedOut() || !Files.isRegularFile(launcherBuildDir().resolve("jdryad-cli.jar"))) {
            fail("./jdryad could not build or start (JDRYAD_BUILD_DIR=" + launcherBuildDir() + ")\n"
                    + warmUp.describe());
        }
    }

    static Result runNative(Path program, List<String> args, Map<String, String> extraEnv, Path workDir) {
        List<String> cmd = new ArrayList<>();
        cmd.add(program.toString());
        cmd.addAll(args);
        // The same environment as the jdryad run, JDRYAD_BUILD_DIR included: the program must see
        // the environment exactly as it was given to ./jdryad.
        return ProcessRunner.run(cmd, launcherEnv(ProcessRunner.environment(workDir, extraEnv)), workDir, RUN_TIMEOUT);
    }

    /** {@code ./jdryad run OPTIONS... PROGRAM ARGS...} with the same environment as {@link #runNative}. */
    static Result runJdryad(List<String> options, Path program, List<String> args, Map<String, String> extraEnv,
                            Path workDir) {
        return runThrough(launcher(), options, program, args, extraEnv, workDir);
    }

    /**
     * As {@link #runJdryad}, through the static front ({@code <build>/native-out/jdryad},
     * native/front/front.c) instead of the {@code ./jdryad} script.
     */
    static Result runFront(List<String> options, Path program, List<String> args, Map<String, String> extraEnv,
                           Path workDir) {
        return runThrough(launcherBuildDir().resolve("native-out/jdryad"), options, program, args, extraEnv, workDir);
    }

    private static Result runThrough(Path launcher, List<String> options, Path program, List<String> args,
                                     Map<String, String> extraEnv, Path workDir) {
        ensureBuilt();
        List<String> cmd = new ArrayList<>();
        cmd.add(launcher.toString());
        cmd.add("run");
        cmd.addAll(options);
        cmd.add(program.toString());
        cmd.addAll(args);
        return ProcessRunner.run(cmd, launcherEnv(ProcessRunner.environment(workDir, extraEnv)), workDir,
                RUN_TIMEOUT);
    }

    /** {@code ./jdryad ARGS...} (any command, e.g. ldd) in {@code workDir}, with the tests' environment. */
    static Result runLauncher(List<String> args, Path workDir) {
        ensureBuilt();
        List<String> cmd = new ArrayList<>();
        cmd.add(launcher().toString());
        cmd.addAll(args);
        return ProcessRunner.run(cmd, launcherEnv(ProcessRunner.environment(workDir, Map.of())), workDir, RUN_TIMEOUT);
    }

    /** Fails unless both runs gave the same stdout, stderr and exit status; shows both runs. */
    static void assertSameRun(String fixture, Result expected, Result actual) {
        assertSameRun(fixture, expected, actual, s -> s);
    }

    static void assertSameRun(String fixture, Result expected, Result actual,
                              java.util.function.UnaryOperator<String> normalize) {
        List<String> diffs = new ArrayList<>();
        if (actual.timedOut()) {
            diffs.add("jdryad run did not finish within " + RUN_TIMEOUT.toSeconds() + " s (killed)");
        }
        if (expected.status() != actual.status()) {
            diffs.add("exit status " + actual.status() + ", the system loader gives " + expected.status());
        }
        if (!normalize.apply(expected.stdout()).equals(normalize.apply(actual.stdout()))) {
            diffs.add("stdout differs" + firstDifference(normalize.apply(expected.stdout()),
                    normalize.apply(actual.stdout())));
        }
        if (!normalize.apply(expected.stderr()).equals(normalize.apply(actual.stderr()))) {
            diffs.add("stderr differs" + firstDifference(normalize.apply(expected.stderr()),
                    normalize.apply(actual.stderr())));
        }
        if (!diffs.isEmpty()) {
            fail("fixture " + fixture + ": jdryad run differs from the system loader: " + String.join("; ", diffs)
                    + hint(actual) + "\n--- system loader ---\n" + expected.describe()
                    + "--- jdryad run ---\n" + actual.describe());
        }
    }

    /** A one-line explanation for the commonest reasons of failure today. */
    static String hint(Result jdryad) {
        String err = jdryad.stderr();
        for (String line : err.lines().toList()) {
            if (line.contains("Unmatched argument") || line.contains("Unknown subcommand")) {
                return "\n(jdryad has no working `run` subcommand yet: " + line.strip() + ")";
            }
            if (line.contains("Unknown option")) {
                return "\n(jdryad run does not accept an option used here: " + line.strip() + ")";
            }
        }
        if (jdryad.stdout().contains("is executing new program: ") && jdryad.stdout().contains("/bin/java")) {
            return "\n(gdb ended up debugging the JVM, not the jdryad agent: `jdryad run --gdb` must leave gdb on the agent)";
        }
        return "";
    }

    private static String firstDifference(String a, String b) {
        String[] la = a.split("\n", -1);
        String[] lb = b.split("\n", -1);
        for (int i = 0; i < Math.max(la.length, lb.length); i++) {
            String x = i < la.length ? la[i] : "(end of output)";
            String y = i < lb.length ? lb[i] : "(end of output)";
            if (!x.equals(y)) {
                return " (first at line " + (i + 1) + ": expected [" + x + "], got [" + y + "])";
            }
        }
        return "";
    }
}
