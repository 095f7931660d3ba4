package org.jdryad.agent;

/**
 * One jdryad object for the agent's dl_iterate_phdr, _dl_find_object and __tls_get_addr.
 *
 * @param linkMap its link-map node (from {@link RDebugResult}), reported by _dl_find_object
 * @param base l_addr
 * @param mapStart lowest mapped address; {@code mapEnd} one past the highest
 * @param ehFrameHdr address of PT_GNU_EH_FRAME's contents (0: none)
 * @param tlsModid TLS module id (from {@link Protocol#TLS_MODID_BASE}) or 0
 * @param tlsOffset thread pointer minus the address of its TLS block (static TLS)
 */
public record ObjectTableEntry(long linkMap, long base, long phdr, int phnum, long mapStart, long mapEnd,
        long ehFrameHdr, long tlsModid, long tlsOffset, String name) {}
