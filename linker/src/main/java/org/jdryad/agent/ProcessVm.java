package org.jdryad.agent;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * Bulk memory access to the agent's process through process_vm_readv/process_vm_writev (JNA).
 * Returns false where the kernel refuses (no permission, protected page): the caller then falls
 * back to the socket.
 *
 * <p>Why JNA's direct mapping (static native methods bound by {@link Native#register}) and not
 * an interface: an interface is implemented by a proxy class the JVM generates in every run
 * (about 8 ms of a cold one), and each call goes through reflection.
 */
final class ProcessVm {
    private static native long process_vm_readv(int pid, Pointer local, long liovcnt, Pointer remote, long riovcnt,
                                                long flags) throws LastErrorException;

    private static native long process_vm_writev(int pid, Pointer local, long liovcnt, Pointer remote, long riovcnt,
                                                 long flags) throws LastErrorException;

    private static final boolean LINKED = link();

    private static boolean link() {
        try {
            Native.register(ProcessVm.class, "c");
            return true;
        } catch (Throwable t) {
            return false;
        }
    }

    private final int pid;
    private volatile boolean usable = LINKED;

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
            return handle(() -> process_vm_writev(pid, iov, 1, iov.share(16), 1, 0), len);
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
            return handle(() -> process_vm_readv(pid, iov, 1, iov.share(16), 1, 0), len)
                    ? local.getByteArray(0, len) : null;
        }
    }

    /** Whether {@code call} moved all {@code len} bytes; a refusal for good makes this process unusable. */
    private boolean handle(java.util.function.LongSupplier call, int len) {
        try {
            return call.getAsLong() == len;
        } catch (LastErrorException e) {
            int errno = e.getErrorCode();
            if (errno == 1 /* EPERM */ || errno == 38 /* ENOSYS */ || errno == 3 /* ESRCH */) {
                usable = false;
            }
            return false;
        }
    }
}
