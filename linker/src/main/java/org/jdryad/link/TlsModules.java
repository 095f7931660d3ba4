package org.jdryad.link;

/**
 * How jdryad names a dynamic TLS module to the agent's TLSDESC function: one word, the module's
 * index (its id minus the first jdryad id) above the variable's offset in the block, so a
 * descriptor needs no memory of its own in the program (native/tls.h, agent_asm.S).
 */
public final class TlsModules {
    /** Bits of the descriptor argument that hold the offset in the block. */
    public static final int OFFSET_BITS = 40;
    /** Indices the agent keeps tables for (native/protocol.h, JD_TLS_MODID_MAX). */
    public static final long MAX_INDEX = 65536;

    private TlsModules() {
    }

    /** The TLSDESC argument for the variable at {@code offset} in the block of module {@code index}. */
    public static long descriptorArgument(long index, long offset) {
        if (index < 0 || index >= MAX_INDEX || offset < 0 || offset >= 1L << OFFSET_BITS) {
            throw new LinkException("TLS module index " + index + " or offset " + offset + " out of range");
        }
        return index << OFFSET_BITS | offset;
    }
}
