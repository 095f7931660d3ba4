package org.jdryad.agent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** RawText: valid UTF-8 as the JDK decodes it, every other byte kept, both ways. */
class RawTextTest {

    @Test
    void validUtf8IsTheJdksDecoding() {
        for (String s : new String[] {"", "plain", "café", "日本語", "\uD83D\uDE00 emoji", "a\u0000b", "\u07ff\u0800\uffff"}) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            assertEquals(s, RawText.decode(b));
            assertArrayEquals(b, RawText.encode(s));
        }
    }

    @Test
    void invalidBytesAreEscapedAndGivenBack() {
        byte[][] cases = {
            {'x', (byte) 0xff, 'y'},                   // never in UTF-8
            {'c', 'a', 'f', (byte) 0xe9},              // Latin-1, a truncated sequence at the end
            {(byte) 0xc0, (byte) 0xaf},                // an overlong '/'
            {(byte) 0xed, (byte) 0xa0, (byte) 0x80},   // an encoded surrogate
            {(byte) 0xf4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, // above U+10FFFF
            {(byte) 0xe2, (byte) 0x82},                // a truncated euro sign
            {(byte) 0x80},                             // a lone continuation byte
        };
        for (byte[] b : cases) {
            String s = RawText.decode(b);
            assertArrayEquals(b, RawText.encode(s), s);
        }
        assertEquals("x\udcffy", RawText.decode(new byte[] {'x', (byte) 0xff, 'y'}));
    }

    @Test
    void everyByteStringSurvivesARoundTrip() {
        Random r = new Random(42);
        for (int i = 0; i < 20000; i++) {
            byte[] b = new byte[r.nextInt(12)];
            r.nextBytes(b);
            assertArrayEquals(b, RawText.encode(RawText.decode(b)));
        }
    }

    @Test
    void anUnpairedSurrogateThatIsNoEscapeIsWrittenAsTheJdkWritesIt() {
        assertArrayEquals("a?b".getBytes(StandardCharsets.UTF_8), RawText.encode("a\ud800b"));
        assertArrayEquals("a\ud800b".getBytes(StandardCharsets.UTF_8), RawText.encode("a\ud800b"));
    }
}
