package org.jdryad.debug;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Every binding jdryad made, in order. Thread-safe: callbacks from the program may add to it. */
public final class BindingHistory {
    private final List<Binding> bindings = new ArrayList<>();
    private final long start = System.nanoTime();
    private java.util.function.Consumer<Binding> listener = b -> { };

    /** Called (under the history's lock) with every binding added from now on. */
    public synchronized void setListener(java.util.function.Consumer<Binding> listener) {
        this.listener = listener;
    }

    /** Records a binding and returns it. */
    public synchronized Binding add(String kind, String referrer, long site, String relocation, String symbol,
                                    String version, String definer, long address, int searched, String passedOver) {
        Binding b = new Binding(System.nanoTime() - start, kind, referrer, site, relocation, symbol, version, definer,
                address, searched, passedOver);
        bindings.add(b);
        listener.accept(b);
        return b;
    }

    public synchronized List<Binding> snapshot() {
        return Collections.unmodifiableList(new ArrayList<>(bindings));
    }

    public synchronized int size() {
        return bindings.size();
    }
}
