package org.jdryad.debug;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DebugLogTest {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final PrintStream stderr = new PrintStream(bytes, true, StandardCharsets.UTF_8);

    private String written() {
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void linesGetGlibcsPrefixOnceThePidIsKnownInOrder() {
        DebugLog log = new DebugLog(DebugOptions.parse("libs", null), stderr, Path.of("/"));
        log.print("\ncalling init: /x.so\n\n");
        AtomicBoolean asked = new AtomicBoolean();
        log.later(() -> {
            asked.set(true);
            return "late\n";
        });
        assertEquals("", written());
        log.start(12944);
        assertEquals("", written(), "held until released");
        log.release();
        assertTrue(asked.get());
        log.print("after\n");
        // _dl_debug_vdprintf: the pid right-aligned in ten columns, ':' and a tab, on every line.
        assertEquals("     12944:\t\n     12944:\tcalling init: /x.so\n     12944:\t\n     12944:\tlate\n     12944:\tafter\n",
                written());
    }

    @Test
    void linesHeldWhenTheProgramNeverStartedGoOutWithThisProcesssPid() {
        DebugLog log = new DebugLog(DebugOptions.parse("libs", null), stderr, Path.of("/"));
        log.print("find library=libx.so [0]; searching\n");
        log.close();
        assertEquals(DebugLog.prefix(ProcessHandle.current().pid()) + "find library=libx.so [0]; searching\n", written());
    }

    @Test
    void debugOutputIsFileDotPidAppended(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("out.77"), "before\n");
        DebugLog log = new DebugLog(DebugOptions.parse("files", "out"), stderr, dir);
        log.start(77);
        log.release();
        log.print("one\n");
        assertEquals(dir.resolve("out.77").toAbsolutePath(), log.outputFile());
        log.close();
        assertEquals("before\n        77:\tone\n", Files.readString(dir.resolve("out.77")));
        assertEquals("", written());
    }

    @Test
    void impcallsAreEveryCategoryButScopesStatisticsAndUnused() {
        for (String c : new String[] {"libs", "reloc", "files", "symbols", "bindings", "versions"}) {
            assertTrue(new DebugLog(DebugOptions.parse(c, null), stderr, Path.of("/")).impcalls(), c);
        }
        for (String c : new String[] {"scopes", "statistics", "unused", "activity"}) {
            assertFalse(new DebugLog(DebugOptions.parse(c, null), stderr, Path.of("/")).impcalls(), c);
        }
        assertNull(new DebugLog(DebugOptions.NONE, stderr, Path.of("/")).outputFile());
    }
}
