package org.jdryad.debug;

import java.util.ArrayList;
import java.util.List;
import org.jdryad.debug.HistoryModel.Bind;
import org.jdryad.debug.HistoryModel.Candidate;
import org.jdryad.debug.HistoryModel.Event;
import org.jdryad.debug.HistoryModel.Obj;

/**
 * The tables people read about a history: the link map, bindings, events, and "why" a symbol
 * bound where it did. {@code jdryad show} prints them from a {@code --history} file; the gdb
 * commands ({@code gdb-scripts/jdryad/format.py}) print the same columns from the query
 * server's answers, which have the same JSON. Why one class: the layout is decided once, from
 * the parsed model ({@link HistoryModel}), and the filters ({@link Query}) are the ones the
 * query server applies, so a post-mortem answer and a live one read alike.
 */
public final class HistoryView {
    private HistoryView() {
    }

    /**
     * What to show: bindings of {@code symbol} (null: any), touching {@code object} as referrer
     * or definer, only lazy ones, made from {@code from} (the referrer), the last {@code last}
     * (0: all). An object is named by its path or its file name.
     */
    public record Query(String symbol, String object, boolean lazy, int last, String from) {
        public static final Query ALL = new Query(null, null, false, 0, null);

        public boolean matches(String sym, String kind, String referrer, String definer) {
            return (symbol == null || symbol.equals(sym)) && (!lazy || "lazy".equals(kind))
                    && (object == null || names(object, referrer) || names(object, definer))
                    && (from == null || names(from, referrer));
        }

        /** The last {@code last} of {@code all} (all of them when 0). */
        public <T> List<T> tail(List<T> all) {
            return last <= 0 || last >= all.size() ? all : all.subList(all.size() - last, all.size());
        }
    }

    /** Whether {@code name} (a path or a file name) names the object at {@code path}. */
    public static boolean names(String name, String path) {
        return path != null && (path.equals(name) || path.endsWith("/" + name));
    }

    public static List<Bind> select(List<Bind> all, Query q) {
        List<Bind> out = new ArrayList<>();
        for (Bind b : all) {
            if (q.matches(b.symbol(), b.kind(), b.referrer(), b.definer())) {
                out.add(b);
            }
        }
        return q.tail(out);
    }

    public static String linkmap(List<Obj> objects) {
        Table t = new Table("BASE", "RANGE", "KIND", "FOUND", "LOADED BY", "WHEN", "NS", "TLS", "PATH");
        for (Obj o : objects) {
            t.row(o.base(), o.start() + "-" + o.end(), (o.host() ? "host" : "jdryad") + (o.lazy() ? " lazy" : " now"),
                    dash(o.foundBy()), loadedBy(o), o.cause() == null ? "-" : String.format("%.1f ms", o.timeNanos() / 1e6),
                    Long.toString(o.namespace()), tls(o.tlsModule(), o.tlsOffset()), pathAndSoname(o.path(), o.soname()));
        }
        return t.render();
    }

    private static String dash(String s) {
        return s == null || s.isEmpty() ? "-" : s;
    }

    /** "needed by X" at start-up, "dlopen by X" for what a dlopen brought in; "-" for the program. */
    private static String loadedBy(Obj o) {
        if (o.loadedBy() == null || o.loadedBy().isEmpty()) {
            return "dlopen".equals(o.cause()) ? "dlopen" : "-";
        }
        return ("dlopen".equals(o.cause()) ? "dlopen by " : "needed by ") + shortName(o.loadedBy());
    }

    /** "mod 1 tp-0x40" (static TLS at that offset below the thread pointer), "mod 3 dynamic", or "-". */
    static String tls(long module, long offset) {
        if (module <= 0) {
            return "-";
        }
        // jdryad numbers its own modules from 0x4a440000 (apart from glibc's): shown in hex
        String shown = module > 0xffff ? "0x" + Long.toHexString(module) : Long.toString(module);
        return "mod " + shown + (offset < 0 ? " dynamic" : " tp-0x" + Long.toHexString(offset));
    }

    /** The path, and the soname when it is not the path's file name. */
    static String pathAndSoname(String path, String soname) {
        if (soname == null || soname.isEmpty() || path.endsWith("/" + soname) || path.equals(soname)) {
            return path;
        }
        return path + " [" + soname + "]";
    }

    public static String bindings(List<Bind> bindings) {
        if (bindings.isEmpty()) {
            return "no bindings match\n";
        }
        Table t = new Table("SEQ", "KIND", "REFERRER", "", "SYMBOL", "", "DEFINER", "ADDRESS", "CALL SITE");
        for (Bind b : bindings) {
            t.row("#" + b.seq(), b.kind(), shortName(b.referrer()), "->", symbol(b), "->",
                    b.definer() == null ? "(undefined)" : shortName(b.definer()), "at " + b.address(),
                    b.callSite() == null ? "" : "from " + b.callSite().describe());
        }
        return t.render();
    }

    public static String events(List<Event> events) {
        if (events.isEmpty()) {
            return "no events\n";
        }
        Table t = new Table("SEQ", "STATE", "CAUSE", "REQUEST", "CALL SITE", "OBJECTS");
        for (Event e : events) {
            String request = e.request() == null ? "" : "\"" + e.request() + "\", " + ActivityEvent.dlopenFlags(e.flags());
            List<String> names = new ArrayList<>();
            e.objects().forEach(o -> names.add(shortName(o)));
            t.row("#" + e.seq(), e.state(), e.cause(), request, e.callSite() == null ? "" : e.callSite().describe(),
                    String.join(" ", names));
        }
        return t.render();
    }

    /**
     * For each binding: the objects searched in order, what each had to say (passed over and
     * why, or the winner), then the later definitions the winner interposes on.
     */
    public static String why(String symbol, List<Bind> bindings) {
        if (bindings.isEmpty()) {
            return "no binding of " + symbol + " matches\n";
        }
        StringBuilder sb = new StringBuilder();
        for (Bind b : bindings) {
            sb.append('#').append(b.seq()).append(' ').append(b.kind()).append(": ").append(b.referrer()).append(" -> ")
                    .append(symbol(b));
            if (b.relocation() != null) {
                sb.append(" (").append(b.relocation()).append(')');
            }
            if (b.callSite() != null) {
                sb.append(", from ").append(b.callSite().describe());
            }
            sb.append('\n');
            Table t = new Table();
            int n = 1;
            List<Candidate> later = new ArrayList<>(b.passedOver());
            for (String s : b.searched()) {
                Candidate c = candidate(b.passedOver(), s);
                later.remove(c);
                String verdict = c != null ? "passed over: " + c.reason()
                        : s.equals(b.definer()) ? "winner: " + b.symbol() + " at " + b.address() : "no definition";
                t.row("  " + n++ + ".", s, verdict);
            }
            for (Candidate c : later) {
                t.row("  -", c.object(), "passed over: " + c.reason());
            }
            sb.append(t.render());
            sb.append("  winner: ").append(b.definer() == null ? "none (undefined weak: 0)" : b.definer()).append('\n');
        }
        return sb.toString();
    }

    private static Candidate candidate(List<Candidate> all, String object) {
        for (Candidate c : all) {
            if (c.object().equals(object)) {
                return c;
            }
        }
        return null;
    }

    private static String symbol(Bind b) {
        return b.version() == null ? b.symbol() : b.symbol() + "@" + b.version();
    }

    /** An object's file name: the tables are read across, full paths are in the link map. */
    public static String shortName(String path) {
        if (path == null) {
            return "";
        }
        int slash = path.lastIndexOf('/');
        return slash < 0 ? path : path.substring(slash + 1);
    }

    /** Left-aligned columns two spaces apart; an empty header row is left out; the last column is not padded. */
    static final class Table {
        private final List<String[]> rows = new ArrayList<>();
        private final boolean header;

        Table(String... headers) {
            header = headers.length > 0;
            if (header) {
                rows.add(headers);
            }
        }

        void row(String... cells) {
            rows.add(cells);
        }

        String render() {
            int cols = 0;
            for (String[] r : rows) {
                cols = Math.max(cols, r.length);
            }
            int[] width = new int[cols];
            for (String[] r : rows) {
                for (int i = 0; i < r.length; i++) {
                    width[i] = Math.max(width[i], r[i].codePointCount(0, r[i].length()));
                }
            }
            StringBuilder sb = new StringBuilder();
            for (String[] r : rows) {
                StringBuilder line = new StringBuilder();
                for (int i = 0; i < r.length; i++) {
                    line.append(r[i]);
                    if (i < r.length - 1) {
                        line.append(" ".repeat(width[i] - r[i].codePointCount(0, r[i].length()) + 2));
                    }
                }
                sb.append(line.toString().stripTrailing()).append('\n');
            }
            return sb.toString();
        }
    }
}
