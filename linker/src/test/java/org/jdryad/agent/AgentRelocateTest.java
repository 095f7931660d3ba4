package org.jdryad.agent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The agent's RELOCATE_RELATIVE request (native/relocate.c) against a live agent: DT_RELR and
 * RELATIVE entries applied from tables in the agent's own memory, and every kind of refusal
 * (a target outside the writable pages, an entry of another type, a table in writable pages,
 * runs out of order, a bitmap first, a count larger than the table) writing nothing at all.
 */
class AgentRelocateTest {
    private static final int RW = Protocol.PROT_READ | Protocol.PROT_WRITE;
    private static final long R_X86_64_RELATIVE = 8;
    private static final long R_X86_64_GLOB_DAT = 6;

    private AgentProcess agent;
    /** page 0: the object's writable data (the base is its start); page 1: its read-only tables. */
    private long data;
    private long tables;

    @BeforeEach
    void start() {
        agent = AgentProcess.start(AgentProcessTest.AGENT, Map.of("PATH", "/usr/bin:/bin"), null, Duration.ofSeconds(10));
        data = agent.mmapAnon(0, 3 * 4096, RW, 0);
        tables = data + 4096;
        for (int i = 0; i < 64; i++) {
            agent.writeWords(new long[] {data + 8L * i}, new long[] {1000 + i});
        }
    }

    @AfterEach
    void stop() {
        agent.close();
    }

    private long[] runs() {
        return new long[] {data, data + 4096, RW, tables, tables + 4096, Protocol.PROT_READ};
    }

    /** RELA entries (r_offset, type, r_addend) and then RELR words, written into the table page, made read-only. */
    private void tables(long[][] rela, long... relr) {
        ByteBuffer b = ByteBuffer.allocate(24 * rela.length + 8 * relr.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long[] e : rela) {
            b.putLong(e[0]).putLong(e[1]).putLong(e[2]);
        }
        for (long w : relr) {
            b.putLong(w);
        }
        agent.mprotect(tables, 4096, RW);
        agent.write(tables, b.array());
        agent.mprotect(tables, 4096, Protocol.PROT_READ);
    }

    private long word(int index) {
        return agent.readLong(data + 8L * index);
    }

    private byte[] dataPage() {
        return agent.read(data, 4096);
    }

    @Test
    void appliesRelrThenRelativeEntries() {
        long[][] rela = {{0, R_X86_64_RELATIVE, 0x100}, {8, R_X86_64_RELATIVE, 0x200}, {64, R_X86_64_RELATIVE, 0x300}};
        // RELR: the word at 64, then a bitmap marking the words at 72 + 0 and 72 + 16.
        long bitmap = (0b101L << 1) | 1;
        tables(rela, 64, bitmap);
        var reply = agent.relocateRelative(data, tables, 3, tables + 72, 16, runs());
        assertEquals(3, reply.status(), "three DT_RELR words");
        assertEquals(data + 0x100, word(0));
        assertEquals(data + 0x200, word(1));
        assertEquals(data + 0x300, word(8), "DT_RELR first, then DT_RELA overwrites the same word, as glibc does");
        assertEquals(data + 1009, word(9));
        assertEquals(1010, word(10), "not marked");
        assertEquals(data + 1011, word(11));
        assertEquals(1002, word(2));
    }

    @Test
    void refusesATargetOutsideTheWritablePagesAndWritesNothing() {
        tables(new long[][] {{0, R_X86_64_RELATIVE, 1}, {4096 + 8, R_X86_64_RELATIVE, 2}});
        byte[] before = dataPage();
        var reply = agent.relocateRelative(data, tables, 2, 0, 0, runs());
        assertEquals(-8, reply.status());
        assertEquals(1, reply.refusedEntry());
        assertArrayEquals(before, dataPage(), "a refused request stores nothing, not even the good entry before");
        // A word straddling the end of the writable run is outside too.
        tables(new long[][] {{4092, R_X86_64_RELATIVE, 1}});
        assertEquals(-8, agent.relocateRelative(data, tables, 1, 0, 0, runs()).status());
        assertTrue(agent.isAlive());
    }

    @Test
    void refusesAnEntryThatIsNotRelative() {
        tables(new long[][] {{0, R_X86_64_RELATIVE, 1}, {8, R_X86_64_GLOB_DAT | (5L << 32), 0}});
        byte[] before = dataPage();
        var reply = agent.relocateRelative(data, tables, 2, 0, 0, runs());
        assertEquals(-8, reply.status());
        assertEquals(1, reply.refusedEntry());
        assertArrayEquals(before, dataPage());
        assertEquals(0, agent.relocateRelative(data, tables, 1, 0, 0, runs()).status(), "the run before it is fine");
        assertEquals(data + 1, word(0));
    }

    @Test
    void refusesTablesOutsideReadOnlyPages() {
        tables(new long[][] {{0, R_X86_64_RELATIVE, 1}});
        byte[] before = dataPage();
        // The table in the writable page (a store could rewrite entries already checked).
        assertEquals(-14, agent.relocateRelative(data, data, 1, 0, 0, runs()).status());
        // More entries than the read-only page holds, and a DT_RELR table past it.
        assertEquals(-14, agent.relocateRelative(data, tables, 4096 / 24 + 1, 0, 0, runs()).status());
        assertEquals(-14, agent.relocateRelative(data, tables, 0, tables + 4088, 16, runs()).status());
        // Unmapped memory the runs do not name at all (page 2 of the mapping).
        assertEquals(-14, agent.relocateRelative(data, tables + 4096, 1, 0, 0, runs()).status());
        assertArrayEquals(before, dataPage());
        assertTrue(agent.isAlive());
    }

    @Test
    void refusesMalformedRequests() {
        tables(new long[][] {{0, R_X86_64_RELATIVE, 1}}, (1L << 1) | 1);
        byte[] before = dataPage();
        long[] unordered = {tables, tables + 4096, Protocol.PROT_READ, data, data + 4096, RW};
        assertEquals(-22, agent.relocateRelative(data, tables, 1, 0, 0, unordered).status());
        long[] overlapping = {data, data + 8192, RW, tables, tables + 4096, Protocol.PROT_READ};
        assertEquals(-22, agent.relocateRelative(data, tables, 1, 0, 0, overlapping).status());
        assertEquals(-22, agent.relocateRelative(data, tables, 1, tables + 24, 8, runs()).status(), "a bitmap first");
        assertEquals(-22, agent.relocateRelative(data, tables, 1, tables + 24, 4, runs()).status(), "a partial word");
        assertEquals(-22, agent.relocateRelative(data, tables, -1L, 0, 0, runs()).status(), "an absurd count");
        assertArrayEquals(before, dataPage());
        assertTrue(agent.isAlive());
    }

    /**
     * Targets scattered over more page runs than the agent notes for its prefault (one page in
     * two, 100 runs): every word is still written, and only the pages written are resident,
     * as after plain stores (the prefault breaks copy-on-write for no page more).
     */
    @Test
    void relocatesScatteredTargetsAndMakesOnlyTheirPagesResident() throws Exception {
        int pages = 200;
        long big = agent.mmapAnon(0, pages * 4096L, RW, 0);
        long[][] rela = new long[pages / 2][];
        for (int i = 0; i < rela.length; i++) {
            rela[i] = new long[] {2L * i * 4096 + 8 * (i % 512), R_X86_64_RELATIVE, i};
        }
        tables(rela);
        long before = residentKb(big); // the mapping may have merged with the data page next to it
        long[] runs = big < tables
                ? new long[] {big, big + pages * 4096L, RW, tables, tables + 4096, Protocol.PROT_READ}
                : new long[] {tables, tables + 4096, Protocol.PROT_READ, big, big + pages * 4096L, RW};
        assertEquals(0, agent.relocateRelative(big, tables, rela.length, 0, 0, runs).status());
        for (long[] e : rela) {
            assertEquals(big + e[2], agent.readLong(big + e[0]));
        }
        assertEquals(4L * rela.length, residentKb(big) - before, "kB made resident: the pages written, no more");
    }

    /** The Rss of the agent's mapping that starts at {@code start}, from /proc/PID/smaps. */
    private long residentKb(long start) throws java.io.IOException {
        String head = Long.toHexString(start) + "-";
        boolean in = false;
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/" + agent.pid() + "/smaps"))) {
            if (line.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                in = line.startsWith(head);
            } else if (in && line.startsWith("Rss:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new AssertionError("no mapping at 0x" + Long.toHexString(start));
    }
}
