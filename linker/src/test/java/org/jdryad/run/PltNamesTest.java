package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.jdryad.elf.ElfFile;
import org.jdryad.link.LoadedObject;
import org.junit.jupiter.api.Test;

/**
 * The PLT names image the lazy fast path writes into the agent: built once per parsed file and
 * kept with it, the same as a fresh parse's, and naming each slot as the slow path does.
 */
class PltNamesTest {
    private static final Path LIBSTDCXX = Path.of("/usr/lib/x86_64-linux-gnu/libstdc++.so.6");

    @Test
    void theImageKeptWithAFileIsAFreshParsesAndNamesEverySlot() throws IOException {
        try (ElfFile kept = ElfFile.open(LIBSTDCXX); ElfFile fresh = ElfFile.open(LIBSTDCXX)) {
            LoadedObject a = new LoadedObject(kept, LIBSTDCXX.toString(), false, false, 1);
            LoadedObject b = new LoadedObject(kept, LIBSTDCXX.toString(), false, false, 2);
            PltNames.Image image = PltNames.image(a);
            assertSame(image, PltNames.image(b), "one image per parsed file");
            PltNames.Image again = PltNames.image(new LoadedObject(fresh, LIBSTDCXX.toString(), false, false, 1));
            assertArrayEquals(again.bytes(), image.bytes());
            assertArrayEquals(again.offsets(), image.offsets());
            long slots = kept.requireDynamic().pltRela().count();
            assertTrue(slots > 100, "libstdc++ has hundreds of PLT slots: " + slots);
            assertEquals(2 * slots, image.offsets().length);
            for (int i = 0; i < slots; i++) {
                String[] nv = PltNames.of(a, i);
                assertEquals(nv[0], stringAt(image, i, 0), "slot " + i + "'s name");
                assertEquals(nv[1], stringAt(image, i, 1), "slot " + i + "'s version");
            }
        }
    }

    /** The string the image gives slot {@code i} ({@code k} = 0 name, 1 version), null for none. */
    private static String stringAt(PltNames.Image image, int i, int k) {
        long at = image.address(0x1000, i, k);
        if (at == 0) {
            return null;
        }
        int from = (int) (at - 0x1000);
        int end = from;
        while (image.bytes()[end] != 0) {
            end++;
        }
        return new String(image.bytes(), from, end - from, StandardCharsets.UTF_8);
    }
}
