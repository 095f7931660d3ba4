package org.jdryad.run;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.jdryad.agent.AgentProcess;
import org.jdryad.debug.LinkTrace;
import org.jdryad.elf.ElfFile;
import org.jdryad.link.LinkException;
import org.jdryad.link.LinkSession;
import org.jdryad.link.LoadedObject;
import org.jdryad.search.NameAudit;
import org.jdryad.search.SearchListener;

/**
 * The start-up with LD_AUDIT modules, in glibc's dl_main order: the modules are loaded first
 * (glibc's dlmopen, each told the program's argv[0] and environment), then la_objopen for the
 * program and ld.so and la_activity(ADD); the library search runs live (AuditedSearch), each object
 * mapped and told as it is found; after the relocation la_symbind64 for slots bound now,
 * la_activity(CONSISTENT) and la_preinit.
 *
 * <p>Why a search before it: the agent that runs the program is picked by the static TLS its
 * objects need, before the process exists, so before any module is. That search is made quietly
 * (no trace, no warnings, and it may fail: the modules may supply what it misses); it also
 * teaches which directories glibc would know to be missing once it has loaded the modules' own
 * libraries (AuditSearches#learnFrom). The search that counts is the one made with the modules.
 */
final class AuditedStartup {
    private final RunOptions options;
    private final RunContext context;
    private final PrintStream err;
    /** The program's file (the quiet search's). */
    private ElfFile programFile;
    /** What the quiet search tried, null when it failed. */
    private AuditSearches quietSearch;
    /** The modules loaded (null: none could be). */
    private Auditing auditing;
    /** The program's searches as they tell the modules (null: no module). */
    private AuditedSearch searches;
    private StartupFound found;
    private AuditedSearch.Call call;

    AuditedStartup(RunOptions options, RunContext context, PrintStream err) {
        this.options = options;
        this.context = context;
        this.err = err;
    }

    /** The search that picks the agent: quiet, and null when it fails (the real one says why). */
    ObjectGraph searchQuietly(ElfFile exe) {
        programFile = exe;
        AuditSearches recorded = new AuditSearches();
        LinkTrace quiet = LinkTrace.none();
        quiet.setSearchAttempts(recorded);
        try {
            ObjectGraph graph = ObjectGraph.resolve(exe, options, context, AuditSearches.both(recorded, quiet.search()),
                    NameAudit.NONE, false);
            quietSearch = recorded;
            return graph;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Loads the modules into the agent (their initialisers and la_version run); {@code argv} is
     * the program's. False when no module remains: the start-up is then the plain one.
     */
    boolean loadModules(AgentProcess agent, LinkSession session, List<String> argv) {
        List<String> envp = new ArrayList<>();
        options.environment().forEach((k, v) -> envp.add(k + "=" + v));
        AuditModules.Identity identity = AuditModules.Identity.place(agent, argv, envp);
        boolean secure = programFile != null && SecureMode.applies(programFile.path());
        auditing = Auditing.load(options.audit(), options.libraryPath(), secure, identity, agent, err).orElse(null);
        if (auditing == null) {
            return false;
        }
        if (quietSearch != null) {
            quietSearch.learnFrom(auditing.moduleNeeds());
        }
        if (auditing.wantsPlt()) {
            session.setProfiled(auditing::bindsFrom); // la_objopen has told each object's flags before it is relocated
        }
        searches = new AuditedSearch(quietSearch);
        found = new StartupFound(auditing, agent, session);
        return true;
    }

    /** The program's searches as they tell the modules, from the start-up on (null: no module). */
    AuditedSearch searches() {
        return searches;
    }

    /** The program's file, as the start-up search has it. */
    ElfFile programFile() {
        return programFile;
    }

    /**
     * The start-up search told to {@code trace} through {@code listener}; with modules, live,
     * each object made by {@code maker} as it is found (taken later with {@link #call()}).
     */
    ObjectGraph search(LinkTrace trace, SearchListener listener, AuditedSearch.ObjectMaker maker) {
        try {
            ObjectGraph graph;
            if (searches == null) {
                graph = ObjectGraph.resolve(programFile, options, context, listener);
            } else {
                call = new AuditedSearch.Call(found, maker, programFile, options.program(), 0);
                graph = searches.during(call, () -> {
                    try {
                        return ObjectGraph.resolve(programFile, options, context, listener, searches, true);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
            }
            trace.searched();
            return graph;
        } catch (IOException e) {
            throw new LinkException(e.getMessage(), e);
        } catch (UncheckedIOException e) {
            throw new LinkException(e.getCause().getMessage(), e.getCause());
        }
    }

    /** The start-up search's objects, made as they were found (null: no module). */
    AuditedSearch.Call call() {
        return call;
    }

    /** The r_debug ids the start-up objects' nodes were reserved under (empty: no module). */
    Map<LoadedObject, Long> nodeIds() {
        return found == null ? Map.of() : found.nodeIds;
    }

    /**
     * After the start-up link: la_symbind64 for slots bound now, la_activity(CONSISTENT), then
     * la_preinit; from then on the modules see every dlopen, dlclose and the exit, and
     * (LazyBinder) every first call.
     */
    void finish(DynamicLoader loader, LinkSession session, LazyBinder lazy) {
        if (auditing == null) {
            return;
        }
        auditing.attach(loader, session);
        auditing.finishStartup();
        loader.setAudit(auditing);
        lazy.setAudit(auditing);
        auditing.preinit();
    }

    /**
     * What the start-up search tells the modules: la_objopen for the program and ld.so,
     * la_activity(ADD), then each object as it is found, mapped first and given its link-map
     * node, which r_debug's first update lists under the id reserved here.
     */
    private static final class StartupFound implements AuditedSearch.Found {
        private final Auditing audit;
        private final AgentProcess agent;
        private final LinkSession session;
        private final Map<LoadedObject, Long> nodeIds = new IdentityHashMap<>();

        StartupFound(Auditing audit, AgentProcess agent, LinkSession session) {
            this.audit = audit;
            this.agent = agent;
            this.session = session;
        }

        @Override
        public void starting(LoadedObject main, LoadedObject rtld) {
            prepare(main);
            audit.openStartup(main, rtld);
        }

        @Override
        public void found(LoadedObject o) {
            prepare(o);
            audit.found(o);
        }

        @Override
        public void tried(String file, LoadedObject requester, long flag) {
            audit.tried(file, requester, flag);
        }

        @Override
        public String renamed(String name, LoadedObject requester) {
            return audit.searchName(name, requester);
        }

        /** A jdryad object is mapped and its node reserved (ids 1 up, in load order, as the first update numbers them). */
        private void prepare(LoadedObject o) {
            if (!o.isHost()) {
                session.mapEarly(o);
                long id = nodeIds.size() + 1L;
                nodeIds.put(o, id);
                audit.reservedNode(o, agent.reserveNode(id, o.base(), o.dynamicAddress(), o.path().toString(), 0));
            }
        }
    }
}
