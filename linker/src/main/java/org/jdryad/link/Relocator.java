package org.jdryad.link;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdryad.debug.BindingHistory;
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
 */
final class Relocator {
    /** A relocation whose value needs an IFUNC resolver called in the target. */
    private record IfuncWrite(LoadedObject object, long site, long resolver, long addend, String what) {
    }

    /** A copy relocation: {@code size} bytes from {@code source} to {@code site}. */
    private record CopyWrite(long site, long source, long size) {
    }

    private final LinkContext ctx;
    private final WordWrites writes = new WordWrites();
    private final List<IfuncWrite> ifuncs = new ArrayList<>();
    private final List<CopyWrite> copies = new ArrayList<>();
    private final Map<Long, Long> ifuncResults = new HashMap<>();

    Relocator(LinkContext ctx) {
        this.ctx = ctx;
    }

    /** A resolved reference: where it points and what defined it (null definition: weak and undefined). */
    private record Resolved(Definition definition, long value) {
    }

    /** Relocates every object given, then runs the deferred IFUNC and copy work. */
    void relocateAll(List<LoadedObject> objects) {
        for (LoadedObject obj : objects) {
            relocate(obj);
            if (writes.count() > 1 << 16) {
                writes.flushTo(ctx.memory());
            }
        }
        writes.flushTo(ctx.memory());
        ctx.stats().phase("relocate: write to target", writes.flushNanos());
        long t0 = System.nanoTime();
        for (IfuncWrite w : ifuncs) {
            long value = callIfunc(w.resolver()) + w.addend();
            writes.add(w.site(), value);
        }
        writes.flushTo(ctx.memory());
        ctx.stats().phase("ifunc resolvers", System.nanoTime() - t0);
        for (CopyWrite c : copies) {
            if (c.size() > Integer.MAX_VALUE) {
                throw new LinkException("copy relocation of " + c.size() + " bytes is too large");
            }
            ctx.memory().write(c.site(), ctx.memory().read(c.source(), (int) c.size()));
        }
    }

    long callIfunc(long resolver) {
        Long cached = ifuncResults.get(resolver);
        if (cached != null) {
            return cached;
        }
        long value = ctx.memory().call(resolver);
        ifuncResults.put(resolver, value);
        return value;
    }

    private void relocate(LoadedObject obj) {
        ctx.relocating(obj);
        Optional<DynamicSection> dyn = obj.dynamic();
        if (dyn.isEmpty()) {
            return;
        }
        DynamicSection d = dyn.get();
        long base = obj.base();
        for (long addr : d.relrAddresses()) {
            long implicit = obj.elf().u64At(addr, "DT_RELR target");
            writes.add(base + addr, base + implicit);
        }
        ctx.stats().countRelr(d.relrAddresses().length);
        Map<Integer, Resolved> cache = new HashMap<>();
        apply(obj, d.rela(), cache);
        apply(obj, d.pltRela(), cache);
    }

    private void apply(LoadedObject obj, RelocationTable table, Map<Integer, Resolved> cache) {
        long base = obj.base();
        java.nio.LongBuffer words = table.words();
        int n = words.capacity() / 3;
        for (int i = 0; i < n; i++) {
            long info = words.get(3 * i + 1);
            int type = (int) (info & 0xffffffffL);
            long site = base + words.get(3 * i);
            long addend = words.get(3 * i + 2);
            int symIndex = (int) (info >>> 32);
            ctx.stats().count(type);
            switch (type) {
                case Elf.R_X86_64_NONE:
                    break;
                case Elf.R_X86_64_RELATIVE:
                case Elf.R_X86_64_RELATIVE64:
                    writes.add(site, base + addend);
                    break;
                case Elf.R_X86_64_IRELATIVE:
                    ifuncs.add(new IfuncWrite(obj, site, base + addend, 0, "IRELATIVE"));
                    break;
                case Elf.R_X86_64_64:
                case Elf.R_X86_64_GLOB_DAT:
                case Elf.R_X86_64_JUMP_SLOT: {
                    Resolved r = resolve(obj, symIndex, type, site, cache);
                    if (r.definition() != null && r.definition().symbol().isIfunc() && !r.definition().object().isHost()
                            && !ctx.isInterposed(r.definition())) {
                        ifuncs.add(new IfuncWrite(obj, site, r.value(), type == Elf.R_X86_64_64 ? addend : 0, r.definition().toString()));
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
                    byte[] b = {(byte) v, (byte) (v >> 8), (byte) (v >> 16), (byte) (v >> 24)};
                    writes.flushTo(ctx.memory());
                    ctx.memory().write(site, b);
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
                    Resolved r = resolveWith(obj, symIndex, TypeClass.COPY, "R_X86_64_COPY", site, null);
                    if (r.definition() == null) {
                        throw LinkException.undefinedSymbol(obj, ref.name(), null);
                    }
                    long size = ref.size();
                    if (r.definition().symbol().size() != size) {
                        ctx.warn(obj.name() + ": Symbol `" + ref.name() + "' has different size in shared object, consider re-linking");
                        size = Math.min(size, r.definition().symbol().size());
                    }
                    // Both ends must lie in their objects' mappings: a malformed size is refused, not copied.
                    LoadedObject definer = r.definition().object();
                    if (size < 0 || !within(obj, site, size) || !within(definer, r.value(), size)) {
                        throw new LinkException(obj.name() + ": copy relocation for `" + ref.name() + "' of " + size
                                + " bytes lies outside the objects' mappings");
                    }
                    copies.add(new CopyWrite(site, r.value(), size));
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
                    // Static TLS only: the descriptor's function returns its argument, the
                    // symbol's offset from the thread pointer (as glibc's _dl_tlsdesc_return).
                    writes.add(site, ctx.tlsDescReturn());
                    writes.add(site + 8, tpOffset(obj, symIndex, type, site, addend, cache));
                    break;
                }
                default:
                    throw new LinkException(obj.name() + ": unsupported relocation type " + type + " ("
                            + Elf.relocationName(type) + ") at 0x" + Long.toHexString(site));
            }
        }
    }

    private static boolean within(LoadedObject o, long address, long length) {
        return o.contains(address) && Long.compareUnsigned(length, o.mapStart() + o.mapLength() - address) <= 0;
    }

    private long tpOffset(LoadedObject obj, int symIndex, int type, long site, long addend, Map<Integer, Resolved> cache) {
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

    private LoadedObject tlsDefiner(LoadedObject obj, int symIndex, int type, long site, Map<Integer, Resolved> cache) {
        Resolved r = resolve(obj, symIndex, type, site, cache);
        return r.definition() == null ? null : r.definition().object();
    }

    private Resolved resolve(LoadedObject obj, int symIndex, int type, long site, Map<Integer, Resolved> cache) {
        TypeClass tc = type == Elf.R_X86_64_JUMP_SLOT ? TypeClass.PLT : TypeClass.NORMAL;
        int key = symIndex * 2 + (tc == TypeClass.PLT ? 1 : 0);
        Resolved r = cache.get(key);
        if (r != null) {
            ctx.stats().countLookup(true);
        } else {
            r = resolveWith(obj, symIndex, tc, Elf.relocationName(type), site, cache);
            cache.put(key, r);
        }
        return r;
    }

    /** Resolves symbol {@code symIndex} of {@code obj} for a relocation, recording the binding. */
    private Resolved resolveWith(LoadedObject obj, int symIndex, TypeClass tc, String relocation, long site,
                                 Map<Integer, Resolved> cache) {
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
        if (d.symbolic() && !ref.isUndefined()) {
            def = ctx.lookup().lookupIn(obj, req, null);
        }
        if (def == null) {
            result = ctx.lookup().lookup(req, ctx.scopeFor(obj));
            def = result.definition().orElse(null);
        }
        if (def != null && def.object() != obj && ref.visibility() == Elf.STV_PROTECTED && !ref.isUndefined()) {
            def = new Definition(obj, ref, version == null ? null : version.name());
        }
        if (def == null) {
            if (ref.isWeak()) {
                record("eager", obj, site, relocation, ref.name(), version, null, 0, result);
                return new Resolved(null, 0);
            }
            throw LinkException.undefinedSymbol(obj, ref.name(), version == null ? null : version.name());
        }
        long value = ctx.interposedAddress(def).orElse(def.address());
        if (def.symbol().isIfunc() && def.object().isHost() && !ctx.isInterposed(def)) {
            value = callIfunc(value);
        }
        record("eager", obj, site, relocation, ref.name(), version, def, value, result);
        return new Resolved(def, value);
    }

    private void record(String kind, LoadedObject obj, long site, String relocation, String name, VersionRequirement version,
                        Definition def, long value, Result result) {
        BindingHistory h = ctx.history();
        if (h == null) {
            return;
        }
        String passed = "";
        if (result != null && !result.passedOver().isEmpty()) {
            StringBuilder sb = new StringBuilder();
            for (SymbolLookup.PassedOver p : result.passedOver()) {
                if (sb.length() > 0) {
                    sb.append("; ");
                }
                sb.append(p.object().name()).append(": ").append(p.reason());
            }
            passed = sb.toString();
        }
        h.add(kind, obj.name(), site, relocation, name, version == null ? null : version.name(),
                def == null ? null : def.object().name(), value, result == null ? 1 : result.objectsSearched(), passed);
    }

    /** The version a reference asks for: the DT_VERNEED (or DT_VERDEF) entry its versym names. */
    static VersionRequirement versionRequirement(SymbolVersions versions, int symIndex) {
        return versions.versionOf(symIndex)
                .map(v -> new VersionRequirement(v.name(), v.file(), false))
                .orElse(null);
    }
}
