package org.jdryad.agent;

/**
 * One step of the agent's finaliser: call a function, or an array of pointers in reverse; or,
 * for LD_DEBUG, write lines (prefixed with the pid, as glibc) or choose the file they go to.
 */
public record FiniEntry(int kind, long address, long count) {
    public static FiniEntry call(long function) {
        return new FiniEntry(Protocol.FINI_CALL, function, 0);
    }

    /** LD_AUDIT at exit: {@code function(a0, a1)}, the two words at agent address {@code arguments}. */
    public static FiniEntry call2(long function, long arguments) {
        return new FiniEntry(Protocol.FINI_CALL2, function, arguments);
    }

    /** DT_FINI_ARRAY: {@code count} function pointers at {@code address}, called last to first. */
    public static FiniEntry array(long address, long count) {
        return new FiniEntry(Protocol.FINI_ARRAY, address, count);
    }

    /** LD_DEBUG_OUTPUT: the debug lines after this go to the file whose NUL-terminated path is at {@code path}. */
    public static FiniEntry debugOutput(long path) {
        return new FiniEntry(Protocol.FINI_DEBUG_OUTPUT, path, 0);
    }

    /** {@code length} bytes of '\n'-ended lines at {@code text}, written with glibc's pid prefix. */
    public static FiniEntry debugText(long text, long length) {
        return new FiniEntry(Protocol.FINI_DEBUG_TEXT, text, length);
    }
}
