package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.ProcessRunner;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The Java side killed while the program runs: a program whose next first call needs Java gets
 * one clear line and ends (never a hang); one whose answers the fast path prepared carries on.
 */
@Tag("run")
class JavaSideDeathTest {

    /** Starts {@code ./jdryad run OPTIONS PROG}, kills the JVM once PROG printed "start", returns its stdout and stderr. */
    private static String[] killJavaDuring(List<String> options) throws Exception {
        Jdryad.ensureBuilt();
        Path prog = FixtureCatalog.lazyLateCallProgram();
        Path dir = Fixtures.scratchDir("java-death");
        Path out = dir.resolve("out");
        Path err = dir.resolve("err");
        List<String> cmd = new ArrayList<>(List.of(Jdryad.launcher().toString(), "run"));
        cmd.addAll(options);
        cmd.add(prog.toString());
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.environment().clear();
        pb.environment().putAll(ProcessRunner.environment(prog.getParent(), Map.of()));
        pb.environment().put("JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString());
        Process jvm = pb.start(); // the launcher execs the JVM: this is the Java side's pid
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!Files.readString(out).contains("start") && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertTrue(Files.readString(out).contains("start"), () -> "the program did not start: " + read(err));
        Thread.sleep(300); // the fast path's answers are prepared within about 0.1 s of linking
        jvm.destroyForcibly().waitFor();
        // The orphaned program goes on writing to the files; wait for its last word.
        deadline = System.nanoTime() + 20_000_000_000L;
        while (System.nanoTime() < deadline && !Files.readString(out).contains("late call")
                && !Files.readString(err).contains("lost connection")) {
            Thread.sleep(50);
        }
        return new String[] {Files.readString(out), Files.readString(err)};
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }

    @Test
    void aFirstCallThatNeedsJavaGetsOneClearLine() throws Exception {
        // --debug=symbols keeps the fast path off: every first call asks Java.
        Path debugOut = Fixtures.scratchDir("java-death-debug").resolve("symbols");
        String[] r = killJavaDuring(List.of("--debug=symbols", "--debug-output", debugOut.toString()));
        assertTrue(r[1].contains("jdryad-agent: lost connection to jdryad"), () -> "stdout: " + r[0] + "\nstderr: " + r[1]);
        assertTrue(!r[0].contains("late call"), r[0]);
    }

    @Test
    void aFirstCallThatTheFastPathAnswersCarriesOn() throws Exception {
        String[] r = killJavaDuring(List.of());
        assertTrue(r[0].contains("late call 28"), () -> "stdout: " + r[0] + "\nstderr: " + r[1]);
    }
}
