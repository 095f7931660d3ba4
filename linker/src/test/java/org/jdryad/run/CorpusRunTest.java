package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.ProcessRunner;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Corpora of real programs, one test per case: each run natively and under {@code jdryad run},
 * with identical stdout, stderr and exit status. The shared corpus (../shared/corpus/programs.tsv:
 * coreutils, perl, python, git, openssl, jq, llvm-as, cmake, node), when it is beside this
 * checkout, and ours (tests/corpus/more-programs.tsv: extension modules through dlopen, ctypes,
 * threads, multiprocessing, XS modules with thread-local interpreters, gdb, gcc, ssh, curl...).
 * The format is the shared runner's: NAME, STDIN-FILE or -, PROGRAM, ARG..., separated by TABs.
 */
@Tag("run")
@Tag("corpus")
class CorpusRunTest {

    static Stream<Arguments> cases() throws IOException {
        List<Arguments> out = new ArrayList<>();
        for (String file : List.of("../shared/corpus/programs.tsv", "tests/corpus/more-programs.tsv")) {
            Path corpus = Fixtures.root().resolve(file).normalize();
            if (!Files.isRegularFile(corpus)) {
                continue;
            }
            for (String line : Files.readAllLines(corpus)) {
                String[] f = line.split("\t", -1);
                if (f.length < 3 || line.startsWith("#")) {
                    continue;
                }
                out.add(Arguments.of(corpus.getFileName() + ": " + f[0], f[1],
                        List.of(Arrays.copyOfRange(f, 2, f.length))));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void runsAsUnderTheSystemLoader(String name, String stdin, List<String> command) {
        assumeTrue(Files.isExecutable(Path.of(command.get(0))), command.get(0) + " is not installed");
        Jdryad.ensureBuilt();
        String input = stdin.equals("-") ? "/dev/null" : stdin;
        Path dir = Fixtures.root();
        Map<String, String> env = new HashMap<>(ProcessRunner.environment(dir, Map.of()));
        env.put("JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString());
        List<String> nativeCmd = withStdin(input, command);
        List<String> jdryadCmd = new ArrayList<>(List.of(Jdryad.launcher().toString(), "run"));
        jdryadCmd.addAll(command);
        Result expected = ProcessRunner.run(nativeCmd, env, dir, Jdryad.RUN_TIMEOUT);
        Result actual = ProcessRunner.run(withStdin(input, jdryadCmd), env, dir, Jdryad.RUN_TIMEOUT.multipliedBy(2));
        assertFalse(expected.timedOut(), expected::describe);
        Jdryad.assertSameRun(name, expected, actual);
    }

    /** The command with its stdin redirected from a file (the runner's second column). */
    private static List<String> withStdin(String input, List<String> command) {
        List<String> cmd = new ArrayList<>(List.of("/bin/bash", "-c", "exec \"$@\" <\"$0\"", input));
        cmd.addAll(command);
        return cmd;
    }
}
