package org.jdryad.run;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.jdryad.agent.AgentException;
import org.jdryad.agent.AgentProcess;
import org.jdryad.debug.BindingHistory;
import org.jdryad.link.LinkSession;
import org.jdryad.link.LoadedObject;

/**
 * One process's link state: its session (objects, scopes, relocation dependencies), its loader
 * (handles, open counts, initialisers), its namespace for dlopen names, and its agent. Why a
 * class: a forked child needs all of it as its parent had it at the fork, and then a life of its
 * own, so the run's state is one value that can be frozen ({@link #frozen}, kept by
 * {@link ForkSnapshots}) and thawed into a child ({@link #child}).
 */
final class ProcessLink {
    /** Turns graph nodes into LoadedObjects for a dlopen (ProgramRunner: provenance, host objects). */
    interface Objects {
        DynamicLoader.Resolution resolve(AgentProcess agent, ObjectGraph graph, Map<ObjectGraph.Node, LoadedObject> byNode,
                                         String name, LoadedObject caller, boolean noload, AuditedSearch.Found found);
    }

    final long pid;
    final AgentProcess agent;
    final LinkSession session;
    final DynamicLoader loader;
    final LazyBinder lazy;
    private final ObjectGraph graph;
    private final Map<ObjectGraph.Node, LoadedObject> byNode;
    private final Objects objects;
    /** A frozen state's audit modules (their state at the fork; null: none, or a live link's, in lazy). */
    private final Auditing frozenAudit;
    private ForkSnapshots forks;

    private ProcessLink(long pid, AgentProcess agent, LinkSession session, DynamicLoader loader, LazyBinder lazy,
                        ObjectGraph graph, Map<ObjectGraph.Node, LoadedObject> byNode, Objects objects) {
        this.pid = pid;
        this.agent = agent;
        this.session = session;
        this.loader = loader;
        this.lazy = lazy;
        this.graph = graph;
        this.byNode = byNode;
        this.objects = objects;
        this.frozenAudit = null;
    }

    /** A frozen copy of {@code live}'s state, with its audit modules' state as of now. */
    private ProcessLink(ProcessLink live, LinkSession session, DynamicLoader loader, ObjectGraph graph,
                        Map<ObjectGraph.Node, LoadedObject> byNode) {
        this.pid = live.pid;
        this.agent = null;
        this.session = session;
        this.loader = loader;
        this.lazy = null;
        this.graph = graph;
        this.byNode = byNode;
        this.objects = live.objects;
        Auditing a = live.lazy == null ? null : live.lazy.audit();
        this.frozenAudit = a == null ? null : a.forProcess(null, loader, session);
    }

    /** The resolver a loader over {@code graph} and {@code byNode} uses for dlopen and dlclose. */
    static DynamicLoader.DlopenResolver resolver(Objects objects, AgentProcess agent, ObjectGraph graph,
                                                 Map<ObjectGraph.Node, LoadedObject> byNode) {
        return new DynamicLoader.DlopenResolver() {
            @Override
            public DynamicLoader.Resolution resolve(String name, LoadedObject caller, AuditedSearch.Found found) {
                return objects.resolve(agent, graph, byNode, name, caller, false, found);
            }

            @Override
            public DynamicLoader.Resolution findLoaded(String name, LoadedObject caller) {
                return objects.resolve(agent, graph, byNode, name, caller, true, null);
            }

            @Override
            public DynamicLoader.DlopenResolver newNamespace(long lmid) {
                return resolver(objects, agent, graph.newNamespace(lmid), new IdentityHashMap<>());
            }

            @Override
            public void unload(List<LoadedObject> gone) {
                List<ObjectGraph.Node> nodes = new ArrayList<>();
                byNode.entrySet().removeIf(e -> {
                    if (gone.contains(e.getValue())) {
                        nodes.add(e.getKey());
                        return true;
                    }
                    return false;
                });
                graph.unload(nodes);
            }
        };
    }

    /** The run's own process, linked: its children are forked from this. */
    static ProcessLink ofRun(AgentProcess agent, LinkSession session, DynamicLoader loader, LazyBinder lazy,
                             ObjectGraph graph, Map<ObjectGraph.Node, LoadedObject> byNode, Objects objects) {
        ProcessLink p = new ProcessLink(agent.info().pid(), agent, session, loader, lazy, graph, byNode, objects);
        p.watchForks();
        return p;
    }

    /** Keeps the states this process's children are forked in; without the agent's counters, its children bind lazily only. */
    private void watchForks() {
        try {
            forks = new ForkSnapshots(agent, loader, this::frozen);
            loader.setForkSnapshots(forks);
        } catch (AgentException e) {
            forks = null;
        }
    }

    /** The state a child forked in {@code generation} of this process starts from, or null. */
    ProcessLink stateForChild(long generation) {
        return forks == null ? null : forks.stateOf(generation);
    }

    /** A copy of the state now, attached to no process (under the loader's lock: nothing changes meanwhile). */
    private ProcessLink frozen() {
        synchronized (loader) {
            LinkSession s = session.copyFor(null, session.history());
            ObjectGraph g = graph.copy();
            Map<ObjectGraph.Node, LoadedObject> b = new IdentityHashMap<>(byNode);
            return new ProcessLink(this, s, loader.copyFor(s, null, pid), g, b);
        }
    }

    /**
     * The link of child {@code childPid}, which {@code child} carries out, from this frozen state:
     * every part copied again (a kept state may serve several children), bindings and events
     * recorded under the child's pid in {@code history}.
     */
    ProcessLink child(AgentProcess child, long childPid, BindingHistory history, boolean bindNot, String program) {
        LinkSession s = session.copyFor(new AgentMemory(child), history.forProcess(childPid));
        s.setLazyObserver(staleTablesIn(child));
        ObjectGraph g = graph.copy();
        Map<ObjectGraph.Node, LoadedObject> b = new IdentityHashMap<>(byNode);
        DynamicLoader l = loader.copyFor(s, resolver(objects, child, g, b), childPid);
        l.attachChild(child);
        LazyBinder lazy = new LazyBinder(s, bindNot, program);
        if (frozenAudit != null) {
            // The child's first calls, dlopens, dlsyms and dlcloses are audited in the child, as glibc's.
            Auditing a = frozenAudit.forProcess(child, l, s);
            lazy.setAudit(a);
            l.inheritAudit(a);
        }
        ProcessLink p = new ProcessLink(childPid, child, s, l, lazy, g, b, objects);
        p.watchForks();
        return p;
    }

    /**
     * The child's copy of the fast path's tables was prepared for its parent's scopes: once the
     * child's scopes change (RTLD_GLOBAL, dlclose), its first calls must ask Java, so the child's
     * generation word moves away from every table's (nobody prepares the child's answers).
     */
    private static LinkSession.LazyObserver staleTablesIn(AgentProcess child) {
        Long address = child.info().agentSymbols().get("jd_lazy_generation");
        AtomicLong next = new AtomicLong(1L << 62);
        return new LinkSession.LazyObserver() {
            @Override
            public void added(long id, LoadedObject obj) {
            }

            @Override
            public void scopesChanged() {
                if (address != null) {
                    ByteBuffer w = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(next.incrementAndGet());
                    child.write(address, w.array(), 0, 8);
                }
            }
        };
    }
}
