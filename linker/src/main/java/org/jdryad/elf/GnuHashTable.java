package org.jdryad.elf;

import java.util.function.IntPredicate;

/**
 * DT_GNU_HASH: a Bloom filter, buckets, and hash chains over the symbols from
 * {@code symoffset} on. Checked when read: the Bloom filter's word count is a power of two,
 * the shift is below 64, every table lies in the file and chain walks stay inside the table.
 */
public final class GnuHashTable {
    private final ElfFile elf;
    private final ByteView view;
    private final long offset;
    private final long nbuckets;
    private final long symoffset;
    private final long bloomWords;
    private final int bloomShift;
    private final long bloomOffset;
    private final long bucketsOffset;
    private final long chainsOffset;
    private int symbolCount = -1;

    GnuHashTable(ElfFile elf, ByteView view, long offset) {
        this.elf = elf;
        this.view = view;
        this.offset = offset;
        this.nbuckets = view.u32(offset);
        this.symoffset = view.u32(offset + 4);
        this.bloomWords = view.u32(offset + 8);
        long shift = view.u32(offset + 12);
        if (bloomWords == 0 || Long.bitCount(bloomWords) != 1) {
            throw view.malformed(offset + 8, "GNU hash Bloom filter size " + bloomWords + " is not a power of two");
        }
        if (shift >= 64) {
            throw view.malformed(offset + 12, "GNU hash Bloom shift " + shift + " is not below 64");
        }
        this.bloomShift = (int) shift;
        this.bloomOffset = offset + 16;
        long tables = bloomWords * 8 + nbuckets * 4;
        view.require(bloomOffset, tables, "GNU hash Bloom filter and buckets");
        this.bucketsOffset = bloomOffset + bloomWords * 8;
        this.chainsOffset = bucketsOffset + nbuckets * 4;
    }

    /** The GNU (DJB) hash of a symbol name. */
    public static int hash(byte[] name) {
        int h = 5381;
        for (byte b : name) {
            h = h * 33 + (b & 0xff);
        }
        return h;
    }

    public long bucketCount() {
        return nbuckets;
    }

    public long symbolOffset() {
        return symoffset;
    }

    /** The number of symbols the table covers: one past the last index reachable from a bucket. */
    int symbolCount() {
        if (symbolCount < 0) {
            long max = 0;
            for (long b = 0; b < nbuckets; b++) {
                long idx = view.u32(bucketsOffset + 4 * b);
                if (idx != 0 && idx < symoffset) {
                    throw view.malformed(bucketsOffset + 4 * b, "GNU hash bucket " + b + " points at symbol " + idx
                            + ", below the table's first hashed symbol " + symoffset);
                }
                max = Math.max(max, idx);
            }
            long count;
            if (max == 0) {
                count = symoffset;
            } else {
                long i = max;
                while (true) {
                    long at = chainsOffset + 4 * (i - symoffset);
                    if (!view.contains(at, 4)) {
                        throw view.malformed(at, "GNU hash chain runs past the end of the file");
                    }
                    if ((view.u32(at) & 1) != 0) {
                        break;
                    }
                    i++;
                }
                count = i + 1;
            }
            if (count > Integer.MAX_VALUE || count > view.size() / Elf.SYM_SIZE) {
                throw view.malformed(offset, "GNU hash table implies " + count + " symbols, more than the file can hold");
            }
            symbolCount = (int) count;
        }
        return symbolCount;
    }

    /** Whether the Bloom filter admits the hash (false means: certainly not defined here). */
    public boolean bloomAdmits(int h) {
        long uh = h & 0xffffffffL;
        long word = view.u64(bloomOffset + 8 * ((uh / 64) & (bloomWords - 1)));
        long mask = (1L << (uh % 64)) | (1L << ((uh >>> bloomShift) % 64));
        return (word & mask) == mask;
    }

    /**
     * Calls {@code visit} with each symbol index in the hash's chain whose stored hash matches;
     * the caller compares names. Stops when {@code visit} returns false.
     */
    void forEachCandidate(byte[] name, int h, int symCount, IntPredicate visit) {
        if (nbuckets == 0 || !bloomAdmits(h)) {
            return;
        }
        long uh = h & 0xffffffffL;
        long idx = view.u32(bucketsOffset + 4 * (uh % nbuckets));
        if (idx == 0) {
            return;
        }
        if (idx < symoffset || idx >= symCount) {
            throw view.malformed(bucketsOffset + 4 * (uh % nbuckets), "GNU hash bucket points at symbol " + idx
                    + ", outside " + symoffset + ".." + symCount);
        }
        for (; idx < symCount; idx++) {
            long h2 = view.u32(chainsOffset + 4 * (idx - symoffset));
            if (((h2 ^ uh) >>> 1) == 0 && !visit.test((int) idx)) {
                return;
            }
            if ((h2 & 1) != 0) {
                return;
            }
        }
    }
}
