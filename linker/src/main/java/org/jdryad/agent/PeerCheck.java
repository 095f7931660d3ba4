package org.jdryad.agent;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.nio.file.attribute.UserPrincipal;

/**
 * Who may talk to jdryad's unix sockets (the agent's, forked children's, the query server's):
 * only jdryad's own user. Each socket lives in a directory only that user can enter; checking
 * the peer's credentials (SO_PEERCRED) against the directory's owner is the second lock. One
 * rule for every socket, so that none can drift from the others.
 */
public final class PeerCheck {
    private PeerCheck() {
    }

    /** Whether {@code peer} is {@code self} (null, unknown, is never admitted). */
    public static boolean admits(UserPrincipal peer, UserPrincipal self) {
        return peer != null && self != null && peer.getName().equals(self.getName());
    }

    /** Whether the process at the other end of {@code ch} runs as {@code self}; false when that cannot be told. */
    public static boolean admits(SocketChannel ch, UserPrincipal self) {
        try {
            var peer = ch.getOption(jdk.net.ExtendedSocketOptions.SO_PEERCRED);
            return admits(peer == null ? null : peer.user(), self);
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }
}
