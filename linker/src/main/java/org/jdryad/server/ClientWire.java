package org.jdryad.server;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The warm server's protocol with its clients (native/client/wire.h): frames of
 * {@code {u32 type, u32 length, payload}}, little-endian, strings as u32 length + bytes. Every
 * length is checked against what is left of the frame, and frames are at most 64 MiB, their
 * buffer growing as their bytes arrive: a client is a process of the same user, but its bytes
 * are still input.
 */
final class ClientWire {
    static final int REQUEST = 1;
    static final int STARTED = 2;
    static final int SPAWN_FAILED = 3;
    static final int ENDED = 4;
    /** u32 token: the client has written every OUT frame that came before SYNC token. */
    static final int SYNCED = 5;
    static final int OUT = 101;
    static final int SPAWN = 102;
    static final int EXIT = 103;
    static final int COLD = 104;
    /** u32 token: the client answers SYNCED token once it has written what came before. */
    static final int SYNC = 105;
    static final int MAX_FRAME = 64 << 20;

    private ClientWire() {
    }

    /** A received frame. */
    record Frame(int type, Reader payload) {
    }

    /** Reads one frame; null at the end of the stream. */
    static Frame read(SocketChannel ch) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        if (!fill(ch, h, true)) {
            return null;
        }
        int type = h.getInt(0);
        long len = Integer.toUnsignedLong(h.getInt(4));
        if (len > MAX_FRAME) {
            throw new IOException("frame too large");
        }
        return new Frame(type, new Reader(readPayload(ch, (int) len).flip()));
    }

    /** What is allocated for a payload before its bytes arrive: a length alone buys no more. */
    static final int FIRST_CHUNK = 1 << 20;

    /** Reads {@code len} payload bytes into a buffer that grows (doubling) as they arrive. */
    private static ByteBuffer readPayload(SocketChannel ch, int len) throws IOException {
        ByteBuffer p = ByteBuffer.allocate(Math.min(len, FIRST_CHUNK)).order(ByteOrder.LITTLE_ENDIAN);
        for (;;) {
            fill(ch, p, false);
            if (p.capacity() == len) {
                return p;
            }
            int bigger = (int) Math.min(len, 2L * p.capacity());
            p = ByteBuffer.wrap(Arrays.copyOf(p.array(), bigger)).order(ByteOrder.LITTLE_ENDIAN).position(p.capacity());
        }
    }

    private static boolean fill(SocketChannel ch, ByteBuffer b, boolean eofAllowed) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                if (eofAllowed && b.position() == 0) {
                    return false;
                }
                throw new IOException("end of stream inside a frame");
            }
        }
        return true;
    }

    /** A cursor over a payload. */
    static final class Reader {
        private final ByteBuffer b;

        Reader(ByteBuffer b) {
            this.b = b;
        }

        int u32() throws IOException {
            if (b.remaining() < 4) {
                throw new IOException("truncated frame");
            }
            return b.getInt();
        }

        String str() throws IOException {
            long n = Integer.toUnsignedLong(u32());
            if (n > b.remaining()) {
                throw new IOException("truncated string");
            }
            byte[] s = new byte[(int) n];
            b.get(s);
            return org.jdryad.agent.RawText.decode(s); // arguments and environment: the program's bytes, exactly
        }

        /** The rest of the payload as UTF-8 text. */
        String rest() {
            byte[] r = new byte[b.remaining()];
            b.get(r);
            return new String(r, StandardCharsets.UTF_8);
        }

        List<String> strs() throws IOException {
            long n = Integer.toUnsignedLong(u32());
            if (n > b.remaining() / 4) {
                throw new IOException("bad string count");
            }
            List<String> out = new ArrayList<>();
            for (long i = 0; i < n; i++) {
                out.add(str());
            }
            return out;
        }
    }

    /** A frame being built. */
    static final class Writer {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Writer(int type) {
            u32(type);
            u32(0);
        }

        Writer u32(int v) {
            out.write(v);
            out.write(v >>> 8);
            out.write(v >>> 16);
            out.write(v >>> 24);
            return this;
        }

        Writer bytes(byte[] b, int off, int len) {
            out.write(b, off, len);
            return this;
        }

        Writer str(String s) {
            byte[] b = org.jdryad.agent.RawText.encode(s);
            return u32(b.length).bytes(b, 0, b.length);
        }

        Writer strs(List<String> v) {
            u32(v.size());
            v.forEach(this::str);
            return this;
        }

        /** Writes the frame whole (callers hold the channel's write lock). */
        void send(SocketChannel ch) throws IOException {
            ByteBuffer b = ByteBuffer.wrap(out.toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
            b.putInt(4, b.capacity() - 8);
            while (b.hasRemaining()) {
                ch.write(b);
            }
        }
    }
}
