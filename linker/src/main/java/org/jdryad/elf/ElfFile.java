package org.jdryad.elf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * An ELF64 little-endian x86-64 file, memory-mapped read-only and never copied whole.
 *
 * <p>The file header and program headers are validated when the file is opened; everything else
 * (dynamic section, symbols, hash tables, versions, relocations, notes, section headers) is
 * parsed on first use, and every offset, size and count is checked against the bytes that back
 * it before it is used. Any inconsistency raises {@link ElfFormatException} naming the file,
 * what is wrong and the file offset.
 */
public final class ElfFile implements AutoCloseable {
    private final Path path;
    private final ByteView view;
    private final FileIdentity identity;

    private final int type;
    private final int machine;
    private final long entry;
    private final long phoff;
    private final long shoff;
    private final int shentsize;
    private final int shstrndx;
    private final long shnum;
    private final List<ProgramHeader> programHeaders;

    private volatile List<SectionHeader> sectionHeaders; // volatile: the warm server shares parsed files between runs (ElfCache)
    private volatile Optional<DynamicSection> dynamic;
    private volatile Optional<String> interpreter;
    /** Values computed from this file's bytes alone, computed once (see {@link #derived}). */
    private final java.util.concurrent.ConcurrentHashMap<DerivedKey<?>, Object> derived =
            new java.util.concurrent.ConcurrentHashMap<>();

    private ElfFile(Path path, ByteBuffer bytes, FileIdentity identity) {
        this.path = path;
        this.view = new ByteView(path, bytes);
        this.identity = identity;

        checkIdent();
        this.type = view.u16(16);
        this.machine = view.u16(18);
        if (machine != Elf.EM_X86_64) {
            throw new ElfFormatException(path, ElfFormatException.Kind.WRONG_MACHINE, 18,
                    "machine " + machine + " is not x86-64 (62)");
        }
        if (view.u32(20) != Elf.EV_CURRENT) {
            throw view.malformed(20, "unsupported ELF version " + view.u32(20));
        }
        this.entry = view.u64(24);
        this.phoff = view.u64(32);
        this.shoff = view.u64(40);
        int ehsize = view.u16(52);
        int phentsize = view.u16(54);
        int phnum = view.u16(56);
        this.shentsize = view.u16(58);
        int rawShnum = view.u16(60);
        int rawShstrndx = view.u16(62);
        if (ehsize < Elf.EHDR_SIZE) {
            throw view.malformed(52, "e_ehsize " + ehsize + " is smaller than an ELF64 header");
        }
        if (type != Elf.ET_EXEC && type != Elf.ET_DYN) {
            // Relocatable objects and core files are ELF, but nothing a loader can load.
            throw view.malformed(16, "ELF type " + type + " is neither an executable (ET_EXEC) nor a shared object (ET_DYN)");
        }

        // Extended numbering: counts that do not fit in the header live in section header 0.
        long sh0 = shoff;
        long realShnum = rawShnum;
        int realShstrndx = rawShstrndx;
        if (shoff != 0 && (rawShnum == 0 || rawShstrndx == Elf.SHN_XINDEX || phnum == 0xffff)) {
            checkShentsize();
            view.require(sh0, Elf.SHDR_SIZE, "section header 0");
            if (rawShnum == 0) {
                realShnum = view.u64(sh0 + 32);
            }
            if (rawShstrndx == Elf.SHN_XINDEX) {
                realShstrndx = (int) Math.min(view.u32(sh0 + 40), Integer.MAX_VALUE);
            }
            if (phnum == 0xffff) {
                long info = view.u32(sh0 + 44);
                if (info > Integer.MAX_VALUE / Elf.PHDR_SIZE) {
                    throw view.malformed(sh0 + 44, "program header count " + info + " is too large");
                }
                phnum = (int) info;
            }
        }
        this.shnum = shoff == 0 ? 0 : realShnum;
        this.shstrndx = realShstrndx;

        if (phnum > 0 && phentsize != Elf.PHDR_SIZE) {
            throw view.malformed(54, "e_phentsize " + phentsize + " is not " + Elf.PHDR_SIZE);
        }
        view.require(phoff, (long) phnum * Elf.PHDR_SIZE, phnum + " program headers");
        List<ProgramHeader> phdrs = new ArrayList<>(phnum);
        for (int i = 0; i < phnum; i++) {
            long o = phoff + (long) i * Elf.PHDR_SIZE;
            ProgramHeader ph = new ProgramHeader((int) view.u32(o), (int) view.u32(o + 4), view.u64(o + 8),
                    view.u64(o + 16), view.u64(o + 24), view.u64(o + 32), view.u64(o + 40), view.u64(o + 48));
            checkProgramHeader(ph, o);
            phdrs.add(ph);
        }
        this.programHeaders = Collections.unmodifiableList(phdrs);
    }

    /** Opens and maps a file. Format problems raise {@link ElfFormatException}; I/O problems IOException. */
    public static ElfFile open(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            throw new IOException(path + ": Is a directory");
        }
        if (Files.exists(path) && !Files.isRegularFile(path)) {
            throw new IOException(path + ": not a regular file"); // a FIFO's open would wait for a writer
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size > Integer.MAX_VALUE) {
                throw new ElfFormatException(path, -1, "file is larger than 2 GiB, which jdryad does not map");
            }
            ByteBuffer map = size == 0 ? ByteBuffer.allocate(0) : ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
            return new ElfFile(path, map, FileIdentity.of(path));
        }
    }

    /** Parses bytes already in memory (tests, and objects read from a process); {@code name} is used in errors. */
    public static ElfFile parse(Path name, ByteBuffer bytes) {
        return new ElfFile(name, bytes, new FileIdentity(-1, -1));
    }

    private void checkIdent() {
        if (view.size() < 4 || view.u8(0) != 0x7f || view.u8(1) != 'E' || view.u8(2) != 'L' || view.u8(3) != 'F') {
            throw new ElfFormatException(path, ElfFormatException.Kind.NOT_ELF, -1, "not an ELF file");
        }
        if (view.size() < Elf.EI_NIDENT) {
            throw view.malformed(0, "file is too short for an ELF identification");
        }
        int cls = view.u8(4);
        if (cls != Elf.ELFCLASS64) {
            throw new ElfFormatException(path, ElfFormatException.Kind.WRONG_CLASS, 4,
                    cls == 1 ? "32-bit ELF (ELFCLASS32) is not supported" : "invalid ELF class " + cls);
        }
        if (view.u8(5) != Elf.ELFDATA2LSB) {
            throw new ElfFormatException(path, ElfFormatException.Kind.WRONG_MACHINE, 5,
                    "ELF data encoding " + view.u8(5) + " is not little-endian");
        }
        if (view.size() < Elf.EHDR_SIZE) {
            throw view.malformed(0, "file is too short for an ELF64 header (" + view.size() + " bytes)");
        }
    }

    private void checkShentsize() {
        if (shentsize != Elf.SHDR_SIZE) {
            throw view.malformed(58, "e_shentsize " + shentsize + " is not " + Elf.SHDR_SIZE);
        }
    }

    private void checkProgramHeader(ProgramHeader ph, long at) {
        if (ph.filesz() > ph.memsz() && ph.type() == Elf.PT_LOAD) {
            throw view.malformed(at, String.format("PT_LOAD has p_filesz 0x%x larger than p_memsz 0x%x", ph.filesz(), ph.memsz()));
        }
        if (ph.type() == Elf.PT_TLS && Long.compareUnsigned(ph.filesz(), ph.memsz()) > 0) {
            throw view.malformed(at, String.format("PT_TLS has p_filesz 0x%x larger than p_memsz 0x%x", ph.filesz(), ph.memsz()));
        }
        if (ph.type() == Elf.PT_LOAD || ph.type() == Elf.PT_DYNAMIC || ph.type() == Elf.PT_INTERP
                || ph.type() == Elf.PT_TLS || ph.type() == Elf.PT_NOTE) {
            if (!view.contains(ph.offset(), ph.filesz())) {
                throw view.malformed(at, String.format("%s segment (0x%x bytes at offset 0x%x) extends past the end of the file",
                        segmentName(ph.type()), ph.filesz(), ph.offset()));
            }
        }
        if (ph.type() == Elf.PT_LOAD) {
            if (ph.vaddr() + ph.memsz() < ph.vaddr() && ph.vaddr() + ph.memsz() != 0) {
                throw view.malformed(at, "PT_LOAD segment wraps around the address space");
            }
            // Modulo the page, not p_align: mmap needs no more, and glibc 2.36 and the kernel load
            // a segment whose p_align is larger than its address and offset agree on.
            if (((ph.vaddr() - ph.offset()) & (Elf.PAGE_SIZE - 1)) != 0) {
                throw view.malformed(at, "PT_LOAD segment address and offset are not congruent modulo the page size");
            }
        }
    }

    static String segmentName(int type) {
        switch (type) {
            case Elf.PT_LOAD: return "PT_LOAD";
            case Elf.PT_DYNAMIC: return "PT_DYNAMIC";
            case Elf.PT_INTERP: return "PT_INTERP";
            case Elf.PT_NOTE: return "PT_NOTE";
            case Elf.PT_TLS: return "PT_TLS";
            case Elf.PT_PHDR: return "PT_PHDR";
            case Elf.PT_GNU_RELRO: return "PT_GNU_RELRO";
            case Elf.PT_GNU_STACK: return "PT_GNU_STACK";
            case Elf.PT_GNU_EH_FRAME: return "PT_GNU_EH_FRAME";
            case Elf.PT_GNU_PROPERTY: return "PT_GNU_PROPERTY";
            default: return String.format("segment type 0x%x", type);
        }
    }

    public Path path() {
        return path;
    }

    /** Device and inode of the file when it was opened ({@code -1,-1} for parsed buffers). */
    public FileIdentity identity() {
        return identity;
    }

    public long size() {
        return view.size();
    }

    /** {@link Elf#ET_EXEC} or {@link Elf#ET_DYN}. */
    public int type() {
        return type;
    }

    public int machine() {
        return machine;
    }

    public long entry() {
        return entry;
    }

    public long programHeaderOffset() {
        return phoff;
    }

    public List<ProgramHeader> programHeaders() {
        return programHeaders;
    }

    /** The PT_LOAD segments, in file order. */
    public List<ProgramHeader> loadSegments() {
        List<ProgramHeader> out = new ArrayList<>();
        for (ProgramHeader ph : programHeaders) {
            if (ph.type() == Elf.PT_LOAD) {
                out.add(ph);
            }
        }
        return out;
    }

    /** The first program header of the given type. */
    public Optional<ProgramHeader> segment(int type) {
        for (ProgramHeader ph : programHeaders) {
            if (ph.type() == type) {
                return Optional.of(ph);
            }
        }
        return Optional.empty();
    }

    public Optional<ProgramHeader> tls() {
        return segment(Elf.PT_TLS);
    }

    public Optional<ProgramHeader> relro() {
        return segment(Elf.PT_GNU_RELRO);
    }

    public Optional<ProgramHeader> gnuStack() {
        return segment(Elf.PT_GNU_STACK);
    }

    public Optional<ProgramHeader> gnuProperty() {
        return segment(Elf.PT_GNU_PROPERTY);
    }

    /**
     * True for an executable that needs no loader: the kernel runs it as it is. That is any
     * executable without PT_INTERP, static-pie (which relocates itself) included.
     */
    public boolean isStatic() {
        return segment(Elf.PT_INTERP).isEmpty();
    }

    /** The PT_INTERP path, if any. */
    public Optional<String> interpreter() {
        if (interpreter == null) {
            Optional<ProgramHeader> ph = segment(Elf.PT_INTERP);
            interpreter = ph.map(p -> view.cString(p.offset(), p.offset() + p.filesz(), "PT_INTERP path"));
        }
        return interpreter;
    }

    /**
     * A kind of value that depends on a file's bytes alone (a decision or a table derived from
     * its parsed sections), kept with the parsed file: {@link #derived}.
     *
     * @param name what it is, for reading a dump
     * @param compute computes it from the file; may throw what parsing throws
     */
    public record DerivedKey<T>(String name, java.util.function.Function<ElfFile, T> compute) {
    }

    /**
     * {@code key}'s value for this file, computed at the first call and kept with the file. Why:
     * the warm server keeps parsed files between runs (ElfCache, which hands out a file only
     * while its device, inode, size and times are unchanged), so what a run derives from a
     * file's bytes alone is the same at every run of that version and need not be derived again;
     * a rebuilt file is another ElfFile, parsed afresh, with nothing derived yet. A value is
     * computed outside the map's lock (computing one may ask for another); two threads asking at
     * once may both compute it, and the first stored is the one every caller gets.
     */
    public <T> T derived(DerivedKey<T> key) {
        Object v = derived.get(key);
        if (v == null) {
            T computed = java.util.Objects.requireNonNull(key.compute().apply(this), key.name());
            v = derived.putIfAbsent(key, computed);
            if (v == null) {
                v = computed;
            }
        }
        @SuppressWarnings("unchecked")
        T t = (T) v;
        return t;
    }

    /** The dynamic section, or empty for a file without PT_DYNAMIC. */
    public Optional<DynamicSection> dynamic() {
        if (dynamic == null) {
            Optional<ProgramHeader> ph = segment(Elf.PT_DYNAMIC);
            dynamic = ph.map(p -> new DynamicSection(this, p));
        }
        return dynamic;
    }

    /** The dynamic section, failing clearly when there is none. */
    public DynamicSection requireDynamic() {
        return dynamic().orElseThrow(() -> view.malformed(-1, "has no dynamic section (PT_DYNAMIC)"));
    }

    /** The size of the address range the PT_LOAD segments span, page-rounded, from the lowest page. */
    public long mappedSpan(long pageSize) {
        long lo = Long.MAX_VALUE;
        long hi = 0;
        for (ProgramHeader ph : loadSegments()) {
            lo = Math.min(lo, ph.vaddr() & -pageSize);
            hi = Math.max(hi, ph.vaddr() + ph.memsz());
        }
        if (lo == Long.MAX_VALUE) {
            return 0;
        }
        return ((hi + pageSize - 1) & -pageSize) - lo;
    }

    /** The lowest PT_LOAD address, page-aligned (0 when there is no PT_LOAD). */
    public long lowestLoadAddress(long pageSize) {
        long lo = Long.MAX_VALUE;
        for (ProgramHeader ph : loadSegments()) {
            lo = Math.min(lo, ph.vaddr() & -pageSize);
        }
        return lo == Long.MAX_VALUE ? 0 : lo;
    }

    /**
     * Translates a virtual address to a file offset through the PT_LOAD segments, checking that
     * {@code length} bytes from it are backed by file bytes of one segment.
     */
    public long fileOffset(long vaddr, long length, String what) {
        for (ProgramHeader ph : programHeaders) {
            if (ph.type() != Elf.PT_LOAD) {
                continue;
            }
            long rel = vaddr - ph.vaddr();
            if (Long.compareUnsigned(vaddr, ph.vaddr()) >= 0 && Long.compareUnsigned(rel, ph.filesz()) <= 0
                    && length >= 0 && Long.compareUnsigned(length, ph.filesz() - rel) <= 0) {
                long off = ph.offset() + rel;
                view.require(off, length, what);
                return off;
            }
        }
        throw view.malformed(-1, String.format("%s at address 0x%x (0x%x bytes) is not inside a PT_LOAD segment's file bytes",
                what, vaddr, length));
    }

    /** Whether {@code length} bytes at {@code vaddr} are backed by file bytes of one PT_LOAD segment. */
    public boolean isFileBacked(long vaddr, long length) {
        for (ProgramHeader ph : programHeaders) {
            long rel = vaddr - ph.vaddr();
            if (ph.type() == Elf.PT_LOAD && Long.compareUnsigned(vaddr, ph.vaddr()) >= 0
                    && Long.compareUnsigned(rel, ph.filesz()) <= 0 && length >= 0
                    && Long.compareUnsigned(length, ph.filesz() - rel) <= 0) {
                return true;
            }
        }
        return false;
    }

    /** Copies bytes at a virtual address (must be file-backed). */
    public byte[] bytesAt(long vaddr, long length, String what) {
        return view.copy(fileOffset(vaddr, length, what), length, what);
    }

    /** Reads a little-endian 64-bit word at a virtual address (must be file-backed). */
    public long u64At(long vaddr, String what) {
        return view.u64(fileOffset(vaddr, 8, what));
    }

    /** The section headers (empty when the file has none). Parsed on first use. */
    public List<SectionHeader> sectionHeaders() {
        if (sectionHeaders == null) {
            sectionHeaders = readSectionHeaders();
        }
        return sectionHeaders;
    }

    private List<SectionHeader> readSectionHeaders() {
        if (shoff == 0 || shnum == 0) {
            return List.of();
        }
        checkShentsize();
        if (shnum > view.size() / Elf.SHDR_SIZE) {
            throw view.malformed(60, "section header count " + shnum + " is larger than the file can hold");
        }
        view.require(shoff, shnum * Elf.SHDR_SIZE, shnum + " section headers");
        long strOff = 0;
        long strEnd = 0;
        if (shstrndx != 0) {
            if (shstrndx >= shnum) {
                throw view.malformed(62, "e_shstrndx " + shstrndx + " is not a section index (" + shnum + " sections)");
            }
            long s = shoff + (long) shstrndx * Elf.SHDR_SIZE;
            strOff = view.u64(s + 24);
            long strSize = view.u64(s + 32);
            view.require(strOff, strSize, "section name string table");
            strEnd = strOff + strSize;
        }
        List<SectionHeader> out = new ArrayList<>((int) shnum);
        for (long i = 0; i < shnum; i++) {
            long o = shoff + i * Elf.SHDR_SIZE;
            long nameIdx = view.u32(o);
            String name = shstrndx == 0 || (i == 0 && nameIdx == 0) ? ""
                    : view.cString(strOff + nameIdx, strEnd, "name of section " + i);
            int stype = (int) view.u32(o + 4);
            long off = view.u64(o + 24);
            long size = view.u64(o + 32);
            if (stype != Elf.SHT_NOBITS && stype != 0 && !view.contains(off, size)) {
                throw view.malformed(o, String.format("section %d (%s) (0x%x bytes at offset 0x%x) extends past the end of the file",
                        i, name, size, off));
            }
            out.add(new SectionHeader(name, stype, view.u64(o + 8), view.u64(o + 16), off, size,
                    (int) view.u32(o + 40), (int) view.u32(o + 44), view.u64(o + 48), view.u64(o + 56)));
        }
        return Collections.unmodifiableList(out);
    }

    /**
     * The defined, named symbols of the static symbol table (.symtab), name to link-time value;
     * empty when the file is stripped. Used to find the agent's own functions.
     */
    public java.util.Map<String, Long> staticSymbols() {
        java.util.Map<String, Long> out = new java.util.HashMap<>();
        List<SectionHeader> sections = sectionHeaders();
        for (SectionHeader sh : sections) {
            if (sh.type() != 2 /* SHT_SYMTAB */) {
                continue;
            }
            if (sh.entsize() != Elf.SYM_SIZE || sh.link() < 0 || sh.link() >= sections.size()) {
                throw view.malformed(sh.offset(), ".symtab has entry size " + sh.entsize() + " or string table link " + sh.link());
            }
            SectionHeader str = sections.get(sh.link());
            view.require(sh.offset(), sh.size(), ".symtab");
            view.require(str.offset(), str.size(), ".strtab");
            long n = sh.size() / Elf.SYM_SIZE;
            for (long i = 1; i < n; i++) {
                long o = sh.offset() + i * Elf.SYM_SIZE;
                long name = view.u32(o);
                int shndx = view.u16(o + 6);
                if (name == 0 || shndx == Elf.SHN_UNDEF) {
                    continue;
                }
                out.putIfAbsent(view.cString(str.offset() + name, str.offset() + str.size(), "symbol name"), view.u64(o + 8));
            }
        }
        return out;
    }

    /** The GNU build-id from the PT_NOTE segments, as lower-case hex. */
    public Optional<String> buildId() {
        for (Note n : notes()) {
            if (n.type() == Elf.NT_GNU_BUILD_ID && n.name().equals("GNU")) {
                return Optional.of(HexFormat.of().formatHex(n.desc()));
            }
        }
        return Optional.empty();
    }

    /** A note from a PT_NOTE segment. */
    public record Note(String name, int type, byte[] desc) {
    }

    /** All notes of all PT_NOTE segments. */
    public List<Note> notes() {
        List<Note> out = new ArrayList<>();
        for (ProgramHeader ph : programHeaders) {
            if (ph.type() != Elf.PT_NOTE) {
                continue;
            }
            long align = ph.align() == 8 ? 8 : 4;
            long o = ph.offset();
            long end = ph.offset() + ph.filesz();
            while (end - o >= 12) {
                long namesz = view.u32(o);
                long descsz = view.u32(o + 4);
                int ntype = (int) view.u32(o + 8);
                long nameOff = o + 12;
                long descOff = nameOff + align(namesz, 4);
                long next = descOff + align(descsz, align);
                if (descOff > end || descsz > end - descOff) {
                    throw view.malformed(o, "note extends past the end of its PT_NOTE segment");
                }
                String name = namesz == 0 ? "" : view.cString(nameOff, nameOff + namesz, "note name");
                out.add(new Note(name, ntype, view.copy(descOff, descsz, "note descriptor")));
                o = next;
            }
        }
        return out;
    }

    static long align(long v, long a) {
        return (v + a - 1) & -a;
    }

    ByteView view() {
        return view;
    }

    @Override
    public void close() {
        // The mapping is released by the garbage collector; nothing else is held open.
    }

    @Override
    public String toString() {
        return path.toString();
    }
}
