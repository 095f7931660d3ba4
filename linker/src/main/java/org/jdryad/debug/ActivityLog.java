package org.jdryad.debug;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Consumer;

/**
 * Every link-map change, in order: what {@code --debug=activity} prints as it happens, what
 * {@code --history} saves and what the gdb commands show. The same changes also reach the
 * agent, which announces them to gdb through r_debug and its {@code jdryad_dl_activity} hook;
 * this is the record with causes and call sites that outlives the process.
 */
public final class ActivityLog {
    private final BindingHistory clock;
    private final List<ActivityEvent> events = new ArrayList<>();
    private Consumer<ActivityEvent> listener = e -> { };

    /** Events are timed and attributed to a process by the binding history's clock and pid. */
    public ActivityLog(BindingHistory clock) {
        this.clock = clock;
    }

    /** What caused a change, before the log numbers and times it. */
    public record Change(ActivityEvent.Cause cause, String request, int flags, long callSite, long tid) {
        public static final Change STARTUP = new Change(ActivityEvent.Cause.STARTUP, null, 0, 0, 0);
    }

    public synchronized void setListener(Consumer<ActivityEvent> listener) {
        this.listener = listener;
    }

    /** Records one event of a change and returns it. */
    public synchronized ActivityEvent add(ActivityEvent.State state, Change change, List<String> objects) {
        return add(state, change, objects, 0);
    }

    /** The same, of process {@code pid} (a forked child; 0: the run's process). */
    public synchronized ActivityEvent add(ActivityEvent.State state, Change change, List<String> objects, long pid) {
        return add(state, change, objects, pid, 0);
    }

    /** The same, in namespace {@code lmid} (0: the base one; another was made by dlmopen). */
    public synchronized ActivityEvent add(ActivityEvent.State state, Change change, List<String> objects, long pid,
                                          long lmid) {
        ActivityEvent e = new ActivityEvent(events.size() + 1L, clock.now(), pid != 0 ? pid : clock.pid(), change.tid(), state,
                change.cause(), change.request(), change.flags(), change.callSite(), lmid, objects);
        events.add(e);
        listener.accept(e);
        return e;
    }

    public synchronized List<ActivityEvent> snapshot() {
        return Collections.unmodifiableList(new ArrayList<>(events));
    }
}
