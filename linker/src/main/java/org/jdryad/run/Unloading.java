package org.jdryad.run;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.jdryad.agent.AgentProcess;
import org.jdryad.agent.Protocol;
import org.jdryad.debug.ActivityLog;
import org.jdryad.link.LinkSession;
import org.jdryad.link.LoadedObject;

/**
 * What keeps dlopened objects loaded (open counts, NODELETE marks) and taking out those nothing
 * keeps any more: a dlclose's unused objects once their finalisers ran, or a failed dlopen's.
 * Separate from {@link DynamicLoader} because glibc's _dl_close_worker is a job of its own:
 * which objects go, then every table they leave (the session, the search, the handles, r_debug,
 * the agent's TLS and mappings, glibc's namespace). Its state is guarded by the loader's
 * monitor: every method is called with it held (the loader's synchronized blocks), as when these
 * were the loader's own methods and fields; what it publishes goes through the loader's
 * synchronized {@link DynamicLoader#publish}, the same monitor again.
 */
final class Unloading {
    private final DynamicLoader loader;
    private final LinkSession session;
    private final LinkMapPublisher links;
    private final Initialisers initialisers;
    private final Namespaces namespaces;
    /** The loader's search lists by dlopen root (its map, which dlsym reads): unloaded objects leave it. */
    private final Map<LoadedObject, List<LoadedObject>> searchLists;
    private final Map<LoadedObject, Integer> openCount = new IdentityHashMap<>();
    /** NODELETE objects: opened with RTLD_NODELETE, or -z nodelete (DF_1_NODELETE) after their dlopen succeeded. */
    private final java.util.Set<LoadedObject> nodelete = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
    /** Objects a dlclose is unloading (their finalisers may be running). */
    private final java.util.Set<LoadedObject> removing = java.util.Collections.newSetFromMap(new IdentityHashMap<>());

    /** The unloading of {@code loader}'s objects, out of these tables of the loader's; it reads the loader's agent, audit and trace as they are at each call. */
    Unloading(DynamicLoader loader, LinkSession session, LinkMapPublisher links,
            Initialisers initialisers, Namespaces namespaces, Map<LoadedObject, List<LoadedObject>> searchLists) {
        this.loader = loader;
        this.session = session;
        this.links = links;
        this.initialisers = initialisers;
        this.namespaces = namespaces;
        this.searchLists = searchLists;
    }

    /** Takes {@code other}'s open counts and NODELETE marks (DynamicLoader.copyFor; nothing is being removed in a copy). */
    void copyFrom(Unloading other) {
        openCount.putAll(other.openCount);
        nodelete.addAll(other.nodelete);
    }

    /** A dlopen of {@code root} succeeded: its open count, this one included. */
    int opened(LoadedObject root) {
        return openCount.merge(root, 1, Integer::sum);
    }

    /** How many dlopen handles of {@code o} are not closed yet. */
    int openCount(LoadedObject o) {
        return openCount.getOrDefault(o, 0);
    }

    /** A dlclose of {@code o}: {@code n} handles of it remain open. */
    void setOpenCount(LoadedObject o, int n) {
        openCount.put(o, n);
    }

    /** {@code o} is never unloaded from now on. */
    void markNodelete(LoadedObject o) {
        nodelete.add(o);
    }

    boolean isNodelete(LoadedObject o) {
        return nodelete.contains(o);
    }

    /** The host object a dlopen or dlmopen of a host library opened (not a start-up one), by glibc's handle (null: none). */
    LoadedObject hostRoot(long handle) {
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
    List<LoadedObject> unused() {
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

    /** A dlclose is unloading {@code group} from now on: a finaliser's own dlclose does not count it as unused again. */
    void startRemoving(List<LoadedObject> group) {
        removing.addAll(group);
    }

    /**
     * The second half of a dlclose, once {@code group}'s finalisers ran: the objects leave every
     * table, r_debug ({@code why}: the DELETE and CONSISTENT events) and the audit modules'
     * view, are unmapped, and glibc closes what it loaded for them (host objects, a namespace
     * that is now empty).
     */
    void unload(List<LoadedObject> group, ActivityLog.Change why) {
        AgentProcess agent = loader.agent();
        DynamicLoader.AuditHooks audit = loader.audit();
        DlopenTls.retire(agent, group);
        session.forget(group);
        namespaces.unloadFromSearches(group);
        for (LoadedObject o : group) {
            links.forget(o);
            searchLists.remove(o);
            openCount.remove(o);
        }
        audit.removing(group);
        loader.publish(Protocol.RT_DELETE, group, why);
        audit.consistent();
        initialisers.publishFinalisers();
        for (LoadedObject o : group) {
            if (!o.isHost() && o.mapLength() > 0) {
                agent.munmap(o.mapStart(), o.mapLength());
            }
        }
        initialisers.forget(group);
        removing.removeAll(group);
        loader.trace().destroyed(group);
        namespaces.closeHostsOf(group);
        namespaces.closeEmpty();
    }

    /**
     * Takes a failed dlopen's objects out again, as glibc's _dl_close_worker does for them: out
     * of the namespace and the search, out of r_debug (when {@code announced} says they were
     * announced: a DELETE and a CONSISTENT event with that cause), then unmapped. No finaliser
     * runs: no initialiser did.
     */
    void undoFailedOpen(List<LoadedObject> added, ActivityLog.Change announced) {
        session.undoDlopened(added);
        namespaces.unloadFromSearches(added);
        for (LoadedObject o : added) {
            links.forget(o);
            searchLists.remove(o);
        }
        if (announced != null) {
            loader.publish(Protocol.RT_DELETE, added, announced);
        }
        for (LoadedObject o : added) {
            if (!o.isHost() && o.mapLength() > 0) {
                loader.agent().munmap(o.mapStart(), o.mapLength());
            }
        }
        namespaces.closeHostsOf(added);
    }
}
