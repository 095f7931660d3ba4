package org.jdryad.elf;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The fuzz targets' oracle for the ELF reader: parses bytes and calls every accessor a loader
 * uses (program headers, interpreter, dynamic section and its strings, symbol table, GNU and SysV
 * hash lookups, versions, both relocation tables, RELR, notes, build-id, TLS, section headers and
 * .symtab). Each accessor may succeed or raise {@link ElfFormatException} naming the file; the
 * walk goes on after such an error with the next accessor. Anything else escapes: another
 * exception, an error, a count larger than the file can hold, an ElfFormatException without the
 * file's name. Walks over symbols and relocations are capped so one input stays fast.
 */
public final class ElfWalk {
    /** At most this many symbols, versions and relocations are visited per table. */
    public static final int CAP = 2048;
    private static final List<String> NAMES = List.of("printf", "main", "malloc", "foo", "ver_name", "__libc_start_main",
            "_init", "");

    private ElfWalk() {
    }

    /** Parses and walks; returns the file when the header and program headers were accepted, else null. */
    public static ElfFile walk(Path name, byte[] bytes) {
        ElfFile f;
        try {
            f = ElfFile.parse(name, ByteBuffer.wrap(bytes).asReadOnlyBuffer());
        } catch (ElfFormatException e) {
            checkMessage(name, e);
            return null;
        }
        walk(f);
        return f;
    }

    /** Walks every accessor of an opened file. */
    public static void walk(ElfFile f) {
        Path name = f.path();
        long size = f.size();
        step(name, () -> {
            f.type();
            f.machine();
            f.entry();
            f.programHeaderOffset();
        });
        step(name, () -> f.programHeaders().forEach(ph -> ph.containsAddress(f.entry())));
        step(name, () -> {
            f.loadSegments();
            f.tls();
            f.relro();
            f.gnuStack();
            f.gnuProperty();
            f.isStatic();
        });
        step(name, f::interpreter);
        step(name, () -> {
            f.mappedSpan(4096);
            f.lowestLoadAddress(4096);
            f.isFileBacked(f.entry(), 16);
        });
        step(name, () -> {
            if (f.isFileBacked(f.entry(), 8)) {
                f.u64At(f.entry(), "entry");
                f.bytesAt(f.entry(), 8, "entry");
            }
        });
        step(name, () -> {
            List<SectionHeader> sh = f.sectionHeaders();
            if (sh.size() > size / Elf.SHDR_SIZE + 1) {
                throw new AssertionError("sectionHeaders(): " + sh.size() + " headers in a file of " + size + " bytes");
            }
        });
        step(name, f::staticSymbols);
        step(name, f::notes);
        step(name, f::buildId);
        DynamicSection[] dh = new DynamicSection[1];
        step(name, () -> dh[0] = f.dynamic().orElse(null));
        if (dh[0] != null) {
            walkDynamic(name, dh[0], size);
        }
    }

    private static void walkDynamic(Path name, DynamicSection d, long size) {
        step(name, d::entries);
        step(name, d::needed);
        step(name, d::soname);
        step(name, d::rpath);
        step(name, d::runpath);
        step(name, () -> {
            d.flags();
            d.flags1();
            d.symbolic();
            d.bindNow();
        });
        step(name, () -> d.gnuHash().ifPresent(g -> {
            g.bucketCount();
            g.symbolOffset();
            g.bloomAdmits(GnuHashTable.hash("printf".getBytes(StandardCharsets.UTF_8)));
            g.bloomAdmits(0x9e3779b9);
        }));
        step(name, () -> d.sysvHash().ifPresent(SysvHashTable::nchain));
        SymbolTable[] sh = new SymbolTable[1];
        step(name, () -> sh[0] = d.symbols());
        SymbolTable st = sh[0];
        List<String> names = new ArrayList<>(NAMES);
        if (st != null) {
            if (st.count() > size / Elf.SYM_SIZE) {
                throw new AssertionError("symbols(): " + st.count() + " symbols in a file of " + size + " bytes");
            }
            int n = Math.min(st.count(), CAP);
            for (int i = 0; i < n; i++) {
                int idx = i;
                step(name, () -> {
                    Symbol s = st.get(idx);
                    s.isUndefined();
                    s.isTls();
                    st.name(idx);
                    if (names.size() < NAMES.size() + 24 && !s.name().isEmpty()) {
                        names.add(s.name());
                    }
                });
            }
            for (String s : names) {
                step(name, () -> st.forEachNamed(s, i -> true));
                step(name, () -> st.forEachNamed(s, i -> false));
            }
            step(name, () -> expectElfError(() -> st.get(-1)));
            step(name, () -> expectElfError(() -> st.get(st.count())));
        }
        SymbolVersions[] vh = new SymbolVersions[1];
        step(name, () -> vh[0] = d.versions());
        SymbolVersions v = vh[0];
        if (v != null) {
            step(name, () -> {
                v.definitions().forEach(SymbolVersions.Definition::isBase);
                v.needs().forEach(SymbolVersions.Need::isWeak);
                v.hasVersymTable();
                v.definesVersion("VER_1");
            });
            int n = st == null ? 64 : Math.min(st.count(), CAP);
            for (int i = 0; i < n; i++) {
                int idx = i;
                step(name, () -> {
                    v.versym(idx);
                    v.versionOf(idx);
                });
            }
        }
        for (int which = 0; which < 2; which++) {
            boolean plt = which == 1;
            RelocationTable[] rh = new RelocationTable[1];
            step(name, () -> rh[0] = plt ? d.pltRela() : d.rela());
            RelocationTable t = rh[0];
            if (t != null) {
                if (t.count() > size / Elf.RELA_SIZE) {
                    throw new AssertionError((plt ? "pltRela" : "rela") + "(): " + t.count() + " relocations in a file of "
                            + size + " bytes");
                }
                long n = Math.min(t.count(), CAP);
                step(name, () -> {
                    for (long i = 0; i < n; i++) {
                        t.offset(i);
                        t.type(i);
                        t.symbolIndex(i);
                        t.addend(i);
                        t.entryFileOffset(i);
                    }
                    if (t.words().capacity() != t.count() * 3) {
                        throw new AssertionError("words() has " + t.words().capacity() + " words for " + t.count() + " entries");
                    }
                });
            }
        }
        step(name, () -> {
            long[] relr = d.relrAddresses();
            // Each 64-bit RELR word stands for at most 63 addresses.
            if (relr.length > size / 8 * 63) {
                throw new AssertionError("relrAddresses(): " + relr.length + " addresses from a file of " + size + " bytes");
            }
        });
        step(name, () -> expectElfError(() -> d.string(Long.MAX_VALUE)));
        step(name, () -> expectElfError(() -> d.string(-1)));
    }

    private static void expectElfError(Runnable r) {
        try {
            r.run();
        } catch (ElfFormatException e) {
            return;
        }
        throw new AssertionError("an out-of-range index was accepted");
    }

    private static void checkMessage(Path name, ElfFormatException e) {
        if (e.getMessage() == null || !e.getMessage().contains(name.toString())) {
            throw new AssertionError("ElfFormatException without the file name: " + e.getMessage(), e);
        }
    }

    /** Runs one accessor: an ElfFormatException naming the file is a clean refusal; anything else escapes. */
    private static void step(Path name, Runnable r) {
        try {
            r.run();
        } catch (ElfFormatException e) {
            checkMessage(name, e);
        }
    }
}
