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
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The query protocol over a real socket, on a made-up run: bad requests are answered and forgotten. */
class QueryServerTest {
    private static final Binding WHO = new Binding(1, 10, 42, 43, Binding.Kind.LAZY, "/p/prog", "R_X86_64_JUMP_SLOT",
            0x1000, 0, "who", null, "/p/lib1.so", 0x7000, List.of("/p/prog", "/p/lib1.so"),
            List.of(new Binding.Candidate("/p/lib2.so", "interposed: /p/lib1.so comes first in the scope")));
    private static final Binding PUTS = new Binding(2, 11, 42, 0, Binding.Kind.EAGER, "/p/lib1.so", "R_X86_64_GLOB_DAT",
            0x2000, 0, "puts", "GLIBC_2.2.5", "/lib/libc.so.6", 0x9000, List.of("/lib/libc.so.6"), List.of());

    private static QueryServer.Source source() {
        return new QueryServer.Source() {
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
