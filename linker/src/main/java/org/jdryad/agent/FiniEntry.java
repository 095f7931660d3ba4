package org.jdryad.agent;

/** One step of the agent's finaliser: call a function, or an array of pointers in reverse. */
public record FiniEntry(int kind, long address, long count) {
    public static FiniEntry call(long function) {
        return new FiniEntry(Protocol.FINI_CALL, function, 0);
    }

    /** DT_FINI_ARRAY: {@code count} function pointers at {@code address}, called last to first. */
    public static FiniEntry array(long address, long count) {
        return new FiniEntry(Protocol.FINI_ARRAY, address, count);
    }
}
