package org.jdryad.elf;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The dynamic section ({@code PT_DYNAMIC}) of an ELF file and the tables it points at: strings,
 * symbols, hash tables, versions and relocations. Addresses in the section are link-time virtual
 * addresses; they are translated to file offsets through the PT_LOAD segments and checked.
 */
public final class DynamicSection {
    /** One dynamic entry. */
    public record Entry(long tag, long value) {
    }

    private final ElfFile elf;
    private final ByteView view;
    private final long offset;
    private final List<Entry> entries;
    private final Map<Long, Long> firstValue = new LinkedHashMap<>();
    private final long strtabOffset;
    private final long strtabSize;

    private volatile SymbolTable symbols; // volatile: shared between the warm server's runs (ElfCache)
    private volatile Optional<GnuHashTable> gnuHash;
    private volatile Optional<SysvHashTable> sysvHash;
    private volatile SymbolVersions versions;

    DynamicSection(ElfFile elf, ProgramHeader ph) {
        this.elf = elf;
        this.view = elf.view();
        this.offset = ph.offset();
        List<Entry> list = new ArrayList<>();
        long count = ph.filesz() / Elf.DYN_SIZE;
        for (long i = 0; i < count; i++) {
            long o = offset + i * Elf.DYN_SIZE;
            long tag = view.u64(o);
            long val = view.u64(o + 8);
            if (tag == Elf.DT_NULL) {
                break;
            }
            list.add(new Entry(tag, val));
            firstValue.putIfAbsent(tag, val);
        }
        this.entries = Collections.unmodifiableList(list);

        Long strtab = firstValue.get(Elf.DT_STRTAB);
        Long strsz = firstValue.get(Elf.DT_STRSZ);
        if (strtab != null) {
            if (strsz == null) {
                throw view.malformed(offset, "DT_STRTAB without DT_STRSZ");
            }
            if (strsz < 0 || strsz > view.size()) {
                throw view.malformed(offset, "DT_STRSZ " + Long.toUnsignedString(strsz) + " is larger than the file");
            }
            this.strtabOffset = elf.fileOffset(strtab, strsz, "dynamic string table (DT_STRTAB)");
            this.strtabSize = strsz;
        } else {
            this.strtabOffset = -1;
            this.strtabSize = 0;
        }
    }

    public ElfFile file() {
        return elf;
    }

    /** The file offset of the dynamic section. */
    public long offset() {
        return offset;
    }

    public List<Entry> entries() {
        return entries;
    }

    /** The value of the first entry with this tag. */
    public OptionalLong value(long tag) {
        Long v = firstValue.get(tag);
        return v == null ? OptionalLong.empty() : OptionalLong.of(v);
    }

    public boolean has(long tag) {
        return firstValue.containsKey(tag);
    }

    /** A string from the dynamic string table. */
    public String string(long index) {
        if (strtabOffset < 0) {
            throw view.malformed(offset, "dynamic section has no string table (DT_STRTAB)");
        }
        if (index < 0 || index >= strtabSize) {
            throw view.malformed(strtabOffset, "string index " + index + " is outside the dynamic string table (" + strtabSize + " bytes)");
        }
        return view.cString(strtabOffset + index, strtabOffset + strtabSize, "dynamic string");
    }

    boolean stringEquals(long index, byte[] name) {
        return strtabOffset >= 0 && index >= 0 && index < strtabSize
                && view.cStringEquals(strtabOffset + index, strtabOffset + strtabSize, name);
    }

    private List<String> strings(long tag) {
        List<String> out = new ArrayList<>();
        for (Entry e : entries) {
            if (e.tag() == tag) {
                out.add(string(e.value()));
            }
        }
        return Collections.unmodifiableList(out);
    }

    /** DT_NEEDED names, in order. */
    public List<String> needed() {
        return strings(Elf.DT_NEEDED);
    }

    /** A DT_FILTER or DT_AUXILIARY name. */
    public record Filtee(String name, boolean auxiliary) {
    }

    /** DT_FILTER and DT_AUXILIARY names, in order. */
    public List<Filtee> filtees() {
        List<Filtee> out = new ArrayList<>();
        for (Entry e : entries) {
            if (e.tag() == Elf.DT_FILTER || e.tag() == Elf.DT_AUXILIARY) {
                out.add(new Filtee(string(e.value()), e.tag() == Elf.DT_AUXILIARY));
            }
        }
        return Collections.unmodifiableList(out);
    }

    public Optional<String> soname() {
        return value(Elf.DT_SONAME).stream().mapToObj(this::string).findFirst();
    }

    /** The raw DT_RPATH string (unexpanded). */
    public Optional<String> rpath() {
        return value(Elf.DT_RPATH).stream().mapToObj(this::string).findFirst();
    }

    /** The raw DT_RUNPATH string (unexpanded). */
    public Optional<String> runpath() {
        return value(Elf.DT_RUNPATH).stream().mapToObj(this::string).findFirst();
    }

    public long flags() {
        return value(Elf.DT_FLAGS).orElse(0);
    }

    public long flags1() {
        return value(Elf.DT_FLAGS_1).orElse(0);
    }

    /** True when symbols should be looked up in this object first (DT_SYMBOLIC / DF_SYMBOLIC). */
    public boolean symbolic() {
        return has(Elf.DT_SYMBOLIC) || (flags() & Elf.DF_SYMBOLIC) != 0;
    }

    /** True when the object asks for immediate binding (DT_BIND_NOW, DF_BIND_NOW, DF_1_NOW). */
    public boolean bindNow() {
        return has(Elf.DT_BIND_NOW) || (flags() & Elf.DF_BIND_NOW) != 0 || (flags1() & Elf.DF_1_NOW) != 0;
    }

    /** The GNU hash table (DT_GNU_HASH), if present. */
    public Optional<GnuHashTable> gnuHash() {
        if (gnuHash == null) {
            gnuHash = value(Elf.DT_GNU_HASH).stream()
                    .mapToObj(a -> new GnuHashTable(elf, view, elf.fileOffset(a, 16, "GNU hash table header")))
                    .findFirst();
        }
        return gnuHash;
    }

    /** The SysV hash table (DT_HASH), if present. */
    public Optional<SysvHashTable> sysvHash() {
        if (sysvHash == null) {
            sysvHash = value(Elf.DT_HASH).stream()
                    .mapToObj(a -> new SysvHashTable(view, elf.fileOffset(a, 8, "SysV hash table header")))
                    .findFirst();
        }
        return sysvHash;
    }

    /** The dynamic symbol table. Its size comes from the hash tables, checked against the file. */
    public SymbolTable symbols() {
        if (symbols == null) {
            symbols = SymbolTable.of(this, view);
        }
        return symbols;
    }

    /** Symbol versioning (DT_VERSYM, DT_VERDEF, DT_VERNEED); empty tables when absent. */
    public SymbolVersions versions() {
        if (versions == null) {
            versions = new SymbolVersions(this, view);
        }
        return versions;
    }

    /** The DT_RELA table (may be empty). */
    public RelocationTable rela() {
        if (has(Elf.DT_REL)) {
            throw view.malformed(offset, "DT_REL relocations are not used on x86-64");
        }
        return relocationTable(Elf.DT_RELA, Elf.DT_RELASZ, "DT_RELA");
    }

    /** The PLT relocations (DT_JMPREL, may be empty). */
    public RelocationTable pltRela() {
        if (has(Elf.DT_JMPREL) && value(Elf.DT_PLTREL).orElse(Elf.DT_RELA) != Elf.DT_RELA) {
            throw view.malformed(offset, "DT_PLTREL is not DT_RELA");
        }
        return relocationTable(Elf.DT_JMPREL, Elf.DT_PLTRELSZ, "DT_JMPREL");
    }

    private RelocationTable relocationTable(long addrTag, long sizeTag, String what) {
        OptionalLong addr = value(addrTag);
        if (addr.isEmpty()) {
            return RelocationTable.empty(view);
        }
        long size = value(sizeTag).orElse(0);
        long ent = value(Elf.DT_RELAENT).orElse(Elf.RELA_SIZE);
        if (ent != Elf.RELA_SIZE) {
            throw view.malformed(offset, "DT_RELAENT " + ent + " is not " + Elf.RELA_SIZE);
        }
        if (size < 0 || size % Elf.RELA_SIZE != 0) {
            throw view.malformed(offset, what + " size " + size + " is not a multiple of " + Elf.RELA_SIZE);
        }
        long off = elf.fileOffset(addr.getAsLong(), size, what + " relocation table");
        return new RelocationTable(view, off, size / Elf.RELA_SIZE);
    }

    /**
     * The addresses (link-time) that DT_RELR marks for a relative relocation, decoded.
     * Each needs {@code *addr += load_bias}.
     */
    public long[] relrAddresses() {
        OptionalLong addr = value(Elf.DT_RELR);
        if (addr.isEmpty()) {
            return new long[0];
        }
        long size = value(Elf.DT_RELRSZ).orElse(0);
        long ent = value(Elf.DT_RELRENT).orElse(8);
        if (ent != 8 || size < 0 || size % 8 != 0) {
            throw view.malformed(offset, "DT_RELR table has entry size " + ent + " and size " + size);
        }
        long off = elf.fileOffset(addr.getAsLong(), size, "DT_RELR table");
        long n = size / 8;
        long[] out = new long[(int) Math.max(16, Math.min(n * 2, 1 << 20))];
        int count = 0;
        long where = 0;
        for (long i = 0; i < n; i++) {
            long entry = view.u64(off + i * 8);
            if ((entry & 1) == 0) {
                if (count == out.length) {
                    out = java.util.Arrays.copyOf(out, Math.multiplyExact(out.length, 2));
                }
                out[count++] = entry;
                where = entry + 8;
            } else {
                if (i == 0) {
                    throw view.malformed(off, "DT_RELR table starts with a bitmap entry");
                }
                long bits = entry >>> 1;
                for (int b = 0; bits != 0; b++, bits >>>= 1) {
                    if ((bits & 1) != 0) {
                        if (count == out.length) {
                            out = java.util.Arrays.copyOf(out, Math.multiplyExact(out.length, 2));
                        }
                        out[count++] = where + 8L * b;
                    }
                }
                where += 8 * 63;
            }
        }
        return java.util.Arrays.copyOf(out, count);
    }
}
