package org.jdryad.run;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdryad.agent.ActivityCause;
import org.jdryad.agent.AgentProcess;
import org.jdryad.agent.HostObject;
import org.jdryad.agent.ObjectTableEntry;
import org.jdryad.agent.Protocol;
import org.jdryad.agent.RDebugEntry;
import org.jdryad.agent.RDebugResult;
import org.jdryad.debug.ActivityEvent;
import org.jdryad.debug.ActivityLog;
import org.jdryad.elf.Elf;
import org.jdryad.link.LinkSession;
import org.jdryad.link.LoadedObject;

/**
 * What the outside sees of the link map after every change: gdb's r_debug list of each
 * namespace, the agent's object table (dl_iterate_phdr, _dl_find_object, dladdr), the unwinder's
 * registrations and the activity log; and the nodes r_debug gives the objects, which are their
 * dlopen handles. Separate from {@link DynamicLoader} because it is the one place that turns the
 * session's objects into the agent's wire structures, whatever change (start-up, dlopen, dlclose,
 * a failed dlopen) caused it. Its state is guarded by the loader's monitor: every method is
 * called with it held (DynamicLoader's synchronized methods and blocks), as when these were the
 * loader's own methods and fields.
 */
final class LinkMapPublisher {
    private final DynamicLoader loader;
    private final LinkSession session;
    private final ActivityLog activity;
    /** The process published for, in the activity log (0: the run's own). */
    private final long pid;
    private final Map<LoadedObject, Long> nodes = new IdentityHashMap<>();
    private final Map<Long, LoadedObject> byNode = new java.util.HashMap<>();
    private int nextId = 1;
    private final Map<LoadedObject, Long> ids = new IdentityHashMap<>();

    /** The publisher of {@code loader}'s changes: it reads the loader's agent and unwinder as they are at each change. */
    LinkMapPublisher(DynamicLoader loader, LinkSession session, ActivityLog activity, long pid) {
        this.loader = loader;
        this.session = session;
        this.activity = activity;
        this.pid = pid;
    }

    /** Takes {@code other}'s handles and r_debug ids (DynamicLoader.copyFor, for a forked child). */
    void copyFrom(LinkMapPublisher other) {
        nodes.putAll(other.nodes);
        byNode.putAll(other.byNode);
        nextId = other.nextId;
        ids.putAll(other.ids);
    }

    /** The r_debug ids the objects' nodes were reserved under before the first update (AuditedStartup). */
    void adoptIds(Map<LoadedObject, Long> reserved) {
        ids.putAll(reserved);
        for (long id : reserved.values()) {
            nextId = Math.max(nextId, Math.toIntExact(id + 1));
        }
    }

    /** The object's node in the agent's link map (its dlopen handle), 0 when it has none. */
    long nodeOf(LoadedObject o) {
        return nodes.getOrDefault(o, 0L);
    }

    /** The jdryad object whose node (dlopen handle) this is, or null. */
    LoadedObject objectOf(long node) {
        return byNode.get(node);
    }

    /** The object left the link map: its node is no handle any more. */
    void forget(LoadedObject o) {
        byNode.remove(nodes.remove(o));
        ids.remove(o);
    }

    /**
     * Gives {@code o} (mapped) its node before it is on its namespace's list: the id the next
     * update lists it under, filled in (RESERVE_NODE); its dlopen handle from now on.
     */
    void reserveNode(LoadedObject o) {
        long id = ids.computeIfAbsent(o, k -> (long) nextId++);
        long node = loader.agent().reserveNode(id, o.base(), o.dynamicAddress(), o.path().toString(), o.namespace());
        nodes.put(o, node);
        byNode.put(node, o);
    }

    /**
     * Publishes the current jdryad objects to gdb (r_debug) and to the agent's object table, and
     * records the change as two activity events (added or deleted, then consistent).
     */
    void publish(int kind, List<LoadedObject> changed, ActivityLog.Change why) {
        if (kind == Protocol.RT_ADD) {
            loader.unwind().ifPresent(u -> u.register(changed));
        } else {
            loader.unwind().ifPresent(u -> u.deregister(changed));
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
        RDebugResult rd = loader.agent().rDebugUpdate(kind, entries, names, new ActivityCause(why.cause().code(),
                why.callSite(), why.flags(), why.tid(), first.seq(), why.request()), lmid);
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
        AgentProcess agent = loader.agent();
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
        loader.unwind().ifPresent(u -> agentsOwn.add(u.libgccBase())); // loaded up front, natively at a first need
        for (long base : agentsOwn) {
            if (base != 0 && hostBases.add(base)) {
                table.add(ObjectTableEntry.host(ObjectTableEntry.HIDDEN, base));
            }
        }
        agent.setObjectTable(table);
    }
}
