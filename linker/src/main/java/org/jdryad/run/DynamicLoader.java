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
import org.jdryad.agent.Protocol;
import org.jdryad.debug.ActivityEvent;
import org.jdryad.debug.ActivityLog;
import org.jdryad.debug.Binding;
import org.jdryad.debug.BindingHistory;
import org.jdryad.debug.LinkTrace;
import org.jdryad.elf.Elf;
import org.jdryad.elf.Symbol;
import org.jdryad.link.LinkException;
import org.jdryad.link.LinkSession;
import org.jdryad.link.LoadedObject;
import org.jdryad.link.SymbolLookup;
import org.jdryad.link.SymbolLookup.Definition;
import org.jdryad.run.Namespaces.Namespace;

/**
 * The program's dynamic-linker services at run time: the link map as gdb sees it (r_debug), the
 * agent's object table, initialisers and finalisers, and the program's dlopen, dlmopen, dlsym,
 * dlvsym, dlclose, dladdr and dlinfo, answered for jdryad objects (host objects are left to glibc).
 *
 * <p>A handle is the object's node in the r_debug list, as glibc's handles are its link maps.
 *
 * <p>This class is the dlfcn front: it decides what each call does, under its monitor, and
 * leaves the rest to package-private helpers whose state that same monitor guards:
 * {@link LinkMapPublisher} (r_debug, the object table, the handles), {@link Initialisers},
 * {@link DlopenTls}, {@link Namespaces} (dlmopen's, and the rule that ties them to glibc's) and
 * {@link Unloading} (open counts, NODELETE, and taking objects out).
 */
final class DynamicLoader implements CallbackHandler {
    static final long RTLD_DEFAULT = 0;
    static final long RTLD_NEXT = -1;

    private final LinkSession session;
    private final Map<LoadedObject, List<LoadedObject>> searchLists = new IdentityHashMap<>();
    private final DlopenResolver resolver;
    private final ActivityLog activity;
    /** r_debug, the object table and the handles (the nodes r_debug gives the objects). */
    private final LinkMapPublisher links;
    /** Which objects were initialised; their initialisers and finalisers. */
    private final Initialisers initialisers;
    /** dlmopen's namespaces and glibc's handles that hold their ids. */
    private final Namespaces namespaces;
    /** Open counts, NODELETE marks, and taking out the objects nothing keeps. */
    private final Unloading unloading;

    private AgentProcess agent;
    private Optional<UnwindTables> unwind = Optional.empty();
    private LinkTrace trace = LinkTrace.none();

    /** glibc's ld.so by the name its libraries need it by (x86-64). */
    static final String RTLD_SONAME = "ld-linux-x86-64.so.2";

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

        /** True when dlopen's searches are to be told as they go ({@link AuditedSearch}). */
        default boolean watchesSearches() {
            return false;
        }

        /** A dlopen's search found {@code o}, mapped: la_activity(LA_ACT_ADD) before the first, then la_objopen. */
        default void found(LoadedObject o) {
        }

        /** A dlopen's search tries {@code file} for {@code requester}: la_objsearch with the list's flag. */
        default void tried(String file, LoadedObject requester, long flag) {
        }

        /** A dlopen's search failed after finding {@code opened}: la_objclose each, LA_ACT_DELETE, LA_ACT_CONSISTENT. */
        default void abandoned(List<LoadedObject> opened) {
        }

        /** New objects are mapped and announced: la_objopen for each not found by a told search (after LA_ACT_ADD). */
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
        /**
         * The objects dlopen(name) from {@code caller} brings in, or a glibc-worded error; each
         * object is told to {@code found} as the search finds it (null: nobody is told).
         */
        Resolution resolve(String name, LoadedObject caller, AuditedSearch.Found found);

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
        this.links = new LinkMapPublisher(this, session, activity, pid);
        this.initialisers = new Initialisers(this, session);
        this.namespaces = new Namespaces(this, session, resolver);
        this.unloading = new Unloading(this, session, links, initialisers, namespaces, searchLists);
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
        c.links.copyFrom(links);
        c.searchLists.putAll(searchLists);
        c.unloading.copyFrom(unloading);
        c.initialisers.copyFrom(initialisers);
        c.agent = agent;
        c.unwind = unwind;
        c.namespaces.copyFrom(namespaces); // their searches stay the parent's (a known limit)
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

    // ---- what the helpers read at each call (attachChild and the setters change them) ----

    /** The agent requests go to: the run's, or a forked child's once {@link #attachChild} made this copy its. */
    AgentProcess agent() {
        return agent;
    }

    /** The unwinder's registrations in the agent (none before {@link #attach}). */
    Optional<UnwindTables> unwind() {
        return unwind;
    }

    /** LD_DEBUG's story, as {@link #setTrace} last set it. */
    LinkTrace trace() {
        return trace;
    }

    /** LD_AUDIT's modules, as {@link #setAudit} last set them. */
    AuditHooks audit() {
        return audit;
    }

    /** Tells LD_DEBUG's story of initialisers, finalisers, dlopen and dlclose to {@code t}. */
    void setTrace(LinkTrace t) {
        this.trace = t;
    }

    /** Tells LD_AUDIT's modules of what happens from now on. */
    synchronized void setAudit(AuditHooks hooks) {
        this.audit = hooks;
        initialisers.publishFinalisers();
    }

    /**
     * A forked child's copy takes its parent's modules as they were at the fork: its calls at exit
     * are already in the table its memory holds (no request: the child's connection is not read yet).
     */
    synchronized void inheritAudit(AuditHooks hooks) {
        this.audit = hooks;
    }

    /** Objects whose link-map nodes were reserved before the first publish, by their r_debug ids. */
    synchronized void adoptNodeIds(Map<LoadedObject, Long> reserved) {
        links.adoptIds(reserved);
    }

    /** The object's node in the agent's link map (its dlopen handle), 0 when it has none. */
    synchronized long linkMapOf(LoadedObject o) {
        return links.nodeOf(o);
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
            obj = links.objectOf(handle);
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
        return Optional.ofNullable(links.objectOf(handle));
    }

    /** Where the argument vectors for initialisers live (glibc passes the program's argc, argv, envp). */
    void setArguments(long argc, long argvAddr, long envpAddr) {
        initialisers.setArguments(argc, argvAddr, envpAddr);
    }

    /**
     * Publishes the current jdryad objects to gdb (r_debug) and to the agent's object table, and
     * records the change as two activity events (added or deleted, then consistent).
     */
    synchronized void publish(int kind, List<LoadedObject> changed, ActivityLog.Change why) {
        links.publish(kind, changed, why);
    }

    /**
     * Runs initialisers of {@code order} (already in glibc's order), skipping host and already
     * initialised objects; no Java lock is held while one runs (see {@link Initialisers#runInitialisers}).
     */
    void runInitialisers(List<LoadedObject> order, boolean skipMainInit) {
        initialisers.runInitialisers(order, skipMainInit);
    }

    /** The executable's DT_PREINIT_ARRAY (run before every other initialiser). */
    void runPreinit(LoadedObject main) {
        initialisers.runPreinit(main);
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
            return load(ns, name, flags, caller, tid, true);
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
            ns = lmid == Namespaces.LM_ID_NEWLM ? null : namespaces.get(lmid);
            if (ns == null && lmid != Namespaces.LM_ID_NEWLM) {
                return CallbackReply.askGlibc(lmid);
            }
            if (ns == null) {
                try {
                    ns = namespaces.make();
                } catch (org.jdryad.agent.HostLoadException e) {
                    return CallbackReply.error(name + ": " + withoutObject(e.dlerror()));
                }
            }
        }
        trace.dlopenStarting(ns.lmid());
        try {
            return load(ns, name, flags, caller, tid, false);
        } finally {
            synchronized (this) {
                namespaces.closeIfEmpty(ns);
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
     * What a dlopen's search tells the audit modules as it goes: each object it
     * finds is mapped, given its link-map node and told to la_objopen at once (AuditedSearch).
     * A search that fails afterwards takes them out again ({@link #abandon}).
     */
    private final class DlopenFound implements AuditedSearch.Found {
        private final LoadedObject caller;
        private final List<LoadedObject> opened = new ArrayList<>();

        DlopenFound(LoadedObject caller) {
            this.caller = caller;
        }

        @Override
        public void found(LoadedObject o) {
            if (!o.isHost()) {
                session.mapEarly(o);
                links.reserveNode(o);
            }
            opened.add(o);
            audit.found(o);
        }

        @Override
        public void tried(String file, LoadedObject requester, long flag) {
            LoadedObject r = requester == null ? caller : requester;
            if (r != null) {
                audit.tried(file, r, flag);
            }
        }

        @Override
        public String renamed(String name, LoadedObject requester) {
            LoadedObject r = requester == null ? caller : requester;
            return r == null ? name : audit.searchName(name, r);
        }

        /** The search failed: the modules hear the objects leave, and what was mapped or opened for them goes. */
        void abandon() {
            if (opened.isEmpty()) {
                return;
            }
            audit.abandoned(opened);
            unloading.undoFailedOpen(opened, null); // never announced: nothing to take off r_debug's list
        }
    }

    /**
     * dlopen ({@code callersNamespace}: into the caller's namespace) or dlmopen of {@code name}
     * into {@code ns} (null: the base namespace).
     */
    private CallbackReply load(Namespace ns, String name, int flags, long caller, long tid, boolean callersNamespace) {
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
                return CallbackReply.ok(links.nodeOf(main));
            }
            changing();
            boolean noload = (flags & Protocol.RTLD_NOLOAD) != 0;
            Resolution r;
            DlopenFound found = null;
            try {
                LoadedObject from = objectAt(caller).orElse(main);
                // glibc's dl_open_worker_begin knows the caller (la_objsearch's requester) for a dlopen,
                // or a name without '/' or with a DST; for a path dlmopened into a namespace it has none.
                boolean inCallers = callersNamespace || name.indexOf('/') < 0 || name.indexOf('$') >= 0;
                if (!noload && audit != AuditHooks.NONE && !loadedByName(name) && inCallers) {
                    String searched = audit.searchName(name, from);
                    if (searched == null) {
                        return CallbackReply.error("cannot open shared object file"); // as _dl_map_object's no_file
                    }
                    name = searched;
                }
                found = noload || !audit.watchesSearches() ? null : new DlopenFound(inCallers ? from : null);
                r = noload ? resolver.findLoaded(name, from) : resolver.resolve(name, from, found);
            } catch (RuntimeException e) {
                if (found != null) {
                    found.abandon();
                }
                return CallbackReply.error(e.getMessage() == null ? name + ": " + e : e.getMessage());
            }
            if (r.error() != null) {
                if (found != null) {
                    found.abandon();
                }
                return CallbackReply.error(r.error());
            }
            if (r.root() == null) {
                return CallbackReply.ok(0); // RTLD_NOLOAD of an object that is not loaded: NULL, no error
            }
            if (r.root().isHost()) {
                return openHost(ns, r, name, flags, caller, tid);
            }
            if (noload && !r.added().isEmpty()) {
                throw new IllegalStateException("RTLD_NOLOAD loaded " + r.added());
            }
            // RTLD_GLOBAL adds to the base namespace's global scope only (another's is its first search list).
            boolean global = ns == null && (flags & Protocol.RTLD_GLOBAL) != 0;
            if (global) {
                joinedGlobal.addAll(notGlobalYet(r.searchList()));
            }
            if (!r.added().isEmpty()) {
                ActivityLog.Change change = new ActivityLog.Change(ActivityEvent.Cause.DLOPEN, name, flags, caller, tid);
                trace.dlopenLinking(r.root(), r.added(), r.searchList(), flags);
                try {
                    session.mapDlopened(r.added(), r.searchList(), (flags & Protocol.RTLD_NOW) != 0,
                            (flags & Protocol.RTLD_DEEPBIND) != 0);
                } catch (LinkException e) {
                    unloading.undoFailedOpen(r.added(), null);
                    return CallbackReply.error(e.dlerror());
                }
                // As glibc's dl_open_worker_begin: the new objects are announced once mapped, before
                // relocation; a failure then takes them out again (RT_DELETE, cause dlopen-failed).
                publish(Protocol.RT_ADD, r.added(), change);
                // glibc's modules hear LA_ACT_CONSISTENT once all is mapped, before the relocation;
                // a failed one takes the objects out again (la_objclose, DELETE, CONSISTENT).
                audit.added(r.added());
                audit.consistent();
                try {
                    session.relocateDlopened(r.added(), r.searchList(), global);
                    audit.relocated(r.added());
                } catch (LinkException e) {
                    audit.removing(r.added());
                    unloading.undoFailedOpen(r.added(), new ActivityLog.Change(ActivityEvent.Cause.DLOPEN_FAILED, name, flags,
                            caller, tid));
                    audit.consistent();
                    return CallbackReply.error(e.dlerror());
                }
                trace.dlopenLinked(r.added(), r.searchList());
                DlopenTls.install(agent, r.added());
                searchLists.put(r.root(), r.searchList());
                for (LoadedObject o : r.added()) {
                    // -z nodelete (DF_1_NODELETE): glibc activates it once the dlopen succeeded.
                    if (o.dynamic().map(d -> (d.flags1() & Elf.DF_1_NODELETE) != 0).orElse(false)) {
                        unloading.markNodelete(o);
                    }
                }
                toInitialise.addAll(inInitOrder(r.added()));
            } else if (global) {
                session.promoteToGlobal(r.searchList());
            }
            if ((flags & Protocol.RTLD_NODELETE) != 0) {
                unloading.markNodelete(r.root());
            }
            searchLists.putIfAbsent(r.root(), r.searchList());
            opens = unloading.opened(r.root());
            root = r.root();
        }
        initialisers.runInitialisers(toInitialise, false);
        trace.opened(root, opens, joinedGlobal);
        return CallbackReply.ok(links.nodeOf(root)); // read without the monitor, as it always was
    }

    /**
     * A dlopen whose object is a host object: glibc's dlopen (dlmopen in a namespace) opens it
     * for the program (the reply), after Java's own opened what was new. jdryad keeps them as
     * glibc will have them: in the namespace's objects, announced (r_debug, the activity log,
     * and in the base namespace the audit modules' la_activity and la_objopen), with the
     * dlopen's search list as the handle's (dlsym), RTLD_GLOBAL's global scope, and an open
     * count that dlclose's unloading follows (which gives Java's reference back). Why: without
     * it, a library that `dlopen("libm.so.6", RTLD_GLOBAL)` made global was not global for
     * jdryad objects dlopened later (`undefined symbol: cos` where glibc finds it), and audit
     * modules never heard of it.
     */
    private CallbackReply openHost(Namespace ns, Resolution r, String name, int flags, long caller, long tid) {
        if (!r.added().isEmpty()) {
            if (ns == null) {
                trace.dlopenLinking(r.root(), r.added(), r.searchList(), flags);
            }
            session.mapDlopened(r.added(), r.searchList(), true);
            publish(Protocol.RT_ADD, r.added(), new ActivityLog.Change(ActivityEvent.Cause.DLOPEN, name, flags,
                    caller, tid));
            audit.added(r.added());
            audit.consistent();
            if (ns == null) {
                trace.dlopenLinked(r.added(), r.searchList());
            }
        }
        List<LoadedObject> joinedGlobal = List.of();
        if (ns == null && (flags & Protocol.RTLD_GLOBAL) != 0) {
            joinedGlobal = notGlobalYet(r.searchList());
            session.promoteToGlobal(r.searchList());
        }
        int opens = 0;
        if (r.root().glibcHandle() != 0 && session.objects().contains(r.root())) {
            if ((flags & Protocol.RTLD_NODELETE) != 0) {
                unloading.markNodelete(r.root());
            }
            searchLists.putIfAbsent(r.root(), r.searchList());
            opens = unloading.opened(r.root());
        }
        if (ns == null) {
            // glibc ran their initialisers in Java's dlopen of them: they are announced (LD_DEBUG's
            // "calling init"), and their places at exit published, as a jdryad object's.
            initialisers.runInitialisers(inInitOrder(r.added()), false);
            if (opens > 0) {
                trace.opened(r.root(), opens, joinedGlobal);
            }
        }
        return CallbackReply.askGlibc(ns == null ? 0 : ns.lmid()); // glibc opens it, in the namespace
    }

    /** {@code added}, a dlopen's new objects, in the order their initialisers run (dependencies first). */
    private List<LoadedObject> inInitOrder(List<LoadedObject> added) {
        List<LoadedObject> out = new ArrayList<>();
        for (LoadedObject o : session.initOrderOf(added)) {
            if (added.contains(o)) { // the order also holds their dependencies loaded before
                out.add(o);
            }
        }
        return out;
    }

    /** The objects of {@code searchList} that RTLD_GLOBAL would add to the global scope (LD_DEBUG=scopes tells them). */
    private List<LoadedObject> notGlobalYet(List<LoadedObject> searchList) {
        List<LoadedObject> out = new ArrayList<>(searchList);
        out.removeAll(session.globalScope());
        return out;
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
                LoadedObject obj = links.objectOf(handle);
                if (obj == null) {
                    obj = unloading.hostRoot(handle); // glibc's handle of a host object a dlopen or dlmopen opened
                }
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
        Map<LoadedObject, List<FiniEntry>> finis;
        // A host library dlmopened by itself is glibc's handle: glibc closes it too (its reply).
        CallbackReply closed;
        synchronized (this) {
            LoadedObject obj = links.objectOf(handle);
            if (obj == null) {
                obj = unloading.hostRoot(handle);
            }
            if (obj == null) {
                return CallbackReply.askGlibc(handle);
            }
            closed = obj.isHost() ? CallbackReply.askGlibc(handle) : CallbackReply.ok(0);
            changing();
            // _dl_close: a NODELETE object is never closed ("Nope. Do nothing.").
            if (unloading.isNodelete(obj) || session.lookup().definesUnique(obj)) {
                return closed;
            }
            int n = unloading.openCount(obj);
            if (n <= 0) {
                return obj.isExecutable() || !session.isDlopened(obj) || obj.isHost() ? closed
                        : CallbackReply.error(obj.name() + ": shared object not open");
            }
            unloading.setOpenCount(obj, n - 1);
            if (n - 1 > 0 || !session.isDlopened(obj)) {
                trace.closing(obj, n - 1);
                return closed;
            }
            group = unloading.unused();
            if (group.isEmpty()) {
                return closed;
            }
            unloading.startRemoving(group);
            // Finalisers in glibc's order for finalisers (dependents before their dependencies),
            // then the objects leave the link map.
            finis = initialisers.closing(group);
        }
        initialisers.runFinalisers(finis);
        synchronized (this) {
            unloading.unload(group, new ActivityLog.Change(ActivityEvent.Cause.DLCLOSE, null, 0, caller, tid));
        }
        return closed;
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
        return CallbackReply.dladdr(fname, o.mapStart(), sname, saddr, links.nodeOf(o), 0);
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
