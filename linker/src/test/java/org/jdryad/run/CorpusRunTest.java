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

    /**
     * The same case, lazily bound on both sides: the bindings jdryad reports ({@code --debug=bindings})
     * are the bindings glibc reports ({@code LD_DEBUG=bindings}) for the same run, as sets of
     * (referrer, definer, symbol, version). Both write to files (LD_DEBUG_OUTPUT, --debug-output),
     * so that the program's own stderr and its children's lines stay apart; only bindings between
     * objects jdryad loaded count on glibc's side (bash, which redirects stdin, and an exec'd
     * child are glibc's alone), and
     * BindingsDifferentialTest's rules for host objects apply.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void bindsWhatGlibcBinds(String name, String stdin, List<String> command) throws IOException {
        assumeTrue(Files.isExecutable(Path.of(command.get(0))), command.get(0) + " is not installed");
        // Not comparable: python-threads and gdb-version bind pthread functions (munmap,
        // pthread_cond_timedwait, pthread_setname_np) or not as their threads' timing goes,
        // under either loader; python-ctypes' vfork child makes first calls (execve) that glibc
        // binds but does not report, and jdryad reports.
        assumeTrue(!name.endsWith(": python-threads") && !name.endsWith(": gdb-version")
                && !name.endsWith(": python-ctypes"), "not deterministic");
        Jdryad.ensureBuilt();
        String input = stdin.equals("-") ? "/dev/null" : stdin;
        Path dir = Fixtures.root();
        Path out = Fixtures.scratchDir("corpus-bindings");
        Map<String, String> env = new HashMap<>(ProcessRunner.environment(dir, Map.of()));
        env.put("JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString());
        Map<String, String> nativeEnv = new HashMap<>(env);
        nativeEnv.put("LD_DEBUG", "bindings");
        nativeEnv.put("LD_DEBUG_OUTPUT", out.resolve("glibc").toString());
        Path history = out.resolve("history.json");
        List<String> jdryadCmd = new ArrayList<>(List.of(Jdryad.launcher().toString(), "run", "--debug=bindings",
                "--debug-output", out.resolve("jdryad").toString(), "--history", history.toString()));
        jdryadCmd.addAll(command);
        Result expected = ProcessRunner.run(withStdin(input, command), nativeEnv, dir, Jdryad.RUN_TIMEOUT);
        Result actual = ProcessRunner.run(withStdin(input, jdryadCmd), env, dir, Jdryad.RUN_TIMEOUT.multipliedBy(2));
        assertFalse(expected.timedOut() || actual.timedOut(), actual::describe);
        java.util.Set<String> loaded = new java.util.HashSet<>();
        var objects = com.google.gson.JsonParser.parseString(Files.readString(history)).getAsJsonObject()
                .getAsJsonArray("objects");
        objects.forEach(o -> loaded.add(o.getAsJsonObject().get("name").getAsString()));
        java.util.Set<String> glibc = BindingsDifferentialTest.bindingsIn(concat(out, "glibc."), command.get(0));
        glibc.removeIf(b -> !loaded.contains(b.substring(0, b.indexOf(" -> ")))
                || !loaded.contains(b.substring(b.indexOf(" -> ") + 4, b.lastIndexOf(": "))));
        java.util.Set<String> jdryad = BindingsDifferentialTest.bindingsIn(concat(out, "jdryad."), command.get(0));
        BindingsDifferentialTest.assertSameBindings(name, glibc, jdryad, command.get(0), false);
    }

    /** Every file of {@code dir} whose name starts with {@code prefix}, one after another. */
    private static String concat(Path dir, String prefix) throws IOException {
        StringBuilder sb = new StringBuilder();
        try (var files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files.filter(f -> f.getFileName().toString().startsWith(prefix))::iterator) {
                sb.append(Files.readString(f, java.nio.charset.StandardCharsets.ISO_8859_1)).append('\n');
            }
        }
        return sb.toString();
    }

    /** The command with its stdin redirected from a file (the runner's second column). */
    private static List<String> withStdin(String input, List<String> command) {
        List<String> cmd = new ArrayList<>(List.of("/bin/bash", "-c", "exec \"$@\" <\"$0\"", input));
        cmd.addAll(command);
        return cmd;
    }
}
