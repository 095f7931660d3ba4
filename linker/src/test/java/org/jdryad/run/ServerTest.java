package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.ProcessRunner;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The warm server through real processes (./jdryad, its native client, the server JVM): start,
 * status and stop; warm runs against the system loader and against cold runs; runs at once; a
 * library rebuilt between runs; a killed server; another user refused; --history. Each test
 * class run has a server of its own, in a private XDG_RUNTIME_DIR, stopped at the end.
 */
@Tag("run")
class ServerTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(180);
    private static Path runtimeDir;

    @BeforeAll
    static void privateRuntimeDirectory() throws IOException {
        // Not under the fixture cache, which is private to this user: others may enter this
        // directory (the second-user test needs that); jdryad/ inside is 0700. An unpredictable name.
        Path base = Files.createTempDirectory("jdryad-server-test-");
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
        runtimeDir = base;
    }

    @AfterAll
    static void stopServer() throws IOException {
        Result r = jdryad(List.of("server", "stop"), Map.of(), Fixtures.root());
        if (r.status() != 0) {
            System.err.println("jdryad server stop: " + r.describe());
        }
        try (Stream<Path> all = Files.walk(runtimeDir)) {
            all.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** The environment of a warm run: this class's server, started on first use. */
    private static Map<String, String> warm(String mode) {
        Map<String, String> e = new HashMap<>();
        e.put("JDRYAD_SERVER", mode);
        e.put("JDRYAD_SERVER_IDLE", "300");
        e.put("JDRYAD_SERVER_WARMUP", "20"); // a few: startStatusStop waits for the default's 200
        e.put("XDG_RUNTIME_DIR", runtimeDir.toString());
        return e;
    }

    private static Result jdryad(List<String> args, Map<String, String> extra, Path dir) {
        Map<String, String> env = new HashMap<>(ProcessRunner.environment(dir, warm("on")));
        env.putAll(extra);
        env.put("JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString());
        List<String> cmd = new ArrayList<>();
        cmd.add(Jdryad.launcher().toString());
        cmd.addAll(args);
        return ProcessRunner.run(cmd, env, dir, TIMEOUT);
    }

    private static Result warmRun(List<String> cmd, Path dir) {
        List<String> args = new ArrayList<>(List.of("run"));
        args.addAll(cmd);
        return jdryad(args, Map.of(), dir);
    }

    /** Start, status, stop; the server warms up with its default 200 runs meanwhile, and still serves. */
    @Test
    void startStatusStop() throws Exception {
        Jdryad.ensureBuilt();
        Result start = jdryad(List.of("server", "start", "--idle", "300"), Map.of(), Fixtures.root());
        assertEquals(0, start.status(), start::describe);
        Result status = jdryad(List.of("server", "status"), Map.of(), Fixtures.root());
        assertEquals(0, status.status(), status::describe);
        assertTrue(status.stdout().startsWith("jdryad server: running, pid "), status::describe);
        assertTrue(status.stdout().contains(runtimeDir.resolve("jdryad").toString()), status::describe);
        Result during = warmRun(List.of("/usr/bin/echo", "while warming up"), Fixtures.root());
        assertEquals(0, during.status(), during::describe);
        assertEquals("while warming up\n", during.stdout(), during::describe);
        assertEquals("", during.stderr(), during::describe);
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (!status.stdout().contains("warm-up 200 of 200 runs") && System.nanoTime() < deadline) {
            assertTrue(status.stdout().matches("(?s).*warm-up \\d+ of 200 runs.*"), status::describe);
            Thread.sleep(200);
            status = jdryad(List.of("server", "status"), Map.of(), Fixtures.root());
        }
        assertTrue(status.stdout().contains("warm-up 200 of 200 runs"), status::describe);
        assertTrue(status.stdout().contains(", 0 running now"), "warm-up runs are not clients': " + status.describe());
        Result stop = jdryad(List.of("server", "stop"), Map.of(), Fixtures.root());
        assertEquals(0, stop.status(), stop::describe);
        Result after = jdryad(List.of("server", "status"), Map.of(), Fixtures.root());
        assertEquals(3, after.status(), after::describe);
        assertTrue(after.stdout().startsWith("jdryad server: not running"), after::describe);
    }

    /** Every differential fixture, warm, twice: the same stdout, stderr and status as the system loader. */
    @TestFactory
    Stream<DynamicTest> warmRunsMatchTheSystemLoader() {
        return FixtureCatalog.differentialCases().stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            Path dir = c.program().getParent();
            Result expected = Jdryad.runNative(c.program(), c.args(), with(c.env(), warm("on")), dir);
            Result actual = Jdryad.runJdryad(List.of(), c.program(), c.args(), with(c.env(), warm("on")), dir);
            Jdryad.assertSameRun(c.name() + " (warm)", expected, actual);
            // Again: the lookups now come from what the first run's found (link/LookupMemo).
            Result again = Jdryad.runJdryad(List.of(), c.program(), c.args(), with(c.env(), warm("on")), dir);
            Jdryad.assertSameRun(c.name() + " (warm, again)", expected, again);
        }));
    }

    /**
     * The environment reaches a warm run's program byte for byte and in order through ./jdryad,
     * which hands it to the client as LEN:VARIABLE in a here-string: values with newlines, '=',
     * colons, non-ASCII bytes, an empty one and a long one.
     */
    @Test
    void aWarmRunsProgramGetsTheLaunchersEnvironmentExactly() {
        Jdryad.ensureBuilt();
        Map<String, String> env = with(Map.of("JD_NEWLINES", "one\ntwo\n", "JD_EQUALS", "a=b=c", "JD_COLONS", "1:2::3",
                "JD_UTF8", "\u00e9t\u00e9 \u2603", "JD_EMPTY", "", "JD_LONG", "x".repeat(20_000), "LD_BIND_NOT", "1"),
                warm("on"));
        Path dir = Fixtures.root();
        Result expected = Jdryad.runNative(Path.of("/usr/bin/env"), List.of("-0"), env, dir);
        Result actual = Jdryad.runJdryad(List.of(), Path.of("/usr/bin/env"), List.of("-0"), env, dir);
        Jdryad.assertSameRun("env -0 (warm)", expected, actual);
    }

    /**
     * jdryad's debug lines reach the terminal before the program goes on: warm, they travel to the
     * client as OUT frames while the agent writes its own (at exit) straight to stderr, so the
     * server waits for the client to have written them before it lets the program run code
     * (Spawner#settleOutput). Eight runs, each in glibc's order; without the wait about one in
     * ten had the agent's "calling fini" lines before Java's "calling init" ones.
     */
    @Test
    void warmDebugLinesComeInGlibcsOrder() {
        Path program = FixtureCatalog.dlopenProgram();
        List<String> args = List.of(FixtureCatalog.plugin().toString());
        Map<String, String> nativeEnv = new HashMap<>(warm("on"));
        nativeEnv.put("LD_DEBUG", "libs");
        Result glibc = Jdryad.runNative(program, args, nativeEnv, program.getParent());
        for (int i = 0; i < 8; i++) {
            DebugDifferentialTest.assertSameDebugLines("dlopen libs (warm, run " + i + ")", glibc,
                    Jdryad.runJdryad(List.of("--debug=libs"), program, args, warm("on"), program.getParent()));
        }
    }

    private static Map<String, String> with(Map<String, String> a, Map<String, String> b) {
        Map<String, String> m = new HashMap<>(a);
        m.putAll(b);
        return m;
    }

    @Test
    void lsWarmIsLsNativeAndLsCold() {
        Path dir = Path.of("/usr");
        Result expected = Jdryad.runNative(Path.of("/usr/bin/ls"), List.of("-l", "/usr"), warm("on"), dir);
        Result warmRun = Jdryad.runJdryad(List.of(), Path.of("/usr/bin/ls"), List.of("-l", "/usr"), warm("on"), dir);
        Result cold = Jdryad.runJdryad(List.of(), Path.of("/usr/bin/ls"), List.of("-l", "/usr"), warm("off"), dir);
        Jdryad.assertSameRun("ls -l (warm)", expected, warmRun);
        Jdryad.assertSameRun("ls -l (cold)", expected, cold);
        Result status = jdryad(List.of("server", "status"), Map.of(), Fixtures.root());
        assertTrue(status.stdout().contains("running"), "the warm run left no server:\n" + status.describe());
    }

    /**
     * The static front runs a warm `jdryad run` itself, without bash or the client program: the
     * run is served by the server (its count of command lines goes up), and the program alone
     * sees LD_PRELOAD (the library's constructor prints once; a missing one is warned about once).
     */
    @Test
    void throughTheStaticFrontWarmRunsAreServedWithoutBash() {
        Path prog = FixtureCatalog.preloadProgram();
        Map<String, String> env = new HashMap<>(warm("on"));
        env.put("JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString());
        env.put("LD_PRELOAD", FixtureCatalog.preloadLibrary().toString());
        Result expected = Jdryad.runNative(prog, List.of(), env, prog.getParent());
        assertEquals(1, expected.stdout().lines().filter(l -> l.equals("preload constructor")).count(),
                expected::describe);
        long before = servedCount();
        Result actual = Jdryad.runFront(List.of(), prog, List.of(), env, prog.getParent());
        Jdryad.assertSameRun("preload (LD_PRELOAD, static front, warm)", expected, actual);
        // (the count leaves out the status line that asks, not the one before: +1 for it, +1 for the run)
        assertTrue(servedCount() >= before + 2, "the front's run was not served warm");

        Path hello = FixtureCatalog.helloPie();
        env.put("LD_PRELOAD", "libjdryad-nonexistent-preload.so");
        Jdryad.assertSameRun("preload of a missing library (static front, warm)",
                Jdryad.runNative(hello, List.of(), env, hello.getParent()),
                Jdryad.runFront(List.of(), hello, List.of(), env, hello.getParent()));
    }

    /** The server's count of command lines served before this status line (its status line). */
    private static long servedCount() {
        Result status = jdryad(List.of("server", "status"), Map.of(), Fixtures.root());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+) command lines served").matcher(status.stdout());
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    /** Several runs at once, each served independently; one of them fails to load and disturbs none. */
    @Test
    void concurrentWarmRuns() throws Exception {
        List<FixtureCatalog.Case> cases = FixtureCatalog.differentialCases().stream()
                .filter(c -> List.of("hello-pie", "dlopen", "tls-pie", "cxx-exceptions", "interpose", "versions")
                        .contains(c.name()))
                .toList();
        assertTrue(cases.size() >= 4, "fixtures missing: " + cases);
        ExecutorService pool = Executors.newFixedThreadPool(cases.size() + 2);
        try {
            List<Future<String>> results = new ArrayList<>();
            for (int round = 0; round < 2; round++) {
                for (FixtureCatalog.Case c : cases) {
                    results.add(pool.submit(() -> {
                        Path dir = c.program().getParent();
                        Result expected = Jdryad.runNative(c.program(), c.args(), with(c.env(), warm("on")), dir);
                        Result actual = Jdryad.runJdryad(List.of(), c.program(), c.args(), with(c.env(), warm("on")), dir);
                        Jdryad.assertSameRun(c.name() + " (warm, concurrent)", expected, actual);
                        return c.name();
                    }));
                }
                results.add(pool.submit(() -> {
                    Result missing = warmRun(List.of("/nonexistent/program"), Fixtures.root());
                    assertEquals(127, missing.status(), missing::describe);
                    assertEquals("jdryad: /nonexistent/program: No such file or directory\n", missing.stderr());
                    return "missing";
                }));
            }
            for (Future<String> f : results) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * --follow is served warm too: the top-level program is the client's child and what it execs
     * connects to the run's listener in the server; one history with each image, its pid and its
     * parent's, and the top-level program's status. Before, the client ran it in a JVM of its own.
     */
    @Test
    void followIsServedWarm() throws IOException {
        Path dir = Fixtures.scratchDir("server-follow");
        Result r = warmRun(List.of("--follow", "--history", "follow.json", "/bin/sh", "-c",
                "/usr/bin/echo followed; /usr/bin/cat /proc/$PPID/comm; exit 3"), dir);
        // The program's parent is the client (cold: the JVM, "java").
        assertEquals("followed\njdryad-client\n", r.stdout(), r::describe);
        assertEquals("", r.stderr(), r::describe);
        assertEquals(3, r.status(), r::describe);
        com.google.gson.JsonObject h = com.google.gson.JsonParser.parseString(Files.readString(dir.resolve("follow.json")))
                .getAsJsonObject();
        var images = h.getAsJsonArray("processes");
        assertEquals(3, images.size(), h::toString);
        List<String> programs = new ArrayList<>();
        images.forEach(i -> programs.add(i.getAsJsonObject().get("program").getAsString()));
        assertEquals(List.of("/bin/sh", "/usr/bin/echo", "/usr/bin/cat"), programs);
        long shPid = images.get(0).getAsJsonObject().get("pid").getAsLong();
        assertEquals(shPid, images.get(1).getAsJsonObject().get("ppid").getAsLong(), h::toString);
    }

    /** The user's descriptors reach a warm run's program (DescriptorsRunTest, cold): the client's child inherits them. */
    @Test
    void aWarmRunsProgramGetsTheUsersDescriptors() {
        Path dir = Fixtures.root();
        String script = "exec 3</etc/hostname; " + Jdryad.launcher() + " run /usr/bin/cat <(echo substituted) /dev/fd/3";
        Map<String, String> env = new HashMap<>(ProcessRunner.environment(dir, warm("on")));
        env.put("JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString());
        Result natively = ProcessRunner.run(List.of("/bin/bash", "-c", "exec 3</etc/hostname; /usr/bin/cat <(echo substituted) /dev/fd/3"),
                env, dir, TIMEOUT);
        Result r = ProcessRunner.run(List.of("/bin/bash", "-c", script), env, dir, TIMEOUT);
        assertEquals(natively.stdout(), r.stdout(), r::describe);
        assertEquals(0, r.status(), r::describe);
    }

    /** Arguments and environment that are not UTF-8 reach a warm run's program byte for byte (RawBytesRunTest, cold). */
    @Test
    void aWarmRunsProgramGetsBytesThatAreNotUtf8() {
        Path prog = FixtureCatalog.bytesProgram();
        Map<String, String> env = new HashMap<>(ProcessRunner.environment(prog.getParent(), warm("on")));
        env.put("JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString());
        String script = "RAW_BYTES=$(printf 'abc\\377\\376') exec " + Jdryad.launcher() + " run " + prog
                + " \"$(printf 'x\\377y')\" \"$(printf 'caf\\351')\"";
        Result r = ProcessRunner.run(List.of("/bin/sh", "-c", script), env, prog.getParent(), TIMEOUT);
        assertEquals("arg:78ff79\narg:636166e9\nenv:616263fffe\n", r.stdout(), r::describe);
        assertEquals(0, r.status(), r::describe);
    }

    /** A library rebuilt in place between two warm runs: the second run loads the new one. */
    @Test
    void aRebuiltLibraryIsNeverServedStale() throws IOException {
        Path dir = Fixtures.scratchDir("server-stale");
        Path lib = dir.resolve("libstale.so");
        Path prog = dir.resolve("stale");
        buildStaleLibrary(dir, lib, "one");
        gcc(dir, List.of("-o", prog.toString(), Fixtures.source("server/stale_main.c").toString(), lib.toString(),
                "-Wl,-rpath," + dir));
        Result first = warmRun(List.of(prog.toString()), dir);
        assertEquals("library says one\n", first.stdout(), first::describe);
        buildStaleLibrary(dir, lib, "second version");
        Result second = warmRun(List.of(prog.toString()), dir);
        assertEquals("library says second version\n", second.stdout(), second::describe);
        assertEquals(0, second.status(), second::describe);
    }

    /**
     * What earlier runs' lookups found is remembered by the server (link/LookupMemo), and never
     * outlives what it was found in: an object earlier in the scope rebuilt to define the symbol,
     * and a preloaded definition, each win at the next run, bound now and lazily; and a
     * remembered binding is recorded as a fresh one is (`jdryad show why`, the same text).
     */
    @Test
    void rememberedLookupsFollowTheFilesOfEachRun() throws IOException {
        Path dir = Fixtures.scratchDir("server-memo");
        Path first = dir.resolve("libmemo_first.so");
        Path second = dir.resolve("libmemo_second.so");
        Path pre = dir.resolve("libmemo_pre.so");
        Path prog = dir.resolve("memo");
        buildLibrary(dir, first, "const char *first_marker = \"marker\";\n");
        buildLibrary(dir, second, "const char *who(void) { return \"second\"; }\n");
        buildLibrary(dir, pre, "const char *who(void) { return \"preloaded\"; }\n");
        gcc(dir, List.of("-o", prog.toString(), Fixtures.source("server/memo_main.c").toString(), first.toString(),
                second.toString(), "-Wl,-rpath," + dir));
        for (List<String> bind : List.of(List.of("--bind-now"), List.<String>of())) {
            List<String> run = with(bind, prog.toString());
            List<String> preloaded = with(bind, "--preload", pre.toString(), prog.toString());
            buildLibrary(dir, first, "const char *first_marker = \"marker\";\n");
            assertRuns(dir, run, "who: second (marker)\n", "who: second (marker)\n");
            Result why1 = warmRun(with(bind, "--history", "h1.json", prog.toString()), dir);
            Result why2 = warmRun(with(bind, "--history", "h2.json", prog.toString()), dir);
            assertEquals(0, why1.status() | why2.status(), why1.describe() + why2.describe());
            Result show1 = jdryad(List.of("show", "h1.json", "why", "who"), Map.of(), dir);
            Result show2 = jdryad(List.of("show", "h2.json", "why", "who"), Map.of(), dir);
            assertTrue(show1.stdout().contains("libmemo_second.so"), show1::describe);
            assertEquals(show1.stdout().replaceAll("0x[0-9a-f]+", "ADDRESS"), show2.stdout().replaceAll("0x[0-9a-f]+", "ADDRESS"),
                    "a remembered binding's why, against the first run's (addresses aside: a run's bases are random)");
            buildLibrary(dir, first, "const char *first_marker = \"rebuilt\";\n"
                    + "const char *who(void) { return \"first\"; }\n");
            assertRuns(dir, run, "who: first (rebuilt)\n", "who: first (rebuilt)\n");
            assertRuns(dir, preloaded, "who: preloaded (rebuilt)\n", "who: preloaded (rebuilt)\n");
            assertRuns(dir, run, "who: first (rebuilt)\n", "who: first (rebuilt)\n");
        }
    }

    private static List<String> with(List<String> head, String... tail) {
        List<String> all = new ArrayList<>(head);
        all.addAll(List.of(tail));
        return all;
    }

    /** Two warm runs of {@code args} print {@code once}, then {@code twice}, with status 0. */
    private static void assertRuns(Path dir, List<String> args, String once, String twice) {
        Result a = warmRun(args, dir);
        assertEquals(once, a.stdout(), a::describe);
        Result b = warmRun(args, dir);
        assertEquals(twice, b.stdout(), b::describe);
        assertEquals(0, a.status() | b.status(), a.describe() + b.describe());
    }

    /** Builds {@code lib} from {@code source}, replacing it by a rename as a build would. */
    private static void buildLibrary(Path dir, Path lib, String source) throws IOException {
        Path src = dir.resolve(lib.getFileName() + ".c");
        Files.writeString(src, source);
        Path tmp = dir.resolve(lib.getFileName() + ".tmp");
        gcc(dir, List.of("-shared", "-fPIC", "-o", tmp.toString(), src.toString()));
        Files.move(tmp, lib, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    private static void buildStaleLibrary(Path dir, Path lib, String says) throws IOException {
        Path src = dir.resolve("stale_lib.c");
        Files.writeString(src, "const char *stale_version(void) { return \"" + says + "\"; }\n");
        Path tmp = dir.resolve("libstale.so.tmp");
        gcc(dir, List.of("-shared", "-fPIC", "-Wl,-soname,libstale.so", "-o", tmp.toString(), src.toString()));
        Files.move(tmp, lib, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    private static void gcc(Path dir, List<String> args) {
        List<String> cmd = new ArrayList<>(List.of("gcc"));
        cmd.addAll(args);
        Result r = ProcessRunner.run(cmd, ProcessRunner.environment(dir, Map.of()), dir, Duration.ofSeconds(120));
        assertEquals(0, r.status(), r::describe);
    }

    /** --history in warm mode, with a relative path (the client's directory) and the status of a signal. */
    @Test
    void historyIsWrittenWithTheStatus() throws IOException {
        Path dir = Fixtures.scratchDir("server-history");
        Path prog = dir.resolve("aborts");
        Files.writeString(dir.resolve("aborts.c"), "#include <stdlib.h>\nint main(void) { abort(); }\n");
        gcc(dir, List.of("-o", prog.toString(), dir.resolve("aborts.c").toString()));
        Result r = warmRun(List.of("--history", "h.json", prog.toString()), dir);
        assertEquals(134, r.status(), r::describe);
        String json = Files.readString(dir.resolve("h.json"));
        assertTrue(json.replaceAll("\\s", "").contains("\"exit\":{\"status\":134,\"signal\":6"), json);
    }

    /** A server killed during a run: that run ends with one line; the next run starts a new server. */
    @Test
    void aKilledServerFailsInFlightRunsCleanly() throws Exception {
        Jdryad.ensureBuilt();
        assertEquals(0, jdryad(List.of("server", "start", "--idle", "300", "--warm-up", "20"), Map.of(), Fixtures.root())
                .status());
        long pid = serverPid();
        Path dir = Fixtures.scratchDir("server-killed");
        Path out = dir.resolve("out");
        Path err = dir.resolve("err");
        Map<String, String> env = new HashMap<>(ProcessRunner.environment(dir, warm("on")));
        env.put("JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString());
        ProcessBuilder pb = new ProcessBuilder(Jdryad.launcher().toString(), "run", "/usr/bin/sleep", "2")
                .redirectOutput(out.toFile()).redirectError(err.toFile()).directory(dir.toFile());
        pb.environment().clear();
        pb.environment().putAll(env);
        Process run = pb.start();
        waitUntilRunning();
        ProcessHandle.of(pid).orElseThrow().destroyForcibly();
        assertTrue(run.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "the run did not end");
        String stderr = Files.readString(err);
        assertEquals("jdryad: the warm server went away while the program ran\n", stderr);
        assertEquals(0, run.exitValue(), "sleep's own status"); // sleep needed no more of the server
        Result next = warmRun(List.of("/usr/bin/echo", "again"), dir);
        assertEquals("again\n", next.stdout(), next::describe);
        assertEquals(0, next.status(), next::describe);
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
        assertTrue(serverPid() != pid);
    }

    private static long serverPid() {
        Result status = jdryad(List.of("server", "status"), Map.of(), Fixtures.root());
        Matcher m = Pattern.compile("running, pid (\\d+)").matcher(status.stdout());
        assertTrue(m.find(), status::describe);
        return Long.parseLong(m.group(1));
    }

    private static void waitUntilRunning() throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            if (jdryad(List.of("server", "status"), Map.of(), Fixtures.root()).stdout().contains(", 1 running now")) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the warm run never showed up in the server's status");
    }

    /**
     * Another user (nobody) is refused twice: its client will not use a directory that is not its
     * own, and the server closes a connection from it without a word (SO_PEERCRED).
     */
    @Test
    void anotherUserIsRefused() throws Exception {
        Jdryad.ensureBuilt();
        assertEquals(0, jdryad(List.of("server", "start", "--idle", "300", "--warm-up", "20"), Map.of(), Fixtures.root())
                .status());
        Path dir = runtimeDir.resolve("jdryad");
        List<String> asNobody = List.of("/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                "--", "env", "JDRYAD_SERVER=on", "XDG_RUNTIME_DIR=" + runtimeDir, "JDRYAD_BUILD_DIR="
                + Jdryad.launcherBuildDir(), Jdryad.launcher().toString(), "run", "/usr/bin/true");
        Result refused = ProcessRunner.run(asNobody, ProcessRunner.environment(Path.of("/"), Map.of()), Path.of("/"),
                TIMEOUT);
        assertEquals(127, refused.status(), refused::describe);
        assertEquals("jdryad: no warm server (JDRYAD_SERVER=on): " + dir
                + " is not a private directory of yours (owner uid 0, mode 700): not using it\n", refused.stderr());

        Path socket;
        try (Stream<Path> s = Files.list(dir)) {
            socket = s.filter(p -> p.toString().endsWith(".sock")).findFirst().orElseThrow();
        }
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
        Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rwxrwxrwx"));
        try {
            String py = "import socket,struct,sys\n"
                    + "s=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM); s.connect(sys.argv[1])\n"
                    + "w=lambda b: struct.pack('<I',len(b))+b\n"
                    + "p=w(b'/')+struct.pack('<I',2)+w(b'server')+w(b'status')+struct.pack('<II',0,0)\n"
                    + "try:\n"
                    + "    s.sendall(struct.pack('<II',1,len(p))+p); n=len(s.recv(100))\n"
                    + "except OSError:\n"
                    + "    n=0\n"
                    + "print('answer', n)\n"; // the server closed it unanswered (maybe before the request)
            Result raw = ProcessRunner.run(List.of("/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup",
                    "--clear-groups", "--", "/usr/bin/python3", "-c", py, socket.toString()),
                    ProcessRunner.environment(Path.of("/"), Map.of()), Path.of("/"), TIMEOUT);
            assertEquals("answer 0\n", raw.stdout(), raw::describe);
        } finally {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        }
    }
}
