package org.jdryad.server;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jdryad.agent.PeerProcess;
import org.jdryad.agent.Spawner;
import org.jdryad.cli.Invocation;
import org.jdryad.cli.Main;

/**
 * One client's command line, served on its own thread: the request (argv, environment, working
 * directory) becomes an {@link Invocation} that the same picocli code runs as in cold mode;
 * jdryad's stdout and stderr become OUT frames, the program's process is started by the client
 * (SPAWN, answered by STARTED; ENDED says how it ended), and EXIT ends the client with the
 * status. Why nothing is shared between sessions but the JVM: one run's failure (an exception,
 * a dead client) ends that session alone.
 */
final class ClientSession implements Runnable, Spawner {
    private final SocketChannel channel;
    private final WarmServer server;
    private final Object writeLock = new Object();
    private final Object spawnLock = new Object();
    private volatile CompletableFuture<RemoteProcess> spawning;
    private final List<RemoteProcess> started = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile boolean gone;
    private Path workingDirectory = Path.of("/");
    private volatile PrintStream out;
    private volatile PrintStream err;
    /** OUT frames sent, and how many of them the client had written at the last SYNCED. */
    private final java.util.concurrent.atomic.AtomicLong outFrames = new java.util.concurrent.atomic.AtomicLong();
    private long settledFrames;
    private final Object settleLock = new Object();
    private int syncToken;
    /** The token of the last SYNCED (guarded by itself; notified then, and when the client goes). */
    private final int[] synced = {0};
    private Map<String, String> environment = Map.of();

    ClientSession(SocketChannel channel, WarmServer server) {
        this.channel = channel;
        this.server = server;
    }

    @Override
    public void run() {
        try (channel) {
            ClientWire.Frame f = ClientWire.read(channel);
            if (f == null || f.type() != ClientWire.REQUEST) {
                return;
            }
            workingDirectory = Path.of(f.payload().str());
            List<String> argv = f.payload().strs();
            List<String> given = f.payload().strs();
            Map<String, String> launcher = toMap(f.payload().strs());
            environment = toMap(given);
            startReader();
            if (!argv.isEmpty() && argv.get(0).equals("server")) {
                send(new ClientWire.Writer(ClientWire.EXIT).u32(server.control(argv, this::print)));
                return;
            }
            if (argv.isEmpty() || !Invocation.WARM_COMMANDS.contains(argv.get(0))) {
                send(new ClientWire.Writer(ClientWire.COLD).str("not a command the warm server runs"));
                return;
            }
            out = stream(1);
            err = stream(2);
            Invocation inv = new Invocation(environment, launcher, workingDirectory, out, err, this);
            int status = Main.execute(inv, argv.toArray(new String[0]));
            out.flush();
            err.flush();
            if (inv.coldReason() != null) {
                send(new ClientWire.Writer(ClientWire.COLD).str(inv.coldReason()));
            } else {
                send(new ClientWire.Writer(ClientWire.EXIT).u32(status));
            }
        } catch (IOException | RuntimeException e) {
            // the client went away, or sent what no client sends: this session ends
        } finally {
            gone = true;
            started.forEach(RemoteProcess::lost);
        }
    }

    /** "K=V" entries as a map in their order (the first of a repeated name wins, as getenv's). */
    private static Map<String, String> toMap(List<String> entries) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String e : entries) {
            int eq = e.indexOf('=');
            if (eq > 0) {
                m.putIfAbsent(e.substring(0, eq), e.substring(eq + 1));
            }
        }
        return m;
    }

    /** Reads what the client says while the command runs: its child's pid, or how the child ended. */
    private void startReader() {
        Thread t = new Thread(() -> {
            try {
                for (;;) {
                    ClientWire.Frame f = ClientWire.read(channel);
                    if (f == null) {
                        break;
                    }
                    switch (f.type()) {
                        case ClientWire.STARTED -> started(Integer.toUnsignedLong(f.payload().u32()));
                        case ClientWire.SPAWN_FAILED -> fail(new IOException(f.payload().str()));
                        case ClientWire.SYNCED -> {
                            int token = f.payload().u32();
                            synchronized (synced) {
                                synced[0] = token;
                                synced.notifyAll();
                            }
                        }
                        case ClientWire.ENDED -> {
                            int st = f.payload().u32();
                            started.forEach(p -> p.ended(st));
                        }
                        default -> throw new IOException("unknown message " + f.type());
                    }
                }
            } catch (IOException e) {
                // the connection ends: as at the end of the stream
            }
            gone = true;
            fail(new IOException("the jdryad client went away"));
            synchronized (synced) {
                synced.notifyAll();
            }
            started.forEach(RemoteProcess::lost);
        }, "jdryad-client-reader");
        t.setDaemon(true);
        t.start();
    }

    /**
     * The client started the program as {@code pid}: refused when that pid is a live process that
     * is not the client's own child (SO_PEERCRED's pid is not its parent), since the server
     * signals and watches it. A pid that is gone already is taken: a program that needs no Java
     * (a static one) may have ended and been reaped by the client before this frame was read.
     */
    private void started(long pid) {
        OptionalLong client = PeerProcess.pid(channel);
        long parent = PeerProcess.parentOf(pid);
        if (client.isEmpty() || (parent != -1 && parent != client.getAsLong())) {
            System.err.println("jdryad server: refused a client's STARTED: pid " + pid + " is not its child");
            fail(new IOException("the jdryad client reported pid " + pid + ", which is not its child"));
            return;
        }
        complete(new RemoteProcess(pid));
    }

    private void complete(RemoteProcess p) {
        started.add(p);
        CompletableFuture<RemoteProcess> s = spawning;
        if (s != null) {
            s.complete(p);
        }
    }

    private void fail(IOException e) {
        CompletableFuture<RemoteProcess> s = spawning;
        if (s != null) {
            s.completeExceptionally(e);
        }
    }

    /** Asks the client to start {@code command} (a bare name is found on the program's PATH). */
    @Override
    public Process spawn(List<String> command, Map<String, String> env) throws IOException {
        synchronized (spawnLock) {
            if (gone) {
                throw new IOException("the jdryad client went away");
            }
            CompletableFuture<RemoteProcess> s = new CompletableFuture<>();
            spawning = s;
            List<String> envp = new ArrayList<>();
            env.forEach((k, v) -> envp.add(k + "=" + v));
            send(new ClientWire.Writer(ClientWire.SPAWN).str(executable(command.get(0))).strs(command).strs(envp));
            try {
                return s.get(60, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                throw new IOException(e.getCause().getMessage(), e.getCause());
            } catch (TimeoutException e) {
                throw new IOException("the jdryad client did not start " + command.get(0) + " within 60 s");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            }
        }
    }

    @Override
    public boolean local() {
        return false;
    }

    /**
     * Flushes jdryad's stdout and stderr and, when OUT frames went out since the last time,
     * waits (at most 10 s: a client whose terminal is stuck does not stop the program for
     * ever) until the client says it has written them: a SYNC, answered by SYNCED.
     */
    @Override
    public void settleOutput() {
        synchronized (settleLock) {
            PrintStream o = out;
            PrintStream e = err;
            if (o != null) {
                o.flush();
            }
            if (e != null) {
                e.flush();
            }
            long sent = outFrames.get();
            if (sent == settledFrames || gone) {
                return;
            }
            int token = ++syncToken;
            try {
                send(new ClientWire.Writer(ClientWire.SYNC).u32(token));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                synchronized (synced) {
                    long left;
                    while (synced[0] != token && !gone && (left = deadline - System.nanoTime()) > 0) {
                        TimeUnit.NANOSECONDS.timedWait(synced, left);
                    }
                    if (synced[0] == token) {
                        settledFrames = sent;
                    }
                }
            } catch (IOException ex) {
                // the client went away: the program goes on (a stuck terminal: after 10 s)
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** What the client execs for {@code name}: a path resolved in its directory, or found on its PATH. */
    private String executable(String name) {
        if (name.contains("/")) {
            return workingDirectory.resolve(name).toString();
        }
        String path = environment.getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin");
        for (String dir : path.split(":", -1)) {
            Path p = workingDirectory.resolve(dir.isEmpty() ? "." : dir).resolve(name);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return name;
    }

    private void print(String text) {
        try {
            byte[] b = text.getBytes(StandardCharsets.UTF_8);
            send(new ClientWire.Writer(ClientWire.OUT).u32(1).bytes(b, 0, b.length));
        } catch (IOException e) {
            // the client went away
        }
    }

    private void send(ClientWire.Writer w) throws IOException {
        synchronized (writeLock) {
            w.send(channel);
        }
    }

    /** jdryad's stdout (1) or stderr (2) in the client: OUT frames, a line (or a full buffer) at a time. */
    private PrintStream stream(int fd) {
        OutputStream framed = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                outFrames.incrementAndGet();
                send(new ClientWire.Writer(ClientWire.OUT).u32(fd).bytes(b, off, len));
            }
        };
        return new PrintStream(new BufferedOutputStream(framed, 8192), true, StandardCharsets.UTF_8);
    }
}
