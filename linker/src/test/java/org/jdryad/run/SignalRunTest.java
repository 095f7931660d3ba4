package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.ProcessRunner;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A terminal's Ctrl-C goes to the whole foreground process group: the program must get it and
 * decide (here Python turns it into KeyboardInterrupt and exits 0); jdryad must not die first.
 */
@Tag("run")
class SignalRunTest {

    @Test
    void interruptReachesTheProgramNotJdryad() throws Exception {
        Path python = Path.of("/usr/bin/python3.11");
        assumeTrue(Files.isExecutable(python) && Files.isExecutable(Path.of("/usr/bin/setsid")), "needs python3.11, setsid");
        Jdryad.ensureBuilt();
        // 'ready' inside the try: a SIGINT that comes right after it is still caught there
        String script = "import sys, time\ntry:\n    print('ready', flush=True)\n    time.sleep(30)\n"
                + "except KeyboardInterrupt:\n    print('caught', flush=True)\n";
        ProcessBuilder pb = new ProcessBuilder("/usr/bin/setsid", Jdryad.launcher().toString(), "run", python.toString(),
                "-c", script);
        pb.environment().clear();
        pb.environment().putAll(ProcessRunner.environment(Fixtures.root(), Map.of(
                "JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString())));
        pb.redirectErrorStream(true);
        Process p = pb.start();
        try {
            // Wait until the program itself runs, then interrupt the whole group, as a terminal does.
            StringBuilder out = new StringBuilder();
            var in = p.getInputStream();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!out.toString().contains("ready") && System.nanoTime() < deadline) {
                int c = in.read();
                if (c < 0) {
                    break;
                }
                out.append((char) c);
            }
            assertTrue(out.toString().contains("ready"), () -> "the program did not start:\n" + out);
            new ProcessBuilder("kill", "-INT", "--", "-" + p.pid()).start().waitFor();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "jdryad did not finish after SIGINT");
            String rest = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(rest.contains("caught"), () -> "the program did not see SIGINT:\n" + out + rest);
            assertEquals(0, p.exitValue(), () -> "jdryad's status is not the program's:\n" + out + rest);
        } finally {
            p.destroyForcibly();
        }
    }

}
