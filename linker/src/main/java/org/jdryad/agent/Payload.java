package org.jdryad.agent;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/** Encoding and decoding of frame payloads (little-endian q/s fields, see {@link Protocol}). */
final class Payload {
    private Payload() {}

    /** Builds a payload. */
    static final class Writer {
        private byte[] b = new byte[256];
        private int n;

        private void ensure(int more) {
            if (n + more > b.length) {
                long cap = Math.max((long) b.length * 2, (long) n + more);
                if (cap > Protocol.MAX_FRAME) {
                    throw new AgentException("jdryad: agent request too large (" + cap + " bytes)");
                }
                b = Arrays.copyOf(b, (int) cap);
            }
        }

        Writer q(long v) {
            ensure(8);
            for (int i = 0; i < 8; i++) {
                b[n++] = (byte) (v >>> (8 * i));
            }
            return this;
        }

        Writer s(String s) {
            if (s == null) {
                return u32(0);
            }
            byte[] bytes = RawText.encode(s); // a program's bytes as they came (RawText)
            u32(bytes.length + 1);
            bytes(bytes, 0, bytes.length);
            ensure(1);
            b[n++] = 0;
            return this;
        }

        Writer u32(int v) {
            ensure(4);
            for (int i = 0; i < 4; i++) {
                b[n++] = (byte) (v >>> (8 * i));
            }
            return this;
        }

        Writer bytes(byte[] data, int off, int len) {
            ensure(len);
            System.arraycopy(data, off, b, n, len);
            n += len;
            return this;
        }

        byte[] array() {
            return b;
        }

        int length() {
            return n;
        }
    }

    /** Reads a payload. */
    static final class Reader {
        private final ByteBuffer buf;

        Reader(byte[] data) {
            buf = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        }

        long q() {
            check(8);
            return buf.getLong();
        }

        String s() {
            check(4);
            int len = buf.getInt();
            if (len == 0) {
                return null;
            }
            check(len);
            byte[] b = new byte[len - 1];
            buf.get(b);
            if (buf.get() != 0 || indexOfNul(b) >= 0) {
                throw new AgentException("jdryad: malformed message from the agent (a string not ending at its NUL)");
            }
            return RawText.decode(b);
        }

        private static int indexOfNul(byte[] b) {
            for (int i = 0; i < b.length; i++) {
                if (b[i] == 0) {
                    return i;
                }
            }
            return -1;
        }

        byte[] rest() {
            byte[] b = new byte[buf.remaining()];
            buf.get(b);
            return b;
        }

        private void check(int n) {
            if (n < 0 || buf.remaining() < n) {
                throw new AgentException("jdryad: malformed message from the agent (truncated payload)");
            }
        }
    }
}
