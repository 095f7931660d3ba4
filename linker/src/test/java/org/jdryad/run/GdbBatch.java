package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jdryad.fixtures.ProcessRunner;
import org.jdryad.fixtures.ProcessRunner.Result;

/**
 * gdb as the gdb tests run it: through {@code jdryad gdb} (or plain gdb, for the native side of
 * a comparison), in a directory, with the fixtures' environment; skipped when gdb is missing.
 */
final class GdbBatch {
    private GdbBatch() {
    }

    /** {@code jdryad gdb WORDS...}, or {@code gdb WORDS...} when {@code natively}, in {@code dir}. */
    static Result run(boolean natively, Path dir, Map<String, String> extraEnv, List<String> words) {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/gdb")), "gdb is not installed (tests/setup.sh installs it)");
        List<String> cmd = new ArrayList<>();
        if (natively) {
            cmd.add("gdb");
        } else {
            Jdryad.ensureBuilt();
            cmd.addAll(List.of(Jdryad.launcher().toString(), "gdb"));
        }
        cmd.addAll(words);
        Map<String, String> env = new HashMap<>(ProcessRunner.environment(dir, extraEnv));
        env.put("JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString());
        Result r = ProcessRunner.run(cmd, env, dir, Duration.ofSeconds(180));
        assertFalse(r.timedOut(), () -> "gdb did not finish\n" + r.describe());
        return r;
    }

    /**
     * {@code jdryad gdb OPTIONS -batch -ex 'set confirm off' -ex COMMAND... --args PROG ARGS},
     * in PROG's directory.
     */
    static Result batch(List<String> options, Map<String, String> extraEnv, Path prog, List<String> args,
                        List<String> commands) {
        List<String> words = new ArrayList<>(options);
        words.addAll(List.of("-batch", "-ex", "set confirm off"));
        for (String c : commands) {
            words.add("-ex");
            words.add(c);
        }
        words.add("--args");
        words.add(prog.toString());
        words.addAll(args);
        return run(false, prog.getParent(), extraEnv, words);
    }
}
