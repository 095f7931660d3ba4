package org.jdryad.search;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class DynamicStringTokensTest {
    static final DynamicStringTokens.Values V = new DynamicStringTokens.Values("/opt/app/bin", "lib/x86_64-linux-gnu", "x86_64");
    static final List<String> TRUSTED = SearchConfig.DEBIAN_SYSTEM_DIRS;

    static String sub(String s) {
        return DynamicStringTokens.substitute(s, V, false, false, TRUSTED);
    }

    @Test
    void expandsTheThreeTokens() {
        assertEquals("/opt/app/bin/../lib", sub("$ORIGIN/../lib"));
        assertEquals("/opt/app/bin/../lib", sub("${ORIGIN}/../lib"));
        assertEquals("/usr/lib/x86_64-linux-gnu/foo", sub("/usr/$LIB/foo"));
        assertEquals("/usr/lib/x86_64-linux-gnu/foo", sub("/usr/${LIB}/foo"));
        assertEquals("/p/x86_64", sub("/p/$PLATFORM"));
        assertEquals("/opt/app/bin", sub("$ORIGIN"));
    }

    @Test
    void leavesOtherDollarsAlone() {
        assertEquals("/a/$ORIGINAL/b", sub("/a/$ORIGINAL/b"));
        assertEquals("/a/$FOO", sub("/a/$FOO"));
        assertEquals("/a/${ORIGIN", sub("/a/${ORIGIN"));
        assertEquals(0, DynamicStringTokens.count("/a/$LIBS/$ORIGIN_x"));
        assertEquals(2, DynamicStringTokens.count("$ORIGIN/$LIB"));
    }

    @Test
    void unknownOriginDropsThePath() {
        DynamicStringTokens.Values none = new DynamicStringTokens.Values(null, "lib", "x86_64");
        assertEquals("", DynamicStringTokens.substitute("$ORIGIN/lib", none, false, false, TRUSTED));
    }

    @Test
    void secureModeRules() {
        // $ORIGIN only as the first element start, and for the program only inside trusted dirs.
        assertEquals("", DynamicStringTokens.substitute("/x/$ORIGIN", V, true, false, TRUSTED));
        assertEquals("/opt/app/bin/lib", DynamicStringTokens.substitute("$ORIGIN/lib", V, true, false, TRUSTED));
        assertEquals("", DynamicStringTokens.substitute("$ORIGIN/lib", V, true, true, TRUSTED));
        DynamicStringTokens.Values sys = new DynamicStringTokens.Values("/usr/lib/x86_64-linux-gnu/app", "lib", "x86_64");
        assertEquals("/usr/lib/x86_64-linux-gnu/app/../plugins",
                DynamicStringTokens.substitute("$ORIGIN/../plugins", sys, true, true, TRUSTED));
        DynamicStringTokens.Values escape = new DynamicStringTokens.Values("/usr/lib/x86_64-linux-gnu", "lib", "x86_64");
        assertEquals("", DynamicStringTokens.substitute("$ORIGIN/../../../tmp", escape, true, true, TRUSTED));
    }
}
