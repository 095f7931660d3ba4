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
        if (!visited.add(obj)) {
            return;
        }
        for (LoadedObject dep : obj.dependencies()) {
            if (!dep.isExecutable()) {
                visit(dep, visited, post);
            }
        }
        post.add(obj);
    }
}
