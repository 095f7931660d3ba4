package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.ProcessRunner;
import org.jdryad.fixtures.ProcessRunner.Result;

/**
 * {@code ./jdryad run --wait-for-debugger PROG} as a child of the test, from the moment it says
 * {@code jdryad: pid N waits for a debugger: gdb -p N -x .../jdryad.py} on stderr; and the gdb
 * that attaches to it.
 */
final class WaitingRun implements AutoCloseable {
    private static final Pattern ANNOUNCED = Pattern.compile(
            "^jdryad: pid (\\d+) waits for a debugger: (gdb -p \\1 -x (\\S+/gdb-scripts/jdryad\\.py))$", Pattern.MULTILINE);

    final Process jvm;
    final long pid;
    final String attachCommand;
    final Path scripts;
    final Path dir;
    private final Path out;
    private final Path err;

    private WaitingRun(Process jvm, long pid, String attachCommand, Path scripts, Path dir, Path out, Path err) {
        this.jvm = jvm;
        this.pid = pid;
        this.attachCommand = attachCommand;
        this.scripts = scripts;
        this.dir = dir;
        this.out = out;
        this.err = err;
    }

    static void assumeGdb() {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/gdb")), "gdb is not installed (tests/setup.sh installs it)");
    }

    /** Starts {@code [prefix...] ./jdryad run --wait-for-debugger PROG ARGS} and waits for its line. */
    static WaitingRun start(List<String> prefix, Path prog, String... args) {
        Jdryad.ensureBuilt();
        Path dir = Fixtures.scratchDir("wait-for-debugger");
        Path out = dir.resolve("stdout");
        Path err = dir.resolve("stderr");
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of(Jdryad.launcher().toString(), "run", "--wait-for-debugger", prog.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectOutput(out.toFile())
                .redirectError(err.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().clear();
        pb.environment().putAll(ProcessRunner.environment(dir, Map.of()));
        pb.environment().put("JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString());
        Process p;
        try {
            p = pb.start(); // the launcher execs the JVM (and setsid execs the launcher): this is jdryad's pid
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            Matcher m = ANNOUNCED.matcher(read(err));
            if (m.find()) {
                return new WaitingRun(p, Long.parseLong(m.group(1)), m.group(2), Path.of(m.group(3)), dir, out, err);
            }
            if (!p.isAlive()) {
                break;
            }
            sleep(20);
        }
        ProcessRunner.killTree(p.toHandle());
        fail("no `jdryad: pid N waits for a debugger: gdb -p N -x .../jdryad.py` line\nstdout: " + read(out)
                + "\nstderr: " + read(err));
        return null;
    }

    String stdout() {
        return read(out);
    }

    String stderr() {
        return read(err);
    }

    /** gdb -batch -nx -p PID -x jdryad.py COMMANDS..., run as {@code prefix} (e.g. setpriv), with a timeout. */
    Result gdb(List<String> prefix, String... commands) {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of("gdb", "-batch", "-nx", "-p", Long.toString(pid), "-x", scripts.toString(),
                "-ex", "set confirm off"));
        for (String c : commands) {
            cmd.add("-ex");
            cmd.add(c);
        }
        Map<String, String> env = new HashMap<>(ProcessRunner.environment(dir, Map.of()));
        Result r = ProcessRunner.run(cmd, env, dir, Duration.ofSeconds(120));
        assertTrue(!r.timedOut(), () -> "gdb did not finish\n" + r.describe() + describe());
        return r;
    }

    /** jdryad's exit status, once it ends (within the timeout). */
    int waitFor(Duration timeout) {
        try {
            assertTrue(jvm.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS), () -> "jdryad did not end\n" + describe());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail("interrupted");
        }
        return jvm.exitValue();
    }

    /** The unix socket paths a process has bound (its socket fds, matched against /proc/net/unix). */
    static Set<Path> boundSockets(long pid) {
        Set<String> inodes = new TreeSet<>();
        try (var fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.startsWith("socket:[")) {
                        inodes.add(target.substring(8, target.length() - 1));
                    }
                } catch (IOException e) {
                    // closed meanwhile
                }
            }
            Set<Path> paths = new TreeSet<>();
            for (String line : Files.readAllLines(Path.of("/proc/net/unix"))) {
                String[] f = line.trim().split("\\s+");
                if (f.length >= 8 && inodes.contains(f[6]) && f[7].startsWith("/")) {
                    paths.add(Path.of(f[7]));
                }
            }
            return paths;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The files (of /dev/shm or elsewhere) a process maps whose name starts with {@code prefix}. */
    static Set<Path> mappedFiles(long pid, String prefix) {
        Set<Path> files = new TreeSet<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/maps"))) {
                int slash = line.indexOf('/');
                if (slash > 0) {
                    Path p = Path.of(line.substring(slash).replace(" (deleted)", ""));
                    if (p.getFileName().toString().startsWith(prefix)) {
                        files.add(p);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return files;
    }

    /** utime + stime of a process, in clock ticks. */
    static long cpuTicks(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[11]) + Long.parseLong(f[12]);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    String describe() {
        return "\njdryad's stdout: " + stdout() + "\njdryad's stderr: " + stderr();
    }

    @Override
    public void close() {
        ProcessRunner.killTree(jvm.toHandle());
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }

    static String read(Path p) {
        try {
            return Files.exists(p) ? Files.readString(p) : "";
        } catch (IOException e) {
            return e.toString();
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
