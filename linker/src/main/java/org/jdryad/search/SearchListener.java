package org.jdryad.search;

import java.util.List;
import java.util.Optional;

/**
 * The steps of a library search as they happen, for whoever tells them (LD_DEBUG=libs,files:
 * {@code org.jdryad.debug.SearchTrace}). Every step has an empty default, and {@link #NONE}
 * listens to nothing.
 *
 * <p>Why steps and not finished results: glibc's lines interleave the search for one name with
 * the loading of another, and say what was tried in which order, including directories that
 * turned out not to exist; only the search knows that order.
 */
public interface SearchListener {
    SearchListener NONE = new SearchListener() {
    };

    /** Why a name is being looked for. */
    enum Reason {
        /** A DT_NEEDED entry of the loader. */
        NEEDED,
        /** LD_PRELOAD, --preload or /etc/ld.so.preload (the program is the loader). */
        PRELOAD,
        /** dlopen called from the loader. */
        DLOPEN
    }

    /** The search starts: the program and the interpreter are loaded, nothing else yet. */
    default void startingWith(LoadedLibrary program, LoadedLibrary interpreter) {
    }

    /**
     * The search paths are set up, in glibc's order (_dl_init_paths): the system directories,
     * the program's own DT_RUNPATH (or DT_RPATH) directories, LD_LIBRARY_PATH's.
     */
    default void pathsReady(LoadedLibrary program, List<SearchDirectory> system, List<SearchDirectory> programPaths,
                            List<SearchDirectory> libraryPath) {
    }

    /** {@code name}, which no loaded object answers to, is looked for on behalf of {@code loader}. */
    default void lookingFor(String name, LoadedLibrary loader, Reason why) {
    }

    /**
     * After {@link #lookingFor}: {@code name} is what is looked for now, the name itself or what
     * LD_AUDIT's la_objsearch(LA_SER_ORIG) made of it (glibc's "find library" line names that one).
     */
    default void searchingFor(String name) {
    }

    /**
     * One path list was searched for {@code name}: each directory of {@code dirs} with each of
     * {@code subdirs} (that exists) in order, up to and including the candidate {@code stoppedAt}
     * (the file found, or the one that failed); every one of them when {@code stoppedAt} is null.
     */
    default void searchedPath(String name, List<SearchDirectory> dirs, List<String> subdirs, String stoppedAt) {
    }

    /** ld.so.cache ({@code cacheFile}) was consulted; {@code hit} is the path it lists, if any. */
    default void searchedCache(String cacheFile, Optional<String> hit) {
    }

    /** The search for {@code name} is over, found or not. */
    default void searchEnded(String name) {
    }

    /** A new object is loaded for {@code name}. */
    default void newObject(String name, LoadedLibrary library) {
    }
}
