package org.jdryad.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * `jdryad run`'s command line is declared through picocli's programmatic model (RunCommand: why).
 * Its help, its synopsis and its error words are those the annotated command had.
 */
class RunCommandLineTest {

    /** The status and what went to stdout and stderr of `jdryad ARGS`, in this JVM. */
    private record Outcome(int status, String out, String err) {
    }

    private static Outcome jdryad(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int status = Main.execute(args);
            return new Outcome(status, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void helpShowsTheSynopsisAndEveryOption() {
        Outcome help = jdryad("run", "--help");
        assertEquals(0, help.status());
        assertTrue(help.out().startsWith("""
                Usage: jdryad run [-hV] [--bind-now] [--follow] [--gdb] [--gdb-batch] [--stats]
                                  [--wait-for-debugger] [--debug=CATEGORIES]
                                  [--debug-output=FILE] [--history=FILE] [--library-path=P]
                                  [--preload=L] [--audit=LIB]... [--gdb-ex=CMD]... [PROG]
                                  [ARG...]
                Load PROG and every shared object it needs with jdryad, relocate and bind them,
                """), help.out());
        List<String> listed = help.out().lines().filter(l -> l.matches("( {2}-[hV], | {6})(--|\\[)\\S.*"))
                .map(l -> l.replaceFirst("^ {2}-[hV], ", "").trim().split("\\s+")[0]).toList();
        assertEquals(List.of("[PROG]", "[ARG...]", "--audit=LIB", "--bind-now", "--debug=CATEGORIES",
                "--debug-output=FILE", "--follow", "--gdb", "--gdb-batch", "--gdb-ex=CMD", "--help", "--history=FILE",
                "--library-path=P", "--preload=L", "--stats", "--version", "--wait-for-debugger"), listed);
        assertTrue(help.out().contains("  -h, --help                Show this help message and exit.\n"), help.out());
        assertEquals(help, jdryad("run", "-h"));
        assertEquals(help, jdryad("help", "run"), "Main's help command shows the same");
    }

    @Test
    void theTopLevelHelpListsRunFirst() {
        Outcome help = jdryad("--help");
        assertEquals(0, help.status());
        List<String> commands = help.out().lines().dropWhile(l -> !l.equals("Commands:")).skip(1)
                .filter(l -> l.matches(" {2}\\S.*")).map(l -> l.trim().split("\\s+")[0]).toList();
        assertEquals(List.of("run", "gdb", "ldd", "show", "server", "help"), commands);
    }

    @Test
    void errorsInPicocliWords() {
        Outcome missing = jdryad("run", "--audit");
        assertEquals(2, missing.status());
        assertTrue(missing.err().startsWith("Missing required parameter for option '--audit' (LIB)\nUsage: jdryad run"),
                missing.err());
        Outcome unknown = jdryad("run", "--bogus");
        assertEquals(2, unknown.status());
        assertTrue(unknown.err().startsWith("Unknown option: '--bogus'\nUsage: jdryad run"), unknown.err());
        Outcome valued = jdryad("run", "--bind-now=x", "/bin/true");
        assertEquals(2, valued.status());
        assertTrue(valued.err().startsWith("Invalid value for option '--bind-now': 'x' is not a boolean\n"),
                valued.err());
        Outcome noProgram = jdryad("run");
        assertEquals(new Outcome(2, "", "jdryad: missing PROG (jdryad help run)\n"), noProgram);
    }
}
