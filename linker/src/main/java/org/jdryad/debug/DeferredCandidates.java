package org.jdryad.debug;

import java.util.AbstractList;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * A binding's passed-over candidates whose second half is worked out only when someone reads
 * them. Why: the candidates the lookup rejected come for free, but the definitions the winner
 * interposes on take a second lookup over the rest of the scope, which cost a third of
 * llvm-as's relocation time at start-up, for a list only the history's readers (--history,
 * the query server) ever look at. Immutable to its readers; computed once, thread-safely.
 */
public final class DeferredCandidates extends AbstractList<Binding.Candidate> {
    private final List<Binding.Candidate> known;
    private Supplier<List<Binding.Candidate>> later;
    private List<Binding.Candidate> all;

    /** {@code known} now, then what {@code later} gives (nothing, if it fails: a file gone since). */
    public DeferredCandidates(List<Binding.Candidate> known, Supplier<List<Binding.Candidate>> later) {
        this.known = List.copyOf(known);
        this.later = later;
    }

    private synchronized List<Binding.Candidate> all() {
        if (all == null) {
            List<Binding.Candidate> out = new ArrayList<>(known);
            try {
                out.addAll(later.get());
            } catch (RuntimeException e) {
                // the objects it would search are unreadable now: what the lookup saw still stands
            }
            all = List.copyOf(out);
            later = null;
        }
        return all;
    }

    @Override
    public Binding.Candidate get(int index) {
        return all().get(index);
    }

    @Override
    public int size() {
        return all().size();
    }
}
