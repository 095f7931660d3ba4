package org.jdryad.debug;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jdryad.debug.DebugOptions.Category;
import org.jdryad.elf.DynamicSection;
import org.jdryad.elf.ProgramHeader;
import org.jdryad.elf.SymbolVersions;
import org.jdryad.link.LinkSession;
import org.jdryad.link.LoadedObject;
import org.jdryad.link.RelocationStats;
import org.jdryad.search.SearchListener;

/**
 * What happens to jdryad objects once found, in glibc 2.36's LD_DEBUG words: their link maps
 * (files: "  dynamic: 0x...  base: 0x..."), version checks (versions), scopes, relocation
 * (reloc), symbol lookups (symbols), initialisers and finalisers (glibc's "impcalls": calling
 * init, initialize program, transferring control, calling fini), dlopen and dlclose (files,
 * scopes) and statistics. The library search itself is {@link SearchTrace}'s.
 *
 * <p>Why only jdryad objects: glibc's own host objects (libc, ld.so...) were loaded, relocated
 * and initialised by glibc inside the agent before the program existed, and are finalised by it;
 * jdryad did none of that, so it does not claim to. What jdryad's search does for the program
 * is all told, host libraries included (see the README's --debug paragraph).
 *
 * <p>Names are glibc's: DSO_FILENAME (the program as argv[0], others by the path they were
 * loaded from) except where glibc prints l_name itself (the program's is empty).
 */
public final class LinkTrace {
    private static final long PAGE_SIZE = 4096; // x86-64
    private final DebugLog log;
    private final String programName;
    private final boolean bindNow;
    private final SearchTrace search;
    private final long start = System.nanoTime();
    private long searchNanos;
    private volatile LinkSession session;
    /** Every object made for a path found by the search, host ones included (their link maps' lines). */
    private final Map<String, LoadedObject> byPath = new java.util.concurrent.ConcurrentHashMap<>();
    /** Objects dlopened without RTLD_LAZY: their relocation is not lazy. */
    private final Set<LoadedObject> boundNow = Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));
    /** The second scope of dlopened objects: the root's search list (glibc's l_scope[1]). */
    private final Map<LoadedObject, List<LoadedObject>> localScope = Collections.synchronizedMap(new IdentityHashMap<>());
    /** A dlopen's RTLD_GLOBAL objects: jdryad adds them to the global scope at once, glibc after their initialisers. */
    private volatile List<LoadedObject> joiningGlobal = List.of();

    /**
     * @param programName the program as glibc names it (argv[0])
     * @param bindNow LD_BIND_NOW or --bind-now: nothing is relocated lazily
     */
    public LinkTrace(DebugLog log, String programName, boolean bindNow) {
        this.log = log;
        this.programName = programName;
        this.bindNow = bindNow;
        this.search = new SearchTrace(log, programName, this::linkMapLines);
    }

    /** A trace that tells nothing. */
    public static LinkTrace none() {
        return new LinkTrace(new DebugLog(DebugOptions.NONE, System.err, java.nio.file.Path.of("/")), "", false);
    }

    /** The sink, for the other categories' lines (bindings, activity): same prefix, file and order. */
    public DebugLog log() {
        return log;
    }

    /** The listener for the library search (start-up and dlopen). */
    public SearchListener search() {
        return search;
    }

    /** Tells {@code a} of every file the search tries (LD_AUDIT's la_objsearch): {@link SearchTrace#setAttempts}. */
    public void setSearchAttempts(SearchTrace.Attempts a) {
        search.setAttempts(a);
    }

    /** The start-up search is over (its time is a statistic). */
    public void searched() {
        searchNanos = System.nanoTime() - start;
    }

    /** Objects were made for what the search found (mapped, or given their host addresses, before the log is released). */
    public void loaded(List<LoadedObject> objects) {
        for (LoadedObject o : objects) {
            byPath.put(o.name(), o);
        }
    }

    /** The program's process exists: its pid prefixes every line. */
    public void started(long pid) {
        log.start(pid);
    }

    /**
     * The start-up objects are mapped: the held search lines go out with their link maps'
     * addresses, then the version checks and initial scopes; relocation and lookups are told
     * from now on.
     */
    public void mapped(LinkSession linked) {
        session = linked;
        log.release();
        List<LoadedObject> all = linked.objects();
        checkingVersions(all, all);
        if (log.on(Category.SCOPES)) {
            // Every object of glibc's list, host objects too: the vDSO comes right after the
            // program (its own searchlist is its second scope), ld.so has none yet.
            log.print("\nInitial object scopes\n");
            for (LoadedObject o : all) {
                log.print(isRtld(o) ? "object=" + name(o) + " [0]\n no scope\n\n" : scope(o));
                if (o.isExecutable()) {
                    String global = scope(o);
                    log.print("object=linux-vdso.so.1 [0]\n" + global.substring(global.indexOf('\n') + 1, global.length() - 1)
                            + " scope 1: linux-vdso.so.1\n\n");
                }
            }
        }
        if (log.on(Category.RELOC)) {
            hostRelocations = new java.util.ArrayDeque<>(linked.initOrder());
            rtldRelocation = hostRelocations.stream().filter(LinkTrace::isRtld).findFirst().orElse(null);
            hostRelocations.remove(rtldRelocation);
            linked.setRelocationListener(o -> {
                announceHostRelocationsBefore(o);
                relocationProcessing(o);
            });
        }
        if (log.on(Category.SYMBOLS)) {
            linked.lookup().setProbeListener((symbol, o) -> log.print(String.format("symbol=%s;  lookup in file=%s [%d]%n",
                    symbol, name(o), o.namespace())));
        }
    }

    /**
     * glibc relocated its host objects in the agent before the program existed; their
     * "relocation processing" lines are told where glibc's order puts them: dl_main relocates
     * in its initialisers' order from the end of l_initfini (so the order jdryad relocates in
     * too), ld.so itself last. These are the start-up objects still to be told, in that order.
     */
    private java.util.Deque<LoadedObject> hostRelocations;
    /** ld.so, told after all the others (null: none, or told). */
    private LoadedObject rtldRelocation;

    private void announceHostRelocationsBefore(LoadedObject o) {
        java.util.Deque<LoadedObject> q = hostRelocations;
        if (q == null || !q.contains(o)) {
            return;
        }
        for (LoadedObject h = q.poll(); h != null && h != o; h = q.poll()) {
            if (h.isHost()) {
                relocationProcessing(h);
            }
        }
    }

    /** After start-up's or a dlopen's relocation: the host objects not told yet, then (at start-up) ld.so, which dl_main relocates last. */
    private void announceRemainingHostRelocations() {
        java.util.Deque<LoadedObject> q = hostRelocations;
        if (q == null) {
            return;
        }
        hostRelocations = null;
        for (LoadedObject h : q) {
            if (h.isHost()) {
                relocationProcessing(h);
            }
        }
        if (rtldRelocation != null) {
            log.print(String.format("%nrelocation processing: %s%n", name(rtldRelocation))); // never lazy
            rtldRelocation = null;
        }
    }

    private void relocationProcessing(LoadedObject o) {
        log.print(String.format("%nrelocation processing: %s%s%n", name(o), lazy(o) ? " (lazy)" : ""));
    }

    private static boolean isRtld(LoadedObject o) {
        return o.isHost() && o.soname().map("ld-linux-x86-64.so.2"::equals).orElse(false);
    }

    /** After start-up relocation: glibc's statistics block. */
    public void relocated(RelocationStats stats) {
        announceRemainingHostRelocations();
        if (log.on(Category.STATISTICS)) {
            long relocation = stats.phases().getOrDefault("relocate", 0L);
            long load = searchNanos + stats.phases().getOrDefault("map", 0L);
            long relative = stats.byType().getOrDefault("R_X86_64_RELATIVE", 0L)
                    + stats.byType().getOrDefault("R_X86_64_RELATIVE (RELR)", 0L);
            log.print(DebugStatistics.startup(System.nanoTime() - start, relocation, load, stats.lookups(),
                    stats.cachedLookups(), relative));
        }
    }

    /** The "  dynamic: ...  base: ..." lines of the object loaded from {@code path} ("" when none was). */
    private String linkMapLines(String path) {
        LoadedObject o = byPath.get(path);
        return o == null ? "" : linkMap(o);
    }

    /** _dl_map_object_from_fd's lines; the size runs from the first segment's page to the end of the last. */
    private static String linkMap(LoadedObject o) {
        List<ProgramHeader> loads = o.elf().loadSegments();
        long size = 0;
        if (!loads.isEmpty()) {
            ProgramHeader last = loads.get(loads.size() - 1);
            size = last.vaddr() + last.memsz() - o.elf().lowestLoadAddress(PAGE_SIZE);
        }
        return String.format("  dynamic: 0x%016x  base: 0x%016x   size: 0x%016x%n"
                + "    entry: 0x%016x  phdr: 0x%016x  phnum:   %16d%n%n", o.dynamicAddress(), o.base(), size,
                o.base() + o.elf().entry(), o.phdrAddress(), o.elf().programHeaders().size());
    }

    /** _dl_check_map_versions: each version each object of {@code objects} needs, where it is looked for. */
    private void checkingVersions(List<LoadedObject> objects, List<LoadedObject> all) {
        if (!log.on(Category.VERSIONS)) {
            return;
        }
        for (LoadedObject o : objects) {
            if (o.dynamic().isEmpty()) {
                continue;
            }
            // Host objects' too: glibc checked them in the agent, in this order.
            for (SymbolVersions.Need n : o.versions().needs()) {
                LoadedObject in = answeringTo(n.file(), all);
                if (in != null) {
                    log.print(String.format("checking for version `%s' in file %s [0] required by file %s [0]%n",
                            n.name(), name(in), name(o)));
                }
            }
        }
    }

    /** glibc's find_needed: the loaded object that answers to a DT_NEEDED-style name. */
    private static LoadedObject answeringTo(String file, List<LoadedObject> all) {
        for (LoadedObject o : all) {
            String base = o.name().substring(o.name().lastIndexOf('/') + 1);
            if (o.soname().map(file::equals).orElse(false) || base.equals(file) || o.name().equals(file)) {
                return o;
            }
        }
        return null;
    }

    /** _dl_show_scope from scope 0: the global scope, and a dlopened object's local scope. */
    private String scope(LoadedObject o) {
        StringBuilder sb = new StringBuilder("object=" + name(o) + " [" + o.namespace() + "]\n");
        List<List<LoadedObject>> scopes = new ArrayList<>();
        if (o.dynamic().map(DynamicSection::symbolic).orElse(false)) {
            scopes.add(List.of(o)); // DT_SYMBOLIC: glibc's first scope is the object alone
        }
        List<LoadedObject> global = new ArrayList<>(session.globalScope());
        global.removeAll(joiningGlobal);
        scopes.add(global);
        List<LoadedObject> local = localScope.get(o);
        if (local != null) {
            scopes.add(local);
        }
        for (int i = 0; i < scopes.size(); i++) {
            sb.append(" scope ").append(i).append(':');
            for (LoadedObject member : scopes.get(i)) {
                sb.append(' ').append(name(member));
            }
            sb.append('\n');
        }
        return sb.append('\n').toString();
    }

    private boolean lazy(LoadedObject o) {
        return !bindNow && !boundNow.contains(o) && !o.dynamic().map(DynamicSection::bindNow).orElse(false);
    }

    // ---- initialisers and finalisers ----

    /** Before the program's DT_PREINIT_ARRAY runs. */
    public void preinit() {
        if (log.impcalls()) {
            log.print(String.format("%ncalling preinit: %s%n%n", programName));
        }
    }

    /** Before an object's initialisers run (the program's: "initialize program"). */
    public void initialising(LoadedObject o) {
        if (log.impcalls()) {
            log.print(o.isExecutable() ? String.format("%ninitialize program: %s%n%n", programName)
                    : String.format("%ncalling init: %s%n%n", name(o)));
        }
    }

    /** Just before the program's entry point. */
    public void transferring() {
        if (log.impcalls()) {
            log.print(String.format("%ntransferring control: %s%n%n", programName));
        }
    }

    /** What _dl_fini prints before an object's finalisers (l_name: the program's is empty), or null. */
    public String finiText(LoadedObject o) {
        return log.impcalls() ? String.format("%ncalling fini: %s [%d]%n%n", o.isExecutable() ? "" : o.name(), o.namespace()) : null;
    }

    /** The file the agent's finaliser writes its lines to (absolute), or null for stderr. */
    public java.nio.file.Path outputFile() {
        return log.outputFile();
    }

    /**
     * The program ended (killed by {@code signal}, 0 if it exited): the statistics _dl_fini prints,
     * which a killed program never reaches.
     */
    public void exited(RelocationStats stats, int signal) {
        if (log.on(Category.STATISTICS) && signal == 0) {
            log.print(DebugStatistics.atExit(stats.lookups(), stats.cachedLookups()));
        }
        log.close();
    }

    /** jdryad is done, or stops early: whatever is held goes out (with this JVM's pid if the program never started). */
    public void close() {
        log.close();
    }

    // ---- dlopen and dlclose ----

    /** A dlopen is starting: its search lines wait for the new objects' addresses. */
    public void dlopenStarting() {
        dlopenStarting(0);
    }

    /** As above, for a dlopen or dlmopen that loads into namespace {@code lmid}. */
    public void dlopenStarting(long lmid) {
        joiningGlobal = List.of();
        search.setNamespace(lmid);
        log.hold();
    }

    /**
     * dlopen found its objects ({@code added} new, {@code searchList} the root's): versions and
     * the root's scope, before relocation. Without RTLD_LAZY (or with bind-now) nothing is lazy.
     */
    public void dlopenLinking(LoadedObject root, List<LoadedObject> added, List<LoadedObject> searchList, int flags) {
        if (log.on(Category.RELOC)) {
            // As at start-up: the new host objects (glibc's dlopen relocated them in the agent)
            // are told in the order dl_open_worker relocates in, their initialisers'.
            java.util.Deque<LoadedObject> q = new java.util.ArrayDeque<>();
            for (LoadedObject o : session.initOrderOf(added)) {
                if (added.contains(o) && !isRtld(o)) {
                    q.add(o);
                }
            }
            hostRelocations = q;
        }
        for (LoadedObject o : added) {
            localScope.put(o, List.copyOf(searchList));
            if ((flags & org.jdryad.agent.Protocol.RTLD_LAZY) == 0) {
                boundNow.add(o);
            }
        }
        if ((flags & org.jdryad.agent.Protocol.RTLD_GLOBAL) != 0) {
            List<LoadedObject> joining = new ArrayList<>(searchList);
            joining.removeAll(session.globalScope());
            joiningGlobal = joining;
        }
        List<LoadedObject> fresh = new ArrayList<>();
        for (LoadedObject o : searchList) {
            if (added.contains(o)) {
                fresh.add(o);
            }
        }
        List<LoadedObject> known = new ArrayList<>(session.objects()); // the added ones are not the session's yet
        for (LoadedObject o : added) {
            if (!known.contains(o)) {
                known.add(o);
            }
        }
        checkingVersions(fresh, known);
        if (log.on(Category.SCOPES) && (!root.isHost() || root.namespace() == 0)) {
            log.print(scope(root));
        }
    }

    /**
     * dlopen's objects are mapped and relocated: the held lines go out, then update_scopes'
     * report on the search list's jdryad objects (jdryad does not widen the scopes of objects
     * dlopened before, as glibc does: they are left out).
     */
    public void dlopenLinked(List<LoadedObject> added, List<LoadedObject> searchList) {
        log.release();
        announceRemainingHostRelocations();
        if (log.on(Category.SCOPES)) {
            // The search list's new objects and its start-up ones, host objects too (glibc's
            // update_scopes reports each, ld.so with no scope); not those an earlier dlopen
            // brought (glibc widens their scopes: README, known limits).
            for (LoadedObject o : searchList) {
                if (added.contains(o) || !localScope.containsKey(o)) {
                    log.print(isRtld(o) ? "object=" + name(o) + " [0]\n no scope\n\n" : scope(o));
                }
            }
        }
    }

    /** A dlopen failed or was handed to glibc: what was held goes out. */
    public void dlopenEnded() {
        search.setNamespace(0);
        log.release();
    }

    /** dlopen succeeded: objects joining the global scope, and the root's open count. */
    public void opened(LoadedObject root, int openCount, List<LoadedObject> joinedGlobal) {
        joiningGlobal = List.of();
        if (log.on(Category.SCOPES)) {
            for (LoadedObject o : joinedGlobal) {
                log.print(String.format("%nadd %s [0] to global scope%n", o.name()));
            }
        }
        if (log.on(Category.FILES)) {
            log.print(String.format("opening file=%s [%d]; direct_opencount=%d%n%n", root.name(), root.namespace(), openCount));
        }
    }

    /** dlclose left the object open ({@code openCount} more dlclose calls to go). */
    public void closing(LoadedObject o, int openCount) {
        if (log.on(Category.FILES)) {
            log.print(String.format("%nclosing file=%s; direct_opencount=%d%n", o.name(), openCount));
        }
    }

    /** dlclose is about to run an unloaded object's finalisers. */
    public void callingFini(LoadedObject o) {
        if (log.impcalls()) {
            log.print(String.format("%ncalling fini: %s [%d]%n%n", o.name(), o.namespace()));
        }
    }

    /** dlclose removed these objects from the link map. */
    public void destroyed(List<LoadedObject> gone) {
        if (log.on(Category.FILES)) {
            for (LoadedObject o : gone) {
                log.print(String.format("%nfile=%s [%d];  destroying link map%n", o.name(), o.namespace()));
            }
        }
    }

    /** dlsym found nothing: glibc reports the error it signals (any category but statistics). */
    public void lookupFailed(String object, String message) {
        if (log.reportsErrors()) {
            log.print(String.format("%s: error: symbol lookup error: %s (fatal)%n", object, message));
        }
    }

    /** DSO_FILENAME: the program as argv[0], any other object by its path. */
    private String name(LoadedObject o) {
        return o.isExecutable() ? programName : o.name();
    }
}
