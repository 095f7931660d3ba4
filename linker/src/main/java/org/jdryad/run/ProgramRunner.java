package org.jdryad.run;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jdryad.agent.AgentException;
import org.jdryad.agent.AgentInfo;
import org.jdryad.agent.AgentListener;
import org.jdryad.agent.AgentLaunch;
import org.jdryad.agent.AgentProcess;
import org.jdryad.agent.HostLoadException;
import org.jdryad.agent.CallbackHandler;
import org.jdryad.agent.ForkAdopter;
import org.jdryad.agent.CallbackReply;
import org.jdryad.agent.Protocol;
import org.jdryad.debug.ActivityEvent;
import org.jdryad.debug.ActivityLog;
import org.jdryad.debug.CallSites;
import org.jdryad.debug.DebugOptions;
import org.jdryad.debug.HistoryFile;
import org.jdryad.debug.BindingHistory;
import org.jdryad.debug.DebugLog;
import org.jdryad.debug.LinkTrace;
import org.jdryad.debug.QueryServer;
import org.jdryad.elf.DynamicSection;
import org.jdryad.elf.ElfFile;
import org.jdryad.link.LinkException;
import org.jdryad.link.LinkSession;
import org.jdryad.link.LoadedObject;

/**
 * {@code jdryad run}: starts the agent, loads the program and everything it needs into the
 * agent's process, relocates and binds them, announces them to debuggers through r_debug, runs
 * initialisers, enters the program at its entry point and waits for it to finish.
 */
public final class ProgramRunner {
    /** glibc functions that jdryad objects must reach through the agent, and the agent's names for them. */
    private static final String[][] INTERPOSED = {
        {"dlopen", "jdryad_dlopen"}, {"dlmopen", "jdryad_dlmopen"}, {"dlsym", "jdryad_dlsym"},
        {"dlvsym", "jdryad_dlvsym"}, {"dlclose", "jdryad_dlclose"}, {"dlerror", "jdryad_dlerror"},
        {"dladdr", "jdryad_dladdr"}, {"dladdr1", "jdryad_dladdr1"}, {"dlinfo", "jdryad_dlinfo"},
        {"dl_iterate_phdr", "jdryad_dl_iterate_phdr"}, {"_dl_find_object", "jdryad__dl_find_object"},
        {"__tls_get_addr", "jdryad___tls_get_addr"},
        // /proc/self/exe names the agent; the program's code is told its own path instead.
        {"readlink", "jdryad_readlink"}, {"readlinkat", "jdryad_readlinkat"},
        {"__readlink_chk", "jdryad___readlink_chk"}, {"__readlinkat_chk", "jdryad___readlinkat_chk"},
    };
    /**
     * Without --follow, the exec family and the spawners are glibc's, but executing
     * /proc/self/exe would start the agent without jdryad: the agent's wrappers put the
     * program's path there and call glibc's (native/exec.h). --follow binds its own instead.
     */
    private static final String[][] SELF_EXEC = {
        {"execve", "jdryad_self_execve"}, {"execv", "jdryad_self_execv"}, {"execvp", "jdryad_self_execvp"},
        {"execvpe", "jdryad_self_execvpe"}, {"execl", "jdryad_self_execl"}, {"execlp", "jdryad_self_execlp"},
        {"execle", "jdryad_self_execle"}, {"posix_spawn", "jdryad_self_posix_spawn"},
        {"posix_spawnp", "jdryad_self_posix_spawnp"},
    };

    private final RunOptions options;
    private final PrintStream err;
    /** Where it runs: the user's working directory, who starts its processes (cold or warm). */
    private final RunContext context;
    /** What this run leaves: its history, events, objects (for --history and the query server). */
    private final RunRecord record;
    private final BindingHistory history;
    private final ActivityLog activity;
    /** The lazy fast path's tables and log, when binding lazily. */
    private volatile LazyTables lazyTables;
    private final LinkTrace trace;
    /** --follow: the session this run is a process of (null without --follow). */
    private final FollowSession follow;
    /** With audit modules: the start-up in glibc's order (null: none asked for). */
    private final AuditedStartup audited;
    /** Answers the slow path's first calls (set while linking). */
    private LazyBinder lazyBinder;

    public ProgramRunner(RunOptions options, PrintStream err) {
        this(options, RunContext.cold(err), null);
    }

    /** A run in {@code context} (the warm server's client's, or this JVM's own). */
    public ProgramRunner(RunOptions options, RunContext context) {
        this(options, context, null);
    }

    /** A run in {@code context} that is one process of {@code follow} (null: an ordinary run). */
    ProgramRunner(RunOptions options, RunContext context, FollowSession follow) {
        this.follow = follow;
        this.options = options;
        this.context = context;
        this.err = context.err();
        this.record = new RunRecord(options, err);
        this.audited = options.audit().isEmpty() ? null : new AuditedStartup(options, context, err);
        this.history = record.history();
        this.activity = record.activity();
        this.trace = new LinkTrace(new DebugLog(options.debug(), err, context.workingDirectory()), options.program(),
                options.bindNow());
    }

    /** Runs the program and returns its exit status as a shell reports it. */
    public int run() throws IOException {
        long tStart = System.nanoTime();
        Optional<RunOptions> viaInterpreter = Shebang.interpreterRun(options, context.resolve(options.executable()));
        if (viaInterpreter.isPresent()) {
            return new ProgramRunner(viaInterpreter.get(), context, follow).run();
        }
        ElfFile exe = org.jdryad.elf.ElfCache.open(context.resolve(options.executable()));
        if (exe.isStatic()) {
            return runStatic();
        }
        Map<String, String> agentEnv = agentEnvironment();
        AgentLaunch early = launchEarly(agentEnv);
        ObjectGraph graph;
        Path agentBinary;
        try {
            graph = resolveGraph(exe);
            agentBinary = AgentBinary.locate(staticTlsNeeded(graph), staticTlsAlignment(graph));
        } catch (IOException | RuntimeException e) {
            if (early != null) {
                early.close(); // the program is not run: its process goes before it ran any of it
            }
            throw e;
        }
        if (early != null && !early.binary().equals(agentBinary)) {
            early.close(); // a program with more static TLS than the smallest agent holds
            early = null;
        }
        AgentLaunch launched = early;
        return serve(callbacks -> launched != null
                ? launched.connect(callbacks, Duration.ofSeconds(30))
                : follow != null
                ? AgentProcess.startOn(follow.listener(), context.spawner(), agentBinary, agentEnv, callbacks, Duration.ofSeconds(30))
                : AgentProcess.start(context.spawner(), agentBinary, programArgv(), agentEnv, callbacks,
                        Duration.ofSeconds(30)), graph,
                startQueryServer(), true, tStart);
    }

    /**
     * In cold mode, the smallest agent started before the library search, or null. Why: the
     * agent's process takes about 20 ms to start and say HELLO (the JVM's spawn helper, two
     * execs, the connection and its checks), which the search and the reading of the program's
     * libraries, 40 to 50 ms of a cold JVM, now cover. It is the agent nearly every program gets;
     * when the search fails, or the program needs a larger static TLS reservation, it is killed
     * before it ran any of the program. Not with the warm server, whose client starts one process
     * per run (and whose search is quick), nor under --follow, whose agents are exec'ed.
     */
    private AgentLaunch launchEarly(Map<String, String> agentEnv) {
        if (follow != null || !context.spawner().local()) {
            return null;
        }
        try {
            return AgentLaunch.launch(context.spawner(), AgentBinary.locate(0), programArgv(), agentEnv);
        } catch (RuntimeException e) {
            return null; // started again after the search, which says what is wrong
        }
    }

    /**
     * --follow: links and runs a program that a followed process exec'ed, in the agent that
     * exec'ed it and said HELLO in {@code arrival}; returns when that process image has ended
     * (the process exited, or exec'ed again). An agent too small for the program's static TLS
     * is first re-exec'ed as the variant that fits (its next HELLO is another arrival).
     */
    int runFollowed(AgentListener listener, AgentListener.Arrival arrival, Process top) throws IOException {
        long tStart = System.nanoTime();
        ObjectGraph graph;
        Path needed;
        try {
            Optional<RunOptions> viaInterpreter = Shebang.interpreterRun(options, context.resolve(options.executable()));
            if (viaInterpreter.isPresent()) {
                return new ProgramRunner(viaInterpreter.get(), context, follow).runFollowed(listener, arrival, top);
            }
            graph = resolveGraph(org.jdryad.elf.ElfCache.open(context.resolve(options.executable())));
            needed = AgentBinary.locate(staticTlsNeeded(graph));
        } catch (IOException | RuntimeException e) {
            follow.fail(listener, arrival, top, e, options.program()); // in the process, as glibc's loader would
            return 127;
        }
        if (!FollowSession.agentFits(arrival.pid(), needed)) {
            try (AgentProcess agent = AgentProcess.connect(listener, arrival, top, null, false)) {
                follow.reexec(agent, needed);
            }
            return -1;
        }
        return serve(callbacks -> AgentProcess.connect(listener, arrival, top, callbacks, false), graph,
                startQueryServer(), true, tStart);
    }

    /** The agent binary this program needs (for its static TLS); the library search runs for it. */
    Path agentBinary(ElfFile exe) throws IOException {
        try {
            ObjectGraph graph = resolveGraph(exe);
            return AgentBinary.locate(staticTlsNeeded(graph), staticTlsAlignment(graph));
        } finally {
            trace.close();
        }
    }

    /**
     * Links and runs the program in an agent that gdb started (a {@code run} at gdb's prompt)
     * and that said HELLO in {@code arrival}; returns when that agent's process has ended.
     * {@code query} (which may be null) is the gdb session's: told where it is, not closed.
     */
    int runUnderDebugger(AgentListener listener, AgentListener.Arrival arrival, Process debugger, QueryServer query)
            throws IOException {
        long tStart = System.nanoTime();
        ObjectGraph graph = resolveGraph(ElfFile.open(Path.of(options.executable())));
        return serve(callbacks -> AgentProcess.connect(listener, arrival, debugger, callbacks, false), graph, query,
                false, tStart);
    }

    /**
     * The start-up search. With audit modules it is made quietly, only to pick the agent (its
     * static TLS), and may fail (null): the modules' answers decide what the real one, made once
     * they are loaded, finds (AuditedStartup).
     */
    private ObjectGraph resolveGraph(ElfFile exe) throws IOException {
        if (audited != null) {
            return audited.searchQuietly(exe);
        }
        try {
            ObjectGraph graph = ObjectGraph.resolve(exe, options, context, searchListener());
            trace.searched();
            return graph;
        } catch (IOException | RuntimeException e) {
            trace.close(); // the program never starts: the search's lines say why, with jdryad's pid
            throw e;
        }
    }

    /** The search's listener: LD_DEBUG's trace, and with audit modules their la_objsearch and la_objopen calls too. */
    private org.jdryad.search.SearchListener searchListener() {
        AuditedSearch told = audited == null ? null : audited.searches();
        if (told == null) {
            return trace.search();
        }
        trace.setSearchAttempts(told);
        return AuditSearches.both(told, trace.search());
    }

    /**
     * Starts (or takes) the agent, links the program into it, runs initialisers, enters the
     * program and waits for it; whatever happens, the history is written.
     */
    private int serve(java.util.function.Function<CallbackHandler, AgentProcess> agentStarter, ObjectGraph graph,
                      QueryServer query, boolean ownsQuery, long tStart) {
        boolean underDebugger = options.gdb() != null;
        Callbacks callbacks = new Callbacks();
        if (options.debug().has(DebugOptions.Category.BINDINGS)) {
            history.setListener(this::printBinding);
        }
        if (options.debug().has(DebugOptions.Category.ACTIVITY)) {
            activity.setListener(this::printActivity);
        }
        int status = -1;
        String problem = null;
        AgentProcess started = null;
        try (AgentProcess agent = agentStarter.apply(callbacks)) {
            started = agent;
            if (follow != null) {
                follow.connected(this, agent);
            }
            announceQueryServer(agent, query);
            long tAgent = System.nanoTime();
            if (!underDebugger && context.spawner().local() && (follow == null || follow.isTop(this))) {
                ForegroundSignals.install(agent.info().pid()); // under gdb: the session's
                InheritedDescriptors.passTo(agent); // the JVM's child inherited only 0, 1 and 2
            }
            trace.started(agent.pid());
            Linked linked = link(agent, graph, callbacks);
            if (lazyTables != null) {
                lazyTables.startPreparing(); // on the other core, while initialisers and the program run
            }
            // --wait-for-debugger: all announced, no initialiser run (DebuggerWait); Ctrl-C or kill ends it quietly.
            java.util.OptionalInt endedWaiting = DebuggerWait.ifAsked(options, agent);
            if (endedWaiting.isPresent()) {
                return status = endedWaiting.getAsInt();
            }
            long tInit = System.nanoTime();
            callbacks.target = linked.loader();
            List<String> argv = programArgv();
            List<String> envp = new ArrayList<>();
            options.environment().forEach((k, v) -> envp.add(k + "=" + v));
            initialise(agent, linked, argv, envp);
            long tDone = System.nanoTime();
            String statistics = options.stats()
                    ? statistics(linked.session(), linked.rebound(), tStart, tAgent, tInit, tDone) : null;
            if (follow != null) {
                follow.prepare(agent, linked.session());
            }
            trace.transferring();
            identity.enter(argv, envp); // initialise made it
            if (underDebugger) {
                agent.waitForAgentEnd(); // gdb, its parent, reports how it ended
            } else if (follow != null) {
                agent.waitForDisconnect(); // the image ends: by exit, or by exec
                status = follow.awaitImageEnd(this, agent);
            } else {
                status = agent.waitForExit();
            }
            closeLazyTables();
            trace.exited(linked.session().stats(), status > 128 ? status - 128 : 0);
            if (statistics != null) {
                err.print(statistics);
            }
            return status;
        } catch (AgentException | LinkException e) {
            problem = e.getMessage();
            if (started != null && !underDebugger && follow == null && !started.isAlive()) {
                status = started.process().exitValue();
            } else if (started != null && follow != null && follow.isTop(this)) {
                status = started.waitForExit(); // the agent exits with 127 at end of file
            }
            if (underDebugger && started != null && started.lostByAgent()) {
                return -1; // gdb killed it (or saw it die, and said so): nothing for jdryad to add
            }
            throw e instanceof LinkException le ? le : new LinkException(e.getMessage(), e);
        } finally {
            closeLazyTables();
            trace.close(); // what a failure left held goes out
            if (ownsQuery && query != null) {
                query.close();
            }
            record.end(status, problem);
            // Whatever ended the run, its record is written: a crash is what it is there to explain.
            if (options.historyFile() != null && follow == null) {
                record.writeHistory(status, problem);
            }
        }
    }

    /** Drains the fast path's last records into the history (the process has ended). */
    private void closeLazyTables() {
        LazyTables t = lazyTables;
        if (t != null) {
            try {
                t.close();
            } catch (RuntimeException e) {
                err.println("jdryad: some lazy bindings could not be read back from the agent's log: " + e.getMessage());
            }
        }
    }

    /**
     * The query server for gdb and other local clients, unless JDRYAD_QUERY=off; null when off
     * or when it cannot listen (the run goes on without it).
     */
    private QueryServer startQueryServer() {
        QueryServer.Source own = querySource();
        return startQueryServer(options, () -> own, err, context.queryMode());
    }

    /** As above, for {@code source}: the query server of a gdb session serves one run after another. */
    static QueryServer startQueryServer(RunOptions options, java.util.function.Supplier<QueryServer.Source> source,
                                        PrintStream err) {
        return startQueryServer(options, source, err, System.getenv("JDRYAD_QUERY"));
    }

    /** As above, with JDRYAD_QUERY as the launcher had it ({@code launcherMode}, null when unset). */
    static QueryServer startQueryServer(RunOptions options, java.util.function.Supplier<QueryServer.Source> source,
                                        PrintStream err, String launcherMode) {
        String mode = launcherMode;
        if (mode == null) {
            mode = options.environment().get("JDRYAD_QUERY");
        }
        if ("off".equals(mode)) {
            return null;
        }
        try {
            return QueryServer.start(source);
        } catch (IOException | RuntimeException e) {
            err.println("jdryad: no query server for gdb (" + e.getMessage() + ")");
            return null;
        }
    }

    /** What the query server tells about this run: its live record. */
    QueryServer.Source querySource() {
        return record.querySource();
    }

    /** What this run leaves (--follow writes every process's into one history). */
    RunRecord record() {
        return record;
    }

    RunOptions options() {
        return options;
    }

    /** Tells gdb where the query server is, in the agent's jdryad_query_info (agents that have it). */
    private static void announceQueryServer(AgentProcess agent, QueryServer query) {
        Long at = agent.info().agentSymbols().get("jdryad_query_info");
        if (query != null && at != null) {
            agent.write(at, query.infoStruct());
        }
    }

    private volatile CallSites printSites;

    /** --debug=activity: one line per event, as it happens, in LD_DEBUG's layout. */
    private void printActivity(ActivityEvent e) {
        CallSites sites = printSites;
        if (sites == null || e.cause() == ActivityEvent.Cause.DLOPEN) {
            sites = printSites = record.callSites(); // a dlopen may have added the objects its call site lies in
        }
        trace.log().print(ActivityEvent.describe(e, sites) + "\n");
    }

    /** The program's argv: argv[0] as given, then its arguments. */
    private List<String> programArgv() {
        List<String> argv = new ArrayList<>();
        argv.add(options.program());
        argv.addAll(options.args());
        return argv;
    }

    /**
     * The agent's environment: the program's without its LD_* variables (they are jdryad's), and
     * LD_BIND_NOW=1 so that glibc binds host objects eagerly: a slot glibc resolved lazily later
     * would undo jdryad's re-binding of it (mechanism 4 of DESIGN.md).
     */
    private Map<String, String> agentEnvironment() {
        return agentEnvironment(options);
    }

    static Map<String, String> agentEnvironment(RunOptions options) {
        Map<String, String> env = new LinkedHashMap<>();
        options.environment().forEach((k, v) -> {
            if (!k.startsWith("LD_")) {
                env.put(k, v);
            }
        });
        env.put("LD_BIND_NOW", "1");
        return env;
    }

    /** A linked program: its session, the run-time loader serving it, the host slots re-bound. */
    private record Linked(LinkSession session, DynamicLoader loader, int rebound) {
    }

    /**
     * Maps, relocates and protects every jdryad object, installs the static TLS image, re-binds
     * host objects' GOT slots, and announces the objects to debuggers (r_debug) and to the
     * agent's dl_iterate_phdr/_dl_find_object table.
     */
    private Linked link(AgentProcess agent, ObjectGraph searched, Callbacks callbacks) {
        AgentInfo info = agent.info();
        Map<String, Long> interposers = new HashMap<>();
        bindToAgent(interposers, info, INTERPOSED);
        if (follow == null) {
            bindToAgent(interposers, info, SELF_EXEC);
        } else {
            interposers.putAll(follow.interposers(agent)); // execve & co. run followed programs in the agent
        }
        LinkSession session = new LinkSession(new AgentMemory(agent), interposers, info.symbol("jdryad_tlsdesc_return"),
                info.tlsReserveSize() - Protocol.TLS_AGENT_BYTES, Protocol.TLS_MODID_BASE, history,
                w -> err.println(options.program() + ": " + w));
        session.setTlsDescDynamic(info.agentSymbols().getOrDefault("jdryad_tlsdesc_dynamic", 0L));
        session.setRDebug(info.rDebug());
        session.setThreadPointerAlignment(AgentBinary.tlsAlignment(info.tlsReserveSize()));
        ObjectGraph graph = searched;
        if (audited != null) { // the modules are loaded before the search, which they steer
            audited.loadModules(agent, session, programArgv());
            graph = audited.search(trace, searchListener(), (n, index) -> NodeObjects.make(agent, 0, n, index, null));
        }
        // Identity: a Node is a record whose hashCode would walk its whole dependency graph.
        Map<ObjectGraph.Node, LoadedObject> byNode = new java.util.IdentityHashMap<>();
        List<LoadedObject> objects = loadObjects(agent, graph, graph.nodes(), byNode, 0, null,
                audited == null ? null : audited.call());
        session.setObjects(objects);
        record.setSession(session);
        history.setPid(info.pid());
        session.enableLazyBinding(info.symbol("jdryad_lazy_resolve"), options.bindNow());
        callbacks.lazy = lazyBinder = new LazyBinder(session, options.bindNot(), options.program());
        // The fast path's answers are prepared by lookups ahead of the calls: with LD_DEBUG=symbols
        // those would be told at the wrong time, so then every first call asks Java.
        // So with audit modules: la_symbind64 is called at the first call.
        if (!options.bindNow() && !options.debug().has(DebugOptions.Category.SYMBOLS) && options.audit().isEmpty()) {
            try {
                lazyTables = LazyTables.start(agent, session, history, options.bindNot());
                record.setLazyTables(lazyTables);
            } catch (IOException e) {
                err.println("jdryad: lazy first calls will all ask jdryad (no shared log: " + e.getMessage() + ")");
            }
        }
        session.mapAll();
        trace.mapped(session);
        session.relocateAll();
        byte[] image = session.tlsImage();
        session.protectAll();
        if (session.tlsBytesUsed() > 0) {
            agent.setTlsImage(image);
        }
        int rebound = session.rebindHosts();
        trace.relocated(session.stats());
        DynamicLoader loader = new DynamicLoader(session, ProcessLink.resolver(this::dlopenResolve, agent, graph, byNode),
                activity);
        loader.attach(agent);
        loader.setTrace(trace);
        if (audited != null) {
            loader.adoptNodeIds(audited.nodeIds()); // la_objopen had their nodes
        }
        loader.publish(Protocol.RT_ADD, session.jdryadObjects(), ActivityLog.Change.STARTUP);
        // Forked children get links of their own, copied from this one's as of their fork.
        ProcessLink run = ProcessLink.ofRun(agent, session, loader, callbacks.lazy, graph, byNode, this::dlopenResolve);
        callbacks.forks = new ForkedLinks(run, history, options.bindNot(), options.program());
        return new Linked(session, loader, rebound);
    }

    /** Who the process is, told to the program before its initialisers and at its entry (set by initialise). */
    private ProgramIdentity identity;

    /**
     * Runs the initialisers, dependencies first. A program linked against
     * __libc_start_main@GLIBC_2.2.5 passes __libc_csu_init, which runs its own
     * DT_PREINIT_ARRAY, DT_INIT and DT_INIT_ARRAY: jdryad must not run them too.
     */
    private void initialise(AgentProcess agent, Linked linked, List<String> argv, List<String> envp) {
        LoadedObject main = linked.session().objects().get(0);
        DynamicLoader loader = linked.loader();
        long argvAt = agent.placeStrings(argv);
        long envpAt = agent.placeStrings(envp);
        loader.setArguments(argv.size(), argvAt, envpAt);
        identity = new ProgramIdentity(agent, linked.session(), options.executable());
        identity.announce(argvAt, argv.get(0), envpAt);
        if (audited != null) {
            audited.finish(loader, linked.session(), lazyBinder);
        }
        boolean programRunsOwnInit = linkedAgainstOldStartMain(main);
        if (!programRunsOwnInit) {
            loader.runPreinit(main);
        }
        loader.runInitialisers(linked.session().initOrder(), programRunsOwnInit);
    }

    /** Forwards the program's callbacks to the loader once it exists; glibc answers before that. */
    private static final class Callbacks implements CallbackHandler, ForkAdopter {
        volatile DynamicLoader target;
        /** Set once linked: forked children's own links. */
        volatile ForkedLinks forks;

        @Override
        public Adopted adopt(long pid, long parentPid, long generation) {
            ForkedLinks f = forks;
            return f == null ? null : f.adopt(pid, parentPid, generation);
        }

        @Override
        public CallbackReply dlopen(String name, int flags, long caller, long tid) {
            DynamicLoader t = target;
            return t == null ? CallbackReply.askGlibc(0) : t.dlopen(name, flags, caller, tid);
        }

        @Override
        public CallbackReply dlmopen(long lmid, String name, int flags, long caller, long tid) {
            DynamicLoader t = target;
            return t == null ? CallbackReply.askGlibc(lmid) : t.dlmopen(lmid, name, flags, caller, tid);
        }

        @Override
        public CallbackReply dlsym(long handle, String name, String version, long caller, long tid) {
            DynamicLoader t = target;
            return t == null ? CallbackReply.askGlibc(handle) : t.dlsym(handle, name, version, caller, tid);
        }

        @Override
        public CallbackReply dlclose(long handle, long caller, long tid) {
            DynamicLoader t = target;
            return t == null ? CallbackReply.askGlibc(handle) : t.dlclose(handle, caller, tid);
        }

        @Override
        public CallbackReply dladdr(long address) {
            DynamicLoader t = target;
            return t == null ? CallbackReply.askGlibc(0) : t.dladdr(address);
        }

        @Override
        public CallbackReply dlinfo(long handle, int request) {
            DynamicLoader t = target;
            return t == null ? CallbackReply.askGlibc(handle) : t.dlinfo(handle, request);
        }

        /** Set before relocation starts: an IFUNC resolver run while linking may make first calls. */
        volatile LazyBinder lazy;

        @Override
        public CallbackReply bindLazily(long object, long index, long caller, long tid, long pid) {
            LazyBinder l = lazy;
            return l == null ? CallbackReply.error("jdryad: a lazy first call before jdryad set up lazy binding")
                    : l.bind(object, index, caller, tid, pid);
        }
    }

    /**
     * dlopen: what the name means in the namespace, with LoadedObjects made for new graph nodes
     * ({@code noload}: RTLD_NOLOAD, never any). A host object glibc refuses to load takes the
     * call's new nodes out of the namespace again and gives glibc's words.
     */
    private DynamicLoader.Resolution dlopenResolve(AgentProcess agent, ObjectGraph graph,
                                                   Map<ObjectGraph.Node, LoadedObject> byNode, String name,
                                                   LoadedObject caller, boolean noload,
                                                   AuditedSearch.Found found) {
        ObjectGraph.Node callerNode = null;
        for (Map.Entry<ObjectGraph.Node, LoadedObject> e : byNode.entrySet()) {
            if (e.getValue() == caller) {
                callerNode = e.getKey();
            }
        }
        ObjectGraph.Node from = callerNode;
        // With audit modules, each object is made (and told) as the search finds it.
        AuditedSearch told = audited == null ? null : audited.searches();
        AuditedSearch.Call call = found == null || told == null || noload ? null
                : new AuditedSearch.Call(found, (n, index) -> NodeObjects.make(agent, graph.lmid(), n, index, caller),
                        audited.programFile(), options.program(), byNode.size());
        ObjectGraph.Dlopen d = noload ? graph.dlopenNoload(name, callerNode)
                : call == null ? graph.dlopen(name, callerNode) : told.during(call, () -> graph.dlopen(name, from));
        if (d.error() != null) {
            return new DynamicLoader.Resolution(null, List.of(), List.of(), d.error());
        }
        if (d.root() == null || (noload && byNode.get(d.root()) == null)) {
            return new DynamicLoader.Resolution(null, List.of(), List.of(), null); // RTLD_NOLOAD: not loaded
        }
        List<LoadedObject> added;
        try {
            if (call != null && call.refused() != null) {
                throw call.refused();
            }
            added = loadObjects(agent, graph, d.added(), byNode, byNode.size(), caller, call);
        } catch (HostLoadException e) {
            for (ObjectGraph.Node n : d.added()) {
                LoadedObject o = byNode.remove(n);
                if (o != null) {
                    record.forgetProvenance(o);
                }
            }
            graph.unload(d.added());
            return new DynamicLoader.Resolution(null, List.of(), List.of(), e.dlerror());
        }
        List<LoadedObject> searchList = new ArrayList<>();
        for (ObjectGraph.Node n : d.searchList()) {
            searchList.add(byNode.get(n));
        }
        return new DynamicLoader.Resolution(byNode.get(d.root()), added, searchList, null);
    }

    /**
     * The static TLS the jdryad objects need: at most each block plus its alignment less one, in
     * any order (StaticTlsLayout places a block at most that far below the one before).
     */
    private static long staticTlsNeeded(ObjectGraph graph) {
        long total = 0;
        for (ObjectGraph.Node n : graph == null ? List.<ObjectGraph.Node>of() : graph.nodes()) {
            if (n.host()) {
                continue;
            }
            var tls = n.elf().tls();
            if (tls.isPresent()) {
                long align = Math.max(1, tls.get().align());
                total += tls.get().memsz() + align - 1; // glibc's packing pads a block by less than its alignment
            }
        }
        return total;
    }

    /** The largest TLS alignment of the jdryad objects: the thread pointer's alignment must match it. */
    private static long staticTlsAlignment(ObjectGraph graph) {
        long align = 1;
        for (ObjectGraph.Node n : graph == null ? List.<ObjectGraph.Node>of() : graph.nodes()) {
            if (!n.host() && n.elf().tls().isPresent()) {
                align = Math.max(align, n.elf().tls().get().align());
            }
        }
        return align;
    }

    /** A statically linked program needs no loader: it runs as it is. */
    private int runStatic() throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(options.program());
        cmd.addAll(options.args());
        try {
            return context.spawner().spawn(cmd, options.environment()).waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 130;
        }
    }

    /**
     * Makes a LoadedObject per graph node (numbering them from {@code firstIndex}); host objects
     * are found in the agent, or loaded there with glibc's own dlopen.
     */
    private List<LoadedObject> loadObjects(AgentProcess agent, ObjectGraph graph, List<ObjectGraph.Node> nodes,
                                           Map<ObjectGraph.Node, LoadedObject> byNode, int firstIndex,
                                           LoadedObject dlopenCaller) {
        return loadObjects(agent, graph, nodes, byNode, firstIndex, dlopenCaller, null);
    }

    /** As above, taking the objects {@code made} while the search ran (null: none). */
    private List<LoadedObject> loadObjects(AgentProcess agent, ObjectGraph graph, List<ObjectGraph.Node> nodes,
                                           Map<ObjectGraph.Node, LoadedObject> byNode, int firstIndex,
                                           LoadedObject dlopenCaller, AuditedSearch.Call made) {
        List<LoadedObject> out = new ArrayList<>();
        int index = firstIndex;
        for (ObjectGraph.Node n : nodes) {
            LoadedObject obj = made == null ? null : made.take(n);
            if (obj == null) {
                obj = NodeObjects.make(agent, graph.lmid(), n, index, dlopenCaller);
            }
            record.rememberProvenance(obj, provenanceOf(graph, n, dlopenCaller));
            out.add(obj);
            byNode.put(n, obj);
            index++;
        }
        trace.loaded(out);
        for (ObjectGraph.Node n : nodes) {
            for (ObjectGraph.Node d : n.dependencies()) {
                LoadedObject dep = byNode.get(d);
                if (dep != null) {
                    byNode.get(n).dependencies().add(dep);
                }
            }
        }
        return out;
    }


    /**
     * How the search found {@code n} and who needed it: the object whose DT_NEEDED named it, or
     * for the object a dlopen named, the dlopen's caller.
     */
    private HistoryFile.Provenance provenanceOf(ObjectGraph graph, ObjectGraph.Node n, LoadedObject dlopenCaller) {
        var lib = graph.library(n);
        String foundBy = lib.map(l -> l.preloaded() ? "preload" : l.foundBy().label()).orElse(null);
        String loadedBy = lib.flatMap(l -> l.loader()).map(l -> l.path()).orElse(null);
        if (loadedBy == null && dlopenCaller != null) {
            loadedBy = dlopenCaller.name();
        }
        return new HistoryFile.Provenance(n.soname().orElse(null), foundBy, loadedBy,
                dlopenCaller == null ? "startup" : "dlopen", history.now(), graph.lmid());
    }




    /** Binds each glibc name of {@code pairs} to the agent's function of the paired name, when the agent has it. */
    private static void bindToAgent(Map<String, Long> interposers, AgentInfo info, String[][] pairs) {
        for (String[] pair : pairs) {
            Long a = info.agentSymbols().get(pair[1]);
            if (a != null) {
                interposers.put(pair[0], a);
            }
        }
    }


    /** The run-time address of an object's program headers (PT_PHDR, else found through PT_LOAD). */
    static long phdrAddress(LoadedObject o) {
        return o.phdrAddress();
    }

    /**
     * True for a program linked against {@code __libc_start_main@GLIBC_2.2.5}: it passes
     * {@code __libc_csu_init}, which runs its DT_PREINIT_ARRAY, DT_INIT and DT_INIT_ARRAY itself,
     * so jdryad must not run them too (node is such a program).
     */
    static boolean linkedAgainstOldStartMain(LoadedObject main) {
        if (main.dynamic().isEmpty()) {
            return false;
        }
        DynamicSection d = main.dynamic().get();
        boolean[] old = {false};
        var syms = d.symbols();
        for (int i = 1; i < syms.count(); i++) {
            if (syms.nameEquals(i, START_MAIN)) {
                var v = d.versions().versionOf(i);
                old[0] = syms.get(i).isUndefined() && v.isPresent() && !"GLIBC_2.34".equals(v.get().name());
                break;
            }
        }
        return old[0];
    }

    private static final byte[] START_MAIN = "__libc_start_main".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    private String statistics(LinkSession session, int rebound, long tStart, long tAgent, long tInit, long tDone) {
        var stats = session.stats();
        java.io.StringWriter text = new java.io.StringWriter();
        java.io.PrintWriter err = new java.io.PrintWriter(text);
        err.printf("jdryad statistics for %s:%n", options.program());
        err.printf("  objects: %d (%d jdryad, %d host)%n", session.objects().size(), session.jdryadObjects().size(),
                session.hostObjects().size());
        err.printf("  relocations: %d%n", stats.total());
        for (Map.Entry<String, Long> e : stats.byType().entrySet()) {
            err.printf("    %-28s %d%n", e.getKey(), e.getValue());
        }
        err.printf("  symbol lookups: %d (objects probed: %d)%n", session.lookup().lookupCount(), session.lookup().objectsProbed());
        err.printf("  host GOT slots re-bound: %d%n", rebound);
        err.printf("  static TLS used: %d bytes%n", session.tlsBytesUsed());
        err.printf("  time: total %.2f ms (start agent %.2f ms, link %.2f ms, initialisers %.2f ms)%n",
                ms(tDone - tStart), ms(tAgent - tStart), ms(tInit - tAgent), ms(tDone - tInit));
        for (Map.Entry<String, Long> e : stats.phases().entrySet()) {
            err.printf("    %-28s %.2f ms%n", e.getKey(), ms(e.getValue()));
        }
        err.flush();
        return text.toString();
    }

    /**
     * One binding in glibc's LD_DEBUG=bindings words, so that the two can be compared line for
     * line (jdryad's interposers, such as dlopen, are reported with the definition they replace,
     * as glibc reports it). Unresolved weak references are not bindings and print nothing.
     */
    private void printBinding(org.jdryad.debug.Binding b) {
        if (b.definer() == null) {
            return;
        }
        trace.log().print(String.format("binding file %s [0] to %s [0]: normal symbol `%s'%s%n", b.referrer(),
                b.definer(), b.symbol(), b.version() == null ? "" : " [" + b.version() + "]"));
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }
}
