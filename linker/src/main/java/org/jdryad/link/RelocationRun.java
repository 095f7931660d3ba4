package org.jdryad.link;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jdryad.elf.DynamicSection;
import org.jdryad.elf.Elf;
import org.jdryad.elf.SymbolTable;
import org.jdryad.link.SymbolLookup.Definition;

/**
 * Relocating a set of objects (start-up, or what a dlopen brought in): each object's relocations
 * are planned on their own ({@link RelocationPlan}), on both cores when there are several
 * objects, and then carried out one by one in relocation order: the target's RELATIVE work, the
 * object's words, its record. Serially, each plan is carried out as it is made (the record at
 * once, interleaved with LD_DEBUG's lookup lines as glibc prints them). Then, as glibc's result requires, the deferred work that must see
 * relocated memory: IFUNC resolvers (they may read their object's relocated data), then copy
 * relocations (they copy relocated data). Planning in parallel gives what planning in order
 * gives, because planning only reads (files, scopes no one changes meanwhile, IFUNC results of
 * host objects, which are the same whoever asks first). A session that says so
 * ({@link LinkContext#relocatesInParallel}: -Djdryad.link.parallel=true) plans in parallel;
 * one whose lookups are traced (LD_DEBUG prints them as they happen) always plans in order.
 *
 * <p>Why Java never waits for the target meanwhile: the target serves requests in the order
 * sent, so what must come first only has to be sent first. Every object's RELATIVE work goes
 * out before the first plan (it needs only the bases; libLLVM's is 16 ms of page copying), the
 * IFUNC results of glibc's libraries are fetched in one request before that (planning would
 * otherwise wait behind it for each), and each plan's words are sent without waiting for their
 * answer, all of which are collected ({@link TargetMemory#settle}) before the resolvers run. The
 * target works while Java plans, on the other core.
 */
final class RelocationRun {
    private RelocationRun() {
    }

    /** Relocates {@code objects} in the order given, then runs their IFUNC resolvers and copies. */
    static void relocateAll(LinkContext ctx, List<LoadedObject> objects) {
        nameLazyObjects(ctx, objects);
        callHostIfuncs(ctx, objects);
        Map<LoadedObject, RelocationPlan.Relative> relative = new IdentityHashMap<>();
        for (LoadedObject o : objects) { // all of it before the first plan: it overlaps all of planning
            RelocationPlan.Relative r = Relocator.sendRelative(ctx, o);
            if (r != null) {
                relative.put(o, r);
            }
        }
        List<RelocationPlan> plans;
        long writeNanos = 0;
        try {
            if (plansInParallel(ctx, objects)) {
                prepareTables(ctx, objects);
                plans = objects.parallelStream().map(o -> Relocator.plan(ctx, o, relative.get(o), false)).toList();
                for (RelocationPlan p : plans) {
                    ctx.relocating(p.object);
                    writeNanos += carryOut(ctx, p);
                }
            } else {
                plans = new java.util.ArrayList<>();
                for (LoadedObject o : objects) {
                    ctx.relocating(o); // before its lookups, which LD_DEBUG=symbols tells as they happen
                    RelocationPlan p = Relocator.plan(ctx, o, relative.get(o), true);
                    plans.add(p);
                    writeNanos += carryOut(ctx, p);
                }
            }
            long t0 = System.nanoTime();
            ctx.memory().settle();
            writeNanos += System.nanoTime() - t0;
        } catch (RuntimeException e) {
            settleAfter(ctx, e);
            throw e;
        }
        ctx.stats().phase("relocate: write to target", writeNanos);
        runIfuncs(ctx, plans);
        copy(ctx, plans);
    }

    /** Waits for what was sent ahead before {@code failure} stopped the run (what went wrong there too is added to it). */
    private static void settleAfter(LinkContext ctx, RuntimeException failure) {
        try {
            ctx.memory().settle();
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
    }

    private static boolean plansInParallel(LinkContext ctx, List<LoadedObject> objects) {
        return ctx.relocatesInParallel() && objects.size() > 1 && !ctx.tracesLookups()
                && Runtime.getRuntime().availableProcessors() > 1;
    }

    /**
     * Gives lazily bound objects their ids (GOT[1]) in relocation order, whatever order they
     * are planned in.
     */
    private static void nameLazyObjects(LinkContext ctx, List<LoadedObject> objects) {
        for (LoadedObject o : objects) {
            if (ctx.bindsLazily(o) && o.dynamic().map(Relocator::hasLazyGot).orElse(false)) {
                ctx.lazyIdOf(o);
            }
        }
    }

    /** The host objects whose IFUNC resolvers {@link #callHostIfuncs} runs ahead: glibc's own. */
    private static final Set<String> GLIBC_IFUNC_LIBRARIES = Set.of("libc.so.6", "libm.so.6");

    /**
     * Runs, in one request, every IFUNC resolver of glibc's libc and libm in the objects' scopes
     * whose result is not known yet. Why ahead: planning binds dozens of them (memcpy, strlen,
     * sin...), one round trip each, and each would wait behind the agent's RELATIVE work that
     * planning overlaps. Running the others too is harmless: glibc's resolvers only read the CPU
     * features ld.so computed at start-up. Other host objects' resolvers run when bound, as glibc
     * runs them.
     */
    private static void callHostIfuncs(LinkContext ctx, List<LoadedObject> objects) {
        Set<LoadedObject> hosts = Collections.newSetFromMap(new IdentityHashMap<>());
        for (LoadedObject o : objects) {
            for (LoadedObject s : ctx.scopeFor(o)) {
                if (s.isHost() && s.soname().filter(GLIBC_IFUNC_LIBRARIES::contains).isPresent()) {
                    hosts.add(s);
                }
            }
        }
        Set<Long> resolvers = new LinkedHashSet<>();
        for (LoadedObject h : hosts) {
            try {
                SymbolTable table = h.dynamic().map(DynamicSection::symbols).orElse(null);
                for (int i = 0; table != null && i < table.count(); i++) {
                    if (!table.get(i, "").isIfunc()) { // the type first: no name decoded for the others
                        continue;
                    }
                    Definition def = new Definition(h, table.get(i), null);
                    if (!def.symbol().isUndefined() && !ctx.isInterposed(def) && !ctx.ifuncResults().containsKey(def.address())) {
                        resolvers.add(def.address());
                    }
                }
            } catch (RuntimeException e) {
                // a malformed table: its symbols' resolvers run when they are bound, as before
            }
        }
        if (resolvers.isEmpty()) {
            return;
        }
        long[] fns = resolvers.stream().mapToLong(Long::longValue).toArray();
        long[] results = ctx.memory().callEach(fns);
        for (int i = 0; i < fns.length; i++) {
            ctx.ifuncResults().put(fns[i], results[i]);
        }
    }

    /**
     * Parses, concurrently, what lookups will read of every object in the objects' scopes (the
     * dynamic section, symbol and hash tables, versions), each object by one thread: the ELF
     * reader builds those on first use without locks. A malformed table is left for the lookup
     * that meets it, which reports it in order.
     */
    private static void prepareTables(LinkContext ctx, List<LoadedObject> objects) {
        Set<LoadedObject> all = Collections.newSetFromMap(new IdentityHashMap<>());
        for (LoadedObject o : objects) {
            all.add(o);
            all.addAll(ctx.scopeFor(o));
        }
        all.parallelStream().forEach(RelocationRun::parseTables);
    }

    private static void parseTables(LoadedObject o) {
        try {
            o.dynamic().ifPresent(d -> {
                d.symbols();
                d.gnuHash();
                d.sysvHash();
                d.versions();
            });
        } catch (RuntimeException e) {
            // reported by the lookup that needs the table
        }
    }

    /**
     * Carries out one object's plan: the target's RELATIVE work first (sent when it was planned:
     * its answer is awaited here; when the target refused it, Java's words for those
     * relocations, which name what is wrong), then the record and the counts, the failure that
     * stopped planning if any, and the words. Returns the time spent sending words.
     */
    private static long carryOut(LinkContext ctx, RelocationPlan plan) {
        long nanos = 0;
        if (plan.relative != null) {
            long t0 = System.nanoTime();
            long relrWords = plan.relative.reply().getAsLong();
            ctx.stats().phase("relocate: relative, waited for", System.nanoTime() - t0); // what planning did not hide
            if (relrWords < 0) {
                nanos += writeOut(ctx, Relocator.planRelativeByJava(ctx, plan.object, plan.relative.request().relaCount()));
            } else {
                ctx.stats().count(Elf.R_X86_64_RELATIVE, plan.relative.request().relaCount());
                ctx.stats().countRelr(relrWords);
            }
        }
        plan.record.forEach(Runnable::run);
        return nanos + writeOut(ctx, plan);
    }

    /** A plan's counts, its failure if it has one, else its words. Returns the time spent sending them. */
    private static long writeOut(LinkContext ctx, RelocationPlan plan) {
        plan.addCountsTo(ctx.stats());
        if (plan.failure != null) {
            throw plan.failure;
        }
        plan.words.sendTo(ctx.memory()); // settled when the run's plans are all carried out
        return plan.words.flushNanos();
    }

    private static void runIfuncs(LinkContext ctx, List<RelocationPlan> plans) {
        long t0 = System.nanoTime();
        Relocator r = new Relocator(ctx);
        WordWrites writes = new WordWrites();
        for (RelocationPlan p : plans) {
            for (RelocationPlan.IfuncWrite w : p.ifuncs) {
                writes.add(w.site(), r.callIfunc(w.resolver()) + w.addend());
            }
        }
        writes.flushTo(ctx.memory());
        ctx.stats().phase("ifunc resolvers", System.nanoTime() - t0);
    }

    private static void copy(LinkContext ctx, List<RelocationPlan> plans) {
        for (RelocationPlan p : plans) {
            for (RelocationPlan.CopyWrite c : p.copies) {
                if (c.size() > Integer.MAX_VALUE) {
                    throw new LinkException("copy relocation of " + c.size() + " bytes is too large");
                }
                ctx.memory().write(c.site(), ctx.memory().read(c.source(), (int) c.size()));
            }
        }
    }
}
