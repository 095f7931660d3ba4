package org.jdryad.run;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import org.jdryad.agent.AgentListener;
import org.jdryad.agent.AgentProcess;
import org.jdryad.debug.HistoryFile;
import org.jdryad.elf.ElfFile;
import org.jdryad.link.LinkSession;

/**
 * {@code jdryad run --follow}: the program and every program it and its descendants exec, each
 * loaded by jdryad, like {@code strace -f}.
 *
 * <p>Why a session: each exec replaces a process's image, and glibc's loader would load the new
 * one. So jdryad binds the exec family of every jdryad object to the agent's (native/exec.h),
 * which executes the agent again with the program in its argv; that agent connects to this
 * session's listener and says HELLO, and gets a link session of its own (a {@link ProgramRunner}
 * with its own record), as each {@code run} under {@code jdryad gdb} does. An image ends when
 * its connection closes (the socket is close-on-exec) and its process has gone or exec'ed again.
 * jdryad exits with the top-level program's status once the last followed process has gone,
 * and writes one history with every process image, its pid and parent pid.
 */
public final class FollowSession {
    /** glibc functions whose jdryad objects' references go to the agent's followers (exec.h). */
    static final String[][] FOLLOWED = {
        {"execve", "jdryad_execve"}, {"execv", "jdryad_execv"}, {"execvp", "jdryad_execvp"},
        {"execvpe", "jdryad_execvpe"}, {"execl", "jdryad_execl"}, {"execlp", "jdryad_execlp"},
        {"execle", "jdryad_execle"}, {"fexecve", "jdryad_fexecve"}, {"posix_spawn", "jdryad_posix_spawn"},
        {"posix_spawnp", "jdryad_posix_spawnp"}, {"system", "jdryad_system"}, {"popen", "jdryad_popen"},
        {"pclose", "jdryad_pclose"},
    };
    /**
     * How long the session waits for a late exec once no followed process is left (a descendant
     * that execs later finds no jdryad and runs its program as the kernel runs it).
     */
    private static final Duration LINGER = Duration.ofMillis(50);

    private final RunOptions options;
    /** Where the session runs: this JVM's own (cold), or a warm server's client's. */
    private final RunContext context;
    private final PrintStream err;
    private final BiFunction<Exception, String, String> describe;
    private volatile AgentListener listener;
    /** Null once the top-level program's run has returned. */
    private volatile ProgramRunner top;
    private volatile Process topProcess;
    private final Thread follower = new Thread(this::acceptExecs, "jdryad-follow");
    /** Every process image that connected, in order. */
    private final List<Image> images = new CopyOnWriteArrayList<>();
    private final AtomicInteger running = new AtomicInteger();
    /** Parsed agent binaries (by path): their .symtab names the followers. */
    private final Map<Path, Map<String, Long>> agentSymbols = new ConcurrentHashMap<>();

    /** One process image: the run that linked it, its pid and the pid of its parent then. */
    private record Image(ProgramRunner runner, long pid, long ppid) {
    }

    /** @param describe a load failure of a program (its argv[0]) in glibc's words, as {@code jdryad run} prints it */
    public FollowSession(RunOptions options, PrintStream err, BiFunction<Exception, String, String> describe) {
        this(options, RunContext.cold(err), describe);
    }

    /**
     * A session in {@code context}: with the warm server's, the top-level program is the client's
     * child and every process it execs connects to this session's listener in the server.
     */
    public FollowSession(RunOptions options, RunContext context, BiFunction<Exception, String, String> describe) {
        this.options = options;
        this.context = context;
        this.err = context.err();
        this.describe = describe;
    }

    /** Runs the program, following its execs; returns its exit status. */
    public int run() throws IOException {
        try (AgentListener l = AgentListener.open()) {
            listener = l;
            ProgramRunner first = new ProgramRunner(options.withHistoryFile(null), context, this);
            top = first;
            follower.setDaemon(true);
            int status;
            try {
                status = first.run();
            } finally {
                top = null; // the top-level program has gone: the follower ends with the last process
                join(follower);
                writeHistory();
            }
            return status;
        }
    }

    AgentListener listener() {
        return listener;
    }

    /** Whether {@code runner} runs the top-level program's first image (jdryad's child process). */
    boolean isTop(ProgramRunner runner) {
        return !images.isEmpty() && images.get(0).runner() == runner;
    }

    /** Serves each exec'ed agent that says HELLO, until the top-level and every followed process have gone. */
    private void acceptExecs() {
        long quietSince = -1;
        try {
            for (;;) {
                AgentListener.Arrival a = listener.next(Duration.ofMillis(5)); // (bounds how late the end is seen)
                if (a != null) {
                    quietSince = -1;
                    serve(a);
                } else if (top == null && running.get() == 0) {
                    quietSince = quietSince < 0 ? System.nanoTime() : quietSince;
                    if (System.nanoTime() - quietSince > LINGER.toNanos()) {
                        return;
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** One exec'ed agent: its program linked and run on a thread of its own. */
    private void serve(AgentListener.Arrival a) {
        ProgramRunner runner;
        try {
            runner = new ProgramRunner(FollowedExec.options(a.pid(), options), context, this);
        } catch (IOException | RuntimeException e) {
            closeQuietly(a); // not an exec'ed agent (or gone): it exits at end of file
            return;
        }
        running.incrementAndGet();
        Thread t = new Thread(() -> {
            try {
                runner.runFollowed(listener, a, topProcess);
            } catch (IOException | RuntimeException e) {
                err.println(describe.apply(e, runner.options().program()));
            } finally {
                closeQuietly(a); // (a failure before linking: the agent gets end of file and exits with 127)
                running.decrementAndGet();
            }
        }, "jdryad-followed-" + a.pid());
        t.setDaemon(true);
        t.start();
    }

    /**
     * A run connected to its agent: it is that process's newest image. The first is the
     * top-level program's: only once it has taken its HELLO are others accepted.
     */
    void connected(ProgramRunner runner, AgentProcess agent) {
        images.add(new Image(runner, agent.pid(), FollowedExec.parentOf(agent.pid())));
        if (images.size() == 1) {
            topProcess = agent.process(); // followed agents are described by it (they are not jdryad's children)
            follower.start();
        }
    }

    /**
     * The followers' addresses in {@code agent} (from its binary's .symtab: the agent's HELLO
     * names only the dl* entry points).
     */
    Map<String, Long> interposers(AgentProcess agent) {
        Map<String, Long> symbols = symbolsOf(agent);
        Map<String, Long> out = new HashMap<>();
        for (String[] pair : FOLLOWED) {
            Long v = symbols.get(pair[1]);
            if (v != null) {
                out.put(pair[0], agent.info().agentBase() + v);
            }
        }
        return out;
    }

    /** Tells the agent where the program's environ lives (execv and execvp use it). */
    void prepare(AgentProcess agent, LinkSession session) {
        Long slot = symbolsOf(agent).get("jd_follow_environ");
        long[] environ = ProgramIdentity.variableSlots(session, "environ", "__environ", "_environ");
        if (slot != null && environ.length > 0) {
            agent.write(agent.info().agentBase() + slot,
                    ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(environ[0]).array());
        }
    }

    private Map<String, Long> symbolsOf(AgentProcess agent) {
        Path exe = FollowedExec.executableOf(agent.pid());
        return agentSymbols.computeIfAbsent(exe, p -> {
            try {
                return ElfFile.open(p).staticSymbols();
            } catch (IOException e) {
                return Map.of();
            }
        });
    }

    /**
     * After an image's connection closed: waits until its process has gone or exec'ed a newer
     * image; returns the status for the top-level process (its last image's), else -1.
     */
    int awaitImageEnd(ProgramRunner runner, AgentProcess agent) {
        long pid = agent.pid();
        while (FollowedExec.alive(pid) && !hasNewerImage(runner, pid)) {
            if (agent.process().pid() == pid && !agent.process().isAlive()) {
                break;
            }
            sleep(20);
        }
        return isTop(runner) ? agent.waitForExit() : -1;
    }

    private boolean hasNewerImage(ProgramRunner runner, long pid) {
        boolean seen = false;
        for (Image i : images) {
            if (i.runner() == runner) {
                seen = true;
            } else if (seen && i.pid() == pid) {
                return true;
            }
        }
        return false;
    }

    /** Re-executes an exec'ed agent as {@code variant} (the static TLS it needs), same argv and environment. */
    void reexec(AgentProcess agent, Path variant) {
        List<String> argv = new ArrayList<>(FollowedExec.cmdline(agent.pid()));
        argv.set(0, variant.toString());
        long fn = agent.info().agentBase() + symbolsOf(agent).getOrDefault("jdryad_follow_reexec", 0L);
        try {
            agent.call(fn, agent.placeStrings(argv), agent.placeStrings(FollowedExec.environ(agent.pid())));
        } catch (RuntimeException e) {
            // the exec succeeded: the connection ended with the old image
        }
    }

    /**
     * An exec'ed program that cannot be loaded: its process prints glibc's words on its own
     * stderr and exits with 127, as under glibc's loader.
     */
    void fail(AgentListener l, AgentListener.Arrival arrival, Process topProcess, Exception e, String program) {
        String message = describe.apply(e, program) + "\n";
        try (AgentProcess agent = AgentProcess.connect(l, arrival, topProcess, null, false)) {
            Long fn = symbolsOf(agent).get("jdryad_follow_fail");
            if (fn == null) {
                err.print(message);
                return;
            }
            long text = agent.readLong(agent.placeStrings(List.of(message)));
            agent.call(agent.info().agentBase() + fn, text);
        } catch (RuntimeException ex) {
            // the agent exited (the call does not return)
        }
    }

    /** Whether the agent process {@code pid} runs has at least the static TLS reservation of {@code needed}. */
    static boolean agentFits(long pid, Path needed) {
        return FollowedExec.reservationOf(FollowedExec.executableOf(pid)) >= FollowedExec.reservationOf(needed);
    }

    /**
     * One history for the whole session: the top-level fields describe the first process, as
     * without --follow; {@code processes} lists every process image in the order they started,
     * each with its pid and parent pid.
     */
    private void writeHistory() {
        Path file = options.historyFile();
        if (file == null || images.isEmpty()) {
            return;
        }
        JsonArray processes = new JsonArray();
        JsonObject first = null;
        Image topImage = images.get(0);
        int topStatus = topImage.runner().record().ending().status();
        for (int n = 0; n < images.size(); n++) {
            Image i = images.get(n);
            boolean execed = later(n, i.pid());
            HistoryFile.Ending e = i.runner().record().ending();
            // An exec'ed image has no status of its own; the top-level process's last has jdryad's.
            int status = execed ? -1 : i.pid() == topImage.pid() ? topStatus : e.status();
            HistoryFile.Ending shown = new HistoryFile.Ending(status, e.problem());
            JsonObject p = i.runner().record().historyJson(shown);
            p.addProperty("ppid", i.ppid());
            p.addProperty("ended", execed ? "exec" : "exit");
            processes.add(p);
            if (first == null) {
                first = i.runner().record().historyJson(shown);
                first.addProperty("ppid", i.ppid());
            }
        }
        first.add("processes", processes);
        try {
            HistoryFile.write(file, first);
        } catch (IOException | RuntimeException ex) {
            err.println("jdryad: cannot write the history to " + file + ": " + ex.getMessage());
        }
    }

    private boolean later(int n, long pid) {
        for (int k = n + 1; k < images.size(); k++) {
            if (images.get(k).pid() == pid) {
                return true;
            }
        }
        return false;
    }

    private static void join(Thread t) {
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(AgentListener.Arrival a) {
        try {
            a.channel().close();
        } catch (IOException ignored) {
            // closing
        }
    }
}
