package org.jdryad.search;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jdryad.elf.DynamicSection;
import org.jdryad.elf.Elf;
import org.jdryad.elf.ElfCache;
import org.jdryad.elf.ElfFile;
import org.jdryad.elf.ElfFormatException;

/**
 * The state of one resolution: glibc's namespace list and search-path caches. After start-up
 * it serves run-time dlopen; the {@link SearchNamespace} that owns it serialises all calls.
 *
 * <p>Owns the objects of the namespace and what is done with them: start-up (the program, the
 * interpreter, preloads), the breadth-first dependency walk with filtees (_dl_map_object_deps),
 * _dl_map_object's matching of loaded objects and acceptance of a found file, and dlopen's
 * undoing on failure. Where a name is looked for is {@link SearchPath}'s; whether a file is
 * usable is {@link CandidateFiles}'.
 */
final class SearchSession {
    private final SearchConfig config;
    private final SearchListener listener;
    private final String given;
    private final SearchPath paths;
    private final List<LoadedLibrary> chain = new ArrayList<>();
    private final List<LoadedLibrary> everything = new ArrayList<>();
    private final List<GraphEntry> order = new ArrayList<>();
    private final Set<GraphEntry> reserved = Collections.newSetFromMap(new IdentityHashMap<>());
    private final List<String> warnings = new ArrayList<>();
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

    SearchSession(SearchConfig config, SearchListener listener, String given) {
        this(config, listener, given, new SearchPath(config, listener, new CandidateFiles(config.workingDirectory())));
    }

    private SearchSession(SearchConfig config, SearchListener listener, String given, SearchPath paths) {
        this.config = config;
        this.listener = listener;
        this.given = given;
        this.paths = paths;
    }

    /** A copy of {@code from} after start-up, for a forked child's namespace: see {@link SearchNamespace#copy}. */
    private SearchSession(SearchSession from) {
        this(from.config, from.listener, from.given, from.paths.copy());
        chain.addAll(from.chain);
        everything.addAll(from.everything);
        order.addAll(from.order);
        reserved.addAll(from.reserved);
        main = from.main;
        rtld = from.rtld;
        started = from.started;
        nameAudit = from.nameAudit;
        loaded.addAll(from.loaded);
        searchLists.putAll(from.searchLists);
        nextIndex = from.nextIndex;
        inherited.addAll(from.everything);
    }

    SearchSession copy() {
        return new SearchSession(this);
    }

    /**
     * A session for a namespace dlmopen makes: the same paths and the same program (glibc
     * searches the program's DT_RPATH in every namespace), and no objects, so every library,
     * glibc's too, is found and loaded again (ld.so too: glibc gives a namespace a stand-in
     * for its one copy, and so does glibc's dlmopen of the host objects).
     */
    SearchSession fresh() {
        SearchSession s = new SearchSession(config, listener, given, paths.fresh());
        s.main = main;
        s.rtld = rtld;
        s.started = true;
        s.nameAudit = nameAudit; // glibc's modules hear every namespace's searches
        s.inherited.add(main);
        return s;
    }

    /** la_objsearch(LA_SER_ORIG), at start-up and for a dlopen's dependencies (not in a dlmopen namespace). */
    private NameAudit nameAudit = NameAudit.NONE;

    DependencyGraph run(NameAudit audit) throws IOException {
        nameAudit = audit;
        return run();
    }

    private DependencyGraph run() throws IOException {
        Path file = config.workingDirectory().resolve(given);
        ElfFile elf = ElfCache.open(file);
        LoadError error = null;
        try {
            String origin;
            if (config.executableOrigin() == SearchConfig.ExecutableOrigin.RESOLVED) {
                Path real = file.toRealPath();
                origin = real.getParent() == null ? "/" : real.getParent().toString();
            } else {
                origin = LibrarySearch.originOf(given, config.workingDirectory());
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
            listener.startingWith(main, rtld);
            paths.setUp(main);
            List<LoadedLibrary> preloads = loadPreloads();
            for (LoadedLibrary p : preloads) {
                order.add(p);
                reserved.add(p);
            }
            walk(order, reserved, -1);
        } catch (LoadFailure f) {
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

    /**
     * Whether a dlopen name means the program: NULL does; so does "" in the program's own
     * namespace, while in one dlmopen made (whose program has no search list) "" is searched
     * for like any name, as glibc does (its error names the directory it tried).
     */
    private boolean answersToTheProgram(String name) {
        return name == null || (name.isEmpty() && searchLists.containsKey(main));
    }

    /** Whose search paths a dlopen from {@code caller} uses: its own when it is this namespace's, else the program's. */
    private LoadedLibrary loaderFor(LoadedLibrary caller) {
        return caller != null && containsIdentity(chain, caller) ? caller : main;
    }

    /** dl_open_worker_begin: map the object, then its dependencies; undo everything on failure. */
    DlopenResult dlopen(String name, LoadedLibrary caller) {
        if (answersToTheProgram(name)) {
            return DlopenResult.success(main, List.of(), searchLists.get(main));
        }
        LoadedLibrary loader = loaderFor(caller);
        int mark = chain.size();
        int markEverything = everything.size();
        try {
            GraphEntry e = mapObject(loader, name, SearchListener.Reason.DLOPEN, false);
            if (e instanceof MissingLibrary m) {
                throw LoadFailure.notFound(m.name(), m.rejected());
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
        } catch (LoadFailure f) {
            rollBack(mark, markEverything);
            return DlopenResult.failure(f.error, f.dlerror());
        } catch (RuntimeException ex) {
            rollBack(mark, markEverything);
            throw ex;
        }
    }

    /** dlopen with RTLD_NOLOAD: a loaded object, by name or by the file the search finds; never loads. */
    LoadedLibrary findLoaded(String name, LoadedLibrary caller) {
        if (answersToTheProgram(name)) {
            return main;
        }
        LoadedLibrary loader = loaderFor(caller);
        int mark = chain.size();
        int markEverything = everything.size();
        try {
            return mapObject(loader, name, SearchListener.Reason.DLOPEN, true) instanceof LoadedLibrary l ? l : null;
        } catch (LoadFailure f) {
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
        if (answersToTheProgram(name)) {
            return DlopenResult.success(main, List.of(), searchLists.get(main));
        }
        LoadedLibrary loader = loaderFor(caller);
        int mark = chain.size();
        int markEverything = everything.size();
        GraphEntry e;
        try {
            e = mapObject(loader, name, SearchListener.Reason.DLOPEN, true);
            if (e instanceof MissingLibrary m) {
                throw LoadFailure.notFound(m.name(), m.rejected());
            }
        } catch (LoadFailure f) {
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
            paths.forget(l);
        }
    }

    /** Removes the objects added since the marks, as glibc unloads them after a failed dlopen. */
    private void rollBack(int mark, int markEverything) {
        List<LoadedLibrary> gone = chain.subList(mark, chain.size());
        for (LoadedLibrary l : gone) {
            paths.forget(l);
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
                null, LibrarySearch.originOf(path, config.workingDirectory()), List.of());
        if (rtld.soname().isPresent()) {
            rtld.addName(rtld.soname().get());
        } else {
            rtld.addName(path.substring(path.lastIndexOf('/') + 1));
        }
        chain.add(rtld);
        everything.add(rtld);
    }

    private List<LoadedLibrary> loadPreloads() {
        List<LoadedLibrary> preloads = new ArrayList<>();
        PreloadNames.each(config, (name, where) -> preload(name, where, preloads));
        return preloads;
    }

    private void preload(String name, String where, List<LoadedLibrary> preloads) {
        int before = chain.size();
        try {
            GraphEntry e = mapObject(main, name, SearchListener.Reason.PRELOAD, false);
            if (e instanceof LoadedLibrary l && chain.size() != before) {
                preloads.add(l);
            }
        } catch (LoadFailure f) {
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
    private void walk(List<GraphEntry> list, Set<GraphEntry> inList, int freshFrom) throws LoadFailure {
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
                throw new LoadFailure(l.path(), LoadFailure.stripFile(e, l.path()));
            }
            for (String raw : needed) {
                String name = raw;
                if (DynamicStringTokens.count(raw) > 0) {
                    if (config.secure()) {
                        throw new LoadFailure(raw, "DST not allowed in SUID/SGID programs");
                    }
                    name = DynamicStringTokens.substitute(raw, paths.values(l), false,
                            l.kind() == LoadedLibrary.Kind.EXECUTABLE, config.systemDirs());
                    if (name.isEmpty()) {
                        continue;
                    }
                }
                GraphEntry dep = mapObject(l, name, SearchListener.Reason.NEEDED, false);
                if (dep instanceof MissingLibrary m && freshFrom >= 0) {
                    throw LoadFailure.notFound(m.name(), m.rejected());
                }
                if (dep instanceof MissingLibrary && freshFrom < 0 && nameAudit != NameAudit.NONE) {
                    // Audited, the start-up is no trace: glibc stops at the first missing library, and
                    // la_objsearch hears of no later name.
                    list.add(dep);
                    return;
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
                            boolean record, int freshFrom) throws LoadFailure {
        List<DynamicSection.Filtee> filtees;
        try {
            filtees = filter.dynamic().map(DynamicSection::filtees).orElse(List.of());
        } catch (ElfFormatException e) {
            throw new LoadFailure(filter.path(), LoadFailure.stripFile(e, filter.path()));
        }
        int insert = at;
        for (DynamicSection.Filtee f : filtees) {
            String name = f.name();
            if (DynamicStringTokens.count(name) > 0) {
                name = DynamicStringTokens.substitute(name, paths.values(filter), false,
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
                    throw LoadFailure.notFound(m.name(), m.rejected());
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
            throws LoadFailure {
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
        String original = name;
        name = why == SearchListener.Reason.DLOPEN ? original : nameAudit.rename(original, loader);
        if (name == null) {
            throw new LoadFailure("", "cannot open shared object file"); // glibc names no object then
        }
        listener.searchingFor(name);
        List<SearchDirectory> tried = new ArrayList<>();
        List<String> rejected = new ArrayList<>();
        SearchPath.Hit hit = paths.find(name, loader, tried, rejected, preload && config.secure());
        CandidateFiles.Found found = hit == null ? null : hit.found();
        FoundBy how = hit == null ? null : hit.how();
        if (found == null) {
            if (noload) {
                return new MissingLibrary(name, loader, tried, rejected);
            }
            if (preload) {
                // The preload warning quotes glibc's message without the errno text.
                throw new LoadFailure(name, LoadFailure.notFound(name, rejected).error.message());
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
            throw new LoadFailure(name, "cannot dynamically load executable");
        }
        if (found.elf().dynamic().map(d -> (d.flags1() & Elf.DF_1_PIE) != 0).orElse(false)) {
            found.elf().close();
            throw new LoadFailure(name, "cannot dynamically load position-independent executable");
        }
        LoadedLibrary lib = new LoadedLibrary(LoadedLibrary.Kind.LIBRARY, name, found.path(), found.elf(),
                found.identity(), how, preload, loader, LibrarySearch.originOf(found.path(), config.workingDirectory()),
                tried);
        if (why == SearchListener.Reason.DLOPEN) {
            lib.markDlopened();
        }
        if (!original.equals(name)) {
            lib.addName(original); // glibc's _dl_map_object_from_fd adds the name before the rewrite
        }
        chain.add(lib);
        everything.add(lib);
        listener.newObject(name, lib);
        return lib;
    }
}
