package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Test;

/**
 * glibc's libraries that need their user's symbols are jdryad objects (README, "Host objects"):
 * libthread_db.so.1, bound to the program's ps_* functions, answers td_ta_new and walks the
 * program's threads as natively, dlopened lazily and bound now.
 */
class HostRuleTest {
    @Test
    void libthreadDbBindsToTheProgramsProcServiceFunctions() {
        Path prog = FixtureCatalog.dlfcnThreadDbProgram();
        Path dir = prog.getParent();
        Result expected = Jdryad.runNative(prog, List.of(), Map.of(), dir);
        assertEquals(0, expected.status(), expected::describe);
        assertTrue(expected.stdout().contains("td_ta_new() = 0 (TD_OK)"), expected::describe);
        Result actual = Jdryad.runJdryad(List.of(), prog, List.of(), Map.of(), dir);
        Jdryad.assertSameRun("dlfcn-thread-db", expected, actual);
    }
}
