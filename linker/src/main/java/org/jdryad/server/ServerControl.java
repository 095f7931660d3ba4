package org.jdryad.server;

import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import org.jdryad.agent.PeerCheck;

/**
 * `jdryad server status|stop` from a cold JVM: the same request a native client sends, with
 * the server's answer printed. The server is asked only when it runs as this user.
 */
public final class ServerControl {
    private ServerControl() {
    }

    /** Sends `server ACTION`; prints the answer to {@code out} (null: nowhere); its status, or null when no server answers. */
    public static Integer ask(ServerAddress address, String action, PrintStream out) {
        if (!Files.exists(address.socket())) {
            return null;
        }
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(address.socket()));
            if (!PeerCheck.admits(ch, Files.getOwner(address.directory()))) {
                return null;
            }
            new ClientWire.Writer(ClientWire.REQUEST).str("/").strs(List.of("server", action)).strs(List.of())
                    .strs(List.of()).send(ch);
            for (;;) {
                ClientWire.Frame f = ClientWire.read(ch);
                if (f == null) {
                    return null;
                }
                if (f.type() == ClientWire.EXIT) {
                    return f.payload().u32();
                }
                if (f.type() == ClientWire.OUT) {
                    f.payload().u32();
                    String text = f.payload().rest();
                    if (out != null) {
                        out.print(text);
                        out.flush();
                    }
                }
            }
        } catch (IOException e) {
            return null;
        }
    }

    /** Waits until the socket is gone (the server stopped), at most {@code timeout}. */
    public static void awaitGone(ServerAddress address, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (Files.exists(address.socket()) && System.nanoTime() < deadline) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
