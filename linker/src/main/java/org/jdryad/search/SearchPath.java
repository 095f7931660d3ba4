package org.jdryad.search;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdryad.elf.DynamicSection;
import org.jdryad.elf.Elf;

/**
 * Where glibc looks for one name (elf/dl-load.c _dl_map_object, _dl_init_paths, fillin_rpath),
 * in its order: DT_RPATH of the loader and its loaders and of the program, LD_LIBRARY_PATH,
 * DT_RUNPATH of the loader, ld.so.cache, the system directories, each directory with its hwcaps
 * subdirectories first; a name with '/' as given after token expansion. Owns the directory lists
 * of one session and their caches (rpath and runpath per object, which directories exist).
 *
 * <p>Separate from the session because the order of these attempts is what LD_DEBUG=libs and
 * files print and what la_objsearch sees: it is kept in one place, apart from what the session
 * does with the file found. Not thread-safe: the session's namespace serialises calls.
 */
final class SearchPath {
    /** A file found for a name, and by which step. */
    record Hit(CandidateFiles.Found found, FoundBy how) {
    }

    private final SearchConfig config;
    private final SearchListener listener;
    private final CandidateFiles files;
    private final List<String> subdirs;
    private final Map<LoadedLibrary, List<SearchDirectory>> rpaths = new IdentityHashMap<>();
    private final Map<LoadedLibrary, List<SearchDirectory>> runpaths = new IdentityHashMap<>();
    private final Map<String, Boolean> dirExists = new HashMap<>();
    private List<SearchDirectory> envDirs = List.of();
    private List<SearchDirectory> systemDirs;
    private LoadedLibrary main;

    SearchPath(SearchConfig config, SearchListener listener, CandidateFiles files) {
        this.config = config;
        this.listener = listener;
        this.files = files;
        this.subdirs = config.cpu().searchSubdirs();
    }

    /** The same lists and caches, for a forked child's session. */
    SearchPath copy() {
        SearchPath p = new SearchPath(config, listener, files);
        p.rpaths.putAll(rpaths);
        p.runpaths.putAll(runpaths);
        p.dirExists.putAll(dirExists);
        p.envDirs = envDirs;
        p.systemDirs = systemDirs;
        p.main = main;
        return p;
    }

    /** The lists for a dlmopen namespace: of the objects' caches only the program's DT_RPATH stays. */
    SearchPath fresh() {
        SearchPath p = new SearchPath(config, listener, files);
        p.dirExists.putAll(dirExists);
        p.envDirs = envDirs;
        p.systemDirs = systemDirs;
        p.main = main;
        if (rpaths.containsKey(main)) {
            p.rpaths.put(main, rpaths.get(main));
        }
        return p;
    }

    /** _dl_init_paths for {@code program}: the system directories and LD_LIBRARY_PATH. */
    void setUp(LoadedLibrary program) {
        main = program;
        List<SearchDirectory> sys = new ArrayList<>();
        for (String d : config.systemDirs()) {
            sys.add(new SearchDirectory(d, FoundBy.DEFAULT_PATH, Optional.empty()));
        }
        systemDirs = sys;
        String llp = config.libraryPath();
        // glibc 2.36 ignores LD_LIBRARY_PATH in secure mode.
        if (!config.secure() && llp != null && !llp.isEmpty()) {
            // _dl_init_paths substitutes tokens over the whole value, with the program's values.
            String expanded = DynamicStringTokens.substitute(llp, values(main), false, true, config.systemDirs());
            envDirs = decompose(expanded, ":;", FoundBy.LD_LIBRARY_PATH, null, null);
        }
        listener.pathsReady(main, systemDirs, hasRunpath(main) ? runpathDirs(main) : rpathDirs(main), envDirs);
    }

    /** The object leaves the namespace: its cached lists go with it. */
    void forget(LoadedLibrary l) {
        rpaths.remove(l);
        runpaths.remove(l);
    }

    /** The values $ORIGIN, $LIB and $PLATFORM expand to in names and paths of {@code l}. */
    DynamicStringTokens.Values values(LoadedLibrary l) {
        return new DynamicStringTokens.Values(l.origin().orElse(null), config.lib(), config.cpu().platform());
    }

    /**
     * Every search step for {@code name} from {@code loader}, in glibc's order, until one finds a
     * usable file: null when none does. Every place looked in is added to {@code tried}, every
     * file passed over to {@code rejected}.
     */
    Hit find(String name, LoadedLibrary loader, List<SearchDirectory> tried, List<String> rejected,
            boolean securePreload) throws LoadFailure {
        return name.indexOf('/') < 0 ? searchDirectories(name, loader, tried, rejected, securePreload)
                : openAsGiven(name, loader, tried, rejected, securePreload);
    }

    /** A name without '/': the directory lists in turn, the cache, the system directories. */
    private Hit searchDirectories(String name, LoadedLibrary loader, List<SearchDirectory> tried,
            List<String> rejected, boolean securePreload) throws LoadFailure {
        CandidateFiles.Found found = null;
        FoundBy how = null;
        if (loader == null || !hasRunpath(loader)) {
            boolean didMain = false;
            for (LoadedLibrary l = loader; l != null; l = l.rpathLoader().orElse(null)) {
                List<SearchDirectory> dirs = rpathDirs(l);
                if (!dirs.isEmpty()) {
                    found = openPath(name, dirs, tried, rejected, securePreload);
                    if (found != null) {
                        break;
                    }
                    didMain |= l == main;
                }
            }
            if (found == null && !didMain && !rpathDirs(main).isEmpty()) {
                found = openPath(name, rpathDirs(main), tried, rejected, securePreload);
            }
            how = FoundBy.RPATH;
        }
        if (found == null && !envDirs.isEmpty()) {
            found = openPath(name, envDirs, tried, rejected, securePreload);
            how = FoundBy.LD_LIBRARY_PATH;
        }
        if (found == null && loader != null && !runpathDirs(loader).isEmpty()) {
            found = openPath(name, runpathDirs(loader), tried, rejected, securePreload);
            how = FoundBy.RUNPATH;
        }
        LoadedLibrary flagsOf = loader != null ? loader : main;
        if (found == null && !securePreload && config.cache().usable()) {
            found = searchCache(name, flagsOf, tried, rejected);
            how = FoundBy.LD_SO_CACHE;
        }
        if (found == null && !noDefaultLib(flagsOf)) {
            found = openPath(name, systemDirs, tried, rejected, securePreload);
            how = FoundBy.DEFAULT_PATH;
        }
        listener.searchEnded(name);
        return found == null ? null : new Hit(found, how);
    }

    /** ld.so.cache: its entry for the name, unless DF_1_NODEFLIB rules out the system directory it is in. */
    private CandidateFiles.Found searchCache(String name, LoadedLibrary flagsOf, List<SearchDirectory> tried,
            List<String> rejected) throws LoadFailure {
        tried.add(new SearchDirectory(config.cachePath() == null ? "ld.so.cache" : config.cachePath().toString(),
                FoundBy.LD_SO_CACHE, Optional.empty()));
        Optional<String> cached = config.cache().lookup(name);
        listener.searchedCache(tried.get(tried.size() - 1).location(), cached);
        if (cached.isPresent() && noDefaultLib(flagsOf)) {
            for (String d : config.systemDirs()) {
                if (cached.get().startsWith(d)) {
                    cached = Optional.empty();
                    break;
                }
            }
        }
        return cached.isPresent() ? files.verify(cached.get(), rejected) : null;
    }

    /** A name with '/': the one file it names, tokens expanded with the loader's values. */
    private Hit openAsGiven(String name, LoadedLibrary loader, List<SearchDirectory> tried, List<String> rejected,
            boolean securePreload) throws LoadFailure {
        String realname = name;
        if (loader != null && DynamicStringTokens.count(name) > 0) {
            realname = DynamicStringTokens.substitute(name, values(loader), config.secure(),
                    loader.kind() == LoadedLibrary.Kind.EXECUTABLE, config.systemDirs());
        }
        tried.add(new SearchDirectory(realname, FoundBy.DIRECT, Optional.empty()));
        CandidateFiles.Found found = null;
        if (!realname.isEmpty()) {
            found = files.verify(realname, rejected);
            if (found != null && securePreload && !files.setuid(found.path())) {
                found.elf().close();
                found = null;
            }
        }
        return found == null ? null : new Hit(found, FoundBy.DIRECT);
    }

    private CandidateFiles.Found openPath(String name, List<SearchDirectory> dirs, List<SearchDirectory> tried,
            List<String> rejected, boolean securePreload) throws LoadFailure {
        String candidate = null; // the candidate the search stops at (found or failing); null: it tried all
        try {
            for (SearchDirectory d : dirs) {
                tried.add(d);
                for (String sub : subdirs) {
                    String dir = d.location() + sub;
                    if (!directoryExists(dir)) {
                        continue;
                    }
                    candidate = dir + name;
                    CandidateFiles.Found f = files.verify(candidate, rejected);
                    if (f != null) {
                        if (securePreload && !files.setuid(f.path())) {
                            f.elf().close();
                            continue;
                        }
                        return f;
                    }
                }
            }
            candidate = null;
            return null;
        } finally {
            listener.searchedPath(name, dirs, subdirs, candidate);
        }
    }

    private boolean directoryExists(String dir) {
        if (dir.isEmpty() || !dir.startsWith("/")) {
            return true; // glibc never caches relative directories as missing
        }
        return dir.indexOf('\0') < 0 && dirExists.computeIfAbsent(dir, SearchPath::isDirectory);
    }

    /** Whether {@code dir} is a directory; a name Java cannot make a path of (bytes that are not UTF-8) is none here. */
    private static boolean isDirectory(String dir) {
        try {
            return Files.isDirectory(Path.of(dir));
        } catch (java.nio.file.InvalidPathException e) {
            return false;
        }
    }

    /** glibc's fillin_rpath: split, expand, drop empty expansions, normalise the trailing '/', dedupe. */
    private List<SearchDirectory> decompose(String value, String separators, FoundBy source, LoadedLibrary owner,
            DynamicStringTokens.Values vals) {
        List<SearchDirectory> out = new ArrayList<>();
        List<String> seen = new ArrayList<>();
        int start = 0;
        int n = value.length();
        while (start <= n) {
            int end = start;
            while (end < n && separators.indexOf(value.charAt(end)) < 0) {
                end++;
            }
            String element = value.substring(start, end);
            start = end + 1;
            String dir;
            if (element.isEmpty()) {
                dir = "";
            } else {
                String e = vals == null ? element
                        : DynamicStringTokens.substitute(element, vals, config.secure(),
                                owner != null && owner.kind() == LoadedLibrary.Kind.EXECUTABLE, config.systemDirs());
                if (e.isEmpty()) {
                    continue;
                }
                int len = e.length();
                while (len > 1 && e.charAt(len - 1) == '/') {
                    len--;
                }
                dir = e.substring(0, len);
                if (!dir.endsWith("/")) {
                    dir = dir + "/";
                }
            }
            if (!seen.contains(dir)) {
                seen.add(dir);
                out.add(new SearchDirectory(dir, source, owner == null ? Optional.empty() : Optional.of(owner.path())));
            }
        }
        return out;
    }

    private List<SearchDirectory> rpathDirs(LoadedLibrary l) {
        return rpaths.computeIfAbsent(l, k -> {
            Optional<DynamicSection> d = k.dynamic();
            if (d.isEmpty() || d.get().has(Elf.DT_RUNPATH)) {
                return List.of();
            }
            Optional<String> rp = d.get().rpath();
            if (rp.isEmpty() || rp.get().isEmpty()) {
                return List.of();
            }
            return decompose(rp.get(), ":", FoundBy.RPATH, k, values(k));
        });
    }

    private List<SearchDirectory> runpathDirs(LoadedLibrary l) {
        return runpaths.computeIfAbsent(l, k -> {
            Optional<String> rp = k.dynamic().flatMap(DynamicSection::runpath);
            if (rp.isEmpty() || rp.get().isEmpty()) {
                return List.of();
            }
            return decompose(rp.get(), ":", FoundBy.RUNPATH, k, values(k));
        });
    }

    private boolean hasRunpath(LoadedLibrary l) {
        return l.dynamic().map(d -> d.has(Elf.DT_RUNPATH)).orElse(false);
    }

    private boolean noDefaultLib(LoadedLibrary l) {
        return l.dynamic().map(d -> (d.flags1() & Elf.DF_1_NODEFLIB) != 0).orElse(false);
    }
}
