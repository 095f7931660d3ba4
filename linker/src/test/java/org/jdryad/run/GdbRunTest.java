package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.ProcessRunner;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Stock gdb on a program started by jdryad (issue 3, DESIGN.md mechanism 1).
 *
 * <p>{@code jdryad gdb -batch -ex CMD... --args PROG ARG...} starts gdb on the agent (the process
 * jdryad loads PROG into) with those commands; the first test uses the older spelling
 * {@code jdryad run --gdb-batch --gdb-ex CMD... PROG}, which means the same. The breakpoint is set by name before the
 * library exists, and must resolve when jdryad announces the library through r_debug; gdb needs
 * no script for that.
 */
@Tag("gdb")
@Tag("run")
class GdbRunTest {

    @Test
    void breakpointInALibraryFunctionLoadedByJdryad() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/gdb")), "gdb is not installed (tests/setup.sh installs it)");
        Jdryad.ensureBuilt();
        Path prog = FixtureCatalog.gdbProgram();
        Path lib = FixtureCatalog.libgdbadd();
        List<String> cmd = new ArrayList<>(List.of(Jdryad.launcher().toString(), "run", "--gdb-batch",
                "--gdb-ex", "set confirm off",
                "--gdb-ex", "break lib_add",
                "--gdb-ex", "run",
                "--gdb-ex", "bt",
                "--gdb-ex", "info args",
                "--gdb-ex", "info sharedlibrary",
                prog.toString()));
        Map<String, String> env = new java.util.HashMap<>(ProcessRunner.environment(prog.getParent(), Map.of()));
        env.put("JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString());
        Result r = ProcessRunner.run(cmd, env, prog.getParent(), Duration.ofSeconds(120));
        String out = r.stdout() + r.stderr();
        String shown = Jdryad.hint(r) + "\n" + r.describe();

        assertFalse(r.timedOut(), () -> "gdb did not finish" + shown);
        assertTrue(Pattern.compile("Breakpoint 1, (0x[0-9a-f]+ in )?lib_add \\(a=2, b=3\\)").matcher(out).find(),
                () -> "the breakpoint on lib_add did not hit with a=2, b=3" + shown);
        assertTrue(Pattern.compile("(?m)^a = 2\\s*\\nb = 3\\s*$").matcher(out).find(),
                () -> "`info args` does not show a = 2, b = 3" + shown);
        assertTrue(Pattern.compile("(?m)^#1\\s+(0x[0-9a-f]+ in )?main \\(\\)").matcher(out).find(),
                () -> "`bt` does not show main as the caller of lib_add" + shown);
        assertTrue(Pattern.compile("(?m)^0x[0-9a-f]+\\s+0x[0-9a-f]+\\s+Yes.*" + Pattern.quote(lib.toString()) + "\\s*$")
                        .matcher(out).find(),
                () -> "`info sharedlibrary` does not list " + lib + " as loaded with symbols" + shown);
    }

    /** gdb in batch mode on the gdb fixture (bound lazily, as glibc binds it) with these commands. */
    private static Result gdb(String... commands) {
        return gdbOn(FixtureCatalog.gdbProgram(), List.of(), commands);
    }

    private static Result gdbOn(Path prog, List<String> args, String... commands) {
        return GdbBatch.batch(List.of(), Map.of(), prog, args, List.of(commands));
    }

    @Test
    void stepIntoALazilyBoundCallArrivesInTheTarget() {
        Result r = gdb("break gdb_main.c:4", "run", "step", "info frame");
        String out = r.stdout() + r.stderr();
        assertTrue(Pattern.compile("lib_add \\(a=2, b=3\\) at .*gdbadd.c:3").matcher(out).find(),
                () -> "`step` into the first call of lib_add did not stop in lib_add\n" + r.describe());
    }

    @Test
    void stepiThroughTheTrampolineAlwaysShowsTheCaller() {
        Path script = Path.of(Jdryad.launcher().getParent().toString(), "tests", "gdb", "stepi_trampoline.py");
        Result r = gdb("source " + script);
        String out = r.stdout() + r.stderr();
        var m = Pattern.compile("JDRYAD-STEPI in_trampoline=(\\d+) finished=(\\d+) arrived=(\\S+) bad=(.*)").matcher(out);
        assertTrue(m.find(), () -> "the stepi script did not report\n" + r.describe());
        assertTrue(Integer.parseInt(m.group(1)) >= 20, () -> "too few stops inside the trampoline\n" + r.describe());
        assertTrue(m.group(2).equals("1"), () -> "finish out of the resolver's C part did not happen\n" + r.describe());
        assertTrue(m.group(3).equals("lib_add"), () -> "stepping did not arrive in lib_add\n" + r.describe());
        assertTrue(m.group(4).trim().equals("[]"), () -> "frames without the caller: " + m.group(4) + "\n" + r.describe());
    }

    @Test
    void theActivityHookShowsADlopenEventToGdb() {
        Path prog = FixtureCatalog.dlopenProgram();
        Result r = gdbOn(prog, List.of(prog.resolveSibling("libplugin.so").toString()),
                "break jdryad_dl_activity if event->cause == 2", "run", "print/r *event", "print event->request",
                "print event->objects[0]", "print jdryad_activity_ring.next");
        String out = r.stdout() + r.stderr();
        assertTrue(Pattern.compile("version = 2, state = 1, cause = 2, flags = 2").matcher(out).find(),
                () -> "`print/r *event` at the dlopen's event does not show it\n" + r.describe());
        assertTrue(Pattern.compile("\\$2 = 0x[0-9a-f]+ \".*libplugin.so\"").matcher(out).find(),
                () -> "event->request is not the dlopen argument\n" + r.describe());
        assertTrue(Pattern.compile("\\$3 = 0x[0-9a-f]+ \".*/libplugin.so\"").matcher(out).find(),
                () -> "event->objects[0] is not the plugin\n" + r.describe());
        assertTrue(Pattern.compile("\\$4 = 3").matcher(out).find(),
                () -> "the ring does not hold the start-up events and this one\n" + r.describe());
    }

    @Test
    void breakMainAndStartStopInTheProgramsMainAndNextStepsOverALazyCall() {
        // The agent exposes no `main` of its own: gdb finds only the program's.
        Result r = gdb("break main", "run", "next", "bt 1");
        String out = r.stdout() + r.stderr();
        assertTrue(Pattern.compile("Breakpoint 1, main \\(\\) at .*gdb_main.c:4").matcher(out).find(),
                () -> "`break main` did not stop in the program's main\n" + r.describe());
        assertTrue(Pattern.compile("(?m)^5\\s+printf").matcher(out).find(),
                () -> "`next` over the first call of lib_add did not reach line 5\n" + r.describe());
        Result s = gdb("start", "info frame");
        String sout = s.stdout() + s.stderr();
        assertTrue(Pattern.compile("Temporary breakpoint 1, main \\(\\) at .*gdb_main.c:4").matcher(sout).find(),
                () -> "`start` did not stop in the program's main\n" + s.describe());
    }
}
