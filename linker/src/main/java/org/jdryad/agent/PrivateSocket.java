package org.jdryad.agent;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A listening Unix socket in a new directory only jdryad's user can enter (rwx------). Why both
 * the agent socket and the query server use one: what they carry (memory requests, addresses
 * that defeat ASLR) is for jdryad's user alone, and a private directory keeps every other user
 * from even connecting; {@link PeerCheck} checks the peers that do connect as well.
 *
 * @param owner the directory's owner: jdryad's user, whom PeerCheck admits
 */
public record PrivateSocket(Path directory, Path socket, ServerSocketChannel server, UserPrincipal owner)
        implements AutoCloseable {

    /** Listens on {@code directory-prefix*}/{@code name} (in $TMPDIR); nothing is left behind on failure. */
    public static PrivateSocket open(String prefix, String name) throws IOException {
        Path dir = createDirectory(prefix);
        Path sock = dir.resolve(name);
        ServerSocketChannel server = null;
        try {
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(sock));
            return new PrivateSocket(dir, sock, server, Files.getOwner(dir));
        } catch (IOException | RuntimeException e) {
            if (server != null) {
                server.close();
            }
            Files.deleteIfExists(sock);
            Files.deleteIfExists(dir);
            throw e;
        }
    }

    /**
     * A new rwx------ directory {@code $TMPDIR/prefix*}. Why not {@code Files.createTempDirectory}:
     * its SecureRandom cost a cold run about 15 ms, and the name need not be secret: mkdir fails on
     * any name that exists (a file, a link, another user's directory), and such a name is skipped.
     */
    private static Path createDirectory(String prefix) throws IOException {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        for (int attempt = 1; ; attempt++) {
            Path dir = tmp.resolve(prefix + Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36));
            try {
                return Files.createDirectory(dir,
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            } catch (FileAlreadyExistsException e) {
                if (attempt == 100) {
                    throw e;
                }
            }
        }
    }

    /** Stops listening and removes the socket and its directory (best effort: it may hold other files). */
    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        try {
            Files.deleteIfExists(socket);
            Files.deleteIfExists(directory);
        } catch (IOException ignored) {
            // best effort
        }
    }
}
