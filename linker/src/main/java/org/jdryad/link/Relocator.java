package org.jdryad.link;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdryad.debug.Binding;
import org.jdryad.debug.BindingHistory;
import org.jdryad.debug.DeferredCandidates;
import org.jdryad.elf.DynamicSection;
import org.jdryad.elf.Elf;
import org.jdryad.elf.RelocationTable;
import org.jdryad.elf.Symbol;
import org.jdryad.elf.SymbolVersions;
import org.jdryad.link.SymbolLookup.Definition;
import org.jdryad.link.SymbolLookup.Request;
import org.jdryad.link.SymbolLookup.Result;
import org.jdryad.link.SymbolLookup.TypeClass;
import org.jdryad.link.SymbolLookup.VersionRequirement;

/**
 * Applies the dynamic relocations of jdryad objects. Every value is computed here; the target
 * only receives bulk word writes. Work that must see relocated memory is deferred, in the order
 * glibc's result requires: IFUNC resolvers (they may read their object's relocated data) run
 * after all plain relocations are written; copy relocations copy relocated data, after that.
 *
 * <p>A lazily bound object's jump slots are not resolved here: they get their unbound value
 * (the PLT's push entry, moved by the load bias), GOT[1] Java's id of the object and GOT[2] the
 * agent's trampoline, and {@link #bindLazily} resolves one slot at its first call.
 */
final class Relocator {
    /** Why a lookup is made: at load time, or for a first call (with its caller and thread). */
    private record Origin(Binding.Kind kind, long callSite, long tid, long pid) {
        static final Origin LOAD = new Origin(Binding.Kind.EAGER, 0, 0, 0);

        static Origin of(Binding.Kind kind) {
            return new Origin(kind, 0, 0, 0);
        }
    }


    private final LinkContext ctx;
    /** The plan relocation fills (null: a lazy first call or a preview, which act at once). */
    private final RelocationPlan plan;
    private final WordWrites writes;
    private final List<RelocationPlan.IfuncWrite> ifuncs;
    private final List<RelocationPlan.CopyWrite> copies;
    private final Map<Long, Long> ifuncResults;
    /**
     * Scope lists named once each, as their prefixes: a binding's "searched" list is one of these
     * (an immutable list the Binding keeps as it is, where a view of the whole list was copied
     * for every one of llvm-as-14's 14,467 bindings).
     */
    private final Map<List<LoadedObject>, List<List<String>>> scopePrefixes = new java.util.IdentityHashMap<>();

    /** A relocator for lazy first calls and previews: what it decides is recorded at once. */
    Relocator(LinkContext ctx) {
        this(ctx, null);
    }

    private Relocator(LinkContext ctx, RelocationPlan plan) {
        this.ctx = ctx;
        this.plan = plan;
        this.writes = plan == null ? new WordWrites() : plan.words;
        this.ifuncs = plan == null ? new ArrayList<>() : plan.ifuncs;
        this.copies = plan == null ? new ArrayList<>() : plan.copies;
        this.ifuncResults = ctx.ifuncResults();
    }

    /** A resolved reference: where it points and what defined it (null definition: weak and undefined). */
    private record Resolved(Definition definition, long value) {
    }

    /**
     * Plans {@code obj}'s relocations (see {@link RelocationPlan}); {@code relative}: its DT_RELR
     * and leading RELATIVE entries are the target's, sent ahead (null: Java's); {@code immediate}: the plan
     * is carried out as it is made. A failure is kept in the plan, to be thrown when it is
     * carried out, after what came before it.
     */
    static RelocationPlan plan(LinkContext ctx, LoadedObject obj, RelocationPlan.Relative relative, boolean immediate) {
        RelocationPlan p = new RelocationPlan(obj, immediate);
        p.relative = relative;
        try {
            new Relocator(ctx, p).relocate(obj);
        } catch (RuntimeException e) {
            p.failure = e;
        }
        return p;
    }

    /** Calls an IFUNC resolver in the target once (one call at a time, whichever thread plans). */
    long callIfunc(long resolver) {
        Long cached = ifuncResults.get(resolver);
        if (cached != null) {
            return cached;
        }
        synchronized (ifuncResults) {
            cached = ifuncResults.get(resolver);
            if (cached != null) {
                return cached;
            }
            long value = ctx.memory().call(resolver);
            ifuncResults.put(resolver, value);
            return value;
        }
    }

    /**
     * Resolves jump slot {@code index} of {@code obj}'s PLT relocations for its first call from
     * {@code callSite} on thread {@code tid}, in the object's scope as it is now, and records
     * the binding. An undefined symbol throws glibc's {@code symbol lookup error}.
     */
    LinkSession.LazyAnswer bindLazily(LoadedObject obj, long index, long callSite, long tid, long pid) {
        long site = jumpSlot(obj, index);
        Resolved r = resolveWith(obj, (int) (obj.dynamic().get().pltRela().symbolIndex(index)), TypeClass.PLT,
                "R_X86_64_JUMP_SLOT", site, new Origin(Binding.Kind.LAZY, callSite, tid, pid));
        ctx.stats().countLazy();
        return answer(r, site);
    }

    /**
     * Where a first call through {@code site} jumps. An IFUNC's resolver runs in the calling
     * process (a forked child's is not the agent Java talks to): the agent calls it, unless its
     * result is known already.
     */
    private LinkSession.LazyAnswer answer(Resolved r, long site) {
        boolean ifunc = r.definition() != null && r.definition().symbol().isIfunc() && !ctx.isInterposed(r.definition());
        if (ifunc) {
            requireResolver(r.definition().object(), r.value(), r.definition().toString());
        }
        Long known = ifunc ? ifuncResults.get(r.value()) : null;
        if (known != null) {
            return new LinkSession.LazyAnswer(known, site, false, r.definition());
        }
        return new LinkSession.LazyAnswer(r.value(), site, ifunc, r.definition());
    }

    /** Where a receiver of {@link #preview} sends the binding it would record: nowhere else. */
    private java.util.function.Consumer<BindingHistory.Draft> sink;

    /**
     * What the first call through jump slot {@code index} would bind to now, and the binding it
     * would record (call site, thread and process still 0), without recording it; empty when the
     * agent could not take the answer as it is (undefined, an IFUNC whose result is unknown).
     */
    Optional<LinkSession.Prepared> preview(LoadedObject obj, long index) {
        long site = jumpSlot(obj, index);
        BindingHistory.Draft[] seen = new BindingHistory.Draft[1];
        sink = d -> seen[0] = d;
        Resolved r;
        try {
            r = resolveWith(obj, (int) (obj.dynamic().get().pltRela().symbolIndex(index)), TypeClass.PLT,
                    "R_X86_64_JUMP_SLOT", site, new Origin(Binding.Kind.LAZY, 0, 0, 0));
        } catch (LinkException e) {
            return Optional.empty(); // undefined: Java answers the call itself, with glibc's error
        } finally {
            sink = null;
        }
        LinkSession.LazyAnswer a = answer(r, site);
        if (r.definition() == null || seen[0] == null || a.callIfunc()) {
            return Optional.empty();
        }
        return Optional.of(new LinkSession.Prepared(a.target(), site, seen[0], obj, r.definition().object()));
    }

    /** The GOT slot of PLT relocation {@code index}, which must be a jump slot. */
    private long jumpSlot(LoadedObject obj, long index) {
        DynamicSection d = obj.dynamic().orElseThrow(() -> new LinkException(obj.name() + ": no dynamic section"));
        RelocationTable table = d.pltRela();
        if (index < 0 || index >= table.count()) {
            throw new LinkException(obj.name() + ": lazy call through PLT relocation " + index + " of " + table.count());
        }
        int type = table.type(index);
        if (type != Elf.R_X86_64_JUMP_SLOT) {
            throw new LinkException(obj.name() + ": lazy call through PLT relocation " + index + " of type "
                    + Elf.relocationName(type) + ", not R_X86_64_JUMP_SLOT");
        }
        long site = obj.base() + table.offset(index);
        if (ctx.slotsStayUnbound(obj)) {
            if (!within(obj, site, 8)) { // never written, but named in the history and the audit tables
                throw new LinkException(String.format("%s: lazily bound R_X86_64_JUMP_SLOT at 0x%x lies outside the object",
                        obj.name(), table.offset(index)));
            }
            return site;
        }
        // The agent patches the slot after the first call: it must still be writable (not RELRO).
        requireWritable(obj, site, 8, "lazily bound R_X86_64_JUMP_SLOT");
        return site;
    }

    private void relocate(LoadedObject obj) {
        Optional<DynamicSection> dyn = obj.dynamic();
        if (dyn.isEmpty()) {
            return;
        }
        DynamicSection d = dyn.get();
        long inTarget = plan.relative != null ? plan.relative.request().relaCount() : -1;
        if (inTarget < 0) {
            relocateRelr(obj, d);
        }
        Resolutions cache = new Resolutions(d.symbols().count());
        apply(obj, d.rela(), cache, false, Math.max(inTarget, 0), Long.MAX_VALUE);
        boolean lazy = ctx.bindsLazily(obj) && prepareLazy(obj, d);
        apply(obj, d.pltRela(), cache, lazy, 0, Long.MAX_VALUE);
    }

    /**
     * What a RELATIVE request the target refused would have done ({@code obj}'s DT_RELR and its
     * DT_RELA entries before {@code lead}), as Java's words, carried out as it is planned: this
     * names the entry that is wrong, or writes what the agent could not check (a table in
     * writable pages).
     */
    static RelocationPlan planRelativeByJava(LinkContext ctx, LoadedObject obj, long lead) {
        RelocationPlan p = new RelocationPlan(obj, true);
        try {
            Relocator r = new Relocator(ctx, p);
            DynamicSection d = obj.dynamic().orElseThrow();
            r.relocateRelr(obj, d);
            r.apply(obj, d.rela(), new Resolutions(d.symbols().count()), false, 0, lead);
        } catch (RuntimeException e) {
            p.failure = e;
        }
        return p;
    }

    /** Whether the target applies relative relocations itself (-Djdryad.relocate.native=false: Java writes them). */
    private static final boolean NATIVE_RELATIVE = !"false".equals(System.getProperty("jdryad.relocate.native"));

    /**
     * Sends {@code obj}'s DT_RELR table and the leading run of R_X86_64_RELATIVE entries of its
     * DT_RELA (DT_RELACOUNT of them, or as many as lead the table) to the target, which applies
     * them straight from the object's mapped tables: the bulk of a large library's relocations,
     * which then never cross the socket. Only the base must be known: RelocationRun sends every
     * object's before planning the first, and the target faults in and writes the pages while
     * Java plans; whatever is sent after comes after. The answer is awaited when the plan is
     * carried out. Returns null when there is nothing to send (Java writes them all).
     */
    static RelocationPlan.Relative sendRelative(LinkContext ctx, LoadedObject obj) {
        TargetMemory.RelativeRelocations request;
        try {
            DynamicSection d = obj.dynamic().orElse(null);
            if (d == null || !NATIVE_RELATIVE) {
                return null;
            }
            long lead = leadingRelative(d, d.rela());
            var relr = d.value(Elf.DT_RELR);
            long relrSize = relr.isPresent() ? d.value(Elf.DT_RELRSZ).orElse(0) : 0;
            if ((lead == 0 && relrSize == 0) || d.value(Elf.DT_RELRENT).orElse(8) != 8) {
                return null;
            }
            long base = obj.base();
            request = new TargetMemory.RelativeRelocations(base, base + d.value(Elf.DT_RELA).orElse(0), lead,
                    base + relr.orElse(0), relrSize, obj.pages().triples());
        } catch (RuntimeException e) {
            return null; // a malformed object: planning reports it, in order
        }
        return new RelocationPlan.Relative(request, ctx.memory().relocateRelativeAhead(request));
    }

    /** DT_RELACOUNT when it is within the table, else the number of RELATIVE entries the table starts with. */
    private static long leadingRelative(DynamicSection d, RelocationTable rela) {
        long declared = d.value(Elf.DT_RELACOUNT).orElse(-1);
        if (declared >= 0 && declared <= rela.count()) {
            return declared;
        }
        long n = 0;
        while (n < rela.count() && rela.type(n) == Elf.R_X86_64_RELATIVE) {
            n++;
        }
        return n;
    }

    /** DT_RELR word by word: each marked word gets the base added to its value in the file. */
    private void relocateRelr(LoadedObject obj, DynamicSection d) {
        long base = obj.base();
        long[] relr = d.relrAddresses();
        for (long addr : relr) {
            long implicit = obj.elf().u64At(addr, "DT_RELR target");
            requireWritable(obj, base + addr, 8, "DT_RELR");
            writes.add(base + addr, base + implicit);
        }
        plan.relrWords += relr.length;
    }

    /**
     * GOT[1] names the object to the trampoline and GOT[2] is the trampoline, as ld.so's
     * elf_machine_runtime_setup does; false (bind now) for an object without a usable DT_PLTGOT.
     */
    private boolean prepareLazy(LoadedObject obj, DynamicSection d) {
        if (!hasLazyGot(d)) {
            return false;
        }
        var pltgot = d.value(Elf.DT_PLTGOT);
        long got = obj.base() + pltgot.getAsLong();
        if (!within(obj, got, 24) || !obj.pages().allows(got + 8, 16, TargetMemory.PROT_WRITE)) {
            throw new LinkException(obj.name() + ": DT_PLTGOT 0x" + Long.toHexString(pltgot.getAsLong())
                    + " lies outside the object's writable segments");
        }
        writes.add(got + 8, ctx.lazyIdOf(obj));
        writes.add(got + 16, ctx.lazyResolver());
        return true;
    }

    /** Whether a lazily bound object has jump slots and the GOT that names it to the trampoline (false: malformed). */
    static boolean hasLazyGot(DynamicSection d) {
        try {
            return d.value(Elf.DT_PLTGOT).isPresent() && d.pltRela().count() > 0;
        } catch (RuntimeException e) {
            return false; // its relocation reports it
        }
    }

    /** Applies the entries of {@code table} from index {@code from} up to {@code until}. */
    private void apply(LoadedObject obj, RelocationTable table, Resolutions cache, boolean lazy, long from,
                       long until) {
        long base = obj.base();
        java.nio.LongBuffer words = table.words();
        int n = (int) Math.min(words.capacity() / 3, until);
        for (int i = (int) Math.min(from, n); i < n; i++) {
            long info = words.get(3 * i + 1);
            int type = (int) (info & 0xffffffffL);
            long site = base + words.get(3 * i);
            long addend = words.get(3 * i + 2);
            int symIndex = (int) (info >>> 32);
            plan.count(type);
            int width = siteWidth(type);
            if (width > 0) {
                requireWritable(obj, site, width, Elf.relocationName(type));
            }
            switch (type) {
                case Elf.R_X86_64_NONE:
                    break;
                case Elf.R_X86_64_RELATIVE:
                case Elf.R_X86_64_RELATIVE64:
                    writes.add(site, base + addend);
                    break;
                case Elf.R_X86_64_IRELATIVE:
                    requireResolver(obj, base + addend, "R_X86_64_IRELATIVE");
                    ifuncs.add(new RelocationPlan.IfuncWrite(obj, site, base + addend, 0, "IRELATIVE"));
                    break;
                case Elf.R_X86_64_JUMP_SLOT:
                    if (lazy) {
                        // Unbound: back into the PLT (its push entry, or .plt.sec's target in .plt).
                        if (!within(obj, site, 8)) {
                            throw new LinkException(obj.name() + ": jump slot at 0x" + Long.toHexString(site - base)
                                    + " lies outside the object's mappings");
                        }
                        writes.add(site, base + obj.elf().u64At(site - base, "unbound jump slot"));
                        plan.lazySlots++;
                        break;
                    }
                    // fall through: bound now
                case Elf.R_X86_64_64:
                case Elf.R_X86_64_GLOB_DAT: {
                    Resolved r = resolve(obj, symIndex, type, site, cache);
                    if (r.definition() != null && r.definition().symbol().isIfunc() && !r.definition().object().isHost()
                            && !ctx.isInterposed(r.definition())) {
                        requireResolver(r.definition().object(), r.value(), r.definition().toString());
                        ifuncs.add(new RelocationPlan.IfuncWrite(obj, site, r.value(), type == Elf.R_X86_64_64 ? addend : 0, r.definition().toString()));
                    } else {
                        writes.add(site, r.value() + addend);
                    }
                    break;
                }
                case Elf.R_X86_64_PC32:
                case Elf.R_X86_64_32:
                case Elf.R_X86_64_32S: {
                    Resolved r = resolve(obj, symIndex, type, site, cache);
                    long v = type == Elf.R_X86_64_PC32 ? r.value() + addend - site : r.value() + addend;
                    boolean fits = type == Elf.R_X86_64_32 ? (v >>> 32) == 0 : v == (int) v;
                    if (!fits) {
                        throw new LinkException(obj.name() + ": relocation " + Elf.relocationName(type) + " at 0x"
                                + Long.toHexString(site) + " does not fit in 32 bits");
                    }
                    writes.addNarrow(site, v);
                    break;
                }
                case Elf.R_X86_64_PC64: {
                    Resolved r = resolve(obj, symIndex, type, site, cache);
                    writes.add(site, r.value() + addend - site);
                    break;
                }
                case Elf.R_X86_64_SIZE64: {
                    Resolved r = resolve(obj, symIndex, type, site, cache);
                    writes.add(site, (r.definition() == null ? 0 : r.definition().symbol().size()) + addend);
                    break;
                }
                case Elf.R_X86_64_COPY: {
                    Symbol ref = obj.elf().requireDynamic().symbols().get(symIndex);
                    Resolved r = resolveWith(obj, symIndex, TypeClass.COPY, "R_X86_64_COPY", site,
                            Origin.of(Binding.Kind.COPY));
                    if (r.definition() == null) {
                        throw LinkException.undefinedSymbol(obj, ref.name(), null);
                    }
                    long size = ref.size();
                    if (r.definition().symbol().size() != size) {
                        String warning = obj.name() + ": Symbol `" + ref.name() + "' has different size in shared object, consider re-linking";
                        plan.note(() -> ctx.warn(warning));
                        size = Math.min(size, r.definition().symbol().size());
                    }
                    // Both ends must lie in their objects' mappings: a malformed size is refused, not copied.
                    LoadedObject definer = r.definition().object();
                    if (size < 0 || !within(obj, site, size) || !within(definer, r.value(), size)
                            || !obj.pages().allows(site, size, TargetMemory.PROT_WRITE)
                            || (!definer.isHost() && !definer.pages().allows(r.value(), size, TargetMemory.PROT_READ))) {
                        throw new LinkException(obj.name() + ": copy relocation for `" + ref.name() + "' of " + size
                                + " bytes lies outside the objects' mappings");
                    }
                    copies.add(new RelocationPlan.CopyWrite(site, r.value(), size));
                    break;
                }
                case Elf.R_X86_64_DTPMOD64: {
                    LoadedObject definer = symIndex == 0 ? obj : tlsDefiner(obj, symIndex, type, site, cache);
                    writes.add(site, definer == null ? 0 : definer.tlsModuleId());
                    break;
                }
                case Elf.R_X86_64_DTPOFF64: {
                    long v = symIndex == 0 ? 0 : resolve(obj, symIndex, type, site, cache).value();
                    writes.add(site, v + addend);
                    break;
                }
                case Elf.R_X86_64_TPOFF64: {
                    writes.add(site, tpOffset(obj, symIndex, type, site, addend, cache));
                    break;
                }
                case Elf.R_X86_64_TLSDESC: {
                    // Static TLS: the descriptor's function returns its argument, the symbol's
                    // offset from the thread pointer (as glibc's _dl_tlsdesc_return). Dynamic TLS:
                    // the agent's function finds the thread's block from the module and offset.
                    long[] descriptor = tlsDescriptor(obj, symIndex, type, site, addend, cache);
                    writes.add(site, descriptor[0]);
                    writes.add(site + 8, descriptor[1]);
                    break;
                }
                default:
                    throw new LinkException(obj.name() + ": unsupported relocation type " + type + " ("
                            + Elf.relocationName(type) + ") at 0x" + Long.toHexString(site));
            }
        }
    }

    /** The bytes a relocation of {@code type} writes at its site (0: none, or handled by its case). */
    private static int siteWidth(int type) {
        switch (type) {
            case Elf.R_X86_64_NONE:
            case Elf.R_X86_64_COPY:
                return 0;
            case Elf.R_X86_64_PC32:
            case Elf.R_X86_64_32:
            case Elf.R_X86_64_32S:
                return 4;
            case Elf.R_X86_64_TLSDESC:
                return 16;
            case Elf.R_X86_64_RELATIVE:
            case Elf.R_X86_64_RELATIVE64:
            case Elf.R_X86_64_IRELATIVE:
            case Elf.R_X86_64_JUMP_SLOT:
            case Elf.R_X86_64_64:
            case Elf.R_X86_64_GLOB_DAT:
            case Elf.R_X86_64_PC64:
            case Elf.R_X86_64_SIZE64:
            case Elf.R_X86_64_DTPMOD64:
            case Elf.R_X86_64_DTPOFF64:
            case Elf.R_X86_64_TPOFF64:
                return 8;
            default:
                return 0; // unsupported: refused by its case
        }
    }

    /**
     * Refuses a write the agent would make outside the object's writable pages: it carries out
     * plain stores, so a hostile r_offset would otherwise write into other memory or fault.
     */
    private static void requireWritable(LoadedObject obj, long site, long length, String what) {
        if (!obj.pages().allows(site, length, TargetMemory.PROT_WRITE)) {
            throw new LinkException(String.format("%s: %s at 0x%x (%d bytes) lies outside the object's writable segments",
                    obj.name(), what, site - obj.base(), length));
        }
    }

    /** An IFUNC resolver of a jdryad object is called in the target: it must be in its executable pages. */
    private static void requireResolver(LoadedObject definer, long resolver, String what) {
        if (!definer.isHost() && !definer.pages().allows(resolver, 1, TargetMemory.PROT_EXEC)) {
            throw new LinkException(String.format("%s: IFUNC resolver of %s at 0x%x is not in the object's executable segments",
                    definer.name(), what, resolver - definer.base()));
        }
    }

    private static boolean within(LoadedObject o, long address, long length) {
        return o.contains(address) && Long.compareUnsigned(length, o.mapStart() + o.mapLength() - address) <= 0;
    }

    private long tpOffset(LoadedObject obj, int symIndex, int type, long site, long addend, Resolutions cache) {
        LoadedObject definer;
        long value;
        if (symIndex == 0) {
            definer = obj;
            value = 0;
        } else {
            Resolved r = resolve(obj, symIndex, type, site, cache);
            if (r.definition() == null) {
                return 0;
            }
            definer = r.definition().object();
            value = r.value();
        }
        if (!definer.hasStaticTls()) {
            throw new LinkException(obj.name() + ": cannot allocate memory in static TLS block");
        }
        return value + addend - definer.tlsOffset();
    }

    /** A TLSDESC's two words: the agent's function for the definer's static or dynamic TLS, and its argument. */
    private long[] tlsDescriptor(LoadedObject obj, int symIndex, int type, long site, long addend,
                                 Resolutions cache) {
        LoadedObject definer = obj;
        long value = 0;
        if (symIndex != 0) {
            Resolved r = resolve(obj, symIndex, type, site, cache);
            if (r.definition() == null) {
                return new long[] {ctx.tlsDescReturn(), 0};
            }
            definer = r.definition().object();
            value = r.value();
        }
        if (!definer.isHost() && !definer.hasStaticTls() && definer.tlsModuleId() != 0 && ctx.tlsDescDynamic() != 0) {
            return new long[] {ctx.tlsDescDynamic(),
                    TlsModules.descriptorArgument(definer.tlsModuleId() - ctx.tlsModuleIdBase(), value + addend)};
        }
        if (!definer.hasStaticTls()) {
            throw new LinkException(obj.name() + ": cannot allocate memory in static TLS block");
        }
        return new long[] {ctx.tlsDescReturn(), value + addend - definer.tlsOffset()};
    }

    private LoadedObject tlsDefiner(LoadedObject obj, int symIndex, int type, long site, Resolutions cache) {
        Resolved r = resolve(obj, symIndex, type, site, cache);
        return r.definition() == null ? null : r.definition().object();
    }

    private Resolved resolve(LoadedObject obj, int symIndex, int type, long site, Resolutions cache) {
        TypeClass tc = type == Elf.R_X86_64_JUMP_SLOT ? TypeClass.PLT : TypeClass.NORMAL;
        long key = symIndex * 2L + (tc == TypeClass.PLT ? 1 : 0);
        Resolved r = cache.get(key);
        if (r != null) {
            ctx.stats().countLookup(true);
        } else {
            r = resolveWith(obj, symIndex, tc, Elf.relocationName(type), site, isTls(type)
                    ? Origin.of(Binding.Kind.TLS) : Origin.LOAD);
            cache.put(key, r);
        }
        return r;
    }

    /**
     * What one object's relocations resolved, by symbol index and type class (PLT or not), so a
     * symbol that many relocations name is looked up once. An array, not a map: llvm-as-14's
     * 393,735 relocations went through a HashMap of boxed keys. An index the symbol table does
     * not have is not kept (its lookup says what is wrong with it).
     */
    private static final class Resolutions {
        private final Resolved[] slots;

        Resolutions(int symbols) {
            slots = new Resolved[symbols > 0 && symbols < Integer.MAX_VALUE / 2 ? 2 * symbols : 0];
        }

        Resolved get(long key) {
            return key >= 0 && key < slots.length ? slots[(int) key] : null;
        }

        void put(long key, Resolved r) {
            if (key >= 0 && key < slots.length) {
                slots[(int) key] = r;
            }
        }
    }

    private static boolean isTls(int type) {
        return type == Elf.R_X86_64_DTPMOD64 || type == Elf.R_X86_64_DTPOFF64 || type == Elf.R_X86_64_TPOFF64
                || type == Elf.R_X86_64_TLSDESC;
    }

    /** Resolves symbol {@code symIndex} of {@code obj} for a relocation, recording the binding. */
    private Resolved resolveWith(LoadedObject obj, int symIndex, TypeClass tc, String relocation, long site,
                                 Origin origin) {
        if (symIndex == 0) {
            return new Resolved(null, 0);
        }
        DynamicSection d = obj.elf().requireDynamic();
        Symbol ref = d.symbols().get(symIndex);
        if (ref.bind() == Elf.STB_LOCAL) {
            Definition self = new Definition(obj, ref, null);
            return new Resolved(self, self.address());
        }
        VersionRequirement version = versionRequirement(d.versions(), symIndex);
        Request req = Request.of(ref.name(), version, obj, tc);
        ctx.stats().countLookup(false);
        Definition def = null;
        Result result = null;
        List<LoadedObject> scope = ctx.scopeFor(obj);
        if (d.symbolic() && !ref.isUndefined()) {
            def = ctx.lookup().lookupIn(obj, req, null);
            scope = List.of(obj);
        }
        if (def == null) {
            scope = ctx.scopeFor(obj);
            LookupMemo.Outcomes memo = tc == TypeClass.COPY ? null : remembered(obj, scope);
            result = memo == null ? ctx.lookup().lookup(req, scope)
                    : ctx.lookup().lookup(req, scope, memo, LookupMemo.keyOf(symIndex, tc == TypeClass.PLT));
            def = result.definition().orElse(null);
        }
        if (def != null && def.object() != obj && ref.visibility() == Elf.STV_PROTECTED && !ref.isUndefined()) {
            def = new Definition(obj, ref, version == null ? null : version.name());
        }
        if (def == null) {
            if (ref.isWeak()) {
                record(origin, obj, site, relocation, ref.name(), version, null, 0, scope, tc, result);
                return new Resolved(null, 0);
            }
            throw LinkException.undefinedSymbol(obj, ref.name(), version == null ? null : version.name());
        }
        if (sink == null) { // a preview binds nothing: its call will, if it comes
            LoadedObject definer = def.object();
            if (plan != null) {
                plan.note(() -> ctx.bound(obj, definer));
            } else {
                ctx.bound(obj, definer);
            }
        }
        long value = ctx.interposedAddress(def).orElse(def.address());
        if (def.symbol().isIfunc() && def.object().isHost() && !ctx.isInterposed(def) && origin.kind() != Binding.Kind.LAZY) {
            value = callIfunc(value);
        }
        Origin o = origin == Origin.LOAD && def.symbol().isIfunc() ? Origin.of(Binding.Kind.IFUNC) : origin;
        record(o, obj, site, relocation, ref.name(), version, def, value, scope, tc, result);
        return new Resolved(def, value);
    }

    /** The last object and scope {@link #remembered} was asked about, and its answer. */
    private LoadedObject memoObject;
    private List<LoadedObject> memoScope;
    private LookupMemo.Outcomes memoOutcomes;

    /**
     * The outcomes earlier runs' lookups left for {@code obj} in {@code scope} (the warm server's
     * kept files only: cold mode runs once), or null: none kept, or lookups traced (LD_DEBUG
     * tells each object a lookup probes, which a remembered outcome would skip).
     */
    private LookupMemo.Outcomes remembered(LoadedObject obj, List<LoadedObject> scope) {
        if (!org.jdryad.elf.ElfCache.enabled() || ctx.tracesLookups()) {
            return null;
        }
        if (obj != memoObject || scope != memoScope) {
            memoOutcomes = LookupMemo.outcomesFor(obj, scope);
            memoObject = obj;
            memoScope = scope;
        }
        return memoOutcomes;
    }

    private void record(Origin origin, LoadedObject obj, long site, String relocation, String name,
                        VersionRequirement version, Definition def, long value, List<LoadedObject> scope, TypeClass tc,
                        Result result) {
        BindingHistory h = ctx.history();
        if (h == null && sink == null) {
            return;
        }
        List<Binding.Candidate> passed = candidates(result == null ? List.of() : result.passedOver());
        if (result != null && def != null) {
            // What the winner interposes on is only worked out when the history is read.
            Request req = Request.of(name, version, obj, tc);
            LoadedObject winner = def.object();
            SymbolLookup lookup = ctx.lookup();
            passed = new DeferredCandidates(passed, () -> candidates(lookup.interposedAfter(req, scope, winner)));
        }
        BindingHistory.Draft d = new BindingHistory.Draft(origin.kind(), obj.name(), relocation, site, origin.callSite(),
                origin.tid(), origin.pid(), name, version == null ? null : version.name(),
                def == null ? null : def.object().name(), value, searched(scope, tc, obj, result), passed);
        if (sink != null) {
            sink.accept(d);
        } else if (plan != null) {
            plan.note(() -> h.add(d));
        } else {
            h.add(d);
        }
    }

    private static List<Binding.Candidate> candidates(List<SymbolLookup.PassedOver> passed) {
        List<Binding.Candidate> out = new ArrayList<>(passed.size());
        for (SymbolLookup.PassedOver p : passed) {
            out.add(new Binding.Candidate(p.object().name(), p.reason()));
        }
        return out;
    }

    /** The objects a lookup searched, in order: a prefix of its scope (a copy relocation skips the referrer). */
    private List<String> searched(List<LoadedObject> scope, TypeClass tc, LoadedObject referrer, Result result) {
        if (tc == TypeClass.COPY) {
            List<String> names = new ArrayList<>();
            for (LoadedObject o : scope) {
                if (o != referrer) {
                    names.add(o.name());
                }
            }
            return names.subList(0, searchedCount(result, names.size()));
        }
        List<List<String>> prefixes = scopePrefixes.computeIfAbsent(scope, sc -> {
            List<String> names = sc.stream().map(LoadedObject::name).toList();
            List<List<String>> all = new ArrayList<>(names.size() + 1);
            for (int k = 0; k <= names.size(); k++) {
                all.add(List.copyOf(names.subList(0, k))); // List.copyOf keeps such a list as it is
            }
            return all;
        });
        return prefixes.get(searchedCount(result, prefixes.size() - 1));
    }

    private static int searchedCount(Result result, int scopeSize) {
        return result == null ? Math.min(1, scopeSize) : Math.min(result.objectsSearched(), scopeSize);
    }

    /** The version a reference asks for: the DT_VERNEED (or DT_VERDEF) entry its versym names. */
    static VersionRequirement versionRequirement(SymbolVersions versions, int symIndex) {
        return versions.versionOf(symIndex)
                .map(v -> new VersionRequirement(v.name(), v.file(), false))
                .orElse(null);
    }
}
