package org.jdryad.search;

/** An entry of the dependency graph in load order: a loaded object or a library that was not found. */
public sealed interface GraphEntry permits LoadedLibrary, MissingLibrary {
    /** The name it was requested by (DT_NEEDED string after $ORIGIN expansion, or preload name). */
    String name();
}
