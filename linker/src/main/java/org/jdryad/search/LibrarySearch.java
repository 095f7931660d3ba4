package org.jdryad.search;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jdryad.elf.DynamicSection;
import org.jdryad.elf.Elf;
import org.jdryad.elf.ElfFile;
import org.jdryad.elf.ElfFormatException;
import org.jdryad.elf.ElfCache;
import org.jdryad.elf.FileIdentity;

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
        return new Session(program.toString()).run();
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

    private static final class Fatal extends Exception {
        private static final long serialVersionUID = 1L;
        final transient LoadError error;
        /** strerror(errno) that dlerror() appends, or null when glibc reports no errno. */
        final String errno;

        Fatal(String object, String message) {
            this(object, message, null);
        }

        Fatal(String object, String message, String errno) {
            super(object + ": " + message, null, false, false);
            this.error = new LoadError(object, message);
            this.errno = errno;
        }

        /** glibc's dlerror() text: "object: message[: strerror]". */
        String dlerror() {
            return error.describe() + (errno == null ? "" : ": " + errno);
        }
    }

    /** The error glibc signals when no search step found a usable file (not in trace mode). */
    private static Fatal notFound(String name, List<String> rejected) {
        for (String r : rejected) {
            if (r.contains(": wrong ELF class: ")) {
                return new Fatal(name, "wrong ELF class: ELFCLASS32");
            }
        }
        return new Fatal(name, "cannot open shared object file", "No such file or directory");
    }

    private record Found(String path, ElfFile elf, FileIdentity identity) {
    }

    /**
     * The state of one resolution: glibc's namespace list and search-path caches. After start-up
     * it serves run-time dlopen; the {@link SearchNamespace} that owns it serialises all calls.
     */
    final class Session {
        private final String given;
        private final List<String> subdirs = config.cpu().searchSubdirs();
        private final List<LoadedLibrary> chain = new ArrayList<>();
        private final List<LoadedLibrary> everything = new ArrayList<>();
        private final List<GraphEntry> order = new ArrayList<>();
        private final Set<GraphEntry> reserved = Collections.newSetFromMap(new IdentityHashMap<>());
        private final List<String> warnings = new ArrayList<>();
        private final Map<LoadedLibrary, List<SearchDirectory>> rpaths = new IdentityHashMap<>();
        private final Map<LoadedLibrary, List<SearchDirectory>> runpaths = new IdentityHashMap<>();
        private final Map<String, Boolean> dirExists = new HashMap<>();
        private List<SearchDirectory> envDirs = List.of();
        private List<SearchDirectory> systemDirs;
        private LoadedLibrary main;
        private LoadedLibrary rtld;
        /** Start-up is over: the program answers only to "" by name (as glibc's kernel-loaded main map). */
        private boolean started;
        /** Every loaded object in load order (start-up objects, then dlopened ones). */
        private final List<LoadedLibrary> loaded = new ArrayList<>();
        /** glibc's l_searchlist, for the objects that have one (the program, dlopen roots). */
        private final Map<LoadedLibrary, List<LoadedLibrary>> searchLists = new IdentityHashMap<>();
        private int nextIndex;

        /** Objects a forked child's copy shares with the session it was copied from (their files are that one's to close). */
        private final Set<LoadedLibrary> inherited = Collections.newSetFromMap(new IdentityHashMap<>());

        Session(String given) {
            this.given = given;
        }

        /** A copy of {@code from} after start-up, for a forked child's namespace: see {@link SearchNamespace#copy}. */
        private Session(Session from) {
            this.given = from.given;
            chain.addAll(from.chain);
            everything.addAll(from.everything);
            order.addAll(from.order);
            reserved.addAll(from.reserved);
            rpaths.putAll(from.rpaths);
            runpaths.putAll(from.runpaths);
            dirExists.putAll(from.dirExists);
            envDirs = from.envDirs;
            systemDirs = from.systemDirs;
            main = from.main;
            rtld = from.rtld;
            started = from.started;
            loaded.addAll(from.loaded);
            searchLists.putAll(from.searchLists);
            nextIndex = from.nextIndex;
            inherited.addAll(from.everything);
        }

        Session copy() {
            return new Session(this);
        }

        /**
         * A session for a namespace dlmopen makes: the same paths and the same program (glibc
         * searches the program's DT_RPATH in every namespace), and no objects, so every library,
         * glibc's too, is found and loaded again (ld.so too: glibc gives a namespace a stand-in
         * for its one copy, and so does glibc's dlmopen of the host objects).
         */
        Session fresh() {
            Session s = new Session(given);
            s.dirExists.putAll(dirExists);
            s.envDirs = envDirs;
            s.systemDirs = systemDirs;
            s.main = main;
            s.rtld = rtld;
            s.started = true;
            if (rpaths.containsKey(main)) {
                s.rpaths.put(main, rpaths.get(main));
            }
            s.inherited.add(main);
            return s;
        }

        DependencyGraph run() throws IOException {
            Path file = config.workingDirectory().resolve(given);
            ElfFile elf = ElfCache.open(file);
            LoadError error = null;
            try {
                String origin;
                if (config.executableOrigin() == SearchConfig.ExecutableOrigin.RESOLVED) {
                    Path real = file.toRealPath();
                    origin = real.getParent() == null ? "/" : real.getParent().toString();
                } else {
                    origin = originOf(given, config.workingDirectory());
                }
                main = new LoadedLibrary(LoadedLibrary.Kind.EXECUTABLE, given, given, elf, null, FoundBy.EXECUTABLE,
                        false, null, origin, List.of());
                // Let malformed dynamic sections of the program itself surface as the program's error.
                main.dynamic().ifPresent(d -> {
                    d.needed();
                    d.rpath();
                    d.runpath();
                });
                chain.add(main);
                everything.add(main);
                order.add(main);
                reserved.add(main);
                main.setLoadIndex(0);
                setUpInterpreter(elf);
                setUpPaths();
                List<LoadedLibrary> preloads = loadPreloads();
                for (LoadedLibrary p : preloads) {
                    order.add(p);
                    reserved.add(p);
                }
                walk(order, reserved, -1);
            } catch (Fatal f) {
                error = f.error;
            } catch (IOException | RuntimeException e) {
                for (LoadedLibrary l : everything) {
                    if (l.elf() != null) {
                        l.elf().close();
                    }
                }
                throw e;
            }
            for (int i = 0; i < order.size(); i++) {
                if (order.get(i) instanceof LoadedLibrary l) {
                    l.setLoadIndex(i);
                    loaded.add(l);
                }
            }
            nextIndex = order.size();
            searchLists.put(main, List.copyOf(loaded));
            started = true;
            return new DependencyGraph(main, rtld, order, warnings, error, new SearchNamespace(this));
        }

        List<LoadedLibrary> loadedObjects() {
            return List.copyOf(loaded);
        }

        void closeAll() {
            for (LoadedLibrary l : everything) {
                if (l.elf() != null && !inherited.contains(l)) {
                    l.elf().close();
                }
            }
        }

        /** dl_open_worker_begin: map the object, then its dependencies; undo everything on failure. */
        DlopenResult dlopen(String name, LoadedLibrary caller) {
            // The program answers to "" in its own namespace; in one dlmopen made "" is searched for.
            if (name == null || (name.isEmpty() && searchLists.containsKey(main))) {
                return DlopenResult.success(main, List.of(), searchLists.get(main));
            }
            LoadedLibrary loader = caller != null && containsIdentity(chain, caller) ? caller : main;
            int mark = chain.size();
            int markEverything = everything.size();
            try {
                GraphEntry e = mapObject(loader, name, SearchListener.Reason.DLOPEN, false);
                if (e instanceof MissingLibrary m) {
                    throw notFound(m.name(), m.rejected());
                }
                LoadedLibrary root = (LoadedLibrary) e;
                List<LoadedLibrary> scope = searchLists.get(root);
                if (scope == null) {
                    List<GraphEntry> list = new ArrayList<>();
                    Set<GraphEntry> inList = Collections.newSetFromMap(new IdentityHashMap<>());
                    list.add(root);
                    inList.add(root);
                    walk(list, inList, mark);
                    List<LoadedLibrary> s = new ArrayList<>();
                    for (GraphEntry g : list) {
                        s.add((LoadedLibrary) g);
                    }
                    scope = List.copyOf(s);
                }
                List<LoadedLibrary> added = List.copyOf(chain.subList(mark, chain.size()));
                for (LoadedLibrary l : added) {
                    l.setLoadIndex(nextIndex++);
                    loaded.add(l);
                }
                searchLists.put(root, scope);
                return DlopenResult.success(root, added, scope);
            } catch (Fatal f) {
                rollBack(mark, markEverything);
                return DlopenResult.failure(f.error, f.dlerror());
            } catch (RuntimeException ex) {
                rollBack(mark, markEverything);
                throw ex;
            }
        }

        /** dlopen with RTLD_NOLOAD: a loaded object, by name or by the file the search finds; never loads. */
        LoadedLibrary findLoaded(String name, LoadedLibrary caller) {
            if (name == null || name.isEmpty()) {
                return main;
            }
            LoadedLibrary loader = caller != null && containsIdentity(chain, caller) ? caller : main;
            int mark = chain.size();
            int markEverything = everything.size();
            try {
                return mapObject(loader, name, SearchListener.Reason.DLOPEN, true) instanceof LoadedLibrary l ? l : null;
            } catch (Fatal f) {
                return null;
            } finally {
                rollBack(mark, markEverything); // nothing is added with noload; kept as a safety net
            }
        }

        /**
         * dl_open_worker_begin with RTLD_NOLOAD: the search runs as for dlopen, but finds only
         * loaded objects (by name, or the file it finds by device and inode). A loaded object is
         * the result, with its search list (worked out as dlopen does for an object that has none
         * yet: its dependencies are all loaded); a file that is not loaded gives a result without
         * a root and without an error; a file that cannot be found is glibc's error.
         */
        DlopenResult dlopenNoload(String name, LoadedLibrary caller) {
            if (name == null || name.isEmpty()) {
                return DlopenResult.success(main, List.of(), searchLists.get(main));
            }
            LoadedLibrary loader = caller != null && containsIdentity(chain, caller) ? caller : main;
            int mark = chain.size();
            int markEverything = everything.size();
            GraphEntry e;
            try {
                e = mapObject(loader, name, SearchListener.Reason.DLOPEN, true);
                if (e instanceof MissingLibrary m) {
                    throw notFound(m.name(), m.rejected());
                }
            } catch (Fatal f) {
                rollBack(mark, markEverything);
                return DlopenResult.failure(f.error, f.dlerror());
            }
            rollBack(mark, markEverything); // nothing is added with noload; kept as a safety net
            if (!(e instanceof LoadedLibrary root)) {
                return DlopenResult.notLoaded();
            }
            DlopenResult r = dlopen(name, caller);
            if (r.ok() && (!r.newObjects().isEmpty() || r.root() != root)) {
                throw new IllegalStateException("RTLD_NOLOAD of " + name + " would load " + r.newObjects());
            }
            return r;
        }

        /** dlclose: the objects leave the namespace (they are no longer found by name or file). */
        void unload(List<LoadedLibrary> gone) {
            for (LoadedLibrary l : gone) {
                chain.removeIf(x -> x == l);
                everything.removeIf(x -> x == l);
                loaded.removeIf(x -> x == l);
                searchLists.remove(l);
                rpaths.remove(l);
                runpaths.remove(l);
            }
        }

        /** Removes the objects added since the marks, as glibc unloads them after a failed dlopen. */
        private void rollBack(int mark, int markEverything) {
            List<LoadedLibrary> gone = chain.subList(mark, chain.size());
            for (LoadedLibrary l : gone) {
                rpaths.remove(l);
                runpaths.remove(l);
                if (l.elf() != null) {
                    l.elf().close();
                }
            }
            gone.clear();
            everything.subList(markEverything, everything.size()).clear();
        }

        private boolean containsIdentity(List<LoadedLibrary> list, LoadedLibrary l) {
            for (LoadedLibrary x : list) {
                if (x == l) {
                    return true;
                }
            }
            return false;
        }

        private void setUpInterpreter(ElfFile program) {
            String path = config.interpreter();
            ElfFile elf = null;
            try {
                elf = ElfCache.open(config.workingDirectory().resolve(path));
            } catch (IOException | RuntimeException e) {
                elf = null;
            }
            String name = program.interpreter().orElse(path);
            rtld = new LoadedLibrary(LoadedLibrary.Kind.INTERPRETER, name, path, elf, null, FoundBy.INTERPRETER, false,
                    null, originOf(path, config.workingDirectory()), List.of());
            if (rtld.soname().isPresent()) {
                rtld.addName(rtld.soname().get());
            } else {
                rtld.addName(path.substring(path.lastIndexOf('/') + 1));
            }
            chain.add(rtld);
            everything.add(rtld);
        }

        private void setUpPaths() {
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

        private DynamicStringTokens.Values values(LoadedLibrary l) {
            return new DynamicStringTokens.Values(l.origin().orElse(null), config.lib(), config.cpu().platform());
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

        private List<LoadedLibrary> loadPreloads() throws Fatal {
            List<LoadedLibrary> preloads = new ArrayList<>();
            preloadList(config.preload(), "LD_PRELOAD", preloads);
            preloadList(config.preloadOption(), "--preload", preloads);
            Path file = config.preloadFile();
            if (file != null && Files.isReadable(file) && Files.isRegularFile(file)) {
                try {
                    String text = new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
                    StringBuilder sb = new StringBuilder();
                    boolean comment = false;
                    for (char c : text.toCharArray()) {
                        if (c == '#') {
                            comment = true;
                        } else if (c == '\n') {
                            comment = false;
                        }
                        sb.append(comment ? ' ' : c);
                    }
                    for (String p : sb.toString().split("[: \t\n]")) {
                        if (!p.isEmpty()) {
                            preload(p, file.toString(), preloads);
                        }
                    }
                } catch (IOException e) {
                    // glibc ignores an unreadable preload file.
                }
            }
            return preloads;
        }

        private void preloadList(String value, String where, List<LoadedLibrary> preloads) throws Fatal {
            if (value == null) {
                return;
            }
            for (String s : value.split("[ :]", -1)) {
                String name = s.length() < 4096 ? s : "";
                if (name.isEmpty()) {
                    continue;
                }
                if (config.secure() && (name.length() >= 255 || name.indexOf('/') >= 0)) {
                    continue;
                }
                preload(name, where, preloads);
            }
        }

        private void preload(String name, String where, List<LoadedLibrary> preloads) {
            int before = chain.size();
            try {
                GraphEntry e = mapObject(main, name, SearchListener.Reason.PRELOAD, false);
                if (e instanceof LoadedLibrary l && chain.size() != before) {
                    preloads.add(l);
                }
            } catch (Fatal f) {
                warnings.add("ERROR: ld.so: object '" + name + "' from " + where + " cannot be preloaded ("
                        + f.error.message() + "): ignored.");
            }
        }

        /**
         * _dl_map_object_deps: breadth-first over the growing list. At start-up ({@code freshFrom}
         * &lt; 0, glibc's trace mode as ldd shows it) a missing library is an entry of the list; at
         * run time it is a fatal error, and dependencies are recorded only for the objects added
         * during the call (chain index &gt;= {@code freshFrom}): those loaded before keep theirs.
         */
        private void walk(List<GraphEntry> list, Set<GraphEntry> inList, int freshFrom) throws Fatal {
            Set<GraphEntry> walked = Collections.newSetFromMap(new IdentityHashMap<>());
            for (int i = 0; i < list.size(); i++) {
                if (!(list.get(i) instanceof LoadedLibrary l) || !walked.add(l)) {
                    continue;
                }
                boolean record = freshFrom < 0 || chain.subList(freshFrom, chain.size()).contains(l);
                List<String> needed;
                try {
                    needed = l.dynamic().map(DynamicSection::needed).orElse(List.of());
                } catch (ElfFormatException e) {
                    throw new Fatal(l.path(), stripFile(e, l.path()));
                }
                for (String raw : needed) {
                    String name = raw;
                    if (DynamicStringTokens.count(raw) > 0) {
                        if (config.secure()) {
                            throw new Fatal(raw, "DST not allowed in SUID/SGID programs");
                        }
                        name = DynamicStringTokens.substitute(raw, values(l), false,
                                l.kind() == LoadedLibrary.Kind.EXECUTABLE, config.systemDirs());
                        if (name.isEmpty()) {
                            continue;
                        }
                    }
                    GraphEntry dep = mapObject(l, name, SearchListener.Reason.NEEDED, false);
                    if (dep instanceof MissingLibrary m && freshFrom >= 0) {
                        throw notFound(m.name(), m.rejected());
                    }
                    if (!inList.contains(dep)) {
                        inList.add(dep);
                        list.add(dep);
                    }
                    if (record) {
                        l.addDependency(dep);
                    }
                }
                // The filtees go before the filter, where they are walked next (the filter was).
                int before = list.size();
                addFiltees(l, i, list, inList, record, freshFrom);
                if (list.size() > before) {
                    i--;
                }
            }
        }

        /**
         * DT_FILTER and DT_AUXILIARY of {@code filter} (at {@code at} in the list), as glibc's
         * _dl_map_object_deps: each filtee is searched as a DT_NEEDED of the filter would be and
         * put in the search list just before the filter, so that lookups find its definitions
         * first; a missing auxiliary filtee is ignored (ldd lists it as not found), a missing
         * filter's is an error like a missing DT_NEEDED. A filtee already in the list stays where
         * it is.
         */
        private void addFiltees(LoadedLibrary filter, int at, List<GraphEntry> list, Set<GraphEntry> inList,
                                boolean record, int freshFrom) throws Fatal {
            List<DynamicSection.Filtee> filtees;
            try {
                filtees = filter.dynamic().map(DynamicSection::filtees).orElse(List.of());
            } catch (ElfFormatException e) {
                throw new Fatal(filter.path(), stripFile(e, filter.path()));
            }
            int insert = at;
            for (DynamicSection.Filtee f : filtees) {
                String name = f.name();
                if (DynamicStringTokens.count(name) > 0) {
                    name = DynamicStringTokens.substitute(name, values(filter), false,
                            filter.kind() == LoadedLibrary.Kind.EXECUTABLE, config.systemDirs());
                    if (name.isEmpty()) {
                        continue;
                    }
                }
                GraphEntry dep = mapObject(filter, name, SearchListener.Reason.NEEDED, false);
                if (dep instanceof MissingLibrary m) {
                    if (f.auxiliary() && freshFrom >= 0) {
                        continue; // dlopen: ignored
                    }
                    if (f.auxiliary()) {
                        list.add(insert++, m.asAuxiliary()); // start-up: ldd lists it, loading ignores it
                        continue;
                    }
                    if (freshFrom >= 0) {
                        throw notFound(m.name(), m.rejected());
                    }
                }
                if (!inList.contains(dep)) {
                    inList.add(dep);
                    list.add(insert++, dep);
                }
                if (record) {
                    filter.addDependency(dep);
                }
            }
        }

        /**
         * _dl_map_object: an already loaded object, a newly found one, or a missing entry. With
         * {@code noload} (RTLD_NOLOAD) nothing is added: null when no loaded object matches.
         */
        private GraphEntry mapObject(LoadedLibrary loader, String name, SearchListener.Reason why, boolean noload)
                throws Fatal {
            boolean preload = why == SearchListener.Reason.PRELOAD;
            for (LoadedLibrary l : chain) {
                // The kernel-loaded program's link map answers to "" only (dlopen handles that).
                if (!(started && l == main) && l.answersTo(name)) {
                    return l;
                }
                if (l.soname().isPresent() && l.soname().get().equals(name)) {
                    l.addName(name);
                    return l;
                }
            }
            listener.lookingFor(name, loader, why);
            List<SearchDirectory> tried = new ArrayList<>();
            List<String> rejected = new ArrayList<>();
            boolean securePreload = preload && config.secure();
            Found found = null;
            FoundBy how = null;
            if (name.indexOf('/') < 0) {
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
                    if (cached.isPresent()) {
                        found = verify(cached.get(), rejected);
                        how = FoundBy.LD_SO_CACHE;
                    }
                }
                if (found == null && !noDefaultLib(flagsOf)) {
                    found = openPath(name, systemDirs, tried, rejected, securePreload);
                    how = FoundBy.DEFAULT_PATH;
                }
                listener.searchEnded(name);
            } else {
                String realname = name;
                if (loader != null && DynamicStringTokens.count(name) > 0) {
                    realname = DynamicStringTokens.substitute(name, values(loader), config.secure(),
                            loader.kind() == LoadedLibrary.Kind.EXECUTABLE, config.systemDirs());
                }
                tried.add(new SearchDirectory(realname, FoundBy.DIRECT, Optional.empty()));
                if (!realname.isEmpty()) {
                    found = verify(realname, rejected);
                    if (found != null && securePreload && !setuid(found.path())) {
                        found.elf().close();
                        found = null;
                    }
                }
                how = FoundBy.DIRECT;
            }
            if (found == null) {
                if (noload) {
                    return new MissingLibrary(name, loader, tried, rejected);
                }
                if (preload) {
                    // The preload warning quotes glibc's message without the errno text.
                    throw new Fatal(name, notFound(name, rejected).error.message());
                }
                return new MissingLibrary(name, loader, tried, rejected);
            }
            for (LoadedLibrary l : chain) {
                if (l.identity() != null && l.identity().equals(found.identity())) {
                    found.elf().close();
                    l.addName(name);
                    return l;
                }
            }
            if (noload) {
                found.elf().close();
                return null;
            }
            // _dl_map_object_from_fd: only the program itself may be an executable.
            if (found.elf().type() != Elf.ET_DYN) {
                found.elf().close();
                throw new Fatal(name, "cannot dynamically load executable");
            }
            if (found.elf().dynamic().map(d -> (d.flags1() & Elf.DF_1_PIE) != 0).orElse(false)) {
                found.elf().close();
                throw new Fatal(name, "cannot dynamically load position-independent executable");
            }
            LoadedLibrary lib = new LoadedLibrary(LoadedLibrary.Kind.LIBRARY, name, found.path(), found.elf(),
                    found.identity(), how, preload, loader, originOf(found.path(), config.workingDirectory()), tried);
            if (why == SearchListener.Reason.DLOPEN) {
                lib.markDlopened();
            }
            chain.add(lib);
            everything.add(lib);
            listener.newObject(name, lib);
            return lib;
        }

        private Found openPath(String name, List<SearchDirectory> dirs, List<SearchDirectory> tried, List<String> rejected,
                boolean securePreload) throws Fatal {
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
                        Found f = verify(candidate, rejected);
                        if (f != null) {
                            if (securePreload && !setuid(f.path())) {
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
            return dir.indexOf('\0') < 0 && dirExists.computeIfAbsent(dir, k -> Files.isDirectory(Path.of(k)));
        }

        private boolean setuid(String path) {
            try {
                Object mode = Files.getAttribute(resolve(path), "unix:mode");
                return (((Number) mode).intValue() & 04000) != 0;
            } catch (IOException | RuntimeException e) {
                return false;
            }
        }

        private Path resolve(String path) {
            return config.workingDirectory().resolve(path);
        }

        /**
         * glibc's open_verify: null when the file cannot be opened or is ELF for another class or
         * machine (the search goes on); {@link Fatal} when it is unusable in a way glibc reports.
         */
        private Found verify(String candidate, List<String> rejected) throws Fatal {
            if (candidate.indexOf('\0') >= 0) {
                return null; // no file has such a path (a name from C never holds a NUL: a fuzzer's)
            }
            Path p = resolve(candidate);
            if (!Files.exists(p)) {
                return null;
            }
            if (Files.isDirectory(p)) {
                throw new Fatal(candidate, "cannot read file data: Is a directory");
            }
            if (!Files.isRegularFile(p)) {
                // A FIFO or a device: glibc's open would wait for a writer, or read a stream.
                throw new Fatal(candidate, "cannot read file data: not a regular file");
            }
            ByteBuffer h = ByteBuffer.allocate(Elf.EHDR_SIZE);
            try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
                while (h.hasRemaining() && ch.read(h) > 0) {
                    // keep reading
                }
            } catch (IOException e) {
                return null; // cannot open (permissions...): glibc goes on
            }
            String problem = headerProblem(h, candidate, rejected);
            if (problem == null) {
                return null;
            }
            if (!problem.isEmpty()) {
                throw new Fatal(candidate, problem);
            }
            ElfFile elf;
            try {
                elf = ElfCache.open(p);
            } catch (ElfFormatException e) {
                throw new Fatal(candidate, stripFile(e, p.toString()));
            } catch (IOException e) {
                throw new Fatal(candidate, "cannot read file data");
            }
            return new Found(candidate, elf, elf.identity());
        }

        /** "" when acceptable, null when to be passed over, otherwise glibc's message. */
        private String headerProblem(ByteBuffer h, String candidate, List<String> rejected) {
            String words = headerWords(h);
            if (words.startsWith(WRONG_CLASS) || words.startsWith(WRONG_MACHINE)) {
                rejected.add(candidate + ": " + words);
                return null;
            }
            return words;
        }
    }

    private static final String WRONG_CLASS = "wrong ELF class: ";
    private static final String WRONG_MACHINE = "ELF machine ";

    /**
     * glibc's open_verify on the first {@code h.position()} bytes of a file: "" when it would load
     * the file, else glibc's words ("file too short", "invalid ELF header", "only ET_DYN and ET_EXEC
     * can be loaded"...); a file of another class or machine (which a search passes over) gets
     * "wrong ELF class: ELFCLASS32" or "ELF machine N is not x86-64".
     */
    public static String headerWords(ByteBuffer h) {
        int len = h.position();
        if (len < Elf.EHDR_SIZE) {
            return "file too short";
        }
        h.order(java.nio.ByteOrder.LITTLE_ENDIAN);
        if (h.get(0) != 0x7f || h.get(1) != 'E' || h.get(2) != 'L' || h.get(3) != 'F') {
            return "invalid ELF header";
        }
        int cls = h.get(4);
        if (cls != Elf.ELFCLASS64) {
            return WRONG_CLASS + "ELFCLASS" + (cls == 1 ? "32" : cls);
        }
        if (h.get(5) != 1) {
            return "ELF file data encoding not little-endian";
        }
        if (h.get(6) != 1) {
            return "ELF file version ident does not match current one";
        }
        int osabi = h.get(7) & 0xff;
        if (osabi != 0 && osabi != 3) {
            return "ELF file OS ABI invalid";
        }
        int abiver = h.get(8) & 0xff;
        if (!(abiver == 0 || (osabi == 3 && abiver < 5))) {
            return "ELF file ABI version invalid";
        }
        for (int i = 9; i < 16; i++) {
            if (h.get(i) != 0) {
                return "nonzero padding in e_ident";
            }
        }
        if (h.getInt(20) != 1) {
            return "ELF file version does not match current one";
        }
        int machine = h.getShort(18) & 0xffff;
        if (machine != Elf.EM_X86_64) {
            return WRONG_MACHINE + machine + " is not x86-64";
        }
        int type = h.getShort(16) & 0xffff;
        if (type != Elf.ET_DYN && type != Elf.ET_EXEC) {
            return "only ET_DYN and ET_EXEC can be loaded";
        }
        if ((h.getShort(54) & 0xffff) != Elf.PHDR_SIZE) {
            return "ELF file's phentsize not the expected size";
        }
        return "";
    }

    private static String stripFile(ElfFormatException e, String file) {
        String m = e.getMessage();
        String prefix = file + ": ";
        if (m != null && m.startsWith(prefix)) {
            return m.substring(prefix.length());
        }
        if (e.file() != null && m != null && m.startsWith(e.file() + ": ")) {
            return m.substring(e.file().toString().length() + 2);
        }
        return m;
    }
}
