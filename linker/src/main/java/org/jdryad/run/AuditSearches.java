package org.jdryad.run;

import java.util.ArrayList;
import java.util.List;
import org.jdryad.debug.SearchTrace;
import org.jdryad.search.FoundBy;
import org.jdryad.search.LoadedLibrary;
import org.jdryad.search.SearchListener;

/**
 * The library search as LD_AUDIT's la_objsearch sees it: each name looked for (LA_SER_ORIG),
 * then each file tried, with the flag of the list it came from (LA_SER_RUNPATH for RPATH and
 * RUNPATH, LA_SER_LIBPATH, LA_SER_CONFIG for ld.so.cache, LA_SER_DEFAULT).
 *
 * <p>Why recorded: the quiet start-up search made to pick the agent, before any module is
 * loaded, teaches which directories glibc would know to be missing ({@link #learnFrom}): glibc
 * loads each module's own libraries first, through the same paths, and its later searches (the
 * program's, told live by AuditedSearch) skip them.
 */
final class AuditSearches implements SearchListener, SearchTrace.Attempts {
    static final long LA_SER_LIBPATH = 0x02, LA_SER_RUNPATH = 0x04, LA_SER_CONFIG = 0x08, LA_SER_DEFAULT = 0x40;

    /** One la_objsearch call: the name or file, its flag. */
    record Call(String name, long flag) {
    }

    /** One name's search at start-up: the name, its calls in order. */
    static final class Search {
        final String name;
        final List<Call> calls = new ArrayList<>();

        Search(String name) {
            this.name = name;
        }
    }

    private final List<Search> startup = new ArrayList<>();
    private Search current;

    @Override
    public synchronized void lookingFor(String name, LoadedLibrary loader, Reason why) {
        current = new Search(name);
        current.calls.add(new Call(name, Auditing.LA_SER_ORIG));
        startup.add(current);
    }

    /** Directories glibc knows to be missing before the program's search starts (see {@link #learnFrom}). */
    private final java.util.Set<String> learnt = new java.util.HashSet<>();

    /**
     * glibc loads each module's own libraries first, in the audit namespace, through the same
     * search paths, and learns then which directories (glibc-hwcaps, tls, platform subdirectories)
     * are missing: its later searches skip them, and la_objsearch never hears of files there. The
     * start-up search for the same names ({@code moduleNeeds}) went through the same search
     * directories: their missing subdirectories are learnt.
     */
    synchronized void learnFrom(java.util.Set<String> moduleNeeds) {
        for (Search s : startup) {
            if (moduleNeeds.contains(s.name)) {
                for (Call c : s.calls) {
                    if (c.flag() != Auditing.LA_SER_ORIG && c.flag() != LA_SER_CONFIG) {
                        learnt.add(existingAncestor(parentOf(c.name())));
                    }
                }
            }
        }
    }

    /** The nearest directory at or above {@code dir} that exists (the search directory of a subdirectory candidate). */
    private static String existingAncestor(String dir) {
        String d = dir;
        while (!d.isEmpty() && !java.nio.file.Files.isDirectory(java.nio.file.Path.of(d))) {
            d = parentOf(d);
        }
        return d;
    }

    /** True for a file in a directory glibc would know to be missing: no la_objsearch for it. */
    synchronized boolean skipped(String candidate) {
        return missingDirectory(candidate) && learnt.contains(existingAncestor(parentOf(candidate)));
    }

    /** A file tried. */
    @Override
    public synchronized void trying(String candidate, FoundBy list) {
        long flag = flagOf(list);
        if (flag == 0 || current == null) {
            return;
        }
        current.calls.add(new Call(candidate, flag));
    }


    private static boolean missingDirectory(String candidate) {
        String parent = parentOf(candidate);
        return !parent.isEmpty() && !java.nio.file.Files.isDirectory(java.nio.file.Path.of(parent));
    }

    private static String parentOf(String candidate) {
        int slash = candidate.lastIndexOf('/');
        return slash <= 0 ? "" : candidate.substring(0, slash);
    }

    static long flagOf(FoundBy list) {
        return switch (list) {
            case RPATH, RUNPATH -> LA_SER_RUNPATH;
            case LD_LIBRARY_PATH -> LA_SER_LIBPATH;
            case LD_SO_CACHE -> LA_SER_CONFIG;
            case DEFAULT_PATH -> LA_SER_DEFAULT;
            default -> 0;
        };
    }

    /** Both listeners, {@code first} told first. */
    static SearchListener both(SearchListener first, SearchListener second) {
        return new SearchListener() {
            @Override
            public void pathsReady(LoadedLibrary program, List<org.jdryad.search.SearchDirectory> system,
                                   List<org.jdryad.search.SearchDirectory> programPaths,
                                   List<org.jdryad.search.SearchDirectory> libraryPath) {
                first.pathsReady(program, system, programPaths, libraryPath);
                second.pathsReady(program, system, programPaths, libraryPath);
            }

            @Override
            public void startingWith(LoadedLibrary program, LoadedLibrary interpreter) {
                first.startingWith(program, interpreter);
                second.startingWith(program, interpreter);
            }

            @Override
            public void lookingFor(String name, LoadedLibrary loader, Reason why) {
                first.lookingFor(name, loader, why);
                second.lookingFor(name, loader, why);
            }

            @Override
            public void searchingFor(String name) {
                first.searchingFor(name);
                second.searchingFor(name);
            }

            @Override
            public void searchedPath(String name, List<org.jdryad.search.SearchDirectory> dirs, List<String> subdirs,
                                     String stoppedAt) {
                first.searchedPath(name, dirs, subdirs, stoppedAt);
                second.searchedPath(name, dirs, subdirs, stoppedAt);
            }

            @Override
            public void searchedCache(String cacheFile, java.util.Optional<String> hit) {
                first.searchedCache(cacheFile, hit);
                second.searchedCache(cacheFile, hit);
            }

            @Override
            public void searchEnded(String name) {
                first.searchEnded(name);
                second.searchEnded(name);
            }

            @Override
            public void newObject(String name, LoadedLibrary library) {
                first.newObject(name, library);
                second.newObject(name, library);
            }
        };
    }
}
