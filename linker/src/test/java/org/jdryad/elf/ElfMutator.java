package org.jdryad.elf;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Structure-aware mutations of a real ELF file, driven by a {@link FuzzedDataProvider}: the
 * layout of the seed (file header, program headers, dynamic entries and the tables they point
 * at, notes, section headers) is found with plain ByteBuffer code, not the reader under test,
 * and chosen fields at those valid offsets get fuzzed values: boundary numbers (0, 1, -1, the
 * file size, a page, 2^31, 2^32...), small changes of the old value, or raw fuzzer bytes. So the
 * mutated file gets past the checks a random byte flip trips over and reaches the deeper ones.
 */
public final class ElfMutator {
    /** A field: its file offset and width in bytes (1, 2, 4 or 8). */
    record Field(long offset, int width) {
    }

    private static final long[] DT_TABLES = {
        Elf.DT_STRTAB, Elf.DT_SYMTAB, Elf.DT_HASH, Elf.DT_GNU_HASH, Elf.DT_VERSYM, Elf.DT_VERDEF, Elf.DT_VERNEED,
        Elf.DT_RELA, Elf.DT_JMPREL, Elf.DT_RELR,
    };

    private final byte[] b;
    private final ByteBuffer bb;
    private final long phoff;
    private final int phnum;
    private final long shoff;
    private final int shnum;
    private final List<long[]> loads = new ArrayList<>(); // offset, vaddr, filesz
    private long dynOff = -1;
    private long dynCount;
    private final List<Long> noteOffsets = new ArrayList<>();
    private final java.util.Map<Long, Long> tables = new java.util.HashMap<>(); // DT tag -> file offset
    private final java.util.Map<Long, Long> dynValues = new java.util.HashMap<>();

    private ElfMutator(byte[] bytes) {
        this.b = bytes;
        this.bb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        boolean elf = bytes.length >= 64 && bytes[0] == 0x7f && bytes[1] == 'E' && bytes[2] == 'L' && bytes[3] == 'F';
        long po = elf ? bb.getLong(32) : 0;
        int pn = elf ? Short.toUnsignedInt(bb.getShort(56)) : 0;
        if (po < 0 || po + 56L * pn > bytes.length) {
            pn = 0;
        }
        this.phoff = po;
        this.phnum = pn;
        long so = elf ? bb.getLong(40) : 0;
        int sn = elf ? Short.toUnsignedInt(bb.getShort(60)) : 0;
        if (so <= 0 || so + 64L * sn > bytes.length) {
            sn = 0;
        }
        this.shoff = so;
        this.shnum = sn;
        for (int i = 0; i < phnum; i++) {
            int o = (int) (phoff + 56L * i);
            int type = bb.getInt(o);
            long off = bb.getLong(o + 8);
            long filesz = bb.getLong(o + 32);
            if (off < 0 || filesz < 0 || off + filesz > bytes.length) {
                continue;
            }
            if (type == Elf.PT_LOAD) {
                loads.add(new long[] {off, bb.getLong(o + 16), filesz});
            } else if (type == Elf.PT_DYNAMIC) {
                dynOff = off;
                dynCount = filesz / 16;
            } else if (type == Elf.PT_NOTE) {
                noteOffsets.add(off);
            }
        }
        if (dynOff >= 0) {
            for (long i = 0; i < dynCount; i++) {
                long tag = bb.getLong((int) (dynOff + 16 * i));
                long val = bb.getLong((int) (dynOff + 16 * i + 8));
                if (tag == 0) {
                    dynCount = i + 1;
                    break;
                }
                dynValues.putIfAbsent(tag, val);
            }
            for (long tag : DT_TABLES) {
                Long v = dynValues.get(tag);
                if (v != null) {
                    long off = fileOffset(v);
                    if (off >= 0) {
                        tables.put(tag, off);
                    }
                }
            }
        }
    }

    private long fileOffset(long vaddr) {
        for (long[] l : loads) {
            if (vaddr >= l[1] && vaddr - l[1] < l[2]) {
                return l[0] + (vaddr - l[1]);
            }
        }
        return -1;
    }

    /**
     * Copies {@code seed} and applies between one and {@code maxMutations} structured mutations
     * chosen by {@code data}; may also truncate the copy.
     */
    public static byte[] mutate(byte[] seed, FuzzedDataProvider data, int maxMutations) {
        byte[] copy = seed.clone();
        ElfMutator m = new ElfMutator(copy);
        int n = data.consumeInt(1, maxMutations);
        for (int i = 0; i < n && data.remainingBytes() > 0; i++) {
            m.mutateOnce(data);
        }
        if (data.consumeInt(0, 31) == 0) {
            int len = data.consumeInt(0, copy.length);
            return Arrays.copyOf(copy, len);
        }
        return copy;
    }

    /** Like {@link #mutate} but only relocation, symbol, dynamic-entry and segment fields (the link target's). */
    public static byte[] mutateForLink(byte[] seed, FuzzedDataProvider data, int maxMutations) {
        byte[] copy = seed.clone();
        ElfMutator m = new ElfMutator(copy);
        int n = data.consumeInt(1, maxMutations);
        for (int i = 0; i < n && data.remainingBytes() > 0; i++) {
            Field f = switch (data.consumeInt(0, 5)) {
                case 0 -> m.relocationField(data);
                case 1 -> m.symbolField(data);
                case 2 -> m.dynamicField(data);
                case 3 -> m.programHeaderField(data);
                case 4 -> m.relrField(data);
                default -> m.relocationField(data);
            };
            if (f != null) {
                m.set(f, m.value(f, data));
            }
        }
        return copy;
    }

    private void mutateOnce(FuzzedDataProvider data) {
        Field f = switch (data.consumeInt(0, 12)) {
            case 0 -> headerField(data);
            case 1 -> programHeaderField(data);
            case 2 -> dynamicField(data);
            case 3 -> gnuHashField(data);
            case 4 -> sysvHashField(data);
            case 5 -> versionField(data);
            case 6 -> relocationField(data);
            case 7 -> noteField(data);
            case 8 -> relrField(data);
            case 9 -> symbolField(data);
            case 10 -> sectionHeaderField(data);
            case 11 -> stringByte(data);
            default -> anyField(data);
        };
        if (f != null) {
            set(f, value(f, data));
        }
    }

    // ------------------------------------------------------------------------------------------
    // Where

    private static final int[][] EHDR_FIELDS = {
        {4, 1}, {5, 1}, {16, 2}, {18, 2}, {20, 4}, {24, 8}, {32, 8}, {40, 8}, {52, 2}, {54, 2}, {56, 2}, {58, 2},
        {60, 2}, {62, 2},
    };
    private static final int[][] PHDR_FIELDS = {{0, 4}, {4, 4}, {8, 8}, {16, 8}, {24, 8}, {32, 8}, {40, 8}, {48, 8}};
    private static final int[][] SHDR_FIELDS = {{0, 4}, {4, 4}, {8, 8}, {16, 8}, {24, 8}, {32, 8}, {40, 4}, {44, 4},
        {48, 8}, {56, 8}};
    private static final int[][] SYM_FIELDS = {{0, 4}, {4, 1}, {5, 1}, {6, 2}, {8, 8}, {16, 8}};

    private Field headerField(FuzzedDataProvider data) {
        int[] f = EHDR_FIELDS[data.consumeInt(0, EHDR_FIELDS.length - 1)];
        return field(f[0], f[1]);
    }

    private Field programHeaderField(FuzzedDataProvider data) {
        if (phnum == 0) {
            return headerField(data);
        }
        int i = data.consumeInt(0, phnum - 1);
        int[] f = PHDR_FIELDS[data.consumeInt(0, PHDR_FIELDS.length - 1)];
        return field(phoff + 56L * i + f[0], f[1]);
    }

    private Field sectionHeaderField(FuzzedDataProvider data) {
        if (shnum == 0) {
            return headerField(data);
        }
        int i = data.consumeInt(0, shnum - 1);
        int[] f = SHDR_FIELDS[data.consumeInt(0, SHDR_FIELDS.length - 1)];
        return field(shoff + 64L * i + f[0], f[1]);
    }

    private Field dynamicField(FuzzedDataProvider data) {
        if (dynOff < 0 || dynCount == 0) {
            return programHeaderField(data);
        }
        long i = data.consumeLong(0, dynCount - 1);
        return field(dynOff + 16 * i + (data.consumeBoolean() ? 8 : 0), 8);
    }

    /** A word of a table a dynamic entry points at: {@code header} words of {@code width}, then an array. */
    private Field tableField(long tag, FuzzedDataProvider data, int width, int span) {
        Long off = tables.get(tag);
        if (off == null) {
            return dynamicField(data);
        }
        long o = off + (long) width * data.consumeInt(0, span);
        return field(o, width);
    }

    private Field gnuHashField(FuzzedDataProvider data) {
        Long off = tables.get(Elf.DT_GNU_HASH);
        if (off == null || !inside(off, 16)) {
            return sysvHashField(data);
        }
        if (data.consumeBoolean()) {
            return field(off + 4L * data.consumeInt(0, 3), 4);
        }
        long nbuckets = u32(off);
        long bloom = u32(off + 8);
        long tablesAt = off + 16 + 8 * bloom;
        return switch (data.consumeInt(0, 2)) {
            case 0 -> field(off + 16 + 8L * data.consumeLong(0, Math.max(0, bloom - 1)), 8);
            case 1 -> field(tablesAt + 4L * data.consumeLong(0, Math.max(0, nbuckets - 1)), 4);
            default -> field(tablesAt + 4 * nbuckets + 4L * data.consumeInt(0, 4096), 4);
        };
    }

    private Field sysvHashField(FuzzedDataProvider data) {
        Long off = tables.get(Elf.DT_HASH);
        if (off == null || !inside(off, 8)) {
            return tableField(Elf.DT_GNU_HASH, data, 4, 64);
        }
        long nbucket = u32(off);
        long nchain = u32(off + 4);
        return field(off + 4 * data.consumeLong(0, Math.max(2, Math.min(2 + nbucket + nchain, 1 << 20) - 1)), 4);
    }

    private Field versionField(FuzzedDataProvider data) {
        switch (data.consumeInt(0, 2)) {
            case 0:
                return tableField(Elf.DT_VERSYM, data, 2, 512);
            case 1: {
                // Walk the verdef chain a little and pick a field of a record or its first aux.
                Long off = tables.get(Elf.DT_VERDEF);
                if (off == null) {
                    return tableField(Elf.DT_VERSYM, data, 2, 512);
                }
                long o = off;
                int hops = data.consumeInt(0, 8);
                for (int i = 0; i < hops && inside(o, 20); i++) {
                    long next = u32(o + 16);
                    if (next == 0) {
                        break;
                    }
                    o += next;
                }
                int[][] fields = {{0, 2}, {2, 2}, {4, 2}, {6, 2}, {8, 4}, {12, 4}, {16, 4}};
                if (data.consumeBoolean() && inside(o, 20)) {
                    long aux = o + u32(o + 12);
                    return field(aux + (data.consumeBoolean() ? 0 : 4), 4);
                }
                int[] f = fields[data.consumeInt(0, fields.length - 1)];
                return field(o + f[0], f[1]);
            }
            default: {
                Long off = tables.get(Elf.DT_VERNEED);
                if (off == null) {
                    return tableField(Elf.DT_VERSYM, data, 2, 512);
                }
                long o = off;
                int hops = data.consumeInt(0, 8);
                for (int i = 0; i < hops && inside(o, 16); i++) {
                    long next = u32(o + 12);
                    if (next == 0) {
                        break;
                    }
                    o += next;
                }
                if (data.consumeBoolean() && inside(o, 16)) {
                    long a = o + u32(o + 8);
                    int[][] aux = {{0, 4}, {4, 2}, {6, 2}, {8, 4}, {12, 4}};
                    int[] f = aux[data.consumeInt(0, aux.length - 1)];
                    return field(a + f[0], f[1]);
                }
                int[][] fields = {{0, 2}, {2, 2}, {4, 4}, {8, 4}, {12, 4}};
                int[] f = fields[data.consumeInt(0, fields.length - 1)];
                return field(o + f[0], f[1]);
            }
        }
    }

    private Field relocationField(FuzzedDataProvider data) {
        long tag = data.consumeBoolean() ? Elf.DT_RELA : Elf.DT_JMPREL;
        Long off = tables.get(tag);
        Long size = dynValues.get(tag == Elf.DT_RELA ? Elf.DT_RELASZ : Elf.DT_PLTRELSZ);
        if (off == null) {
            off = tables.get(tag == Elf.DT_RELA ? Elf.DT_JMPREL : Elf.DT_RELA);
            size = dynValues.get(tag == Elf.DT_RELA ? Elf.DT_PLTRELSZ : Elf.DT_RELASZ);
        }
        if (off == null || size == null || size < 24) {
            return dynamicField(data);
        }
        long i = data.consumeLong(0, size / 24 - 1);
        return switch (data.consumeInt(0, 3)) {
            case 0 -> field(off + 24 * i, 8);      // r_offset
            case 1 -> field(off + 24 * i + 8, 4);  // type
            case 2 -> field(off + 24 * i + 12, 4); // symbol index
            default -> field(off + 24 * i + 16, 8); // addend
        };
    }

    private Field relrField(FuzzedDataProvider data) {
        Long off = tables.get(Elf.DT_RELR);
        Long size = dynValues.get(Elf.DT_RELRSZ);
        if (off == null || size == null || size < 8) {
            return relocationField(data);
        }
        return field(off + 8 * data.consumeLong(0, size / 8 - 1), 8);
    }

    private Field symbolField(FuzzedDataProvider data) {
        Long off = tables.get(Elf.DT_SYMTAB);
        if (off == null) {
            return dynamicField(data);
        }
        long i = data.consumeInt(0, 1023);
        int[] f = SYM_FIELDS[data.consumeInt(0, SYM_FIELDS.length - 1)];
        return field(off + 24 * i + f[0], f[1]);
    }

    private Field noteField(FuzzedDataProvider data) {
        if (noteOffsets.isEmpty()) {
            return programHeaderField(data);
        }
        long o = noteOffsets.get(data.consumeInt(0, noteOffsets.size() - 1));
        int hops = data.consumeInt(0, 3);
        for (int i = 0; i < hops && inside(o, 12); i++) {
            o += 12 + ((u32(o) + 3) & ~3L) + ((u32(o + 4) + 3) & ~3L);
        }
        return field(o + 4L * data.consumeInt(0, 2), 4);
    }

    private Field stringByte(FuzzedDataProvider data) {
        Long off = tables.get(Elf.DT_STRTAB);
        Long size = dynValues.get(Elf.DT_STRSZ);
        if (off == null || size == null || size <= 0) {
            return anyField(data);
        }
        return field(off + data.consumeLong(0, size - 1), 1);
    }

    private Field anyField(FuzzedDataProvider data) {
        if (b.length == 0) {
            return null;
        }
        int[] widths = {1, 2, 4, 8};
        return field(data.consumeInt(0, b.length - 1), widths[data.consumeInt(0, 3)]);
    }

    private Field field(long offset, int width) {
        return inside(offset, width) ? new Field(offset, width) : null;
    }

    private boolean inside(long offset, long width) {
        return offset >= 0 && offset + width <= b.length;
    }

    private long u32(long o) {
        return inside(o, 4) ? bb.getInt((int) o) & 0xffffffffL : 0;
    }

    // ------------------------------------------------------------------------------------------
    // What

    private long get(Field f) {
        int o = (int) f.offset();
        return switch (f.width()) {
            case 1 -> bb.get(o) & 0xffL;
            case 2 -> bb.getShort(o) & 0xffffL;
            case 4 -> bb.getInt(o) & 0xffffffffL;
            default -> bb.getLong(o);
        };
    }

    private void set(Field f, long v) {
        int o = (int) f.offset();
        switch (f.width()) {
            case 1 -> bb.put(o, (byte) v);
            case 2 -> bb.putShort(o, (short) v);
            case 4 -> bb.putInt(o, (int) v);
            default -> bb.putLong(o, v);
        }
    }

    private long value(Field f, FuzzedDataProvider data) {
        long old = get(f);
        long size = b.length;
        switch (data.consumeInt(0, 15)) {
            case 0: return 0;
            case 1: return 1;
            case 2: return -1;
            case 3: return old + data.consumeInt(-64, 64);
            case 4: return old ^ (1L << data.consumeInt(0, f.width() * 8 - 1));
            case 5: return size + data.consumeInt(-64, 64);
            case 6: return 0x1000L * data.consumeInt(0, 64);
            case 7: return 1L << data.consumeInt(0, 63);
            case 8: return Long.MAX_VALUE;
            case 9: return Integer.MAX_VALUE + (long) data.consumeInt(-2, 2);
            case 10: return 0xffffffffL + data.consumeInt(-2, 2);
            case 11: return old * 2;
            case 12: return old / Math.max(2, data.consumeInt(2, 16));
            case 13: return data.consumeInt(0, 64);
            default: return data.consumeLong();
        }
    }
}
