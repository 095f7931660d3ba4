package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@code #!} scripts run as the kernel runs them, with their interpreter loaded by jdryad. */
@Tag("run")
class ScriptRunTest {

    @Test
    void shebangScriptRunsThroughItsInterpreter() throws Exception {
        Path dir = Fixtures.scratchDir("script");
        Path script = dir.resolve("greet.sh");
        Files.writeString(script, "#!/bin/sh -e\necho \"script $0 [$*] $(basename \"$0\")\"\necho to-stderr >&2\nexit 7\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        Result expected = Jdryad.runNative(script, List.of("a", "b c"), Map.of(), dir);
        assertEquals(7, expected.status(), expected::describe);
        Result actual = Jdryad.runJdryad(List.of(), script, List.of("a", "b c"), Map.of(), dir);
        Jdryad.assertSameRun("#! script", expected, actual);
    }
}
