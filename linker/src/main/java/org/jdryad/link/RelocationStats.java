package org.jdryad.link;

import java.util.Map;
import java.util.TreeMap;
import org.jdryad.elf.Elf;

/** Counts for {@code --stats}: relocations by type, lookups, time per phase. */
public final class RelocationStats {
    private final long[] byType = new long[64];
    private final Map<String, Long> phaseNanos = new java.util.LinkedHashMap<>();
    private long relrCount;
    private long lookups;
    private long cachedLookups;

    void count(int type) {
        if (type >= 0 && type < byType.length) {
            byType[type]++;
        }
    }

    void countRelr(long n) {
        relrCount += n;
    }

    /** A symbol reference resolved for a relocation: looked up, or answered from the object's cache. */
    void countLookup(boolean cached) {
        if (cached) {
            cachedLookups++;
        } else {
            lookups++;
        }
    }

    /** Symbol lookups made for relocations. */
    public long lookups() {
        return lookups;
    }

    /** Relocations whose symbol an earlier relocation of the same object had already resolved. */
    public long cachedLookups() {
        return cachedLookups;
    }

    public void phase(String name, long nanos) {
        phaseNanos.merge(name, nanos, Long::sum);
    }

    public Map<String, Long> phases() {
        return phaseNanos;
    }

    /** Relocations applied, by readelf type name (RELR entries as "R_X86_64_RELATIVE (RELR)"). */
    public Map<String, Long> byType() {
        Map<String, Long> out = new TreeMap<>();
        for (int t = 0; t < byType.length; t++) {
            if (byType[t] != 0) {
                out.put(Elf.relocationName(t), byType[t]);
            }
        }
        if (relrCount != 0) {
            out.put("R_X86_64_RELATIVE (RELR)", relrCount);
        }
        return out;
    }

    public long total() {
        long n = relrCount;
        for (long c : byType) {
            n += c;
        }
        return n;
    }
}
