package org.jdryad.run;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdryad.agent.AgentProcess;
import org.jdryad.agent.CallbackHandler;
import org.jdryad.agent.CallbackReply;
import org.jdryad.agent.FiniEntry;
import org.jdryad.agent.HostObject;
import org.jdryad.agent.ObjectTableEntry;
import org.jdryad.agent.Protocol;
import org.jdryad.agent.RDebugEntry;
import org.jdryad.agent.RDebugResult;
import org.jdryad.agent.ActivityCause;
import org.jdryad.debug.ActivityEvent;
import org.jdryad.debug.ActivityLog;
import org.jdryad.debug.Binding;
import org.jdryad.debug.BindingHistory;
import org.jdryad.debug.LinkTrace;
import org.jdryad.elf.DynamicSection;
import org.jdryad.elf.Elf;
import org.jdryad.elf.Symbol;
import org.jdryad.link.LinkException;
import org.jdryad.link.LinkSession;
import org.jdryad.link.LoadedObject;
import org.jdryad.link.SymbolLookup;
import org.jdryad.link.SymbolLookup.Definition;

/**
 * The program's dynamic-linker services at run time: the link map as gdb sees it (r_debug), the
 * agent's object table, initialisers and finalisers, and the program's dlopen, dlsym, dlvsym,
 * dlclose and dladdr, answered for jdryad objects (host objects are left to glibc).
 *
 * <p>A handle is the object's node in the r_debug list, as glibc's handles are its link maps.
 *
 * <p>dlmopen's namespaces. The rule: every namespace jdryad makes is also one of glibc's, with the
 * same id. glibc's libraries are host objects, and a namespace has its own copy of them, as under
 * glibc (a second libc.so.6, with its own stdio, malloc state and errno): glibc's own dlmopen
 * loads them in the agent into its namespace of that id, and the jdryad objects of the namespace
 * are bound to those copies. Making a namespace first has glibc's dlmopen open ld.so there (the
 * stand-in glibc gives every namespace for its one copy) as an anchor: glibc chooses the id (the
 * lowest free one, at most 15, glibc's DL_NNS), and the id stays taken while jdryad's objects are
 * in the namespace; when its last object is unloaded, its host objects and the anchor are closed
 * and the id is free again. Lookups in a namespace search its global scope (the search list of
 * its first object, as glibc's l_scope[0]) and the object's local scope; its list goes to gdb
 * through glibc's r_debug of that namespace (r_version 2, r_next).
 */
final class DynamicLoader implements CallbackHandler {
    static final long RTLD_DEFAULT = 0;
    static final long RTLD_NEXT = -1;
    /** Init/fini arrays larger than this (2 million functions) are refused as malformed. */
    private static final long MAX_FUNCTION_ARRAY = 1 << 24;

    private final LinkSession session;
    private final Map<LoadedObject, Long> nodes = new IdentityHashMap<>();
    private final Map<Long, LoadedObject> byNode = new java.util.HashMap<>();
    private final Map<LoadedObject, Integer> openCount = new IdentityHashMap<>();
    private final Map<LoadedObject, List<LoadedObject>> searchLists = new IdentityHashMap<>();
    /** NODELETE objects: opened with RTLD_NODELETE, or -z nodelete (DF_1_NODELETE) after their dlopen succeeded. */
    private final java.util.Set<LoadedObject> nodelete = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
    /** Objects a dlclose is unloading (their finalisers may be running). */
    private final java.util.Set<LoadedObject> removing = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
    private final List<LoadedObject> initialised = new ArrayList<>();
    /**
     * Host objects whose initialisers glibc ran, at start-up or in a dlmopen's namespace (its
     * own dlopen and dlmopen, with glibc's LD_DEBUG off): their LD_DEBUG lines are printed in
     * glibc's order, and glibc's dlclose runs their finalisers after the jdryad objects'.
     */
    private final java.util.Set<LoadedObject> hostsAnnounced =
            java.util.Collections.newSetFromMap(new IdentityHashMap<>());
    private final DlopenResolver resolver;
    private final ActivityLog activity;

    private AgentProcess agent;
    private Optional<UnwindTables> unwind = Optional.empty();
    private long argc;
    private long argvAddr;
    private long envpAddr;
    private int nextId = 1;
    private final Map<LoadedObject, Long> ids = new IdentityHashMap<>();
    private LinkTrace trace = LinkTrace.none();
    /** LD_DEBUG's "calling fini" text per object, placed in agent memory once (address, length). */
    private final Map<LoadedObject, long[]> finiTexts = new IdentityHashMap<>();
    private long[] debugOutputPath;
    /** The namespaces dlmopen made, by id (the base namespace is not among them). */
    private final Map<Long, Namespace> namespaces = new java.util.HashMap<>();

    /** glibc's LM_ID_NEWLM: dlmopen into a new namespace. */
    private static final long LM_ID_NEWLM = -1;
    /** glibc's ld.so by the name its libraries need it by (x86-64). */
    static final String RTLD_SONAME = "ld-linux-x86-64.so.2";

    /**
     * A namespace dlmopen made: its search (a resolver of its own), and glibc's handle of the
     * ld.so stand-in that keeps glibc's namespace of the same id taken.
     */
    private record Namespace(long lmid, DlopenResolver resolver, long anchor) {
    }

    /** LD_AUDIT's modules, told of every change (Auditing); none by default. */
    private AuditHooks audit = AuditHooks.NONE;

    /** What the rtld-audit modules are told of dlopen, dlclose and exit (Auditing implements it). */
    interface AuditHooks {
        AuditHooks NONE = new AuditHooks() {
        };

        /** la_objsearch(LA_SER_ORIG) for a dlopen name not loaded yet: the name to load, or null (refused). */
        default String searchName(String name, LoadedObject requester) {
            return name;
        }

        /** New objects are mapped and announced: la_activity(LA_ACT_ADD), then la_objopen for each. */
        default void added(List<LoadedObject> objects) {
        }

        /** A dlclose unloads these (finalisers ran): la_objclose for each, then la_activity(LA_ACT_DELETE). */
        default void removing(List<LoadedObject> objects) {
        }

        /** The new objects are relocated: la_symbind64 for the jump slots bound now (RTLD_NOW, -z now). */
        default void relocated(List<LoadedObject> objects) {
        }

        /** dlsym found {@code d} at {@code value} for {@code from}: la_symbind64 (LA_SYMB_DLSYM); the address to answer. */
        default long dlsymBound(LoadedObject from, Definition d, long value) {
            return value;
        }

        /** The change is complete: la_activity(LA_ACT_CONSISTENT). */
        default void consistent() {
        }

        /** At exit, in _dl_fini's order: what runs before every finaliser (la_activity(LA_ACT_DELETE)). */
        default List<FiniEntry> exitStarts() {
            return List.of();
        }

        /** At exit, after {@code o}'s finalisers (la_objclose). */
        default List<FiniEntry> exitCloses(LoadedObject o) {
            return List.of();
        }

        /** At exit, after every finaliser (la_activity(LA_ACT_CONSISTENT)). */
        default List<FiniEntry> exitEnds() {
            return List.of();
        }
    }
    /** The process this loader serves, for the history: 0 is the run's own (a forked child's loader has its pid). */
    private final long pid;
    /** Told before every change, so that children forked in the state before it can still have it. */
    private ForkSnapshots forks;

    /** Finds what a dlopen name means in the namespace: see ObjectGraph. */
    interface DlopenResolver {
        /** The objects dlopen(name) from {@code caller} brings in, or a glibc-worded error. */
        Resolution resolve(String name, LoadedObject caller);

        /**
         * dlopen(name, RTLD_NOLOAD): the loaded object the name means (no objects added), a
         * root of null when it is not loaded, or glibc's error (a file that cannot be opened).
         */
        Resolution findLoaded(String name, LoadedObject caller);

        /** dlclose unloaded these objects, or a failed dlopen took them out: they leave the namespace. */
        void unload(List<LoadedObject> gone);

        /** The resolver of namespace {@code lmid}, which dlmopen makes: its own search, no objects yet. */
        DlopenResolver newNamespace(long lmid);
    }

    /** What a dlopen name resolved to: its object, the objects new to the namespace, the root's search list. */
    record Resolution(LoadedObject root, List<LoadedObject> added, List<LoadedObject> searchList, String error) {
    }

    DynamicLoader(LinkSession session, DlopenResolver resolver, ActivityLog activity) {
        this(session, resolver, activity, 0);
    }

    private DynamicLoader(LinkSession session, DlopenResolver resolver, ActivityLog activity, long pid) {
        this.session = session;
        this.resolver = resolver;
        this.activity = activity;
        this.pid = pid;
    }

    void attach(AgentProcess agent) {
        this.agent = agent;
        this.unwind = UnwindTables.load(agent);
    }

    /**
     * The loader of a process forked from this one's (or a frozen copy of this one's state, with
     * no agent): the same handles, open counts, search lists, NODELETE marks, initialised objects
     * and finaliser texts as now, over {@code session} (a copy of this one's), resolving dlopen
     * names with {@code resolver}, recording under {@code pid}.
     */
    synchronized DynamicLoader copyFor(LinkSession session, DlopenResolver resolver, long pid) {
        DynamicLoader c = new DynamicLoader(session, resolver, activity, pid);
        c.nodes.putAll(nodes);
        c.byNode.putAll(byNode);
        c.openCount.putAll(openCount);
        c.searchLists.putAll(searchLists);
        c.nodelete.addAll(nodelete);
        c.initialised.addAll(initialised);
        c.hostsAnnounced.addAll(hostsAnnounced);
        c.agent = agent;
        c.unwind = unwind;
        c.argc = argc;
        c.argvAddr = argvAddr;
        c.envpAddr = envpAddr;
        c.nextId = nextId;
        c.ids.putAll(ids);
        c.finiTexts.putAll(finiTexts);
        c.namespaces.putAll(namespaces); // their searches stay the parent's (a known limit)
        c.debugOutputPath = debugOutputPath;
        c.trace = trace; // LD_DEBUG's lines of a child's dlopen carry the run's pid (a known limit)
        return c;
    }

    /** Makes a copy from {@link #copyFor} the child's: its requests go to {@code child}. */
    void attachChild(AgentProcess child) {
        this.agent = child;
        this.unwind = unwind.map(u -> u.copyFor(child));
    }

    /** Who keeps the states children were forked in (see {@link ForkSnapshots}). */
    synchronized void setForkSnapshots(ForkSnapshots forks) {
        this.forks = forks;
    }

    /** Before a change of the link state: a child forked before it keeps the state it was forked in. */
    private void changing() {
        if (forks != null) {
            forks.changing();
        }
    }

    /** Tells LD_DEBUG's story of initialisers, finalisers, dlopen and dlclose to {@code t}. */
    void setTrace(LinkTrace t) {
        this.trace = t;
    }

    /** Tells LD_AUDIT's modules of what happens from now on. */
    synchronized void setAudit(AuditHooks hooks) {
        this.audit = hooks;
        publishFinalisers();
    }

    /** The object's node in the agent's link map (its dlopen handle), 0 when it has none. */
    synchronized long linkMapOf(LoadedObject o) {
        return nodes.getOrDefault(o, 0L);
    }

    /** dlinfo's requests that read a handle's fields (dlfcn.h). */
    private static final int RTLD_DI_LMID = 1, RTLD_DI_LINKMAP = 2, RTLD_DI_ORIGIN = 6, RTLD_DI_TLS_MODID = 9,
            RTLD_DI_TLS_DATA = 10;

    /**
     * dlinfo on a jdryad handle. glibc's dlinfo reads fields of its own {@code struct link_map}
     * (l_ns, l_origin, l_tls_modid) that jdryad's nodes do not have: handed a jdryad node it
     * answered garbage, or crashed on RTLD_DI_ORIGIN. So jdryad answers what glibc would from
     * them; a host object's handle still goes to glibc. Other requests get the agent's
     * "unsupported request" error.
     */
    @Override
    public CallbackReply dlinfo(long handle, int request) {
        LoadedObject obj;
        synchronized (this) {
            obj = byNode.get(handle);
        }
        if (obj == null) {
            return CallbackReply.askGlibc(handle);
        }
        switch (request) {
            case RTLD_DI_LMID:
                return CallbackReply.ok(obj.namespace());
            case RTLD_DI_LINKMAP:
                return CallbackReply.ok(handle);
            case RTLD_DI_ORIGIN:
                return CallbackReply.okString(originOf(obj));
            case RTLD_DI_TLS_MODID:
                return CallbackReply.ok(obj.tlsModuleId());
            case RTLD_DI_TLS_DATA:
                // The calling thread's block: static TLS sits at tp - offset; a dynamic block may not
                // exist yet in this thread, and glibc answers NULL then (jdryad always does).
                return CallbackReply.ok(obj.tlsModuleId() != 0 && obj.hasStaticTls() ? obj.tlsOffset() : 0);
            default:
                return CallbackReply.ok(0);
        }
    }

    /**
     * glibc's l_origin: the directory of the name the object was opened by, made absolute but
     * not normalised ({@code ./lib.so} from /tmp gives {@code /tmp/.}); the program's is its
     * real path's directory.
     */
    private static String originOf(LoadedObject obj) {
        java.nio.file.Path p = obj.path();
        if (obj.isExecutable()) {
            try {
                p = p.toRealPath();
            } catch (java.io.IOException e) {
                p = p.toAbsolutePath();
            }
        }
        java.nio.file.Path dir = p.toAbsolutePath().getParent();
        return dir == null ? "/" : dir.toString();
    }

    /** The object whose node (dlopen handle) this is, if any. */
    synchronized Optional<LoadedObject> objectOfHandle(long handle) {
        return Optional.ofNullable(byNode.get(handle));
    }

    /** Where the argument vectors for initialisers live (glibc passes the program's argc, argv, envp). */
    void setArguments(long argc, long argvAddr, long envpAddr) {
        this.argc = argc;
        this.argvAddr = argvAddr;
        this.envpAddr = envpAddr;
    }

    /**
     * Publishes the current jdryad objects to gdb (r_debug) and to the agent's object table, and
     * records the change as two activity events (added or deleted, then consistent).
     */
    synchronized void publish(int kind, List<LoadedObject> changed, ActivityLog.Change why) {
        if (kind == Protocol.RT_ADD) {
            unwind.ifPresent(u -> u.register(changed));
        } else {
            unwind.ifPresent(u -> u.deregister(changed));
        }
        // One change of the list of each namespace the objects are in (a dlclose's may span several).
        Map<Long, List<LoadedObject>> byNamespace = new java.util.TreeMap<>();
        for (LoadedObject o : changed) {
            byNamespace.computeIfAbsent(o.namespace(), k -> new ArrayList<>()).add(o);
        }
        if (byNamespace.isEmpty()) {
            byNamespace.put(0L, List.of());
        }
        byNamespace.forEach((lmid, objs) -> publishIn(lmid, kind, objs, why));
        publishObjectTable();
    }

    /**
     * Sends namespace {@code lmid}'s new list to gdb: the base one's jdryad objects (after the
     * agent's copies of glibc's nodes), or every object of another (glibc's r_debug of that
     * namespace: its host objects are glibc's copies in it); records the two activity events.
     */
    private void publishIn(long lmid, int kind, List<LoadedObject> changed, ActivityLog.Change why) {
        List<LoadedObject> objs = lmid == 0 ? session.jdryadObjects() : session.objectsOf(lmid);
        if (lmid == 0) {
            objs.removeIf(o -> o.namespace() != 0);
        }
        List<RDebugEntry> entries = new ArrayList<>();
        for (LoadedObject o : objs) {
            long id = ids.computeIfAbsent(o, k -> (long) nextId++);
            entries.add(new RDebugEntry(id, o.base(), o.dynamicAddress(), o.path().toString()));
        }
        List<String> names = new ArrayList<>();
        for (LoadedObject o : changed) {
            names.add(o.path().toString());
        }
        ActivityEvent first = activity.add(kind == Protocol.RT_DELETE ? ActivityEvent.State.DELETE
                : ActivityEvent.State.ADD, why, names, pid, lmid);
        RDebugResult rd = agent.rDebugUpdate(kind, entries, names, new ActivityCause(why.cause().code(), why.callSite(),
                why.flags(), why.tid(), first.seq(), why.request()), lmid);
        activity.add(ActivityEvent.State.CONSISTENT, why, names, pid, lmid);
        for (int i = 0; i < objs.size(); i++) {
            LoadedObject o = objs.get(i);
            if (o.isHost()) {
                continue; // a host object's handle is glibc's
            }
            long node = rd.nodes() != null && i < rd.nodes().length ? rd.nodes()[i] : 0;
            nodes.put(o, node);
            byNode.put(node, o);
        }
    }

    /**
     * The agent's object table (dl_iterate_phdr, _dl_find_object, dladdr): every namespace's
     * objects in load order, jdryad objects with their details, host objects as places in the
     * order (glibc's own entries fill them), the program first and then the vDSO, as in glibc's
     * list; and the host objects of the agent's own that the program does not have (the agent
     * itself, its libgcc_s), which dl_iterate_phdr leaves out.
     */
    private void publishObjectTable() {
        List<ObjectTableEntry> table = new ArrayList<>();
        java.util.Set<Long> hostBases = new java.util.HashSet<>();
        Optional<HostObject> vdso = agent.info().vdso();
        for (LoadedObject o : session.objects()) {
            if (o.isHost()) {
                table.add(ObjectTableEntry.host(ObjectTableEntry.HOST, o.base()));
                hostBases.add(o.base());
                continue;
            }
            long node = nodes.getOrDefault(o, 0L);
            long ehFrame = o.elf().segment(Elf.PT_GNU_EH_FRAME).map(p -> o.base() + p.vaddr()).orElse(0L);
            boolean program = o.isExecutable() && o.namespace() == 0;
            table.add(new ObjectTableEntry(program ? ObjectTableEntry.PROGRAM : ObjectTableEntry.JDRYAD, node,
                    o.base(), ProgramRunner.phdrAddress(o), o.elf().programHeaders().size(),
                    o.mapStart(), o.mapStart() + o.mapLength(), ehFrame,
                    o.hasStaticTls() ? o.tlsModuleId() : 0, o.hasStaticTls() ? o.tlsOffset() : 0, o.path().toString()));
            if (program && vdso.isPresent()) {
                table.add(ObjectTableEntry.host(ObjectTableEntry.HOST, vdso.get().lAddr()));
                hostBases.add(vdso.get().lAddr());
            }
        }
        List<Long> agentsOwn = new ArrayList<>();
        agent.info().hostObjects().forEach(h -> agentsOwn.add(h.lAddr()));
        unwind.ifPresent(u -> agentsOwn.add(u.libgccBase())); // loaded up front, natively at a first need
        for (long base : agentsOwn) {
            if (base != 0 && hostBases.add(base)) {
                table.add(ObjectTableEntry.host(ObjectTableEntry.HIDDEN, base));
            }
        }
        agent.setObjectTable(table);
    }

    /**
     * Gives dlopened objects' static TLS blocks their initial values: in the main thread's
     * reservation and in the module-1 init image that glibc copies for threads created later.
     * Only the new blocks are written: the rest of the reservation holds the program's live
     * thread-local variables (rewriting the whole image here once reset perl's interpreter
     * pointer to NULL). The agent writes them into every thread that exists too, as glibc's
     * dlopen does. A module in dynamic TLS is only registered: each thread makes its block at
     * its first access.
     */
    /** A dynamic TLS block's alignment: glibc's memalign takes p_align up to a power of two. */
    private static long dynamicBlockAlignment(long align) {
        return align <= 1 ? 1 : Long.bitCount(align) == 1 ? align : Long.highestOneBit(align) << 1;
    }

    private void installTls(List<LoadedObject> added) {
        for (LoadedObject o : added) {
            if (o.isHost() || o.tlsModuleId() == 0) {
                continue;
            }
            var tls = o.elf().tls().orElseThrow();
            if (!o.hasStaticTls()) {
                // Dynamic TLS: each thread copies the init image from the mapped object at its first access.
                agent.setTlsDynamic(o.tlsModuleId() - Protocol.TLS_MODID_BASE, o.base() + tls.vaddr(), tls.filesz(),
                        Math.max(1, tls.memsz()), dynamicBlockAlignment(tls.align()));
                continue;
            }
            byte[] block = new byte[(int) tls.memsz()];
            if (tls.filesz() > 0) {
                byte[] init = agent.read(o.base() + tls.vaddr(), (int) tls.filesz());
                System.arraycopy(init, 0, block, 0, init.length);
            }
            agent.setTlsBlock(o.tlsOffset(), block);
        }
    }

    /** Unloaded objects' dynamic TLS modules: their indices may serve a later dlopen. */
    private void retireDynamicTls(List<LoadedObject> gone) {
        for (LoadedObject o : gone) {
            if (!o.isHost() && o.tlsModuleId() != 0 && !o.hasStaticTls()) {
                agent.setTlsDynamic(o.tlsModuleId() - Protocol.TLS_MODID_BASE, 0, 0, 0, 0);
            }
        }
    }

    /**
     * Runs initialisers of {@code order} (already in glibc's order), skipping host and already
     * initialised objects. No Java lock is held while an initialiser runs: it may call dlsym or
     * dlopen, whose callbacks arrive on another Java thread (glibc's loader lock is recursive
     * for the thread that holds it; a Java monitor would not be).
     */
    void runInitialisers(List<LoadedObject> order, boolean skipMainInit) {
        for (LoadedObject o : order) {
            synchronized (this) {
                if (o.dynamic().isEmpty() || initialised.contains(o) || hostsAnnounced.contains(o)
                        || o.isHost() && o.namespace() != 0 && isRtld(o)) {
                    continue;
                }
                (o.isHost() ? hostsAnnounced : initialised).add(o);
            }
            trace.initialising(o); // glibc 2.36's call_init announces every object, with initialisers or not
            if (o.isHost()) {
                continue; // glibc ran them when it loaded the object into the agent
            }
            if (o.isExecutable() && skipMainInit) {
                continue;
            }
            DynamicSection d = o.dynamic().get();
            List<Long> calls = new ArrayList<>();
            if (d.value(Elf.DT_INIT).isPresent()) {
                calls.add(o.base() + d.value(Elf.DT_INIT).getAsLong());
            }
            calls.addAll(functionArray(o, d, Elf.DT_INIT_ARRAY, Elf.DT_INIT_ARRAYSZ));
            if (!calls.isEmpty()) {
                agent.callAll(calls, argc, argvAddr, envpAddr);
            }
        }
        publishFinalisers();
    }

    /** ld.so: in a namespace of dlmopen's, glibc's stand-in for its one copy (never initialised again). */
    private static boolean isRtld(LoadedObject o) {
        return o.soname().map(RTLD_SONAME::equals).orElse(false);
    }

    /** The executable's DT_PREINIT_ARRAY (run before every other initialiser). */
    void runPreinit(LoadedObject main) {
        main.dynamic().ifPresent(d -> {
            List<Long> calls = functionArray(main, d, Elf.DT_PREINIT_ARRAY, Elf.DT_PREINIT_ARRAYSZ);
            if (!calls.isEmpty()) {
                trace.preinit();
                agent.callAll(calls, argc, argvAddr, envpAddr);
            }
        });
    }

    /** The (relocated) function pointers of an init/fini array, read from the target; 0 and -1 skipped. */
    List<Long> functionArray(LoadedObject o, DynamicSection d, long tag, long sizeTag) {
        List<Long> out = new ArrayList<>();
        if (d.value(tag).isEmpty()) {
            return out;
        }
        long size = d.value(sizeTag).orElse(0);
        if (size <= 0 || size % 8 != 0 || size > MAX_FUNCTION_ARRAY) {
            return out;
        }
        byte[] b = agent.read(o.base() + d.value(tag).getAsLong(), (int) size);
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < size / 8; i++) {
            long fn = bb.getLong(i * 8);
            if (fn != 0 && fn != -1) {
                out.add(fn);
            }
        }
        return out;
    }

    /** Finalisers of every initialised object, in the order glibc's _dl_fini runs them. */
    private synchronized void publishFinalisers() {
        List<FiniEntry> out = new ArrayList<>();
        if (trace.outputFile() != null) {
            if (debugOutputPath == null) {
                debugOutputPath = agentText(trace.outputFile() + "\0");
            }
            out.add(FiniEntry.debugOutput(debugOutputPath[0]));
        }
        // glibc's _dl_fini order (the program first, then its libraries and the dlopened objects,
        // each before what it depends on), of the objects whose initialisers ran.
        out.addAll(audit.exitStarts());
        for (LoadedObject o : session.finiOrder()) {
            if (initialised.contains(o) || hostsAnnounced.contains(o)) {
                // glibc 2.36's _dl_call_fini announces every initialised object, with finalisers
                // or not. A host object's are glibc's to run in the agent's exit; its line is
                // printed where glibc's order puts it.
                List<FiniEntry> f = o.isHost() ? List.of() : finalisersOf(o);
                String text = trace.finiText(o);
                if (text != null) {
                    long[] t = finiTexts.computeIfAbsent(o, k -> agentText(text));
                    out.add(FiniEntry.debugText(t[0], t[1]));
                }
                out.addAll(f);
            }
            out.addAll(audit.exitCloses(o));
        }
        out.addAll(audit.exitEnds());
        agent.setFini(out);
    }

    /** Copies text into agent memory (never freed): its address and length in bytes. */
    private long[] agentText(String text) {
        byte[] b = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        long addr = agent.alloc(b.length, 1);
        agent.write(addr, b);
        return new long[] {addr, b.length};
    }

    private static List<FiniEntry> finalisersOf(LoadedObject o) {
        List<FiniEntry> out = new ArrayList<>();
        DynamicSection d = o.dynamic().get();
        if (d.value(Elf.DT_FINI_ARRAY).isPresent()) {
            long size = d.value(Elf.DT_FINI_ARRAYSZ).orElse(0);
            if (size > 0 && size % 8 == 0 && size <= MAX_FUNCTION_ARRAY) {
                out.add(FiniEntry.array(o.base() + d.value(Elf.DT_FINI_ARRAY).getAsLong(), size / 8));
            }
        }
        if (d.value(Elf.DT_FINI).isPresent()) {
            out.add(FiniEntry.call(o.base() + d.value(Elf.DT_FINI).getAsLong()));
        }
        return out;
    }

    // ---- callbacks from the program ----

    @Override
    public CallbackReply dlopen(String name, int flags, long caller, long tid) {
        // glibc's dlopen loads into the caller's namespace (__LM_ID_CALLER).
        Namespace ns;
        synchronized (this) {
            ns = namespaces.get(objectAt(caller).map(LoadedObject::namespace).orElse(0L));
        }
        // The search's lines wait for the new objects' addresses (LD_DEBUG=files): held from here
        // until they are mapped, or until dlopen returns without mapping any.
        trace.dlopenStarting(ns == null ? 0 : ns.lmid());
        try {
            return open(ns, name, flags, caller, tid);
        } finally {
            trace.dlopenEnded();
        }
    }

    /**
     * dlmopen into {@code lmid} (never LM_ID_BASE: that is dlopen), as glibc 2.36's dlmopen_doit
     * and _dl_open check it: a new namespace (LM_ID_NEWLM) or one jdryad made; an id jdryad does
     * not know goes to glibc's dlmopen, which refuses it in its words, or loads into a namespace
     * glibc made for a host object.
     */
    @Override
    public CallbackReply dlmopen(long lmid, String name, int flags, long caller, long tid) {
        if (name == null) {
            return CallbackReply.error("invalid namespace: Invalid argument");
        }
        if ((flags & Protocol.RTLD_GLOBAL) != 0) {
            return CallbackReply.error("invalid mode: Invalid argument");
        }
        if ((flags & (Protocol.RTLD_LAZY | Protocol.RTLD_NOW)) == 0) {
            return CallbackReply.error((name.isEmpty() ? "" : name + ": ") + "invalid mode for dlopen(): Invalid argument");
        }
        Namespace ns;
        synchronized (this) {
            ns = lmid == LM_ID_NEWLM ? null : namespaces.get(lmid);
            if (ns == null && lmid != LM_ID_NEWLM) {
                return CallbackReply.askGlibc(lmid);
            }
            if (ns == null) {
                try {
                    ns = makeNamespace();
                } catch (org.jdryad.agent.HostLoadException e) {
                    return CallbackReply.error(name + ": " + withoutObject(e.dlerror()));
                }
            }
        }
        trace.dlopenStarting(ns.lmid());
        try {
            return open(ns, name, flags, caller, tid);
        } finally {
            synchronized (this) {
                closeIfEmpty(ns);
            }
            trace.dlopenEnded();
        }
    }

    /** glibc's message less the object it names ("/lib64/ld-linux-x86-64.so.2: no more namespaces..."). */
    private static String withoutObject(String dlerror) {
        int i = dlerror == null ? -1 : dlerror.indexOf(": ");
        return i < 0 ? String.valueOf(dlerror) : dlerror.substring(i + 2);
    }

    /**
     * A new namespace: glibc's dlmopen opens ld.so's stand-in in a new namespace of its own, whose
     * id it is. By its soname, the name libc.so.6's DT_NEEDED asks for: glibc's stand-in has no
     * file identity, so opened by another name (a path) glibc would make a second stand-in when
     * libc is loaded there, and its _dl_fini would then fail an assertion at exit.
     */
    private Namespace makeNamespace() {
        AgentProcess.NamespacedHost anchor = agent.dlmopenHost(LM_ID_NEWLM, RTLD_SONAME, Protocol.RTLD_NOW);
        Namespace ns = new Namespace(anchor.lmid(), resolver.newNamespace(anchor.lmid()), anchor.library().handle());
        namespaces.put(ns.lmid(), ns);
        return ns;
    }

    /** A namespace whose last object left (or whose first dlmopen failed) gives its id back to glibc. */
    private void closeIfEmpty(Namespace ns) {
        if (namespaces.get(ns.lmid()) == ns && session.objectsOf(ns.lmid()).isEmpty()) {
            namespaces.remove(ns.lmid());
            closeHost(ns.anchor());
        }
    }

    /** glibc's dlclose of a handle glibc's dlmopen gave (a namespace's host object or anchor). */
    private void closeHost(long handle) {
        if (glibcDlclose == 0) {
            glibcDlclose = agent.dlsymHost(0, "dlclose", null);
        }
        agent.call(glibcDlclose, handle);
    }

    private long glibcDlclose;

    private CallbackReply open(Namespace ns, String name, int flags, long caller, long tid) {
        DlopenResolver resolver = ns == null ? this.resolver : ns.resolver();
        List<LoadedObject> toInitialise = new ArrayList<>();
        List<LoadedObject> joinedGlobal = new ArrayList<>();
        LoadedObject root;
        int opens;
        synchronized (this) {
            // _dl_open: the mode must say how to bind (dlerror names the file, nothing for NULL).
            if ((flags & (Protocol.RTLD_LAZY | Protocol.RTLD_NOW)) == 0) {
                return CallbackReply.error((name == null || name.isEmpty() ? "" : name + ": ")
                        + "invalid mode for dlopen(): Invalid argument");
            }
            LoadedObject main = session.objects().get(0);
            if (name == null) {
                return CallbackReply.ok(nodes.getOrDefault(main, 0L));
            }
            changing();
            boolean noload = (flags & Protocol.RTLD_NOLOAD) != 0;
            Resolution r;
            try {
                LoadedObject from = objectAt(caller).orElse(main);
                if (!noload && audit != AuditHooks.NONE && !loadedByName(name)) {
                    String searched = audit.searchName(name, from);
                    if (searched == null) {
                        return CallbackReply.error("cannot open shared object file"); // as _dl_map_object's no_file
                    }
                    name = searched;
                }
                r = noload ? resolver.findLoaded(name, from) : resolver.resolve(name, from);
            } catch (RuntimeException e) {
                return CallbackReply.error(e.getMessage() == null ? name + ": " + e : e.getMessage());
            }
            if (r.error() != null) {
                return CallbackReply.error(r.error());
            }
            if (r.root() == null) {
                return CallbackReply.ok(0); // RTLD_NOLOAD of an object that is not loaded: NULL, no error
            }
            if (r.root().isHost()) {
                if (ns != null && !r.added().isEmpty()) {
                    // glibc's dlmopen loaded them into the namespace: they are in its list and scope,
                    // and the library is open until the program's dlclose of glibc's handle for it.
                    session.mapDlopened(r.added(), r.searchList(), true);
                    publish(Protocol.RT_ADD, r.added(), new ActivityLog.Change(ActivityEvent.Cause.DLOPEN, name, flags,
                            caller, tid));
                }
                if (ns != null && r.root().glibcHandle() != 0 && session.objects().contains(r.root())) {
                    openCount.merge(r.root(), 1, Integer::sum);
                }
                return CallbackReply.askGlibc(ns == null ? 0 : ns.lmid()); // glibc opens it, in the namespace
            }
            if (noload && !r.added().isEmpty()) {
                throw new IllegalStateException("RTLD_NOLOAD loaded " + r.added());
            }
            // RTLD_GLOBAL adds to the base namespace's global scope only (another's is its first search list).
            boolean global = ns == null && (flags & Protocol.RTLD_GLOBAL) != 0;
            if (global) {
                joinedGlobal.addAll(r.searchList());
                joinedGlobal.removeAll(session.globalScope());
            }
            if (!r.added().isEmpty()) {
                ActivityLog.Change change = new ActivityLog.Change(ActivityEvent.Cause.DLOPEN, name, flags, caller, tid);
                trace.dlopenLinking(r.root(), r.added(), r.searchList(), flags);
                try {
                    session.mapDlopened(r.added(), r.searchList(), (flags & Protocol.RTLD_NOW) != 0,
                            (flags & Protocol.RTLD_DEEPBIND) != 0);
                } catch (LinkException e) {
                    undoFailedOpen(r.added(), null);
                    return CallbackReply.error(e.dlerror());
                }
                // As glibc's dl_open_worker_begin: the new objects are announced once mapped, before
                // relocation; a failure then takes them out again (RT_DELETE, cause dlopen-failed).
                publish(Protocol.RT_ADD, r.added(), change);
                audit.added(r.added());
                try {
                    session.relocateDlopened(r.added(), r.searchList(), global);
                    audit.relocated(r.added());
                    audit.consistent();
                } catch (LinkException e) {
                    audit.consistent();
                    undoFailedOpen(r.added(), new ActivityLog.Change(ActivityEvent.Cause.DLOPEN_FAILED, name, flags,
                            caller, tid));
                    return CallbackReply.error(e.dlerror());
                }
                trace.dlopenLinked(r.added(), r.searchList());
                installTls(r.added());
                searchLists.put(r.root(), r.searchList());
                for (LoadedObject o : r.added()) {
                    // -z nodelete (DF_1_NODELETE): glibc activates it once the dlopen succeeded.
                    if (o.dynamic().map(d -> (d.flags1() & Elf.DF_1_NODELETE) != 0).orElse(false)) {
                        nodelete.add(o);
                    }
                }
                for (LoadedObject o : session.initOrderOf(r.added())) {
                    if (r.added().contains(o)) {
                        toInitialise.add(o);
                    }
                }
            } else if (global) {
                session.promoteToGlobal(r.searchList());
            }
            if ((flags & Protocol.RTLD_NODELETE) != 0) {
                nodelete.add(r.root());
            }
            searchLists.putIfAbsent(r.root(), r.searchList());
            opens = openCount.merge(r.root(), 1, Integer::sum);
            root = r.root();
        }
        runInitialisers(toInitialise, false);
        trace.opened(root, opens, joinedGlobal);
        return CallbackReply.ok(nodes.getOrDefault(root, 0L));
    }

    /**
     * glibc's _dl_name_match_p, which _dl_map_object asks before la_objsearch: an object is
     * loaded under {@code name} when that is its name (as it was opened) or its soname.
     */
    private boolean loadedByName(String name) {
        for (LoadedObject o : session.objects()) {
            if (o.name().equals(name) || o.soname().map(name::equals).orElse(false)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Takes a failed dlopen's objects out again, as glibc's _dl_close_worker does for them: out
     * of the namespace and the search, out of r_debug (when {@code announced} says they were
     * announced: a DELETE and a CONSISTENT event with that cause), then unmapped. No finaliser
     * runs: no initialiser did.
     */
    private void undoFailedOpen(List<LoadedObject> added, ActivityLog.Change announced) {
        session.undoDlopened(added);
        resolver.unload(added);
        for (LoadedObject o : added) {
            Long node = nodes.remove(o);
            if (node != null) {
                byNode.remove(node);
            }
            searchLists.remove(o);
        }
        if (announced != null) {
            publish(Protocol.RT_DELETE, added, announced);
        }
        for (LoadedObject o : added) {
            if (!o.isHost() && o.mapLength() > 0) {
                agent.munmap(o.mapStart(), o.mapLength());
            }
        }
        closeHostsOf(added);
    }

    /** glibc's dlclose of the host objects glibc's dlmopen loaded for a namespace, last loaded first. */
    private void closeHostsOf(List<LoadedObject> gone) {
        for (int i = gone.size() - 1; i >= 0; i--) {
            LoadedObject o = gone.get(i);
            if (o.isHost() && o.glibcHandle() != 0) {
                closeHost(o.glibcHandle());
            }
        }
    }

    @Override
    public CallbackReply dlsym(long handle, String name, String version, long caller, long tid) {
        List<LoadedObject> scope;
        String where;
        Definition d;
        long value;
        // The referring object, as glibc reports it: the handle's object, or the caller's for
        // RTLD_DEFAULT and RTLD_NEXT.
        String referrer;
        synchronized (this) {
            long callerNamespace = objectAt(caller).map(LoadedObject::namespace).orElse(0L);
            if (handle == RTLD_DEFAULT) {
                scope = session.globalScope(callerNamespace);
                where = "";
                referrer = objectAt(caller).map(LoadedObject::name).orElse("?");
            } else if (handle == RTLD_NEXT) {
                Optional<LoadedObject> from = objectAt(caller);
                if (from.isEmpty()) {
                    return CallbackReply.askGlibc(handle);
                }
                List<LoadedObject> g = session.globalScope(callerNamespace);
                int i = g.indexOf(from.get());
                scope = i < 0 ? List.of() : g.subList(i + 1, g.size());
                where = "RTLD_NEXT used in code not dynamically loaded";
                referrer = from.get().name();
            } else {
                LoadedObject obj = byNode.get(handle);
                if (obj == null) {
                    return CallbackReply.askGlibc(handle);
                }
                scope = obj.isExecutable() ? session.globalScope() : searchLists.getOrDefault(obj, List.of(obj));
                where = obj.path().toString();
                referrer = obj.name();
            }
            SymbolLookup.VersionRequirement v = version == null ? null : new SymbolLookup.VersionRequirement(version, null, true);
            // The caller is the requester, as glibc's dlsym looks up on behalf of the calling object.
            Optional<Definition> def = session.lookup()
                    .lookup(new SymbolLookup.Request(name, v, objectAt(caller).orElse(null), SymbolLookup.TypeClass.NORMAL,
                            version == null), scope)
                    .definition();
            if (def.isEmpty()) {
                String message = "undefined symbol: " + name + (version == null ? "" : ", version " + version);
                trace.lookupFailed(where.isEmpty() || handle == RTLD_NEXT ? referrer : where, message);
                return CallbackReply.error((where.isEmpty() ? "" : where + ": ") + message);
            }
            d = def.get();
            value = session.interposedAddress(d).orElse(d.address());
            if (d.symbol().isTls() && d.object().tlsModuleId() == 0) {
                return CallbackReply.error((where.isEmpty() ? "" : where + ": ") + "undefined symbol: " + name);
            }
        }
        if (handle == RTLD_DEFAULT) {
            // glibc's dlsym(RTLD_DEFAULT) looks up with DL_LOOKUP_ADD_DEPENDENCY: the caller's
            // object now depends on the definer (a handle's or RTLD_NEXT's lookup does not).
            objectAt(caller).ifPresent(from -> session.bound(from, d.object()));
        }
        if (d.symbol().isIfunc() && !d.symbol().isTls() && !session.isInterposed(d)) {
            value = agent.call(value);
        }
        if (session.history() != null) {
            List<String> searched = new ArrayList<>();
            for (LoadedObject o : scope) {
                searched.add(o.name());
                if (o == d.object()) {
                    break;
                }
            }
            session.history().add(new BindingHistory.Draft(Binding.Kind.DLSYM, referrer, version == null ? "dlsym" : "dlvsym",
                    0, caller, tid, pid, name, version, d.object().name(), value, searched, List.of()));
        }
        Optional<LoadedObject> from = audit == AuditHooks.NONE ? Optional.empty() : objectAt(caller);
        if (from.isPresent()) {
            value = audit.dlsymBound(from.get(), d, value);
        }
        // A TLS symbol's value is its offset in the module's block: the agent answers the calling
        // thread's instance (glibc's dlsym: _dl_tlsdesc / __tls_get_addr for the caller).
        return d.symbol().isTls() ? CallbackReply.tls(d.object().tlsModuleId(), d.address())
                : CallbackReply.ok(value);
    }

    @Override
    public CallbackReply dlclose(long handle, long caller, long tid) {
        // First calls the fast path answered are relocation dependencies too: record them first.
        session.drainLazyBindings();
        List<LoadedObject> group;
        Map<LoadedObject, List<FiniEntry>> finis = new java.util.LinkedHashMap<>();
        // A host library dlmopened by itself is glibc's handle: glibc closes it too (its reply).
        CallbackReply closed;
        synchronized (this) {
            LoadedObject obj = byNode.get(handle);
            if (obj == null) {
                obj = namespaceHostRoot(handle);
            }
            if (obj == null) {
                return CallbackReply.askGlibc(handle);
            }
            closed = obj.isHost() ? CallbackReply.askGlibc(handle) : CallbackReply.ok(0);
            changing();
            // _dl_close: a NODELETE object is never closed ("Nope. Do nothing.").
            if (nodelete.contains(obj) || session.lookup().definesUnique(obj)) {
                return closed;
            }
            int n = openCount.getOrDefault(obj, 0);
            if (n <= 0) {
                return obj.isExecutable() || !session.isDlopened(obj) || obj.isHost() ? closed
                        : CallbackReply.error(obj.name() + ": shared object not open");
            }
            openCount.put(obj, n - 1);
            if (n - 1 > 0 || !session.isDlopened(obj)) {
                trace.closing(obj, n - 1);
                return closed;
            }
            group = unused();
            if (group.isEmpty()) {
                return closed;
            }
            removing.addAll(group);
            // Finalisers in glibc's order for finalisers (dependents before their dependencies),
            // then the objects leave the link map.
            for (LoadedObject o : session.finiOrder()) {
                if (group.contains(o) && initialised.contains(o)) {
                    finis.put(o, finalisersOf(o));
                } else if (group.contains(o) && hostsAnnounced.contains(o)) {
                    finis.put(o, List.of()); // glibc's dlclose runs them, after the jdryad objects' (closeHostsOf)
                }
            }
            initialised.removeAll(group);
            hostsAnnounced.removeAll(group);
        }
        for (Map.Entry<LoadedObject, List<FiniEntry>> e : finis.entrySet()) {
            trace.callingFini(e.getKey());
            for (FiniEntry f : e.getValue()) {
                runFini(f);
            }
        }
        synchronized (this) {
            retireDynamicTls(group);
            session.forget(group);
            resolver.unload(group);
            for (LoadedObject o : group) {
                byNode.remove(nodes.remove(o));
                searchLists.remove(o);
                openCount.remove(o);
            }
            audit.removing(group);
            publish(Protocol.RT_DELETE, group, new ActivityLog.Change(ActivityEvent.Cause.DLCLOSE, null, 0, caller, tid));
            audit.consistent();
            publishFinalisers();
            for (LoadedObject o : group) {
                if (!o.isHost() && o.mapLength() > 0) {
                    agent.munmap(o.mapStart(), o.mapLength());
                }
                finiTexts.remove(o);
            }
            removing.removeAll(group);
            trace.destroyed(group);
            closeHostsOf(group);
            for (Namespace ns : new ArrayList<>(namespaces.values())) {
                closeIfEmpty(ns);
            }
        }
        return closed;
    }


    /** The host object a dlmopen of a host library alone opened in a namespace, by glibc's handle (null: none). */
    private LoadedObject namespaceHostRoot(long handle) {
        for (LoadedObject o : openCount.keySet()) {
            if (o.isHost() && o.glibcHandle() == handle && handle != 0) {
                return o;
            }
        }
        return null;
    }

    /**
     * glibc's _dl_close_worker: the dlopened objects nothing uses any more, in load order. An
     * object is used when it was loaded at start-up, is open (a dlopen handle not closed), is
     * NODELETE, or is a dependency or a relocation dependency of a used object. Objects a
     * dlclose is already unloading (a finaliser's own dlclose) are not counted twice.
     */
    private List<LoadedObject> unused() {
        List<LoadedObject> all = session.objects();
        java.util.Set<LoadedObject> used = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        java.util.ArrayDeque<LoadedObject> work = new java.util.ArrayDeque<>();
        // NODELETE: RTLD_NODELETE, -z nodelete, or a definition glibc entered in its table of
        // STB_GNU_UNIQUE symbols (which marks the object NODELETE).
        java.util.Set<LoadedObject> unique = session.lookup().uniqueDefiners();
        for (LoadedObject o : all) {
            if (!session.isDlopened(o) || openCount.getOrDefault(o, 0) > 0 || nodelete.contains(o)
                    || unique.contains(o)) {
                if (used.add(o)) {
                    work.add(o);
                }
            }
        }
        while (!work.isEmpty()) {
            LoadedObject o = work.poll();
            List<LoadedObject> next = new ArrayList<>(o.dependencies());
            next.addAll(session.relocationDependencies(o));
            for (LoadedObject d : next) {
                if (used.add(d)) {
                    work.add(d);
                }
            }
        }
        List<LoadedObject> out = new ArrayList<>();
        for (LoadedObject o : all) {
            if (!used.contains(o) && !removing.contains(o)) {
                out.add(o);
            }
        }
        return out;
    }

    private void runFini(FiniEntry f) {
        if (f.kind() == Protocol.FINI_CALL) {
            agent.call(f.address());
            return;
        }
        byte[] b = agent.read(f.address(), (int) (8 * f.count()));
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = (int) f.count() - 1; i >= 0; i--) {
            long fn = bb.getLong(8 * i);
            if (fn != 0 && fn != -1) {
                agent.call(fn);
            }
        }
    }

    @Override
    public synchronized CallbackReply dladdr(long address) {
        Optional<LoadedObject> obj = objectAt(address);
        if (obj.isEmpty() || obj.get().isHost()) {
            return CallbackReply.askGlibc(0);
        }
        LoadedObject o = obj.get();
        String sname = null;
        long saddr = 0;
        if (o.dynamic().isPresent()) {
            var syms = o.dynamic().get().symbols();
            for (int i = 1; i < syms.count(); i++) {
                Symbol s = syms.get(i);
                if (s.isUndefined() || s.isTls() || s.bind() == Elf.STB_LOCAL) {
                    continue;
                }
                long a = o.base() + s.value();
                boolean inside = Long.compareUnsigned(address, a) >= 0
                        && (Long.compareUnsigned(address - a, Math.max(1, s.size())) < 0);
                if (inside && (sname == null || Long.compareUnsigned(a, saddr) > 0)) {
                    sname = s.name();
                    saddr = a;
                }
            }
        }
        // glibc's main link map is named "": dladdr then answers _dl_argv[0], the program's own
        // argv[0] (the agent knows where it is; "" tells it to answer that). Other objects by l_name.
        String fname = o.isExecutable() ? "" : o.name(); // l_name: the name the search made
        return CallbackReply.dladdr(fname, o.mapStart(), sname, saddr, nodes.getOrDefault(o, 0L), 0);
    }

    /** The jdryad or host object whose mapping contains {@code address}. */
    Optional<LoadedObject> objectAt(long address) {
        for (LoadedObject o : session.objects()) {
            if (o.contains(address)) {
                return Optional.of(o);
            }
        }
        return Optional.empty();
    }
}
