package org.jdryad.search;

import java.util.List;
import java.util.Optional;

/**
 * The loaded objects of the program's namespace after start-up, and glibc 2.36's run-time
 * {@code dlopen} search in it ({@code _dl_map_object} + {@code _dl_map_object_deps} from
 * {@code dl_open_worker_begin}): the same search code and the same rpath/runpath caches as the
 * start-up walk, with glibc's fatal-error behaviour instead of ldd's trace mode.
 *
 * <p>Obtained from {@link DependencyGraph#namespace()} or {@link LibrarySearch#resolveNamespace}.
 * Thread-safe: every method is synchronized on the namespace. Closing the namespace (or its
 * graph) closes the files of every object, start-up and dlopened.
 */
public final class SearchNamespace implements AutoCloseable {
    private final SearchSession session;
    private DependencyGraph graph;
    private boolean closed;

    SearchNamespace(SearchSession session) {
        this.session = session;
    }

    void setGraph(DependencyGraph graph) {
        this.graph = graph;
    }

    /**
     * The namespace of a process forked from this one's: the same objects, names and search
     * lists as now, changed by its own dlopen and dlclose from then on. Closing it closes only the
     * files it opened itself.
     */
    public synchronized SearchNamespace copy() {
        checkOpen();
        SearchNamespace c = new SearchNamespace(session.copy());
        c.graph = graph;
        return c;
    }

    /**
     * A namespace of dlmopen's (LM_ID_NEWLM): the same search configuration and program, none of
     * this one's objects. Closing it closes only the files it opened itself.
     */
    public synchronized SearchNamespace fresh() {
        checkOpen();
        SearchNamespace c = new SearchNamespace(session.fresh());
        c.graph = graph;
        return c;
    }

    /** The start-up result (a snapshot: objects added by {@link #dlopen} are not in it). */
    public DependencyGraph graph() {
        return graph;
    }

    /** The program. */
    public LoadedLibrary executable() {
        return graph.executable();
    }

    /**
     * Every loaded object in load order ({@link LoadedLibrary#loadIndex()} ascending): the start-up
     * objects, then those added by successful {@link #dlopen} calls.
     */
    public synchronized List<LoadedLibrary> objects() {
        return session.loadedObjects();
    }

    /**
     * glibc's {@code dlopen(name, ...)} search from the object {@code caller}.
     *
     * <p>A null or empty name is the program (no search). A name with '/' is opened as given
     * ($ORIGIN etc. expanded with the caller's values; relative to the working directory of the
     * configuration). Otherwise an object that answers to the name (a name it was requested by, or
     * its soname) is returned; else the search runs as for DT_NEEDED with the caller as the loading
     * object: DT_RPATH of the caller and its loaders and of the program (unless the caller has
     * DT_RUNPATH), LD_LIBRARY_PATH, DT_RUNPATH of the caller, ld.so.cache, the system directories.
     * A file that is an object loaded already (same device and inode) is that object. Then the
     * new object's dependencies are loaded breadth-first. On any failure every object added by the
     * call is removed again, as glibc unloads them (names recorded on objects that were loaded
     * before stay, as in glibc).
     *
     * @param caller the object containing the call site; null or an object not in this namespace
     *     means the program, as glibc does for unknown callers
     */
    public synchronized DlopenResult dlopen(String name, LoadedLibrary caller) {
        checkOpen();
        return session.dlopen(name, caller);
    }

    /**
     * {@code dlopen(name, RTLD_NOLOAD)} from {@code caller} as glibc answers it: the loaded object
     * the name resolves to with its search list (nothing is ever loaded), a result for which
     * {@link DlopenResult#notLoadedResult()} holds when the file is found but not loaded, or
     * glibc's error when no file is found.
     */
    public synchronized DlopenResult dlopenNoload(String name, LoadedLibrary caller) {
        checkOpen();
        return session.dlopenNoload(name, caller);
    }

    /**
     * {@code dlopen(name, RTLD_NOLOAD)}: the loaded object the name resolves to from the program,
     * never loading anything. As glibc, a name that matches no loaded object is also searched for
     * and the file found is compared with the loaded objects by device and inode.
     */
    public synchronized Optional<LoadedLibrary> findLoaded(String name) {
        return findLoaded(name, null);
    }

    /** {@link #findLoaded(String)} with the search from {@code caller} (null: the program). */
    public synchronized Optional<LoadedLibrary> findLoaded(String name, LoadedLibrary caller) {
        checkOpen();
        return Optional.ofNullable(session.findLoaded(name, caller));
    }

    /**
     * dlclose: the objects leave the namespace, as glibc removes unloaded objects from its link
     * map; a later dlopen of the same name loads the file again.
     */
    public synchronized void unload(List<LoadedLibrary> objects) {
        checkOpen();
        session.unload(objects);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("namespace closed");
        }
    }

    /** Closes the mapped files of every object. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            session.closeAll();
        }
    }
}
