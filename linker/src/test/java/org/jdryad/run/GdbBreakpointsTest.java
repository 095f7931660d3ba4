package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * gdb-scripts' breakpoints on the agent's hooks ({@code jdryad break-bind}, {@code jdryad
 * break-load}), the pretty printers of the hooks' structs, and the completion of the {@code
 * jdryad} commands' arguments, in {@code jdryad gdb -batch -ex CMD... --args PROG ARG...} sessions
 * on fixtures.
 */
@Tag("gdb")
@Tag("run")
class GdbBreakpointsTest {

    private static Result gdb(List<String> options, Map<String, String> extraEnv, Path prog, List<String> args,
                              String... commands) {
        Result r = GdbBatch.batch(options, extraEnv, prog, args, List.of(commands));
        assertFalse((r.stdout() + r.stderr()).contains("Traceback"), () -> "a Python traceback\n" + r.describe());
        return r;
    }

    private static Result gdb(String... commands) {
        return gdb(List.of(), Map.of(), FixtureCatalog.gdbProgram(), List.of(), commands);
    }

    private static void expect(Result r, String regex, String what) {
        assertTrue(Pattern.compile(regex, Pattern.MULTILINE).matcher(r.stdout() + r.stderr()).find(),
                () -> what + "\n" + r.describe());
    }

    private static int count(Result r, String regex) {
        Matcher m = Pattern.compile(regex, Pattern.MULTILINE).matcher(r.stdout() + r.stderr());
        int n = 0;
        while (m.find()) {
            n++;
        }
        return n;
    }

    private static final String LAZY_LIB_ADD = "^jdryad break-bind: lazy lib_add: gdb-main -> libgdbadd.so at "
            + "0x[0-9a-f]+ <lib_add>, from 0x[0-9a-f]+ <main\\+\\d+> \\(answered by ";

    /** The frame break-bind selects is main's, at the call; bt goes from the hook through the trampoline to main. */
    private static void expectStoppedInMainAtTheCall(Result r) {
        expect(r, "^#\\d+\\s+0x[0-9a-f]+ in main \\(\\) at .*gdb_main.c:4\\n4\\s+int r = lib_add\\(2, 3\\);",
                "break-bind did not select main's frame at the call of lib_add");
        expect(r, "^#0\\s+jdryad_dl_bind \\(b=.*\\n(#\\d+ .*\\n)*#\\d+ .* in jdryad_lazy_resolve .*\\n"
                + "#\\d+\\s+0x[0-9a-f]+ in main \\(\\) at .*gdb_main.c:4$", "bt does not lead from the hook to main");
    }

    @Test
    void breakBindStopsAtTheFastPathsBindingOfTheChosenSymbolOnly() {
        // At main, Java has all the time it needs to prepare lib_add's answer: the agent answers the
        // first call itself. printf's binding comes later and must not stop.
        Result r = gdb("break main", "run", "shell sleep 2", "jdryad break-bind lib_add", "continue", "bt",
                "print $jdryad_binding", "frame 0", "print *b", "print/r b->source", "continue");
        expect(r, "^Breakpoint 2 stops when lib_add is bound \\(lazily or by dlsym\\)$", "break-bind says nothing");
        expect(r, LAZY_LIB_ADD + "the agent's prepared table\\)$", "no line for the fast path's binding of lib_add");
        expectStoppedInMainAtTheCall(r);
        expect(r, "^\\$1 = lazy lib_add: gdb-main -> libgdbadd.so at 0x[0-9a-f]+ <lib_add>, from 0x[0-9a-f]+ "
                + "<main\\+\\d+> = \\{referrer = \\S+/gdb-main, definer = \\S+/libgdbadd.so, target = 0x[0-9a-f]+ "
                + "<lib_add>, slot = 0x[0-9a-f]+ <lib_add@got\\[plt\\]>, object = \\d+, index = \\d+, "
                + "source = the agent's prepared table, pid = \\d+, tid = \\d+\\}$",
                "$jdryad_binding does not pretty-print the binding");
        expect(r, "^\\$2 = lazy lib_add: ", "print *b in the hook does not pretty-print the binding");
        expect(r, "^\\$3 = 1$", "the binding was not answered from the prepared table");
        assertEquals(1, count(r, "^jdryad break-bind: "), () -> "break-bind stopped for another symbol\n" + r.describe());
        expect(r, "^lib_add\\(2, 3\\) = 5$", "the program did not carry on after the stop");
        expect(r, "^\\[Inferior 1 \\(process \\d+\\) exited normally\\]$", "the program did not run to its end");
    }

    @Test
    void breakBindStopsAtTheSlowPathsBindingToo() {
        // --debug=symbols: no prepared answers, every first call asks Java.
        Result r = gdb(List.of("--debug=symbols"), Map.of(), FixtureCatalog.gdbProgram(), List.of(),
                "jdryad break-bind lib_*", "run", "bt", "frame 0", "print/r b->source", "print b->symbol", "continue");
        expect(r, LAZY_LIB_ADD + "jdryad, asked at the call\\)$", "no line for the slow path's binding of lib_add");
        expectStoppedInMainAtTheCall(r);
        expect(r, "^\\$1 = 2$", "the binding was not answered by Java at the call");
        expect(r, "^\\$2 = 0x[0-9a-f]+ \"lib_add\"$", "the slow path's binding does not name its symbol");
        assertEquals(1, count(r, "^jdryad break-bind: "), () -> "the glob lib_* matched another symbol\n" + r.describe());
    }

    @Test
    void breakBindStopsAtADlsymWithTheProgramsCallerInTheBacktrace() {
        Path prog = FixtureCatalog.gdbDlopenProgram();
        Result r = gdb(List.of(), Map.of(), prog, List.of(FixtureCatalog.libgdbadd().toString()),
                "jdryad break-bind lib_add", "run", "bt", "info frame", "continue");
        expect(r, "^jdryad break-bind: dlsym lib_add: gdb-dlopen -> libgdbadd.so at 0x[0-9a-f]+ <lib_add>, "
                + "from 0x[0-9a-f]+ <main\\+\\d+> \\(answered by jdryad, asked at the call\\)$",
                "no line for dlsym's binding of lib_add");
        expect(r, "^#\\d+\\s+0x[0-9a-f]+ in main \\(argc=2, .*\\) at .*gdb_dlopen.c:13\\n13\\s+int \\(\\*add\\)",
                "break-bind did not select main's frame at the dlsym call");
        expect(r, "^#0\\s+jdryad_dl_bind .*\\n(#\\d+ .*\\n)*#\\d+\\s+0x[0-9a-f]+ in main \\(argc=2, .*\\) at .*gdb_dlopen.c:13$",
                "bt does not show main as dlsym's caller");
        assertEquals(1, count(r, "^jdryad break-bind: "), () -> "break-bind stopped more than once\n" + r.describe());
        expect(r, "^lib_add\\(2, 3\\) = 5$", "the program did not carry on after the stop");
    }

    @Test
    void breakLoadStopsAtTheDlopenOfTheNamedLibraryOnly() {
        Path prog = FixtureCatalog.gdbDlopenProgram();
        Path plugin = FixtureCatalog.plugin();
        Result r = gdb(List.of(), Map.of(), prog, List.of(FixtureCatalog.libgdbadd().toString(), plugin.toString()),
                "jdryad break-load libplugin", "jdryad break-load libnothing*", "run", "bt", "info sharedlibrary",
                "print i", "print $jdryad_event", "continue");
        expect(r, "^jdryad break-load: " + Pattern.quote(plugin.toString()) + " added \\(activity #\\d+: consistent, "
                + "dlopen\\(\"" + Pattern.quote(plugin.toString()) + "\", RTLD_NOW\\) from 0x[0-9a-f]+ <main\\+\\d+>\\)$",
                "no line for the plugin's dlopen");
        expect(r, "^#\\d+\\s+0x[0-9a-f]+ in main \\(argc=3, .*\\) at .*gdb_dlopen.c:9\\n9\\s+void \\*h = dlopen",
                "break-load did not select main's frame at the dlopen call");
        expect(r, "^\\$1 = 2$", "the selected frame is not main's in the second round of its loop");
        expect(r, "^0x[0-9a-f]+\\s+0x[0-9a-f]+\\s+Yes.*" + Pattern.quote(plugin.toString()) + "\\s*$",
                "at the stop gdb does not list the plugin with its symbols yet");
        expect(r, "^\\$2 = activity #\\d+: consistent, dlopen\\(\"\\S+\", RTLD_NOW\\) from 0x[0-9a-f]+ <main\\+\\d+> = "
                + "\\{pid = \\d+, tid = \\d+, lmid = 0, objects\\[0\\] = " + Pattern.quote(plugin.toString()) + "\\}$",
                "$jdryad_event does not pretty-print the event");
        assertEquals(1, count(r, "^jdryad break-load: "), () -> "break-load stopped for another object\n" + r.describe());
        expect(r, "^\\[Inferior 1 \\(process \\d+\\) exited normally\\]$", "the program did not run to its end");
    }

    @Test
    void printEventInTheActivityHookIsPretty() {
        Path prog = FixtureCatalog.dlopenProgram();
        Result r = gdb(List.of(), Map.of(), prog, List.of(prog.resolveSibling("libplugin.so").toString()),
                "break jdryad_dl_activity if event->cause == 2", "run", "print *event", "print/r *event");
        expect(r, "^\\$1 = activity #\\d+: add, dlopen\\(\"\\S+/libplugin.so\", RTLD_NOW\\) from 0x[0-9a-f]+ "
                + "<main\\+\\d+> = \\{pid = \\d+, tid = \\d+, lmid = 0, objects\\[0\\] = \\S+/libplugin.so\\}$",
                "print *event is not pretty");
        expect(r, "^\\$2 = \\{version = 2, state = 1, cause = 2, flags = 2, ", "print/r *event is not raw");
    }

    @Test
    void theCommandsCompleteSymbolAndObjectNames() {
        String[] completions = {"complete jdryad bindings lib_", "complete jdryad bindings --object libgd",
            "complete jdryad why lib_add --from " + FixtureCatalog.gdbProgram().getParent() + "/gdb-m",
            "complete jdryad bindings --la", "complete jdryad break-bind lib_a", "complete jdryad break-load libgdb"};
        List<String> cmds = new ArrayList<>(List.of("break lib_add", "run"));
        cmds.addAll(List.of(completions));
        Result r = gdb(cmds.toArray(String[]::new));
        expect(r, "^jdryad bindings lib_add$", "SYMBOL does not complete from the server's bindings");
        expect(r, "^jdryad bindings --object libgdbadd.so$", "--object does not complete to a file name");
        expect(r, "^jdryad why lib_add --from " + Pattern.quote(FixtureCatalog.gdbProgram().toString()) + "$",
                "--from does not complete to a path");
        expect(r, "^jdryad bindings --last$", "options do not complete");
        expect(r, "^jdryad break-bind lib_add$", "break-bind does not complete from gdb's symbols");
        expect(r, "^jdryad break-load libgdbadd.so$", "break-load does not complete object names");

        // Without the server: the same commands complete from gdb's own symbols and objfiles, quietly.
        Result off = gdb(List.of(), Map.of("JDRYAD_QUERY", "off"), FixtureCatalog.gdbProgram(), List.of(),
                cmds.toArray(String[]::new));
        expect(off, "^jdryad bindings lib_add$", "SYMBOL does not complete from gdb's symbols without the server");
        expect(off, "^jdryad bindings --object libgdbadd.so$", "--object does not complete from gdb's objfiles");
        assertFalse((off.stdout() + off.stderr()).contains("cannot be reached"), off::describe);
    }

    @Test
    void badArgumentsGetOneLine() {
        Result r = gdb("jdryad break-bind", "jdryad break-bind a b", "jdryad break-load", "jdryad break-load --x",
                "info breakpoints");
        assertEquals(2, count(r, "^usage: jdryad break-bind SYMBOL$"), r::describe);
        assertEquals(2, count(r, "^usage: jdryad break-load NAME$"), r::describe);
        expect(r, "^No breakpoints or watchpoints\\.$", "a bad command left a breakpoint behind");
    }
}
