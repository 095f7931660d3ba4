package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The {@code jdryad} gdb commands (gdb-scripts/) that {@code jdryad gdb} loads, stopped at
 * lib_add in the gdb fixture: answered by the query server while the program is stopped, and,
 * with the server off, one line saying so and what the inferior's memory shows.
 */
@Tag("gdb")
@Tag("run")
class GdbCommandsTest {

    private static Result gdb(Map<String, String> extraEnv, String... commands) {
        List<String> all = new ArrayList<>(List.of("break lib_add", "run"));
        all.addAll(List.of(commands));
        return GdbBatch.batch(List.of(), extraEnv, FixtureCatalog.gdbProgram(), List.of(), all);
    }

    private static void expect(Result r, String regex, String what) {
        assertTrue(Pattern.compile(regex, Pattern.MULTILINE).matcher(r.stdout() + r.stderr()).find(),
                () -> what + "\n" + r.describe());
    }

    @Test
    void theCommandsAskTheServerWhileTheProgramIsStopped() {
        Result r = gdb(Map.of(), "jdryad bindings lib_add", "jdryad linkmap", "jdryad events", "jdryad why lib_add",
                "jdryad stats", "jdryad bindings --last nope", "jdryad bindings --pending");
        String prog = Pattern.quote(FixtureCatalog.gdbProgram().toString());
        expect(r, "^Breakpoint 1, lib_add \\(a=2, b=3\\)", "the breakpoint did not hit");
        expect(r, "^#\\d+\\s+lazy\\s+gdb-main\\s+->\\s+lib_add\\s+->\\s+libgdbadd.so\\s+at 0x[0-9a-f]+ <lib_add>\\s+"
                + "from 0x[0-9a-f]+ <main\\+\\d+>$", "`jdryad bindings lib_add` does not show the lazy binding from main");
        expect(r, "^0x[0-9a-f]+\\s+0x[0-9a-f]+-0x[0-9a-f]+\\s+jdryad lazy\\s+executable\\s+-\\s+[0-9.]+ ms\\s+0\\s+-"
                + "\\s+debug\\s+" + prog + "$",
                "`jdryad linkmap` does not list the program");
        expect(r, "^0x[0-9a-f]+\\s+0x[0-9a-f]+-0x[0-9a-f]+\\s+jdryad lazy\\s+runpath\\s+needed by gdb-main\\s+[0-9.]+ ms"
                + "\\s+0\\s+-\\s+debug\\s+\\S+/libgdbadd.so$",
                "`jdryad linkmap` does not list libgdbadd.so");
        expect(r, "^#1\\s+add\\s+startup\\s+gdb-main libgdbadd.so$", "`jdryad events` does not show the start-up add");
        expect(r, "^#2\\s+consistent\\s+startup\\s+gdb-main libgdbadd.so$", "`jdryad events` does not show consistent");
        expect(r, "^#\\d+ lazy: " + prog + " -> lib_add \\(R_X86_64_JUMP_SLOT\\), from 0x[0-9a-f]+ <main\\+\\d+>$",
                "`jdryad why lib_add` has no heading");
        expect(r, "^\\s+2\\.\\s+\\S+/libgdbadd.so\\s+winner: lib_add at 0x[0-9a-f]+ <lib_add>$",
                "`jdryad why lib_add` does not name the winner");
        expect(r, "^  lazy\\s+1$", "`jdryad stats` does not count the lazy binding");
        expect(r, "^  R_X86_64_JUMP_SLOT\\s+2$", "`jdryad stats` does not count relocations by type");
        expect(r, "^lazy slots\\s+2 \\(bound since: 1\\)$", "`jdryad stats` does not count lazy slots");
        expect(r, "^time relocate\\s+[0-9.]+ ms$", "`jdryad stats` has no phase times");
        expect(r, "^--last needs a number, not nope$", "a bad argument is not one line");
        // printf's first call comes after the breakpoint: its slot still leads back into the PLT.
        expect(r, "^gdb-main\\s+0x[0-9a-f]+ <printf@got.plt>\\s+printf@GLIBC_2.2.5\\s+0x[0-9a-f]+ <printf@plt\\+6>$",
                "`jdryad bindings --pending` does not list printf's slot");
        expect(r, "^1 slots not bound yet$", "`jdryad bindings --pending` lists other slots");
        assertFalse((r.stdout() + r.stderr()).contains("Traceback"), r::describe);
        assertFalse((r.stdout() + r.stderr()).contains("cannot be reached"), r::describe);
    }

    @Test
    void withTheServerOffTheyShowTheInferiorsOwnRecord() {
        Result r = gdb(Map.of("JDRYAD_QUERY", "off"), "jdryad linkmap", "jdryad events", "jdryad bindings");
        expect(r, "^jdryad: the query server cannot be reached \\(.*\\); from the inferior's memory:$",
                "no one-line message for the unreachable server");
        expect(r, "^from r_debug:$", "the link map does not come from r_debug");
        expect(r, "^0x[0-9a-f]+\\s+\\S+/libgdbadd.so$", "r_debug's list lacks libgdbadd.so");
        expect(r, "^from jdryad_activity_ring \\(2 of 2 events\\):$", "the events do not come from the ring");
        expect(r, "^#1\\s+add\\s+startup\\s+gdb-main libgdbadd.so$", "the ring's start-up add is missing");
        expect(r, "^jdryad: the query server cannot be reached \\(.*\\)$", "bindings without a server: one line");
        assertFalse((r.stdout() + r.stderr()).contains("Traceback"), r::describe);
    }
}
