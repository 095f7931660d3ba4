package org.jdryad.link;

import java.util.Arrays;

/** A growable list of 64-bit word writes, sent to the target in bulk. */
final class WordWrites {
    private long[] addresses = new long[256];
    private long[] values = new long[256];
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

    void flushTo(TargetMemory memory) {
        if (count > 0) {
            memory.writeWords(addresses, values, count);
            count = 0;
        }
    }
}
