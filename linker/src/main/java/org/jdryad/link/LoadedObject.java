package org.jdryad.link;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jdryad.elf.DynamicSection;
import org.jdryad.elf.ElfFile;
import org.jdryad.elf.SymbolVersions;

/**
 * One object in a link map: the executable, a jdryad object (mapped and relocated by jdryad) or a
 * host object (glibc's own, loaded by the system loader and only parsed here).
 */
public final class LoadedObject {
    private final ElfFile elf;
    private final String name;
    private final boolean host;
    private final boolean executable;
    private final int loadIndex;
    private final List<LoadedObject> dependencies = new ArrayList<>();

    private long base;          // l_addr: load bias added to link-time addresses
    private long mapStart;      // first mapped byte
    private long mapLength;     // bytes reserved
    private long tlsModuleId;   // 0 when the object has no TLS
    private long tlsOffset;     // TLS block sits at thread pointer - tlsOffset
    private boolean tlsStatic;  // whether tlsOffset is valid
    private volatile long glibcHandle;
    private volatile long namespace; // the link-map namespace (0: the base one; else glibc's Lmid_t for it)
    private volatile PageRuns pages = new PageRuns(); // what the plan mapped, with its protections

    public LoadedObject(ElfFile elf, String name, boolean host, boolean executable, int loadIndex) {
        this.elf = elf;
        this.name = name;
        this.host = host;
        this.executable = executable;
        this.loadIndex = loadIndex;
    }

    public ElfFile elf() {
        return elf;
    }

    /** The name gdb and users see: the path it was loaded from. */
    public String name() {
        return name;
    }

    public Path path() {
        return elf.path();
    }

    public boolean isHost() {
        return host;
    }

    public boolean isExecutable() {
        return executable;
    }

    /** The link-map namespace: 0 is the base one, another was made by dlmopen (glibc's id for it). */
    public long namespace() {
        return namespace;
    }

    public void setNamespace(long lmid) {
        this.namespace = lmid;
    }

    /** glibc's handle of a host object jdryad had glibc's dlmopen load (0: none), for its dlclose. */
    public long glibcHandle() {
        return glibcHandle;
    }

    public void setGlibcHandle(long handle) {
        this.glibcHandle = handle;
    }

    public int loadIndex() {
        return loadIndex;
    }

    public Optional<DynamicSection> dynamic() {
        return elf.dynamic();
    }

    public Optional<String> soname() {
        return elf.dynamic().flatMap(DynamicSection::soname);
    }

    public SymbolVersions versions() {
        return elf.requireDynamic().versions();
    }

    public List<LoadedObject> dependencies() {
        return dependencies;
    }

    public long base() {
        return base;
    }

    public void setBase(long base) {
        this.base = base;
    }

    public long mapStart() {
        return mapStart;
    }

    public long mapLength() {
        return mapLength;
    }

    public void setMapping(long start, long length) {
        this.mapStart = start;
        this.mapLength = length;
    }

    /** The run-time address of a link-time address. */
    public long address(long linkTimeAddress) {
        return base + linkTimeAddress;
    }

    /** The run-time address of the dynamic section (l_ld), or 0. */
    public long dynamicAddress() {
        return elf.segment(org.jdryad.elf.Elf.PT_DYNAMIC).map(p -> base + p.vaddr()).orElse(0L);
    }

    /** The run-time address of the program headers (l_phdr): PT_PHDR, else found through the PT_LOAD holding them; 0 if none. */
    public long phdrAddress() {
        Optional<org.jdryad.elf.ProgramHeader> phdr = elf.segment(org.jdryad.elf.Elf.PT_PHDR);
        if (phdr.isPresent()) {
            return base + phdr.get().vaddr();
        }
        long off = elf.programHeaderOffset();
        for (org.jdryad.elf.ProgramHeader ph : elf.loadSegments()) {
            if (off >= ph.offset() && off - ph.offset() < ph.filesz()) {
                return base + ph.vaddr() + (off - ph.offset());
            }
        }
        return 0;
    }

    public long tlsModuleId() {
        return tlsModuleId;
    }

    public long tlsOffset() {
        return tlsOffset;
    }

    public boolean hasStaticTls() {
        return tlsStatic;
    }

    public void setTls(long moduleId, long offset, boolean isStatic) {
        this.tlsModuleId = moduleId;
        this.tlsOffset = offset;
        this.tlsStatic = isStatic;
    }

    /** The protections of this object's pages as the plan made them (empty until mapped; hosts: empty). */
    PageRuns pages() {
        return pages;
    }

    void setPages(PageRuns pages) {
        this.pages = pages;
    }

    /** Whether {@code addr} lies in this object's mapping. */
    public boolean contains(long addr) {
        return Long.compareUnsigned(addr - mapStart, mapLength) < 0;
    }

    @Override
    public String toString() {
        return name;
    }
}
