package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.ProcessRunner;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Lazy binding as glibc does it: every lazy fixture gives the same stdout, stderr and status
 * under jdryad as natively (lazily bound on both sides), and the details that output alone does
 * not show: LD_BIND_NOT resolves at every call, an undefined function fails only when called,
 * and binding now moves that failure to load time, as LD_BIND_NOW does.
 */
@Tag("run")
class LazyBindingTest {

    @TestFactory
    Stream<DynamicTest> lazyFixturesRunAsUnderTheSystemLoader() {
        return FixtureCatalog.lazyCases().stream().map(c -> DynamicTest.dynamicTest(c.name(),
                () -> DifferentialRunTest.check(c, List.of())));
    }

    @Test
    void bindNotResolvesAtEveryCallAsGlibcDoes() {
        Path prog = FixtureCatalog.lazyArgsProgram(false);
        Map<String, String> env = new HashMap<>(Map.of("LD_BIND_NOT", "1", "LD_DEBUG", "bindings"));
        Result glibc = Jdryad.runNative(prog, List.of(), env, prog.getParent());
        Result jdryad = Jdryad.runJdryad(List.of("--debug=bindings"), prog, List.of(), Map.of("LD_BIND_NOT", "1"),
                prog.getParent());
        long expected = count(glibc.stderr(), "`la_ints'");
        assertEquals(3, expected, glibc::describe);
        assertEquals(expected, count(jdryad.stderr(), "`la_ints'"), jdryad::describe);
        // Bound normally, the slot is patched: one binding for three calls.
        Result once = Jdryad.runJdryad(List.of("--debug=bindings"), prog, List.of(), Map.of(), prog.getParent());
        assertEquals(1, count(once.stderr(), "`la_ints'"), once::describe);
    }

    @Test
    void bindingNowMovesTheUndefinedSymbolErrorToLoadTime() {
        Path prog = FixtureCatalog.lazyUndefinedProgram();
        Result glibc = Jdryad.runNative(prog, List.of(), Map.of("LD_BIND_NOW", "1"), prog.getParent());
        assertEquals(127, glibc.status(), glibc::describe);
        assertTrue(glibc.stdout().isEmpty(), glibc::describe);
        Result jdryad = Jdryad.runJdryad(List.of("--bind-now"), prog, List.of(), Map.of(), prog.getParent());
        Jdryad.assertSameRun("lazy-undef --bind-now", glibc, jdryad);
    }

    @Test
    void theIbtFixtureReallyHasAnIbtPlt() {
        String sections = ProcessRunner.run(List.of("readelf", "-SW", FixtureCatalog.lazyArgsProgram(true).toString()),
                Map.of(), Path.of("."), java.time.Duration.ofSeconds(30)).stdout();
        assertTrue(sections.contains(".plt.sec"), sections);
    }

    private static long count(String text, String needle) {
        return text.lines().filter(l -> l.contains("binding file") && l.contains(needle)).count();
    }
}
