package org.jdryad.link;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Consumer;
import org.jdryad.debug.BindingHistory;
import org.jdryad.link.SymbolLookup.Definition;

/**
 * The process's link map being linked: the objects in load order (the base namespace's are also
 * its global lookup scope; an object dlmopen put in another namespace looks up in that one's,
 * see {@link #globalScope(long)}), and the steps that turn files into a runnable image: map, lay out static TLS, relocate,
 * protect, re-bind host objects. It plans over {@link TargetMemory} and knows nothing of processes.
 */
public final class LinkSession implements LinkContext {
    private final TargetMemory memory;
    private final Map<String, Long> interposers;
    private final long tlsDescReturn;
    private final long tlsModuleIdBase;
    private volatile long tlsDescDynamic;
    private final StaticTlsLayout tls;
    private final BindingHistory history;
    private final Consumer<String> warnings;
    private final SymbolLookup lookup;
    private final RelocationStats stats = new RelocationStats();
    private volatile List<LoadedObject> objects = List.of();
    /** The global scope: start-up objects in load order, then RTLD_GLOBAL dlopens. */
    private volatile List<LoadedObject> global = List.of();
    /**
     * The global scope of each namespace dlmopen made: as glibc's l_scope[0] of an object in it,
     * the search list of the namespace's first object (the first dlmopen's root and its
     * dependencies). RTLD_GLOBAL is refused there, so nothing joins it later.
     */
    private final Map<Long, List<LoadedObject>> namespaceGlobal = new java.util.concurrent.ConcurrentHashMap<>();
    /** The local scope (the dlopen root's search list) of objects loaded by dlopen. */
    /** Objects a dlopen with RTLD_DEEPBIND brought in: their local scope comes first. */
    private final java.util.Set<LoadedObject> deepBound = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final Map<LoadedObject, List<LoadedObject>> localScope =
            Collections.synchronizedMap(new java.util.IdentityHashMap<>());
    private final java.util.Set<LoadedObject> textWritable = new java.util.HashSet<>();
    private final Map<Long, Long> ifuncResults = new java.util.concurrent.ConcurrentHashMap<>();
    /** Objects loaded by dlopen (glibc's lt_loaded): the only ones dlclose may unload. */
    private final java.util.Set<LoadedObject> dlopened =
            Collections.synchronizedSet(Collections.newSetFromMap(new java.util.IdentityHashMap<>()));
    /** glibc's l_reldeps: referrer to the dlopened objects its bindings reached outside its dependencies. */
    private final Map<LoadedObject, List<LoadedObject>> relocationDependencies = new java.util.IdentityHashMap<>();

    // Lazy binding: off (every slot bound now) until enableLazyBinding names the trampoline.
    private long lazyResolver;
    private boolean bindNowAll;
    /** Objects dlopened with RTLD_NOW: bound now whatever their flags say. */
    private final java.util.Set<LoadedObject> boundNow = Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    private final Map<LoadedObject, Long> lazyIds = new java.util.IdentityHashMap<>();
    private final Map<Long, LoadedObject> lazyObjects = new java.util.concurrent.ConcurrentHashMap<>();
    private long nextLazyId = 1;
    private volatile LazyObserver lazyObserver = LazyObserver.NONE;

    /** Who prepares lazy objects' answers ahead of their first calls (the agent's fast path). */
    public interface LazyObserver {
        /** {@code obj} got lazy id {@code id}: its slots wait for their first calls. */
        void added(long id, LoadedObject obj);

        /** A scope changed (RTLD_GLOBAL, dlclose): answers prepared before may no longer hold. */
        void scopesChanged();

        /**
         * Brings the bindings first calls made without asking Java into the record now (a
         * dlclose must know every relocation dependency). Nothing by default.
         */
        default void drain() {
        }

        LazyObserver NONE = new LazyObserver() {
            @Override
            public void added(long id, LoadedObject obj) {
            }

            @Override
            public void scopesChanged() {
            }
        };
    }

    public void setLazyObserver(LazyObserver observer) {
        this.lazyObserver = observer;
    }

    /** A lazy first call answered by the agent's fast path, counted as one Java answered. */
    public void countLazyBinding() {
        stats.countLazy();
    }
    private volatile Consumer<LoadedObject> relocationListener;

    /**
     * @param interposers symbol names whose host definitions are replaced by agent functions
     *     (dlopen, dlsym, __tls_get_addr, ...), name to agent address
     * @param tlsDescReturn the agent's static-TLS descriptor function
     */
    public LinkSession(TargetMemory memory, Map<String, Long> interposers, long tlsDescReturn, long tlsReservationSize,
                       long tlsModuleIdBase, BindingHistory history, Consumer<String> warnings) {
        this.memory = memory;
        this.interposers = interposers;
        this.tlsDescReturn = tlsDescReturn;
        this.tlsModuleIdBase = tlsModuleIdBase;
        this.tls = new StaticTlsLayout(tlsReservationSize, tlsModuleIdBase);
        this.history = history;
        this.warnings = warnings;
        this.lookup = new SymbolLookup();
    }

    /** A copy of {@code from}'s state over {@code memory}: see {@link #copyFor}. */
    private LinkSession(LinkSession from, TargetMemory memory, BindingHistory history) {
        this.memory = memory;
        this.interposers = from.interposers;
        this.tlsDescReturn = from.tlsDescReturn;
        this.tlsModuleIdBase = from.tlsModuleIdBase;
        this.tls = from.tls.copy();
        this.history = history;
        this.warnings = from.warnings;
        this.lookup = from.lookup.copy();
        this.objects = from.objects;
        this.global = from.global;
        this.namespaceGlobal.putAll(from.namespaceGlobal);
        this.deepBound.addAll(from.deepBound);
        synchronized (from.localScope) {
            this.localScope.putAll(from.localScope);
        }
        this.textWritable.addAll(from.textWritable);
        this.ifuncResults.putAll(from.ifuncResults);
        synchronized (from.dlopened) {
            this.dlopened.addAll(from.dlopened);
        }
        synchronized (from.relocationDependencies) {
            from.relocationDependencies.forEach((k, v) -> this.relocationDependencies.put(k, new ArrayList<>(v)));
        }
        this.lazyResolver = from.lazyResolver;
        this.bindNowAll = from.bindNowAll;
        this.profiled = from.profiled;
        this.boundNow.addAll(from.boundNow);
        synchronized (from.lazyIds) {
            this.lazyIds.putAll(from.lazyIds);
            this.lazyObjects.putAll(from.lazyObjects);
            this.nextLazyId = from.nextLazyId;
        }
    }

    /**
     * The session of a process forked from this one's: the same objects, scopes, relocation
     * dependencies, TLS layout and lazy ids as now, changed from then on apart from this one's,
     * with its memory operations going to {@code memory} (the child's) and its bindings to
     * {@code history} (the child's view of the run's). The objects themselves are shared (their
     * addresses are the same in both processes). Nobody prepares the copy's lazy answers, and the
     * copy tells nobody of its relocations.
     */
    public synchronized LinkSession copyFor(TargetMemory memory, BindingHistory history) {
        return new LinkSession(this, memory, history);
    }

    /**
     * Binds jump slots lazily from now on, through the agent's {@code trampoline}, except where
     * glibc binds now: {@code bindNow} (LD_BIND_NOW, --bind-now), objects marked DF_BIND_NOW or
     * DF_1_NOW, and objects dlopened with RTLD_NOW.
     */
    public void enableLazyBinding(long trampoline, boolean bindNow) {
        this.lazyResolver = trampoline;
        this.bindNowAll = bindNow;
    }

    /** The result of a lazy first call: where to jump, the slot, whether the target is an IFUNC resolver. */
    public record LazyAnswer(long target, long slot, boolean callIfunc, Definition definition) {
        /** Without the definition (null: an undefined weak reference, or not known). */
        public LazyAnswer(long target, long slot, boolean callIfunc) {
            this(target, slot, callIfunc, null);
        }
    }

    /**
     * Resolves the jump slot that PLT relocation {@code index} of the object with lazy id
     * {@code id} names, for its first call from {@code callSite} on thread {@code tid}; records the
     * binding. Safe to call from many threads at once, and without the session's lock (a dlopen
     * may be relocating meanwhile, and its IFUNC resolvers may make first calls).
     */
    public LazyAnswer bindLazily(long id, long index, long callSite, long tid, long pid) {
        LoadedObject obj = lazyObjects.get(id);
        if (obj == null) {
            throw new LinkException("jdryad: a lazy first call names object " + id + ", which jdryad did not load lazily");
        }
        return new Relocator(this).bindLazily(obj, index, callSite, tid, pid);
    }

    /**
     * A slot's answer prepared ahead of its first call, the binding that call records, and the
     * objects it binds (the slot's object to the definition's).
     */
    public record Prepared(long target, long slot, org.jdryad.debug.BindingHistory.Draft binding, LoadedObject referrer,
                           LoadedObject definer) {
    }

    /**
     * The answer jump slot {@code index} of lazy object {@code id} would get now, without
     * recording anything (see Relocator#preview); empty when the first call must ask Java.
     */
    public Optional<Prepared> prepare(long id, long index) {
        LoadedObject obj = lazyObjects.get(id);
        return obj == null ? Optional.empty() : new Relocator(this).preview(obj, index);
    }

    /** {@link #prepare} for every jump slot of lazy object {@code id} at once (null: ask Java). */
    public Prepared[] prepareAll(long id) {
        LoadedObject obj = lazyObjects.get(id);
        if (obj == null || obj.dynamic().isEmpty()) {
            return new Prepared[0];
        }
        long count = obj.dynamic().get().pltRela().count();
        Prepared[] out = new Prepared[(int) Math.min(count, Integer.MAX_VALUE - 8)];
        Relocator r = new Relocator(this);
        for (int i = 0; i < out.length; i++) {
            out[i] = r.preview(obj, i).orElse(null);
        }
        return out;
    }

    /** The lazily bound object with lazy id {@code id} (its GOT[1]), if there is one now. */
    public Optional<LoadedObject> lazyObject(long id) {
        return Optional.ofNullable(lazyObjects.get(id));
    }

    /** The lazily bound objects by lazy id, as they are now. */
    public Map<Long, LoadedObject> lazyObjects() {
        return Map.copyOf(lazyObjects);
    }

    /** Sets the objects in load order: executable, preloads, then dependencies breadth-first. */
    public void setObjects(List<LoadedObject> loadOrder) {
        this.objects = Collections.unmodifiableList(new ArrayList<>(loadOrder));
        this.global = objects;
    }

    /**
     * Links objects that {@code dlopen} brought in: {@link #mapDlopened} then
     * {@link #relocateDlopened}. On failure nothing is undone: see {@link #undoDlopened}.
     */
    public synchronized void linkDlopened(List<LoadedObject> added, List<LoadedObject> searchList, boolean makeGlobal,
                                          boolean now) {
        mapDlopened(added, searchList, now);
        relocateDlopened(added, searchList, makeGlobal);
    }

    /**
     * The first half of linking what a dlopen brought in: the objects join the namespace (with
     * the dlopen root's search list as their local scope, as glibc's l_scope), are mapped and
     * get their static TLS. Bound now with {@code now} (RTLD_NOW) whatever their flags say.
     */
    public synchronized void mapDlopened(List<LoadedObject> added, List<LoadedObject> searchList, boolean now) {
        mapDlopened(added, searchList, now, false);
    }

    /**
     * As above; with {@code deepBind} (RTLD_DEEPBIND) the new objects search their local scope
     * (the dlopen root's search list: the root and its dependencies) before the global scope.
     */
    public synchronized void mapDlopened(List<LoadedObject> added, List<LoadedObject> searchList, boolean now,
                                         boolean deepBind) {
        if (now) {
            boundNow.addAll(added);
        }
        if (deepBind) {
            deepBound.addAll(added);
        }
        List<LoadedObject> all = new ArrayList<>(objects);
        all.addAll(added);
        objects = Collections.unmodifiableList(all);
        dlopened.addAll(added);
        if (!added.isEmpty() && added.get(0).namespace() != 0) {
            namespaceGlobal.putIfAbsent(added.get(0).namespace(), List.copyOf(searchList));
        }
        for (LoadedObject o : added) {
            localScope.put(o, List.copyOf(searchList));
        }
        SegmentMapper mapper = new SegmentMapper(memory);
        List<LoadedObject> jd = new ArrayList<>();
        for (LoadedObject o : added) {
            if (!o.isHost()) {
                jd.add(o);
                if (!mappedEarly.remove(o)) {
                    map(mapper, o);
                }
            }
        }
        tls.assign(jd, true);
    }

    /**
     * The second half: relocates the objects {@link #mapDlopened} mapped (lookups search the
     * global scope, then the local scope) and protects them; with {@code makeGlobal} the search
     * list joins the global scope. The caller runs the initialisers ({@link #initOrderOf}).
     */
    public synchronized void relocateDlopened(List<LoadedObject> added, List<LoadedObject> searchList,
                                              boolean makeGlobal) {
        List<LoadedObject> jd = new ArrayList<>();
        for (LoadedObject o : added) {
            if (!o.isHost()) {
                jd.add(o);
            }
        }
        // dl_open_worker_begin relocates the new objects in their initialisers' order too
        // (new->l_initfini from the end), as dl_main does at start-up.
        List<LoadedObject> order = new ArrayList<>();
        for (LoadedObject o : initOrderOf(jd)) {
            if (jd.contains(o)) { // the order also holds their dependencies loaded before
                order.add(o);
            }
        }
        RelocationRun.relocateAll(this, order);
        setUpDebugEntries(jd);
        SegmentMapper mapper = new SegmentMapper(memory);
        for (LoadedObject o : jd) {
            mapper.protectFinal(o, textWritable.contains(o));
        }
        if (makeGlobal) {
            promoteToGlobal(searchList);
        }
    }

    /**
     * A dlopen failed after {@link #mapDlopened}: its objects leave the namespace as if never
     * loaded (their static TLS is given back, their unique symbols and the relocation
     * dependencies they made are forgotten). Unmapping them is the caller's (the objects' ranges
     * are still in them).
     */
    public synchronized void undoDlopened(List<LoadedObject> added) {
        forget(added);
    }

    /** Adds objects to the end of the global scope (dlopen with RTLD_GLOBAL). */
    public synchronized void promoteToGlobal(List<LoadedObject> searchList) {
        List<LoadedObject> g = new ArrayList<>(global);
        for (LoadedObject o : searchList) {
            if (!g.contains(o)) {
                g.add(o);
            }
        }
        if (g.size() != global.size()) {
            global = Collections.unmodifiableList(g);
            lazyObserver.scopesChanged();
        }
    }

    /**
     * Records glibc's relocation dependency (add_dependency): a binding of {@code referrer} to a
     * definition in {@code definer}, an object loaded by dlopen, keeps the definer loaded as long
     * as the referrer is (a dlopened host object too: glibc unloads it when nothing holds it).
     * Bindings to start-up objects and oneself record nothing.
     */
    @Override
    public void bound(LoadedObject referrer, LoadedObject definer) {
        if (referrer == definer || !dlopened.contains(definer)) {
            return;
        }
        synchronized (relocationDependencies) {
            List<LoadedObject> l = relocationDependencies.computeIfAbsent(referrer, k -> new ArrayList<>(2));
            if (!l.contains(definer)) {
                l.add(definer);
            }
        }
    }

    /** The dlopened objects {@code obj} was bound to outside its dependencies (glibc's l_reldeps). */
    public List<LoadedObject> relocationDependencies(LoadedObject obj) {
        synchronized (relocationDependencies) {
            List<LoadedObject> s = relocationDependencies.get(obj);
            return s == null ? List.of() : List.copyOf(s);
        }
    }

    /** Whether {@code obj} came in through dlopen (glibc's lt_loaded), so that dlclose may unload it. */
    public boolean isDlopened(LoadedObject obj) {
        return dlopened.contains(obj);
    }

    /** Bindings the lazy fast path made without Java are recorded now (see {@link LazyObserver#drain}). */
    public void drainLazyBindings() {
        lazyObserver.drain();
    }

    /** Forgets objects that dlclose unloaded. */
    public synchronized void forget(List<LoadedObject> removed) {
        mappedEarly.removeAll(removed); // mapped while a failed search ran, never linked
        List<LoadedObject> all = new ArrayList<>(objects);
        all.removeAll(removed);
        objects = Collections.unmodifiableList(all);
        List<LoadedObject> g = new ArrayList<>(global);
        g.removeAll(removed);
        global = Collections.unmodifiableList(g);
        for (Map.Entry<Long, List<LoadedObject>> e : namespaceGlobal.entrySet()) {
            List<LoadedObject> ns = new ArrayList<>(e.getValue());
            ns.removeAll(removed);
            e.setValue(List.copyOf(ns));
        }
        namespaceGlobal.values().removeIf(List::isEmpty); // an emptied namespace starts afresh
        removed.forEach(localScope::remove);
        deepBound.removeAll(removed);
        synchronized (lazyIds) {
            for (LoadedObject o : removed) {
                Long id = lazyIds.remove(o);
                if (id != null) {
                    lazyObjects.remove(id);
                }
            }
        }
        boundNow.removeAll(removed);
        dlopened.removeAll(removed);
        removed.forEach(tls::release); // their static TLS and module ids serve later dlopens
        lookup.forget(removed);
        synchronized (relocationDependencies) {
            removed.forEach(relocationDependencies::remove);
            for (List<LoadedObject> s : relocationDependencies.values()) {
                removed.forEach(s::remove);
            }
        }
        lazyObserver.scopesChanged();
    }

    /** The global scope of the base namespace, in search order. */
    public List<LoadedObject> globalScope() {
        return global;
    }

    /** The global scope of namespace {@code lmid} (0: the base one; empty for one not in use). */
    public List<LoadedObject> globalScope(long lmid) {
        return lmid == 0 ? global : namespaceGlobal.getOrDefault(lmid, List.of());
    }

    /** The objects of namespace {@code lmid}, in load order. */
    public List<LoadedObject> objectsOf(long lmid) {
        List<LoadedObject> out = new ArrayList<>();
        for (LoadedObject o : objects) {
            if (o.namespace() == lmid) {
                out.add(o);
            }
        }
        return out;
    }

    /** Initialisation order of a subset (dependencies first), as {@link #initOrder()} for start-up. */
    public List<LoadedObject> initOrderOf(List<LoadedObject> subset) {
        return InitOrder.compute(subset);
    }

    public List<LoadedObject> objects() {
        return objects;
    }

    public List<LoadedObject> jdryadObjects() {
        List<LoadedObject> out = new ArrayList<>();
        for (LoadedObject o : objects) {
            if (!o.isHost()) {
                out.add(o);
            }
        }
        return out;
    }

    public List<LoadedObject> hostObjects() {
        List<LoadedObject> out = new ArrayList<>();
        for (LoadedObject o : objects) {
            if (o.isHost()) {
                out.add(o);
            }
        }
        return out;
    }

    /** Objects {@link #mapEarly} mapped before the session had its objects. */
    private final java.util.Set<LoadedObject> mappedEarly = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());

    /**
     * Maps one jdryad object before the session has its objects: with audit modules, glibc's
     * la_objopen sees each start-up object mapped as soon as it is found, before the search for
     * its dependencies. {@link #mapAll} then leaves it as it is.
     */
    public void mapEarly(LoadedObject o) {
        if (!o.isHost() && mappedEarly.add(o)) {
            map(new SegmentMapper(memory), o);
        }
    }

    /** Maps every jdryad object (those not mapped early) and places its static TLS. */
    public void mapAll() {
        long t0 = System.nanoTime();
        SegmentMapper mapper = new SegmentMapper(memory);
        for (LoadedObject o : jdryadObjects()) {
            if (!mappedEarly.remove(o)) {
                map(mapper, o);
            }
        }
        tls.assign(objects);
        stats.phase("map", System.nanoTime() - t0);
    }

    /** Maps one object; one with text relocations keeps writable text until {@link #protectAll}. */
    private void map(SegmentMapper mapper, LoadedObject o) {
        boolean textrel = o.dynamic().map(d -> d.has(org.jdryad.elf.Elf.DT_TEXTREL)
                || (d.flags() & org.jdryad.elf.Elf.DF_TEXTREL) != 0).orElse(false);
        if (textrel) {
            textWritable.add(o);
        }
        mapper.map(o, textrel);
    }

    /**
     * Relocates the jdryad objects. As glibc's dl_main, in the order of their initialisers (it
     * walks l_initfini from the end): dependencies before the objects that use them, the
     * executable last, because copy relocations copy data that must already be relocated.
     */
    public void relocateAll() {
        long t0 = System.nanoTime();
        List<LoadedObject> order = new ArrayList<>();
        for (LoadedObject o : initOrder()) {
            if (!o.isHost()) {
                order.add(o);
            }
        }
        RelocationRun.relocateAll(this, order);
        setUpDebugEntries(jdryadObjects());
        stats.phase("relocate", System.nanoTime() - t0);
    }

    /** glibc's r_debug of the base namespace, which DT_DEBUG entries get (0: none). */
    private volatile long rDebug;

    public void setRDebug(long address) {
        this.rDebug = address;
    }

    /**
     * glibc 2.35's elf_setup_debug_entry: an object with a DT_DEBUG entry (an executable's) gets
     * the address of r_debug in it, before RELRO is protected, so the program can find the link
     * maps as under glibc. Objects of another namespace are left alone (their r_debug is glibc's
     * of that namespace; executables are never dlmopened into one).
     */
    private void setUpDebugEntries(List<LoadedObject> objs) {
        if (rDebug == 0) {
            return;
        }
        for (LoadedObject o : objs) {
            if (o.isHost() || o.namespace() != 0 || o.dynamic().isEmpty() || o.dynamicAddress() == 0) {
                continue;
            }
            List<org.jdryad.elf.DynamicSection.Entry> entries = o.dynamic().get().entries();
            for (int i = 0; i < entries.size(); i++) {
                if (entries.get(i).tag() == org.jdryad.elf.Elf.DT_DEBUG) {
                    memory.writeWords(new long[] {o.dynamicAddress() + (long) i * org.jdryad.elf.Elf.DYN_SIZE + 8},
                            new long[] {rDebug}, 1);
                }
            }
        }
    }

    /** Re-binds host objects' GOT slots where jdryad objects interpose. */
    public int rebindHosts() {
        long t0 = System.nanoTime();
        List<HostRebinder.Patch> patches = HostRebinder.plan(hostObjects(), global, lookup);
        HostRebinder.apply(patches, memory, history);
        stats.phase("re-bind host objects", System.nanoTime() - t0);
        return patches.size();
    }

    /** The composed static TLS image (see {@link StaticTlsLayout#composeImage}). */
    public byte[] tlsImage() {
        return tls.composeImage(objects, memory);
    }

    public long tlsBytesUsed() {
        return tls.used();
    }

    /** Final protections: segment flags where text was made writable, RELRO read-only. */
    public void protectAll() {
        SegmentMapper mapper = new SegmentMapper(memory);
        for (LoadedObject o : jdryadObjects()) {
            mapper.protectFinal(o, textWritable.contains(o));
        }
    }

    /**
     * Finalisers' order over every loaded object, relocation dependencies included (see
     * InitOrder#finiOrder): at exit, and for what a dlclose unloads.
     */
    public List<LoadedObject> finiOrder() {
        return InitOrder.finiOrder(objects, this::relocationDependencies);
    }

    /** Initialisers' order (dependencies first, executable last). */
    public List<LoadedObject> initOrder() {
        return InitOrder.compute(objects);
    }

    /** Looks a name up in the global scope, unversioned (as dlsym(RTLD_DEFAULT) does). */
    public Optional<Definition> lookupGlobal(String name) {
        return lookup.lookup(new SymbolLookup.Request(name, null, null, SymbolLookup.TypeClass.NORMAL, true), global)
                .definition();
    }

    @Override
    public TargetMemory memory() {
        return memory;
    }

    @Override
    public SymbolLookup lookup() {
        return lookup;
    }

    @Override
    public List<LoadedObject> scopeFor(LoadedObject obj) {
        List<LoadedObject> local = localScope.get(obj);
        List<LoadedObject> global = globalScope(obj.namespace());
        if (local == null) {
            return global;
        }
        // glibc's l_scope: the global scope, then the local one; RTLD_DEEPBIND puts the local first.
        boolean deep = deepBound.contains(obj);
        List<LoadedObject> scope = new ArrayList<>(deep ? local : global);
        for (LoadedObject o : deep ? global : local) {
            if (!scope.contains(o)) {
                scope.add(o);
            }
        }
        return scope;
    }

    @Override
    public OptionalLong interposedAddress(Definition def) {
        if (!def.object().isHost()) {
            return OptionalLong.empty();
        }
        Long a = interposers.get(def.symbol().name());
        return a == null ? OptionalLong.empty() : OptionalLong.of(a);
    }

    @Override
    public long tlsDescReturn() {
        return tlsDescReturn;
    }

    /** How the agent aligns every thread pointer: static TLS blocks aligned beyond it cannot be placed. */
    public void setThreadPointerAlignment(long alignment) {
        tls.setThreadPointerAlignment(alignment);
    }

    /** The agent's dynamic-TLS descriptor function, for modules {@link StaticTlsLayout} made dynamic. */
    public void setTlsDescDynamic(long address) {
        this.tlsDescDynamic = address;
    }

    @Override
    public long tlsDescDynamic() {
        return tlsDescDynamic;
    }

    @Override
    public long tlsModuleIdBase() {
        return tlsModuleIdBase;
    }

    @Override
    public RelocationStats stats() {
        return stats;
    }

    /**
     * The objects whose calls audit modules' PLT hooks watch (la_pltenter, la_pltexit, and
     * LA_FLG_BINDFROM from la_objopen). As glibc's consider_profiling in _dl_relocate_object,
     * their own DT_BIND_NOW, DF_BIND_NOW or DF_1_NOW does not make them bind now (their calls must
     * go through the PLT to be seen; LD_BIND_NOW and RTLD_NOW still do), and their slots are never
     * written after relocation, as glibc's _dl_profile_fixup keeps its answers apart.
     */
    private volatile java.util.function.Predicate<LoadedObject> profiled = o -> false;

    /** See {@link #profiled}. */
    public void setProfiled(java.util.function.Predicate<LoadedObject> watched) {
        this.profiled = watched;
    }

    @Override
    public boolean bindsLazily(LoadedObject obj) {
        return lazyResolver != 0 && !bindNowAll && !obj.isHost() && !boundNow.contains(obj)
                && obj.dynamic().map(d -> !d.bindNow() || profiled.test(obj)).orElse(false);
    }

    @Override
    public boolean slotsStayUnbound(LoadedObject obj) {
        return profiled.test(obj);
    }

    @Override
    public long lazyIdOf(LoadedObject obj) {
        synchronized (lazyIds) {
            return lazyIds.computeIfAbsent(obj, o -> {
                long id = nextLazyId++; // never reused: a stale GOT[1] can name no other object
                lazyObjects.put(id, o);
                lazyObserver.added(id, o);
                return id;
            });
        }
    }

    @Override
    public long lazyResolver() {
        return lazyResolver;
    }

    @Override
    public Map<Long, Long> ifuncResults() {
        return ifuncResults;
    }

    @Override
    public BindingHistory history() {
        return history;
    }

    @Override
    public void warn(String message) {
        warnings.accept(message);
    }

    /**
     * Parallel relocation planning (see RelocationRun): off unless -Djdryad.link.parallel=true,
     * because on the 2-core machines measured, busy with other work, it did not win (README,
     * Benchmarks).
     */
    private volatile boolean parallel = Boolean.getBoolean("jdryad.link.parallel");

    /** Plans objects' relocations concurrently (true) or one after another (false). */
    public void setParallelRelocation(boolean on) {
        this.parallel = on;
    }

    @Override
    public boolean relocatesInParallel() {
        return parallel;
    }

    /** Whether relocation's lookups or objects are told to someone as they happen (LD_DEBUG). */
    @Override
    public boolean tracesLookups() {
        return relocationListener != null || lookup.tellsProbes();
    }

    /** Told of each object before its relocations are processed (LD_DEBUG=reloc); null: nobody. */
    public void setRelocationListener(Consumer<LoadedObject> listener) {
        this.relocationListener = listener;
    }

    @Override
    public void relocating(LoadedObject obj) {
        Consumer<LoadedObject> l = relocationListener;
        if (l != null) {
            l.accept(obj);
        }
    }
}
