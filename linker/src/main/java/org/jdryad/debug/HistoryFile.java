package org.jdryad.debug;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * The {@code --history} file: the whole binding history and every link-map event of a run, as
 * JSON (format in the README, versioned by {@link #VERSION}). It is written when the program has
 * ended, whatever ended it, so that a crash leaves its explanation behind; it is written to a
 * temporary file beside the target and renamed, so a reader never sees half a history.
 *
 * <p>The JSON shape of one object, binding and event is made here and nowhere else: the query
 * server ({@link QueryServer}) answers with the same objects, so {@code jdryad show}, the gdb
 * commands and any other reader parse one format.
 *
 * <p>Addresses are strings ({@code "0x7f..."}): JSON numbers lose precision above 2^53.
 */
public final class HistoryFile {
    /** Bumped on any change a reader could notice. */
    public static final int VERSION = 1;
    public static final String FORMAT = "jdryad-history";

    private static final Gson GSON = new GsonBuilder().serializeNulls().setPrettyPrinting().create();

    /** An object of the link map as the history describes it. */
    public record ObjectInfo(String name, String path, long base, long start, long end, boolean host, boolean lazy,
                             Provenance provenance, Tls tls) {
        /** An object without provenance or TLS (tests, objects made outside a search). */
        public ObjectInfo(String name, String path, long base, long start, long end, boolean host, boolean lazy) {
            this(name, path, base, start, end, host, lazy, null, null);
        }
    }

    /**
     * How an object came to be in the link map: the search step that found it ({@code
     * foundBy}: executable, rpath, LD_LIBRARY_PATH, runpath, ld.so.cache, default path, direct
     * path, preload), the object that needed it or dlopened it (null for the program), why
     * ({@code cause}: startup or dlopen), when (ns since the run began) and its namespace.
     */
    public record Provenance(String soname, String foundBy, String loadedBy, String cause, long timeNanos,
                             long namespace) {
    }

    /** An object's TLS block: its module id, and its offset below the thread pointer (-1: dynamic TLS). */
    public record Tls(long module, long offset) {
    }

    /** How the run ended: the status as a shell reports it, and the agent's own words when it died. */
    public record Ending(int status, String problem) {
    }

    private HistoryFile() {
    }

    /** Writes the history of a run of {@code program} to {@code file}. */
    public static void write(Path file, String program, List<String> args, long pid, Ending ending,
                             List<ObjectInfo> objects, List<Binding> bindings, List<ActivityEvent> events,
                             CallSites sites) throws IOException {
        write(file, json(program, args, pid, ending, objects, bindings, events, sites));
    }

    /** A run's history as the file's top-level object (--follow nests one per process). */
    public static JsonObject json(String program, List<String> args, long pid, Ending ending,
                                  List<ObjectInfo> objects, List<Binding> bindings, List<ActivityEvent> events,
                                  CallSites sites) {
        JsonObject h = new JsonObject();
        h.addProperty("format", FORMAT);
        h.addProperty("version", VERSION);
        h.addProperty("program", program);
        JsonArray a = new JsonArray();
        args.forEach(a::add);
        h.add("arguments", a);
        h.addProperty("pid", pid);
        JsonObject exit = new JsonObject();
        // Unknown (null) when the run ended under gdb, whose inferior it was, or before it started.
        exit.add("status", ending.status() < 0 ? JsonNull.INSTANCE : new com.google.gson.JsonPrimitive(ending.status()));
        exit.add("signal", ending.status() > 128 && ending.status() < 128 + 65
                ? new com.google.gson.JsonPrimitive(ending.status() - 128) : JsonNull.INSTANCE);
        exit.add("problem", string(ending.problem()));
        h.add("exit", exit);
        h.add("objects", objects(objects));
        h.add("bindings", bindings(bindings, sites));
        h.add("events", events(events, sites));
        return h;
    }

    /** Writes {@code h} to a temporary file beside {@code file}, renamed into place. */
    public static void write(Path file, JsonObject h) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp");
        try {
            try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                GSON.toJson(h, w);
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    public static JsonArray objects(List<ObjectInfo> objects) {
        JsonArray out = new JsonArray();
        objects.forEach(o -> out.add(object(o)));
        return out;
    }

    public static JsonArray bindings(List<Binding> bindings, CallSites sites) {
        JsonArray out = new JsonArray();
        bindings.forEach(b -> out.add(binding(b, sites)));
        return out;
    }

    public static JsonArray events(List<ActivityEvent> events, CallSites sites) {
        JsonArray out = new JsonArray();
        events.forEach(e -> out.add(event(e, sites)));
        return out;
    }

    /** One object of the link map. */
    public static JsonObject object(ObjectInfo o) {
        JsonObject j = new JsonObject();
        j.add("name", string(o.name()));
        j.add("path", string(o.path()));
        j.addProperty("base", hex(o.base()));
        j.addProperty("start", hex(o.start()));
        j.addProperty("end", hex(o.end()));
        j.addProperty("host", o.host());
        j.addProperty("lazy", o.lazy());
        Provenance p = o.provenance();
        if (p != null) {
            j.add("soname", string(p.soname()));
            j.add("found_by", string(p.foundBy()));
            j.add("loaded_by", string(p.loadedBy()));
            j.add("cause", string(p.cause()));
            j.addProperty("time_ns", p.timeNanos());
            j.addProperty("namespace", p.namespace());
        }
        if (o.tls() != null) {
            JsonObject t = new JsonObject();
            t.addProperty("module", o.tls().module());
            t.add("offset", o.tls().offset() < 0 ? JsonNull.INSTANCE : new com.google.gson.JsonPrimitive(o.tls().offset()));
            j.add("tls", t);
        } else {
            j.add("tls", JsonNull.INSTANCE);
        }
        return j;
    }

    /** One binding, its call site located in {@code sites}. */
    public static JsonObject binding(Binding b, CallSites sites) {
        JsonObject j = new JsonObject();
        j.addProperty("seq", b.seq());
        j.addProperty("time_ns", b.timeNanos());
        j.addProperty("pid", b.pid());
        j.addProperty("tid", b.tid());
        j.addProperty("kind", b.kind().word());
        j.add("referrer", string(b.referrer()));
        j.add("relocation", string(b.relocation()));
        j.addProperty("slot", hex(b.slot()));
        j.add("call_site", site(b.callSite(), sites));
        j.add("symbol", string(b.symbol()));
        j.add("version", string(b.version()));
        j.add("definer", string(b.definer()));
        j.addProperty("address", hex(b.address()));
        JsonArray searched = new JsonArray();
        b.searched().forEach(searched::add);
        j.add("searched", searched);
        JsonArray passed = new JsonArray();
        for (Binding.Candidate c : b.passedOver()) {
            JsonObject p = new JsonObject();
            p.add("object", string(c.object()));
            p.add("reason", string(c.reason()));
            passed.add(p);
        }
        j.add("passed_over", passed);
        if (b.audit() != null) {
            JsonObject a = new JsonObject();
            a.add("module", string(b.audit().module()));
            a.addProperty("original", hex(b.audit().original()));
            j.add("audit", a);
        }
        return j;
    }

    /** One link-map event, its call site located in {@code sites}. */
    public static JsonObject event(ActivityEvent e, CallSites sites) {
        JsonObject j = new JsonObject();
        j.addProperty("seq", e.seq());
        j.addProperty("time_ns", e.timeNanos());
        j.addProperty("pid", e.pid());
        j.addProperty("tid", e.tid());
        j.addProperty("state", e.state().word());
        j.addProperty("cause", e.cause().word());
        j.add("request", string(e.request()));
        j.addProperty("flags", e.flags());
        j.add("call_site", site(e.callSite(), sites));
        j.addProperty("namespace", e.namespace());
        JsonArray objects = new JsonArray();
        e.objects().forEach(objects::add);
        j.add("objects", objects);
        return j;
    }

    /** A call site: null, or its address with the object, symbol and offsets it lies at. */
    private static JsonElement site(long address, CallSites sites) {
        if (address == 0) {
            return JsonNull.INSTANCE;
        }
        JsonObject j = new JsonObject();
        j.addProperty("address", hex(address));
        var s = sites.locate(address);
        if (s.isPresent()) {
            j.add("object", string(s.get().object()));
            j.addProperty("object_offset", s.get().objectOffset());
            j.add("symbol", string(s.get().symbol()));
            j.addProperty("symbol_offset", s.get().symbolOffset());
            j.addProperty("text", s.get().toString());
        }
        return j;
    }

    private static JsonElement string(String s) {
        return s == null ? JsonNull.INSTANCE : new com.google.gson.JsonPrimitive(s);
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }
}
