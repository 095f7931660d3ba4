package org.jdryad.agent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The socket agents connect to, and the router of what connects.
 *
 * <p>Why one listener for many connections: a run's agent says HELLO on it, each forked child
 * that makes a lazy first call says HELLO_CHILD on it (see {@link ForkedChildren}), and under
 * gdb every {@code run} command starts a new agent, a new program for a new link session, that
 * says HELLO on the same socket gdb's environment names. The listener accepts, admits only
 * jdryad's own user (the socket lives in a 0700 directory, and SO_PEERCRED is checked as
 * well), reads the first frame on a thread of the connection's own (a silent peer holds up
 * nobody, and is dropped when its first frame has not come within {@link #FIRST_FRAME_DEADLINE};
 * a first frame is at most {@link Protocol#MAX_FIRST_FRAME} bytes), and routes it: a HELLO to
 * whoever waits for an agent (only a HELLO that parses whole), a HELLO_CHILD to the run whose
 * process forked the child.
 *
 * <p>Why the peer's pid is checked too: the private directory and the user check keep out other
 * users, not other processes of jdryad's user. The kernel's record of who connected
 * ({@link PeerProcess}, SO_PEERCRED's pid) must be the pid a HELLO or HELLO_CHILD claims, and a
 * HELLO_CHILD's pid must descend from the run's program (its /proc parent chain reaches it); a
 * peer that fails gets an error reply and one line on stderr, and the run goes on.
 */
public final class AgentListener implements AutoCloseable {
    /** An agent that connected and said HELLO: its connection and the HELLO's payload. */
    public record Arrival(SocketChannel channel, byte[] hello) {
        /** The agent's pid, as its HELLO says. */
        public long pid() {
            return new Payload.Reader(hello).q();
        }
    }

    /** How long a new connection may take to send its first frame before it is closed. */
    static final Duration FIRST_FRAME_DEADLINE = Duration.ofSeconds(30);

    private final PrivateSocket listening;
    private final ServerSocketChannel server;
    private final UserPrincipal owner;
    private final BlockingQueue<Arrival> agents = new LinkedBlockingQueue<>();
    private final List<ForkedChildren> runs = new CopyOnWriteArrayList<>();
    /** Connections accepted whose first frame has not been read yet (closed with the listener). */
    private final List<SocketChannel> unrouted = new CopyOnWriteArrayList<>();
    private final Duration firstFrameDeadline;
    private final ScheduledExecutorService deadlines = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "jdryad-agent-deadlines");
        t.setDaemon(true);
        return t;
    });
    private volatile boolean closed;

    private AgentListener(PrivateSocket listening, Duration firstFrameDeadline) {
        this.listening = listening;
        this.firstFrameDeadline = firstFrameDeadline;
        this.server = listening.server();
        this.owner = listening.owner();
    }

    /** Listens on a new socket in a new private directory; accepting starts at once. */
    public static AgentListener open() throws IOException {
        return open(FIRST_FRAME_DEADLINE);
    }

    /** As {@link #open()}, closing connections whose first frame has not come within {@code firstFrameDeadline}. */
    static AgentListener open(Duration firstFrameDeadline) throws IOException {
        PrivateSocket ps = PrivateSocket.open("jdryad-", "agent.sock");
        AgentListener l = new AgentListener(ps, firstFrameDeadline);
        Thread t = new Thread(l::acceptLoop, "jdryad-agent-listener");
        t.setDaemon(true);
        t.start();
        return l;
    }

    /** The socket's path (the agent's JDRYAD_SOCKET). */
    public Path socket() {
        return listening.socket();
    }

    /** The private (0700) directory the socket lives in. */
    public Path directory() {
        return listening.directory();
    }

    /**
     * Waits for the next agent's HELLO. Returns null when {@code watched} (the agent, or the
     * debugger it runs under) has ended with no agent waiting, or when {@code timeout} passed.
     */
    public Arrival await(Process watched, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + Math.min(timeout.toNanos(), Long.MAX_VALUE / 4);
        for (;;) {
            Arrival a = agents.poll(20, TimeUnit.MILLISECONDS);
            if (a != null && startedBy(a, watched)) {
                return a;
            }
            if (!watched.isAlive()) {
                // It may have said HELLO just before it ended (then its connection says the rest).
                a = agents.poll(50, TimeUnit.MILLISECONDS);
                return a != null && startedBy(a, watched) ? a : null;
            }
            if (System.nanoTime() > deadline || closed) {
                return null;
            }
        }
    }

    /**
     * Whether the agent that said HELLO (its pid checked against the peer's already) is the
     * process jdryad started, or one of its descendants (a wrapper's child, gdb's inferior);
     * another process of the user that says HELLO first is refused and the wait goes on.
     */
    private static boolean startedBy(Arrival a, Process watched) {
        long pid = a.pid();
        if (pid == watched.pid() || PeerProcess.descendsFrom(pid, watched.pid())) {
            return true;
        }
        refuse(a.channel(), Protocol.HELLO, "HELLO", "pid " + pid + " is not the process jdryad started (pid "
                + watched.pid() + ") nor one of its descendants");
        try {
            a.channel().close();
        } catch (IOException ignored) {
            // closed either way
        }
        return false;
    }

    /** The next agent's HELLO, or null when none came within {@code timeout} (or the listener closed). */
    public Arrival next(Duration timeout) throws InterruptedException {
        return closed ? null : agents.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** Routes HELLO_CHILD from the children of {@code run}'s process to it, until it is closed. */
    void register(ForkedChildren run) {
        runs.add(run);
    }

    void unregister(ForkedChildren run) {
        runs.remove(run);
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                SocketChannel ch = server.accept();
                if (!PeerCheck.admits(ch, owner)) {
                    ch.close();
                    continue;
                }
                unrouted.add(ch);
                try {
                    deadlines.schedule(() -> dropIfUnrouted(ch), firstFrameDeadline.toMillis(), TimeUnit.MILLISECONDS);
                } catch (RejectedExecutionException e) {
                    ch.close(); // the listener closed meanwhile
                    return;
                }
                Thread t = new Thread(() -> route(ch), "jdryad-agent-connection");
                t.setDaemon(true);
                t.start();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (closed) {
                    return;
                }
            }
        }
    }

    /** Reads the first frame and hands the connection to whoever it is for; anything else is closed. */
    private void route(SocketChannel ch) {
        boolean handed = false;
        try {
            byte[][] first = AgentWire.readFrame(ch, Protocol.MAX_FIRST_FRAME);
            unrouted.remove(ch);
            if (first == null || closed) {
                return;
            }
            int type = ByteBuffer.wrap(first[0]).order(ByteOrder.LITTLE_ENDIAN).getInt(4);
            if (type == Protocol.HELLO) {
                AgentWire.parseHello(first[1]); // a truncated HELLO is refused here, not by the run it would reach
                long claimed = new Payload.Reader(first[1]).q();
                String wrong = wrongPeer(ch, claimed);
                if (wrong != null) {
                    refuse(ch, type, "HELLO", wrong);
                    return;
                }
                handed = agents.offer(new Arrival(ch, first[1]));
            } else if (type == Protocol.HELLO_CHILD) {
                ForkedChildren run = runOf(first[1]);
                if (run != null) {
                    String wrong = wrongChild(ch, run, first[1]);
                    if (wrong != null) {
                        refuse(ch, type, "HELLO_CHILD", wrong);
                        return;
                    }
                    handed = true;
                    run.serve(ch, first[1]); // on this thread, until the child goes
                }
            }
        } catch (IOException | RuntimeException e) {
            // a peer that sent what no agent sends: its connection ends here
        } finally {
            unrouted.remove(ch);
            if (!handed) {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // closing
                }
            }
        }
    }

    /** Why the peer of {@code ch} is not process {@code claimed}, or null when it is. */
    private static String wrongPeer(SocketChannel ch, long claimed) {
        OptionalLong peer = PeerProcess.pid(ch);
        if (peer.isEmpty()) {
            return "its process cannot be told (SO_PEERCRED)";
        }
        return peer.getAsLong() == claimed ? null : "it claims pid " + claimed + " but is pid " + peer.getAsLong();
    }

    /**
     * Why a HELLO_CHILD on {@code ch} is not from a child of {@code run}'s program, or null when
     * it is: the peer must be the pid it claims, and that pid's parent chain must reach the
     * program (a fork child, or a grandchild; or the program itself, reconnecting).
     */
    private static String wrongChild(SocketChannel ch, ForkedChildren run, byte[] hello) {
        long child = new Payload.Reader(hello).q();
        String wrong = wrongPeer(ch, child);
        if (wrong != null) {
            return wrong;
        }
        // (the program itself, too: after it closed every descriptor, its agent connects anew)
        return PeerProcess.descendsFrom(child, run.programPid()) ? null
                : "pid " + child + " does not descend from the program, pid " + run.programPid();
    }

    /** Tells the peer why it is refused, in one error reply and one line on stderr; the connection is then closed. */
    private static void refuse(SocketChannel ch, int type, String what, String why) {
        System.err.println("jdryad: refused a " + what + " on the agent socket: " + why);
        try {
            AgentWire.writeFrame(ch, type | Protocol.REPLY, 0,
                    new Payload.Writer().q(-1 /* EPERM */).s("jdryad: refused: " + why));
        } catch (IOException | RuntimeException e) {
            // the peer went: it is closed anyway
        }
    }

    /** Closes a connection that still has not sent its first frame (its reader then ends). */
    private void dropIfUnrouted(SocketChannel ch) {
        if (unrouted.remove(ch)) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }

    /** The run whose process (or one of whose children) is the parent named in a HELLO_CHILD. */
    private ForkedChildren runOf(byte[] hello) {
        Payload.Reader r = new Payload.Reader(hello);
        r.q(); // the child's pid
        long parent = r.q();
        for (ForkedChildren run : runs) {
            if (run.knows(parent)) {
                return run;
            }
        }
        return null;
    }

    /** Stops accepting, drops what was not handed on, removes the socket and its directory. */
    @Override
    public void close() {
        closed = true;
        deadlines.shutdownNow();
        listening.close(); // (a lazy log of a run may still be in the directory: the run removes it)
        for (SocketChannel ch : unrouted) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing
            }
        }
        Arrival a;
        while ((a = agents.poll()) != null) {
            try {
                a.channel().close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }
}
