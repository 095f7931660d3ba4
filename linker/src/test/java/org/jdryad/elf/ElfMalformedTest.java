package org.jdryad.elf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.Fixtures;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The reader on deliberately malformed copies of real fixtures: truncated at every header
 * boundary and at random lengths, offsets pointing past the end, huge counts, wrong
 * magic/class/machine, and seeded random corruption of every table. Every accessor of the reader
 * is walked on every copy: each must either succeed or raise {@link ElfFormatException} whose
 * message names the file: never another exception, never a hang.
 */
class ElfMalformedTest {
    private static final long SEED = 0x5eed_e1f_1L;
    private static final int RANDOM_MUTATIONS_PER_FILE = 700;
    private static final Duration PER_FILE_BUDGET = Duration.ofSeconds(90);
    private static final Duration SINGLE_COPY_LIMIT = Duration.ofSeconds(5);
    private static final int WALK_CAP = 50_000;

    static Map<String, Path> baseFiles() {
        Map<String, Path> m = new LinkedHashMap<>();
        m.put("hello-pie", FixtureCatalog.helloPie());
        m.put("hello-nopie", FixtureCatalog.helloNoPie());
        m.put("libver.so", FixtureCatalog.libver());
        m.put("libver.so-sysv-hash", ElfFixtures.libverSysvHash());
        m.put("librelr.so", FixtureCatalog.librelr());
        m.put("libtls_desc.so", FixtureCatalog.libtlsDesc());
        m.put("versions", FixtureCatalog.versionsProgram());
        m.put("chain-rpath", FixtureCatalog.chainRpathProgram());
        return m;
    }

    // ------------------------------------------------------------------------------------------
    // The walk

    /** A named mutated copy. */
    record Copy(String what, byte[] bytes) {
    }

    /** Walks every accessor; returns a description of the first failure that is not an ElfFormatException, or null. */
    static String walk(Path name, byte[] bytes) {
        List<String> problems = new ArrayList<>();
        ElfFile[] holder = new ElfFile[1];
        step(problems, name, "parse", () -> holder[0] = ElfFile.parse(name, ByteBuffer.wrap(bytes).asReadOnlyBuffer()));
        ElfFile f = holder[0];
        if (f != null) {
            step(problems, name, "header", () -> {
                f.type();
                f.machine();
                f.entry();
                f.programHeaderOffset();
                f.size();
            });
            step(problems, name, "programHeaders", () -> f.programHeaders().forEach(ProgramHeader::readable));
            step(problems, name, "loadSegments", f::loadSegments);
            step(problems, name, "tls", f::tls);
            step(problems, name, "relro", f::relro);
            step(problems, name, "gnuStack", f::gnuStack);
            step(problems, name, "gnuProperty", f::gnuProperty);
            step(problems, name, "isStatic", f::isStatic);
            step(problems, name, "interpreter", f::interpreter);
            step(problems, name, "mappedSpan", () -> f.mappedSpan(4096));
            step(problems, name, "lowestLoadAddress", () -> f.lowestLoadAddress(4096));
            step(problems, name, "isFileBacked(entry)", () -> f.isFileBacked(f.entry(), 16));
            step(problems, name, "sectionHeaders", f::sectionHeaders);
            step(problems, name, "staticSymbols", f::staticSymbols);
            step(problems, name, "notes", f::notes);
            step(problems, name, "buildId", f::buildId);
            DynamicSection[] dh = new DynamicSection[1];
            step(problems, name, "dynamic", () -> dh[0] = f.dynamic().orElse(null));
            DynamicSection d = dh[0];
            if (d != null) {
                walkDynamic(problems, name, d, bytes.length);
            }
        }
        return problems.isEmpty() ? null : String.join("\n", problems);
    }

    private static void walkDynamic(List<String> problems, Path name, DynamicSection d, long size) {
        step(problems, name, "entries", d::entries);
        step(problems, name, "needed", d::needed);
        step(problems, name, "soname", d::soname);
        step(problems, name, "rpath", d::rpath);
        step(problems, name, "runpath", d::runpath);
        step(problems, name, "flags", () -> {
            d.flags();
            d.flags1();
            d.symbolic();
            d.bindNow();
        });
        step(problems, name, "gnuHash", () -> d.gnuHash().ifPresent(g -> {
            g.bucketCount();
            g.symbolOffset();
            g.bloomAdmits(GnuHashTable.hash("printf".getBytes()));
            g.bloomAdmits(0x12345678);
        }));
        step(problems, name, "sysvHash", () -> d.sysvHash().ifPresent(SysvHashTable::nchain));
        SymbolTable[] sh = new SymbolTable[1];
        step(problems, name, "symbols", () -> sh[0] = d.symbols());
        SymbolTable st = sh[0];
        List<String> names = new ArrayList<>(List.of("foo", "printf", "main", "", "ver_name", "__libc_start_main"));
        if (st != null) {
            if (st.count() > size / Elf.SYM_SIZE) {
                problems.add("symbols(): count " + st.count() + " is more than a file of " + size + " bytes can hold");
            }
            int n = Math.min(st.count(), WALK_CAP);
            for (int i = 0; i < n; i++) {
                int idx = i;
                step(problems, name, "symbols().get(" + i + ")", () -> {
                    Symbol s = st.get(idx);
                    if (idx < 8 && !s.name().isEmpty()) {
                        names.add(s.name());
                    }
                });
            }
            for (String s : names) {
                step(problems, name, "forEachNamed(" + s + ")", () -> st.forEachNamed(s, i -> true));
            }
            step(problems, name, "get(-1) / get(count)", () -> {
                expectElfError(() -> st.get(-1));
                expectElfError(() -> st.get(st.count()));
            });
        }
        SymbolVersions[] vh = new SymbolVersions[1];
        step(problems, name, "versions", () -> vh[0] = d.versions());
        SymbolVersions v = vh[0];
        if (v != null) {
            step(problems, name, "versions().definitions/needs", () -> {
                v.definitions();
                v.needs();
                v.hasVersymTable();
                v.definesVersion("VER_1");
            });
            int n = st == null ? 64 : Math.min(st.count(), WALK_CAP);
            for (int i = 0; i < n; i++) {
                int idx = i;
                step(problems, name, "versions().versionOf(" + i + ")", () -> {
                    v.versym(idx);
                    v.versionOf(idx);
                });
            }
        }
        for (String which : List.of("rela", "pltRela")) {
            RelocationTable[] rh = new RelocationTable[1];
            step(problems, name, which, () -> rh[0] = which.equals("rela") ? d.rela() : d.pltRela());
            RelocationTable t = rh[0];
            if (t != null) {
                if (t.count() > size / Elf.RELA_SIZE) {
                    problems.add(which + "(): count " + t.count() + " is more than a file of " + size + " bytes can hold");
                }
                long n = Math.min(t.count(), WALK_CAP);
                step(problems, name, which + " entries", () -> {
                    for (long i = 0; i < n; i++) {
                        t.offset(i);
                        t.type(i);
                        t.symbolIndex(i);
                        t.addend(i);
                        t.entryFileOffset(i);
                    }
                });
            }
        }
        step(problems, name, "relrAddresses", d::relrAddresses);
        step(problems, name, "string(huge)", () -> expectElfError(() -> d.string(Long.MAX_VALUE)));
    }

    private static void expectElfError(Runnable r) {
        try {
            r.run();
        } catch (ElfFormatException e) {
            return;
        }
        throw new AssertionError("an out-of-range index was accepted");
    }

    /** Runs one accessor: ElfFormatException naming the file is fine; anything else is recorded. */
    private static void step(List<String> problems, Path name, String accessor, ThrowingRunnable r) {
        try {
            r.run();
        } catch (ElfFormatException e) {
            if (e.getMessage() == null || !e.getMessage().contains(name.toString())) {
                problems.add(accessor + ": ElfFormatException without the file name: " + e.getMessage());
            }
        } catch (Throwable t) {
            StackTraceElement[] st = t.getStackTrace();
            String where = st.length > 0 ? " at " + st[0] : "";
            problems.add(accessor + ": " + t + where);
        }
    }

    @FunctionalInterface
    interface ThrowingRunnable {
        void run() throws Exception;
    }

    // ------------------------------------------------------------------------------------------
    // Mutations

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static byte[] with(byte[] base, Consumer<ByteBuffer> edit) {
        byte[] c = base.clone();
        edit.accept(le(c));
        return c;
    }

    /** Structure of a well-formed file, read with plain ByteBuffer code (not the reader under test). */
    record Layout(long phoff, int phnum, long shoff, int shnum, List<long[]> phdrs, List<long[]> shdrs,
                  long dynOff, long dynSize, Map<Long, Long> dynFileOffsets) {
    }

    static Layout layout(byte[] b) {
        ByteBuffer bb = le(b);
        long phoff = bb.getLong(32);
        long shoff = bb.getLong(40);
        int phnum = Short.toUnsignedInt(bb.getShort(56));
        int shnum = Short.toUnsignedInt(bb.getShort(60));
        List<long[]> phdrs = new ArrayList<>();
        long dynOff = -1;
        long dynSize = 0;
        for (int i = 0; i < phnum; i++) {
            int o = (int) (phoff + 56L * i);
            long[] p = {bb.getInt(o) & 0xffffffffL, bb.getLong(o + 8), bb.getLong(o + 16), bb.getLong(o + 32), o};
            phdrs.add(p); // type, offset, vaddr, filesz, header offset
            if (p[0] == Elf.PT_DYNAMIC) {
                dynOff = p[1];
                dynSize = p[3];
            }
        }
        List<long[]> shdrs = new ArrayList<>();
        for (int i = 0; i < shnum && shoff + 64L * (i + 1) <= b.length; i++) {
            int o = (int) (shoff + 64L * i);
            shdrs.add(new long[] {bb.getInt(o + 4) & 0xffffffffL, bb.getLong(o + 24), bb.getLong(o + 32), o});
        }
        // DT_* tag -> file offset of the table it points at (through the PT_LOADs)
        Map<Long, Long> dynTables = new LinkedHashMap<>();
        if (dynOff >= 0) {
            for (long o = dynOff; o + 16 <= dynOff + dynSize; o += 16) {
                long tag = bb.getLong((int) o);
                long val = bb.getLong((int) o + 8);
                if (tag == 0) {
                    break;
                }
                for (long[] p : phdrs) {
                    if (p[0] == Elf.PT_LOAD && val >= p[2] && val < p[2] + p[3]) {
                        dynTables.putIfAbsent(tag, val - p[2] + p[1]);
                    }
                }
            }
        }
        return new Layout(phoff, phnum, shoff, shnum, phdrs, shdrs, dynOff, dynSize, dynTables);
    }

    /** Truncations at every header boundary (and one byte either side), and at random lengths. */
    static List<Copy> truncations(byte[] base, Random rnd) {
        Layout l = layout(base);
        TreeSet<Long> cuts = new TreeSet<>(List.of(0L, 1L, 3L, 4L, 5L, 15L, 16L, 17L, 24L, 32L, 40L, 52L, 58L, 63L, 64L));
        for (int i = 0; i <= l.phnum(); i++) {
            cuts.add(l.phoff() + 56L * i);
        }
        for (long[] p : l.phdrs()) {
            cuts.add(p[1]);
            cuts.add(p[1] + p[3]);
        }
        for (int i = 0; i <= l.shnum(); i++) {
            cuts.add(l.shoff() + 64L * i);
        }
        for (long[] s : l.shdrs()) {
            cuts.add(s[1]);
            cuts.add(s[1] + s[2]);
        }
        if (l.dynOff() >= 0) {
            for (long o = l.dynOff(); o <= l.dynOff() + l.dynSize(); o += 16) {
                cuts.add(o);
                cuts.add(o + 8);
            }
        }
        for (long off : l.dynFileOffsets().values()) {
            cuts.add(off);
            cuts.add(off + 4);
            cuts.add(off + 16);
            cuts.add(off + 24);
        }
        TreeSet<Long> all = new TreeSet<>();
        for (long c : cuts) {
            all.add(c - 1);
            all.add(c);
            all.add(c + 1);
        }
        for (int i = 0; i < 200; i++) {
            all.add((long) rnd.nextInt(base.length));
        }
        List<Copy> out = new ArrayList<>();
        for (long c : all) {
            if (c >= 0 && c < base.length) {
                out.add(new Copy("truncated to " + c + " bytes", java.util.Arrays.copyOf(base, (int) c)));
            }
        }
        return out;
    }

    private static final long[] EXTREMES = {0, 1, 0x7f, 0xff, 0xffff, 0x10000, 0x7fffffffL, 0x80000000L, 0xffffffffL,
        0x100000000L, Long.MAX_VALUE, Long.MIN_VALUE, -1L, -8L, 1L << 40};

    /** Header fields, dynamic entries and table headers set to extreme values. */
    static List<Copy> fieldMutations(byte[] base) {
        Layout l = layout(base);
        long size = base.length;
        List<Copy> out = new ArrayList<>();
        out.add(new Copy("bad magic", with(base, b -> b.put(1, (byte) 'X'))));
        out.add(new Copy("ELFCLASS32", with(base, b -> b.put(4, (byte) 1))));
        out.add(new Copy("ELFCLASS 7", with(base, b -> b.put(4, (byte) 7))));
        out.add(new Copy("big-endian", with(base, b -> b.put(5, (byte) 2))));
        out.add(new Copy("EM_386", with(base, b -> b.putShort(18, (short) 3))));
        out.add(new Copy("EM_AARCH64", with(base, b -> b.putShort(18, (short) 183))));
        out.add(new Copy("ET_REL", with(base, b -> b.putShort(16, (short) 1))));
        out.add(new Copy("ET_CORE", with(base, b -> b.putShort(16, (short) 4))));
        out.add(new Copy("e_version 0", with(base, b -> b.putInt(20, 0))));
        out.add(new Copy("e_ehsize 0", with(base, b -> b.putShort(52, (short) 0))));
        for (long v : new long[] {size, size - 1, size + 1, size - 56, Long.MAX_VALUE, -1L, -56L, 0x7fffffffL}) {
            out.add(new Copy("e_phoff=" + v, with(base, b -> b.putLong(32, v))));
            out.add(new Copy("e_shoff=" + v, with(base, b -> b.putLong(40, v))));
        }
        for (int v : new int[] {0, 1, 0xffff, 0x7fff, 1000}) {
            out.add(new Copy("e_phnum=" + v, with(base, b -> b.putShort(56, (short) v))));
            out.add(new Copy("e_shnum=" + v, with(base, b -> b.putShort(60, (short) v))));
            out.add(new Copy("e_shstrndx=" + v, with(base, b -> b.putShort(62, (short) v))));
            out.add(new Copy("e_phentsize=" + v, with(base, b -> b.putShort(54, (short) v))));
            out.add(new Copy("e_shentsize=" + v, with(base, b -> b.putShort(58, (short) v))));
        }
        out.add(new Copy("extended numbering, section 0 with a huge sh_size",
                with(base, b -> {
                    b.putShort(60, (short) 0);
                    if (l.shoff() > 0 && l.shoff() + 64 <= size) {
                        b.putLong((int) l.shoff() + 32, 0x7fffffffffffL);
                    }
                })));
        // Program headers: offsets, sizes, addresses, alignments.
        for (long[] p : l.phdrs()) {
            int o = (int) p[4];
            String ph = "phdr type 0x" + Long.toHexString(p[0]) + " at " + o;
            for (long v : new long[] {size, size + 4096, Long.MAX_VALUE, -1L, 0x7fffffffL}) {
                out.add(new Copy(ph + " p_offset=" + v, with(base, b -> b.putLong(o + 8, v))));
                out.add(new Copy(ph + " p_filesz=" + v, with(base, b -> b.putLong(o + 32, v))));
                out.add(new Copy(ph + " p_memsz=" + v, with(base, b -> b.putLong(o + 40, v))));
                out.add(new Copy(ph + " p_vaddr=" + v, with(base, b -> b.putLong(o + 16, v))));
            }
            out.add(new Copy(ph + " p_align=3", with(base, b -> b.putLong(o + 48, 3))));
            out.add(new Copy(ph + " p_align=2^63", with(base, b -> b.putLong(o + 48, Long.MIN_VALUE))));
            out.add(new Copy(ph + " -> PT_DYNAMIC", with(base, b -> b.putInt(o, Elf.PT_DYNAMIC))));
            out.add(new Copy(ph + " -> PT_TLS", with(base, b -> b.putInt(o, Elf.PT_TLS))));
            out.add(new Copy(ph + " -> PT_INTERP", with(base, b -> b.putInt(o, Elf.PT_INTERP))));
            out.add(new Copy(ph + " -> PT_NOTE", with(base, b -> b.putInt(o, Elf.PT_NOTE))));
        }
        // Section headers.
        for (long[] s : l.shdrs()) {
            int o = (int) s[3];
            for (long v : new long[] {size, Long.MAX_VALUE, -1L, 0xffffffffL}) {
                out.add(new Copy("shdr at " + o + " sh_offset=" + v, with(base, b -> b.putLong(o + 24, v))));
                out.add(new Copy("shdr at " + o + " sh_size=" + v, with(base, b -> b.putLong(o + 32, v))));
            }
            out.add(new Copy("shdr at " + o + " sh_name=huge", with(base, b -> b.putInt(o, 0x7fffffff))));
            out.add(new Copy("shdr at " + o + " sh_link=huge", with(base, b -> b.putInt(o + 40, 0xffff))));
            out.add(new Copy("shdr at " + o + " sh_entsize=0", with(base, b -> b.putLong(o + 56, 0))));
        }
        // Dynamic entries: every value, extreme.
        if (l.dynOff() >= 0) {
            for (long o = l.dynOff(); o + 16 <= l.dynOff() + l.dynSize(); o += 16) {
                int at = (int) o;
                long tag = le(base).getLong(at);
                if (tag == 0) {
                    out.add(new Copy("DT_NULL removed", with(base, b -> b.putLong(at, Elf.DT_DEBUG))));
                    break;
                }
                for (long v : EXTREMES) {
                    out.add(new Copy("dynamic tag 0x" + Long.toHexString(tag) + " value=" + v,
                            with(base, b -> b.putLong(at + 8, v))));
                }
                out.add(new Copy("dynamic tag 0x" + Long.toHexString(tag) + " value=file size",
                        with(base, b -> b.putLong(at + 8, size))));
                out.add(new Copy("dynamic tag 0x" + Long.toHexString(tag) + " -> DT_REL", with(base, b -> b.putLong(at, Elf.DT_REL))));
                out.add(new Copy("dynamic tag 0x" + Long.toHexString(tag) + " -> DT_RELR", with(base, b -> b.putLong(at, Elf.DT_RELR))));
                out.add(new Copy("dynamic tag 0x" + Long.toHexString(tag) + " -> DT_VERNEEDNUM",
                        with(base, b -> b.putLong(at, Elf.DT_VERNEEDNUM))));
            }
        }
        // Table headers: GNU hash, SysV hash, verneed, verdef.
        Long gnu = l.dynFileOffsets().get(Elf.DT_GNU_HASH);
        if (gnu != null) {
            int g = gnu.intValue();
            for (long v : new long[] {0, 1, 3, 0x10000, 0x7fffffffL, 0xffffffffL}) {
                out.add(new Copy("GNU hash nbuckets=" + v, with(base, b -> b.putInt(g, (int) v))));
                out.add(new Copy("GNU hash symoffset=" + v, with(base, b -> b.putInt(g + 4, (int) v))));
                out.add(new Copy("GNU hash bloom_size=" + v, with(base, b -> b.putInt(g + 8, (int) v))));
                out.add(new Copy("GNU hash bloom_shift=" + v, with(base, b -> b.putInt(g + 12, (int) v))));
            }
            int nb = le(base).getInt(g);
            int bloom = le(base).getInt(g + 8);
            int buckets = g + 16 + 8 * bloom;
            for (int i = 0; i < Math.min(nb, 8); i++) {
                int bi = buckets + 4 * i;
                for (long v : new long[] {0, 1, 0xffff, 0x7fffffffL, 0xffffffffL}) {
                    out.add(new Copy("GNU hash bucket " + i + "=" + v, with(base, b -> b.putInt(bi, (int) v))));
                }
            }
            // Chains with no end marker: clear the low bit of every chain word.
            out.add(new Copy("GNU hash chains never terminate", with(base, b -> {
                for (int o = buckets + 4 * nb; o + 4 <= Math.min(base.length, buckets + 4 * nb + 4096); o += 4) {
                    b.putInt(o, b.getInt(o) & ~1);
                }
            })));
        }
        Long sysv = l.dynFileOffsets().get(Elf.DT_HASH);
        if (sysv != null) {
            int h = sysv.intValue();
            for (long v : new long[] {0, 1, 0x10000, 0x7fffffffL, 0xffffffffL}) {
                out.add(new Copy("SysV hash nbucket=" + v, with(base, b -> b.putInt(h, (int) v))));
                out.add(new Copy("SysV hash nchain=" + v, with(base, b -> b.putInt(h + 4, (int) v))));
            }
            out.add(new Copy("SysV hash chain loops", with(base, b -> {
                int nbucket = b.getInt(h);
                int chains = h + 8 + 4 * nbucket;
                int nchain = b.getInt(h + 4);
                for (int i = 1; i < nchain && chains + 4 * i + 4 <= base.length; i++) {
                    b.putInt(chains + 4 * i, i); // every chain points at itself
                }
            })));
        }
        for (long tag : new long[] {Elf.DT_VERNEED, Elf.DT_VERDEF}) {
            Long vo = l.dynFileOffsets().get(tag);
            if (vo == null) {
                continue;
            }
            int v = vo.intValue();
            String t = tag == Elf.DT_VERNEED ? "verneed" : "verdef";
            // Vernaux/Verdef layout: version(2) cnt(2) ... next at 12 (verneed) / 16 (verdef)
            int cntOff = tag == Elf.DT_VERNEED ? 2 : 4;
            int auxOff = tag == Elf.DT_VERNEED ? 8 : 12;
            int nextOff = tag == Elf.DT_VERNEED ? 12 : 16;
            for (int c : new int[] {0, 0xffff, 0x7fff}) {
                out.add(new Copy(t + " count=" + c, with(base, b -> b.putShort(v + cntOff, (short) c))));
            }
            for (long x : new long[] {0, 0xffffffffL, 0x7fffffffL, base.length, 1, 2}) {
                out.add(new Copy(t + " aux=" + x, with(base, b -> b.putInt(v + auxOff, (int) x))));
                out.add(new Copy(t + " next=" + x, with(base, b -> b.putInt(v + nextOff, (int) x))));
            }
            out.add(new Copy(t + " version=2", with(base, b -> b.putShort(v, (short) 2))));
            if (tag == Elf.DT_VERNEED) {
                out.add(new Copy(t + " file name=huge", with(base, b -> b.putInt(v + 4, 0x7fffffff))));
            }
        }
        Long versym = l.dynFileOffsets().get(Elf.DT_VERSYM);
        if (versym != null) {
            int vs = versym.intValue();
            for (int x : new int[] {0x7fff, 0xffff, 99, 0x8002}) {
                out.add(new Copy("versym[1..8]=" + x, with(base, b -> {
                    for (int i = 1; i <= 8 && vs + 2 * i + 2 <= base.length; i++) {
                        b.putShort(vs + 2 * i, (short) x);
                    }
                })));
            }
        }
        Long symtab = l.dynFileOffsets().get(Elf.DT_SYMTAB);
        if (symtab != null) {
            int s = symtab.intValue();
            for (long x : new long[] {0x7fffffffL, 0xffffffffL, base.length}) {
                out.add(new Copy("dynsym st_name=" + x, with(base, b -> {
                    for (int i = 1; i <= 8 && s + 24 * i + 24 <= base.length; i++) {
                        b.putInt(s + 24 * i, (int) x);
                    }
                })));
            }
        }
        for (long tag : new long[] {Elf.DT_RELA, Elf.DT_JMPREL}) {
            Long r = l.dynFileOffsets().get(tag);
            if (r == null) {
                continue;
            }
            int ro = r.intValue();
            out.add(new Copy("relocation symbol indices huge (tag " + tag + ")", with(base, b -> {
                for (int i = 0; i < 8 && ro + 24 * i + 24 <= base.length; i++) {
                    b.putLong(ro + 24 * i + 8, (0xffffffL << 32) | 6);
                }
            })));
        }
        Long relr = l.dynFileOffsets().get(Elf.DT_RELR);
        if (relr != null) {
            int ro = relr.intValue();
            out.add(new Copy("RELR starts with a bitmap", with(base, b -> b.putLong(ro, -1L))));
            out.add(new Copy("RELR address near 2^64", with(base, b -> b.putLong(ro, -16L))));
        }
        return out;
    }

    /** Seeded random corruption: 1 to 8 random values written into a random region, weighted to the tables. */
    static List<Copy> randomMutations(byte[] base, Random rnd, int count) {
        Layout l = layout(base);
        List<long[]> regions = new ArrayList<>(); // [start, length]
        regions.add(new long[] {0, 64});
        regions.add(new long[] {l.phoff(), 56L * l.phnum()});
        if (l.shoff() > 0) {
            regions.add(new long[] {l.shoff(), Math.min(64L * l.shnum(), base.length - l.shoff())});
        }
        if (l.dynOff() >= 0) {
            regions.add(new long[] {l.dynOff(), l.dynSize()});
        }
        for (long off : l.dynFileOffsets().values()) {
            regions.add(new long[] {off, Math.min(256, base.length - off)});
        }
        regions.add(new long[] {0, base.length});
        List<Copy> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            long[] r = regions.get(rnd.nextInt(regions.size()));
            byte[] c = base.clone();
            ByteBuffer b = le(c);
            int writes = 1 + rnd.nextInt(8);
            StringBuilder what = new StringBuilder("random #" + i + ":");
            for (int w = 0; w < writes; w++) {
                if (r[1] <= 0) {
                    continue;
                }
                int at = (int) (r[0] + rnd.nextInt((int) Math.min(r[1], Integer.MAX_VALUE)));
                int width = new int[] {1, 2, 4, 8}[rnd.nextInt(4)];
                if (at < 0 || at + width > c.length) {
                    continue;
                }
                long v = rnd.nextInt(3) == 0 ? EXTREMES[rnd.nextInt(EXTREMES.length)] : rnd.nextLong();
                switch (width) {
                    case 1 -> b.put(at, (byte) v);
                    case 2 -> b.putShort(at, (short) v);
                    case 4 -> b.putInt(at, (int) v);
                    default -> b.putLong(at, v);
                }
                what.append(String.format(" [0x%x]=%d/%d", at, width, v));
            }
            out.add(new Copy(what.toString(), c));
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------
    // Tests

    @TestFactory
    Stream<DynamicTest> everyMalformedCopyFailsCleanly() {
        return baseFiles().entrySet().stream().map(e -> DynamicTest.dynamicTest(e.getKey(), () -> {
            byte[] base = Files.readAllBytes(e.getValue());
            assertEquals(null, walk(e.getValue(), base), e.getKey() + ": the well-formed file itself");
            Random rnd = new Random(SEED ^ e.getKey().hashCode());
            List<Copy> copies = new ArrayList<>();
            copies.addAll(truncations(base, rnd));
            copies.addAll(fieldMutations(base));
            copies.addAll(randomMutations(base, rnd, RANDOM_MUTATIONS_PER_FILE));
            List<String> failures = new ArrayList<>();
            int[] rejectedAtOpen = new int[1];
            assertTimeoutPreemptively(PER_FILE_BUDGET, () -> {
                for (Copy c : copies) {
                    try {
                        ElfFile.parse(Path.of("/fuzz/probe"), ByteBuffer.wrap(c.bytes()));
                    } catch (ElfFormatException expected) {
                        rejectedAtOpen[0]++;
                    } catch (Throwable t) {
                        // reported by walk() below
                    }
                    Path name = Path.of("/fuzz/" + e.getKey() + " (" + c.what() + ")");
                    long t0 = System.nanoTime();
                    String problem = walk(name, c.bytes());
                    long ms = (System.nanoTime() - t0) / 1_000_000;
                    if (ms > SINGLE_COPY_LIMIT.toMillis()) {
                        failures.add(c.what() + ": took " + ms + " ms");
                    }
                    if (problem != null) {
                        failures.add(c.what() + ":\n    " + problem.replace("\n", "\n    "));
                    }
                }
            }, () -> e.getKey() + ": the reader did not finish " + copies.size() + " malformed copies within "
                    + PER_FILE_BUDGET.toSeconds() + " s (a hang?)");
            System.out.printf("%s: %d malformed copies, %d refused when opened, %d problems%n",
                    e.getKey(), copies.size(), rejectedAtOpen[0], failures.size());
            assertTrue(rejectedAtOpen[0] > copies.size() / 10,
                    "the mutations should break the file often enough to matter: " + rejectedAtOpen[0]);
            if (!failures.isEmpty()) {
                fail(e.getKey() + ": " + failures.size() + " of " + copies.size()
                        + " malformed copies raised something other than ElfFormatException (first 25 shown):\n"
                        + String.join("\n", failures.subList(0, Math.min(25, failures.size()))));
            }
        }));
    }

    /** Through the file system too: ElfFile.open on truncated files, and on an empty one. */
    @Test
    void openTruncatedFilesOnDisk() throws IOException {
        Path dir = Fixtures.scratchDir("elf-truncated");
        try {
            byte[] base = Files.readAllBytes(FixtureCatalog.libver());
            List<String> failures = new ArrayList<>();
            for (Copy c : truncations(base, new Random(SEED))) {
                Path f = dir.resolve("libver-" + c.bytes().length + ".so");
                Files.write(f, c.bytes());
                try (ElfFile elf = ElfFile.open(f)) {
                    String problem = walk(f, Files.readAllBytes(f));
                    if (problem != null) {
                        failures.add(c.what() + ": " + problem);
                    }
                    elf.dynamic();
                } catch (ElfFormatException e) {
                    if (!e.getMessage().contains(f.toString())) {
                        failures.add(c.what() + ": message does not name the file: " + e.getMessage());
                    }
                } catch (Throwable t) {
                    failures.add(c.what() + ": " + t);
                }
                Files.delete(f);
            }
            assertTrue(failures.isEmpty(), () -> String.join("\n", failures));
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    @Test
    void wrongKindsAreClassified() throws IOException {
        byte[] base = Files.readAllBytes(FixtureCatalog.helloPie());
        Path n = Path.of("/fuzz/kind");
        assertEquals(ElfFormatException.Kind.NOT_ELF, kindOf(n, "#!/bin/sh\necho not elf\n".getBytes()));
        assertEquals(ElfFormatException.Kind.NOT_ELF, kindOf(n, new byte[0]));
        assertEquals(ElfFormatException.Kind.WRONG_CLASS, kindOf(n, with(base, b -> b.put(4, (byte) 1))));
        assertEquals(ElfFormatException.Kind.WRONG_MACHINE, kindOf(n, with(base, b -> b.putShort(18, (short) 183))));
        assertEquals(ElfFormatException.Kind.MALFORMED, kindOf(n, java.util.Arrays.copyOf(base, 100)));
    }

    private static ElfFormatException.Kind kindOf(Path name, byte[] bytes) {
        try {
            ElfFile.parse(name, ByteBuffer.wrap(bytes));
        } catch (ElfFormatException e) {
            assertTrue(e.getMessage().contains(name.toString()), e.getMessage());
            return e.kind();
        }
        return null;
    }
}
