package org.jdryad.search;

/**
 * LD_AUDIT's la_objsearch(LA_SER_ORIG) as the start-up search asks it: before looking for a name
 * no loaded object answers to, the modules may give another name to look for (a path, or a name
 * searched like any), or refuse it. glibc's _dl_map_object asks after its "needed by" line and
 * before searching; the object then loaded answers to the original name too.
 *
 * <p>Why only at start-up: a dlopen's own name is asked by the run-time loader before it
 * resolves (it may be refused before any search), and its dependencies' names are told to the
 * modules as the objects are announced (run/AuditSearches).
 */
@FunctionalInterface
public interface StartupNameAudit {
    /** No module: every name is looked for as it is. */
    StartupNameAudit NONE = (name, requester) -> name;

    /** The name to look for instead of {@code name}, needed by {@code requester}; null when refused. */
    String rename(String name, LoadedLibrary requester);
}
