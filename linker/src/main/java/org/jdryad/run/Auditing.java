package org.jdryad.run;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jdryad.agent.AgentProcess;
import org.jdryad.agent.FiniEntry;
import org.jdryad.agent.HostObject;
import org.jdryad.agent.Protocol;
import org.jdryad.elf.Elf;
import org.jdryad.link.LinkSession;
import org.jdryad.link.LoadedObject;
import org.jdryad.link.SymbolLookup;

/**
 * LD_AUDIT and --audit (man 7 rtld-audit): loads the audit modules into the program's process and
 * calls their la_* functions where glibc 2.36's ld.so calls them, with the agent's real link_map
 * nodes and a cookie per object and module in agent memory.
 *
 * <p>The rule for a module's namespace is glibc's: each module is opened by glibc's own
 * {@code dlmopen(LM_ID_NEWLM)} in the agent, so it has a namespace and a libc of its own, binds
 * only there, is invisible to the program's dlopen and dlsym, and takes a namespace id as under
 * glibc (the program's first dlmopen gets the next). Its objects are never reported to
 * la_objopen, as glibc reports no audit namespace's. Why glibc's loader and not jdryad's: the
 * modules must exist before the program's library search, whose la_objsearch answers they give,
 * and they need nothing of the program.
 */
final class Auditing implements DynamicLoader.AuditHooks {
    static final long LAV_CURRENT = 2;
    static final long LA_ACT_CONSISTENT = 0, LA_ACT_ADD = 1, LA_ACT_DELETE = 2;
    static final long LA_SER_ORIG = 1;
    static final long LA_FLG_BINDTO = 1, LA_FLG_BINDFROM = 2;
    static final long LA_SYMB_NOPLTENTER = 1, LA_SYMB_NOPLTEXIT = 2, LA_SYMB_DLSYM = 8, LA_SYMB_ALTVALUE = 16;
    private final AgentProcess agent;
    /** The run's loader and session, once the program's objects are loaded ({@link #attach}). */
    private DynamicLoader loader;
    private LinkSession session;
    private final List<AuditModules.Module> modules;
    /** Per audited object: the agent address of its cookies, one uintptr_t per module. */
    private final Map<LoadedObject, Long> cookies = new IdentityHashMap<>();
    /** glibc's link_map fields an audit module reads: l_addr, l_name, l_ld, l_next, l_prev, l_real, l_ns, l_libname. */
    private static final int PROGRAM_MAP_BYTES = 64;
    private static final int L_NAME_OFFSET = 8;
    /** The program's map as modules see it ({@link #auditedMap}); 0 until made. */
    private long programMap;

    /** Per audited object: what each module's la_objopen returned (LA_FLG_BINDTO, LA_FLG_BINDFROM). */
    private final Map<LoadedObject, long[]> bindFlags = new IdentityHashMap<>();
    /** Argument pairs for the calls at exit, placed once (the finaliser table is rebuilt often). */
    private final Map<String, Long> exitArguments = new HashMap<>();
    private long vdsoCookies;
    private final PrintStream err;
    private final Set<String> warnedSearch = new java.util.HashSet<>();

    private Auditing(AgentProcess agent, List<AuditModules.Module> modules, PrintStream err) {
        this.err = err;
        this.agent = agent;
        this.modules = modules;
    }

    /** The program's session and loader, which the calls from now on are about. */
    void attach(DynamicLoader runLoader, LinkSession runSession) {
        this.loader = runLoader;
        this.session = runSession;
    }

    /**
     * The same modules in a forked child, with this state as it is now (taken when the parent
     * forked): from then on every call goes to {@code child}'s process, where the modules, their
     * cookies, the program's map and the PLT tables are at the same addresses (a copy of the
     * parent's memory), and the child's maps are its own. Why: glibc's child calls la_symbind64
     * and la_pltenter at its own first calls, in its own process, as its parent does.
     */
    Auditing forProcess(AgentProcess child, DynamicLoader childLoader, LinkSession childSession) {
        Auditing a = new Auditing(child, modules, err);
        a.attach(childLoader, childSession);
        a.cookies.putAll(cookies);
        a.programMap = programMap;
        a.bindFlags.putAll(bindFlags);
        a.exitArguments.putAll(exitArguments);
        a.vdsoCookies = vdsoCookies;
        a.startupMain = startupMain;
        a.reservedNodes.putAll(reservedNodes);
        a.warnedSearch.addAll(warnedSearch);
        a.profiled.putAll(profiled);
        a.moduleHooks = moduleHooks;
        a.bindingsSeen = bindingsSeen;
        return a;
    }

    /** The modules of {@code names} that load ({@link AuditModules#load}); empty when none does. */
    static Optional<Auditing> load(List<String> names, String libraryPath, boolean secure,
                                   AuditModules.Identity identity, AgentProcess agent, PrintStream err) {
        List<AuditModules.Module> modules = AuditModules.load(names, libraryPath, secure, identity, agent, err);
        return modules.isEmpty() ? Optional.empty() : Optional.of(new Auditing(agent, modules, err));
    }

    /** True when some module wants la_symbind64 (so every first call must come to Java). */
    boolean wantsSymbind() {
        return modules.stream().anyMatch(m -> m.hook("la_symbind64") != 0);
    }


    /**
     * glibc's elf_dynamic_do_Rela for jump slots bound at load time (LD_BIND_NOW, -z now,
     * RTLD_NOW): la_symbind64 with LA_SYMB_NOPLTENTER | LA_SYMB_NOPLTEXIT, objects in relocation
     * order (the last loaded first), each slot in its table's order; an answer the module changes
     * is written into the slot.
     */
    @Override
    public void relocated(List<LoadedObject> objects) {
        profile(objects);
        if (!wantsSymbind() || session.history() == null) {
            return;
        }
        // Only this relocation's bindings: an object loaded again has the name of its earlier self.
        List<org.jdryad.debug.Binding> all = session.history().snapshot();
        List<org.jdryad.debug.Binding> fresh = all.subList(Math.min(bindingsSeen, all.size()), all.size());
        bindingsSeen = all.size();
        long pid = session.history().pid();
        List<LoadedObject> order = new ArrayList<>(objects);
        Collections.reverse(order);
        for (LoadedObject o : order) {
            if (o.isHost()) {
                continue; // glibc relocated it before any module was loaded
            }
            for (org.jdryad.debug.Binding b : fresh) {
                // A slot bound to an IFUNC is told with the address its resolver chose, as glibc's.
                boolean boundNow = b.kind() == org.jdryad.debug.Binding.Kind.EAGER
                        || b.kind() == org.jdryad.debug.Binding.Kind.IFUNC;
                if (boundNow && b.pid() == pid && "R_X86_64_JUMP_SLOT".equals(b.relocation())
                        && o.name().equals(b.referrer()) && b.definer() != null && b.audit() == null) {
                    definitionOf(b, o.namespace()).ifPresent(d -> {
                        long to = symbind(o, d, b.address(), LA_SYMB_NOPLTENTER | LA_SYMB_NOPLTEXIT);
                        if (to != b.address()) {
                            patchSlot(b.slot(), to);
                        }
                    });
                }
            }
        }
    }

    /** How many of the history's bindings {@link #relocated} has looked at (the history only grows). */
    private int bindingsSeen;

    /** True when some module has la_x86_64_gnu_pltenter or _pltexit. */
    boolean wantsPlt() {
        return modules.stream().anyMatch(m -> m.hook("la_x86_64_gnu_pltenter") != 0 || m.hook("la_x86_64_gnu_pltexit") != 0);
    }

    /** Per lazily bound object watched with PLT hooks (by its lazy id, GOT[1]): its slot table in the agent. */
    private final Map<Long, Long> profiled = new java.util.concurrent.ConcurrentHashMap<>();
    private long moduleHooks;

    /**
     * Sends every PLT call of {@code objects} that some module binds from through the profiling
     * trampoline (audit.h): a slot table per object, GOT[2] the trampoline. Only lazily bound
     * objects: a slot bound at load time is not routed back (README, known limits).
     */
    private void profile(List<LoadedObject> objects) {
        Long trampoline = agent.info().agentSymbols().get("jdryad_audit_profile");
        if (!wantsPlt() || trampoline == null) {
            return;
        }
        for (Map.Entry<Long, LoadedObject> e : session.lazyObjects().entrySet()) {
            LoadedObject o = e.getValue();
            if (!objects.contains(o) || profiled.containsKey(e.getKey()) || !bindsFrom(o)
                    || o.dynamic().isEmpty() || o.dynamic().get().value(Elf.DT_PLTGOT).isEmpty()) {
                continue;
            }
            long count = o.dynamic().get().pltRela().count();
            long table = agent.alloc(8 + 64 * count, 8);
            agent.writeWords(new long[] {table}, new long[] {count});
            profiled.put(e.getKey(), table);
            patchSlot(o.base() + o.dynamic().get().value(Elf.DT_PLTGOT).getAsLong() + 16, trampoline);
        }
        writeProfileConfig();
    }

    boolean bindsFrom(LoadedObject o) {
        for (int i = 0; i < modules.size(); i++) {
            if ((bindFlags(o, i) & LA_FLG_BINDFROM) != 0) {
                return true;
            }
        }
        return false;
    }

    /** jdryad_audit_config: the modules' PLT hooks and the slot tables by lazy id. */
    private void writeProfileConfig() {
        Long config = agent.info().agentSymbols().get("jdryad_audit_config");
        if (config == null) {
            return;
        }
        if (moduleHooks == 0) {
            moduleHooks = agent.alloc(16L * modules.size(), 8);
            for (int i = 0; i < modules.size(); i++) {
                agent.writeWords(new long[] {moduleHooks + 16L * i, moduleHooks + 16L * i + 8},
                        new long[] {modules.get(i).hook("la_x86_64_gnu_pltenter"), modules.get(i).hook("la_x86_64_gnu_pltexit")});
            }
        }
        long n = profiled.keySet().stream().mapToLong(Long::longValue).max().orElse(-1) + 1;
        long tables = agent.alloc(8 * Math.max(1, n), 8);
        for (Map.Entry<Long, Long> e : profiled.entrySet()) {
            agent.writeWords(new long[] {tables + 8 * e.getKey()}, new long[] {e.getValue()});
        }
        agent.writeWords(new long[] {config, config + 8, config + 16, config + 24},
                new long[] {modules.size(), moduleHooks, n, tables});
    }

    /** True when first calls through lazy object {@code id}'s PLT go through the profiling trampoline. */
    boolean isProfiled(long id) {
        return profiled.containsKey(id);
    }

    /**
     * A profiled slot's first call: la_symbind64 as for any first call, then the slot's entry in
     * its table (what every later call through it passes to la_pltenter); the slot itself keeps
     * pointing into the PLT. Returns the target of this call.
     */
    long profileSlot(long id, long index, LoadedObject referrer, SymbolLookup.Definition d, long value) {
        long[] enterexit = new long[1];
        long target = symbind(referrer, d, value, 0, enterexit);
        Long table = profiled.get(id);
        if (table == null || index < 0) {
            return target;
        }
        byte[] name = (d.symbol().name() + "\0").getBytes(StandardCharsets.UTF_8);
        long sym = agent.alloc(24 + name.length, 8);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(24 + name.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putInt(0).put((byte) d.symbol().info()).put((byte) d.symbol().other()).putShort((short) d.symbol().shndx());
        b.putLong(target).putLong(d.symbol().size()).put(name);
        agent.write(sym, b.array());
        long entry = table + 8 + 64 * index;
        agent.writeWords(new long[] {entry, entry + 8, entry + 16, entry + 24, entry + 32, entry + 40, entry + 48},
                new long[] {target, sym, d.symbol().index(), cookieOf(referrer, 0), cookieOf(d.object(), 0), sym + 24,
                    enterexit[0]});
        agent.writeWords(new long[] {entry + 56}, new long[] {1}); // ready, last
        return target;
    }

    /** The definition a recorded binding names: its definer's symbol of that name and address. */
    private Optional<SymbolLookup.Definition> definitionOf(org.jdryad.debug.Binding b, long lmid) {
        for (LoadedObject o : session.objects()) {
            // The referrer's namespace: another has an object of the same name (its own libc).
            if (o.namespace() != lmid || !o.name().equals(b.definer()) || o.dynamic().isEmpty()) {
                continue;
            }
            var syms = o.dynamic().get().symbols();
            SymbolLookup.Definition[] found = new SymbolLookup.Definition[1];
            syms.forEachNamed(b.symbol(), i -> {
                var s = syms.get(i);
                // By name and version: the address may be an interposer's (jdryad's dlopen for libc's).
                boolean version = b.version() == null
                        || o.versions().versionOf(i).map(v -> v.name().equals(b.version())).orElse(true);
                if (!s.isUndefined() && version) {
                    found[0] = new SymbolLookup.Definition(o, s, b.version());
                    return false;
                }
                return true;
            });
            return Optional.ofNullable(found[0]);
        }
        return Optional.empty();
    }

    /** Writes a redirected jump slot; one made read-only by RELRO is unprotected for the write. */
    private void patchSlot(long slot, long value) {
        byte[] word = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(value).array();
        try {
            agent.write(slot, word);
        } catch (RuntimeException readOnly) {
            long page = slot & -agent.info().pageSize();
            agent.mprotect(page, agent.info().pageSize(), Protocol.PROT_READ | Protocol.PROT_WRITE);
            agent.write(slot, word);
            agent.mprotect(page, agent.info().pageSize(), Protocol.PROT_READ);
        }
    }

    /**
     * glibc's ld.so looks up calloc, free, malloc and realloc for itself once libc is loaded
     * (__rtld_malloc_init_real), audited as dlsym lookups on the program's behalf: the modules see
     * them as then. ld.so here is the agent's, already set up: an answer is not used. The lookup
     * is in the program's scope with no PLT type class, so a program's canonical PLT entry (an
     * undefined function with an address, as a non-PIE python3 has for free and malloc) is the
     * definition, and a preloaded malloc wins over libc's.
     */
    private void rtldMallocLookups(LoadedObject main, List<LoadedObject> objects) {
        boolean libc = objects.stream().anyMatch(o -> o.isHost() && o.soname().map("libc.so.6"::equals).orElse(false));
        if (!libc) {
            return;
        }
        for (String name : new String[] {"calloc", "free", "malloc", "realloc"}) {
            for (LoadedObject o : session.globalScope()) {
                Optional<SymbolLookup.Definition> d = mallocDefinition(o, name, o == main);
                if (d.isPresent()) {
                    symbind(main, d.get(), d.get().address(), LA_SYMB_DLSYM);
                    break;
                }
            }
        }
    }

    /** {@code o}'s global definition of {@code name}; in the program also an undefined function with an address. */
    private static Optional<SymbolLookup.Definition> mallocDefinition(LoadedObject o, String name, boolean program) {
        if (o.dynamic().isEmpty()) {
            return Optional.empty();
        }
        var syms = o.dynamic().get().symbols();
        SymbolLookup.Definition[] found = new SymbolLookup.Definition[1];
        syms.forEachNamed(name, i -> {
            var s = syms.get(i);
            boolean canonicalPlt = program && s.isUndefined() && s.value() != 0;
            if (s.bind() == Elf.STB_LOCAL || (s.isUndefined() && !canonicalPlt)) {
                return true;
            }
            found[0] = new SymbolLookup.Definition(o, s, null);
            return false;
        });
        return Optional.ofNullable(found[0]);
    }

    /** The names the modules need (their DT_NEEDED): glibc searches them for the modules first. */
    Set<String> moduleNeeds() {
        return AuditModules.needs(modules);
    }

    // ---- the start-up as glibc's dl_main makes it with modules (AuditedStartup) ----

    /** The program, once the start-up told the modules of it (before the session has its objects). */
    private LoadedObject startupMain;
    /** Link-map nodes reserved for start-up objects before the first r_debug update. */
    private final Map<LoadedObject, Long> reservedNodes = new IdentityHashMap<>();

    /** {@code o}'s link-map node, reserved before the program's objects are announced. */
    void reservedNode(LoadedObject o, long node) {
        reservedNodes.put(o, node);
    }

    /** la_objopen for the program and ld.so (null: none), la_activity(ADD), la_objopen for the vDSO. */
    void openStartup(LoadedObject main, LoadedObject rtld) {
        startupMain = main;
        objopen(main);
        if (rtld != null) {
            objopen(rtld);
        }
        activity(LA_ACT_ADD);
        adding = true; // the objects found next are this change's (found)
        agent.info().vdso().ifPresent(this::objopenVdso);
    }

    /**
     * The start-up objects are relocated and announced: la_symbind64 for slots bound at load time,
     * ld.so's malloc lookups, la_activity(CONSISTENT). The program's map as modules have it is
     * now on the list, as r_debug's node is.
     */
    void finishStartup() {
        List<LoadedObject> objects = session.objects();
        if (programMap != 0) {
            long node = linkMap(mainObject());
            agent.writeWords(new long[] {programMap + 24, programMap + 32},
                    new long[] {agent.readLong(node + 24), agent.readLong(node + 32)}); // l_next, l_prev
        }
        relocated(objects);
        rtldMallocLookups(mainObject(), objects);
        consistent();
    }

    /** la_preinit, after every start-up object is relocated, before the initialisers. */
    void preinit() {
        for (int i = 0; i < modules.size(); i++) {
            long f = modules.get(i).hook("la_preinit");
            if (f != 0) {
                agent.call(f, cookieOf(mainObject(), i));
            }
        }
    }

    @Override
    public String searchName(String name, LoadedObject requester) {
        String current = name;
        for (int i = 0; i < modules.size() && current != null; i++) {
            long f = modules.get(i).hook("la_objsearch");
            if (f != 0) {
                long answer = agent.call(f, placeString(current), cookieOf(cookieHolder(requester), i), LA_SER_ORIG);
                current = answer == 0 ? null : readString(answer);
            }
        }
        return current;
    }

    /** A change's la_activity(LA_ACT_ADD) was made, its LA_ACT_CONSISTENT is not yet. */
    private boolean adding;
    /** The namespace of the change being told (la_activity gets the cookie of its first object). */
    private long changing;

    @Override
    public boolean watchesSearches() {
        return true;
    }

    /** A dlopen's search found {@code o} (mapped): la_activity(LA_ACT_ADD) before the first, then la_objopen. */
    @Override
    public void found(LoadedObject o) {
        if (o.namespace() != 0 && isInterpreter(o)) {
            // A namespace's ld.so is glibc's one map of it: no la_objopen there, its cookies stay its map.
            bindFlags.put(o, new long[modules.size()]);
            cookieOf(o, 0);
            return;
        }
        if (!adding) {
            changing = o.namespace();
            activity(LA_ACT_ADD, headOf(changing, o)); // a new namespace's: its first object, not open yet
            adding = true;
        }
        objopen(o);
    }

    /**
     * la_objsearch for a file a search tries on behalf of {@code requester} (null: the program),
     * as it tries it: the file is the one opened, so an answer that changes it is told on stderr,
     * once, and not followed (only a name's LA_SER_ORIG answer is).
     */
    @Override
    public void tried(String file, LoadedObject requester, long flag) {
        for (int i = 0; i < modules.size(); i++) {
            long f = modules.get(i).hook("la_objsearch");
            if (f == 0) {
                continue;
            }
            long answer = agent.call(f, placeString(file), cookieOf(cookieHolder(requester), i), flag);
            String now = answer == 0 ? null : readString(answer);
            if (!file.equals(now) && warnedSearch.add(modules.get(i).name())) {
                err.println("jdryad: audit module " + modules.get(i).name() + ": la_objsearch " + (now == null ? "refused "
                        + file : "changed " + file + " to " + now)
                        + " for a file the search tried (only a name's answer is followed): not followed");
            }
        }
    }

    /**
     * New objects are announced: those a search found were told as they were found
     * ({@link #found}); any other gets la_activity(LA_ACT_ADD), then la_objopen.
     */
    @Override
    public void added(List<LoadedObject> objects) {
        for (LoadedObject o : objects) {
            if (!bindFlags.containsKey(o)) {
                found(o);
            }
        }
    }

    /**
     * A dlopen whose search failed after it had found {@code opened}: glibc's _dl_close_worker
     * takes them out again, la_objclose for each, la_activity(LA_ACT_DELETE), LA_ACT_CONSISTENT.
     */
    @Override
    public void abandoned(List<LoadedObject> opened) {
        if (opened.isEmpty()) {
            return;
        }
        removing(opened);
        consistent();
    }

    @Override
    public void removing(List<LoadedObject> objects) {
        if (objects.isEmpty()) {
            return;
        }
        for (LoadedObject o : objects) {
            objclose(o);
        }
        changing = objects.get(0).namespace();
        activity(LA_ACT_DELETE, headOf(changing, objects.get(0)));
        for (LoadedObject o : objects) {
            cookies.remove(o);
            bindFlags.remove(o);
        }
    }

    @Override
    public long dlsymBound(LoadedObject from, SymbolLookup.Definition d, long value) {
        return symbind(from, d, value, LA_SYMB_DLSYM);
    }

    @Override
    public void consistent() {
        LoadedObject head = headOf(changing, null);
        if (head != null) {
            activity(LA_ACT_CONSISTENT, head); // as glibc's _dl_audit_activity_nsid: a namespace that went has no head
        }
        adding = false;
        changing = 0;
    }

    @Override
    public List<FiniEntry> exitStarts() {
        return activityAtExit(LA_ACT_DELETE);
    }

    @Override
    public List<FiniEntry> exitCloses(LoadedObject o) {
        List<FiniEntry> out = new ArrayList<>();
        if (!cookies.containsKey(o)) {
            return out;
        }
        for (int i = 0; i < modules.size(); i++) {
            long f = modules.get(i).hook("la_objclose");
            if (f != 0) {
                out.add(FiniEntry.call2(f, exitArguments(cookieOf(o, i), 0)));
            }
        }
        return out;
    }

    @Override
    public List<FiniEntry> exitEnds() {
        return activityAtExit(LA_ACT_CONSISTENT);
    }

    /**
     * True when the modules can be called for a first call of process {@code pid}: the program's
     * own. A forked child's first calls are not audited (Java can make no calls in a child).
     */
    boolean runsIn(long pid) {
        return pid == agent.pid();
    }

    /** Runs an IFUNC resolver in the process: its result is the address la_symbind64 sees. */
    long callResolver(long resolver) {
        return agent.call(resolver);
    }

    /**
     * _dl_audit_symbind: la_symbind64 of every module for which the referrer binds from and the
     * definer binds to, each seeing the previous one's answer; the address the binding gets.
     * {@code flags} is what glibc passes in (0 for a first call, LA_SYMB_DLSYM for dlsym).
     */
    long symbind(LoadedObject referrer, SymbolLookup.Definition d, long value, long flags) {
        return symbind(referrer, d, value, flags, new long[1]);
    }

    /**
     * As above; {@code enterexit[0]} gets, per module i, bits 2i and 2i+1: LA_SYMB_NOPLTENTER and
     * LA_SYMB_NOPLTEXIT as its la_symbind64 left them (both for a module not interested).
     */
    long symbind(LoadedObject referrer, SymbolLookup.Definition d, long value, long flags, long[] enterexit) {
        long current = value;
        enterexit[0] = 0;
        for (int i = 0; i < modules.size(); i++) {
            long f = modules.get(i).hook("la_symbind64");
            boolean interested = (bindFlags(referrer, i) & LA_FLG_BINDFROM) != 0
                    && (bindFlags(d.object(), i) & LA_FLG_BINDTO) != 0;
            if (!interested && i < 16) { // the trampoline's table holds 16 modules' bits
                enterexit[0] |= 3L << (2 * i);
            }
            if (f == 0 || !interested) {
                continue;
            }
            byte[] name = (d.symbol().name() + "\0").getBytes(StandardCharsets.UTF_8);
            long at = agent.alloc(32 + name.length, 8); // Elf64_Sym, unsigned flags, the name
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(32 + name.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            b.putInt(0); // st_name: the name is passed apart
            b.put((byte) d.symbol().info()).put((byte) d.symbol().other()).putShort((short) d.symbol().shndx());
            b.putLong(current).putLong(d.symbol().size());
            b.putInt((int) flags).putInt(0); // each module sees what the ones before it left
            b.put(name);
            agent.write(at, b.array());
            long answer = agent.call(f, at, d.symbol().index(), cookieOf(referrer, i), cookieOf(d.object(), i), at + 24,
                    at + 32);
            flags = agent.readLong(at + 24) & 0xffffffffL;
            enterexit[0] |= i < 16 ? (flags & 3) << (2 * i) : 0;
            if (answer != current) {
                flags |= LA_SYMB_ALTVALUE;
                redirected(referrer, d, current, answer, modules.get(i));
                current = answer;
            }
        }
        enterexit[0] |= flags << 32;
        return current;
    }

    /** A module's la_symbind64 sent a binding elsewhere: the history says so (and which module). */
    private void redirected(LoadedObject referrer, SymbolLookup.Definition d, long from, long to, AuditModules.Module m) {
        if (session.history() != null) {
            session.history().redirect(referrer.name(), d.symbol().name(), from, to, m.name());
        }
    }

    /** What each module's la_objopen said about {@code o} (0 for an object not audited). */
    long bindFlags(LoadedObject o, int module) {
        long[] f = bindFlags.get(o);
        return f == null ? 0 : f[module];
    }

    /** The agent address of module {@code module}'s cookie for {@code o}. */
    long cookieOf(LoadedObject o, int module) {
        return cookies.computeIfAbsent(o, this::placeCookies) + 8L * module;
    }

    private List<FiniEntry> activityAtExit(long flag) {
        List<FiniEntry> out = new ArrayList<>();
        for (int i = 0; i < modules.size(); i++) {
            long f = modules.get(i).hook("la_activity");
            if (f != 0) {
                out.add(FiniEntry.call2(f, exitArguments(cookieOf(mainObject(), i), flag)));
            }
        }
        return out;
    }

    private long exitArguments(long a0, long a1) {
        return exitArguments.computeIfAbsent(a0 + ":" + a1, k -> {
            long at = agent.alloc(16, 8);
            agent.writeWords(new long[] {at, at + 8}, new long[] {a0, a1});
            return at;
        });
    }

    private void activity(long flag) {
        activity(flag, mainObject());
    }

    /** la_activity with the cookie of {@code head}, the first object of the namespace that changes. */
    private void activity(long flag, LoadedObject head) {
        for (int i = 0; i < modules.size(); i++) {
            long f = modules.get(i).hook("la_activity");
            if (f != 0) {
                agent.call(f, cookieOf(head, i), flag);
            }
        }
    }

    /**
     * The first object of namespace {@code lmid} the modules know (glibc's _ns_loaded): the
     * program in the base one; {@code fallback} when the namespace has none (yet, or any more).
     */
    private LoadedObject headOf(long lmid, LoadedObject fallback) {
        if (lmid == 0) {
            return mainObject();
        }
        for (LoadedObject o : session.objectsOf(lmid)) {
            if (cookies.containsKey(o)) {
                return o;
            }
        }
        return fallback;
    }

    private void objopen(LoadedObject o) {
        long[] flags = new long[modules.size()];
        long map = auditedMap(o);
        for (int i = 0; i < modules.size(); i++) {
            long f = modules.get(i).hook("la_objopen");
            if (f != 0) {
                flags[i] = agent.call(f, map, o.namespace(), cookieOf(o, i)) & 0xffffffffL;
            }
        }
        bindFlags.put(o, flags);
    }

    /** The vDSO has glibc's link map and no LoadedObject: its cookies live apart; it is never closed. */
    private void objopenVdso(HostObject vdso) {
        vdsoCookies = agent.alloc(8L * modules.size(), 8);
        for (int i = 0; i < modules.size(); i++) {
            agent.writeWords(new long[] {vdsoCookies + 8L * i}, new long[] {vdso.linkMap()});
            long f = modules.get(i).hook("la_objopen");
            if (f != 0) {
                agent.call(f, vdso.linkMap(), 0, vdsoCookies + 8L * i);
            }
        }
    }

    private void objclose(LoadedObject o) {
        for (int i = 0; i < modules.size(); i++) {
            long f = modules.get(i).hook("la_objclose");
            if (f != 0) {
                agent.call(f, cookieOf(o, i));
            }
        }
    }

    /** glibc's _dl_new_object: every cookie starts as the object's link_map address. */
    private long placeCookies(LoadedObject o) {
        long at = agent.alloc(8L * modules.size(), 8);
        long map = auditedMap(o);
        long[] addrs = new long[modules.size()];
        long[] values = new long[modules.size()];
        for (int i = 0; i < addrs.length; i++) {
            addrs[i] = at + 8L * i;
            values[i] = map;
        }
        agent.writeWords(addrs, values);
        return at;
    }

    /**
     * The link_map audit modules are given for {@code o}: its own ({@link #linkMap}), but for the
     * program a copy whose {@code l_name} is "" (made once). Why: glibc's program map is named "",
     * and modules tell the program by that (sotruss traces "the main program" by default through
     * {@code l_name[0] == '\0'}), while the agent's node for the program carries its path, which
     * gdb needs (its main file is the agent). Modules get a map only in la_objopen and as the
     * cookies' first value, so the copy (the public fields, l_real, l_ns and l_libname, as at
     * start-up) is what they see; r_debug's list and gdb keep the named node.
     */
    private long auditedMap(LoadedObject o) {
        long map = linkMap(o);
        if (o != mainObject() || map == 0) {
            return map;
        }
        if (programMap == 0) {
            byte[] node = agent.read(map, PROGRAM_MAP_BYTES);
            long copy = agent.alloc(PROGRAM_MAP_BYTES + 8, 16);
            java.nio.ByteBuffer.wrap(node).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                    .putLong(L_NAME_OFFSET, copy + PROGRAM_MAP_BYTES); // the empty string after the copy
            agent.write(copy, node);
            agent.write(copy + PROGRAM_MAP_BYTES, new byte[8]);
            programMap = copy;
        }
        return programMap;
    }

    /**
     * The object's struct link_map: the agent's node for a jdryad object, glibc's own for a host
     * object: one the agent started with, or else one glibc's dlopen loaded for the program (libm
     * for a program linked with -lm), whose handle is its link_map. Before, that one had none and
     * la_objopen got NULL: the module crashed before the program started.
     */
    private long linkMap(LoadedObject o) {
        if (!o.isHost()) {
            Long reserved = reservedNodes.get(o);
            return reserved != null ? reserved : loader.linkMapOf(o);
        }
        if (o.namespace() != 0 && o.glibcHandle() != 0) {
            return o.glibcHandle(); // glibc's copy in that namespace, not the base one's of the same name
        }
        for (HostObject h : agent.info().hostObjects()) {
            if (h.name().equals(o.path().toString()) || o.soname().map(s -> h.name().endsWith("/" + s)).orElse(false)) {
                return h.linkMap();
            }
        }
        if (o.glibcHandle() != 0) {
            return o.glibcHandle();
        }
        return hostMaps.computeIfAbsent(o, h -> agent.hostLibrary(h.path().toString()).handle());
    }

    /** glibc's link_map of each host object glibc's dlopen loaded in the base namespace, asked once. */
    private final Map<LoadedObject, Long> hostMaps = new IdentityHashMap<>();


    private boolean isInterpreter(LoadedObject o) {
        return o.isHost() && o.soname().map(s -> s.startsWith("ld-linux")).orElse(false);
    }

    private LoadedObject mainObject() {
        return startupMain != null ? startupMain : session.objects().get(0);
    }

    /** glibc passes the cookie of the object a search is made for; an audit module's own searches: the program's. */
    private LoadedObject cookieHolder(LoadedObject requester) {
        return requester == null ? mainObject() : requester;
    }


    private long placeString(String s) {
        byte[] b = (s + "\0").getBytes(StandardCharsets.UTF_8);
        long at = agent.alloc(b.length, 1);
        agent.write(at, b);
        return at;
    }

    /** A NUL-terminated string the module returned (at most 4096 bytes, as PATH_MAX). */
    private String readString(long address) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        long at = address;
        while (out.size() < 4096) {
            int len = (int) Math.min(256, 4096 - (at & 4095)); // never into a page not asked for
            byte[] b = agent.read(at, len);
            for (int i = 0; i < b.length; i++) {
                if (b[i] == 0) {
                    out.write(b, 0, i);
                    return out.toString(StandardCharsets.UTF_8);
                }
            }
            out.write(b, 0, b.length);
            at += len;
        }
        throw new org.jdryad.link.LinkException("la_objsearch returned a name longer than 4096 bytes");
    }
}
