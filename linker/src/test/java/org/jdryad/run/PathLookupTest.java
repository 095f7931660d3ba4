package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code jdryad run NAME} finds a bare NAME on the program's PATH, as a shell, gdb and strace do,
 * and the program still sees argv[0] as typed (its messages name it so).
 */
@Tag("run")
class PathLookupTest {

    @Test
    void aBareNameIsFoundOnPathAndKeepsItsArgv0() {
        Path dir = Path.of("/");
        Result expected = Jdryad.runNative(Path.of("ls"), List.of("-d", "/", "/jdryad-no-such-dir"), Map.of(), dir);
        Result actual = Jdryad.runJdryad(List.of(), Path.of("ls"), List.of("-d", "/", "/jdryad-no-such-dir"), Map.of(), dir);
        Jdryad.assertSameRun("ls by name", expected, actual);
        assertTrue(actual.stderr().startsWith("ls: "), actual::describe);
    }

    @Test
    void aNameNotOnPathIsNotFound() {
        Result r = Jdryad.runJdryad(List.of(), Path.of("jdryad-no-such-program"), List.of(), Map.of(), Path.of("/"));
        assertEquals(127, r.status(), r::describe);
        assertTrue(r.stderr().contains("jdryad-no-such-program: No such file or directory"), r::describe);
    }
}
