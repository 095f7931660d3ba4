package org.jdryad.link;

import java.util.ArrayList;
import java.util.List;

/**
 * One object's relocations as worked out, before anything reaches the target or the record:
 * why it exists is parallel linking. Objects are planned independently (their lookups read
 * scopes nobody changes meanwhile), on every core, and {@link RelocationRun} carries the plans
 * out one after another in relocation order, so the target's bytes, the bindings and their
 * sequence numbers are what planning and carrying out each object in turn would give.
 */
final class RelocationPlan {
    /** A relocation whose value needs an IFUNC resolver called in the target. */
    record IfuncWrite(LoadedObject object, long site, long resolver, long addend, String what) {
    }

    /** A copy relocation: {@code size} bytes from {@code source} to {@code site}. */
    record CopyWrite(long site, long source, long size) {
    }

    final LoadedObject object;
    /**
     * Whether this plan is carried out as it is made (one object after another): the record is
     * then made at once, so that LD_DEBUG's binding lines come right after the lookup lines of
     * their symbol.
     */
    final boolean immediate;
    /**
     * The object's DT_RELR and leading RELATIVE entries as sent to the target ahead, and its
     * answer to come: the DT_RELR words relocated, or -1 (refused: Java writes them).
     */
    record Relative(TargetMemory.RelativeRelocations request, java.util.function.LongSupplier reply) {
    }

    /** The target's RELATIVE work for this object; null: Java's words. */
    Relative relative;
    /** The words, in relocation order, after those {@link #relative} covers. */
    final WordWrites words = new WordWrites();
    final List<IfuncWrite> ifuncs = new ArrayList<>();
    final List<CopyWrite> copies = new ArrayList<>();
    /** What goes on record, in the order it happened: bindings, relocation dependencies, warnings. */
    final List<Runnable> record = new ArrayList<>();
    /** Relocations counted by type (RelocationStats), DT_RELR words and jump slots left lazy. */
    final long[] byType = new long[64];
    long relrWords;
    long lazySlots;
    /** Why planning stopped (an undefined symbol, a malformed entry): thrown when the plan is carried out. */
    RuntimeException failure;

    RelocationPlan(LoadedObject object, boolean immediate) {
        this.object = object;
        this.immediate = immediate;
    }

    /** Puts {@code r} on record: at once when immediate, else when the plan is carried out. */
    void note(Runnable r) {
        if (immediate) {
            r.run();
        } else {
            record.add(r);
        }
    }

    void count(int type) {
        if (type >= 0 && type < byType.length) {
            byType[type]++;
        }
    }

    /** Adds this plan's counts to the session's statistics. */
    void addCountsTo(RelocationStats stats) {
        for (int t = 0; t < byType.length; t++) {
            if (byType[t] != 0) {
                stats.count(t, byType[t]);
            }
        }
        stats.countRelr(relrWords);
        stats.countLazySlots(lazySlots);
    }
}
