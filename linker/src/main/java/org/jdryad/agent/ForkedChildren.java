package org.jdryad.agent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The connections of forked children. Why they exist: a child made by fork inherits its
 * parent's lazily bound PLT slots, and its first call through one must be bound like any other
 * (and recorded under the child's pid); but the parent's socket is the parent's. So the agent
 * socket stays open for the agent's lifetime, and a child that makes a lazy first call connects
 * to it anew, says HELLO_CHILD, and sends CB_LAZY callbacks only. Java sends a child no
 * requests: its memory is a copy of the parent's, so every answer is an address both share.
 *
 * <p>Only processes of jdryad's own user are served (SO_PEERCRED); the socket lives in a 0700
 * directory.
 */
final class ForkedChildren implements AutoCloseable {
    /** What a child asks: its first call through a slot (see {@link CallbackHandler#bindLazily}). */
    interface LazyHandler {
        CallbackReply bindLazily(long object, long index, long caller, long tid, long pid);
    }

    private final ServerSocketChannel server;
    private final Path socket;
    private final Path directory;
    private final LazyHandler handler;
    private final List<SocketChannel> children = new CopyOnWriteArrayList<>();
    private volatile boolean closed;
    private volatile java.nio.file.attribute.UserPrincipal owner;

    ForkedChildren(ServerSocketChannel server, Path socket, Path directory, LazyHandler handler) {
        this.server = server;
        this.socket = socket;
        this.directory = directory;
        this.handler = handler;
    }

    /** The private (0700) directory the socket lives in. */
    Path directory() {
        return directory;
    }

    /** Accepts children from now on, each served on a thread of its own. */
    void start() throws IOException {
        owner = Files.getOwner(directory); // jdryad's user: the directory was made 0700 for it
        server.configureBlocking(true);
        Thread t = new Thread(this::acceptLoop, "jdryad-forked-children");
        t.setDaemon(true);
        t.start();
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                SocketChannel ch = server.accept();
                if (!PeerCheck.admits(ch, owner)) {
                    ch.close();
                    continue;
                }
                children.add(ch);
                Thread t = new Thread(() -> serve(ch), "jdryad-forked-child");
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

    /** One child: HELLO_CHILD, then lazy callbacks until it exits (or execs: the socket is CLOEXEC). */
    private void serve(SocketChannel ch) {
        try (ch) {
            byte[][] hello = AgentWire.readFrame(ch);
            if (hello == null || header(hello).getInt(4) != Protocol.HELLO_CHILD) {
                return;
            }
            Payload.Reader hr = new Payload.Reader(hello[1]);
            long pid = hr.q();
            for (;;) {
                byte[][] f = AgentWire.readFrame(ch);
                if (f == null) {
                    return;
                }
                int type = header(f).getInt(4);
                long seq = header(f).getLong(8);
                CallbackReply reply;
                try {
                    Payload.Reader r = new Payload.Reader(f[1]);
                    long tid = r.q();
                    if (type == Protocol.CB_LAZY) {
                        long object = r.q(), index = r.q();
                        reply = handler.bindLazily(object, index, r.q(), tid, pid);
                    } else {
                        reply = CallbackReply.error("jdryad: a forked child is served lazy binding only");
                    }
                } catch (RuntimeException e) {
                    reply = CallbackReply.error("jdryad: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
                }
                AgentWire.writeFrame(ch, type | Protocol.REPLY, seq, AgentWire.encode(reply));
            }
        } catch (IOException | RuntimeException e) {
            // the child went away, or sent what no agent sends: its connection ends here
        } finally {
            children.remove(ch);
        }
    }

    private static ByteBuffer header(byte[][] frame) {
        return ByteBuffer.wrap(frame[0]).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Stops accepting, drops every child's connection and removes the socket and its directory. */
    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        for (SocketChannel ch : children) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing
            }
        }
        try {
            Files.deleteIfExists(socket);
            Files.deleteIfExists(directory);
        } catch (IOException ignored) {
            // best effort
        }
    }
}
