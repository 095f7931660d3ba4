package org.jdryad.run;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdryad.elf.ElfFile;
import org.jdryad.link.LinkException;
import org.jdryad.search.DependencyGraph;
import org.jdryad.search.DlopenResult;
import org.jdryad.search.GraphEntry;
import org.jdryad.search.LibrarySearch;
import org.jdryad.search.LoadedLibrary;
import org.jdryad.search.SearchConfig;
import org.jdryad.search.SearchListener;
import org.jdryad.search.SearchNamespace;
import org.jdryad.search.NameAudit;

/** The objects a program needs, in load order, as the search found them; a missing library is an error. */
final class ObjectGraph {
    /** One object: its file, the name gdb shows, whether it is glibc's, its resolved DT_NEEDED. */
    record Node(ElfFile elf, String name, Path path, boolean host, Optional<String> soname, List<Node> dependencies) {
    }

    /** What dlopen(name) brings: the root object, the nodes new to the namespace, the root's search list. */
    record Dlopen(Node root, List<Node> added, List<Node> searchList, String error) {
    }

    private final List<Node> nodes;
    private final SearchNamespace namespace;
    /** The link-map namespace (0: the base one; else glibc's id of a namespace dlmopen made). */
    private final long lmid;
    private final Map<LoadedLibrary, Node> nodeOf;
    private final Map<Node, LoadedLibrary> libraryOf = new IdentityHashMap<>();

    private ObjectGraph(List<Node> nodes, SearchNamespace namespace, Map<LoadedLibrary, Node> nodeOf) {
        this(nodes, namespace, nodeOf, 0);
    }

    private ObjectGraph(List<Node> nodes, SearchNamespace namespace, Map<LoadedLibrary, Node> nodeOf, long lmid) {
        this.nodes = nodes;
        this.namespace = namespace;
        this.lmid = lmid;
        this.nodeOf = nodeOf;
        nodeOf.forEach((lib, node) -> libraryOf.put(node, lib));
    }

    /** The graph of a process forked from this one's: the same nodes, a namespace of its own (see SearchNamespace#copy). */
    synchronized ObjectGraph copy() {
        return new ObjectGraph(nodes, namespace.copy(), new IdentityHashMap<>(nodeOf), lmid);
    }

    /** The graph of namespace {@code lmid}, which dlmopen made: no objects yet, the same search. */
    synchronized ObjectGraph newNamespace(long lmid) {
        return new ObjectGraph(List.of(), namespace.fresh(), new IdentityHashMap<>(), lmid);
    }

    /** The link-map namespace of this graph's objects. */
    long lmid() {
        return lmid;
    }

    List<Node> nodes() {
        return nodes;
    }

    /** What the search knows of a node: how it was found and who needed it. */
    synchronized Optional<LoadedLibrary> library(Node n) {
        return Optional.ofNullable(libraryOf.get(n));
    }

    /** Resolves a dlopen name from {@code caller}'s point of view (null: the executable). */
    synchronized Dlopen dlopen(String name, Node caller) {
        return nodes(name, namespace.dlopen(name, caller == null ? null : libraryOf.get(caller)));
    }

    /**
     * dlopen(name, RTLD_NOLOAD) from {@code caller}: a loaded node (nothing added), a root of null
     * and no error when the file the name finds is not loaded, or glibc's error.
     */
    synchronized Dlopen dlopenNoload(String name, Node caller) {
        DlopenResult r = namespace.dlopenNoload(name, caller == null ? null : libraryOf.get(caller));
        if (r.notLoadedResult()) {
            return new Dlopen(null, List.of(), List.of(), null);
        }
        return nodes(name, r);
    }

    private Dlopen nodes(String name, DlopenResult r) {
        if (!r.ok()) {
            return new Dlopen(null, List.of(), List.of(),
                    r.dlerror().orElse(name + ": cannot open shared object file: No such file or directory"));
        }
        List<Node> added = new ArrayList<>();
        for (LoadedLibrary lib : r.newObjects()) {
            added.add(nodeFor(lib));
        }
        for (LoadedLibrary lib : r.newObjects()) {
            for (GraphEntry dep : lib.dependencies()) {
                if (dep instanceof LoadedLibrary l) {
                    nodeOf.get(lib).dependencies().add(nodeFor(l));
                }
            }
        }
        List<Node> searchList = new ArrayList<>();
        for (LoadedLibrary lib : r.searchList()) {
            searchList.add(nodeFor(lib));
        }
        return new Dlopen(nodeFor(r.root()), added, searchList, null);
    }

    /** dlclose: the nodes leave the namespace. */
    synchronized void unload(List<Node> gone) {
        List<LoadedLibrary> libs = new ArrayList<>();
        for (Node n : gone) {
            LoadedLibrary lib = libraryOf.remove(n);
            if (lib != null) {
                nodeOf.remove(lib);
                libs.add(lib);
            }
        }
        namespace.unload(libs);
    }

    private Node nodeFor(LoadedLibrary lib) {
        Node n = nodeOf.get(lib);
        if (n == null) {
            n = new Node(lib.elf(), lib.path(), Path.of(lib.path()), lib.host(), lib.soname(), new ArrayList<>());
            nodeOf.put(lib, n);
            libraryOf.put(n, lib);
        }
        return n;
    }

    static ObjectGraph resolve(ElfFile exe, RunOptions options, SearchListener listener) throws IOException {
        return resolve(exe, options, RunContext.cold(System.err), listener);
    }

    /** As above, in {@code context}: relative paths mean its working directory, warnings go to its err. */
    static ObjectGraph resolve(ElfFile exe, RunOptions options, RunContext context, SearchListener listener)
            throws IOException {
        return resolve(exe, options, context, listener, NameAudit.NONE, true);
    }

    /**
     * As above, with {@code audit} asked before each name is looked for (LD_AUDIT's
     * la_objsearch), and the search's warnings printed only when {@code warn}.
     */
    static ObjectGraph resolve(ElfFile exe, RunOptions options, RunContext context, SearchListener listener,
                               NameAudit audit, boolean warn) throws IOException {
        SearchConfig.Builder b = SearchConfig.builder().executableOrigin(SearchConfig.ExecutableOrigin.RESOLVED)
                .workingDirectory(context.workingDirectory());
        b.secure(SecureMode.applies(exe.path()));
        if (options.libraryPath() != null) {
            b.libraryPath(options.libraryPath(), "LD_LIBRARY_PATH");
        }
        if (options.preload() != null) {
            b.preload(options.preload());
        }
        if (options.preloadOption() != null) {
            b.preloadOption(options.preloadOption());
        }
        DependencyGraph graph = new LibrarySearch(b.build(), listener).resolve(exe.path(), audit);
        if (graph.error().isPresent()) {
            throw new LinkException("error while loading shared libraries: " + graph.error().get().describe());
        }
        if (!graph.missing().isEmpty()) {
            throw new LinkException("error while loading shared libraries: " + notFound(graph.missing().get(0)));
        }
        // When the ./jdryad launcher was started with LD_PRELOAD, the system loader already printed
        // its words about LD_PRELOAD while starting the launcher (a script cannot prevent that):
        // printing them again would say it twice.
        boolean loaderSawPreload = context.loaderSawPreload();
        for (String w : graph.warnings()) {
            if (warn && !(loaderSawPreload && w.contains(" from LD_PRELOAD "))) {
                context.err().println(w);
            }
        }
        Map<LoadedLibrary, Node> byLib = new IdentityHashMap<>();
        List<Node> nodes = new ArrayList<>();
        for (LoadedLibrary lib : graph.objects()) {
            Node n = nodeOf(lib, exe, options.program());
            byLib.put(lib, n);
            nodes.add(n);
        }
        for (LoadedLibrary lib : graph.objects()) {
            for (GraphEntry dep : lib.dependencies()) {
                if (dep instanceof LoadedLibrary l && byLib.containsKey(l)) {
                    byLib.get(lib).dependencies().add(byLib.get(l));
                }
            }
        }
        return new ObjectGraph(nodes, graph.namespace(), byLib);
    }

    /**
     * The node of an object the start-up search found. The program is named as the user named it
     * (argv[0]), as glibc's debug lines name it, also when a bare name was found on PATH; its
     * path is the file.
     */
    static Node nodeOf(LoadedLibrary lib, ElfFile exe, String programName) {
        boolean isExe = lib.kind() == LoadedLibrary.Kind.EXECUTABLE;
        return new Node(isExe ? exe : lib.elf(), isExe ? programName : lib.path(), Path.of(lib.path()),
                lib.host() && !isExe, lib.soname(), new ArrayList<>());
    }

    /** glibc's words for a library no search step found: a 32-bit candidate passed over is named. */
    private static String notFound(org.jdryad.search.MissingLibrary m) {
        boolean class32 = m.rejected().stream().anyMatch(r -> r.contains(": wrong ELF class: "));
        return m.name() + (class32 ? ": wrong ELF class: ELFCLASS32"
                : ": cannot open shared object file: No such file or directory");
    }
}
