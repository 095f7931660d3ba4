package org.jdryad.agent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The agent protocol on the wire (native/protocol.h): reading and writing whole frames, the
 * HELLO and its parsing, a callback reply's encoding, and what a dead agent's exit status says.
 * Kept apart from {@link AgentProcess} because forked children's connections
 * ({@link ForkedChildren}) speak the same frames without being an agent process of their own.
 */
final class AgentWire {
    private AgentWire() {
    }

    /** Reads one frame: {header, payload}, or null at end of stream. */
    static byte[][] readFrame(SocketChannel ch) throws IOException {
        return readFrame(ch, Protocol.MAX_FRAME);
    }

    /**
     * Reads one frame of at most {@code max} payload bytes; a longer (or negative) length is
     * refused before anything is allocated for it or read after it.
     */
    static byte[][] readFrame(SocketChannel ch, int max) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(Protocol.HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        if (!readFully(ch, h)) {
            return null;
        }
        int len = h.getInt(0);
        if (len < 0 || len > max) {
            throw new IOException("frame too large");
        }
        byte[] p = readPayload(ch, len);
        return p == null ? null : new byte[][] {h.array(), p};
    }

    /** What is allocated for a payload before its bytes arrive: a length alone buys no more. */
    static final int FIRST_CHUNK = 1 << 20;

    /**
     * Reads {@code len} payload bytes, or null at end of stream. The buffer grows as bytes
     * arrive (doubling from {@link #FIRST_CHUNK}), so a peer that sends a large length and
     * little else costs a megabyte, not the length it named.
     */
    private static byte[] readPayload(SocketChannel ch, int len) throws IOException {
        ByteBuffer p = ByteBuffer.allocate(Math.min(len, FIRST_CHUNK));
        for (;;) {
            if (!readFully(ch, p)) {
                return null;
            }
            if (p.capacity() == len) {
                return p.array();
            }
            int bigger = (int) Math.min(len, 2L * p.capacity());
            p = ByteBuffer.wrap(Arrays.copyOf(p.array(), bigger)).position(p.capacity());
        }
    }

    private static boolean readFully(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                return false;
            }
        }
        return true;
    }

    static AgentInfo parseHello(byte[] payload) {
        Payload.Reader r = new Payload.Reader(payload);
        long pid = r.q(), page = r.q(), base = r.q(), rdebug = r.q(), rmap = r.q(), rbrk = r.q();
        long resAddr = r.q(), resSize = r.q(), tp = r.q(), imgAddr = r.q(), imgSize = r.q(), modBase = r.q();
        long nh = r.q();
        List<HostObject> hosts = new ArrayList<>();
        for (long i = 0; i < nh; i++) {
            long la = r.q(), ld = r.q(), lm = r.q();
            String name = r.s();
            hosts.add(new HostObject(la, ld, lm, name == null ? "" : name));
        }
        long na = r.q();
        Map<Long, Long> auxv = new LinkedHashMap<>();
        for (long i = 0; i < na; i++) {
            long t = r.q();
            auxv.put(t, r.q());
        }
        long ns = r.q();
        Map<String, Long> syms = new LinkedHashMap<>();
        for (long i = 0; i < ns; i++) {
            String name = r.s();
            syms.put(name, r.q());
        }
        return new AgentInfo(pid, page, base, rdebug, rmap, rbrk, resAddr, resSize, tp, imgAddr, imgSize, modBase,
                Collections.unmodifiableList(hosts), Collections.unmodifiableMap(auxv),
                Collections.unmodifiableMap(syms));
    }

    static String describeDeath(Process p, String when) {
        try {
            p.waitFor(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (p.isAlive()) {
            return "jdryad: lost the connection to the agent " + when + " (the agent is still running)";
        }
        int st = p.exitValue();
        if (st > 128 && st < 128 + 65) {
            return "jdryad: agent died with signal " + (st - 128) + signalName(st - 128) + " " + when;
        }
        return "jdryad: agent exited with status " + st + " " + when;
    }

    private static String signalName(int sig) {
        switch (sig) {
            case 4: return " (SIGILL)";
            case 6: return " (SIGABRT)";
            case 7: return " (SIGBUS)";
            case 9: return " (SIGKILL)";
            case 11: return " (SIGSEGV)";
            case 15: return " (SIGTERM)";
            default: return "";
        }
    }

    /** A callback reply's wire form: q status, q v0..v3, s s0, s s1. */
    static Payload.Writer encode(CallbackReply reply) {
        try {
            return new Payload.Writer().q(reply.status()).q(reply.v0()).q(reply.v1()).q(reply.v2())
                    .q(reply.v3()).s(reply.s0()).s(reply.s1());
        } catch (AgentException e) {
            return new Payload.Writer().q(Protocol.CB_ERROR).q(0).q(0).q(0).q(0).s("jdryad: " + e.getMessage()).s(null);
        }
    }

    /** Writes one whole frame (the caller serialises writers). */
    static void writeFrame(SocketChannel ch, int type, long seq, Payload.Writer w) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(Protocol.HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        h.putInt(w.length()).putInt(type).putLong(seq).flip();
        ByteBuffer p = ByteBuffer.wrap(w.array(), 0, w.length());
        while (h.hasRemaining() || p.hasRemaining()) {
            ch.write(new ByteBuffer[] {h, p});
        }
    }
}
