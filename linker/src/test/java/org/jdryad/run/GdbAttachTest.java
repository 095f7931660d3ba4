package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code jdryad run --wait-for-debugger}: the process waits, idle, with everything loaded and
 * announced and no initialiser run; the {@code gdb -p PID -x .../jdryad.py} it prints attaches,
 * breakpoints set at the prompt hit, the {@code jdryad} commands are answered, and the program's
 * output and status are its own. Ctrl-C and SIGTERM end the wait and leave nothing behind.
 */
@Tag("gdb")
@Tag("run")
class GdbAttachTest {

    static void expect(Result r, String regex, String what) {
        assertTrue(Pattern.compile(regex, Pattern.MULTILINE).matcher(r.stdout() + r.stderr()).find(),
                () -> what + "\n" + r.describe());
    }

    @Test
    void gdbAttachesBreaksInALibraryAndTheProgramRunsOn() {
        WaitingRun.assumeGdb();
        Path prog = FixtureCatalog.gdbProgram();
        try (WaitingRun w = WaitingRun.start(List.of(), prog)) {
            assertTrue(Files.isRegularFile(w.scripts), w.attachCommand);
            WaitingRun.sleep(300);
            assertEquals("", w.stdout(), "the program ran before a debugger came");
            assertTrue(w.jvm.isAlive(), w::describe);
            Result r = w.gdb(List.of(), "break lib_add", "continue", "bt", "jdryad linkmap", "continue");
            expect(r, "^Breakpoint 1, lib_add \\(a=2, b=3\\) at \\S*gdbadd\\.c:\\d+", "the breakpoint in the library did not hit");
            expect(r, "^#1\\s+0x[0-9a-f]+ in main \\(\\) at \\S*gdb_main\\.c:\\d+$", "no backtrace into main");
            // The KIND column is the server's (r_debug alone does not know it).
            expect(r, "^0x[0-9a-f]+\\s+0x[0-9a-f]+-0x[0-9a-f]+\\s+jdryad lazy\\s+executable\\s.*\\s"
                    + Pattern.quote(prog.toString()) + "$", "`jdryad linkmap` was not answered by the server");
            expect(r, "^0x[0-9a-f]+\\s+0x[0-9a-f]+-0x[0-9a-f]+\\s+jdryad lazy\\s+runpath\\s.*\\s\\S+/libgdbadd\\.so$",
                    "`jdryad linkmap` does not list the library");
            expect(r, "^\\[Inferior 1 \\(process " + w.pid + "\\) exited normally\\]$", "the program did not run to its end");
            String all = r.stdout() + r.stderr();
            assertFalse(all.contains("Traceback") || all.contains("cannot be reached"), r::describe);
            assertEquals(0, w.waitFor(Duration.ofSeconds(30)), w::describe);
            assertEquals("lib_add(2, 3) = 5\n", w.stdout(), w::describe);
        }
    }

    @Test
    void itWaitsBeforeTheInitialisersSoConstructorsCanBeDebugged() {
        WaitingRun.assumeGdb();
        Path prog = FixtureCatalog.ctorProgram();
        Result nativeRun = Jdryad.runNative(prog, List.of(), Map.of(), prog.getParent());
        assertEquals(3, nativeRun.status(), nativeRun::describe);
        try (WaitingRun w = WaitingRun.start(List.of(), prog)) {
            WaitingRun.sleep(300);
            assertEquals("", w.stdout(), "a constructor ran before a debugger came");
            Result r = w.gdb(List.of(), "break dep_ctor_101", "break main", "continue", "bt", "continue", "continue");
            expect(r, "^Breakpoint 1, (0x[0-9a-f]+ in )?dep_ctor_101 \\(\\)", "the first constructor's breakpoint did not hit");
            expect(r, "^Breakpoint 2, (0x[0-9a-f]+ in )?main \\(\\)", "break main did not hit");
            expect(r, "^\\[Inferior 1 \\(process " + w.pid + "\\) exited with code 03\\]$", "the program did not run to its end");
            assertEquals(3, w.waitFor(Duration.ofSeconds(30)), w::describe);
            assertEquals(nativeRun.stdout(), w.stdout(), w::describe);
        }
    }

    @Test
    void theWaitIsIdleAndSigtermEndsItLeavingNothingBehind() throws IOException {
        try (WaitingRun w = WaitingRun.start(List.of(), FixtureCatalog.gdbProgram())) {
            long before = WaitingRun.cpuTicks(w.pid);
            WaitingRun.sleep(1500);
            long used = WaitingRun.cpuTicks(w.pid) - before;
            assertTrue(used <= 5, "the waiting agent used " + used + " clock ticks in 1.5 s: it spins");
            assertTrue(Files.readString(Path.of("/proc/" + w.pid + "/status")).contains("State:\tS (sleeping)"),
                    "the waiting agent is not asleep (stopped? the shell would report a stopped job)");
            Set<Path> leftovers = leftovers(w);
            new ProcessBuilder("kill", "-TERM", Long.toString(w.jvm.pid())).inheritIO().start();
            assertEquals(128 + 15, w.waitFor(Duration.ofSeconds(30)), w::describe);
            assertNothingLeft(w, leftovers);
        }
    }

    @Test
    void ctrlCEndsTheWaitLeavingNothingBehind() throws IOException {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/setsid")), "no setsid");
        // setsid: jdryad leads a process group of its own, as a shell's foreground job; Ctrl-C is SIGINT to the group.
        try (WaitingRun w = WaitingRun.start(List.of("/usr/bin/setsid"), FixtureCatalog.gdbProgram())) {
            Set<Path> leftovers = leftovers(w);
            new ProcessBuilder("kill", "-INT", "--", "-" + w.jvm.pid()).inheritIO().start();
            assertEquals(128 + 2, w.waitFor(Duration.ofSeconds(30)), w::describe);
            assertNothingLeft(w, leftovers);
            assertFalse(w.stderr().contains("Exception") || w.stderr().contains("agent"), w::describe);
        }
    }

    /** What the waiting run made that must go when it ends: its sockets, their directories, the lazy log. */
    private static Set<Path> leftovers(WaitingRun w) {
        Set<Path> paths = new java.util.TreeSet<>();
        for (Path s : WaitingRun.boundSockets(w.jvm.pid())) {
            paths.add(s);
            paths.add(s.getParent());
        }
        paths.addAll(WaitingRun.mappedFiles(w.pid, "jdryad-lazy-"));
        assertTrue(paths.stream().anyMatch(p -> p.toString().endsWith("query.sock")),
                () -> "the query server's socket was not found among " + paths + w.describe());
        return paths;
    }

    private static void assertNothingLeft(WaitingRun w, Set<Path> leftovers) {
        for (int i = 0; i < 100 && ProcessHandle.of(w.pid).map(ProcessHandle::isAlive).orElse(false); i++) {
            WaitingRun.sleep(50);
        }
        assertFalse(ProcessHandle.of(w.pid).map(ProcessHandle::isAlive).orElse(false), "the agent outlived jdryad");
        for (Path p : leftovers) {
            assertFalse(Files.exists(p), () -> p + " was left behind" + w.describe());
        }
        assertFalse(w.stderr().contains("Exception"), w::describe);
    }
}
