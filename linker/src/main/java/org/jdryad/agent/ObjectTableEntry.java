package org.jdryad.agent;

/**
 * One entry of the agent's object table, which its dl_iterate_phdr, _dl_find_object and
 * __tls_get_addr read: a jdryad object, the program, or the place of a host object in the
 * program's order (see {@link #host}, and native/runtime.c on dl_iterate_phdr).
 *
 * @param kind {@link #JDRYAD}, {@link #PROGRAM}, {@link #HOST} or {@link #HIDDEN}
 * @param linkMap its link-map node (from {@link RDebugResult}), reported by _dl_find_object
 * @param base l_addr
 * @param mapStart lowest mapped address; {@code mapEnd} one past the highest
 * @param ehFrameHdr address of PT_GNU_EH_FRAME's contents (0: none)
 * @param tlsModid TLS module id (from {@link Protocol#TLS_MODID_BASE}) or 0
 * @param tlsOffset thread pointer minus the address of its TLS block (static TLS)
 */
public record ObjectTableEntry(int kind, long linkMap, long base, long phdr, int phnum, long mapStart, long mapEnd,
        long ehFrameHdr, long tlsModid, long tlsOffset, String name) {
    /** A jdryad object. */
    public static final int JDRYAD = 0;
    /** The program: a jdryad object that dl_iterate_phdr names "", as glibc names its main map. */
    public static final int PROGRAM = 1;
    /** A host object's place in the program's order: glibc's entry whose l_addr is {@code base}. */
    public static final int HOST = 2;
    /** A host object glibc lists that the program does not have (the agent's own): left out. */
    public static final int HIDDEN = 3;

    /** A jdryad object. */
    public ObjectTableEntry(long linkMap, long base, long phdr, int phnum, long mapStart, long mapEnd,
            long ehFrameHdr, long tlsModid, long tlsOffset, String name) {
        this(JDRYAD, linkMap, base, phdr, phnum, mapStart, mapEnd, ehFrameHdr, tlsModid, tlsOffset, name);
    }

    /** A host object whose l_addr is {@code lAddr}: listed there ({@link #HOST}) or left out ({@link #HIDDEN}). */
    public static ObjectTableEntry host(int kind, long lAddr) {
        return new ObjectTableEntry(kind, 0, lAddr, 0, 0, 0, 0, 0, 0, 0, null);
    }
}
