package org.jdryad.search;

/**
 * LD_AUDIT's la_objsearch(LA_SER_ORIG) as the search asks it: before looking for a name no
 * loaded object answers to (a DT_NEEDED entry, a preload, a filtee), the modules may give another
 * name to look for (a path, or a name searched like any), or refuse it. glibc's _dl_map_object
 * asks after its "needed by" line and before searching; the object then loaded answers to the
 * original name too.
 *
 * <p>Not asked for a dlopen's own name: the run-time loader asks that itself, before it resolves
 * (a refused name fails before any search).
 */
@FunctionalInterface
public interface NameAudit {
    /** No module: every name is looked for as it is. */
    NameAudit NONE = (name, requester) -> name;

    /** The name to look for instead of {@code name}, needed by {@code requester}; null when refused. */
    String rename(String name, LoadedLibrary requester);
}
