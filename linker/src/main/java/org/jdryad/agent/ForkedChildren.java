package org.jdryad.agent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The connections of one run's forked children. Why they exist: a child made by fork inherits
 * its parent's lazily bound PLT slots, and its first call through one must be bound like any
 * other (and recorded under the child's pid); but the parent's socket is the parent's. So a
 * child that makes a lazy first call connects anew to the agent socket ({@link AgentListener}),
 * says HELLO_CHILD with its own and its parent's pid, and sends CB_LAZY callbacks only. Java
 * sends a child no requests: its memory is a copy of the parent's, so every answer is an
 * address both share.
 *
 * <p>A child is this run's when its parent is the run's agent or one of the run's children
 * already seen (a grandchild); under gdb, a child of an earlier {@code run} is not served by a
 * later run's session, whose answers would be addresses in another process's layout.
 */
final class ForkedChildren implements AutoCloseable {
    /** What a child asks: its first call through a slot (see {@link CallbackHandler#bindLazily}). */
    interface LazyHandler {
        CallbackReply bindLazily(long object, long index, long caller, long tid, long pid);
    }

    private final LazyHandler handler;
    private final Set<Long> pids = ConcurrentHashMap.newKeySet();
    private final List<SocketChannel> children = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    ForkedChildren(long agentPid, LazyHandler handler) {
        this.handler = handler;
        pids.add(agentPid);
    }

    /** Whether {@code pid} is this run's agent or one of its children. */
    boolean knows(long pid) {
        return !closed && pids.contains(pid);
    }

    /** One child, on the caller's thread: lazy callbacks until it exits (or execs: the socket is CLOEXEC). */
    void serve(SocketChannel ch, byte[] hello) {
        children.add(ch);
        try (ch) {
            if (closed) {
                return;
            }
            long pid = new Payload.Reader(hello).q();
            pids.add(pid);
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
                Payload.Writer w = AgentWire.encode(reply);
                if (w.length() > Protocol.CHILD_REPLY_MAX && reply.status() == Protocol.CB_OK) {
                    w = AgentWire.encode(reply.withoutStrings()); // the names only inform the binding hook
                }
                AgentWire.writeFrame(ch, type | Protocol.REPLY, seq, w);
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

    /** Drops every child's connection (they then exit with status 127 at their next first call). */
    @Override
    public void close() {
        closed = true;
        for (SocketChannel ch : children) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }
}
