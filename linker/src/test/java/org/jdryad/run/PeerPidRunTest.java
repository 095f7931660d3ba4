package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jdryad.agent.Protocol;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Another process of jdryad's user against a real run's agent socket (README, known limits):
 * a python3 client, started by the test (so it does not descend from the run's program), says
 * HELLO_CHILD as the program itself, HELLO_CHILD as a child of the program, and HELLO as the
 * program. Each must get an error reply and leave one "refused" line, and the program, which
 * waits meanwhile, must then still be served by Java (a dlopen, a dlsym) and end as natively.
 */
@Tag("run")
class PeerPidRunTest {
    private static final String CLIENT = String.join("\n",
            "import os, socket, struct, sys",
            "path, prog = sys.argv[1], int(sys.argv[2])",
            "def s(text):",
            "    b = text.encode() + b'\\0'",
            "    return struct.pack('<I', len(b)) + b",
            "hello = struct.pack('<Q', prog) + b''.join(struct.pack('<Q', 0x1000 * i) for i in range(1, 12))",
            "hello += struct.pack('<QQQQ', 1, 0x400000, 0x403000, 0) + s('libhost.so') + struct.pack('<QQ', 0, 1)",
            "hello += s('jd_entry') + struct.pack('<Q', 0x7000)",
            "frames = [(" + Protocol.HELLO_CHILD + ", struct.pack('<QQQ', prog, prog, 0)),",
            "          (" + Protocol.HELLO_CHILD + ", struct.pack('<QQQ', os.getpid(), prog, 0)),",
            "          (" + Protocol.HELLO + ", hello)]",
            "for t, payload in frames:",
            "    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)",
            "    c.connect(path)",
            "    c.sendall(struct.pack('<IIQ', len(payload), t, 0) + payload)",
            "    data = b''",
            "    while True:",
            "        try: b = c.recv(4096)",
            "        except ConnectionResetError: break",
            "        if not b: break",
            "        data += b",
            "    if len(data) < 24:",
            "        print('closed without a reply')",
            "    else:",
            "        n, rt, q = struct.unpack('<IIQ', data[:16])",
            "        print('%x %d' % (rt, struct.unpack('<q', data[16:24])[0]))");

    @Test
    void aHostileProcessOfTheSameUserIsRefusedAndTheRunGoesOn() throws Exception {
        Path prog = Fixtures.program("socket-peer", List.of("robust/socket_peer_main.c"), "-ldl");
        Path dir = Fixtures.scratchDir("socket-peer");
        Path info = dir.resolve("info"), done = dir.resolve("done");
        Files.deleteIfExists(info);
        Files.writeString(done, "");
        Result expected = Jdryad.runNative(prog, List.of(info.toString(), done.toString()), Map.of(), dir);
        assertEquals("went on: cos(0) = 1\n", expected.stdout(), expected::describe);
        Files.delete(info);
        Files.delete(done);

        CompletableFuture<Result> run = CompletableFuture.supplyAsync(
                () -> Jdryad.runJdryad(List.of(), prog, List.of(info.toString(), done.toString()), Map.of(), dir));
        String[] pidAndSocket = awaitInfo(info, run);
        Process client = new ProcessBuilder("python3", "-c", CLIENT, pidAndSocket[1], pidAndSocket[0])
                .redirectErrorStream(true).start();
        boolean ended = client.waitFor(30, TimeUnit.SECONDS);
        String said = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        Files.writeString(done, "");
        assertTrue(ended, "the hostile client hung");
        Result actual = run.get(120, TimeUnit.SECONDS);

        String child = Integer.toHexString(Protocol.HELLO_CHILD | Protocol.REPLY) + " -1\n";
        assertEquals(child + child + Integer.toHexString(Protocol.HELLO | Protocol.REPLY) + " -1\n", said);
        assertEquals(0, actual.status(), actual::describe);
        assertEquals(expected.stdout(), actual.stdout(), actual::describe);
        List<String> refused = actual.stderr().lines().filter(l -> l.startsWith("jdryad: refused a ")).toList();
        assertEquals(3, refused.size(), actual::describe);
        assertTrue(refused.get(0).contains("HELLO_CHILD") && refused.get(0).contains("claims pid " + pidAndSocket[0]),
                actual::describe);
        assertTrue(refused.get(1).contains("does not descend from the program, pid " + pidAndSocket[0]), actual::describe);
        assertTrue(refused.get(2).startsWith("jdryad: refused a HELLO on"), actual::describe);
        assertEquals(3, actual.stderr().lines().count(), actual::describe); // nothing else was said
    }

    /** "PID SOCKET", once the program under jdryad wrote it. */
    private static String[] awaitInfo(Path info, CompletableFuture<Result> run) throws Exception {
        for (int i = 0; i < 3000; i++) {
            if (Files.isRegularFile(info)) {
                String[] f = Files.readString(info).trim().split(" ", 2);
                assertFalse(f[1].equals("none"), "the program found no socket its parent listens on");
                return f;
            }
            if (run.isDone()) {
                throw new AssertionError("the run ended before it waited:\n" + run.get().describe());
            }
            Thread.sleep(20);
        }
        throw new AssertionError("the run never wrote " + info);
    }
}
