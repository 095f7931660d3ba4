package org.jdryad.search;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The result of a search: every object in glibc's load order (breadth-first from the program,
 * preloads first), the libraries that were not found, the fatal error that stopped loading if
 * any, and the warnings glibc prints on the way (preloads that cannot be loaded). Owns the
 * mapped files of its objects (and of those its {@link #namespace()} loads later): close it
 * when done.
 */
public final class DependencyGraph implements AutoCloseable {
    private final LoadedLibrary executable;
    private final LoadedLibrary interpreter;
    private final List<GraphEntry> loadOrder;
    private final List<String> warnings;
    private final LoadError error;
    private final SearchNamespace namespace;

    DependencyGraph(LoadedLibrary executable, LoadedLibrary interpreter, List<GraphEntry> loadOrder,
            List<String> warnings, LoadError error, SearchNamespace namespace) {
        this.executable = executable;
        this.interpreter = interpreter;
        this.loadOrder = Collections.unmodifiableList(new ArrayList<>(loadOrder));
        this.warnings = List.copyOf(warnings);
        this.error = error;
        this.namespace = namespace;
        namespace.setGraph(this);
    }

    public LoadedLibrary executable() {
        return executable;
    }

    /**
     * The interpreter object (the system loader), present from the start as in glibc. It is in
     * {@link #loadOrder()} only if something needs it (libc.so.6 does).
     */
    public Optional<LoadedLibrary> interpreter() {
        return Optional.ofNullable(interpreter);
    }

    /**
     * The program, the preloads, then every dependency breadth-first, each object once; missing
     * libraries appear where glibc's trace mode puts them (one entry per request). This is the
     * global scope order.
     */
    public List<GraphEntry> loadOrder() {
        return loadOrder;
    }

    /** The loaded objects in load order (no missing entries), the program first. */
    public List<LoadedLibrary> objects() {
        List<LoadedLibrary> out = new ArrayList<>();
        for (GraphEntry e : loadOrder) {
            if (e instanceof LoadedLibrary l) {
                out.add(l);
            }
        }
        return out;
    }

    /** The missing libraries, in order. */
    public List<MissingLibrary> missing() {
        List<MissingLibrary> out = new ArrayList<>();
        for (GraphEntry e : loadOrder) {
            if (e instanceof MissingLibrary m && !m.auxiliary()) {
                out.add(m);
            }
        }
        return out;
    }

    /** The distinct names of missing libraries, in order. */
    public Set<String> missingNames() {
        Set<String> out = new LinkedHashSet<>();
        for (MissingLibrary m : missing()) {
            out.add(m.name());
        }
        return out;
    }

    /** The error that stopped loading (glibc's "error while loading shared libraries"), if any. */
    public Optional<LoadError> error() {
        return Optional.ofNullable(error);
    }

    /** Messages glibc prints while loading, in its words (e.g. a preload that cannot be loaded). */
    public List<String> warnings() {
        return warnings;
    }

    /** True when nothing is missing and nothing failed. */
    public boolean complete() {
        return error == null && missing().isEmpty();
    }

    /**
     * The namespace these objects live in, for run-time {@code dlopen}. The graph stays a
     * snapshot of start-up; the namespace grows.
     */
    public SearchNamespace namespace() {
        return namespace;
    }

    /** Closes the mapped files of every object, including those the namespace loaded later. */
    @Override
    public void close() {
        namespace.close();
    }
}
