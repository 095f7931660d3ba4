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
 * its parent's lazily bound PLT slots and its parent's jdryad objects, and its first call through
 * a slot, its dlopen, dlsym and dlclose must be answered like the parent's (and recorded under
 * the child's pid); but the parent's socket is the parent's. So a child that calls into jdryad
 * connects anew to the agent socket ({@link AgentListener}) and says HELLO_CHILD with its own and
 * its parent's pid and the link generation it was forked in. When the run's handler is a
 * {@link ForkAdopter}, the child gets a link session of its own and an {@link AgentProcess} of its
 * own on that connection (requests into the child's memory); otherwise it is served CB_LAZY only,
 * with the parent's answers (every answer is an address both share).
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
    private final ForkAdopter adopter;
    private final AgentInfo info;
    private final AgentListener listener;
    private final Set<Long> pids = ConcurrentHashMap.newKeySet();
    private final long programPid;
    private final List<SocketChannel> children = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    ForkedChildren(long agentPid, LazyHandler handler) {
        this(null, null, handler, null, agentPid);
    }

    /** With {@code adopter} (may be null), children get sessions of their own over {@code listener}'s connections. */
    ForkedChildren(AgentInfo info, AgentListener listener, LazyHandler handler, ForkAdopter adopter, long agentPid) {
        this.info = info;
        this.listener = listener;
        this.handler = handler;
        this.adopter = adopter;
        this.programPid = agentPid;
        pids.add(agentPid);
    }

    /** The run's program (its agent's pid): every child it serves descends from it. */
    long programPid() {
        return programPid;
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
            Payload.Reader hr = new Payload.Reader(hello);
            long pid = hr.q();
            long parent = hr.q();
            long generation = hello.length >= 24 ? hr.q() : -1;
            pids.add(pid);
            ForkAdopter.Adopted own = adopter == null ? null : adopter.adopt(pid, parent, generation);
            if (own != null) {
                serveAdopted(ch, pid, own);
                return;
            }
            for (;;) {
                byte[][] f = AgentWire.readFrame(ch, Protocol.MAX_CHILD_FRAME);
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
                    } else if (type == Protocol.CB_DLSYM || type == Protocol.CB_DLCLOSE || type == Protocol.CB_DLINFO) {
                        reply = CallbackReply.askGlibc(r.q()); // no session of its own: glibc's (a jdryad handle: none)
                    } else {
                        reply = CallbackReply.askGlibc(0);
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

    /** A child with a session of its own: its own agent connection, until it ends. */
    private void serveAdopted(SocketChannel ch, long pid, ForkAdopter.Adopted own) {
        AgentProcess child = AgentProcess.child(listener, ch, info, pid, own);
        try {
            own.attach(child);
            child.startReading();
            child.awaitDisconnect();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            own.detached();
            child.close();
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
