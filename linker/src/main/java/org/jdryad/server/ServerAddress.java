package org.jdryad.server;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;

/**
 * Where the warm server of one build listens: {@code $XDG_RUNTIME_DIR/jdryad}, else
 * {@code /tmp/jdryad-UID}, a directory that must be the user's own with mode 0700 (made so when
 * missing; anything else is refused: another user could otherwise put a socket of theirs in
 * our way). The socket's name hashes the jar's real path, size and modification time, as the
 * native client computes it (native/client/address.c), so a rebuilt jar or another checkout
 * never talks to a stale server.
 */
public record ServerAddress(Path directory, Path socket, Path lock) {

    /** The address of the server running {@code jar}; the directory is made or checked. */
    public static ServerAddress of(Path jar) throws IOException {
        Path real = jar.toRealPath();
        long size = Files.size(real);
        long mtime = Files.getLastModifiedTime(real).to(TimeUnit.NANOSECONDS);
        long h = fnv1a(real.toString() + "\n" + size + "\n" + mtime);
        Path dir = privateDirectory();
        String name = String.format("server-%016x", h);
        return new ServerAddress(dir, dir.resolve(name + ".sock"), dir.resolve(name + ".lock"));
    }

    /** The jar this JVM runs from. */
    public static Path ownJar() throws IOException {
        try {
            return Path.of(ServerAddress.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (java.net.URISyntaxException | SecurityException | NullPointerException e) {
            throw new IOException("cannot tell which jar this is: " + e.getMessage());
        }
    }

    /** FNV-1a over the UTF-8 bytes, 64 bits (the client's hash). */
    static long fnv1a(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }

    private static Path privateDirectory() throws IOException {
        String xdg = System.getenv("XDG_RUNTIME_DIR");
        int uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        Path dir = xdg != null && !xdg.isEmpty() ? Path.of(xdg, "jdryad") : Path.of("/tmp", "jdryad-" + uid);
        try {
            Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (java.nio.file.FileAlreadyExistsException e) {
            // checked below
        }
        PosixFileAttributes a = Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        int owner = (Integer) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        if (!a.isDirectory() || owner != uid || !PosixFilePermissions.toString(a.permissions()).equals("rwx------")) {
            throw new IOException(dir + " is not a private directory of yours (owner uid " + owner + ", mode "
                    + PosixFilePermissions.toString(a.permissions()) + "): not using it");
        }
        return dir;
    }
}
