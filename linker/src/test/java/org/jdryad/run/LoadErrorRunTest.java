package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Load failures in glibc's words and with glibc's status (127): a missing library, a missing
 * symbol, a missing symbol version. Each program was linked against {@code libneeded.so} and is
 * then run next to no library, or next to a later {@code libneeded.so} that lost the symbol.
 * Messages are compared with the system loader's, with the program's path written as PROG.
 */
@Tag("run")
class LoadErrorRunTest {

    private static void compare(String name, Path prog, List<String> options, Map<String, String> nativeEnv,
                                String expectedPattern) {
        Path dir = prog.getParent();
        Result expected = Jdryad.runNative(prog, List.of(), nativeEnv, dir);
        assertEquals(127, expected.status(), () -> "system loader on " + name + "\n" + expected.describe());
        assertTrue(Pattern.compile(expectedPattern).matcher(expected.stderr()).find(),
                () -> "fixture " + name + ": the system loader's message is not the one expected (" + expectedPattern
                        + ")\n" + expected.describe());
        Result actual = Jdryad.runJdryad(options, prog, List.of(), Map.of(), dir);
        Jdryad.assertSameRun(name, expected, actual, programAsProg(prog));
    }

    /** Replaces the program's path (as given, or absolute) by PROG wherever a message names it. */
    static UnaryOperator<String> programAsProg(Path prog) {
        String abs = prog.toAbsolutePath().toString();
        return s -> s.replace(abs, "PROG")
                .replaceAll("(?m)^\\S*" + Pattern.quote(prog.getFileName().toString()) + ":", "PROG:")
                .replaceAll(": \\S*" + Pattern.quote(prog.getFileName().toString()) + ":", ": PROG:");
    }

    @Test
    void missingLibrary() {
        Path prog = FixtureCatalog.neededProgram("fn", null);
        compare("missing library", prog, List.of(), Map.of(),
                "^" + Pattern.quote(prog.toString()) + ": error while loading shared libraries: libneeded\\.so: "
                        + "cannot open shared object file: No such file or directory\n$");
    }

    /**
     * A cold run starts the agent before the library search (ProgramRunner.launchEarly): when the
     * search fails, that process is killed before it ran any of the program, and none is left.
     */
    @Test
    void aFailedSearchLeavesNoAgentBehind() throws Exception {
        Path prog = FixtureCatalog.neededProgram("fn", null);
        String marker = "no-agent-left-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        Result expected = Jdryad.runNative(prog, List.of(marker), Map.of(), prog.getParent());
        Result actual = Jdryad.runJdryad(List.of(), prog, List.of(marker), Map.of(), prog.getParent());
        assertEquals(127, actual.status(), actual::describe);
        Jdryad.assertSameRun("missing library, agent started early", expected, actual, programAsProg(prog));
        long deadline = System.nanoTime() + 5_000_000_000L;
        List<Long> left;
        do {
            left = ProcessHandle.allProcesses()
                    .filter(p -> p.info().arguments().map(a -> List.of(a).contains(marker)).orElse(false))
                    .map(ProcessHandle::pid).toList();
            if (!left.isEmpty()) {
                Thread.sleep(50); // killed, and not yet reaped by init
            }
        } while (!left.isEmpty() && System.nanoTime() < deadline);
        assertEquals(List.of(), left, "processes with the program's arguments after the run");
    }

    @Test
    void missingLibraryOfALibrary() {
        Path prog = FixtureCatalog.chainRunpathNotTransitiveProgram();
        compare("missing library of a library", prog, List.of(), Map.of(),
                "error while loading shared libraries: libchain_c\\.so: cannot open shared object file");
    }

    @Test
    void missingFunction() {
        Path prog = FixtureCatalog.neededProgram("fn", FixtureCatalog.libneededStripped());
        compare("undefined function", prog, List.of(), Map.of(), "symbol lookup error: .*undefined symbol: needed_fn\\n$");
    }

    @Test
    void missingFunctionBindNow() {
        Path prog = FixtureCatalog.neededProgram("fn", FixtureCatalog.libneededStripped());
        compare("undefined function (--bind-now)", prog, List.of("--bind-now"), Map.of("LD_BIND_NOW", "1"),
                "undefined symbol: needed_fn");
    }

    @Test
    void missingVariable() {
        Path prog = FixtureCatalog.neededProgram("var", FixtureCatalog.libneededStripped());
        compare("undefined variable", prog, List.of(), Map.of(), "symbol lookup error: .*undefined symbol: needed_var\\n$");
    }

    @Test
    void missingVersionOfASymbol() {
        Path prog = FixtureCatalog.neededProgram("versioned", FixtureCatalog.libversionedStripped());
        compare("undefined symbol version", prog, List.of(), Map.of(),
                "undefined symbol: needed_versioned, version NEEDED_1");
    }

    /** The libraries that are there still work: the same programs run next to the library they were linked with. */
    @Test
    void sameProgramsWithTheirLibrary() {
        for (String uses : List.of("fn", "var", "versioned")) {
            Path prog = FixtureCatalog.neededProgram(uses,
                    uses.equals("versioned") ? FixtureCatalog.libversioned() : FixtureCatalog.libneeded());
            Result expected = Jdryad.runNative(prog, List.of(), Map.of(), prog.getParent());
            assertEquals(0, expected.status(), expected::describe);
            Result actual = Jdryad.runJdryad(List.of(), prog, List.of(), Map.of(), prog.getParent());
            Jdryad.assertSameRun("uses-" + uses + " with libneeded.so", expected, actual);
        }
    }

}
