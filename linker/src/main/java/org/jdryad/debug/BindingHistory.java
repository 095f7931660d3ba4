package org.jdryad.debug;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Consumer;

/**
 * Every binding jdryad made, in the order it made them. This is the record the debugging half
 * of jdryad reads (--history, --debug=bindings, the gdb commands): the linker core reports each
 * decision here as it makes it, and nothing else keeps bindings.
 *
 * <p>Thread-safe: lazy first calls from many program threads and dlsym callbacks add to it
 * concurrently; sequence numbers follow the order of addition.
 */
public final class BindingHistory {
    private final List<Binding> bindings = new ArrayList<>();
    private final long start = System.nanoTime();
    private volatile long pid;
    private Consumer<Binding> listener = b -> { };
    /** The run's history this one records into, for a forked child's bindings (null: this is the run's). */
    private final BindingHistory run;

    public BindingHistory() {
        this.run = null;
    }

    private BindingHistory(BindingHistory run, long pid) {
        this.run = run;
        this.pid = pid;
    }

    /**
     * The history of a process forked from the run's: its bindings go into the run's history, in
     * the same order and clock, under {@code pid} unless a binding names its own.
     */
    public BindingHistory forProcess(long pid) {
        return new BindingHistory(run != null ? run : this, pid);
    }

    /** The process bindings are made for from now on (the agent's pid, once it runs). */
    public void setPid(long pid) {
        this.pid = pid;
    }

    public long pid() {
        return pid;
    }

    /** Nanoseconds since the history began: the clock of every record. */
    public long now() {
        if (run != null) {
            return run.now();
        }
        return System.nanoTime() - start;
    }

    /** Called (under the history's lock, in order) with every binding added from now on. */
    public synchronized void setListener(Consumer<Binding> listener) {
        this.listener = listener;
    }

    /** What a binding decision says, before the history numbers and times it (pid 0: the history's process). */
    public record Draft(Binding.Kind kind, String referrer, String relocation, long slot, long callSite, long tid,
                        long pid, String symbol, String version, String definer, long address, List<String> searched,
                        List<Binding.Candidate> passedOver) {
        /** The same binding, made by a first call from {@code callSite} on thread {@code tid} of process {@code pid}. */
        public Draft calledFrom(long callSite, long tid, long pid) {
            return new Draft(kind, referrer, relocation, slot, callSite, tid, pid, symbol, version, definer, address,
                    searched, passedOver);
        }
    }

    /** Records a binding made now and returns it. */
    public Binding add(Draft d) {
        return add(d, System.nanoTime());
    }

    /**
     * Records a binding made at {@code monotonicNanos} (CLOCK_MONOTONIC, System.nanoTime's clock:
     * the agent's fast path stamps its records so) and returns it.
     */
    public synchronized Binding add(Draft d, long monotonicNanos) {
        if (run != null) {
            return run.add(d.pid() != 0 ? d : d.calledFrom(d.callSite(), d.tid(), pid), monotonicNanos);
        }
        Binding b = new Binding(bindings.size() + 1L, monotonicNanos - start, d.pid() != 0 ? d.pid() : pid, d.tid(), d.kind(), d.referrer(), d.relocation(),
                d.slot(), d.callSite(), d.symbol(), d.version(), d.definer(), d.address(), d.searched(), d.passedOver());
        bindings.add(b);
        listener.accept(b);
        return b;
    }

    /**
     * An audit module's la_symbind64 sent the latest binding of {@code symbol} from {@code referrer}
     * to {@code from} elsewhere: that binding now says {@code to}, and which module redirected it.
     */
    public synchronized void redirect(String referrer, String symbol, long from, long to, String module) {
        for (int i = bindings.size() - 1; i >= 0; i--) {
            Binding b = bindings.get(i);
            if (b.address() == from && java.util.Objects.equals(b.referrer(), referrer)
                    && java.util.Objects.equals(b.symbol(), symbol)) {
                bindings.set(i, b.redirectedTo(to, module));
                return;
            }
        }
    }

    public synchronized List<Binding> snapshot() {
        if (run != null) {
            return run.snapshot();
        }
        return Collections.unmodifiableList(new ArrayList<>(bindings));
    }

    public synchronized int size() {
        if (run != null) {
            return run.size();
        }
        return bindings.size();
    }
}
