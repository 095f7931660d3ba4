package org.jdryad.run;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.jdryad.link.LinkException;

/**
 * Finds the native agent: the {@code jdryad.agent} system property (tests), else the copy
 * packaged in the jar, extracted once into a per-user cache directory named by its hash (so a
 * rebuilt agent never reuses a stale copy, and no source tree is needed).
 *
 * <p>Why the hash comes from a file the build packaged beside the agent ({@code NAME.digest}:
 * SHA-256 and size): inflating a 368 kB agent from the jar and hashing it took a cold JVM about
 * 60 ms of every run. The digest names the copy; a copy of another size is not used, and the
 * agent's bytes are hashed only when a copy is written, and must then match the digest.
 */
public final class AgentBinary {
    private static final String RESOURCE_DIR = "/native/";

    private AgentBinary() {
    }

    /**
     * The static TLS reservations the agent is built with (native/Makefile, TLS_SIZES), smallest
     * first. glibc counts the reservation in every thread's minimum stack size, so the smallest
     * that fits is used.
     */
    static final long[] TLS_RESERVATIONS = {8192, 65536, 1048576, 8388608};

    /**
     * The alignment of a reservation, which glibc gives every thread pointer (native/Makefile,
     * tls_align): a static block may be aligned up to it.
     */
    public static long tlsAlignment(long reservation) {
        return reservation >= 8388608 ? 2 * 1024 * 1024 : 4096;
    }

    /** The agent to start for a program whose jdryad objects need {@code staticTlsBytes} of static TLS. */
    public static Path locate(long staticTlsBytes) {
        return locate(staticTlsBytes, 1);
    }

    /** As {@link #locate(long)}, for blocks aligned up to {@code maxAlign}. */
    public static Path locate(long staticTlsBytes, long maxAlign) {
        long size = -1;
        for (long r : TLS_RESERVATIONS) {
            if (staticTlsBytes <= r - org.jdryad.agent.Protocol.TLS_AGENT_BYTES && maxAlign <= tlsAlignment(r)) {
                size = r;
                break;
            }
        }
        if (size < 0) {
            throw new LinkException("cannot allocate memory in static TLS block (" + staticTlsBytes
                    + " bytes needed, at most " + TLS_RESERVATIONS[TLS_RESERVATIONS.length - 1] + ")");
        }
        String name = "jdryad-agent-tls" + size;
        String prop = System.getProperty("jdryad.agent");
        if (prop != null && !prop.isEmpty()) {
            Path dir = Path.of(prop).getParent();
            Path variant = dir == null ? Path.of(name) : dir.resolve(name);
            return Files.isExecutable(variant) ? variant : Path.of(prop);
        }
        return extract(RESOURCE_DIR + name, name, true);
    }

    /** What this JVM extracted already (the warm server: no rereading and rehashing of the jar per run). */
    private static final java.util.Map<String, Path> EXTRACTED = new java.util.concurrent.ConcurrentHashMap<>();

    /** Extracts a packaged resource into the cache, returning its path. */
    public static Path extract(String resource, String fileName, boolean executable) {
        Path done = EXTRACTED.get(resource + "\0" + fileName);
        if (done != null && Files.isRegularFile(done)) {
            return done;
        }
        Path p = extractNow(resource, fileName, executable);
        EXTRACTED.put(resource + "\0" + fileName, p);
        return p;
    }

    /** Extracts {@code resource} now (no memo); package-private for tests. */
    static Path extractNow(String resource, String fileName, boolean executable) {
        Digest packaged = packagedDigest(resource);
        if (packaged != null) {
            Path target = cacheRoot().resolve(packaged.hash().substring(0, 16)).resolve(fileName);
            if (hasSize(target, packaged.size())) {
                return target;
            }
        }
        byte[] bytes;
        try (InputStream in = AgentBinary.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new LinkException("jdryad: " + resource + " is not packaged in the jar; rebuild with mvn package");
            }
            bytes = in.readAllBytes();
        } catch (IOException e) {
            throw new LinkException("jdryad: cannot read packaged " + resource + ": " + e.getMessage(), e);
        }
        String hash = sha256(bytes);
        if (packaged != null && (!packaged.hash().equals(hash) || packaged.size() != bytes.length)) {
            throw new LinkException("jdryad: packaged " + resource + " does not match " + resource + ".digest"
                    + " (SHA-256 " + hash + ", " + bytes.length + " bytes); rebuild with mvn package");
        }
        Path dir = cacheRoot().resolve(hash.substring(0, 16));
        Path target = dir.resolve(fileName);
        if (hasSize(target, bytes.length)) {
            return target;
        }
        try {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, fileName, ".tmp");
            Files.write(tmp, bytes);
            if (executable) {
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return target;
        } catch (IOException e) {
            throw new LinkException("jdryad: cannot install " + fileName + " into " + dir + ": " + e.getMessage(), e);
        }
    }

    /** A packaged file's SHA-256 (64 lower-case hex digits) and size, as the build wrote them. */
    record Digest(String hash, long size) {
        /** The digest in {@code text} ("HASH SIZE\n"), or null when it is not one. */
        static Digest parse(String text) {
            String[] words = text.strip().split(" ");
            if (words.length != 2 || !words[0].matches("[0-9a-f]{64}") || !words[1].matches("[0-9]{1,18}")) {
                return null;
            }
            return new Digest(words[0], Long.parseLong(words[1]));
        }
    }

    /** The digest packaged beside {@code resource}, or null (none, unreadable or malformed: hash the bytes). */
    private static Digest packagedDigest(String resource) {
        try (InputStream in = AgentBinary.class.getResourceAsStream(resource + ".digest")) {
            return in == null ? null : Digest.parse(new String(in.readNBytes(200), java.nio.charset.StandardCharsets.US_ASCII));
        } catch (IOException e) {
            return null;
        }
    }

    private static boolean hasSize(Path p, long size) {
        try {
            return Files.isRegularFile(p) && Files.size(p) == size;
        } catch (IOException e) {
            return false;
        }
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Path cacheRoot() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isEmpty()) {
            return Path.of(xdg, "jdryad");
        }
        String home = System.getProperty("user.home");
        if (home != null && Files.isWritable(Path.of(home))) {
            return Path.of(home, ".cache", "jdryad");
        }
        return Path.of(System.getProperty("java.io.tmpdir"), "jdryad-" + System.getProperty("user.name"));
    }
}
