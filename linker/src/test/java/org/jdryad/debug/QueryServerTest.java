package org.jdryad.debug;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.List;
import java.util.Map;
import org.jdryad.elf.ElfFile;
import org.jdryad.elf.FileIdentity;
import org.jdryad.link.LinkSession;
import org.jdryad.link.LoadedObject;
import org.jdryad.link.TargetMemory;
import org.junit.jupiter.api.Test;

/** The query protocol over a real socket, on a made-up run: bad requests are answered and forgotten. */
class QueryServerTest {
    private static final Binding WHO = new Binding(1, 10, 42, 43, Binding.Kind.LAZY, "/p/prog", "R_X86_64_JUMP_SLOT",
            0x1000, 0, "who", null, "/p/lib1.so", 0x7000, List.of("/p/prog", "/p/lib1.so"),
            List.of(new Binding.Candidate("/p/lib2.so", "interposed: /p/lib1.so comes first in the scope")));
    private static final Binding PUTS = new Binding(2, 11, 42, 0, Binding.Kind.EAGER, "/p/lib1.so", "R_X86_64_GLOB_DAT",
            0x2000, 0, "puts", "GLIBC_2.2.5", "/lib/libc.so.6", 0x9000, List.of("/lib/libc.so.6"), List.of());

    private static QueryServer.Source source() {
        return source(null);
    }

    private static QueryServer.Source source(SlotTable slots) {
        return new QueryServer.Source() {
            public SlotTable slots() {
                return slots;
            }

            public List<HistoryFile.ObjectInfo> objects() {
                return List.of(new HistoryFile.ObjectInfo("/p/prog", "/p/prog", 0x5000, 0x5000, 0x6000, false, true));
            }

            public List<Binding> bindings() {
                return List.of(WHO, PUTS);
            }

            public List<ActivityEvent> events() {
                return List.of(new ActivityEvent(1, 5, 42, 0, ActivityEvent.State.ADD, ActivityEvent.Cause.STARTUP, null,
                        0, 0, 0, List.of("/p/prog")));
            }

            public CallSites sites() {
                return new CallSites(List.of());
            }

            public long pid() {
                return 42;
            }

            public String program() {
                return "/p/prog";
            }
        };
    }

    @Test
    void badRequestsGetErrorsAndTheConnectionStaysUsable() throws Exception {
        try (QueryServer q = QueryServer.start(source());
             SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(q.socket().getParent())));
            ch.connect(UnixDomainSocketAddress.of(q.socket()));
            OutputStream out = Channels.newOutputStream(ch);
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
            String[] bad = {"{not json", "[1,2]", "{\"v\":1,\"id\":\"x\",\"op\":\"stats\"}",
                "{\"v\":2,\"id\":1,\"op\":\"stats\"}", "{\"v\":1,\"id\":2,\"op\":\"rm -rf\"}",
                "{\"v\":1,\"id\":3,\"op\":\"bindings\",\"last\":\"9\"}", "{\"v\":1,\"id\":4,\"op\":\"bindings\",\"lazy\":1}",
                "{\"v\":1,\"id\":5,\"op\":\"events\",\"symbol\":\"who\"}", "{\"v\":1,\"id\":6,\"op\":\"why\"}",
                "{\"v\":1,\"id\":7,\"op\":\"bindings\",\"last\":-1}", "x".repeat(QueryServer.MAX_LINE + 10)};
            for (String b : bad) {
                out.write((b + "\n").getBytes(StandardCharsets.UTF_8));
                JsonObject r = JsonParser.parseString(in.readLine()).getAsJsonObject();
                assertFalse(r.get("ok").getAsBoolean(), () -> b + " -> " + r);
                assertTrue(r.get("error").getAsString().length() > 0, r::toString);
                assertEquals(1, r.get("v").getAsInt());
            }
            out.write("{\"v\":1,\"id\":8,\"op\":\"why\",\"symbol\":\"who\",\"from\":\"prog\"}\n".getBytes(StandardCharsets.UTF_8));
            JsonObject r = JsonParser.parseString(in.readLine()).getAsJsonObject();
            assertTrue(r.get("ok").getAsBoolean(), r::toString);
            assertEquals(8, r.get("id").getAsInt());
            JsonArray result = r.getAsJsonArray("result");
            assertEquals(1, result.size(), r::toString);
            assertEquals(HistoryFile.binding(WHO, new CallSites(List.of())), result.get(0));

            out.write("{\"v\":1,\"id\":9,\"op\":\"bindings\",\"object\":\"libc.so.6\"}\n{\"v\":1,\"id\":10,\"op\":\"stats\"}\n"
                    .getBytes(StandardCharsets.UTF_8));
            JsonObject b = JsonParser.parseString(in.readLine()).getAsJsonObject();
            assertEquals("puts", b.getAsJsonArray("result").get(0).getAsJsonObject().get("symbol").getAsString(), b::toString);
            JsonObject s = JsonParser.parseString(in.readLine()).getAsJsonObject().getAsJsonObject("result");
            assertEquals(2, s.get("bindings").getAsInt(), s::toString);
            assertEquals(1, s.getAsJsonObject("by_kind").get("lazy").getAsInt(), s::toString);
        }
    }

    /** Memory the slots op may not touch but for its page size: peek says it cannot read. */
    private static final TargetMemory NO_MEMORY = new TargetMemory() {
        public long pageSize() {
            return 4096;
        }

        public long reserve(long address, long length, boolean fixed) {
            throw new UnsupportedOperationException();
        }

        public void mapFile(long address, long length, int prot, Path file, FileIdentity identity, long fileOffset) {
            throw new UnsupportedOperationException();
        }

        public void mapAnonymous(long address, long length, int prot) {
            throw new UnsupportedOperationException();
        }

        public void protect(long address, long length, int prot) {
            throw new UnsupportedOperationException();
        }

        public void write(long address, byte[] bytes) {
            throw new UnsupportedOperationException();
        }

        public byte[] read(long address, int length) {
            throw new UnsupportedOperationException("the slots op must read with peek, never through the agent");
        }

        public void writeWords(long[] addresses, long[] values, int count) {
            throw new UnsupportedOperationException();
        }

        public long call(long function, long... args) {
            throw new UnsupportedOperationException();
        }
    };

    private static JsonObject ask(OutputStream out, BufferedReader in, String request) throws Exception {
        out.write((request + "\n").getBytes(StandardCharsets.UTF_8));
        return JsonParser.parseString(in.readLine()).getAsJsonObject();
    }

    @Test
    void slotsRequestsAreValidatedAndTheConnectionStaysUsable() throws Exception {
        LinkSession session = new LinkSession(NO_MEMORY, Map.of(), 0, 0, 0, new BindingHistory(), w -> { });
        Path exe = Path.of("/usr/bin/true");
        try (ElfFile elf = ElfFile.open(exe)) {
            session.setObjects(List.of(new LoadedObject(elf, exe.toString(), false, true, 0)));
            try (QueryServer q = QueryServer.start(source(new SlotTable(session, 0, false)));
                 SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                ch.connect(UnixDomainSocketAddress.of(q.socket()));
                OutputStream out = Channels.newOutputStream(ch);
                BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
                String[][] bad = {
                    {"{\"v\":1,\"id\":1,\"op\":\"slots\",\"object\":\"true\"}", "\"kind\""},
                    {"{\"v\":1,\"id\":2,\"op\":\"slots\",\"kind\":\"got\"}", "\"object\""},
                    {"{\"v\":1,\"id\":3,\"op\":\"slots\",\"object\":\"true\",\"kind\":\"bss\"}", "\"got\" or \"plt\""},
                    {"{\"v\":1,\"id\":4,\"op\":\"slots\",\"object\":\"true\",\"kind\":3}", "non-empty string"},
                    {"{\"v\":1,\"id\":5,\"op\":\"slots\",\"object\":\"\",\"kind\":\"plt\"}", "non-empty string"},
                    {"{\"v\":1,\"id\":6,\"op\":\"slots\",\"object\":[\"true\"],\"kind\":\"plt\"}", "non-empty string"},
                    {"{\"v\":1,\"id\":7,\"op\":\"slots\",\"object\":\"true\",\"kind\":\"plt\",\"last\":1}",
                        "unknown field \"last\""},
                    {"{\"v\":1,\"id\":8,\"op\":\"slots\",\"object\":\"libnope.so\",\"kind\":\"plt\"}",
                        "no loaded object is named libnope.so"},
                    {"{\"v\":1,\"id\":9,\"op\":\"slots\",\"object\":\"rue\",\"kind\":\"plt\"}",
                        "no loaded object is named rue"},
                };
                for (String[] b : bad) {
                    JsonObject r = ask(out, in, b[0]);
                    assertFalse(r.get("ok").getAsBoolean(), () -> b[0] + " -> " + r);
                    assertTrue(r.get("error").getAsString().contains(b[1]), () -> b[0] + " -> " + r);
                    assertFalse(r.get("error").getAsString().startsWith("internal error"), () -> b[0] + " -> " + r);
                }
                // The connection still answers, and a good request gets the object's slots by file name.
                JsonObject r = ask(out, in, "{\"v\":1,\"id\":10,\"op\":\"slots\",\"object\":\"true\",\"kind\":\"got\"}");
                assertTrue(r.get("ok").getAsBoolean(), r::toString);
                JsonObject t = r.getAsJsonObject("result");
                assertEquals(exe.toString(), t.get("object").getAsString(), t::toString);
                assertEquals("got", t.get("kind").getAsString());
                assertEquals("unreadable", t.get("memory").getAsString(), t::toString);
                JsonArray slots = t.getAsJsonArray("slots");
                assertTrue(slots.size() > 0, "true has GLOB_DAT slots: " + t);
                for (var e : slots) {
                    JsonObject s = e.getAsJsonObject();
                    assertTrue(s.get("current").isJsonNull(), s::toString);
                    assertFalse(s.get("tampered").getAsBoolean(), s::toString);
                }
                assertEquals(10, r.get("id").getAsInt());
            }
        }
        try (QueryServer q = QueryServer.start(source())) {
            JsonObject r = q.answer("{\"v\":1,\"id\":11,\"op\":\"slots\",\"object\":\"prog\",\"kind\":\"plt\"}");
            assertFalse(r.get("ok").getAsBoolean(), r::toString);
            assertEquals("no objects are loaded yet", r.get("error").getAsString());
        }
    }

    @Test
    void theInfoStructNamesTheSocket() throws Exception {
        try (QueryServer q = QueryServer.start(source())) {
            byte[] info = q.infoStruct();
            assertEquals(QueryServer.INFO_SIZE, info.length);
            assertEquals(1, info[0]);
            String path = new String(info, 8, 108, StandardCharsets.UTF_8).replaceAll("\0+$", "");
            assertEquals(q.socket().toString(), path);
        }
    }

    @Test
    void onlyTheSameUserIsAdmitted() {
        UserPrincipal me = () -> "alice";
        UserPrincipal other = () -> "mallory";
        assertTrue(QueryServer.admits(() -> "alice", me));
        assertFalse(QueryServer.admits(other, me));
        assertFalse(QueryServer.admits(null, me));
    }
}
