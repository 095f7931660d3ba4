package org.jdryad.link;

import java.util.Arrays;

/** A growable list of 64-bit word writes, sent to the target in bulk. */
final class WordWrites {
    private long[] addresses = new long[16];
    private long[] values = new long[16];
    private int count;

    void add(long address, long value) {
        if (count == addresses.length) {
            addresses = Arrays.copyOf(addresses, count * 2);
            values = Arrays.copyOf(values, count * 2);
        }
        addresses[count] = address;
        values[count] = value;
        count++;
    }

    int count() {
        return count;
    }

    private long flushNanos;

    void flushTo(TargetMemory memory) {
        if (count > 0) {
            long t0 = System.nanoTime();
            memory.writeWords(addresses, values, count);
            flushNanos += System.nanoTime() - t0;
            count = 0;
        }
    }

    /** Time spent handing words to the target so far. */
    long flushNanos() {
        return flushNanos;
    }
}
