package org.jdryad.link;

import java.util.Arrays;

/**
 * A growable list of word writes, in order, sent to the target in bulk: 64-bit words, and the
 * 32-bit ones of R_X86_64_PC32/32/32S, each run of one width in one request (no round trip per
 * relocation).
 */
final class WordWrites {
    private long[] addresses = new long[16];
    private long[] values = new long[16];
    /** Whether entry i stores only the low 32 bits; null while every entry is 64-bit. */
    private boolean[] narrow;
    private int count;
    private long flushNanos;

    void add(long address, long value) {
        append(address, value, false);
    }

    /** A 32-bit store of the low half of {@code value}. */
    void addNarrow(long address, long value) {
        if (narrow == null) {
            narrow = new boolean[addresses.length];
        }
        append(address, value, true);
    }

    private void append(long address, long value, boolean isNarrow) {
        if (count == addresses.length) {
            addresses = Arrays.copyOf(addresses, count * 2);
            values = Arrays.copyOf(values, count * 2);
            if (narrow != null) {
                narrow = Arrays.copyOf(narrow, count * 2);
            }
        }
        addresses[count] = address;
        values[count] = value;
        if (narrow != null) {
            narrow[count] = isNarrow;
        }
        count++;
    }

    int count() {
        return count;
    }

    /** Sends every write in order, a request per run of one width, and empties the list. */
    void flushTo(TargetMemory memory) {
        send(memory, false);
    }

    /**
     * As {@link #flushTo}, without waiting for the target's answers: they are checked by {@link
     * TargetMemory#settle}, and what is sent after is carried out after.
     */
    void sendTo(TargetMemory memory) {
        send(memory, true);
    }

    private void send(TargetMemory memory, boolean ahead) {
        if (count == 0) {
            return;
        }
        long t0 = System.nanoTime();
        if (narrow == null) {
            write(memory, ahead, addresses, values, count, false);
        } else {
            for (int start = 0, end; start < count; start = end) {
                end = start + 1;
                while (end < count && narrow[end] == narrow[start]) {
                    end++;
                }
                long[] a = Arrays.copyOfRange(addresses, start, end);
                long[] v = Arrays.copyOfRange(values, start, end);
                write(memory, ahead, a, v, a.length, narrow[start]);
            }
            narrow = null;
        }
        flushNanos += System.nanoTime() - t0;
        count = 0;
    }

    private static void write(TargetMemory memory, boolean ahead, long[] a, long[] v, int n, boolean narrow) {
        if (ahead) {
            memory.writeWordsAhead(a, v, n, narrow);
        } else if (narrow) {
            memory.writeWords32(a, v, n);
        } else {
            memory.writeWords(a, v, n);
        }
    }

    /** Time spent handing words to the target so far. */
    long flushNanos() {
        return flushNanos;
    }
}
