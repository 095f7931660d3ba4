package org.jdryad.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The warm server keeps `run` parsers for the next command lines (Main.WarmParser): a parser
 * used once must parse the next line as a new one would, nothing of the first line left.
 */
class WarmParserTest {

    @Test
    void aReusedParserKeepsNothingOfTheLineBefore() {
        Main.WarmParser p = Main.WarmParser.create();
        p.line().parseArgs("run", "--bind-now", "--audit=a.so", "--audit", "b.so", "--library-path=/x", "--stats",
                "--debug=libs", "--history", "h.json", "/bin/prog", "-l", "--bind-now");
        RunCommand r = p.command();
        assertTrue(r.bindNow);
        assertEquals(List.of("a.so", "b.so"), r.audit);
        assertEquals("/bin/prog", r.program);
        assertEquals(List.of("-l", "--bind-now"), r.args, "everything after PROG is the program's");
        List<String> firstAudit = r.audit;

        p.line().parseArgs("run", "/bin/other");
        assertFalse(r.bindNow);
        assertFalse(r.stats);
        assertTrue(r.audit.isEmpty(), "no audit module of the line before: " + r.audit);
        assertEquals(List.of("a.so", "b.so"), firstAudit, "the first line's list is not reused for the second");
        assertNull(r.libraryPath);
        assertNull(r.debug);
        assertNull(r.history);
        assertEquals("/bin/other", r.program);
        assertTrue(r.args.isEmpty());

        p.line().parseArgs("run");
        assertNull(r.program);
    }
}
