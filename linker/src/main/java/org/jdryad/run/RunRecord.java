package org.jdryad.run;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jdryad.debug.ActivityEvent;
import org.jdryad.debug.ActivityLog;
import org.jdryad.debug.BindingHistory;
import org.jdryad.debug.CallSites;
import org.jdryad.debug.HistoryFile;
import org.jdryad.debug.QueryServer;
import org.jdryad.link.LinkSession;
import org.jdryad.link.LoadedObject;

/**
 * What one run leaves behind: its binding history and link-map events, the objects it loaded
 * and how each came to be loaded, and the names of the call sites in them.
 *
 * <p>Why apart from {@link ProgramRunner}: the runner links and runs the program; this is what
 * is read about the run, while it runs (the query server's {@link QueryServer.Source}, asked
 * from gdb while the program is stopped) and when it has ended ({@code --history}), and it must
 * be readable whatever state linking reached.
 */
final class RunRecord {
    private final RunOptions options;
    private final PrintStream err;
    private final BindingHistory history = new BindingHistory();
    private final ActivityLog activity = new ActivityLog(history);
    /** The session once linking began (for --history, whatever happens after). */
    private volatile LinkSession session;
    /** The lazy fast path's tables, whose log is drained before a query reads the history. */
    private volatile LazyTables lazyTables;
    /** How each object came to be loaded (LoadedObject has identity equality). */
    private final Map<LoadedObject, HistoryFile.Provenance> provenance = new ConcurrentHashMap<>();

    RunRecord(RunOptions options, PrintStream err) {
        this.options = options;
        this.err = err;
    }

    BindingHistory history() {
        return history;
    }

    ActivityLog activity() {
        return activity;
    }

    void setSession(LinkSession session) {
        this.session = session;
    }

    void setLazyTables(LazyTables lazyTables) {
        this.lazyTables = lazyTables;
    }

    /** What the query server tells about this run: its live record. */
    QueryServer.Source querySource() {
        return source;
    }

    private final QueryServer.Source source = newQuerySource();

    private QueryServer.Source newQuerySource() {
        return new QueryServer.Source() {
            private volatile CallSites sites;

            @Override
            public List<HistoryFile.ObjectInfo> objects() {
                return objectInfos();
            }

            @Override
            public List<org.jdryad.debug.Binding> bindings() {
                drainLazyLog(); // a first call the fast path answered just before gdb stopped the program
                return history.snapshot();
            }

            @Override
            public List<ActivityEvent> events() {
                return activity.snapshot();
            }

            @Override
            public CallSites sites() {
                CallSites s = sites;
                LinkSession ls = session;
                int n = ls == null ? 0 : ls.objects().size();
                if (s == null || s.size() != n) {
                    s = sites = callSites(); // a dlopen or dlclose changed the objects
                }
                return s;
            }

            @Override
            public long pid() {
                return history.pid();
            }

            @Override
            public String program() {
                return options.program();
            }

            @Override
            public QueryServer.LinkStats linkStats() {
                LinkSession s = session;
                if (s == null) {
                    return null;
                }
                var st = s.stats();
                return new QueryServer.LinkStats(st.total(), st.byType(), st.lookups(), st.cachedLookups(),
                        s.lookup().objectsProbed(), st.lazySlots(), st.lazyBound(), st.phases());
            }

            @Override
            public org.jdryad.debug.SlotTable slots() {
                drainLazyLog(); // first calls the fast path answered are in the history before their slots are read
                LinkSession s = session;
                return s == null ? null : new org.jdryad.debug.SlotTable(s, history.pid(), options.bindNot());
            }
        };
    }

    /** Moves the fast path's log records into the history now (a query must not miss them). */
    private void drainLazyLog() {
        LazyTables t = lazyTables;
        if (t != null) {
            try {
                t.drain();
            } catch (RuntimeException e) {
                // the run is ending: its close drains what is left
            }
        }
    }

    /** How each object came to be loaded; a dlopen's objects are forgotten again if it fails. */
    void rememberProvenance(LoadedObject o, HistoryFile.Provenance p) {
        provenance.put(o, p);
    }

    void forgetProvenance(LoadedObject o) {
        provenance.remove(o);
    }

    /** The session's objects as the history describes them (a copy: dlopen may change the list meanwhile). */
    private List<HistoryFile.ObjectInfo> objectInfos() {
        LinkSession s = session;
        if (s == null) {
            return List.of();
        }
        List<HistoryFile.ObjectInfo> infos = new ArrayList<>();
        for (LoadedObject o : List.copyOf(s.objects())) { // toArray: no ConcurrentModificationException
            HistoryFile.Tls tls = o.tlsModuleId() == 0 ? null
                    : new HistoryFile.Tls(o.tlsModuleId(), o.hasStaticTls() ? o.tlsOffset() : -1);
            infos.add(new HistoryFile.ObjectInfo(o.name(), o.path().toString(), o.base(), o.mapStart(),
                    o.mapStart() + o.mapLength(), o.isHost(), !o.isHost() && s.bindsLazily(o), provenance.get(o), tls));
        }
        return infos;
    }

    /** How the run ended (status as a shell reports it, -1 unknown; the problem, or null). */
    private volatile HistoryFile.Ending ending = new HistoryFile.Ending(-1, null);

    void end(int status, String problem) {
        ending = new HistoryFile.Ending(status, problem);
    }

    HistoryFile.Ending ending() {
        return ending;
    }

    /** The history as JSON, with {@code ending} (--follow nests one per process). */
    com.google.gson.JsonObject historyJson(HistoryFile.Ending ending) {
        return HistoryFile.json(options.program(), options.args(), history.pid(), ending, objectInfos(),
                history.snapshot(), activity.snapshot(), callSites());
    }

    /** Writes --history; a failure to write is reported and changes nothing else. */
    void writeHistory(int status, String problem) {
        try {
            HistoryFile.write(options.historyFile(), options.program(), options.args(), history.pid(),
                    new HistoryFile.Ending(status, problem), objectInfos(), history.snapshot(), activity.snapshot(),
                    callSites());
        } catch (IOException | RuntimeException e) {
            err.println("jdryad: cannot write the history to " + options.historyFile() + ": " + e.getMessage());
        }
    }

    /** Call sites are named against every object the session knows (jdryad and host). */
    CallSites callSites() {
        List<CallSites.Region> regions = new ArrayList<>();
        if (session != null) {
            for (LoadedObject o : List.copyOf(session.objects())) {
                regions.add(new CallSites.Region(o.name(), o.mapStart(), o.mapStart() + o.mapLength(), o.base(), o.elf()));
            }
        }
        return new CallSites(regions);
    }
}
