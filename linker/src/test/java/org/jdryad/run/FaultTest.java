package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.ProcessRunner;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Faults with nothing lost: the disk is full when the history is written (a clear message, the
 * program's status unchanged, the device or the old history left as it was); gdb detaches
 * mid-run (the program carries on and finishes, jdryad exits with gdb's status); the agent is
 * killed while jdryad loads the program into it (jdryad ends at once, says so in one line,
 * exits 127 as for any load failure, and the history still says what happened).
 */
@Tag("run")
class FaultTest {

    @Test
    void historyOnAFullDeviceKeepsTheProgramsStatusAndTheDevice() throws IOException {
        Path prog = FixtureCatalog.exitProgram();
        Result expected = Jdryad.runNative(prog, List.of(), Map.of(), prog.getParent());
        Result r = Jdryad.runJdryad(List.of("--history", "/dev/full"), prog, List.of(), Map.of(), prog.getParent());
        assertEquals(expected.status(), r.status(), r::describe);
        assertEquals(expected.stdout(), r.stdout(), r::describe);
        assertTrue(r.stderr().endsWith("jdryad: cannot write the history to /dev/full: No space left on device\n"),
                r::describe);
        // It wrote into the device; it did not rename a file over it.
        assertFalse(Files.isRegularFile(Path.of("/dev/full")), "/dev/full was replaced by a regular file");
        assertTrue(Files.exists(Path.of("/dev/full")));
    }

    /** A 64 KiB tmpfs filled up (root can mount; skipped quietly where it cannot). */
    @Test
    void historyOnAFullFileSystemKeepsTheOldHistory() throws Exception {
        Path mnt = Fixtures.scratchDir("full-fs");
        Result mount = ProcessRunner.run(List.of("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt.toString()),
                ProcessRunner.environment(mnt.getParent(), Map.of()), mnt.getParent(), Duration.ofSeconds(20));
        org.junit.jupiter.api.Assumptions.assumeTrue(mount.status() == 0, "cannot mount a tmpfs here");
        try {
            Path history = mnt.resolve("h.json");
            Files.writeString(history, "old");
            fill(mnt.resolve("filler"));
            Path prog = FixtureCatalog.exitProgram();
            Result expected = Jdryad.runNative(prog, List.of(), Map.of(), prog.getParent());
            Result r = Jdryad.runJdryad(List.of("--history", history.toString()), prog, List.of(), Map.of(),
                    prog.getParent());
            assertEquals(expected.status(), r.status(), r::describe);
            assertTrue(r.stderr().endsWith("jdryad: cannot write the history to " + history
                    + ": No space left on device\n"), r::describe);
            assertEquals("old", Files.readString(history)); // not half replaced
            try (var files = Files.list(mnt)) {
                assertEquals(2, files.count(), "a temporary file was left behind");
            }
        } finally {
            // From outside the mount: umount in it would find it busy.
            Path outside = mnt.getParent();
            Result umount = ProcessRunner.run(List.of("umount", mnt.toString()),
                    ProcessRunner.environment(outside, Map.of()), outside, Duration.ofSeconds(20));
            assertEquals(0, umount.status(), umount::describe);
        }
    }

    @Test
    void gdbDetachingMidRunLetsTheProgramFinish() {
        Path prog = Fixtures.program("detach-main", List.of("robust/detach_main.c"), "-g");
        Result r = GdbBatch.batch(List.of(), Map.of(), prog, List.of(),
                List.of("break detach_point", "run", "detach"));
        String all = r.stdout() + r.stderr();
        assertTrue(all.contains("detached]"), r::describe);
        assertTrue(r.stdout().contains("before\n") && r.stdout().contains("after 3\n"), r::describe);
        assertEquals(0, r.status(), r::describe);
        HostileProgramTest.assertNoStackTrace(r);
    }

    @Test
    void agentKilledWhileLoadingEndsTheRunCleanly() throws Exception {
        // A program with 300 libraries: loading it takes long enough to be interrupted.
        Path dir = Fixtures.scratchDir("killed-agent");
        Path template = Fixtures.sharedLibrary("libwideYYYY.so", List.of("robust/deep_lib.c"));
        List<String> gcc = new ArrayList<>(List.of("gcc", "-o", "wide-main",
                Fixtures.source("robust/deep_main.c").toString(), "-Wl,--no-as-needed",
                "-Wl,--enable-new-dtags,-rpath,$ORIGIN"));
        for (int i = 0; i < 300; i++) {
            String name = String.format("libwide%04d.so", i);
            org.jdryad.fixtures.ElfEdits.of(template).replaceString("libwideYYYY.so", name).writeTo(dir.resolve(name));
            gcc.add("./" + name);
        }
        assertEquals(0, ProcessRunner.run(gcc, ProcessRunner.environment(dir, Map.of()), dir, Duration.ofMinutes(2))
                .status());
        Jdryad.ensureBuilt();
        Path history = dir.resolve("h.json");
        ProcessBuilder pb = new ProcessBuilder(Jdryad.launcher().toString(), "run", "--history", history.toString(),
                dir.resolve("wide-main").toString()).directory(dir.toFile())
                .redirectOutput(dir.resolve("out").toFile()).redirectError(dir.resolve("err").toFile());
        pb.environment().put("JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString());
        pb.environment().put("JDRYAD_SERVER", "off"); // cold, as every test (auto would leave a server behind)
        Process p = pb.start();
        ProcessHandle agent = awaitAgent(p);
        agent.destroyForcibly();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "jdryad did not end after its agent was killed");
        String err = Files.readString(dir.resolve("err"));
        String out = Files.readString(dir.resolve("out"));
        if (out.equals("deep_f()=7\n")) {
            return; // it had finished loading before the kill landed: nothing to check
        }
        assertEquals(127, p.exitValue(), err); // a load failure: the program never started
        assertEquals(1, err.lines().count(), err);
        assertTrue(err.contains("agent died with signal 9 (SIGKILL) before the program started"), err);
        JsonObject exit = JsonParser.parseString(Files.readString(history)).getAsJsonObject().getAsJsonObject("exit");
        assertEquals(137, exit.get("status").getAsInt(), exit.toString()); // the agent's process, as a shell reports it
        assertTrue(exit.get("problem").getAsString().contains("agent died with signal 9"), exit.toString());
    }

    private static ProcessHandle awaitAgent(Process p) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (System.nanoTime() < deadline) {
            var agent = p.toHandle().descendants()
                    .filter(h -> h.info().command().map(c -> c.contains("jdryad-agent")).orElse(false)).findFirst();
            if (agent.isPresent()) {
                Thread.sleep(300); // into the link
                return agent.get();
            }
            Thread.sleep(5);
        }
        throw new AssertionError("no agent within 90 s");
    }

    private static void fill(Path filler) {
        byte[] block = new byte[4096];
        try (var out = Files.newOutputStream(filler)) {
            while (true) {
                out.write(block);
            }
        } catch (IOException full) {
            // the file system is full
        }
    }
}
