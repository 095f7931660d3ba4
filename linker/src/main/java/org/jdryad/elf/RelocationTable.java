package org.jdryad.elf;

/**
 * A table of {@code Elf64_Rela} entries, decoded on access (no object per entry: libLLVM has
 * hundreds of thousands). Indexes are checked against the count, which was checked against
 * the file when the table was made.
 */
public final class RelocationTable {
    private final ByteView view;
    private final long offset;
    private final long count;

    RelocationTable(ByteView view, long offset, long count) {
        this.view = view;
        this.offset = offset;
        this.count = count;
        view.require(offset, count * Elf.RELA_SIZE, "relocation table");
    }

    static RelocationTable empty(ByteView view) {
        return new RelocationTable(view, 0, 0);
    }

    public long count() {
        return count;
    }

    private long at(long i) {
        if (i < 0 || i >= count) {
            throw new IndexOutOfBoundsException("relocation " + i + " of " + count);
        }
        return offset + i * Elf.RELA_SIZE;
    }

    /** r_offset: the link-time address the relocation patches. */
    public long offset(long i) {
        return view.u64(at(i));
    }

    public int type(long i) {
        return (int) (view.u64(at(i) + 8) & 0xffffffffL);
    }

    public int symbolIndex(long i) {
        long sym = view.u64(at(i) + 8) >>> 32;
        return (int) sym;
    }

    public long addend(long i) {
        return view.u64(at(i) + 16);
    }

    /**
     * The whole table as 64-bit words, three per entry (r_offset, r_info, r_addend), for loops
     * over hundreds of thousands of entries; the range was checked when the table was made.
     */
    public java.nio.LongBuffer words() {
        if (count == 0) {
            return java.nio.LongBuffer.allocate(0);
        }
        return view.slice(offset, count * Elf.RELA_SIZE, "relocation table").asLongBuffer();
    }

    /** The file offset of entry {@code i} (for error messages). */
    public long entryFileOffset(long i) {
        return at(i);
    }
}
