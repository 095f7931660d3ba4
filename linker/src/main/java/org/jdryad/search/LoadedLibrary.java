package org.jdryad.search;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jdryad.elf.DynamicSection;
import org.jdryad.elf.ElfFile;
import org.jdryad.elf.FileIdentity;

/**
 * An object of the dependency graph: the program, the interpreter, or a library found by the
 * search. Holds the open (memory-mapped) {@link ElfFile}; the graph closes it.
 */
public final class LoadedLibrary implements GraphEntry {
    /** What the object is. */
    public enum Kind { EXECUTABLE, INTERPRETER, LIBRARY }

    private final Kind kind;
    private final String path;
    private final ElfFile elf;
    private final FileIdentity identity;
    private final FoundBy foundBy;
    private final boolean preloaded;
    private final LoadedLibrary loader;
    /** Whether a dlopen mapped it (not a DT_NEEDED): then glibc's l_loader is NULL. */
    private boolean dlopened;
    private final String origin;
    private final List<SearchDirectory> searched;
    private final List<String> names = new CopyOnWriteArrayList<>();
    private final List<GraphEntry> dependencies = new ArrayList<>();
    private final Optional<String> soname;
    private final boolean host;
    private int loadIndex = -1;

    LoadedLibrary(Kind kind, String name, String path, ElfFile elf, FileIdentity identity, FoundBy foundBy,
            boolean preloaded, LoadedLibrary loader, String origin, List<SearchDirectory> searched) {
        this.kind = kind;
        this.path = path;
        this.elf = elf;
        this.identity = identity;
        this.foundBy = foundBy;
        this.preloaded = preloaded;
        this.loader = loader;
        this.origin = origin;
        this.searched = List.copyOf(searched);
        this.names.add(name);
        Optional<String> so = Optional.empty();
        if (elf != null) {
            so = elf.dynamic().flatMap(DynamicSection::soname);
        }
        this.soname = so;
        String base = path.substring(path.lastIndexOf('/') + 1);
        this.host = kind == Kind.INTERPRETER || HostObjects.isHost(so.orElse(base), elf);
    }

    public Kind kind() {
        return kind;
    }

    /** The name it was first requested by (for the program: the path given; for the interpreter: PT_INTERP). */
    @Override
    public String name() {
        return names.get(0);
    }

    /** Every name this object answers to so far (requested names, and the soname once matched). */
    public List<String> names() {
        return Collections.unmodifiableList(names);
    }

    /** The file name glibc records (l_name): search directory + hwcaps subdirectory + name, or the cache path. */
    public String path() {
        return path;
    }

    /** The mapped file; null only for an interpreter that could not be read. */
    public ElfFile elf() {
        return elf;
    }

    /** Device and inode; null for the program and the interpreter, which glibc does not compare. */
    public FileIdentity identity() {
        return identity;
    }

    public FoundBy foundBy() {
        return foundBy;
    }

    /** Loaded because of LD_PRELOAD, --preload or /etc/ld.so.preload. */
    public boolean preloaded() {
        return preloaded;
    }

    /** glibc's host object (its own libraries, see DESIGN.md), matched by soname. */
    public boolean host() {
        return host;
    }

    /** The object that caused it to be loaded (a dlopen's caller, or the object that needs it); empty for the program. */
    public Optional<LoadedLibrary> loader() {
        return Optional.ofNullable(loader);
    }

    /**
     * The next object whose DT_RPATH a search from this one tries (glibc's l_loader): the one
     * that needs it, and none for an object a dlopen mapped, since glibc's _dl_map_object drops
     * the caller once it has served the dlopen's own search (__RTLD_CALLMAP).
     */
    Optional<LoadedLibrary> rpathLoader() {
        return dlopened ? Optional.empty() : Optional.ofNullable(loader);
    }

    void markDlopened() {
        dlopened = true;
    }

    /** DT_SONAME. */
    public Optional<String> soname() {
        return soname;
    }

    /** The value of $ORIGIN for this object, or empty when it cannot be determined. */
    public Optional<String> origin() {
        return Optional.ofNullable(origin);
    }

    /** The places tried before it was found, in order; the last one is where it was found. */
    public List<SearchDirectory> searched() {
        return searched;
    }

    /** Resolved DT_NEEDED entries, in order (entries dropped by an empty $ORIGIN/$LIB expansion are absent). */
    public List<GraphEntry> dependencies() {
        return Collections.unmodifiableList(dependencies);
    }

    /**
     * Position in load order (0 = the program), or -1 for an interpreter nothing needed. Objects
     * added by {@link SearchNamespace#dlopen} continue the start-up sequence.
     */
    public int loadIndex() {
        return loadIndex;
    }

    Optional<DynamicSection> dynamic() {
        return elf == null ? Optional.empty() : elf.dynamic();
    }

    boolean answersTo(String name) {
        return path.equals(name) && kind != Kind.EXECUTABLE || names.contains(name);
    }

    void addName(String name) {
        if (!names.contains(name)) {
            names.add(name);
        }
    }

    void addDependency(GraphEntry dep) {
        dependencies.add(dep);
    }

    void setLoadIndex(int index) {
        this.loadIndex = index;
    }

    @Override
    public String toString() {
        return name() + " => " + path + " (" + foundBy.label() + (preloaded ? ", preload" : "") + (host ? ", host" : "") + ")";
    }
}
