package org.jdryad.agent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/**
 * The two places the Java side calls libc through JNA (direct mapping): process_vm_readv and
 * process_vm_writev (ProcessVm), and SO_PEERCRED with getsockname (PeerProcess). Each is asked
 * of this JVM's own process, where the answers are known, so a binding that silently failed
 * (and left every run on the slower socket path, or without peer pids) shows here.
 */
class NativeCallsTest {
    private static final int SELF = (int) ProcessHandle.current().pid();

    @Test
    void processVmReadsAndWritesThisProcess() {
        try (Memory m = new Memory(64)) {
            byte[] pattern = new byte[64];
            for (int i = 0; i < pattern.length; i++) {
                pattern[i] = (byte) (i * 7 + 1);
            }
            m.write(0, pattern, 0, pattern.length);
            ProcessVm vm = new ProcessVm(SELF);
            assertTrue(vm.usable(), "libc's process_vm_* bound");
            assertArrayEquals(pattern, vm.read(Pointer.nativeValue(m), 64));

            byte[] other = "written through process_vm_writev".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            assertTrue(vm.write(Pointer.nativeValue(m) + 8, other, 0, other.length));
            assertArrayEquals(other, m.getByteArray(8, other.length));
            assertEquals(pattern[7], m.getByte(7), "nothing written before the range");
        }
    }

    @Test
    void anUnmappedAddressFailsOnceAndLeavesTheProcessUsable() {
        ProcessVm vm = new ProcessVm(SELF);
        assertNull(vm.read(8, 16), "EFAULT");
        assertTrue(vm.usable(), "a bad address is the caller's, not a reason to give up the process");
    }

    @Test
    void aProcessThatIsGoneIsGivenUp() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        ProcessVm vm = new ProcessVm((int) p.pid());
        try (Memory m = new Memory(8)) {
            assertNull(vm.read(Pointer.nativeValue(m), 8), "ESRCH");
        }
        assertFalse(vm.usable(), "ESRCH: the socket serves the rest");
    }

    @Test
    void peerPidOfAConnectionFromThisProcess() throws Exception {
        try (PrivateSocket ps = PrivateSocket.open("jdryad-test-", "s.sock");
             SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(ps.socket()));
             SocketChannel accepted = ps.server().accept()) {
            assertTrue(client.isConnected());
            assertEquals(OptionalLong.of(SELF), PeerProcess.pid(accepted));
            assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(ps.directory())));
        }
    }

    @Test
    void privateSocketsGetDirectoriesOfTheirOwnAndLeaveNothing() throws Exception {
        PrivateSocket a = PrivateSocket.open("jdryad-test-", "s.sock");
        PrivateSocket b = PrivateSocket.open("jdryad-test-", "s.sock");
        try {
            assertFalse(a.directory().equals(b.directory()));
        } finally {
            a.close();
            b.close();
        }
        assertFalse(Files.exists(a.directory()));
        assertFalse(Files.exists(b.directory()));
    }
}
