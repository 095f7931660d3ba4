package org.jdryad.agent;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * Bulk memory access to the agent's process through process_vm_readv/process_vm_writev (JNA).
 * Returns false where the kernel refuses (no permission, protected page): the caller then falls
 * back to the socket.
 */
final class ProcessVm {
    interface CLib extends Library {
        long process_vm_readv(int pid, Pointer local, long liovcnt, Pointer remote, long riovcnt, long flags);

        long process_vm_writev(int pid, Pointer local, long liovcnt, Pointer remote, long riovcnt, long flags);
    }

    private static final CLib LIBC = load();

    private static CLib load() {
        try {
            return Native.load("c", CLib.class);
        } catch (Throwable t) {
            return null;
        }
    }

    private final int pid;
    private volatile boolean usable = LIBC != null;

    ProcessVm(int pid) {
        this.pid = pid;
    }

    boolean usable() {
        return usable;
    }

    boolean write(long address, byte[] data, int off, int len) {
        if (!usable || len == 0) {
            return usable;
        }
        try (Memory local = new Memory(len); Memory iov = new Memory(32)) {
            local.write(0, data, off, len);
            iov.setPointer(0, local);
            iov.setLong(8, len);
            iov.setLong(16, address);
            iov.setLong(24, len);
            long r = LIBC.process_vm_writev(pid, iov, 1, iov.share(16), 1, 0);
            return handle(r, len);
        }
    }

    byte[] read(long address, int len) {
        if (!usable) {
            return null;
        }
        if (len == 0) {
            return new byte[0];
        }
        try (Memory local = new Memory(len); Memory iov = new Memory(32)) {
            iov.setPointer(0, local);
            iov.setLong(8, len);
            iov.setLong(16, address);
            iov.setLong(24, len);
            long r = LIBC.process_vm_readv(pid, iov, 1, iov.share(16), 1, 0);
            return handle(r, len) ? local.getByteArray(0, len) : null;
        }
    }

    private boolean handle(long r, int len) {
        if (r == len) {
            return true;
        }
        if (r < 0) {
            int e = Native.getLastError();
            if (e == 1 /* EPERM */ || e == 38 /* ENOSYS */ || e == 3 /* ESRCH */) {
                usable = false;
            }
        }
        return false;
    }
}
