package org.jdryad.debug;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import org.jdryad.debug.DebugOptions.Category;
import org.jdryad.search.FoundBy;
import org.jdryad.search.LoadedLibrary;
import org.jdryad.search.SearchDirectory;
import org.jdryad.search.SearchListener;

/**
 * The library search in LD_DEBUG=libs and files words (glibc 2.36 elf/dl-load.c
 * _dl_map_object and open_path, elf/dl-cache.c): "file=N [0];  needed by L [0]", "find
 * library=N [0]; searching", " search path=...\t\t(RPATH from file X)", " search
 * cache=/etc/ld.so.cache", "  trying file=F", "file=N [0];  generating link map".
 *
 * <p>Why it keeps its own directory knowledge: jdryad's search skips directories that do not
 * exist, but glibc tries a file in every directory whose existence it has not learnt yet, and
 * prints that attempt; it learns only from failed attempts, shares what it learnt between
 * search lists naming the same directory, and drops an RPATH or RUNPATH list none of whose
 * directories exist from every later search. Replaying the search the way glibc learns is what
 * makes the lines the same.
 */
public final class SearchTrace implements SearchListener {
    private enum Status { EXISTING, NONEXISTING }

    private final DebugLog log;
    private final String programName;
    /** The link map's address lines of a loaded path (deferred: asked when the log is released). */
    private final Function<String, String> linkMapLines;
    /** What glibc learnt per directory and subdirectory index (a name may repeat): absent means not known yet. */
    private final Map<String, Status> status = new HashMap<>();
    /** The list entry that first named a directory: glibc keeps one entry per directory, with its source. */
    private final Map<String, SearchDirectory> firstNamed = new HashMap<>();
    private final Set<List<SearchDirectory>> dropped = Collections.newSetFromMap(new IdentityHashMap<>());
    private String programPath;
    private volatile Attempts attempts;

    /**
     * Told of every file the search tries, in glibc's order (each "trying file=" of LD_DEBUG=libs,
     * and ld.so.cache's answer), with the list it came from: what glibc's open_verify passes to
     * LD_AUDIT's la_objsearch. Told whether or not LD_DEBUG=libs is on.
     */
    public interface Attempts {
        void trying(String candidate, FoundBy list);
    }

    /** Tells {@code a} of every attempt from now on (null: nobody). */
    public void setAttempts(Attempts a) {
        this.attempts = a;
    }

    /**
     * @param programName the program's name as glibc prints it (argv[0])
     * @param linkMapLines a loaded object's "  dynamic: ..." lines by its path, "" when unknown
     */
    public SearchTrace(DebugLog log, String programName, Function<String, String> linkMapLines) {
        this.log = log;
        this.programName = programName;
        this.linkMapLines = linkMapLines;
    }

    @Override
    public void pathsReady(LoadedLibrary program, List<SearchDirectory> system, List<SearchDirectory> programPaths,
                           List<SearchDirectory> libraryPath) {
        programPath = program.path();
        for (List<SearchDirectory> list : List.of(system, programPaths, libraryPath)) {
            for (SearchDirectory d : list) {
                firstNamed.putIfAbsent(d.location(), d);
            }
        }
    }

    /** The namespace the search in progress loads into (a dlmopen's; 0: the base one). */
    private volatile long namespace;

    /** The searches from now on load into namespace {@code lmid} (glibc's "[lmid]" after each name). */
    public void setNamespace(long lmid) {
        this.namespace = lmid;
    }

    @Override
    public void lookingFor(String name, LoadedLibrary loader, Reason why) {
        long ns = namespace;
        // glibc's dlmopen of a name with '/' has no calling object (dl_open_worker_begin), so no loader line.
        boolean noCaller = ns != 0 && why == Reason.DLOPEN && name.indexOf('/') >= 0;
        if (log.on(Category.FILES) && loader != null && !noCaller) {
            long loaderNs = loader.kind() == LoadedLibrary.Kind.EXECUTABLE ? 0 : ns;
            log.print(String.format("%nfile=%s [%d];  %s %s [%d]%n", name, ns,
                    why == Reason.DLOPEN ? "dynamically loaded by" : "needed by", fileName(loader.path()), loaderNs));
        }
    }

    @Override
    public void searchingFor(String name) {
        if (log.on(Category.LIBS) && name.indexOf('/') < 0) {
            log.print(String.format("find library=%s [%d]; searching%n", name, namespace));
        }
    }

    @Override
    public void searchedPath(String name, List<SearchDirectory> dirs, List<String> subdirs, String stoppedAt) {
        boolean libs = log.on(Category.LIBS);
        Attempts tell = attempts;
        if ((!libs && tell == null) || dropped.contains(dirs)) {
            return;
        }
        String what = null;
        boolean anyDirectory = false;
        for (int i = 0; i < dirs.size(); i++) {
            SearchDirectory d = dirs.get(i);
            firstNamed.putIfAbsent(d.location(), d);
            if (!what(d).equals(what)) {
                what = what(d);
                if (libs) {
                    log.print(searchPathLine(dirs, i, subdirs));
                }
            }
            for (int k = 0; k < subdirs.size(); k++) {
                String sub = subdirs.get(k);
                String key = d.location() + "\0" + k;
                Status s = status(d.location(), key);
                if (s == Status.NONEXISTING) {
                    continue;
                }
                String candidate = d.location() + sub + name;
                if (libs) {
                    log.print("  trying file=" + candidate + "\n");
                }
                if (tell != null) {
                    tell.trying(candidate, d.source());
                }
                if (candidate.equals(stoppedAt)) {
                    status.put(key, Status.EXISTING);
                    return;
                }
                if (s == null) {
                    status.put(key, Files.isDirectory(Path.of(d.location() + sub)) ? Status.EXISTING : Status.NONEXISTING);
                }
                anyDirectory |= status.get(key) != Status.NONEXISTING;
            }
        }
        FoundBy source = dirs.isEmpty() ? null : dirs.get(0).source();
        if (!anyDirectory && (source == FoundBy.RPATH || source == FoundBy.RUNPATH)) {
            dropped.add(dirs); // glibc sets the list to -1: never searched again
        }
    }

    @Override
    public void searchedCache(String cacheFile, Optional<String> hit) {
        Attempts tell = attempts;
        if (tell != null && hit.isPresent()) {
            tell.trying(hit.get(), FoundBy.LD_SO_CACHE);
        }
        if (log.on(Category.LIBS)) {
            log.print(" search cache=" + cacheFile + "\n" + hit.map(h -> "  trying file=" + h + "\n").orElse(""));
        }
    }

    @Override
    public void searchEnded(String name) {
        if (log.on(Category.LIBS) && name.indexOf('/') < 0) {
            log.print("\n");
        }
    }

    @Override
    public void newObject(String name, LoadedLibrary library) {
        long ns = namespace;
        // In another namespace glibc makes ld.so a stand-in for its one copy: no link map is generated.
        boolean rtldStandIn = ns != 0 && library.soname().map(s -> s.startsWith("ld-linux")).orElse(false);
        if (log.on(Category.FILES) && !rtldStandIn) {
            String path = library.path();
            log.later(() -> String.format("file=%s [%d];  generating link map%n", name, ns) + linkMapLines.apply(path));
        }
    }

    /** glibc's known status of a directory: relative ones always exist (the working directory may change). */
    private Status status(String location, String key) {
        if (!location.startsWith("/")) {
            return Status.EXISTING;
        }
        return status.get(key);
    }

    /**
     * print_search_path: the directories from {@code from} on that share its source, each with
     * the subdirectories not known to be missing, without their trailing '/'.
     */
    private String searchPathLine(List<SearchDirectory> dirs, int from, List<String> subdirs) {
        StringBuilder sb = new StringBuilder(" search path=");
        boolean first = true;
        String what = what(dirs.get(from));
        for (int i = from; i < dirs.size() && what(dirs.get(i)).equals(what); i++) {
            String location = dirs.get(i).location();
            for (int k = 0; k < subdirs.size(); k++) {
                if (status(location, location + "\0" + k) == Status.NONEXISTING) {
                    continue;
                }
                String dir = location + subdirs.get(k);
                if (!dir.isEmpty() && !dir.equals("/")) {
                    dir = dir.substring(0, dir.length() - 1);
                }
                sb.append(first ? "" : ":").append(dir);
                first = false;
            }
        }
        SearchDirectory origin = firstNamed.get(dirs.get(from).location());
        return sb.append("\t\t(").append(what)
                .append(origin.owner().map(o -> " from file " + fileName(o)).orElse(""))
                .append(")\n").toString();
    }

    /** glibc's name for the source of a directory: that of the list that named it first. */
    private String what(SearchDirectory d) {
        SearchDirectory origin = firstNamed.getOrDefault(d.location(), d);
        return switch (origin.source()) {
            case RPATH -> "RPATH";
            case RUNPATH -> "RUNPATH";
            case LD_LIBRARY_PATH -> "LD_LIBRARY_PATH";
            default -> "system search path";
        };
    }

    /** DSO_FILENAME: an object's name, the program's as argv[0]. */
    private String fileName(String path) {
        return path.equals(programPath) ? programName : path;
    }
}
