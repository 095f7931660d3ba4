package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.ProcessRunner;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code jdryad run --follow}: every program the program and its descendants execute runs under
 * jdryad too, with the same output and status as natively, and the history lists each process
 * image with its pid and parent pid (tests/fixtures/follow: a driver that execs, spawns, calls
 * system or popen, and a child that prints its argv and environment).
 */
@Tag("run")
class FollowRunTest {
    private static Path dir;
    private static Path follow;
    private static Map<String, String> env;

    @BeforeAll
    static void build() throws Exception {
        dir = Fixtures.scratchDir("follow");
        follow = Fixtures.program("follow", List.of("follow/follow.c"));
        Path child = Fixtures.program("follow-child", List.of("follow/child.c"));
        Path staticChild = Fixtures.program("follow-child-static", List.of("follow/child.c"), "-static");
        Files.copy(child, dir.resolve("child"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.copy(staticChild, dir.resolve("child-static"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.copy(follow, dir.resolve("follow"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        script("script.sh", "#!/bin/sh\necho \"script [$*]\"\nexec ./child from-script\n");
        script("text", "not a program\n");
        Files.writeString(dir.resolve("not-executable"), "#!/bin/sh\n");
        env = new HashMap<>(Map.of("FOLLOW_VAR", "given", "PATH", dir + ":" + System.getenv("PATH")));
    }

    private static void script(String name, String text) throws Exception {
        Files.writeString(dir.resolve(name), text);
        Files.setPosixFilePermissions(dir.resolve(name), PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    /** Runs natively and with --follow --history; fails unless the runs are the same; returns the history. */
    private static List<JsonObject> sameRun(String what, Path program, List<String> args, Map<String, String> extraEnv)
            throws Exception {
        Result expected = Jdryad.runNative(program, args, extraEnv, dir);
        Path history = Files.createTempFile(dir, "history", ".json");
        Result actual = Jdryad.runJdryad(List.of("--follow", "--history", history.toString()), program, args, extraEnv, dir);
        Jdryad.assertSameRun(what, expected, actual);
        JsonObject h = JsonParser.parseString(Files.readString(history)).getAsJsonObject();
        List<JsonObject> images = new ArrayList<>();
        for (JsonElement e : h.getAsJsonArray("processes")) {
            JsonObject p = e.getAsJsonObject();
            assertTrue(p.get("pid").getAsLong() > 0 && p.get("ppid").getAsLong() > 0, p::toString);
            images.add(p);
        }
        assertEquals(h.get("pid").getAsLong(), images.get(0).get("pid").getAsLong(), "the first process is the top-level one");
        return images;
    }

    private static List<JsonObject> sameRun(String what, List<String> args) throws Exception {
        return sameRun(what, dir.resolve("follow"), args, env);
    }

    /** The top-level program as the history names it (its argv[0]: the path the test ran). */
    private static String top() {
        return dir.resolve("follow").toString();
    }

    private static List<String> programs(List<JsonObject> images) {
        return images.stream().map(p -> p.get("program").getAsString()).toList();
    }

    private static long pid(JsonObject p) {
        return p.get("pid").getAsLong();
    }

    private static long ppid(JsonObject p) {
        return p.get("ppid").getAsLong();
    }

    /** Whether jdryad loaded the image's program itself (its link map is jdryad's, not empty). */
    private static boolean linkedByJdryad(JsonObject p) {
        for (JsonElement o : p.getAsJsonArray("objects")) {
            if (!o.getAsJsonObject().get("host").getAsBoolean()) {
                return true;
            }
        }
        return false;
    }

    @ParameterizedTest
    @ValueSource(strings = {"exec ./child a b", "execvp child a", "execl ./child", "execlp child", "execle ./child",
        "fexecve ./child x"})
    void anExecedDynamicProgramIsLoadedByJdryadInTheSameProcess(String how) throws Exception {
        List<JsonObject> images = sameRun(how, List.of(how.split(" ")));
        assertEquals(List.of(top(), how.split(" ")[1]), programs(images), () -> programs(images).toString());
        assertEquals(pid(images.get(0)), pid(images.get(1)), "exec keeps the pid");
        assertEquals("exec", images.get(0).get("ended").getAsString());
        assertEquals(3, images.get(1).getAsJsonObject("exit").get("status").getAsInt(), "the last image has the status");
        assertTrue(linkedByJdryad(images.get(1)), () -> programs(images).toString());
    }

    @Test
    void aStaticProgramRunsAsItIs() throws Exception {
        List<JsonObject> images = sameRun("static", List.of("exec", "./child-static", "s"));
        assertEquals(List.of(top()), programs(images));
    }

    @Test
    void aScriptRunsThroughItsInterpreterUnderJdryadAndWhatItExecsToo() throws Exception {
        List<JsonObject> images = sameRun("#! script", List.of("exec", "./script.sh", "x"));
        assertEquals(List.of(top(), "/bin/sh", "./child"), programs(images), () -> programs(images).toString());
        assertEquals(1, images.stream().mapToLong(FollowRunTest::pid).distinct().count(), "one process throughout");
    }

    @ParameterizedTest
    @ValueSource(strings = {"./missing", "./text", "./not-executable", "/"})
    void whatTheKernelRefusesFailsWithTheKernelsErrno(String file) throws Exception {
        List<JsonObject> images = sameRun("exec " + file, List.of("exec", file));
        assertEquals(List.of(top()), programs(images));
        sameRun("execvp " + file, List.of("execvp", file.replace("./", "")));
    }

    /**
     * A program that executes itself again through /proc/self/exe (the kernel's name for the
     * agent, under jdryad): the exec is of the program, followed, in the same process.
     */
    @Test
    void aProgramExecutingProcSelfExeRunsItselfAgain() throws Exception {
        List<JsonObject> images = sameRun("/proc/self/exe", List.of("exec", "/proc/self/exe", "system", "true"));
        assertEquals(3, images.size(), () -> programs(images).toString()); // the program twice, then system's sh
        assertEquals(pid(images.get(0)), pid(images.get(1)), "the same process, exec'ed");
        assertEquals(mainPath(images.get(0)), mainPath(images.get(1)), "the program again, not the agent");
    }

    /**
     * Without --follow the exec family is glibc's, but executing /proc/self/exe must still run
     * the program (natively, as any exec without --follow), not the agent, which would find no
     * jdryad and exit with 127: same output and status as natively, by each way of executing.
     */
    @ParameterizedTest
    @ValueSource(strings = {"exec", "execvp", "execl", "execlp", "execle", "spawn", "spawnp"})
    void withoutFollowAProgramExecutingProcSelfExeRunsItselfAgain(String how) throws Exception {
        List<String> args = List.of(how, "/proc/self/exe", "system", "true");
        Result expected = Jdryad.runNative(dir.resolve("follow"), args, env, dir);
        Result actual = Jdryad.runJdryad(List.of(), dir.resolve("follow"), args, env, dir);
        Jdryad.assertSameRun(how + " /proc/self/exe", expected, actual);
    }

    private static String mainPath(JsonObject image) {
        return image.getAsJsonArray("objects").get(0).getAsJsonObject().get("path").getAsString();
    }

    @Test
    void execvpRunsAFileTheKernelCannotExecuteWithAFollowedShell() throws Exception {
        List<JsonObject> images = sameRun("execvp text", List.of("execvp", "text")); // ENOEXEC: glibc tries /bin/sh
        assertEquals(List.of(top(), "/bin/sh"), programs(images), () -> programs(images).toString());
    }

    @Test
    void anExecedProgramThatCannotBeLoadedFailsInItsOwnProcessAsUnderGlibc() throws Exception {
        Path missing = FixtureCatalog.neededProgram("fn", null); // libneeded.so is not beside it
        List<JsonObject> images = sameRun("missing library", List.of("exec", missing.toString()));
        assertEquals(List.of(top()), programs(images));
    }

    @Test
    void showListsEachProcessAndSelectsOneByPid() throws Exception {
        Path history = Files.createTempFile(dir, "history", ".json");
        Result run = Jdryad.runJdryad(List.of("--follow", "--history", history.toString()), Path.of("/bin/sh"),
                List.of("-c", "ls / | wc -l"), env, dir);
        assertEquals(0, run.status(), run::describe);
        List<JsonObject> images = new ArrayList<>();
        JsonParser.parseString(Files.readString(history)).getAsJsonObject().getAsJsonArray("processes")
                .forEach(e -> images.add(e.getAsJsonObject()));
        JsonObject ls = images.stream().filter(p -> p.get("program").getAsString().equals("ls")).findFirst().orElseThrow();
        Result all = show(history.toString(), "linkmap");
        assertEquals(0, all.status(), all::describe);
        for (JsonObject p : images) {
            assertTrue(all.stdout().contains("process " + pid(p) + " (parent " + ppid(p) + "): "
                    + p.get("program").getAsString()), all::describe);
        }
        Result one = show(history.toString(), "bindings", "--pid", Long.toString(pid(ls)));
        assertEquals(0, one.status(), one::describe);
        assertTrue(one.stdout().startsWith("process " + pid(ls) + " (parent " + pid(images.get(0)) + "): ls /"),
                one::describe);
        assertEquals(1, one.stdout().lines().filter(l -> l.startsWith("process ")).count(), one::describe);
        assertTrue(one.stdout().contains("opendir"), one::describe); // ls's own bindings
        Result none = show(history.toString(), "events", "--pid", "1");
        assertEquals(2, none.status(), none::describe);
        assertTrue(none.stderr().contains("no process 1 in"), none::describe);
    }

    private static Result show(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Jdryad.launcher().toString(), "show"));
        cmd.addAll(List.of(args));
        Map<String, String> e = ProcessRunner.environment(dir, Map.of());
        e.put("JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString());
        return ProcessRunner.run(cmd, e, dir, Jdryad.RUN_TIMEOUT);
    }

    @Test
    void posixSpawnsChildIsFollowedWithItsParentsPid() throws Exception {
        for (String how : List.of("spawn ./child s", "spawnp child s")) {
            List<JsonObject> images = sameRun(how, List.of(how.split(" ")));
            assertEquals(2, images.size(), () -> programs(images).toString());
            assertEquals(pid(images.get(0)), ppid(images.get(1)), "the spawned child's parent");
            assertTrue(linkedByJdryad(images.get(1)));
        }
    }

    @Test
    void systemAndPopenRunTheShellUnderJdryadAndWhatItRuns() throws Exception {
        for (String how : List.of("system", "popen")) {
            List<JsonObject> images = sameRun(how, List.of(how, "./child $FOLLOW_VAR; exit 4"));
            assertEquals(List.of(top(), "sh", "./child"), programs(images), () -> programs(images).toString());
            assertEquals(pid(images.get(0)), ppid(images.get(1)), "the shell's parent");
            assertEquals(pid(images.get(1)), ppid(images.get(2)), "the shell's child");
        }
    }

    @Test
    void aThreeLevelChainRecordsEveryProcessAndItsParent() throws Exception {
        List<JsonObject> images = sameRun("chain", List.of("spawn", "./follow", "exec", "./child", "deep"));
        assertEquals(List.of(top(), "./follow", "./child"), programs(images), () -> programs(images).toString());
        assertEquals(pid(images.get(0)), ppid(images.get(1)));
        assertEquals(pid(images.get(1)), pid(images.get(2)), "the spawned process exec'ed the child");
    }

    @Test
    void aShellPipelineFollowsBothSides() throws Exception {
        List<JsonObject> images = sameRun("sh pipeline", Path.of("/bin/sh"), List.of("-c", "ls / | wc -l"), env);
        List<String> children = programs(images).subList(1, images.size()).stream().sorted().toList();
        assertEquals(List.of("ls", "wc"), children, () -> programs(images).toString());
        for (JsonObject p : images.subList(1, images.size())) {
            assertEquals(pid(images.get(0)), ppid(p), "the shell's children");
            assertTrue(linkedByJdryad(p));
        }
    }

    @Test
    void theEnvironmentReachesTheExecedProgramUnchanged() throws Exception {
        Map<String, String> e = new HashMap<>(env);
        e.put("LD_FOLLOW_TEST", "kept");
        List<JsonObject> images = sameRun("env", dir.resolve("follow"), List.of("exec", "/usr/bin/env"), e);
        assertEquals(2, images.size());
    }

    @Test
    void pythonsSubprocessIsFollowed() throws Exception {
        Path python = realPython();
        List<JsonObject> images = sameRun("python subprocess", python,
                List.of("-c", "import subprocess; r = subprocess.run(['ls', '-d', '/usr']); print(r.returncode)"), env);
        assertEquals("ls", images.get(images.size() - 1).get("program").getAsString(), () -> programs(images).toString());
        assertEquals(pid(images.get(0)), ppid(images.get(images.size() - 1)));
    }

    /** The python3 executable itself (not a version manager's shim script), or the test is skipped. */
    private static Path realPython() {
        Result r = ProcessRunner.run(List.of("python3", "-c", "import sys; print(sys.executable)"),
                ProcessRunner.environment(dir, Map.of()), dir, Jdryad.RUN_TIMEOUT);
        Assumptions.assumeTrue(r.status() == 0 && !r.stdout().isBlank(), "no python3");
        return Path.of(r.stdout().strip());
    }
}
