package org.jdryad.run;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.jdryad.agent.AgentListener;
import org.jdryad.agent.AgentProcess;
import org.jdryad.debug.ActivityEvent;
import org.jdryad.debug.Binding;
import org.jdryad.debug.CallSites;
import org.jdryad.debug.DebugOptions;
import org.jdryad.debug.HistoryFile;
import org.jdryad.debug.QueryServer;
import org.jdryad.elf.ElfFile;
import sun.misc.Signal;

/**
 * {@code jdryad gdb}: gdb on a jdryad process, for as many {@code run}s as the user types.
 *
 * <p>Why a session and not one run: under gdb the program's process is gdb's inferior, started
 * anew by every {@code run} (and {@code start}), with the arguments, redirections and
 * environment that gdb gives it then. So jdryad starts gdb once, on the agent, and listens; each
 * agent that gdb starts connects and says HELLO, and gets a link session of its own (a fresh
 * {@link ProgramRunner}: its own history, events and lazy tables) for the program with the
 * arguments that agent was given ({@code run ARGS}) and gdb's changes to the environment
 * ({@code set environment}, LINES and COLUMNS). One query server serves the session, always
 * about the run in progress. When gdb exits, jdryad exits with gdb's status: how the program
 * ended is gdb's to report, as it is under {@code gdb PROG}.
 */
public final class GdbSession {
    /** What jdryad adds to the environment gdb gives its inferior; not the program's. */
    private static final List<String> OURS = List.of("JDRYAD_SOCKET", "JDRYAD_PID", "JDRYAD_QUERY_SOCKET", "LD_BIND_NOW");

    private final RunOptions options;
    private final PrintStream err;
    private final Function<Exception, String> describe;
    private volatile ProgramRunner current;

    /**
     * @param options the run; {@code options.gdb()} is gdb's command line up to {@code --args}
     * @param describe a load failure in the words the CLI uses for {@code jdryad run} (glibc's)
     */
    public GdbSession(RunOptions options, PrintStream err, Function<Exception, String> describe) {
        this.options = options;
        this.err = err;
        this.describe = describe;
    }

    /**
     * The agent gdb starts: the one for the program's static TLS, or the smallest when the
     * search fails (a library missing or malformed), so that gdb starts anyway and each run
     * fails in glibc's words with status 127, as it does under gdb natively.
     */
    private Path agentFor(RunOptions quiet, ElfFile exe) throws IOException {
        try {
            return new ProgramRunner(quiet, err).agentBinary(exe);
        } catch (org.jdryad.link.LinkException e) {
            return AgentBinary.locate(0);
        }
    }

    /** Runs gdb until it exits; returns gdb's exit status. */
    public int run() throws IOException {
        RunOptions run = options;
        for (Optional<RunOptions> interp = Shebang.interpreterRun(run); interp.isPresent();
             interp = Shebang.interpreterRun(run)) {
            run = interp.get();
        }
        ElfFile exe = ElfFile.open(Path.of(run.executable()));
        if (exe.isStatic()) {
            return gdbOnStaticProgram(run);
        }
        // The agent gdb starts is chosen once, for the static TLS the program needs (quietly:
        // every run's search prints its own LD_DEBUG lines).
        RunOptions quiet = run.withDebug(DebugOptions.NONE);
        Path agentBinary = agentFor(quiet, exe);
        final RunOptions base = run;
        QueryServer.Source idle = nothingYet(base.program());
        try (AgentListener listener = AgentListener.open();
             QueryServer query = ProgramRunner.startQueryServer(base, () -> currentSource(idle), err)) {
            Map<String, String> gdbEnv = new LinkedHashMap<>(ProgramRunner.agentEnvironment(base));
            gdbEnv.putAll(AgentProcess.environmentFor(listener));
            if (query != null) {
                gdbEnv.put("JDRYAD_QUERY_SOCKET", query.socket().toString()); // the scripts' way in without memory
            }
            List<String> command = new ArrayList<>(base.gdb());
            command.add(agentBinary.toString());
            command.addAll(base.args());
            Process gdb = start(command, gdbEnv);
            ignoreTerminalSignals(gdb);
            serveRuns(listener, gdb, query, base, gdbEnv);
            return waitFor(gdb);
        }
    }

    /** Each agent gdb starts, linked and run in turn, until gdb has exited. */
    private void serveRuns(AgentListener listener, Process gdb, QueryServer query, RunOptions base,
                           Map<String, String> gdbEnv) {
        try {
            AgentListener.Arrival arrival;
            while ((arrival = listener.await(gdb, Duration.ofDays(3650))) != null) {
                RunOptions thisRun = base.withArgsAndEnvironment(argumentsOf(arrival.pid(), base.args()),
                        environmentOf(arrival.pid(), base.environment(), gdbEnv));
                ProgramRunner runner = new ProgramRunner(thisRun, err);
                current = runner;
                try {
                    runner.runUnderDebugger(listener, arrival, gdb, query);
                } catch (IOException | RuntimeException e) {
                    // The agent gets end of file (also when the search failed before it was
                    // taken on) and exits with 127; gdb says so.
                    err.println(describe.apply(e));
                    closeQuietly(arrival);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            gdb.destroy();
        }
    }

    private static void closeQuietly(AgentListener.Arrival arrival) {
        try {
            arrival.channel().close();
        } catch (IOException ignored) {
            // the agent sees end of file either way
        }
    }

    /** A statically linked program needs no loader: gdb runs it as it is. */
    private static int gdbOnStaticProgram(RunOptions run) throws IOException {
        List<String> command = new ArrayList<>(run.gdb());
        command.add(run.executable());
        command.addAll(run.args());
        Process gdb = start(command, run.environment());
        ignoreTerminalSignals(gdb);
        return waitFor(gdb);
    }

    private static Process start(List<String> command, Map<String, String> env) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).inheritIO();
        pb.environment().clear();
        pb.environment().putAll(env);
        return pb.start();
    }

    private static int waitFor(Process gdb) {
        try {
            return gdb.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            gdb.destroy();
            return 130;
        }
    }

    /**
     * Ctrl-C at gdb's prompt reaches the whole foreground process group, jdryad's JVM too: gdb
     * interrupts the program with it, so the JVM ignores it (and Ctrl-\). SIGTERM and SIGHUP
     * sent to jdryad go to gdb, which ends the session in its own way.
     */
    private static void ignoreTerminalSignals(Process gdb) {
        for (String name : new String[] {"INT", "QUIT"}) {
            handle(name, sig -> { });
        }
        for (String name : new String[] {"TERM", "HUP"}) {
            handle(name, sig -> gdb.destroy());
        }
    }

    private static void handle(String name, sun.misc.SignalHandler handler) {
        try {
            Signal.handle(new Signal(name), handler);
        } catch (IllegalArgumentException e) {
            // reserved by the JVM under some options: left alone
        }
    }

    /**
     * The program's arguments for this run: the agent's own (gdb started it with those of
     * {@code --args}, or of {@code run ARGS}, after its shell expanded them), from its cmdline.
     */
    static List<String> argumentsOf(long pid, List<String> fallback) {
        try {
            List<String> argv = splitNul(Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline")));
            return argv.isEmpty() ? fallback : List.copyOf(argv.subList(1, argv.size()));
        } catch (IOException e) {
            return fallback;
        }
    }

    /**
     * The program's environment for this run: the one jdryad was given, with what gdb changed
     * in the environment it gave the agent (LINES and COLUMNS, {@code set environment},
     * {@code unset environment}) applied in order.
     */
    static Map<String, String> environmentOf(long pid, Map<String, String> given, Map<String, String> gaveGdb) {
        Map<String, String> actual = new LinkedHashMap<>();
        try {
            for (String e : splitNul(Files.readAllBytes(Path.of("/proc/" + pid + "/environ")))) {
                int eq = e.indexOf('=');
                if (eq > 0) {
                    actual.putIfAbsent(e.substring(0, eq), e.substring(eq + 1));
                }
            }
        } catch (IOException e) {
            return given;
        }
        Map<String, String> env = new LinkedHashMap<>(given);
        for (String k : gaveGdb.keySet()) {
            if (!OURS.contains(k) && !actual.containsKey(k)) {
                env.remove(k); // unset environment K
            }
        }
        actual.forEach((k, v) -> {
            if (!OURS.contains(k) && !v.equals(gaveGdb.get(k))) {
                env.put(k, v); // set by gdb
            }
        });
        return env;
    }


    /** The NUL-separated strings of a /proc file such as cmdline or environ (a last one unterminated is dropped). */
    public static List<String> splitNul(byte[] raw) {
        List<String> out = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < raw.length; i++) {
            if (raw[i] == 0) {
                out.add(org.jdryad.agent.RawText.decode(raw, start, i - start)); // the program's bytes, exactly
                start = i + 1;
            }
        }
        return out;
    }

    /** The query server's view: the run in progress (or the last one, between runs). */
    private QueryServer.Source currentSource(QueryServer.Source beforeTheFirstRun) {
        ProgramRunner r = current;
        return r == null ? beforeTheFirstRun : r.querySource();
    }

    /** What the query server tells before gdb's first {@code run}: nothing is loaded yet. */
    private static QueryServer.Source nothingYet(String program) {
        return new QueryServer.Source() {
            @Override
            public List<HistoryFile.ObjectInfo> objects() {
                return List.of();
            }

            @Override
            public List<Binding> bindings() {
                return List.of();
            }

            @Override
            public List<ActivityEvent> events() {
                return List.of();
            }

            @Override
            public CallSites sites() {
                return new CallSites(List.of());
            }

            @Override
            public long pid() {
                return 0;
            }

            @Override
            public String program() {
                return program;
            }
        };
    }
}
