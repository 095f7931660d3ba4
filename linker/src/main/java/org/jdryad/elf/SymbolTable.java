package org.jdryad.elf;

import java.util.function.IntPredicate;

/**
 * The dynamic symbol table (DT_SYMTAB). ELF does not record its length; like glibc's tools we
 * take it from DT_HASH's nchain, else from the GNU hash chains, else from the distance to the
 * string table — and refuse a count the file's bytes cannot hold.
 */
public final class SymbolTable {
    private final DynamicSection dynamic;
    private final ByteView view;
    private final long offset;
    private final int count;
    /**
     * Names decoded so far, by symbol index. Why: a relocation names its symbol by index, and the
     * warm server keeps a parsed file for every run that loads it (ElfCache): libLLVM's 14,000
     * imported names were decoded again in every run. Filled as asked; two threads that decode
     * the same name at once store equal Strings (immutable: a racy store publishes them safely).
     */
    private final String[] names;

    private SymbolTable(DynamicSection dynamic, ByteView view, long offset, int count) {
        this.dynamic = dynamic;
        this.view = view;
        this.offset = offset;
        this.count = count;
        this.names = new String[count];
    }

    static SymbolTable of(DynamicSection dyn, ByteView view) {
        if (!dyn.has(Elf.DT_SYMTAB)) {
            return new SymbolTable(dyn, view, 0, 0);
        }
        long syment = dyn.value(Elf.DT_SYMENT).orElse(Elf.SYM_SIZE);
        if (syment != Elf.SYM_SIZE) {
            throw view.malformed(dyn.offset(), "DT_SYMENT " + syment + " is not " + Elf.SYM_SIZE);
        }
        long symtab = dyn.value(Elf.DT_SYMTAB).getAsLong();
        long start = dyn.file().fileOffset(symtab, 0, "dynamic symbol table (DT_SYMTAB)");
        long count;
        if (dyn.sysvHash().isPresent()) {
            count = dyn.sysvHash().get().nchain();
        } else {
            // DT_GNU_HASH only bounds the count from below: symbols past the last hashed one
            // (or all of them, when nothing is hashed) are still in the table. The section
            // header, when there is a sane one, says exactly; else the gap up to DT_STRTAB.
            long fromHash = dyn.gnuHash().map(GnuHashTable::symbolCount).orElse(0);
            long fromSection = dynsymSectionCount(dyn.file(), symtab);
            long strtab = dyn.value(Elf.DT_STRTAB).orElse(0);
            long fromGap = strtab > symtab ? (strtab - symtab) / Elf.SYM_SIZE : 0;
            count = Math.max(fromHash, fromSection >= 0 ? fromSection : fromGap);
        }
        if (count < 0 || count > (view.size() - start) / Elf.SYM_SIZE) {
            throw view.malformed(start, "symbol count " + count + " is larger than the file can hold");
        }
        dyn.file().fileOffset(symtab, count * Elf.SYM_SIZE, "dynamic symbol table (DT_SYMTAB)");
        return new SymbolTable(dyn, view, start, (int) count);
    }

    /** The .dynsym section's entry count when it describes DT_SYMTAB, else -1. */
    private static long dynsymSectionCount(ElfFile elf, long symtab) {
        try {
            for (SectionHeader sh : elf.sectionHeaders()) {
                if (sh.type() == 11 /* SHT_DYNSYM */ && sh.addr() == symtab && sh.entsize() == Elf.SYM_SIZE) {
                    return sh.size() / Elf.SYM_SIZE;
                }
            }
        } catch (ElfFormatException e) {
            // Section headers are optional for loading; a broken table is simply not used.
        }
        return -1;
    }

    public int count() {
        return count;
    }

    private long entry(int index) {
        if (index < 0 || index >= count) {
            throw view.malformed(offset, "symbol index " + index + " is outside the symbol table (" + count + " symbols)");
        }
        return offset + (long) index * Elf.SYM_SIZE;
    }

    /** The symbol at an index, name resolved. */
    public Symbol get(int index) {
        long o = entry(index);
        return new Symbol(index, name(index), view.u8(o + 4), view.u8(o + 5), view.u16(o + 6), view.u64(o + 8),
                view.u64(o + 16));
    }

    /**
     * As {@link #get(int)}, for a symbol the caller has found by its name ({@link #forEachNamed}):
     * the entry is read, the name is {@code name}, not decoded again. Why: a lookup decodes no
     * string table bytes (libLLVM's 14000 lookups made a String for each symbol found).
     */
    public Symbol get(int index, String name) {
        long o = entry(index);
        return new Symbol(index, name, view.u8(o + 4), view.u8(o + 5), view.u16(o + 6), view.u64(o + 8),
                view.u64(o + 16));
    }

    /** The name of the symbol at an index. */
    public String name(int index) {
        String known = index >= 0 && index < count ? names[index] : null;
        if (known != null) {
            return known;
        }
        long name = view.u32(entry(index));
        String decoded = name == 0 ? "" : dynamic.string(name);
        names[index] = decoded;
        return decoded;
    }

    /** True when the symbol at {@code index} is named {@code name} (compared in place, no String made). */
    public boolean nameEquals(int index, byte[] name) {
        return dynamic.stringEquals(view.u32(entry(index)), name);
    }

    /**
     * Calls {@code visit} with every symbol index whose name is {@code name}, using the GNU hash
     * table (with its Bloom filter) when there is one, the SysV hash table otherwise, and a linear
     * scan as a last resort. Stops when {@code visit} returns false.
     */
    public void forEachNamed(String name, IntPredicate visit) {
        forEachNamed(SymbolName.of(name), visit);
    }

    /** As {@link #forEachNamed(String, IntPredicate)}, for a name encoded and hashed once for many tables. */
    public void forEachNamed(SymbolName name, IntPredicate visit) {
        byte[] bytes = name.bytes();
        if (dynamic.gnuHash().isPresent()) {
            dynamic.gnuHash().get().forEachCandidate(bytes, name.gnuHash(), count,
                    i -> !nameEquals(i, bytes) || visit.test(i));
        } else if (dynamic.sysvHash().isPresent()) {
            dynamic.sysvHash().get().forEachCandidate(name.sysvHash(), count,
                    i -> !nameEquals(i, bytes) || visit.test(i));
        } else {
            for (int i = 1; i < count; i++) {
                if (nameEquals(i, bytes) && !visit.test(i)) {
                    return;
                }
            }
        }
    }
}
