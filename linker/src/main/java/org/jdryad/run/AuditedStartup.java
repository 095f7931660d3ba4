package org.jdryad.run;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import org.jdryad.agent.AgentProcess;
import org.jdryad.debug.SearchTrace;
import org.jdryad.elf.ElfFile;
import org.jdryad.link.LinkSession;
import org.jdryad.link.LoadedObject;
import org.jdryad.search.FoundBy;
import org.jdryad.search.LoadedLibrary;
import org.jdryad.search.SearchListener;
import org.jdryad.search.StartupNameAudit;

/**
 * The start-up library search with audit modules, in glibc's dl_main order: with the modules
 * loaded (Auditing), la_objopen for the program and ld.so and la_activity(ADD); then each name
 * the search looks for is offered to la_objsearch(LA_SER_ORIG), whose answer is followed (another
 * name or a path; a refusal stops the start-up with glibc's error), each file it tries is told to
 * la_objsearch with its list's flag, and each object it finds is made, mapped and told to
 * la_objopen at once, before the searches for its own dependencies, which carry its cookie.
 *
 * <p>Why apart from the plain start-up: without modules jdryad searches for the whole graph
 * before the program's process exists (the static TLS it needs picks the agent). With modules the
 * answers decide what is found, so the search runs again once they are loaded, object by object;
 * the search made before (quietly, for the agent) only taught which directories glibc would know
 * to be missing (AuditSearches#learnFrom).
 */
final class AuditedStartup implements SearchListener, SearchTrace.Attempts, StartupNameAudit {
    /** Makes the object of a node the search found, as every start-up object is made (ProgramRunner). */
    interface ObjectMaker {
        LoadedObject make(ObjectGraph.Node node, int index);
    }

    private final Auditing audit;
    private final AgentProcess agent;
    private final LinkSession session;
    private final ObjectMaker maker;
    private final ElfFile exe;
    private final String programName;
    /** The quiet search's record (null: it failed): its files in directories glibc knows to be missing are not told. */
    private final AuditSearches learnt;
    private final Map<LoadedLibrary, LoadedObject> byLibrary = new IdentityHashMap<>();
    private final Map<Path, LoadedObject> byPath = new HashMap<>();
    /** The r_debug ids the jdryad objects' nodes were reserved under, 1 up in load order. */
    private final Map<LoadedObject, Long> nodeIds = new IdentityHashMap<>();
    /** Who the name being looked for is needed by (null: the program). */
    private LoadedObject requester;
    /** The start-up search is over: later (dlopen) searches are told as before. */
    private boolean over;

    AuditedStartup(Auditing audit, AgentProcess agent, LinkSession session, ObjectMaker maker, ElfFile exe,
                   String programName, AuditSearches learnt) {
        this.audit = audit;
        this.agent = agent;
        this.session = session;
        this.maker = maker;
        this.exe = exe;
        this.programName = programName;
        this.learnt = learnt;
    }

    @Override
    public void startingWith(LoadedLibrary program, LoadedLibrary interpreter) {
        if (over) {
            return;
        }
        LoadedObject main = made(program);
        LoadedObject rtld = interpreter != null && interpreter.elf() != null ? made(interpreter) : null;
        audit.openStartup(main, rtld);
    }

    @Override
    public void lookingFor(String name, LoadedLibrary loader, Reason why) {
        if (!over) {
            requester = loader == null ? null : byLibrary.get(loader);
        }
    }

    @Override
    public String rename(String name, LoadedLibrary loader) {
        return over ? name : audit.searchName(name, loader == null ? null : byLibrary.get(loader));
    }

    @Override
    public void trying(String candidate, FoundBy list) {
        long flag = AuditSearches.flagOf(list);
        if (over || flag == 0 || (learnt != null && learnt.skipped(candidate))) {
            return;
        }
        audit.objsearchTried(candidate, requester, flag);
    }

    @Override
    public void newObject(String name, LoadedLibrary library) {
        if (!over) {
            audit.openFound(made(library));
        }
    }

    /** The object for what the search found: a jdryad object is mapped and given its link-map node now. */
    private LoadedObject made(LoadedLibrary lib) {
        ObjectGraph.Node n = ObjectGraph.nodeOf(lib, exe, programName);
        LoadedObject o = maker.make(n, byLibrary.size());
        if (!o.isHost()) {
            session.mapEarly(o);
            long id = nodeIds.size() + 1L;
            nodeIds.put(o, id);
            audit.reservedNode(o, agent.reserveNode(id, o.base(), o.dynamicAddress(), o.path().toString()));
        }
        byLibrary.put(lib, o);
        byPath.put(n.path(), o);
        return o;
    }

    /** The object made for {@code n} while searching (null: none), taken once. */
    LoadedObject take(ObjectGraph.Node n) {
        return byPath.remove(n.path());
    }

    /** The reserved nodes' ids, which the first r_debug update must use. */
    Map<LoadedObject, Long> nodeIds() {
        return nodeIds;
    }

    /** The start-up search is over. */
    void end() {
        over = true;
    }
}
