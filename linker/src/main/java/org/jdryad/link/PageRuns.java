package org.jdryad.link;

import java.util.Map;
import java.util.TreeMap;

/**
 * The protections a jdryad object's pages have in the target, as the plan made them: each
 * PT_LOAD's pages with its flags, later segments over earlier ones, RELRO made read-only once
 * relocation is done. The agent carries out plain stores and calls, so every address the plan
 * hands it (a relocation site, a copy's source, an IFUNC resolver, a lazily patched jump slot)
 * is checked here first: what a hostile file points elsewhere is refused, never written.
 */
final class PageRuns {
    /** start -> [end, prot]; the runs do not overlap. */
    private final TreeMap<Long, long[]> runs = new TreeMap<>();

    /** Gives {@code [start, end)} the protection {@code prot}, over whatever was there. */
    synchronized void set(long start, long end, int prot) {
        if (end <= start) {
            return;
        }
        split(start);
        split(end);
        runs.subMap(start, end).clear();
        runs.put(start, new long[] {end, prot});
    }

    /** Changes the protection of the mapped parts of {@code [start, end)}. */
    synchronized void protect(long start, long end, int prot) {
        if (end <= start) {
            return;
        }
        split(start);
        split(end);
        for (long[] r : runs.subMap(start, end).values()) {
            r[1] = prot;
        }
    }

    /** Whether all of {@code [address, address+length)} is mapped with every bit of {@code prot}. */
    synchronized boolean allows(long address, long length, int prot) {
        if (length < 0 || address + length < address) {
            return false;
        }
        long a = address;
        long end = address + Math.max(length, 1);
        while (a < end) {
            Map.Entry<Long, long[]> e = runs.floorEntry(a);
            if (e == null || e.getValue()[0] <= a || (e.getValue()[1] & prot) != prot) {
                return false;
            }
            a = e.getValue()[0];
        }
        return true;
    }

    private void split(long at) {
        Map.Entry<Long, long[]> e = runs.floorEntry(at);
        if (e == null || e.getKey() == at || e.getValue()[0] <= at) {
            return;
        }
        long[] r = e.getValue();
        runs.put(at, new long[] {r[0], r[1]});
        r[0] = at;
    }
}
