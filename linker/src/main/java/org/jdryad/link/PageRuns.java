package org.jdryad.link;

import java.util.Map;
import java.util.TreeMap;

/**
 * The protections a jdryad object's pages have in the target, as the plan made them: each
 * PT_LOAD's pages with its flags, later segments over earlier ones, RELRO made read-only once
 * relocation is done. The agent carries out plain stores and calls, so every address the plan
 * hands it (a relocation site, a copy's source, an IFUNC resolver, a lazily patched jump slot)
 * is checked here first: what a hostile file points elsewhere is refused, never written.
 *
 * <p>Checks run once per relocation (hundreds of thousands for libLLVM), from many threads,
 * while changes are a handful per object: so the runs are also kept as an immutable sorted
 * snapshot that {@link #allows} binary-searches without a lock or boxing.
 */
final class PageRuns {
    /** start -> [end, prot]; the runs do not overlap. */
    private final TreeMap<Long, long[]> runs = new TreeMap<>();
    /** The runs as three parallel arrays sorted by start, rebuilt after every change. */
    private record Snapshot(long[] starts, long[] ends, int[] prots) {
    }

    private volatile Snapshot snapshot = new Snapshot(new long[0], new long[0], new int[0]);

    private void publish() {
        int n = runs.size();
        long[] starts = new long[n];
        long[] ends = new long[n];
        int[] prots = new int[n];
        int i = 0;
        for (Map.Entry<Long, long[]> e : runs.entrySet()) {
            starts[i] = e.getKey();
            ends[i] = e.getValue()[0];
            prots[i] = (int) e.getValue()[1];
            i++;
        }
        snapshot = new Snapshot(starts, ends, prots);
    }

    /** Gives {@code [start, end)} the protection {@code prot}, over whatever was there. */
    synchronized void set(long start, long end, int prot) {
        if (end <= start) {
            return;
        }
        split(start);
        split(end);
        runs.subMap(start, end).clear();
        runs.put(start, new long[] {end, prot});
        publish();
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
        publish();
    }

    /** Whether all of {@code [address, address+length)} is mapped with every bit of {@code prot}. */
    boolean allows(long address, long length, int prot) {
        if (length < 0 || address + length < address) {
            return false;
        }
        Snapshot s = snapshot;
        long a = address;
        long end = address + Math.max(length, 1);
        int i = floor(s.starts(), a);
        while (a < end) {
            if (i < 0 || i >= s.starts().length || s.starts()[i] > a || s.ends()[i] <= a
                    || (s.prots()[i] & prot) != prot) {
                return false;
            }
            a = s.ends()[i];
            i++; // runs do not overlap: the next one must start where this one ends
        }
        return true;
    }

    /** The runs as (start, end, prot) triples in address order, as a request to the agent carries them. */
    long[] triples() {
        Snapshot s = snapshot;
        long[] out = new long[3 * s.starts().length];
        for (int i = 0; i < s.starts().length; i++) {
            out[3 * i] = s.starts()[i];
            out[3 * i + 1] = s.ends()[i];
            out[3 * i + 2] = s.prots()[i];
        }
        return out;
    }

    /** The index of the last start at or below {@code a}, or -1. */
    private static int floor(long[] starts, long a) {
        int lo = 0;
        int hi = starts.length - 1;
        int found = -1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (starts[mid] <= a) {
                found = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return found;
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
