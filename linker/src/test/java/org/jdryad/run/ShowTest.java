package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.ProcessRunner;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code jdryad show FILE.json VIEW}: a real run's {@code --history} shown post mortem (the
 * interpose fixture, whose libinterpose2.so's call of who() binds to libinterpose1.so's), and a
 * damaged file refused in one line with status 2.
 */
@Tag("run")
class ShowTest {
    private static Path history;

    @BeforeAll
    static void runTheInterposeFixture() throws Exception {
        Path prog = FixtureCatalog.interposeProgram();
        history = Fixtures.scratchDir("show").resolve("interpose.json");
        Files.deleteIfExists(history);
        Result r = Jdryad.runJdryad(List.of("--history", history.toString()), prog, List.of(), Map.of(), prog.getParent());
        assertEquals(0, r.status(), r::describe);
    }

    private static Result show(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Jdryad.launcher().toString(), "show"));
        cmd.addAll(List.of(args));
        Path dir = history.getParent();
        Map<String, String> env = new java.util.HashMap<>(ProcessRunner.environment(dir, Map.of()));
        env.put("JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString());
        return ProcessRunner.run(cmd, env, dir, Jdryad.RUN_TIMEOUT);
    }

    @Test
    void whyNamesTheWinnerAndTheInterposedDefinition() {
        Result r = show(history.toString(), "why", "who", "--from", "libinterpose2.so");
        assertEquals(0, r.status(), r::describe);
        String out = r.stdout();
        assertTrue(Pattern.compile("(?m)^#\\d+ lazy: \\S*/libinterpose2.so -> who").matcher(out).find(), r::describe);
        assertTrue(Pattern.compile("(?m)^  winner: \\S*/libinterpose1.so$").matcher(out).find(), r::describe);
        assertTrue(Pattern.compile("(?m)^\\s+\\S+\\s+\\S*/libinterpose2.so\\s+passed over: interposed:").matcher(out).find(),
                r::describe);
        assertTrue(Pattern.compile("(?m)^\\s+\\d+\\.\\s+\\S*/libinterpose1.so\\s+winner: who at 0x").matcher(out).find(),
                r::describe);
    }

    @Test
    void linkmapListsTheProgramAndItsLibraries() {
        Result r = show(history.toString(), "linkmap");
        assertEquals(0, r.status(), r::describe);
        assertTrue(r.stdout().startsWith("BASE "), r::describe);
        // How each was found, who needed it and when, its namespace and TLS, then the path.
        assertTrue(Pattern.compile("(?m)^0x[0-9a-f]+\\s+0x[0-9a-f]+-0x[0-9a-f]+\\s+jdryad lazy\\s+executable\\s+-\\s+"
                + "[0-9.]+ ms\\s+0\\s+-\\s+\\S*/interpose$").matcher(r.stdout()).find(), r::describe);
        assertTrue(Pattern.compile("(?m)^0x[0-9a-f]+\\s+0x[0-9a-f]+-0x[0-9a-f]+\\s+jdryad lazy\\s+(runpath|rpath)\\s+"
                + "needed by interpose\\s+[0-9.]+ ms\\s+0\\s+-\\s+\\S*/libinterpose1.so$").matcher(r.stdout()).find(),
                r::describe);
        assertTrue(Pattern.compile("(?m)\\s+host now\\s+ld.so.cache\\s+needed by \\S+\\s+[0-9.]+ ms\\s+0\\s+"
                + "mod \\d+ tp-0x[0-9a-f]+\\s+/\\S*/libc.so.6$").matcher(r.stdout()).find(), r::describe);
    }

    @Test
    void bindingsFilterBySymbolObjectKindAndCount() {
        Result r = show(history.toString(), "bindings", "printf", "--lazy", "--last", "1");
        assertEquals(0, r.status(), r::describe);
        String[] lines = r.stdout().split("\n");
        assertEquals(2, lines.length, r::describe);
        assertTrue(Pattern.compile("^#\\d+\\s+lazy\\s+\\S+\\s+->\\s+printf@GLIBC_2.2.5\\s+->\\s+libc.so.6\\s+at 0x[0-9a-f]+\\s+"
                + "from main\\+\\d+ in ").matcher(lines[1]).find(), r::describe);
        Result o = show(history.toString(), "bindings", "--object", "libinterpose1.so");
        assertTrue(o.stdout().lines().skip(1).allMatch(l -> l.contains("libinterpose1.so")), o::describe);
        assertTrue(o.stdout().lines().count() > 1, o::describe);
    }

    @Test
    void eventsShowStartUp() {
        Result r = show(history.toString(), "events");
        assertEquals(0, r.status(), r::describe);
        assertTrue(Pattern.compile("(?m)^#1\\s+add\\s+startup\\s+.*libinterpose1.so").matcher(r.stdout()).find(), r::describe);
        assertTrue(Pattern.compile("(?m)^#2\\s+consistent\\s+startup").matcher(r.stdout()).find(), r::describe);
        assertEquals(2, show(history.toString(), "events", "--last", "1").stdout().split("\n").length);
    }

    @Test
    void aMalformedFileIsOneLineAndStatusTwo() throws Exception {
        Path dir = history.getParent();
        Map<String, String> bad = Map.of(
                "garbage.json", "{\"format\": \"jdryad-history\", \"version\": 1, \"objects\": [",
                "other.json", "{\"format\": \"something-else\", \"version\": 1}",
                "future.json", "{\"format\": \"jdryad-history\", \"version\": 99}",
                "types.json", "{\"format\": \"jdryad-history\", \"version\": 1, \"pid\": 1, \"objects\": [{\"path\": 3}],"
                        + " \"bindings\": [], \"events\": []}");
        for (var e : bad.entrySet()) {
            Path f = dir.resolve(e.getKey());
            Files.writeString(f, e.getValue());
            Result r = show(f.toString(), "bindings");
            assertEquals(2, r.status(), r::describe);
            assertEquals("", r.stdout(), r::describe);
            assertEquals(1, r.stderr().strip().split("\n").length, r::describe);
            assertTrue(r.stderr().startsWith("jdryad show: " + f + ": "), r::describe);
            assertFalse(r.stderr().contains("Exception"), r::describe);
        }
        Result missing = show(dir.resolve("nope.json").toString());
        assertEquals(2, missing.status(), missing::describe);
        Result view = show(history.toString(), "nonsense");
        assertEquals(2, view.status(), view::describe);
    }
}
