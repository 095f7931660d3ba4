package org.jdryad.debug;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipal;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.jdryad.agent.PeerCheck;
import org.jdryad.agent.PrivateSocket;

/**
 * Answers questions about a running program's link map, bindings and events, for gdb (the
 * {@code jdryad} commands of gdb-scripts/) and any other local client.
 *
 * <p>Why a server in the JVM: the record (BindingHistory, ActivityLog, CallSites) lives here and
 * nowhere else, and the JVM keeps running while gdb holds the program stopped at a breakpoint,
 * so it can answer exactly then; the agent, stopped with the program, could not.
 *
 * <p>Why these precautions: the answers reveal addresses (they defeat ASLR), so the socket lives
 * in a directory only jdryad's user can enter and every peer's credentials (SO_PEERCRED) are
 * checked as well. Every request is validated; a bad one gets an error reply and the
 * connection stays usable.
 *
 * <p>Protocol (README, "The query protocol"): JSON lines; a request
 * {@code {"v":1,"id":N,"op":"linkmap"|"bindings"|"events"|"why"|"stats"|"slots", ...filters}}, a reply
 * {@code {"v":1,"id":N,"ok":true,"result":...}} or {@code {"v":1,"id":N,"ok":false,"error":"..."}}.
 * Results use {@link HistoryFile}'s JSON shapes.
 */
public final class QueryServer implements AutoCloseable {
    public static final int VERSION = 1;
    /** The longest request line read; a longer one is skipped to its end and answered with an error. */
    public static final int MAX_LINE = 1 << 20;
    /** The size of the agent's {@code struct { int version; int pid; char path[108]; } jdryad_query_info}. */
    public static final int INFO_SIZE = 4 + 4 + 108;

    private static final Gson GSON = new GsonBuilder().serializeNulls().disableHtmlEscaping().create();
    private static final int MAX_CLIENTS = 16;
    private static final Map<String, Set<String>> FILTERS = Map.of(
            "linkmap", Set.of(), "stats", Set.of(), "events", Set.of("last"),
            "bindings", Set.of("symbol", "object", "lazy", "last"), "why", Set.of("symbol", "from"),
            "slots", Set.of("object", "kind"));

    /** What the server reports on: the live record of the run. */
    public interface Source {
        List<HistoryFile.ObjectInfo> objects();

        List<Binding> bindings();

        List<ActivityEvent> events();

        CallSites sites();

        long pid();

        String program();

        /** The run's GOT and PLT slots as they are now; null while nothing is loaded. */
        default SlotTable slots() {
            return null;
        }

        /** The linker's counts and phase times so far; null while nothing is linked. */
        default LinkStats linkStats() {
            return null;
        }
    }

    /**
     * What linking cost: relocations by type, symbol lookups (looked up, answered from an
     * object's cache, objects probed), jump slots left lazy and bound since, and the time of
     * each phase in nanoseconds.
     */
    public record LinkStats(long relocations, Map<String, Long> byType, long lookups, long cachedLookups,
                            long objectsProbed, long lazySlots, long lazyBound, Map<String, Long> phaseNanos) {
    }

    /** The source to answer from, asked once per request (under gdb: the run in progress). */
    private final Supplier<Source> sources;
    private final PrivateSocket listening;
    private final Path socket;
    private final ServerSocketChannel server;
    private final UserPrincipal self;
    private final long started = System.nanoTime();
    private final java.util.concurrent.atomic.AtomicInteger clients = new java.util.concurrent.atomic.AtomicInteger();

    private QueryServer(Supplier<Source> sources, PrivateSocket listening) {
        this.sources = sources;
        this.listening = listening;
        this.socket = listening.socket();
        this.server = listening.server();
        this.self = listening.owner();
    }

    /** Listens on a socket in a new rwx------ directory and answers from {@code source} until closed. */
    public static QueryServer start(Source source) throws IOException {
        return start(() -> source);
    }

    /** As {@link #start(Source)}, answering each request from the source {@code sources} gives then. */
    public static QueryServer start(Supplier<Source> sources) throws IOException {
        PrivateSocket ps = PrivateSocket.open("jdryad-query-", "query.sock");
        QueryServer q = new QueryServer(sources, ps);
        Thread t = new Thread(q::acceptLoop, "jdryad-query-accept");
        t.setDaemon(true);
        t.start();
        return q;
    }

    public Path socket() {
        return socket;
    }

    /** The bytes of the agent's {@code jdryad_query_info}: version 1, this JVM's pid, the socket's path. */
    public byte[] infoStruct() {
        byte[] path = socket.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(INFO_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(VERSION).putInt((int) ProcessHandle.current().pid());
        if (path.length < 108) {
            b.put(path);
        }
        return b.array();
    }

    /** Only jdryad's own user may ask (the directory already keeps others out; this is the second lock). */
    static boolean admits(UserPrincipal peer, UserPrincipal self) {
        return PeerCheck.admits(peer, self);
    }

    private void acceptLoop() {
        while (server.isOpen()) {
            SocketChannel ch;
            try {
                ch = server.accept();
            } catch (IOException e) {
                return; // closed
            }
            try {
                if (!PeerCheck.admits(ch, self)) {
                    refuse(ch, "refused: not jdryad's user");
                    continue;
                }
                if (clients.incrementAndGet() > MAX_CLIENTS) {
                    clients.decrementAndGet();
                    refuse(ch, "refused: more than " + MAX_CLIENTS + " clients");
                    continue;
                }
            } catch (IOException | UnsupportedOperationException e) {
                closeQuietly(ch);
                continue;
            }
            Thread t = new Thread(() -> serve(ch), "jdryad-query-client");
            t.setDaemon(true);
            t.start();
        }
    }

    private void serve(SocketChannel ch) {
        try (ch; InputStream in = new java.io.BufferedInputStream(Channels.newInputStream(ch));
             OutputStream out = Channels.newOutputStream(ch)) {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            boolean tooLong = false;
            int c;
            while ((c = in.read()) >= 0) {
                if (c != '\n') {
                    if (line.size() < MAX_LINE) {
                        line.write(c);
                    } else {
                        tooLong = true;
                    }
                    continue;
                }
                JsonObject answer = tooLong ? error(null, "request longer than " + MAX_LINE + " bytes")
                        : answer(line.toString(StandardCharsets.UTF_8));
                reply(out, answer);
                line.reset();
                tooLong = false;
            }
        } catch (IOException e) {
            // the client went away
        } finally {
            clients.decrementAndGet();
        }
    }

    private static void reply(OutputStream out, JsonObject answer) throws IOException {
        out.write((GSON.toJson(answer) + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** The reply to one request line (public for tests: the whole protocol without a socket). */
    public JsonObject answer(String line) {
        JsonElement parsed;
        try {
            parsed = JsonParser.parseString(line);
        } catch (JsonParseException | StackOverflowError e) {
            return error(null, "not a JSON object");
        }
        if (!parsed.isJsonObject()) {
            return error(null, "not a JSON object");
        }
        JsonObject r = parsed.getAsJsonObject();
        JsonElement id = r.get("id");
        if (id == null || !isWhole(id)) {
            return error(null, "\"id\" must be a whole number");
        }
        try {
            if (!isWhole(r.get("v")) || r.get("v").getAsLong() != VERSION) {
                throw new Bad("\"v\" must be " + VERSION);
            }
            JsonElement op = r.get("op");
            if (op == null || !op.isJsonPrimitive() || !op.getAsJsonPrimitive().isString()
                    || !FILTERS.containsKey(op.getAsString())) {
                throw new Bad("\"op\" must be one of " + new java.util.TreeSet<>(FILTERS.keySet()));
            }
            for (String k : r.keySet()) {
                if (!Set.of("v", "id", "op").contains(k) && !FILTERS.get(op.getAsString()).contains(k)) {
                    throw new Bad("unknown field \"" + k + "\" for " + op.getAsString());
                }
            }
            JsonObject ok = new JsonObject();
            ok.addProperty("v", VERSION);
            ok.add("id", id);
            ok.addProperty("ok", true);
            ok.add("result", result(op.getAsString(), r, sources.get()));
            return ok;
        } catch (Bad e) {
            return error(id, e.getMessage());
        } catch (RuntimeException e) {
            return error(id, "internal error: " + e);
        }
    }

    private JsonElement result(String op, JsonObject r, Source source) {
        HistoryView.Query q = new HistoryView.Query(string(r, "symbol"), string(r, "object"), bool(r, "lazy"),
                last(r), string(r, "from"));
        return switch (op) {
            case "linkmap" -> HistoryFile.objects(source.objects());
            case "slots" -> slots(r, source);
            case "events" -> HistoryFile.events(q.tail(source.events()), source.sites());
            case "bindings", "why" -> {
                if (op.equals("why") && q.symbol() == null) {
                    throw new Bad("why needs \"symbol\"");
                }
                List<Binding> match = new java.util.ArrayList<>();
                for (Binding b : source.bindings()) {
                    if (q.matches(b.symbol(), b.kind().word(), b.referrer(), b.definer())) {
                        match.add(b);
                    }
                }
                yield HistoryFile.bindings(q.tail(match), source.sites());
            }
            default -> stats(source);
        };
    }

    /** {@code slots}: {@code object} (required) and {@code kind} ("got" or "plt", required). */
    private static JsonObject slots(JsonObject r, Source source) {
        String object = string(r, "object");
        String word = string(r, "kind");
        if (object == null || word == null) {
            throw new Bad("slots needs \"object\" and \"kind\" (\"got\" or \"plt\")");
        }
        SlotTable.Kind kind = SlotTable.Kind.of(word);
        if (kind == null) {
            throw new Bad("\"kind\" must be \"got\" or \"plt\"");
        }
        SlotTable table = source.slots();
        if (table == null) {
            throw new Bad("no objects are loaded yet");
        }
        try {
            return table.describe(object, kind, source.bindings(), source.sites());
        } catch (SlotTable.NoSuchObject e) {
            throw new Bad(e.getMessage());
        }
    }

    private JsonObject stats(Source source) {
        List<Binding> all = source.bindings();
        Map<String, Integer> byKind = new TreeMap<>();
        for (Binding b : all) {
            byKind.merge(b.kind().word(), 1, Integer::sum);
        }
        JsonObject s = new JsonObject();
        s.addProperty("program", source.program());
        s.addProperty("pid", source.pid());
        s.addProperty("objects", source.objects().size());
        s.addProperty("bindings", all.size());
        s.add("by_kind", GSON.toJsonTree(byKind));
        s.addProperty("events", source.events().size());
        s.addProperty("uptime_ns", System.nanoTime() - started);
        LinkStats link = source.linkStats();
        if (link != null) {
            JsonObject l = new JsonObject();
            l.addProperty("relocations", link.relocations());
            l.add("by_type", GSON.toJsonTree(link.byType()));
            l.addProperty("lookups", link.lookups());
            l.addProperty("cached_lookups", link.cachedLookups());
            l.addProperty("objects_probed", link.objectsProbed());
            l.addProperty("lazy_slots", link.lazySlots());
            l.addProperty("lazy_bound", link.lazyBound());
            l.add("phases_ns", GSON.toJsonTree(link.phaseNanos()));
            s.add("link", l);
        }
        return s;
    }

    private static final class Bad extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Bad(String message) {
            super(message);
        }
    }

    private static boolean isWhole(JsonElement e) {
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            return false;
        }
        try {
            e.getAsBigDecimal().longValueExact();
            return true;
        } catch (ArithmeticException | NumberFormatException x) {
            return false;
        }
    }

    private static String string(JsonObject r, String k) {
        JsonElement e = r.get(k);
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString() || e.getAsString().isEmpty()) {
            throw new Bad("\"" + k + "\" must be a non-empty string");
        }
        return e.getAsString();
    }

    private static boolean bool(JsonObject r, String k) {
        JsonElement e = r.get(k);
        if (e == null || e.isJsonNull()) {
            return false;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw new Bad("\"" + k + "\" must be true or false");
        }
        return e.getAsBoolean();
    }

    private static int last(JsonObject r) {
        JsonElement e = r.get("last");
        if (e == null || e.isJsonNull()) {
            return 0;
        }
        if (!isWhole(e) || e.getAsLong() < 0 || e.getAsLong() > Integer.MAX_VALUE) {
            throw new Bad("\"last\" must be a whole number from 0");
        }
        return e.getAsInt();
    }

    private static JsonObject error(JsonElement id, String message) {
        JsonObject o = new JsonObject();
        o.addProperty("v", VERSION);
        o.add("id", id == null ? com.google.gson.JsonNull.INSTANCE : id);
        o.addProperty("ok", false);
        o.add("error", new JsonPrimitive(message));
        return o;
    }

    private static void refuse(SocketChannel ch, String why) throws IOException {
        try (ch) {
            reply(Channels.newOutputStream(ch), error(null, why));
        }
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            // nothing to do
        }
    }

    @Override
    public void close() {
        listening.close();
    }
}
