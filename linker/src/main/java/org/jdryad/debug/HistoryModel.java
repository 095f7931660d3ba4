package org.jdryad.debug;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * A history as a reader sees it: the JSON of {@link HistoryFile} (a {@code --history} file, or a
 * query server's answer) parsed back into plain records, every field checked on the way. What
 * {@link HistoryView} prints works from this, never from the linker's live objects, so that
 * post-mortem {@code jdryad show} and a live answer look alike.
 *
 * <p>Every problem with the input is an {@link Invalid} with a one-line message naming the
 * field: a reader of a damaged file deserves a sentence, not a parser's stack trace.
 */
public final class HistoryModel {
    /** The input is not a history jdryad can read. */
    public static final class Invalid extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public Invalid(String message) {
            super(message);
        }
    }

    public record Obj(String name, String path, String base, String start, String end, boolean host, boolean lazy,
                      String soname, String foundBy, String loadedBy, String cause, long timeNanos, long namespace,
                      long tlsModule, long tlsOffset) {
    }

    /** A call site: its address and, when it lies in a known object, gdb's words for it. */
    public record Site(String address, String text) {
        public String describe() {
            return text != null ? text : address;
        }
    }

    public record Candidate(String object, String reason) {
    }

    public record Bind(long seq, String kind, String referrer, String relocation, String slot, Site callSite,
                       String symbol, String version, String definer, String address, List<String> searched,
                       List<Candidate> passedOver) {
    }

    public record Event(long seq, String state, String cause, String request, int flags, Site callSite,
                        List<String> objects) {
    }

    /** A whole history file. */
    public record History(String program, long pid, int exitStatus, List<Obj> objects, List<Bind> bindings,
                          List<Event> events) {
    }

    /** One process image of a {@code --follow} history: its pid, its parent's, and its own history. */
    public record Process(long pid, long ppid, String program, List<String> arguments, String ended, History history) {
        /** {@code process 4242 (parent 4241): /bin/ls -l}, with {@code , then exec'ed} for an image replaced by exec. */
        public String describe() {
            StringBuilder b = new StringBuilder("process " + pid + " (parent " + ppid + "): " + program);
            arguments.forEach(a -> b.append(' ').append(a));
            return b.append("exec".equals(ended) ? ", then exec'ed" : "").toString();
        }
    }

    private HistoryModel() {
    }

    /** Parses and checks a whole {@code --history} file's text. */
    public static History parse(String text) {
        return history(root(text));
    }

    /**
     * The process images of a {@code --follow} history ({@code processes}), in the order they
     * started; empty for a history of one process.
     */
    public static List<Process> processes(String text) {
        JsonArray a = optionalArray(root(text), "processes");
        return list(a, p -> new Process(number(p, "pid", ""), optionalNumber(p, "ppid"), optionalString(p, "program", ""),
                strings(optionalArray(p, "arguments"), "arguments"), optionalString(p, "ended", ""), history(p)),
                "processes");
    }

    private static JsonObject root(String text) {
        JsonElement root;
        try {
            root = JsonParser.parseString(text);
        } catch (JsonParseException e) {
            String why = e.getCause() != null && e.getCause().getMessage() != null ? e.getCause().getMessage() : e.getMessage();
            throw new Invalid("not JSON (" + firstLine(why).replaceFirst("^[\\w.$]+(Exception|Error): ", "") + ")");
        } catch (StackOverflowError e) {
            throw new Invalid("not JSON (nested too deeply)");
        }
        if (!root.isJsonObject()) {
            throw new Invalid("not a jdryad history (the top level is not a JSON object)");
        }
        JsonObject h = root.getAsJsonObject();
        JsonElement format = h.get("format");
        if (format == null || !format.isJsonPrimitive() || !HistoryFile.FORMAT.equals(format.getAsString())) {
            throw new Invalid("not a jdryad history (\"format\" is not \"" + HistoryFile.FORMAT + "\")");
        }
        JsonElement version = h.get("version");
        if (version == null || !version.isJsonPrimitive() || !version.getAsJsonPrimitive().isNumber()
                || version.getAsDouble() != HistoryFile.VERSION) {
            throw new Invalid("history format version " + version + " is not supported (this jdryad reads version "
                    + HistoryFile.VERSION + ")");
        }
        return h;
    }

    private static History history(JsonObject h) {
        JsonObject exit = optionalObject(h, "exit", "");
        return new History(optionalString(h, "program", ""), number(h, "pid", ""),
                exit == null || exit.get("status") == null || exit.get("status").isJsonNull() ? -1
                        : (int) number(exit, "status", "exit."),
                list(array(h, "objects", ""), HistoryModel::obj, "objects"),
                list(array(h, "bindings", ""), HistoryModel::bind, "bindings"),
                list(array(h, "events", ""), HistoryModel::event, "events"));
    }

    public static List<Obj> objects(JsonArray a) {
        return list(a, HistoryModel::obj, "objects");
    }

    public static List<Bind> bindings(JsonArray a) {
        return list(a, HistoryModel::bind, "bindings");
    }

    public static List<Event> events(JsonArray a) {
        return list(a, HistoryModel::event, "events");
    }

    private static Obj obj(JsonObject o) {
        // Provenance and TLS are optional: files written before they were recorded lack them.
        JsonObject tls = optionalObject(o, "tls", "");
        return new Obj(optionalString(o, "name", ""), string(o, "path", ""), string(o, "base", ""),
                string(o, "start", ""), string(o, "end", ""), bool(o, "host"), bool(o, "lazy"),
                optionalString(o, "soname", ""), optionalString(o, "found_by", ""), optionalString(o, "loaded_by", ""),
                optionalString(o, "cause", ""), optionalNumber(o, "time_ns"), optionalNumber(o, "namespace"),
                tls == null ? 0 : optionalNumber(tls, "module"),
                tls == null || tls.get("offset") == null || tls.get("offset").isJsonNull() ? -1
                        : optionalNumber(tls, "offset"));
    }

    private static Bind bind(JsonObject b) {
        List<Candidate> passed = list(optionalArray(b, "passed_over"),
                c -> new Candidate(string(c, "object", "passed_over."), optionalString(c, "reason", "passed_over.")),
                "passed_over");
        return new Bind(number(b, "seq", ""), string(b, "kind", ""), string(b, "referrer", ""),
                optionalString(b, "relocation", ""), optionalString(b, "slot", ""), site(b), string(b, "symbol", ""),
                optionalString(b, "version", ""), optionalString(b, "definer", ""), optionalString(b, "address", ""),
                strings(optionalArray(b, "searched"), "searched"), passed);
    }

    private static Event event(JsonObject e) {
        return new Event(number(e, "seq", ""), string(e, "state", ""), string(e, "cause", ""),
                optionalString(e, "request", ""), (int) optionalNumber(e, "flags"), site(e),
                strings(optionalArray(e, "objects"), "objects"));
    }

    private static Site site(JsonObject o) {
        JsonObject s = optionalObject(o, "call_site", "");
        return s == null ? null : new Site(string(s, "address", "call_site."), optionalString(s, "text", "call_site."));
    }

    // ---- checked accessors: every message names the field ----

    private static <T> List<T> list(JsonArray a, Function<JsonObject, T> each, String what) {
        List<T> out = new ArrayList<>();
        if (a == null) {
            return out;
        }
        for (int i = 0; i < a.size(); i++) {
            if (!a.get(i).isJsonObject()) {
                throw new Invalid(what + "[" + i + "] is not a JSON object");
            }
            try {
                out.add(each.apply(a.get(i).getAsJsonObject()));
            } catch (Invalid e) {
                throw new Invalid(what + "[" + i + "]: " + e.getMessage());
            }
        }
        return out;
    }

    private static List<String> strings(JsonArray a, String what) {
        List<String> out = new ArrayList<>();
        if (a != null) {
            for (int i = 0; i < a.size(); i++) {
                JsonElement e = a.get(i);
                if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
                    throw new Invalid(what + "[" + i + "] is not a string");
                }
                out.add(e.getAsString());
            }
        }
        return out;
    }

    private static JsonArray array(JsonObject o, String name, String prefix) {
        JsonElement e = o.get(name);
        if (e == null || !e.isJsonArray()) {
            throw new Invalid("\"" + prefix + name + "\" is missing or not an array");
        }
        return e.getAsJsonArray();
    }

    private static JsonArray optionalArray(JsonObject o, String name) {
        JsonElement e = o.get(name);
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (!e.isJsonArray()) {
            throw new Invalid("\"" + name + "\" is not an array");
        }
        return e.getAsJsonArray();
    }

    private static JsonObject optionalObject(JsonObject o, String name, String prefix) {
        JsonElement e = o.get(name);
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (!e.isJsonObject()) {
            throw new Invalid("\"" + prefix + name + "\" is not an object");
        }
        return e.getAsJsonObject();
    }

    private static String string(JsonObject o, String name, String prefix) {
        String s = optionalString(o, name, prefix);
        if (s == null) {
            throw new Invalid("\"" + prefix + name + "\" is missing");
        }
        return s;
    }

    private static String optionalString(JsonObject o, String name, String prefix) {
        JsonElement e = o.get(name);
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw new Invalid("\"" + prefix + name + "\" is not a string");
        }
        return e.getAsString();
    }

    private static long number(JsonObject o, String name, String prefix) {
        JsonElement e = o.get(name);
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw new Invalid("\"" + prefix + name + "\" is missing or not a number");
        }
        try {
            return e.getAsJsonPrimitive().getAsBigDecimal().longValueExact();
        } catch (ArithmeticException | NumberFormatException x) {
            throw new Invalid("\"" + prefix + name + "\" is not a whole number");
        }
    }

    private static long optionalNumber(JsonObject o, String name) {
        JsonElement e = o.get(name);
        return e == null || e.isJsonNull() ? 0 : number(o, name, "");
    }

    private static boolean bool(JsonObject o, String name) {
        JsonElement e = o.get(name);
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw new Invalid("\"" + name + "\" is missing or not true/false");
        }
        return e.getAsBoolean();
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unreadable";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
