package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jdryad gdb}: a gdb session on a jdryad process that feels like {@code gdb PROG} —
 * gdb's options pass through, {@code run} starts the program as often as it is typed (with
 * {@code run ARGS < FILE}, after an exit, after {@code kill}, while it is stopped), each run is
 * linked anew and the {@code jdryad} commands describe the run in progress, and jdryad exits
 * quietly with gdb's status. Where gdb PROG can be run natively, the program's own lines are
 * compared with it.
 */
@Tag("gdb")
@Tag("run")
class GdbSessionTest {
    private static final Pattern EXITED = Pattern.compile("(?m)^\\[Inferior 1 \\(process (\\d+)\\) exited normally\\]$");

    @TempDir
    Path tmp;

    private static void assumeGdb() {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/gdb")), "gdb is not installed (tests/setup.sh installs it)");
    }

    /** `jdryad gdb WORDS...` (or plain `gdb WORDS...` when {@code natively}) in {@code dir}. */
    private static Result gdb(boolean natively, Path dir, String... words) {
        return GdbBatch.run(natively, dir, Map.of(), List.of(words));
    }

    /** What the program printed, without gdb's own lines (which name processes and threads). */
    private static List<String> programLines(Result r) {
        List<String> out = new ArrayList<>();
        for (String line : (r.stdout() + r.stderr()).split("\n", -1)) {
            if (!line.startsWith("[Inferior") && !line.contains("libthread_db") && !line.startsWith("[Thread")
                    && !line.startsWith("[New ") && !line.isEmpty()) {
                out.add(line);
            }
        }
        return out;
    }

    private static int count(String text, String regex) {
        Matcher m = Pattern.compile(regex, Pattern.MULTILINE).matcher(text);
        int n = 0;
        while (m.find()) {
            n++;
        }
        return n;
    }

    @Test
    void runTwiceWhileStoppedAndAgainAfterExitEachLinkedAnew() {
        Path prog = FixtureCatalog.gdbProgram();
        Result r = gdb(false, prog.getParent(), "-batch", "-ex", "set confirm off", "-ex", "break lib_add",
                "-ex", "run", "-ex", "jdryad bindings lib_add",
                "-ex", "run", "-ex", "bt", "-ex", "jdryad stats", "-ex", "continue",
                "-ex", "run", "-ex", "continue", prog.toString());
        String out = r.stdout() + r.stderr();
        assertEquals(3, count(out, "^Breakpoint 1, lib_add \\(a=2, b=3\\)"),
                () -> "the breakpoint in the library did not hit in each of the three runs\n" + r.describe());
        assertEquals(2, count(out, "^lib_add\\(2, 3\\) = 5$"), () -> "two runs went to the end\n" + r.describe());
        assertTrue(Pattern.compile("(?m)^#1\\s+0x[0-9a-f]+ in main \\(\\) at .*gdb_main.c:4$").matcher(out).find(),
                () -> "the second run's backtrace does not reach the program's main\n" + r.describe());
        assertTrue(Pattern.compile("(?m)^#\\d+\\s+lazy\\s+gdb-main\\s+->\\s+lib_add").matcher(out).find(),
                () -> "the first run's lazy binding is not shown\n" + r.describe());
        // `jdryad stats` is about the run in progress: its own pid, one lazy binding so far.
        Set<String> pids = new LinkedHashSet<>();
        Matcher m = EXITED.matcher(out);
        while (m.find()) {
            pids.add(m.group(1));
        }
        assertEquals(2, pids.size(), () -> "two distinct processes exited normally\n" + r.describe());
        assertTrue(Pattern.compile("(?m)^  lazy\\s+1$").matcher(out).find(), () -> "stats of the second run\n" + r.describe());
        assertFalse(out.contains("jdryad:"), () -> "jdryad said something about the agent\n" + r.describe());
        assertFalse(out.contains("Traceback"), r::describe);
        assertEquals(0, r.status(), r::describe);
    }

    @Test
    void runArgumentsRedirectionsAndEnvironmentAsUnderGdbProg() throws IOException {
        Path in = Files.writeString(tmp.resolve("in.txt"), "zebra\napple\nmango\n");
        String[] words = {"-batch", "-ex", "run", "-ex", "run -r < in.txt", "-ex", "run in.txt missing.txt",
            "-ex", "set environment LC_ALL=C", "-ex", "unset environment HOME", "-ex", "run -c 'echo $LC_ALL:$HOME:$LINES'",
            "--args", "sort", "in.txt"};
        // A bare name is found on PATH, and run by its absolute path, as gdb does.
        Result natively = gdb(true, tmp, words);
        Result jdryad = gdb(false, tmp, words);
        assertEquals(programLines(natively), programLines(jdryad), () -> "native:\n" + natively.describe()
                + "\njdryad:\n" + jdryad.describe());
        assertTrue(programLines(jdryad).contains("zebra"), jdryad::describe);
        assertEquals(natively.status(), jdryad.status(), jdryad::describe);
        // The shell as the program: gdb's environment changes reach it.
        Result sh = gdb(false, tmp, "-batch", "-ex", "set environment LC_ALL=C", "-ex", "unset environment HOME",
                "-ex", "run", "--args", "/bin/sh", "-c", "echo \"$LC_ALL:$HOME:$LINES\"");
        Result shNative = gdb(true, tmp, "-batch", "-ex", "set environment LC_ALL=C", "-ex", "unset environment HOME",
                "-ex", "run", "--args", "/bin/sh", "-c", "echo \"$LC_ALL:$HOME:$LINES\"");
        assertEquals(programLines(shNative), programLines(sh), sh::describe);
        assertTrue(programLines(sh).contains("C::24") || programLines(sh).stream().anyMatch(l -> l.startsWith("C::")),
                sh::describe);
    }

    @Test
    void gdbsOptionsPassThroughAndItsStatusIsJdryads() throws IOException {
        Path prog = FixtureCatalog.gdbProgram();
        Path script = Files.writeString(tmp.resolve("cmds.gdb"), "break lib_add\nrun\nprint a + b\nkill\n");
        Result r = gdb(false, prog.getParent(), "-nx", "-q", "-batch", "-x", script.toString(), prog.toString());
        assertTrue(Pattern.compile("(?m)^\\$1 = 5$").matcher(r.stdout()).find(), r::describe);
        // Leaving without running: nothing from jdryad, gdb's status.
        Result quit = gdb(false, prog.getParent(), "-batch", "-ex", "info sharedlibrary", prog.toString());
        Result quitNative = gdb(true, prog.getParent(), "-batch", "-ex", "info sharedlibrary", prog.toString());
        assertEquals(quitNative.status(), quit.status(), quit::describe);
        assertEquals("", quit.stderr(), quit::describe);
        // An error in a gdb command: gdb -batch's non-zero status is jdryad's.
        Result bad = gdb(false, prog.getParent(), "-batch", "-ex", "run", "-ex", "frobnicate", prog.toString());
        Result badNative = gdb(true, prog.getParent(), "-batch", "-ex", "run", "-ex", "frobnicate", prog.toString());
        assertEquals(badNative.status(), bad.status(), bad::describe);
        assertTrue(bad.status() != 0, bad::describe);
    }

    @Test
    void misuseIsOneLine() {
        Path prog = FixtureCatalog.gdbProgram();
        Result extra = gdb(false, prog.getParent(), "-batch", prog.toString(), "extra");
        assertEquals(2, extra.status(), extra::describe);
        assertTrue(extra.stderr().contains("PROG's arguments go after --args"), extra::describe);
        Result missing = gdb(false, prog.getParent(), "-batch", "--args");
        assertEquals(2, missing.status(), missing::describe);
        Result none = gdb(false, prog.getParent(), "-batch", "no-such-program-anywhere");
        assertEquals(127, none.status(), none::describe);
        assertEquals("jdryad: no-such-program-anywhere: No such file or directory", none.stderr().strip(), none::describe);
    }

    @Test
    void catchLoadUnloadAndBreakpointsInADlopenedLibraryAsUnderGlibc() {
        Path prog = FixtureCatalog.dlopenProgram();
        String plugin = prog.resolveSibling("libplugin.so").toString();
        String[] words = {"-batch", "-ex", "set confirm off", "-ex", "catch load libplugin", "-ex", "catch unload",
            "-ex", "run", "-ex", "info sharedlibrary libplugin", "-ex", "break plugin_entry", "-ex", "continue",
            "-ex", "bt 2", "-ex", "continue", "-ex", "continue", "--args", prog.toString(), plugin};
        Result natively = gdb(true, prog.getParent(), words);
        List<String> withEvents = new ArrayList<>(List.of(words));
        withEvents.addAll(withEvents.indexOf("bt 2") + 1, List.of("-ex", "jdryad events"));
        Result jdryad = gdb(false, prog.getParent(), withEvents.toArray(String[]::new));
        String out = jdryad.stdout() + jdryad.stderr();
        // The dlopen as jdryad recorded it: its request, mode and call site in main.
        assertTrue(Pattern.compile("(?m)^#\\d+\\s+add\\s+dlopen\\s+\"" + Pattern.quote(plugin) + "\", RTLD_NOW\\s+"
                + "0x[0-9a-f]+ <main\\+\\d+>\\s+libplugin.so$").matcher(out).find(),
                () -> "`jdryad events` does not show the dlopen with its caller\n" + jdryad.describe());
        for (String expected : new String[] {"^Catchpoint 1\\n  Inferior loaded " + Pattern.quote(plugin) + "$",
            "^0x[0-9a-f]+\\s+0x[0-9a-f]+\\s+Yes \\(\\*\\)\\s+" + Pattern.quote(plugin) + "$",
            "^Breakpoint 3, 0x[0-9a-f]+ in plugin_entry \\(\\) from " + Pattern.quote(plugin) + "$",
            "^#1\\s+0x[0-9a-f]+ in main \\(\\)",
            "^Catchpoint 2\\n  Inferior unloaded " + Pattern.quote(plugin) + "$"}) {
            assertTrue(Pattern.compile(expected, Pattern.MULTILINE).matcher(natively.stdout()).find(),
                    () -> "the native run does not show " + expected + "\n" + natively.describe());
            assertTrue(Pattern.compile(expected, Pattern.MULTILINE).matcher(out).find(),
                    () -> "jdryad's run does not show " + expected + " as the native run does\n" + jdryad.describe());
        }
        List<String> programOut = programLines(jdryad).stream().filter(l -> l.startsWith("plugin") || l.contains("dlclose")
                || l.startsWith("by name") || l.startsWith("missing")).toList();
        List<String> nativeOut = programLines(natively).stream().filter(l -> l.startsWith("plugin") || l.contains("dlclose")
                || l.startsWith("by name") || l.startsWith("missing")).toList();
        assertEquals(nativeOut, programOut, jdryad::describe);
    }

    @Test
    void threadsCarryTheProgramsNameAndAllShowTheirStacks() {
        Path prog = FixtureCatalog.lazyThreadsProgram();
        Result r = gdb(false, prog.getParent(), "-batch", "-ex", "set confirm off", "-ex", "break lm_f100", "-ex", "run",
                "-ex", "info threads", "-ex", "thread apply all bt 1", "-ex", "kill", prog.toString());
        String out = r.stdout() + r.stderr();
        String name = Pattern.quote("\"" + prog.getFileName() + "\"");
        // The kernel names a process after the file it executed; the agent's name must not show.
        assertTrue(count(out, "^[* ] +1 +Thread 0x[0-9a-f]+ \\(LWP \\d+\\) " + name) == 1,
                () -> "the main thread is not named after the program\n" + r.describe());
        assertTrue(count(out, "^[* ] +\\d+ +Thread 0x[0-9a-f]+ \\(LWP \\d+\\) " + name + " .* in lm_f100 \\(\\)") >= 1,
                () -> "no thread stopped in lm_f100\n" + r.describe());
        assertFalse(out.contains("jdryad-agent"), () -> "a thread carries the agent's name\n" + r.describe());
        assertTrue(count(out, "^Thread \\d+ \\(Thread 0x[0-9a-f]+ \\(LWP \\d+\\) " + name + "\\):$") >= 17,
                () -> "`thread apply all bt` does not show the 17 threads\n" + r.describe());
    }

    @Test
    void solibEventsWatchpointsOnLibraryDataAndWhyAnInterposerWon() {
        // set stop-on-solib-events 1: gdb stops at each r_debug change; the program's own
        // objects come after the agent's (libc, libgcc_s), announced together as under glibc.
        Path prog = FixtureCatalog.gdbProgram();
        List<String> words = new ArrayList<>(List.of("-batch", "-ex", "set stop-on-solib-events 1", "-ex", "run"));
        for (int i = 0; i < 12; i++) {
            words.addAll(List.of("-ex", "continue"));
        }
        words.add(prog.toString());
        Result events = gdb(false, prog.getParent(), words.toArray(String[]::new));
        assertTrue(Pattern.compile("(?m)^Stopped due to shared library event:\\n  Inferior loaded " + Pattern.quote(prog.toString())
                + "\\n    \\S+/libgdbadd.so$").matcher(events.stdout()).find(), events::describe);
        assertTrue(events.stdout().contains("lib_add(2, 3) = 5"), events::describe);
        assertEquals("", events.stderr().replaceAll("(?m)^The program is not being run.\\n", ""), events::describe);

        // A watchpoint on data a library defines (the program's copy of it: R_X86_64_COPY), hit
        // by the library's write and then by the program's, as natively.
        Path copy = FixtureCatalog.copyRelocPie();
        // (Software watchpoints: this kind of VM gives gdb no working debug registers.)
        String[] watch = {"-batch", "-ex", "set can-use-hw-watchpoints 0", "-ex", "break main", "-ex", "run", "-ex", "watch -l *(int *) &counter", "-ex", "continue",
            "-ex", "bt 1", "-ex", "continue", "-ex", "delete", "-ex", "continue", copy.toString()};
        Result natively = gdb(true, copy.getParent(), watch);
        Result jdryad = gdb(false, copy.getParent(), watch);
        for (Result r : List.of(natively, jdryad)) {
            String out = r.stdout();
            assertTrue(Pattern.compile("(?m)^Old value = 5\\nNew value = 15$").matcher(out).find(), r::describe);
            assertTrue(Pattern.compile("(?m)^#0\\s+0x[0-9a-f]+ in bump \\(\\) from \\S+/libdata.so$").matcher(out).find(),
                    r::describe);
            assertTrue(Pattern.compile("(?m)^Old value = 15\\nNew value = 16$").matcher(out).find(), r::describe);
        }
        assertEquals(programLines(natively).stream().filter(l -> l.startsWith("counter=")).toList(),
                programLines(jdryad).stream().filter(l -> l.startsWith("counter=")).toList(), jdryad::describe);

        // Why libinterpose2's call of who() went to libinterpose1: the passed-over definition, and why.
        Path interpose = FixtureCatalog.interposeProgram();
        Result why = gdb(false, interpose.getParent(), "-batch", "-ex", "break who_from_lib2", "-ex", "run", "-ex", "finish",
                "-ex", "jdryad why who --from libinterpose2.so", interpose.toString());
        String out = why.stdout();
        assertTrue(Pattern.compile("(?m)^#\\d+ lazy: \\S+/libinterpose2.so -> who \\(R_X86_64_JUMP_SLOT\\), from 0x[0-9a-f]+ "
                + "<who_from_lib2\\+\\d+>$").matcher(out).find(), why::describe);
        assertTrue(Pattern.compile("(?m)^  \\d\\.\\s+\\S+/libinterpose1.so\\s+winner: who at 0x[0-9a-f]+ <who>$").matcher(out).find(),
                why::describe);
        assertTrue(Pattern.compile("(?m)^  -\\s+\\S+/libinterpose2.so\\s+passed over: interposed: \\S+/libinterpose1.so comes first "
                + "in the scope$").matcher(out).find(), why::describe);
    }
}
