package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The program's LD_* variables are jdryad's (issue 3): {@code LD_PRELOAD=lib ./jdryad run prog}
 * preloads lib into the program only, with no word from the system loader, and the options
 * {@code --preload}/{@code --library-path} do what the variables do.
 */
@Tag("run")
class PreloadRunTest {

    @Test
    void ldPreloadInterposesInTheProgram() {
        Path prog = FixtureCatalog.preloadProgram();
        Map<String, String> env = Map.of("LD_PRELOAD", FixtureCatalog.quietPreloadLibrary().toString());
        Result expected = Jdryad.runNative(prog, List.of(), env, prog.getParent());
        assertTrue(expected.stdout().contains("greet from the preloaded library"), expected::describe);
        assertTrue(expected.stdout().contains("rand()=4 (interposed)"), expected::describe);
        Result actual = Jdryad.runJdryad(List.of(), prog, List.of(), env, prog.getParent());
        Jdryad.assertSameRun("preload (LD_PRELOAD)", expected, actual);
    }

    @Test
    void ldPreloadReachesNeitherJvmNorAgent() {
        // A preload list with a library that does not exist: the system loader would print
        // "ERROR: ld.so: object ... cannot be preloaded ... ignored." for java and for the agent.
        Path prog = FixtureCatalog.helloPie();
        Map<String, String> env = Map.of("LD_PRELOAD", "libjdryad-nonexistent-preload.so");
        Result expected = Jdryad.runNative(prog, List.of(), env, prog.getParent());
        Result actual = Jdryad.runJdryad(List.of(), prog, List.of(), env, prog.getParent());
        Jdryad.assertSameRun("preload of a missing library", expected, actual);
        long warnings = actual.stderr().lines().filter(l -> l.contains("cannot be preloaded")).count();
        assertEquals(1, warnings, () -> "exactly the program's own warning, not the JVM's or agent's\n"
                + actual.describe());
    }

    /**
     * Through the static front, LD_PRELOAD reaches no process but the program: the library's
     * constructor prints once, as natively (through the bash script it also runs in bash).
     */
    @Test
    void throughTheStaticFrontLdPreloadReachesTheProgramOnly() {
        Path prog = FixtureCatalog.preloadProgram();
        Map<String, String> env = Map.of("LD_PRELOAD", FixtureCatalog.preloadLibrary().toString(),
                "JDRYAD_SERVER", "off");
        Result expected = Jdryad.runNative(prog, List.of(), env, prog.getParent());
        assertEquals(1, expected.stdout().lines().filter(l -> l.equals("preload constructor")).count(),
                expected::describe);
        Result actual = Jdryad.runFront(List.of(), prog, List.of(), env, prog.getParent());
        Jdryad.assertSameRun("preload (LD_PRELOAD, static front)", expected, actual);
    }

    /**
     * Through the static front no system loader sees LD_PRELOAD (the front is static, and bash
     * gets the variable moved aside), so a missing preload's one warning is jdryad's to print,
     * in glibc's words, as natively.
     */
    @Test
    void throughTheStaticFrontAMissingPreloadIsWarnedAboutOnce() {
        Path prog = FixtureCatalog.helloPie();
        Map<String, String> env = Map.of("LD_PRELOAD", "libjdryad-nonexistent-preload.so", "JDRYAD_SERVER", "off");
        Result expected = Jdryad.runNative(prog, List.of(), env, prog.getParent());
        assertTrue(expected.stderr().contains("cannot be preloaded"), expected::describe);
        Result actual = Jdryad.runFront(List.of(), prog, List.of(), env, prog.getParent());
        Jdryad.assertSameRun("preload of a missing library (static front)", expected, actual);
    }

    /**
     * Through the static front, a missing LD_AUDIT module gets the system loader's one warning,
     * for the program, as natively: not a second one for the launcher's bash.
     */
    @Test
    void throughTheStaticFrontLdAuditReachesTheProgramOnly() {
        Path prog = FixtureCatalog.helloPie();
        Map<String, String> env = Map.of("LD_AUDIT", "libjdryad-nonexistent-audit.so", "JDRYAD_SERVER", "off");
        Result expected = Jdryad.runNative(prog, List.of(), env, prog.getParent());
        assertTrue(expected.stderr().contains("cannot be loaded as audit interface"), expected::describe);
        Result actual = Jdryad.runFront(List.of(), prog, List.of(), env, prog.getParent());
        Jdryad.assertSameRun("missing audit module (LD_AUDIT, static front)", expected, actual);
    }

    @Test
    void preloadOption() {
        Path prog = FixtureCatalog.preloadProgram();
        Path lib = FixtureCatalog.preloadLibrary();
        Result expected = Jdryad.runNative(prog, List.of(), Map.of("LD_PRELOAD", lib.toString()), prog.getParent());
        Result actual = Jdryad.runJdryad(List.of("--preload", lib.toString()), prog, List.of(), Map.of(),
                prog.getParent());
        Jdryad.assertSameRun("preload (--preload)", expected, actual);
        assertFalse(actual.stderr().contains("ld.so"), actual::describe);
    }

    @Test
    void libraryPathOption() {
        Path prog = FixtureCatalog.chainNoPathProgram();
        Path libs = FixtureCatalog.chainLibraries();
        String path = libs.resolve("lib") + ":" + libs.resolve("lib/sub");
        Result expected = Jdryad.runNative(prog, List.of(), Map.of("LD_LIBRARY_PATH", path), prog.getParent());
        assertEquals(0, expected.status(), expected::describe);
        Result actual = Jdryad.runJdryad(List.of("--library-path", path), prog, List.of(), Map.of(),
                prog.getParent());
        Jdryad.assertSameRun("chain (--library-path)", expected, actual);
    }

    @Test
    void ldBindNowVariableIsAccepted() {
        Path prog = FixtureCatalog.interposeProgram();
        Map<String, String> env = Map.of("LD_BIND_NOW", "1");
        Result expected = Jdryad.runNative(prog, List.of(), env, prog.getParent());
        Result actual = Jdryad.runJdryad(List.of(), prog, List.of(), env, prog.getParent());
        Jdryad.assertSameRun("interpose (LD_BIND_NOW=1)", expected, actual);
    }
}
