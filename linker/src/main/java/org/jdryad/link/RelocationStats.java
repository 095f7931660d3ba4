package org.jdryad.link;

import java.util.Map;
import java.util.TreeMap;
import org.jdryad.elf.Elf;

/** Counts for {@code --stats}: relocations by type, lookups, time per phase. */
public final class RelocationStats {
    private final long[] byType = new long[64];
    private final Map<String, Long> phaseNanos = new java.util.LinkedHashMap<>();
    private long relrCount;
    private long lazySlots;
    private final java.util.concurrent.atomic.AtomicLong lazyBound = new java.util.concurrent.atomic.AtomicLong();

    /** Jump slots left for their first call. */
    void countLazySlots(long n) {
        lazySlots += n;
    }

    /** A jump slot bound at its first call (from any program thread). */
    void countLazy() {
        lazyBound.incrementAndGet();
    }

    /** Jump slots left unbound at load time. */
    public long lazySlots() {
        return lazySlots;
    }

    /** Jump slots bound lazily so far. */
    public long lazyBound() {
        return lazyBound.get();
    }
    // Counted from lazy first calls on many threads too.
    private final java.util.concurrent.atomic.LongAdder lookups = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder cachedLookups = new java.util.concurrent.atomic.LongAdder();

    void count(int type) {
        count(type, 1);
    }

    void count(int type, long n) {
        if (type >= 0 && type < byType.length) {
            byType[type] += n;
        }
    }

    void countRelr(long n) {
        relrCount += n;
    }

    /** A symbol reference resolved for a relocation: looked up, or answered from the object's cache. */
    void countLookup(boolean cached) {
        if (cached) {
            cachedLookups.increment();
        } else {
            lookups.increment();
        }
    }

    /** Symbol lookups made for relocations. */
    public long lookups() {
        return lookups.sum();
    }

    /** Relocations whose symbol an earlier relocation of the same object had already resolved. */
    public long cachedLookups() {
        return cachedLookups.sum();
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
