package org.jdryad.agent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A hostile peer of the same user against the agent socket: the real {@link AgentListener} (and
 * the {@link ForkedChildren} a run registers on it), in-process, spoken to over its unix socket
 * as an agent would. Why in-process: what is under test is the Java side's reading of frames
 * before it knows its peer is an agent, which no real agent exercises. Each hostile connection
 * must end in a clean refusal (closed, or an error reply) within a bounded time, with no
 * uncaught exception on any thread, and a legitimate agent must still be admitted afterwards.
 */
class ProtocolValidationTest {
    private static final Duration BOUND = Duration.ofSeconds(10);
    private static final Duration DEADLINE = Duration.ofSeconds(2);
    /** This JVM: the peer of every in-process connection, as SO_PEERCRED tells the listener. */
    private static final long SELF = ProcessHandle.current().pid();
    /** This JVM's parent, which stands for a run's program whose fork child is this JVM. */
    private static final long PROGRAM = ProcessHandle.current().parent().orElseThrow().pid();

    private AgentListener listener;
    private final List<Throwable> uncaught = new CopyOnWriteArrayList<>();
    private Thread.UncaughtExceptionHandler previous;

    @BeforeEach
    void open() throws IOException {
        previous = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> uncaught.add(e));
        listener = AgentListener.open(DEADLINE);
    }

    @AfterEach
    void close() {
        listener.close();
        Thread.setDefaultUncaughtExceptionHandler(previous);
        assertTrue(uncaught.isEmpty(), () -> "uncaught on a listener thread: " + uncaught);
    }

    @Test
    void aHugeFirstFrameIsRefusedBeforeItsPayload() throws Exception {
        try (SocketChannel ch = connect()) {
            send(ch, header(64 << 20, Protocol.HELLO, 0)); // below MAX_FRAME, far above any HELLO
            assertClosedByPeer(ch);
        }
        assertLegitimateHelloArrives();
    }

    @Test
    void aNegativeLengthIsRefused() throws Exception {
        try (SocketChannel ch = connect()) {
            send(ch, header(-1, Protocol.HELLO, 0));
            assertClosedByPeer(ch);
        }
        assertLegitimateHelloArrives();
    }

    @Test
    void aTruncatedHeaderIsDroppedAtTheDeadline() throws Exception {
        try (SocketChannel ch = connect()) {
            send(ch, ByteBuffer.wrap(new byte[7]));
            assertClosedByPeer(ch);
        }
        assertLegitimateHelloArrives();
    }

    @Test
    void aSilentPeerIsDroppedAndHoldsUpNobody() throws Exception {
        List<SocketChannel> silent = new ArrayList<>();
        try {
            for (int i = 0; i < 20; i++) {
                silent.add(connect());
            }
            assertLegitimateHelloArrives();
            for (SocketChannel ch : silent) {
                assertClosedByPeer(ch);
            }
        } finally {
            for (SocketChannel ch : silent) {
                ch.close();
            }
        }
    }

    @Test
    void anUnknownFirstFrameTypeIsRefused() throws Exception {
        try (SocketChannel ch = connect()) {
            send(ch, header(8, 0x7f, 0), ByteBuffer.allocate(8));
            assertClosedByPeer(ch);
        }
        try (SocketChannel ch = connect()) {
            send(ch, header(8, Protocol.CB_DLOPEN, 1), ByteBuffer.allocate(8)); // a callback before any HELLO
            assertClosedByPeer(ch);
        }
        assertLegitimateHelloArrives();
    }

    @Test
    void aTruncatedHelloNeverReachesTheRun() throws Exception {
        byte[] whole = hello(4242);
        for (int cut : new int[] {0, 4, 8, 12 * 8, whole.length - 1}) {
            try (SocketChannel ch = connect()) {
                send(ch, header(cut, Protocol.HELLO, 0), ByteBuffer.wrap(whole, 0, cut));
                assertClosedByPeer(ch);
            }
        }
        try (SocketChannel ch = connect()) {
            byte[] lying = hello(4243);
            ByteBuffer.wrap(lying).order(ByteOrder.LITTLE_ENDIAN).putLong(12 * 8, Long.MAX_VALUE); // host count
            send(ch, header(lying.length, Protocol.HELLO, 0), ByteBuffer.wrap(lying));
            assertClosedByPeer(ch);
        }
        assertNull(listener.next(Duration.ofMillis(300)), "a malformed HELLO was handed to the run");
        assertLegitimateHelloArrives();
    }

    @Test
    void helloChildForAPidThatIsNotTheRunsIsRefused() throws Exception {
        AtomicLong calls = new AtomicLong();
        ForkedChildren run = new ForkedChildren(1_000_001L, (o, i, c, t, p) -> {
            calls.incrementAndGet();
            return CallbackReply.lazy(0x1000, 0x2000, false, false);
        });
        listener.register(run);
        try (SocketChannel ch = connect()) {
            send(ch, header(24, Protocol.HELLO_CHILD, 0), payload(new Payload.Writer().q(1_000_002L).q(77).q(0)));
            assertClosedByPeer(ch);
        }
        try (SocketChannel ch = connect()) {
            send(ch, header(4, Protocol.HELLO_CHILD, 0), ByteBuffer.allocate(4)); // no parent pid at all
            assertClosedByPeer(ch);
        }
        assertEquals(0, calls.get());
        listener.unregister(run);
    }

    @Test
    void aHelloWhosePidIsNotItsSendersIsRefused() throws Exception {
        try (SocketChannel ch = connect()) {
            byte[] h = hello(SELF + 1); // whole and well-formed, but another process's pid
            send(ch, header(h.length, Protocol.HELLO, 0), ByteBuffer.wrap(h));
            assertEquals(-1, refusal(ch, Protocol.HELLO));
            assertClosedByPeer(ch);
        }
        assertNull(listener.next(Duration.ofMillis(300)), "a HELLO naming another pid was handed to the run");
        assertLegitimateHelloArrives();
    }

    /** A real HELLO from a process jdryad did not start (this JVM) while jdryad waits for its own agent. */
    @Test
    void aHelloFromAProcessJdryadDidNotStartIsNotTakenAsItsAgent() throws Exception {
        Process started = new ProcessBuilder("sleep", "30").start();
        try (SocketChannel ch = connect()) {
            byte[] h = hello(SELF);
            send(ch, header(h.length, Protocol.HELLO, 0), ByteBuffer.wrap(h));
            assertNull(listener.await(started, Duration.ofMillis(500)), "a stranger's HELLO was taken as the agent");
            assertEquals(-1, refusal(ch, Protocol.HELLO));
        } finally {
            started.destroyForcibly();
        }
    }

    @Test
    void aHelloChildClaimingAnotherPidOrFromOutsideTheProgramIsRefused() throws Exception {
        AtomicLong calls = new AtomicLong();
        ForkedChildren run = new ForkedChildren(PROGRAM, (o, i, c, t, p) -> {
            calls.incrementAndGet();
            return CallbackReply.lazy(0x1000, 0x2000, false, false);
        });
        listener.register(run);
        Process stranger = new ProcessBuilder("sleep", "30").start(); // a pid that is no ancestor of ours
        ForkedChildren otherRun = new ForkedChildren(stranger.pid(), (o, i, c, t, p) -> {
            calls.incrementAndGet();
            return CallbackReply.lazy(0x1000, 0x2000, false, false);
        });
        listener.register(otherRun);
        try {
            // the program's own pid, claimed by another process
            assertChildRefused(new Payload.Writer().q(PROGRAM).q(PROGRAM).q(0));
            // another process's pid, claimed as the program's child
            assertChildRefused(new Payload.Writer().q(stranger.pid()).q(PROGRAM).q(0));
            // our own pid, as a child of a program we do not descend from
            assertChildRefused(new Payload.Writer().q(SELF).q(stranger.pid()).q(0));
            assertEquals(0, calls.get());
            // the runs go on: a real descendant is still served
            try (SocketChannel ch = connect()) {
                send(ch, header(24, Protocol.HELLO_CHILD, 0), payload(new Payload.Writer().q(SELF).q(PROGRAM).q(0)));
                send(ch, header(32, Protocol.CB_LAZY, 7), payload(new Payload.Writer().q(1).q(3).q(0).q(0)));
                assertEquals(Protocol.CB_OK, replyStatus(ch, Protocol.CB_LAZY, 7));
            }
            assertTrue(otherRun.knows(stranger.pid()));
        } finally {
            stranger.destroy();
            listener.unregister(run);
            listener.unregister(otherRun);
        }
        assertEquals(1, calls.get());
    }

    /** Another process of this user (python3) says HELLO_CHILD as the run's program and as its child. */
    @Test
    void aHostileProcessOfTheSameUserIsRefusedWhileTheRunGoesOn() throws Exception {
        Process program = new ProcessBuilder("sleep", "30").start();
        AtomicLong calls = new AtomicLong();
        ForkedChildren run = new ForkedChildren(program.pid(), (o, i, c, t, p) -> {
            calls.incrementAndGet();
            return CallbackReply.lazy(0x1000, 0x2000, false, false);
        });
        listener.register(run);
        String client = String.join("\n",
                "import os, socket, struct, sys",
                "prog = int(sys.argv[2])",
                "for child in (prog, os.getpid()):",
                "    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)",
                "    s.connect(sys.argv[1])",
                "    s.sendall(struct.pack('<IIQ', 24, " + Protocol.HELLO_CHILD + ", 0) + struct.pack('<QQQ', child, prog, 0))",
                // The refusal is read before the callback is sent: a socket closed with unread
                // bytes is reset, and the reset could come before the queued refusal was read.
                "    data = b''",
                "    while len(data) < 24:",
                "        b = s.recv(4096)",
                "        if not b: break",
                "        data += b",
                "    try: s.sendall(struct.pack('<IIQ', 32, " + Protocol.CB_LAZY + ", 1) + struct.pack('<QQQQ', 1, 3, 0, 0))",
                "    except (BrokenPipeError, ConnectionResetError): pass",
                "    n, t, q = struct.unpack('<IIQ', data[:16])",
                "    print('%x %d' % (t, struct.unpack('<q', data[16:24])[0]))");
        try {
            Process p = new ProcessBuilder("python3", "-c", client, listener.socket().toString(),
                    Long.toString(program.pid())).redirectErrorStream(true).start();
            assertTimeoutPreemptively(BOUND, () -> assertEquals(0, p.waitFor()));
            String refused = Integer.toHexString(Protocol.HELLO_CHILD | Protocol.REPLY) + " -1\n";
            assertEquals(refused + refused, new String(p.getInputStream().readAllBytes()));
            assertEquals(0, calls.get());
            assertTrue(program.isAlive() && run.knows(program.pid()), "the run was affected");
        } finally {
            program.destroy();
            listener.unregister(run);
        }
        assertLegitimateHelloArrives();
    }

    private void assertChildRefused(Payload.Writer hello) throws Exception {
        try (SocketChannel ch = connect()) {
            send(ch, header(hello.length(), Protocol.HELLO_CHILD, 0), payload(hello));
            assertEquals(-1, refusal(ch, Protocol.HELLO_CHILD));
            assertClosedByPeer(ch);
        }
    }

    /** The status of the error reply a refused first frame of {@code type} gets. */
    private static long refusal(SocketChannel ch, int type) throws Exception {
        byte[][] f = assertTimeoutPreemptively(BOUND, () -> AgentWire.readFrame(ch, 4096));
        assertNotNull(f, "no error reply");
        assertEquals(type | Protocol.REPLY, ByteBuffer.wrap(f[0]).order(ByteOrder.LITTLE_ENDIAN).getInt(4));
        return new Payload.Reader(f[1]).q();
    }

    @Test
    void aChildsMalformedCallbacksGetErrorsOrAreClosed() throws Exception {
        AtomicLong calls = new AtomicLong();
        ForkedChildren run = new ForkedChildren(PROGRAM, (o, i, c, t, p) -> {
            calls.incrementAndGet();
            if (o < 0 || o > 10) {
                throw new IllegalArgumentException("no object " + o);
            }
            return CallbackReply.lazy(0x1000, 0x2000, false, false);
        });
        listener.register(run);
        try (SocketChannel ch = connect()) {
            send(ch, header(24, Protocol.HELLO_CHILD, 0), payload(new Payload.Writer().q(SELF).q(PROGRAM).q(0)));
            // truncated CB_LAZY: an error reply, and the connection stays usable
            send(ch, header(8, Protocol.CB_LAZY, 5), ByteBuffer.allocate(8));
            assertEquals(Protocol.CB_ERROR, replyStatus(ch, Protocol.CB_LAZY, 5));
            // an out-of-range object id: the handler's refusal becomes an error reply
            send(ch, header(32, Protocol.CB_LAZY, 6), payload(new Payload.Writer().q(1).q(-7).q(0).q(0)));
            assertEquals(Protocol.CB_ERROR, replyStatus(ch, Protocol.CB_LAZY, 6));
            send(ch, header(32, Protocol.CB_LAZY, 7), payload(new Payload.Writer().q(1).q(3).q(0).q(0)));
            assertEquals(Protocol.CB_OK, replyStatus(ch, Protocol.CB_LAZY, 7));
            // a frame far beyond what a child sends: refused before its payload
            send(ch, header(512 << 20, Protocol.CB_LAZY, 8));
            assertClosedByPeer(ch);
        }
        assertEquals(2, calls.get());
        listener.unregister(run);
        assertLegitimateHelloArrives();
    }

    @Test
    void anAdoptedChildsMalformedCallbacksGetErrorsAndItsSessionGoesOn() throws Exception {
        List<String> seen = new CopyOnWriteArrayList<>();
        ForkAdopter.Adopted session = new ForkAdopter.Adopted() {
            @Override
            public void attach(AgentProcess child) {
            }

            @Override
            public void detached() {
                seen.add("detached");
            }

            @Override
            public CallbackReply dlopen(String name, int flags, long caller, long tid) {
                seen.add("dlopen " + name + " " + Integer.toHexString(flags));
                return CallbackReply.ok(0x5000);
            }

            @Override
            public CallbackReply dlinfo(long handle, int request) {
                seen.add("dlinfo " + request);
                return CallbackReply.ok(0);
            }
        };
        AgentInfo parent = AgentWire.parseHello(hello(PROGRAM));
        ForkedChildren run = new ForkedChildren(parent, listener, (o, i, c, t, p) -> CallbackReply.error("x"),
                (pid, ppid, gen) -> session, PROGRAM);
        listener.register(run);
        try (SocketChannel ch = connect()) {
            send(ch, header(24, Protocol.HELLO_CHILD, 0), payload(new Payload.Writer().q(SELF).q(PROGRAM).q(0)));
            sendCallback(ch, Protocol.CB_DLOPEN, 1, new Payload.Writer().q(1).q(1L << 33 | Protocol.RTLD_NOW).q(0).s("libm.so.6"));
            assertEquals(Protocol.CB_ERROR, replyStatus(ch, Protocol.CB_DLOPEN, 1)); // a mode wider than an int
            sendCallback(ch, Protocol.CB_DLINFO, 2, new Payload.Writer().q(1).q(0x5000).q(-1L));
            assertEquals(Protocol.CB_ERROR, replyStatus(ch, Protocol.CB_DLINFO, 2)); // a request wider than an int
            Payload.Writer badString = new Payload.Writer().q(1).q(Protocol.RTLD_NOW).q(0).u32(4);
            badString.bytes(new byte[] {'a', 'b', 'c', 'd'}, 0, 4); // no NUL where its length ends
            sendCallback(ch, Protocol.CB_DLOPEN, 3, badString);
            assertEquals(Protocol.CB_ERROR, replyStatus(ch, Protocol.CB_DLOPEN, 3));
            Payload.Writer inner = new Payload.Writer().q(1).q(Protocol.RTLD_NOW).q(0).u32(9);
            inner.bytes("ab\0/evil\0".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1), 0, 9); // a NUL inside
            sendCallback(ch, Protocol.CB_DLOPEN, 4, inner);
            assertEquals(Protocol.CB_ERROR, replyStatus(ch, Protocol.CB_DLOPEN, 4));
            Payload.Writer huge = new Payload.Writer().q(1).q(Protocol.RTLD_NOW).q(0).u32(Integer.MAX_VALUE);
            sendCallback(ch, Protocol.CB_DLOPEN, 5, huge); // a string length beyond the frame
            assertEquals(Protocol.CB_ERROR, replyStatus(ch, Protocol.CB_DLOPEN, 5));
            sendCallback(ch, 0x9f, 6, new Payload.Writer().q(1)); // an unknown callback
            assertEquals(Protocol.CB_ERROR, replyStatus(ch, 0x9f, 6));
            sendCallback(ch, Protocol.CB_DLINFO, 7, new Payload.Writer().q(1)); // truncated
            assertEquals(Protocol.CB_ERROR, replyStatus(ch, Protocol.CB_DLINFO, 7));
            sendCallback(ch, Protocol.CB_DLOPEN, 8, new Payload.Writer().q(1).q(Protocol.RTLD_NOW).q(0).s("libm.so.6"));
            assertEquals(Protocol.CB_OK, replyStatus(ch, Protocol.CB_DLOPEN, 8)); // the session goes on
        }
        assertTimeoutPreemptively(BOUND, () -> {
            while (!seen.contains("detached")) {
                Thread.sleep(20);
            }
        });
        assertEquals(List.of("dlopen libm.so.6 2", "detached"), seen);
        listener.unregister(run);
    }

    private static void sendCallback(SocketChannel ch, int type, long seq, Payload.Writer w) throws IOException {
        send(ch, header(w.length(), type, seq), payload(w));
    }

    @Test
    void aLengthAloneBuysNoBuffer(@TempDir Path dir) throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(dir.resolve("s")));
            try (SocketChannel peer = SocketChannel.open(server.getLocalAddress()); SocketChannel ours = server.accept()) {
                send(peer, header(Protocol.MAX_FRAME, Protocol.WRITE, 1), ByteBuffer.allocate(10));
                peer.shutdownOutput();
                long allocated = assertTimeoutPreemptively(BOUND, () -> {
                    long before = allocatedByThisThread();
                    assertNull(AgentWire.readFrame(ours));
                    return allocatedByThisThread() - before;
                });
                assertTrue(allocated < 8 << 20, "a 10-byte frame that claims 1 GiB allocated " + allocated + " bytes");
            }
        }
    }

    @Test
    void aLargeFrameStillReadsWhole(@TempDir Path dir) throws Exception {
        byte[] big = new byte[(5 << 20) + 3];
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte) (i * 31);
        }
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(dir.resolve("s")));
            try (SocketChannel peer = SocketChannel.open(server.getLocalAddress()); SocketChannel ours = server.accept()) {
                Thread writer = new Thread(() -> {
                    try {
                        send(peer, header(big.length, Protocol.READ | Protocol.REPLY, 9), ByteBuffer.wrap(big));
                    } catch (IOException ignored) {
                        // the reader's assertion tells
                    }
                });
                writer.start();
                byte[][] f = assertTimeoutPreemptively(BOUND, () -> AgentWire.readFrame(ours));
                writer.join();
                assertArrayEquals(big, f[1]);
            }
        }
    }

    private static long allocatedByThisThread() {
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        return mx.getThreadAllocatedBytes(Thread.currentThread().getId());
    }

    // --- a legitimate agent, after the hostile ones ---

    private void assertLegitimateHelloArrives() throws Exception {
        try (SocketChannel ch = connect()) {
            byte[] h = hello(SELF);
            send(ch, header(h.length, Protocol.HELLO, 0), ByteBuffer.wrap(h));
            AgentListener.Arrival a = listener.next(BOUND);
            assertNotNull(a, "a legitimate HELLO was not admitted");
            assertEquals(SELF, a.pid());
            assertEquals(SELF, AgentWire.parseHello(a.hello()).pid());
            a.channel().close();
        }
    }

    /** A HELLO as native/agent.c sends it: twelve words, one host object, no auxv, one symbol. */
    private static byte[] hello(long pid) {
        Payload.Writer w = new Payload.Writer().q(pid);
        for (int i = 1; i < 12; i++) {
            w.q(0x1000L * i);
        }
        w.q(1).q(0x400000).q(0x403000).q(0).s("libhost.so");
        w.q(0);
        w.q(1).s("jd_entry").q(0x7000);
        return java.util.Arrays.copyOf(w.array(), w.length());
    }

    // --- the wire, as a peer ---

    private SocketChannel connect() throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(listener.socket()));
        return ch;
    }

    private static ByteBuffer header(int len, int type, long seq) {
        return ByteBuffer.allocate(Protocol.HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(len).putInt(type).putLong(seq).flip();
    }

    private static ByteBuffer payload(Payload.Writer w) {
        return ByteBuffer.wrap(w.array(), 0, w.length());
    }

    private static void send(SocketChannel ch, ByteBuffer... parts) throws IOException {
        for (ByteBuffer b : parts) {
            while (b.hasRemaining()) {
                ch.write(b);
            }
        }
    }

    /** The peer closes its end within the bound (reads give end of stream, or the write side breaks). */
    private static void assertClosedByPeer(SocketChannel ch) {
        assertTimeoutPreemptively(BOUND, () -> {
            ByteBuffer b = ByteBuffer.allocate(4096);
            try {
                while (ch.read(b.clear()) >= 0) {
                    // discard whatever came before the close
                }
            } catch (IOException reset) {
                // closed with data unread: a reset is a close too
            }
        });
    }

    /** Reads one reply frame, checks its type and seq, and returns its status. */
    private static long replyStatus(SocketChannel ch, int type, long seq) {
        return assertTimeoutPreemptively(BOUND, () -> {
            byte[][] f = AgentWire.readFrame(ch);
            assertNotNull(f, "no reply");
            ByteBuffer h = ByteBuffer.wrap(f[0]).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(type | Protocol.REPLY, h.getInt(4));
            assertEquals(seq, h.getLong(8));
            return new Payload.Reader(f[1]).q();
        });
    }
}
