package org.jdryad.debug;

import com.google.gson.stream.JsonWriter;
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
 * <p>Addresses are strings ({@code "0x7f..."}): JSON numbers lose precision above 2^53.
 */
public final class HistoryFile {
    /** Bumped on any change a reader could notice. */
    public static final int VERSION = 1;
    public static final String FORMAT = "jdryad-history";

    /** An object of the link map as the history describes it. */
    public record ObjectInfo(String name, String path, long base, long start, long end, boolean host, boolean lazy) {
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
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp");
        try {
            try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8); JsonWriter j = new JsonWriter(w)) {
                j.setIndent(" ");
                j.beginObject();
                j.name("format").value(FORMAT);
                j.name("version").value(VERSION);
                j.name("program").value(program);
                j.name("arguments").beginArray();
                for (String a : args) {
                    j.value(a);
                }
                j.endArray();
                j.name("pid").value(pid);
                j.name("exit").beginObject().name("status").value(ending.status());
                j.name("signal");
                if (ending.status() > 128 && ending.status() < 128 + 65) {
                    j.value(ending.status() - 128);
                } else {
                    j.nullValue();
                }
                j.name("problem").value(ending.problem());
                j.endObject();
                writeObjects(j, objects);
                writeBindings(j, bindings, sites);
                writeEvents(j, events, sites);
                j.endObject();
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static void writeObjects(JsonWriter j, List<ObjectInfo> objects) throws IOException {
        j.name("objects").beginArray();
        for (ObjectInfo o : objects) {
            j.beginObject();
            j.name("name").value(o.name());
            j.name("path").value(o.path());
            j.name("base").value(hex(o.base()));
            j.name("start").value(hex(o.start()));
            j.name("end").value(hex(o.end()));
            j.name("host").value(o.host());
            j.name("lazy").value(o.lazy());
            j.endObject();
        }
        j.endArray();
    }

    private static void writeBindings(JsonWriter j, List<Binding> bindings, CallSites sites) throws IOException {
        j.name("bindings").beginArray();
        for (Binding b : bindings) {
            j.beginObject();
            j.name("seq").value(b.seq());
            j.name("time_ns").value(b.timeNanos());
            j.name("pid").value(b.pid());
            j.name("tid").value(b.tid());
            j.name("kind").value(b.kind().word());
            j.name("referrer").value(b.referrer());
            j.name("relocation").value(b.relocation());
            j.name("slot").value(hex(b.slot()));
            j.name("call_site");
            site(j, b.callSite(), sites);
            j.name("symbol").value(b.symbol());
            j.name("version").value(b.version());
            j.name("definer").value(b.definer());
            j.name("address").value(hex(b.address()));
            j.name("searched").beginArray();
            for (String s : b.searched()) {
                j.value(s);
            }
            j.endArray();
            j.name("passed_over").beginArray();
            for (Binding.Candidate c : b.passedOver()) {
                j.beginObject().name("object").value(c.object()).name("reason").value(c.reason()).endObject();
            }
            j.endArray();
            j.endObject();
        }
        j.endArray();
    }

    private static void writeEvents(JsonWriter j, List<ActivityEvent> events, CallSites sites) throws IOException {
        j.name("events").beginArray();
        for (ActivityEvent e : events) {
            j.beginObject();
            j.name("seq").value(e.seq());
            j.name("time_ns").value(e.timeNanos());
            j.name("pid").value(e.pid());
            j.name("tid").value(e.tid());
            j.name("state").value(e.state().word());
            j.name("cause").value(e.cause().word());
            j.name("request").value(e.request());
            j.name("flags").value(e.flags());
            j.name("call_site");
            site(j, e.callSite(), sites);
            j.name("namespace").value(e.namespace());
            j.name("objects").beginArray();
            for (String o : e.objects()) {
                j.value(o);
            }
            j.endArray();
            j.endObject();
        }
        j.endArray();
    }

    /** A call site: null, or its address with the object, symbol and offsets it lies at. */
    private static void site(JsonWriter j, long address, CallSites sites) throws IOException {
        if (address == 0) {
            j.nullValue();
            return;
        }
        j.beginObject().name("address").value(hex(address));
        var s = sites.locate(address);
        if (s.isPresent()) {
            j.name("object").value(s.get().object());
            j.name("object_offset").value(s.get().objectOffset());
            j.name("symbol").value(s.get().symbol());
            j.name("symbol_offset").value(s.get().symbolOffset());
            j.name("text").value(s.get().toString());
        }
        j.endObject();
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }
}
