package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Arguments and environment values that are not UTF-8 (a Latin-1 file name, a byte 0xff, an
 * encoded surrogate) reach the program byte for byte, as under the system loader: in a run, and
 * in a program a followed process execs (the agent hands its execve's vectors to Java and gets
 * them back). Before, each such byte arrived as U+FFFD (ef bf bd). The bytes are made by
 * bash (printf): Java cannot put them on a command line.
 */
@Tag("run")
class RawBytesRunTest {
    /** What the program prints for the shell's bytes: x\xffy, caf\xe9, \xed\xa0\x80 (a surrogate, not UTF-8), é. */
    private static final String EXPECTED = "arg:78ff79\narg:636166e9\narg:eda080\narg:c3a9\nenv:616263fffe\n";

    private static String script(String runner) {
        return "RAW_BYTES=$(printf 'abc\\377\\376') exec " + runner
                + " \"$(printf 'x\\377y')\" \"$(printf 'caf\\351')\" \"$(printf '\\355\\240\\200')\" \"$(printf '\\303\\251')\"";
    }

    @Test
    void bytesReachTheProgramUnchanged() {
        Jdryad.ensureBuilt();
        Path prog = FixtureCatalog.bytesProgram();
        Path dir = prog.getParent();
        Result natively = DescriptorsRunTest.bash(script(prog.toString()), dir);
        assertEquals(EXPECTED, natively.stdout(), natively::describe);
        Result run = DescriptorsRunTest.bash(script(Jdryad.launcher() + " run " + prog), dir);
        assertEquals(EXPECTED, run.stdout(), run::describe);
        assertEquals(0, run.status(), run::describe);
        Result followed = DescriptorsRunTest.bash(script(Jdryad.launcher() + " run --follow /bin/sh -c 'exec \"$0\" \"$@\"' " + prog), dir);
        assertEquals(EXPECTED, followed.stdout(), followed::describe);
        assertEquals(0, followed.status(), followed::describe);
    }
}
