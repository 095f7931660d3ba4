package org.jdryad.search;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jdryad.elf.ElfFormatException;

/**
 * glibc 2.36's library search and dependency walk (elf/dl-load.c _dl_map_object, elf/dl-deps.c
 * _dl_map_object_deps, elf/rtld.c preloading), without mapping anything: given a program, finds
 * every object it loads, in load order, and records how and where each was found.
 *
 * <p>Search order for a name without '/': DT_RPATH of the loading object and of its loaders up
 * to the program (only when the loading object has no DT_RUNPATH; an object with DT_RUNPATH has
 * its DT_RPATH ignored), then the program's DT_RPATH, LD_LIBRARY_PATH, DT_RUNPATH of the loading
 * object, ld.so.cache (not with DF_1_NODEFLIB, not for preloads in secure mode), the system
 * directories (not with DF_1_NODEFLIB). Each directory is tried with the glibc-hwcaps and legacy
 * hwcaps subdirectories first. A name with '/' is opened as given after token expansion.
 * Candidates that are ELF files of another class or machine are passed over; other unusable
 * files stop loading with glibc's message, as glibc does.
 *
 * <p>The state of a resolution (glibc's namespace: loaded objects, rpath/runpath caches) stays
 * reachable as {@link DependencyGraph#namespace()}, where {@link SearchNamespace#dlopen} runs the
 * same search at run time.
 *
 * <p>This class is the public front; the work is split by concern: {@link SearchSession} (the
 * objects of one resolution, the walk, dlopen), {@link SearchPath} (where a name is looked for,
 * in order), {@link CandidateFiles} (whether a file found is usable) and {@link PreloadNames}.
 *
 * <p>Thread-safe: each {@link #resolve} call has its own state.
 */
public final class LibrarySearch {
    private final SearchConfig config;
    private final SearchListener listener;

    public LibrarySearch(SearchConfig config) {
        this(config, SearchListener.NONE);
    }

    /** A search that tells {@code listener} each step (start-up, and dlopen in its namespace). */
    public LibrarySearch(SearchConfig config, SearchListener listener) {
        this.config = config;
        this.listener = listener;
    }

    public SearchConfig config() {
        return config;
    }

    /**
     * Resolves the dependencies of a program (or shared object) as the system loader would load
     * them for it.
     *
     * @param program the file as given (relative names are taken against the working directory)
     * @throws IOException when the program cannot be read
     * @throws ElfFormatException when the program is not a usable ELF64 x86-64 file
     */
    public DependencyGraph resolve(Path program) throws IOException {
        return resolve(program, NameAudit.NONE);
    }

    /** As {@link #resolve(Path)}, asking {@code audit} before each name the start-up looks for. */
    public DependencyGraph resolve(Path program, NameAudit audit) throws IOException {
        return new SearchSession(config, listener, program.toString()).run(audit);
    }

    /**
     * {@link #resolve} for run-time use: the program's namespace, ready for {@code dlopen}. The
     * start-up result is {@link SearchNamespace#graph()}; close the namespace when done.
     */
    public SearchNamespace resolveNamespace(Path program) throws IOException {
        return resolve(program).namespace();
    }

    /** Splits LD_PRELOAD / --preload as glibc does: at spaces and colons, empty names dropped. */
    public static List<String> splitPreloadList(String value) {
        List<String> out = new ArrayList<>();
        if (value == null) {
            return out;
        }
        for (String s : value.split("[ :]")) {
            if (!s.isEmpty()) {
                out.add(s);
            }
        }
        return out;
    }

    /** The directory part of a file name as glibc computes l_origin (no normalisation). */
    static String originOf(String realname, Path cwd) {
        String full = realname.startsWith("/") ? realname
                : (cwd.toString().endsWith("/") ? cwd.toString() : cwd + "/") + realname;
        int slash = full.lastIndexOf('/');
        return slash <= 0 ? "/" : full.substring(0, slash);
    }

    /**
     * glibc's open_verify on the first {@code h.position()} bytes of a file: "" when it would load
     * the file, else glibc's words ("file too short", "invalid ELF header", "only ET_DYN and ET_EXEC
     * can be loaded"...); a file of another class or machine (which a search passes over) gets
     * "wrong ELF class: ELFCLASS32" or "ELF machine N is not x86-64".
     */
    public static String headerWords(ByteBuffer h) {
        return CandidateFiles.headerWords(h);
    }
}
