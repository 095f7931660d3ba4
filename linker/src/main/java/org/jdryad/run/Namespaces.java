package org.jdryad.run;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jdryad.agent.AgentProcess;
import org.jdryad.agent.Protocol;
import org.jdryad.link.LinkSession;
import org.jdryad.link.LoadedObject;

/**
 * The namespaces dlmopen made, and their lease on glibc's namespace of the same id. Separate
 * from {@link DynamicLoader} because this bookkeeping with glibc's handles is all a namespace
 * adds to dlopen and dlclose. Its state is guarded by the loader's monitor: every method is
 * called with it held, as when these were the loader's own methods and fields.
 *
 * <p>The rule: every namespace jdryad makes is also one of glibc's, with the
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
final class Namespaces {
    /** glibc's LM_ID_NEWLM: dlmopen into a new namespace. */
    static final long LM_ID_NEWLM = -1;

    /**
     * A namespace dlmopen made: its search (a resolver of its own), and glibc's handle of the
     * ld.so stand-in that keeps glibc's namespace of the same id taken.
     */
    record Namespace(long lmid, DynamicLoader.DlopenResolver resolver, long anchor) {
    }

    private final DynamicLoader loader;
    private final LinkSession session;
    /** The base namespace's search, which makes each new namespace's. */
    private final DynamicLoader.DlopenResolver resolver;
    /** The namespaces dlmopen made, by id (the base namespace is not among them). */
    private final Map<Long, Namespace> namespaces = new java.util.HashMap<>();

    /** The namespaces of {@code loader}'s dlmopen: it reads the loader's agent as it is at each call. */
    Namespaces(DynamicLoader loader, LinkSession session, DynamicLoader.DlopenResolver resolver) {
        this.loader = loader;
        this.session = session;
        this.resolver = resolver;
    }

    /**
     * Takes {@code other}'s namespaces (DynamicLoader.copyFor): their searches stay the
     * parent's (a known limit); glibc's dlclose is looked up again when first needed.
     */
    void copyFrom(Namespaces other) {
        namespaces.putAll(other.namespaces);
    }

    /** The namespace dlmopen made with this id, or null (the base namespace, or one jdryad did not make). */
    Namespace get(long lmid) {
        return namespaces.get(lmid);
    }

    /**
     * A new namespace: glibc's dlmopen opens ld.so's stand-in in a new namespace of its own, whose
     * id it is. By its soname, the name libc.so.6's DT_NEEDED asks for: glibc's stand-in has no
     * file identity, so opened by another name (a path) glibc would make a second stand-in when
     * libc is loaded there, and its _dl_fini would then fail an assertion at exit.
     */
    Namespace make() {
        AgentProcess.NamespacedHost anchor = loader.agent().dlmopenHost(LM_ID_NEWLM, DynamicLoader.RTLD_SONAME,
                Protocol.RTLD_NOW);
        Namespace ns = new Namespace(anchor.lmid(), resolver.newNamespace(anchor.lmid()), anchor.library().handle());
        namespaces.put(ns.lmid(), ns);
        return ns;
    }

    /**
     * Objects unloaded (or a failed dlopen's) leave the search that found them: the base
     * namespace's or a dlmopen namespace's (each search passes over objects it does not hold).
     * Why every one: a dlclose's group is found from the handle, not from the namespace it was
     * opened in; taken out of the base search only, a namespace's object stayed findable there
     * after it was unmapped, and the next dlmopen of it into that namespace failed.
     */
    void unloadFromSearches(List<LoadedObject> gone) {
        resolver.unload(gone);
        for (Namespace ns : namespaces.values()) {
            ns.resolver().unload(gone);
        }
    }

    /** A namespace whose last object left (or whose first dlmopen failed) gives its id back to glibc. */
    void closeIfEmpty(Namespace ns) {
        if (namespaces.get(ns.lmid()) == ns && session.objectsOf(ns.lmid()).isEmpty()) {
            namespaces.remove(ns.lmid());
            loader.agent().dlcloseHost(ns.anchor());
        }
    }

    /** {@link #closeIfEmpty} of every namespace, after a dlclose (which may have emptied several). */
    void closeEmpty() {
        for (Namespace ns : new ArrayList<>(namespaces.values())) {
            closeIfEmpty(ns);
        }
    }

    /** glibc's dlclose of the host objects glibc's dlmopen loaded for a namespace, last loaded first. */
    void closeHostsOf(List<LoadedObject> gone) {
        for (int i = gone.size() - 1; i >= 0; i--) {
            LoadedObject o = gone.get(i);
            if (o.isHost() && o.glibcHandle() != 0) {
                loader.agent().dlcloseHost(o.glibcHandle());
            }
        }
    }

}
