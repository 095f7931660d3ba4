package org.jdryad.agent;

import com.sun.jna.Memory;
import com.sun.jna.Native;

/**
 * Sends a frame with descriptors attached (SCM_RIGHTS) on the agent's connection. Why: in cold
 * mode the agent is the JVM's child, and the JVM's ProcessBuilder closes every descriptor but 0,
 * 1 and 2 in its children: `jdryad run cat <(echo hi)` failed with "/dev/fd/63: No such file
 * or directory", and `3<file`, make's jobserver pipe and systemd's LISTEN_FDS were lost. The
 * JVM still holds the launcher's descriptors (an exec keeps them); it passes them to the agent,
 * which puts each at its number (SET_FDS). The JDK has no public way to send ancillary data,
 * so sendmsg(2) is called through JNA on the channel's descriptor ({@link PeerProcess}).
 */
final class DescriptorPassing {
    private static final int SOL_SOCKET = 1;
    private static final int SCM_RIGHTS = 1;
    private static final int MSG_NOSIGNAL = 0x4000;

    /** JNA's direct mapping, as in {@link PeerProcess}. */
    private static native long sendmsg(int fd, Memory msg, int flags);

    private static final boolean LINKED = link();

    private DescriptorPassing() {
    }

    private static boolean link() {
        try {
            Native.register(DescriptorPassing.class, "c");
            return true;
        } catch (Throwable t) {
            return false;
        }
    }

    static boolean available() {
        return LINKED;
    }

    /**
     * Writes {@code frame} whole on socket {@code socket} with {@code fds} attached, in one
     * sendmsg (a frame this small is not split by a unix stream socket with room); false when
     * it could not be sent whole, and then nothing of it was (or the connection is broken).
     */
    static boolean send(int socket, byte[] frame, int[] fds) {
        if (!LINKED || fds.length == 0 || fds.length > 64) {
            return false;
        }
        int controlLen = 16 + 4 * fds.length;               // CMSG_LEN(4n): an 8-byte length, two ints, the data
        int controlSpace = (controlLen + 7) & ~7;           // CMSG_SPACE
        try (Memory data = new Memory(frame.length); Memory iov = new Memory(16);
             Memory control = new Memory(controlSpace); Memory msg = new Memory(56)) {
            data.write(0, frame, 0, frame.length);
            iov.setPointer(0, data);
            iov.setLong(8, frame.length);
            control.clear();
            control.setLong(0, controlLen);
            control.setInt(8, SOL_SOCKET);
            control.setInt(12, SCM_RIGHTS);
            for (int i = 0; i < fds.length; i++) {
                control.setInt(16 + 4L * i, fds[i]);
            }
            msg.clear();                                    // struct msghdr: no name
            msg.setPointer(16, iov);                        // msg_iov
            msg.setLong(24, 1);                             // msg_iovlen
            msg.setPointer(32, control);                    // msg_control
            msg.setLong(40, controlSpace);                  // msg_controllen
            return sendmsg(socket, msg, MSG_NOSIGNAL) == frame.length;
        }
    }
}
