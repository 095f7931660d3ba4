package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.ProcessRunner;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The descriptors the user gives jdryad reach the program, as under the system loader: a
 * process substitution's /dev/fd/63 (`jdryad run cat <(echo hi)` said "No such file or
 * directory": the JVM's child inherits only 0, 1 and 2), `3<file` (the launcher's own fd 3 took
 * the number), a descriptor at 9, with its offset shared; and none of jdryad's own
 * among the program's low numbers. Through bash, which makes them; cold here, warm in ServerTest.
 */
@Tag("run")
class DescriptorsRunTest {
    /** What the script prints natively and under jdryad (PROG: the program's path or `jdryad run`). */
    private static final String SCRIPT = "exec 3</etc/hostname 9</etc/os-release; read -r skipped <&9; "
            + "PROG /usr/bin/cat <(echo substituted) /dev/fd/3; "
            + "PROG /bin/sh -c 'read -r line <&9; echo \"$line\"; ls /proc/self/fd | sort -n | tr \"\\n\" \" \"; echo'";

    static Result bash(String script, Path dir) {
        Map<String, String> env = new java.util.HashMap<>(ProcessRunner.environment(dir, Map.of()));
        env.put("JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString());
        return ProcessRunner.run(List.of("/bin/bash", "-c", script), env, dir, Jdryad.RUN_TIMEOUT);
    }

    @Test
    void theUsersDescriptorsReachTheProgram() {
        Jdryad.ensureBuilt();
        Path dir = Fixtures.root();
        Result natively = bash(SCRIPT.replace("PROG ", ""), dir);
        assertEquals(0, natively.status(), natively::describe);
        assertFalse(natively.stdout().isEmpty(), natively::describe);
        for (String run : List.of("run", "run --follow")) {
            Result r = bash(SCRIPT.replace("PROG", Jdryad.launcher() + " " + run), dir);
            assertEquals(natively.stdout(), r.stdout().replaceAll(" 9[6-9][0-9] ", " "), run + ": " + r.describe());
            assertEquals(0, r.status(), r::describe);
        }
    }
}
