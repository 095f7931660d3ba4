package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * The agent packaged in the jar is found through the digest the build packaged beside it
 * (native/Makefile): the copy in the cache is named by that digest, a copy of another size is
 * written again, and a digest that is not one is read as none.
 */
class AgentBinaryTest {
    private static final String AGENT = "/native/jdryad-agent-tls8192";

    @Test
    void theBuildPackagesEachAgentsDigest() throws Exception {
        byte[] agent;
        String digest;
        try (InputStream a = AgentBinaryTest.class.getResourceAsStream(AGENT);
             InputStream d = AgentBinaryTest.class.getResourceAsStream(AGENT + ".digest")) {
            assertNotNull(a);
            assertNotNull(d, "the build writes NAME.digest beside each agent");
            agent = a.readAllBytes();
            digest = new String(d.readAllBytes(), StandardCharsets.US_ASCII);
        }
        AgentBinary.Digest parsed = AgentBinary.Digest.parse(digest);
        assertNotNull(parsed, digest);
        assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(agent)), parsed.hash());
        assertEquals(agent.length, parsed.size());
    }

    @Test
    void aCopyOfAnotherSizeIsWrittenAgain() throws Exception {
        String name = "agent-binary-test-" + ProcessHandle.current().pid();
        Path copy = AgentBinary.extractNow(AGENT, name, true);
        try {
            long size = Files.size(copy);
            assertTrue(Files.isExecutable(copy));
            Files.write(copy, new byte[10]); // truncated, as by a full disk or a killed writer
            Path again = AgentBinary.extractNow(AGENT, name, true);
            assertEquals(copy, again);
            assertEquals(size, Files.size(again), "the truncated copy was replaced");
        } finally {
            Files.deleteIfExists(copy);
        }
    }

    @Test
    void digestsThatAreNotOne() {
        String hash = "ab".repeat(32);
        assertEquals(new AgentBinary.Digest(hash, 12), AgentBinary.Digest.parse(hash + " 12\n"));
        assertNull(AgentBinary.Digest.parse(""));
        assertNull(AgentBinary.Digest.parse(hash));
        assertNull(AgentBinary.Digest.parse(hash.toUpperCase() + " 12"));
        assertNull(AgentBinary.Digest.parse(hash.substring(1) + " 12"));
        assertNull(AgentBinary.Digest.parse(hash + " -12"));
        assertNull(AgentBinary.Digest.parse(hash + " 12 13"));
        assertNull(AgentBinary.Digest.parse(hash + " 99999999999999999999"));
    }
}
