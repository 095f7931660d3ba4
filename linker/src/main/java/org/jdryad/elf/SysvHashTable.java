package org.jdryad.elf;

import java.util.function.IntPredicate;

/** DT_HASH: the SysV ELF hash table. Buckets and chains are range-checked; cycles are refused. */
public final class SysvHashTable {
    private final ByteView view;
    private final long nbucket;
    private final long nchain;
    private final long bucketsOffset;
    private final long chainsOffset;

    SysvHashTable(ByteView view, long offset) {
        this.view = view;
        this.nbucket = view.u32(offset);
        this.nchain = view.u32(offset + 4);
        this.bucketsOffset = offset + 8;
        this.chainsOffset = bucketsOffset + 4 * nbucket;
        view.require(bucketsOffset, 4 * (nbucket + nchain), "SysV hash buckets and chains");
    }

    /** The SysV ELF hash of a symbol name. */
    public static int hash(byte[] name) {
        long h = 0;
        for (byte b : name) {
            h = (h << 4) + (b & 0xff);
            long g = h & 0xf0000000L;
            if (g != 0) {
                h ^= g >>> 24;
            }
            h &= ~g;
        }
        return (int) h;
    }

    /** The number of symbols (nchain). */
    public long nchain() {
        return nchain;
    }

    void forEachCandidate(int h, int symCount, IntPredicate visit) {
        if (nbucket == 0) {
            return;
        }
        long idx = view.u32(bucketsOffset + 4 * Long.remainderUnsigned(h & 0xffffffffL, nbucket));
        for (long steps = 0; idx != 0; steps++) {
            if (idx >= nchain || idx >= symCount || steps > nchain) {
                throw view.malformed(chainsOffset, "SysV hash chain reaches symbol " + idx + " outside the table or loops");
            }
            if (!visit.test((int) idx)) {
                return;
            }
            idx = view.u32(chainsOffset + 4 * idx);
        }
    }
}
