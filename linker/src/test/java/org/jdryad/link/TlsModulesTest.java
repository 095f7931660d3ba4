package org.jdryad.link;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The dynamic TLSDESC argument: module index above the offset, as native/runtime.c decodes it. */
class TlsModulesTest {

    @Test
    void indexAboveOffset() {
        assertEquals(0x0000_0300_0000_1234L, TlsModules.descriptorArgument(3, 0x1234));
        long arg = TlsModules.descriptorArgument(TlsModules.MAX_INDEX - 1, (1L << TlsModules.OFFSET_BITS) - 1);
        assertEquals(TlsModules.MAX_INDEX - 1, arg >>> TlsModules.OFFSET_BITS);
        assertEquals((1L << TlsModules.OFFSET_BITS) - 1, arg & ((1L << TlsModules.OFFSET_BITS) - 1));
    }

    @Test
    void outOfRangeIsALinkError() {
        assertThrows(LinkException.class, () -> TlsModules.descriptorArgument(TlsModules.MAX_INDEX, 0));
        assertThrows(LinkException.class, () -> TlsModules.descriptorArgument(-1, 0));
        assertThrows(LinkException.class, () -> TlsModules.descriptorArgument(0, 1L << TlsModules.OFFSET_BITS));
        assertThrows(LinkException.class, () -> TlsModules.descriptorArgument(0, -8));
    }
}
