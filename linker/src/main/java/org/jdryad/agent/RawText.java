package org.jdryad.agent;

import java.io.ByteArrayOutputStream;

/**
 * A program's text (its arguments, its environment, the names it passes to dlopen or execve) as
 * Java Strings that give back the program's bytes exactly. Why: Linux hands a program bytes, not
 * UTF-8; a file name in Latin-1 (`caf\xe9`) or an environment value a test made undecodable on
 * purpose (CPython's test_subprocess) reached the program as U+FFFD's three bytes when Java
 * decoded them as UTF-8 and encoded them again. Here valid UTF-8 decodes as UTF-8, and each byte
 * that is not part of a valid sequence becomes the lone surrogate U+DC80..U+DCFF (Python's
 * "surrogateescape"), which {@link #encode} turns back into that byte. Text that was valid UTF-8
 * is unchanged both ways; no valid UTF-8 decodes to a lone surrogate, so nothing is ambiguous.
 */
public final class RawText {
    private RawText() {
    }

    /** The bytes {@code b[off, off + len)} as a String, invalid bytes escaped. */
    public static String decode(byte[] b, int off, int len) {
        StringBuilder out = new StringBuilder(len);
        int end = off + len;
        int i = off;
        while (i < end) {
            int c = b[i] & 0xff;
            if (c < 0x80) {
                out.append((char) c);
                i++;
                continue;
            }
            int n = sequenceLength(b, i, end);
            if (n == 0) {
                out.append((char) (0xdc00 | c));
                i++;
                continue;
            }
            int cp = c & (0xff >>> (n + 1));
            for (int k = 1; k < n; k++) {
                cp = (cp << 6) | (b[i + k] & 0x3f);
            }
            out.appendCodePoint(cp);
            i += n;
        }
        return out.toString();
    }

    /** {@link #decode(byte[], int, int)} of the whole array. */
    public static String decode(byte[] b) {
        return decode(b, 0, b.length);
    }

    /**
     * The length of the valid UTF-8 sequence starting at {@code b[i]} (a byte of 0x80 or more),
     * or 0: RFC 3629's well-formed sequences only (no overlong forms, no surrogates, nothing above
     * U+10FFFF), as the JDK's decoder accepts them.
     */
    private static int sequenceLength(byte[] b, int i, int end) {
        int c = b[i] & 0xff;
        int n;
        int lo = 0x80, hi = 0xbf; // the second byte's range
        if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            if (c == 0xe0) {
                lo = 0xa0;
            } else if (c == 0xed) {
                hi = 0x9f;
            }
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            if (c == 0xf0) {
                lo = 0x90;
            } else if (c == 0xf4) {
                hi = 0x8f;
            }
        } else {
            return 0;
        }
        if (end - i < n) {
            return 0;
        }
        int second = b[i + 1] & 0xff;
        if (second < lo || second > hi) {
            return 0;
        }
        for (int k = 2; k < n; k++) {
            if ((b[i + k] & 0xc0) != 0x80) {
                return 0;
            }
        }
        return n;
    }

    /** {@code s} as bytes: UTF-8, with each escaped byte (a lone U+DC80..U+DCFF) given back as itself. */
    public static byte[] encode(String s) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(s.length() + 8);
        int i = 0;
        while (i < s.length()) {
            char ch = s.charAt(i);
            if (ch < 0x80) {
                out.write(ch);
                i++;
            } else if (ch >= 0xdc80 && ch <= 0xdcff) {
                out.write(ch & 0xff); // a lone low surrogate: decode's escape (a pair starts with a high one)
                i++;
            } else if (Character.isHighSurrogate(ch) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                writeUtf8(out, Character.toCodePoint(ch, s.charAt(i + 1)));
                i += 2;
            } else if (Character.isSurrogate(ch)) {
                out.write('?'); // as String.getBytes(UTF_8) writes an unpaired surrogate
                i++;
            } else {
                writeUtf8(out, ch);
                i++;
            }
        }
        return out.toByteArray();
    }

    private static void writeUtf8(ByteArrayOutputStream out, int cp) {
        if (cp < 0x800) {
            out.write(0xc0 | (cp >>> 6));
        } else if (cp < 0x10000) {
            out.write(0xe0 | (cp >>> 12));
            out.write(0x80 | ((cp >>> 6) & 0x3f));
        } else {
            out.write(0xf0 | (cp >>> 18));
            out.write(0x80 | ((cp >>> 12) & 0x3f));
            out.write(0x80 | ((cp >>> 6) & 0x3f));
        }
        out.write(0x80 | (cp & 0x3f));
    }
}
