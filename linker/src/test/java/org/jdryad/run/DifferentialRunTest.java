package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestFactory;

/**
 * Every fixture of {@link FixtureCatalog#differentialCases()}: run natively, then as
 * {@code ./jdryad run PROG ARGS...} with the same environment and working directory; stdout,
 * stderr and exit status must be identical.
 */
@Tag("run")
class DifferentialRunTest {

    @TestFactory
    Stream<DynamicTest> jdryadRunMatchesTheSystemLoader() {
        return FixtureCatalog.differentialCases().stream()
                .map(c -> DynamicTest.dynamicTest(c.name(), () -> check(c, List.of())));
    }

    /** The same cases with every binding done at load time: {@code --bind-now} against native {@code LD_BIND_NOW=1}. */
    @TestFactory
    Stream<DynamicTest> bindNowMatchesLdBindNow() {
        return FixtureCatalog.differentialCases().stream()
                .filter(c -> List.of("hello-pie", "chain-rpath-origin", "versions", "interpose", "copyreloc-nopie",
                        "ifunc-pie", "tls-pie", "ctor-dtor-atexit", "cxx-exceptions", "dlopen", "dlfcn-failed-dlopen",
                        "dlfcn-relocation-dependencies").contains(c.name()))
                .map(c -> DynamicTest.dynamicTest(c.name() + " --bind-now", () -> {
                    java.util.Map<String, String> nativeEnv = new java.util.HashMap<>(c.env());
                    nativeEnv.put("LD_BIND_NOW", "1");
                    Path dir = c.program().getParent();
                    Result expected = Jdryad.runNative(c.program(), c.args(), nativeEnv, dir);
                    Result actual = Jdryad.runJdryad(List.of("--bind-now"), c.program(), c.args(), c.env(), dir);
                    Jdryad.assertSameRun(c.name() + " (--bind-now)", expected, actual);
                }));
    }

    static void check(FixtureCatalog.Case c, List<String> options) {
        Path dir = c.program().getParent();
        Result expected = Jdryad.runNative(c.program(), c.args(), c.env(), dir);
        assertEquals(c.expectedStatus(), expected.status(),
                () -> "fixture " + c.name() + " misbehaves under the system loader itself\n" + expected.describe());
        Result actual = Jdryad.runJdryad(options, c.program(), c.args(), c.env(), dir);
        Jdryad.assertSameRun(c.name(), expected, actual);
    }
}
