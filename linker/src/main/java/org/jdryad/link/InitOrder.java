package org.jdryad.link;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The order initialisers run in, as glibc 2.36's default depth-first sort
 * ({@code _dl_sort_maps_dfs}): objects are visited from the end of the load order, each object's
 * DT_NEEDED dependencies depth-first before the object itself; the executable is never entered
 * as a dependency. Initialisers run in post-order (dependencies first, the executable last);
 * finalisers in the reverse.
 */
final class InitOrder {
    private InitOrder() {
    }

    static List<LoadedObject> compute(List<LoadedObject> loadOrder) {
        List<LoadedObject> post = new ArrayList<>();
        Set<LoadedObject> visited = new HashSet<>();
        for (int i = loadOrder.size() - 1; i >= 0; i--) {
            visit(loadOrder.get(i), visited, post);
        }
        return post;
    }

    private static void visit(LoadedObject obj, Set<LoadedObject> visited, List<LoadedObject> post) {
        visit(obj, visited, post, null, null);
    }

    /**
     * The order finalisers run in, at exit (_dl_fini) and for the objects a dlclose unloads
     * (_dl_close_worker), as glibc 2.36's depth-first sort for finalisers: every loaded object,
     * visited from the end of the load order, each after the objects that depend on it through
     * DT_NEEDED or a relocation dependency ({@code reldeps}, visited last to first); when a
     * relocation dependency was met, a second pass over that result by DT_NEEDED alone, so that
     * DT_NEEDED wins where the two disagree. So the executable comes first, then start-up objects
     * and dlopened ones in load order, each before its dependencies.
     */
    static List<LoadedObject> finiOrder(List<LoadedObject> loadOrder,
                                        java.util.function.Function<LoadedObject, List<LoadedObject>> reldeps) {
        List<LoadedObject> post = new ArrayList<>();
        Set<LoadedObject> visited = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        boolean[] sawReldeps = {false};
        for (int i = loadOrder.size() - 1; i >= 0; i--) {
            visit(loadOrder.get(i), visited, post, reldeps, sawReldeps);
        }
        List<LoadedObject> first = new ArrayList<>(post);
        java.util.Collections.reverse(first);
        if (!sawReldeps[0]) {
            return first;
        }
        post.clear();
        visited.clear();
        for (int i = first.size() - 1; i >= 0; i--) {
            visit(first.get(i), visited, post, null, null);
        }
        java.util.Collections.reverse(post);
        return post;
    }

    private static void visit(LoadedObject obj, Set<LoadedObject> visited, List<LoadedObject> post,
                              java.util.function.Function<LoadedObject, List<LoadedObject>> reldeps, boolean[] saw) {
        if (!visited.add(obj)) {
            return;
        }
        for (LoadedObject dep : obj.dependencies()) {
            if (!dep.isExecutable()) {
                visit(dep, visited, post, reldeps, saw);
            }
        }
        List<LoadedObject> rel = reldeps == null ? List.of() : reldeps.apply(obj);
        if (!rel.isEmpty()) {
            saw[0] = true;
            for (int m = rel.size() - 1; m >= 0; m--) {
                if (!rel.get(m).isExecutable()) {
                    visit(rel.get(m), visited, post, reldeps, saw);
                }
            }
        }
        post.add(obj);
    }
}
