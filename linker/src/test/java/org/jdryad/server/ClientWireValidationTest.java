package org.jdryad.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The warm server's client wire as a hostile client speaks it: lengths and counts read from the
 * socket must be refused (an IOException, which ends that client's session alone) before
 * anything is allocated for them, and within a bounded time. The real {@link ClientWire} reads
 * from a real unix socket; the peer is this test.
 */
class ClientWireValidationTest {
    private static final Duration BOUND = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    private ServerSocketChannel server;
    private SocketChannel client;
    private SocketChannel served;

    @BeforeEach
    void connect() throws IOException {
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(dir.resolve("s")));
        client = SocketChannel.open(StandardProtocolFamily.UNIX);
        client.connect(UnixDomainSocketAddress.of(dir.resolve("s")));
        served = server.accept();
    }

    @AfterEach
    void close() throws IOException {
        client.close();
        served.close();
        server.close();
    }

    @Test
    void aHugeOrNegativeFrameLengthIsRefusedBeforeItsPayload() throws IOException {
        send(header(ClientWire.REQUEST, -1));
        assertRefused("frame too large");
        send(header(ClientWire.REQUEST, ClientWire.MAX_FRAME + 1));
        assertRefused("frame too large");
    }

    @Test
    void aLengthAloneBuysNoBuffer() throws IOException {
        send(header(ClientWire.REQUEST, ClientWire.MAX_FRAME), ByteBuffer.allocate(10));
        client.shutdownOutput();
        long allocated = assertTimeoutPreemptively(BOUND, () -> {
            long before = allocatedByThisThread();
            assertThrows(IOException.class, () -> ClientWire.read(served));
            return allocatedByThisThread() - before;
        });
        assertTrue(allocated < 8 << 20, "reading a 10-byte frame that claims 64 MiB allocated " + allocated + " bytes");
    }

    @Test
    void aLargeFrameStillReadsWhole() throws Exception {
        byte[] big = new byte[5 << 20];
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte) (i * 31);
        }
        Thread writer = new Thread(() -> {
            try {
                send(le(4).putInt(big.length).flip(), ByteBuffer.wrap(big));
            } catch (IOException ignored) {
                // the reader's assertion tells
            }
        });
        send(header(ClientWire.REQUEST, big.length + 4));
        writer.start();
        ClientWire.Frame f = assertTimeoutPreemptively(BOUND, () -> ClientWire.read(served));
        writer.join();
        assertEquals(org.jdryad.agent.RawText.decode(big), f.payload().str()); // the bytes as they came (RawText)
    }

    private static long allocatedByThisThread() {
        var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        return mx.getThreadAllocatedBytes(Thread.currentThread().getId());
    }

    @Test
    void aTruncatedHeaderOrPayloadIsRefused() throws IOException {
        send(ByteBuffer.wrap(new byte[] {1, 0, 0}));
        client.shutdownOutput();
        assertRefused("end of stream inside a frame");
    }

    @Test
    void aPayloadShorterThanItsLengthIsRefusedAtTheEnd() throws IOException {
        send(header(ClientWire.REQUEST, 100), ByteBuffer.allocate(10));
        client.shutdownOutput();
        assertRefused("end of stream inside a frame");
    }

    @Test
    void aHugeArgumentCountIsRefusedWithoutAllocating() throws IOException {
        ClientWire.Reader r = frame(le(9).putInt(1).put((byte) '/').putInt(Integer.MAX_VALUE).flip()); // cwd "/"
        assertEquals("/", r.str());
        IOException e = assertThrows(IOException.class, r::strs);
        assertEquals("bad string count", e.getMessage());
        ClientWire.Reader neg = frame(le(4).putInt(-1).flip());
        assertEquals("bad string count", assertThrows(IOException.class, neg::strs).getMessage());
    }

    @Test
    void aStringLongerThanItsFrameIsRefused() throws IOException {
        ClientWire.Reader r = frame(le(8).putInt(1000).put("abcd".getBytes()).flip()); // no end within the frame
        assertEquals("truncated string", assertThrows(IOException.class, r::str).getMessage());
        ClientWire.Reader neg = frame(le(8).putInt(-4).putInt(0).flip());
        assertEquals("truncated string", assertThrows(IOException.class, neg::str).getMessage());
        ClientWire.Reader list = frame(le(12).putInt(2).putInt(0).putInt(50).flip());
        assertEquals("truncated string", assertThrows(IOException.class, list::strs).getMessage());
        ClientWire.Reader none = frame(le(2).put((byte) 1).put((byte) 0).flip());
        assertEquals("truncated frame", assertThrows(IOException.class, none::u32).getMessage());
    }

    @Test
    void aWellFormedRequestStillReads() throws IOException {
        new ClientWire.Writer(ClientWire.REQUEST).str("/tmp").strs(List.of("run", "/bin/true")).strs(List.of())
                .strs(List.of("A=1")).send(client);
        ClientWire.Frame f = assertTimeoutPreemptively(BOUND, () -> ClientWire.read(served));
        assertEquals(ClientWire.REQUEST, f.type());
        assertEquals("/tmp", f.payload().str());
        assertEquals(List.of("run", "/bin/true"), f.payload().strs());
        assertEquals(List.of(), f.payload().strs());
        assertEquals(List.of("A=1"), f.payload().strs());
        client.shutdownOutput();
        assertNull(assertTimeoutPreemptively(BOUND, () -> ClientWire.read(served)));
    }

    private ClientWire.Reader frame(ByteBuffer payload) throws IOException {
        send(header(ClientWire.REQUEST, payload.remaining()), payload);
        return assertTimeoutPreemptively(BOUND, () -> ClientWire.read(served)).payload();
    }

    private void assertRefused(String why) {
        IOException e = assertTimeoutPreemptively(BOUND, () -> assertThrows(IOException.class, () -> ClientWire.read(served)));
        assertEquals(why, e.getMessage());
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static ByteBuffer header(int type, int len) {
        return le(8).putInt(type).putInt(len).flip();
    }

    private void send(ByteBuffer... parts) throws IOException {
        for (ByteBuffer b : parts) {
            while (b.hasRemaining()) {
                client.write(b);
            }
        }
    }
}
