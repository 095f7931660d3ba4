package org.jdryad.debug;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Every binding jdryad made, in order. Thread-safe: callbacks from the program may add to it. */
public final class BindingHistory {
    private final List<Binding> bindings = new ArrayList<>();
    private final long start = System.nanoTime();

    public synchronized void add(String kind, String referrer, long site, String relocation, String symbol, String version,
                                 String definer, long address, int searched, String passedOver) {
        bindings.add(new Binding(System.nanoTime() - start, kind, referrer, site, relocation, symbol, version, definer,
                address, searched, passedOver));
    }

    public synchronized List<Binding> snapshot() {
        return Collections.unmodifiableList(new ArrayList<>(bindings));
    }

    public synchronized int size() {
        return bindings.size();
    }
}
