package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.ProcessRunner;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The {@code jdryad} gdb commands where the Java side cannot be reached: a core file of a jdryad
 * process (made by gdb's gcore, and dumped by a crash), a Java side killed while gdb holds the
 * program at a breakpoint, and a gdb of another user (the query server's peer check). Each
 * command says why in one line and shows what memory tells: no Traceback, no hang.
 */
@Tag("gdb")
@Tag("run")
class GdbPostMortemTest {
    private static final String CORE_LINE =
            "^jdryad: the query server cannot be reached \\(a core file: jdryad's Java side is not in it\\)";

    private static void expect(Result r, String regex, String what) {
        GdbAttachTest.expect(r, regex, what);
    }

    private static void noTraceback(Result r) {
        assertFalse((r.stdout() + r.stderr()).contains("Traceback"), r::describe);
    }

    private static Map<String, String> env(Path dir) {
        Map<String, String> env = new HashMap<>(ProcessRunner.environment(dir, Map.of()));
        env.put("JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString());
        return env;
    }

    private static Path scripts() {
        return Fixtures.root().resolve("gdb-scripts").resolve("jdryad.py");
    }

    /** gdb -batch -nx ARGS... -x jdryad.py -ex COMMAND... */
    private static Result gdb(Path dir, List<String> args, String... commands) {
        List<String> cmd = new ArrayList<>(List.of("gdb", "-batch", "-nx"));
        cmd.addAll(args);
        cmd.addAll(List.of("-x", scripts().toString()));
        for (String c : commands) {
            cmd.add("-ex");
            cmd.add(c);
        }
        Result r = ProcessRunner.run(cmd, env(dir), dir, Duration.ofSeconds(120));
        assertFalse(r.timedOut(), () -> "gdb did not finish\n" + r.describe());
        return r;
    }

    /** What every post-mortem view of the gdb fixture stopped in lib_add shows. */
    private static void expectTheFixturesRecord(Result r, String why) {
        expect(r, "^#0\\s+lib_add \\(a=2, b=3\\) at \\S*gdbadd\\.c:\\d+", "no backtrace in lib_add");
        expect(r, "^#1\\s+0x[0-9a-f]+ in main \\(\\) at \\S*gdb_main\\.c:\\d+$", "no backtrace into main");
        expect(r, why + "; from the inferior's memory:$", "`jdryad linkmap` does not say in one line why");
        expect(r, "^from r_debug:$", "the link map does not come from r_debug");
        expect(r, "^0x[0-9a-f]+\\s+" + Pattern.quote(FixtureCatalog.gdbProgram().toString()) + "$",
                "r_debug's list lacks the program");
        expect(r, "^0x[0-9a-f]+\\s+\\S+/libgdbadd\\.so$", "r_debug's list lacks libgdbadd.so");
        expect(r, "^from jdryad_activity_ring \\(2 of 2 events\\):$", "the events do not come from the ring");
        expect(r, "^#1\\s+add\\s+startup\\s+gdb-main libgdbadd.so$", "the ring's start-up add is missing");
        expect(r, why + "$", "`jdryad bindings` does not say in one line why");
        noTraceback(r);
    }

    @Test
    void aCoreMadeByGcoreShowsTheLinkMapAndTheEventRing() throws IOException {
        WaitingRun.assumeGdb();
        Jdryad.ensureBuilt();
        Path prog = FixtureCatalog.gdbProgram();
        Path dir = Fixtures.scratchDir("gdb-core");
        Path core = dir.resolve("jdryad.core");
        Result session = ProcessRunner.run(List.of(Jdryad.launcher().toString(), "gdb", "-batch", "-ex", "break lib_add",
                "-ex", "run", "-ex", "info proc exe", "-ex", "gcore " + core, prog.toString()), env(dir), dir,
                Duration.ofSeconds(180));
        assertTrue(Files.isRegularFile(core), () -> "gcore made no core\n" + session.describe());
        Matcher exe = Pattern.compile("^exe = '(.+)'$", Pattern.MULTILINE).matcher(session.stdout());
        assertTrue(exe.find(), session::describe);
        Path agent = Path.of(exe.group(1));
        assertTrue(agent.getFileName().toString().startsWith("jdryad-agent"), session::describe);

        // The documented way: gdb AGENT CORE -x gdb-scripts/jdryad.py
        Result r = gdb(dir, List.of(agent.toString(), core.toString()), "bt", "jdryad linkmap", "jdryad events",
                "jdryad bindings");
        expectTheFixturesRecord(r, CORE_LINE);
        // gdb -c CORE -x gdb-scripts/jdryad.py: the scripts load the agent the core names.
        Result c = gdb(dir, List.of("-c", core.toString()), "bt", "jdryad linkmap", "jdryad events", "jdryad bindings");
        expect(c, "^jdryad: a jdryad process's core file: loaded its agent " + Pattern.quote(agent.toString()) + "$",
                "the scripts did not load the agent for the core");
        expectTheFixturesRecord(c, CORE_LINE);
    }

    @Test
    void aProgramThatCrashesLeavesACoreTheCommandsRead() throws IOException {
        WaitingRun.assumeGdb();
        String pattern = Files.readString(Path.of("/proc/sys/kernel/core_pattern")).trim();
        assumeTrue(!pattern.startsWith("|") && !pattern.contains("/"),
                "cores go to " + pattern + ", not to the working directory (the gcore test covers core files)");
        Jdryad.ensureBuilt();
        Path prog = FixtureCatalog.exitProgram();
        Path dir = Fixtures.scratchDir("crash-core");
        Result run = ProcessRunner.run(List.of("bash", "-c", "ulimit -c unlimited || exit 99; exec \"$0\" run \"$1\" null",
                Jdryad.launcher().toString(), prog.toString()), env(dir), dir, Duration.ofSeconds(120));
        assumeTrue(run.status() != 99, "ulimit -c unlimited is not allowed here");
        assertEquals(128 + 11, run.status(), run::describe);
        Path core;
        try (var files = Files.list(dir)) {
            core = files.filter(f -> f.getFileName().toString().startsWith("core")).findFirst().orElse(null);
        }
        assumeTrue(core != null, "no core file was dumped (core_pattern " + pattern + ")");
        Result r = gdb(dir, List.of("-c", core.toString()), "bt", "jdryad linkmap", "jdryad events", "jdryad stats");
        expect(r, "^Program terminated with signal SIGSEGV", "the core is not the crash's");
        expect(r, "^#0\\s+(0x[0-9a-f]+ in )?main \\(\\)", "no backtrace in the program's main");
        expect(r, CORE_LINE + "; from the inferior's memory:$", "`jdryad linkmap` does not say in one line why");
        expect(r, "^0x[0-9a-f]+\\s+" + Pattern.quote(prog.toString()) + "$", "r_debug's list lacks the program");
        expect(r, "^#1\\s+add\\s+startup\\s+exit$", "the ring's start-up add is missing");
        expect(r, CORE_LINE + "$", "`jdryad stats` does not say in one line why");
        noTraceback(r);
    }

    @Test
    void aDeadJavaSideIsToldInOneLineAndMemoryShown() {
        WaitingRun.assumeGdb();
        try (WaitingRun w = WaitingRun.start(List.of(), FixtureCatalog.gdbProgram())) {
            long t0 = System.nanoTime();
            // First a Java side that is stopped (it accepts, never answers): the client gives up in time.
            Result r = w.gdb(List.of(), "break lib_add", "continue", "bt",
                    "python import os; os.kill(int(gdb.parse_and_eval('jdryad_query_info.pid')), 19)",
                    "jdryad stats",
                    "python import os; os.kill(int(gdb.parse_and_eval('jdryad_query_info.pid')), 9)",
                    "shell sleep 0.5", "jdryad linkmap", "jdryad events", "jdryad bindings", "jdryad why lib_add",
                    "jdryad stats", "kill");
            String why = "^jdryad: the query server cannot be reached \\(jdryad's Java side \\(pid " + w.jvm.pid()
                    + "\\) has died\\)";
            expectTheFixturesRecord(r, why);
            long lines = (r.stdout() + r.stderr()).lines().filter(l -> l.matches(why.substring(1) + ".*")).count();
            assertEquals(5, lines, () -> "not one line per command\n" + r.describe());
            expect(r, "^jdryad: the query server cannot be reached \\(\\S+/query\\.sock: no answer within 5 s\\)$",
                    "a stopped Java side is not given up on in one line");
            assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(60).toNanos(), "the commands were slow to give up");
        }
    }

    @Test
    void anotherUsersGdbIsRefusedByThePeerCheckInOneLine() {
        WaitingRun.assumeGdb();
        assumeTrue("root".equals(System.getProperty("user.name")) && Files.isExecutable(Path.of("/usr/bin/setpriv")),
                "needs root and setpriv to run gdb as another user");
        try (WaitingRun w = WaitingRun.start(List.of(), FixtureCatalog.gdbProgram())) {
            // gdb as nobody, allowed to trace root's process and to pass the query directory's 0700
            // (CAP_DAC_OVERRIDE): what is left to keep it out is the server's SO_PEERCRED check.
            List<String> nobody = List.of("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                    "--inh-caps=+sys_ptrace,+dac_override", "--ambient-caps=+sys_ptrace,+dac_override");
            Result r = w.gdb(nobody, "python import os; print('gdb uid', os.getuid())", "jdryad linkmap", "jdryad stats",
                    "continue");
            expect(r, "^gdb uid 65534$", "gdb did not run as nobody");
            String why = "^jdryad: the query server cannot be reached \\(\\S+/query\\.sock: refused: not jdryad's user\\)";
            expect(r, why + "; from the inferior's memory:$", "`jdryad linkmap` does not say the server refused");
            expect(r, "^0x[0-9a-f]+\\s+\\S+/libgdbadd\\.so$", "r_debug's list lacks libgdbadd.so");
            expect(r, why + "$", "`jdryad stats` does not say the server refused");
            noTraceback(r);
            assertEquals(0, w.waitFor(Duration.ofSeconds(30)), w::describe);
            assertEquals("lib_add(2, 3) = 5\n", w.stdout(), w::describe);
        }
    }
}
