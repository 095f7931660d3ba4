package org.jdryad.cli;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.jdryad.search.DependencyGraph;
import org.jdryad.search.GraphEntry;
import org.jdryad.search.LoadedLibrary;
import org.jdryad.search.MissingLibrary;
import org.jdryad.search.SearchDirectory;

/** Renders a {@link DependencyGraph} as glibc's ldd does, as a tree, or as Graphviz DOT. */
final class LddFormatter {
    static final String VDSO = "linux-vdso.so.1";
    private static final long PAGE = 0x1000;
    private static final long TOP = 0x7ffff7ff0000L;
    private static final long VDSO_SIZE = 0x2000;

    private LddFormatter() {
    }

    /** One line of ldd's listing: a loaded object, the vdso, or a missing library. */
    record Line(String name, String path, long address, boolean missing) {
        String render() {
            if (missing) {
                return "\t" + name + " => not found";
            }
            if (path == null || name.equals(path)) {
                return String.format("\t%s (0x%016x)", name, address);
            }
            return String.format("\t%s => %s (0x%016x)", name, path, address);
        }
    }

    /**
     * The objects in the order ldd lists them: glibc's namespace list after the program. The vdso
     * follows the program; the interpreter is moved right after the object that precedes it in
     * the search list (missing libraries are not in the search list), as rtld.c does in trace
     * mode; missing libraries stay where they were requested.
     */
    static List<Line> lines(DependencyGraph graph) {
        List<GraphEntry> order = graph.loadOrder();
        LoadedLibrary rtld = graph.interpreter().orElse(null);
        List<Object> chain = new ArrayList<>();
        chain.add(graph.executable());
        chain.add(VDSO);
        LoadedLibrary before = null;
        LoadedLibrary lastReal = null;
        for (GraphEntry e : order) {
            if (e == graph.executable()) {
                lastReal = graph.executable();
                continue;
            }
            if (e == rtld) {
                before = lastReal;
                continue;
            }
            if (e instanceof LoadedLibrary l) {
                lastReal = l;
            }
            chain.add(e);
        }
        if (before != null) {
            int at = chain.indexOf(before);
            chain.add(at + 1, rtld);
        }
        Map<Object, Long> addresses = assignAddresses(chain);
        List<Line> out = new ArrayList<>();
        for (Object o : chain) {
            if (o == graph.executable()) {
                continue;
            }
            if (o == VDSO) {
                out.add(new Line(VDSO, null, addresses.get(o), false));
            } else if (o instanceof MissingLibrary m) {
                out.add(new Line(m.name(), null, 0, true));
            } else if (o instanceof LoadedLibrary l) {
                out.add(new Line(l.name(), l.path(), addresses.get(o), false));
            }
        }
        return out;
    }

    /** Page-aligned addresses assigned top-down in list order, each object its mapped span. */
    private static Map<Object, Long> assignAddresses(List<Object> chain) {
        Map<Object, Long> out = new IdentityHashMap<>();
        long cursor = TOP;
        for (Object o : chain) {
            long span;
            if (o == VDSO) {
                span = VDSO_SIZE;
            } else if (o instanceof LoadedLibrary l && l.kind() != LoadedLibrary.Kind.EXECUTABLE) {
                span = l.elf() == null ? PAGE : Math.max(PAGE, l.elf().mappedSpan(PAGE));
            } else {
                continue;
            }
            cursor -= (span + PAGE - 1) & -PAGE;
            cursor -= PAGE; // a guard page between objects
            out.put(o, cursor);
        }
        return out;
    }

    /** The --tree rendering. */
    static List<String> tree(DependencyGraph graph) {
        List<String> out = new ArrayList<>();
        LoadedLibrary exe = graph.executable();
        out.add(exe.path());
        Map<LoadedLibrary, Boolean> shown = new IdentityHashMap<>();
        shown.put(exe, true);
        List<GraphEntry> top = new ArrayList<>();
        for (LoadedLibrary l : graph.objects()) {
            if (l.preloaded()) {
                top.add(l);
            }
        }
        top.addAll(exe.dependencies());
        for (int i = 0; i < top.size(); i++) {
            treeEntry(top.get(i), "", i == top.size() - 1, shown, out);
        }
        return out;
    }

    private static void treeEntry(GraphEntry e, String indent, boolean last, Map<LoadedLibrary, Boolean> shown,
            List<String> out) {
        String branch = indent + (last ? "└── " : "├── ");
        String childIndent = indent + (last ? "    " : "│   ");
        if (e instanceof MissingLibrary m) {
            out.add(branch + m.name() + " => not found");
            for (SearchDirectory d : m.searched()) {
                out.add(childIndent + "    tried " + d);
            }
            for (String r : m.rejected()) {
                out.add(childIndent + "    passed over " + r);
            }
            return;
        }
        LoadedLibrary l = (LoadedLibrary) e;
        StringBuilder sb = new StringBuilder(branch).append(l.name());
        if (!l.name().equals(l.path())) {
            sb.append(" => ").append(l.path());
        }
        List<String> tags = new ArrayList<>();
        tags.add(l.foundBy().label());
        if (l.preloaded()) {
            tags.add("preload");
        }
        if (l.host()) {
            tags.add("host");
        }
        boolean again = shown.containsKey(l);
        if (again) {
            tags.add("see above");
        }
        sb.append(" [").append(String.join(", ", tags)).append(']');
        out.add(sb.toString());
        if (again) {
            return;
        }
        shown.put(l, true);
        List<GraphEntry> deps = l.dependencies();
        for (int i = 0; i < deps.size(); i++) {
            treeEntry(deps.get(i), childIndent, i == deps.size() - 1, shown, out);
        }
    }

    /** The --dot rendering. */
    static List<String> dot(DependencyGraph graph) {
        List<String> out = new ArrayList<>();
        out.add("digraph dependencies {");
        out.add("  rankdir=LR;");
        out.add("  node [shape=box, fontname=\"monospace\"];");
        Map<Object, String> ids = new IdentityHashMap<>();
        int n = 0;
        for (GraphEntry e : graph.loadOrder()) {
            String id = "n" + n++;
            ids.put(e, id);
            if (e instanceof LoadedLibrary l) {
                String label = l.name() + (l.name().equals(l.path()) ? "" : "\n" + l.path()) + "\n(" + l.foundBy().label()
                        + (l.preloaded() ? ", preload" : "") + ")";
                String style = l.kind() == LoadedLibrary.Kind.EXECUTABLE ? ", style=bold"
                        : l.host() ? ", style=filled, fillcolor=lightgrey" : "";
                out.add("  " + id + " [label=\"" + esc(label) + "\"" + style + "];");
            } else if (e instanceof MissingLibrary m) {
                out.add("  " + id + " [label=\"" + esc(m.name() + "\nnot found") + "\", color=red, fontcolor=red];");
            }
        }
        for (GraphEntry e : graph.loadOrder()) {
            if (e instanceof LoadedLibrary l) {
                if (l.preloaded()) {
                    out.add("  " + ids.get(graph.executable()) + " -> " + ids.get(l) + " [style=dashed, label=\"preload\"];");
                }
                for (GraphEntry d : l.dependencies()) {
                    String to = ids.get(d);
                    if (to != null) {
                        out.add("  " + ids.get(l) + " -> " + to + ";");
                    }
                }
            }
        }
        out.add("}");
        return out;
    }

    private static String esc(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
