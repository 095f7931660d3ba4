package org.jdryad.search;

import java.util.List;
import java.util.Optional;

/**
 * The outcome of {@link SearchNamespace#dlopen}: either the object the name resolved to with the
 * objects that the call added to the namespace and the root's lookup scope, or glibc's error.
 */
public final class DlopenResult {
    private final LoadedLibrary root;
    private final List<LoadedLibrary> newObjects;
    private final List<LoadedLibrary> searchList;
    private final LoadError error;
    private final String dlerror;

    private DlopenResult(LoadedLibrary root, List<LoadedLibrary> newObjects, List<LoadedLibrary> searchList,
            LoadError error, String dlerror) {
        this.root = root;
        this.newObjects = List.copyOf(newObjects);
        this.searchList = List.copyOf(searchList);
        this.error = error;
        this.dlerror = dlerror;
    }

    static DlopenResult success(LoadedLibrary root, List<LoadedLibrary> newObjects, List<LoadedLibrary> searchList) {
        return new DlopenResult(root, newObjects, searchList, null, null);
    }

    /** RTLD_NOLOAD of a file that is not loaded: no object, no error. */
    static DlopenResult notLoaded() {
        return new DlopenResult(null, List.of(), List.of(), null, null);
    }

    /** True for {@link #notLoaded()}: the call succeeded without an object (dlopen returns NULL). */
    public boolean notLoadedResult() {
        return error == null && root == null;
    }

    static DlopenResult failure(LoadError error, String dlerror) {
        return new DlopenResult(null, List.of(), List.of(), error, dlerror);
    }

    /** True when the name resolved and every dependency was found. */
    public boolean ok() {
        return error == null;
    }

    /**
     * The object the name resolved to (newly loaded or already present).
     *
     * @throws IllegalStateException when the call failed
     */
    public LoadedLibrary root() {
        if (root == null) {
            throw new IllegalStateException("dlopen failed: " + dlerror);
        }
        return root;
    }

    /**
     * The objects this call added to the namespace, in load order (the root first when it is new);
     * empty when everything was loaded already or the call failed.
     */
    public List<LoadedLibrary> newObjects() {
        return newObjects;
    }

    /**
     * The root's dependency closure breadth-first, the root first, including objects that were
     * loaded already: glibc's {@code l_searchlist}, the scope of {@code dlsym(handle)}. For the
     * program (a null or empty name) the start-up load order, preloads included. Empty on failure.
     */
    public List<LoadedLibrary> searchList() {
        return searchList;
    }

    /** The failure in glibc's terms (object and message without the errno text). */
    public Optional<LoadError> error() {
        return Optional.ofNullable(error);
    }

    /**
     * The exact text glibc's {@code dlerror()} returns for the failure, e.g.
     * {@code "libx.so: cannot open shared object file: No such file or directory"}.
     */
    public Optional<String> dlerror() {
        return Optional.ofNullable(dlerror);
    }

    @Override
    public String toString() {
        return ok() ? "dlopen -> " + root + " (+" + newObjects.size() + " new)" : "dlopen failed: " + dlerror;
    }
}
