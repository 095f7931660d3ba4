package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.ProcessRunner;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Corpora of real programs, each case run natively and under {@code jdryad run} by the shared
 * corpus runner (../shared/corpus/run-corpus.sh): stdout, stderr and exit status must all be
 * identical. The shared corpus (coreutils, perl, python, git, openssl, jq, llvm-as, cmake, node)
 * and ours (tests/corpus/more-programs.tsv: extension modules through dlopen, ctypes, threads,
 * XS modules with thread-local interpreters, gdb, gcc, ssh, curl...).
 */
@Tag("run")
@Tag("corpus")
class CorpusRunTest {

    @ParameterizedTest
    @ValueSource(strings = {"../shared/corpus/programs.tsv", "tests/corpus/more-programs.tsv"})
    void everyCorpusProgramBehavesAsUnderTheSystemLoader(String corpusFile) {
        Path corpus = Fixtures.root().resolve("../shared/corpus").normalize();
        Path runner = corpus.resolve("run-corpus.sh");
        Path programs = Fixtures.root().resolve(corpusFile).normalize();
        assumeTrue(Files.isRegularFile(runner) && Files.isRegularFile(programs),
                "the shared corpus is not beside this checkout (" + corpus + ")");
        Jdryad.ensureBuilt();
        Map<String, String> env = new HashMap<>(ProcessRunner.environment(Fixtures.root(), Map.of()));
        env.put("JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString());
        Result r = ProcessRunner.run(List.of("bash", runner.toString(), "-v", programs.toString(),
                Jdryad.launcher().toString(), "run"), env, Fixtures.root(), Duration.ofMinutes(20));
        assertFalse(r.timedOut(), r::describe);
        Matcher m = Pattern.compile("(?m)^(\\d+) passed, (\\d+) failed$").matcher(r.stdout());
        assertTrue(m.find(), () -> "the corpus runner printed no summary\n" + r.describe());
        int passed = Integer.parseInt(m.group(1));
        int failed = Integer.parseInt(m.group(2));
        System.out.println("corpus " + corpusFile + ": " + passed + " passed, " + failed + " failed");
        assertTrue(failed == 0 && passed > 0, () -> "corpus cases failed under jdryad run\n" + r.stdout());
    }
}
