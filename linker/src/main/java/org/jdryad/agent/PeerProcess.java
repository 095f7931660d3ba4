package org.jdryad.agent;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import java.io.IOException;
import java.lang.reflect.Field;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * Which process is at the other end of a unix socket, and whose descendant it is: the pid half
 * of SO_PEERCRED, which {@link PeerCheck} cannot see (Java 17's {@code SO_PEERCRED} option gives
 * only the user and group).
 *
 * <p>Why the descriptor is read this way: the kernel's {@code struct ucred} comes from
 * {@code getsockopt(fd, SOL_SOCKET, SO_PEERCRED)} (JNA), which needs the accepted channel's file
 * descriptor, and the JDK has no public way to give it. Of the ways to get it, reading the
 * channel implementation's {@code fdVal} field through {@code sun.misc.Unsafe} (module
 * jdk.unsupported, open to every module) works in every JVM jdryad's code runs in (the
 * launcher's {@code java -jar}, the warm server, Maven's test JVMs, an IDE) with no option to
 * forget: {@code --add-opens java.base/sun.nio.ch} would have to be given to each, and making
 * every socket through JNA instead would replace the NIO channels all the wire code reads. The
 * descriptor found is then checked: it must be a unix socket bound at the path NIO reports for the
 * channel (a listener's, in a private directory), so a JDK whose field means something else
 * makes the check fail closed (no pid), never misread.
 */
public final class PeerProcess {
    private static final int SOL_SOCKET = 1;
    private static final int SO_PEERCRED = 17;
    /** How many parents {@link #descendsFrom} climbs at most (a pid chain is short; a loop is not). */
    private static final int MAX_DEPTH = 4096;

    /** JNA's direct mapping, as in {@link ProcessVm} (why: there). */
    private static native int getsockopt(int fd, int level, int name, Memory value, Memory length);

    private static native int getsockname(int fd, Memory address, Memory length);

    private static final boolean LINKED = link();
    private static final Accessor FD_VAL = Accessor.find();

    private PeerProcess() {
    }

    private static boolean link() {
        try {
            Native.register(PeerProcess.class, "c");
            return true;
        } catch (Throwable t) {
            return false;
        }
    }

    /** The pid of the process that connected {@code ch} (as the kernel recorded it at connect), if it can be told. */
    public static OptionalLong pid(SocketChannel ch) {
        if (!LINKED || FD_VAL == null || !ch.isOpen()) {
            return OptionalLong.empty();
        }
        int fd = FD_VAL.fd(ch);
        if (fd < 0) {
            return OptionalLong.empty();
        }
        try (Memory cred = new Memory(12); Memory len = new Memory(4)) {
            len.setInt(0, 12);
            if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, len) != 0 || len.getInt(0) != 12) {
                return OptionalLong.empty();
            }
            int pid = cred.getInt(0);
            return pid > 0 && isChannelsSocket(ch, fd) ? OptionalLong.of(pid) : OptionalLong.empty();
        }
    }

    /** {@code ch}'s descriptor, checked to be its socket (see the class comment), or -1 when it cannot be told. */
    static int descriptorOf(SocketChannel ch) {
        if (!LINKED || FD_VAL == null || !ch.isOpen()) {
            return -1;
        }
        int fd = FD_VAL.fd(ch);
        return fd >= 0 && isChannelsSocket(ch, fd) ? fd : -1;
    }

    /**
     * Whether descriptor {@code fd} is {@code ch}'s: a unix socket bound where NIO says {@code ch}
     * is (an accepted connection has its listener's path, which is in a private directory).
     */
    private static boolean isChannelsSocket(SocketChannel ch, int fd) {
        try (Memory addr = new Memory(110); Memory len = new Memory(4)) {
            addr.clear();
            len.setInt(0, 110);
            if (getsockname(fd, addr, len) != 0 || addr.getShort(0) != 1 /* AF_UNIX */) {
                return false;
            }
            int n = Math.min(len.getInt(0), 110) - 2;
            byte[] path = addr.getByteArray(2, Math.max(0, n));
            int end = 0;
            while (end < path.length && path[end] != 0) {
                end++;
            }
            String bound = new String(path, 0, end, StandardCharsets.UTF_8);
            return ch.getLocalAddress() instanceof UnixDomainSocketAddress u && !bound.isEmpty()
                    && u.getPath().toString().equals(bound);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** The parent of {@code pid} (field 4 of /proc/PID/stat), or -1 when it has gone or cannot be read. */
    public static long parentOf(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.ISO_8859_1);
            int close = stat.lastIndexOf(')'); // the command name may hold spaces and parentheses
            String[] f = stat.substring(close + 2).split(" ", 3);
            return Long.parseLong(f[1]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** Whether {@code pid} is {@code ancestor} or a descendant of it, following /proc's parent links. */
    public static boolean descendsFrom(long pid, long ancestor) {
        long p = pid;
        for (int i = 0; i < MAX_DEPTH && p > 0; i++) {
            if (p == ancestor) {
                return true;
            }
            p = parentOf(p);
        }
        return false;
    }

    /** Reads the {@code fdVal} field of the JDK's socket channel implementation (see the class comment). */
    private static final class Accessor {
        private final sun.misc.Unsafe unsafe;
        private final Class<?> type;
        private final long offset;

        private Accessor(sun.misc.Unsafe unsafe, Class<?> type, long offset) {
            this.unsafe = unsafe;
            this.type = type;
            this.offset = offset;
        }

        static Accessor find() {
            try (SocketChannel probe = SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
                Field u = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
                u.setAccessible(true);
                sun.misc.Unsafe unsafe = (sun.misc.Unsafe) u.get(null);
                Field f = probe.getClass().getDeclaredField("fdVal");
                if (f.getType() != int.class) {
                    return null;
                }
                return new Accessor(unsafe, probe.getClass(), unsafe.objectFieldOffset(f));
            } catch (ReflectiveOperationException | RuntimeException | IOException | LinkageError e) {
                return null;
            }
        }

        int fd(SocketChannel ch) {
            return type.isInstance(ch) ? unsafe.getInt(ch, offset) : -1;
        }
    }
}
