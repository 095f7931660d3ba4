package org.jdryad.link;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdryad.elf.DynamicSection;
import org.jdryad.elf.Elf;
import org.jdryad.elf.Symbol;
import org.jdryad.elf.SymbolName;
import org.jdryad.elf.SymbolVersions;

/**
 * Symbol lookup with glibc's rules (elf/dl-lookup.c): objects are searched in scope order; in
 * each, candidates come from the GNU hash table (Bloom filter first) or the SysV hash table; a
 * candidate must have a value (or be TLS), an allowed type, global/weak/unique binding, and a
 * matching version. An unversioned reference accepts version indexes 0-2 and, failing those,
 * the one non-hidden versioned definition if there is exactly one. The first object that
 * defines the symbol wins (weak definitions are not second-class, as glibc without
 * LD_DYNAMIC_WEAK). STB_GNU_UNIQUE definitions are unique in their namespace.
 */
public final class SymbolLookup {

    /** The relocation class of a lookup, which changes which definitions qualify. */
    public enum TypeClass {
        /** Ordinary data or function reference. */
        NORMAL,
        /** A PLT (jump slot) reference: undefined symbols with a canonical PLT address do not qualify. */
        PLT,
        /** A copy relocation: the executable itself is skipped. */
        COPY
    }

    /** A version requirement: name, and the file it is required from (null for dlvsym-style requests). */
    public record VersionRequirement(String name, String file, boolean hidden) {
        @Override
        public String toString() {
            return name;
        }
    }

    /** What a lookup asks for. */
    public record Request(String name, VersionRequirement version, LoadedObject requester, TypeClass typeClass,
                          boolean returnNewest) {
        public static Request of(String name, VersionRequirement version, LoadedObject requester, TypeClass typeClass) {
            return new Request(name, version, requester, typeClass, false);
        }
    }

    /** A definition found by a lookup. */
    public record Definition(LoadedObject object, Symbol symbol, String version) {
        /** The run-time address (for TLS symbols: the offset within the module's block). */
        public long address() {
            if (symbol.isTls()) {
                return symbol.value();
            }
            return symbol.isAbsolute() ? symbol.value() : object.base() + symbol.value();
        }

        @Override
        public String toString() {
            return symbol.name() + (version == null ? "" : "@" + version) + " in " + object.name();
        }
    }

    /** An object that had a symbol of the name but was passed over, and why. */
    public record PassedOver(LoadedObject object, String reason) {
    }

    /** The outcome of a lookup: the definition (if any), the objects searched, the candidates passed over. */
    public record Result(Optional<Definition> definition, int objectsSearched, List<PassedOver> passedOver) {
    }

    /** A reference, not a definition: the object needs the symbol itself. */
    private static final String UNDEFINED = "undefined here (a reference, not a definition)";

    // Lookups run concurrently: lazy first calls from many program threads, and dlopens.
    private final Map<UniqueName, Definition> uniqueDefinitions = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * A key of the STB_GNU_UNIQUE table: glibc keeps one table per namespace
     * ({@code _ns_unique_sym_table} of the defining object's namespace), keyed by name alone.
     */
    private record UniqueName(long namespace, String name) {
    }
    private final java.util.concurrent.atomic.LongAdder lookups = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder objectsProbed = new java.util.concurrent.atomic.LongAdder();
    private volatile java.util.function.BiConsumer<String, LoadedObject> probeListener;

    /**
     * A lookup with this one's table of STB_GNU_UNIQUE definitions, for a forked child's own
     * session (its counters start at zero; nobody is told of its probes).
     */
    public SymbolLookup copy() {
        SymbolLookup c = new SymbolLookup();
        c.uniqueDefinitions.putAll(uniqueDefinitions);
        return c;
    }

    /**
     * Told of every object a lookup for a jdryad object probes, with the symbol's name
     * (LD_DEBUG=symbols); null, the default, tells nobody. Lookups for host objects (re-binding
     * their GOT) and jdryad's own (no requester) are not told.
     */
    public void setProbeListener(java.util.function.BiConsumer<String, LoadedObject> listener) {
        this.probeListener = listener;
    }

    /** Whether lookups are told to a probe listener (see {@link #setProbeListener}). */
    public boolean tellsProbes() {
        return probeListener != null;
    }

    /**
     * Whether a definition of {@code obj} is in the table of STB_GNU_UNIQUE symbols (a lookup
     * chose it as the process's one definition). glibc then never unloads the object.
     */
    public boolean definesUnique(LoadedObject obj) {
        for (Definition d : uniqueDefinitions.values()) {
            if (d.object() == obj) {
                return true;
            }
        }
        return false;
    }

    /** The objects {@link #definesUnique} is true of, at once. */
    public java.util.Set<LoadedObject> uniqueDefiners() {
        java.util.Set<LoadedObject> out = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (Definition d : uniqueDefinitions.values()) {
            out.add(d.object());
        }
        return out;
    }

    /** Objects that left the process: their unique definitions leave the table. */
    public void forget(java.util.Collection<LoadedObject> gone) {
        uniqueDefinitions.values().removeIf(d -> gone.contains(d.object()));
    }

    public long lookupCount() {
        return lookups.sum();
    }

    public long objectsProbed() {
        return objectsProbed.sum();
    }

    /** Looks the request up in {@code scope} (objects in search order). */
    public Result lookup(Request req, List<LoadedObject> scope) {
        lookups.increment();
        List<PassedOver> passed = new ArrayList<>(0);
        int searched = 0;
        SymbolName key = SymbolName.of(req.name());
        for (LoadedObject obj : scope) {
            if (req.typeClass() == TypeClass.COPY && obj == req.requester()) {
                continue; // a copy relocation copies from the definition *behind* the executable
            }
            searched++;
            objectsProbed.increment();
            Definition d = lookupIn(obj, req, key, passed);
            if (d != null) {
                if (d.symbol().bind() == Elf.STB_GNU_UNIQUE && req.typeClass() != TypeClass.COPY) {
                    // glibc's do_lookup_unique: the first definition of the name wins, whatever
                    // its version; a copy relocation copies from the definition it found.
                    Definition first = uniqueDefinitions.putIfAbsent(
                            new UniqueName(d.object().namespace(), d.symbol().name()), d);
                    if (first != null) {
                        d = first;
                    }
                }
                return new Result(Optional.of(d), searched, passed);
            }
        }
        return new Result(Optional.empty(), searched, passed);
    }

    /**
     * As {@link #lookup(Request, List)}, answered from {@code memo} (outcomes remembered for the
     * requester in this scope, {@link LookupMemo}) when it holds {@code key}'s, and remembered
     * there when it does not.
     */
    Result lookup(Request req, List<LoadedObject> scope, LookupMemo.Outcomes memo, int key) {
        Result remembered = memo.replay(key, scope);
        if (remembered != null) {
            lookups.increment();
            objectsProbed.add(remembered.objectsSearched());
            return remembered;
        }
        Result result = lookup(req, scope);
        memo.remember(key, result, scope);
        return result;
    }

    /**
     * The definitions that {@code winner} interposes on: same-named definitions that qualify for
     * {@code req} in the objects after it in {@code scope}. Not counted as lookups; for the
     * history's "why", which must say what a binding did not bind to as well as what it did.
     */
    public List<PassedOver> interposedAfter(Request req, List<LoadedObject> scope, LoadedObject winner) {
        List<PassedOver> out = new ArrayList<>(0);
        int i = scope.indexOf(winner);
        SymbolName key = SymbolName.of(req.name());
        for (int k = i + 1; i >= 0 && k < scope.size(); k++) {
            LoadedObject o = scope.get(k);
            if (find(o, req, key, null) != null) {
                out.add(new PassedOver(o, "interposed: " + winner.name() + " comes first in the scope"));
            }
        }
        return out;
    }

    /** Looks for the symbol in one object only. */
    public Definition lookupIn(LoadedObject obj, Request req, List<PassedOver> passed) {
        return lookupIn(obj, req, SymbolName.of(req.name()), passed);
    }

    private Definition lookupIn(LoadedObject obj, Request req, SymbolName key, List<PassedOver> passed) {
        java.util.function.BiConsumer<String, LoadedObject> probe = probeListener;
        if (probe != null && req.requester() != null && !req.requester().isHost()) {
            probe.accept(req.name(), obj);
        }
        return find(obj, req, key, passed);
    }

    /** {@link #lookupIn} without telling the probe listener: for explanations, not lookups glibc makes. */
    private Definition find(LoadedObject obj, Request req, SymbolName key, List<PassedOver> passed) {
        Optional<DynamicSection> dyn = obj.dynamic();
        if (dyn.isEmpty()) {
            return null;
        }
        DynamicSection d = dyn.get();
        SymbolVersions versions = d.versions();
        Candidate found = new Candidate();
        d.symbols().forEachNamed(key, idx -> {
            Symbol sym = d.symbols().get(idx, req.name()); // named so: forEachNamed compared the bytes
            String reject = rejectReason(sym, req);
            if (reject != null) {
                if (passed != null) {
                    passed.add(new PassedOver(obj, reject));
                }
                return true;
            }
            int raw = versions.versym(idx);
            int ndx = raw & Elf.VERSYM_VERSION;
            boolean hidden = (raw & Elf.VERSYM_HIDDEN) != 0;
            String symVersion = versions.versionOf(idx).map(SymbolVersions.Version::name).orElse(null);
            if (req.version() != null) {
                if (!versions.hasVersymTable()) {
                    found.exact = sym; // unversioned object: accepted
                    return false;
                }
                boolean sameVersion = req.version().name().equals(symVersion);
                if (!sameVersion && (req.version().hidden() || ndx > Elf.VER_NDX_GLOBAL || hidden)) {
                    if (passed != null) {
                        passed.add(new PassedOver(obj, "has " + req.name() + (symVersion == null ? "" : "@" + symVersion)
                                + ", not version " + req.version().name()));
                    }
                    return true;
                }
                found.exact = sym;
                found.exactVersion = symVersion;
                return false;
            }
            // Unversioned reference.
            if (versions.hasVersymTable() && ndx >= (req.returnNewest() ? 2 : 3)) {
                if (!hidden && found.versionedCount++ == 0) {
                    found.versioned = sym;
                    found.versionedVersion = symVersion;
                }
                return true;
            }
            found.exact = sym;
            found.exactVersion = symVersion;
            return false;
        });
        if (found.exact != null) {
            return new Definition(obj, found.exact, found.exactVersion);
        }
        if (found.versionedCount == 1) {
            return new Definition(obj, found.versioned, found.versionedVersion);
        }
        return null;
    }

    private static final class Candidate {
        Symbol exact;
        String exactVersion;
        Symbol versioned;
        String versionedVersion;
        int versionedCount;
    }

    /** Why a same-named symbol cannot be the definition, or null when it can. */
    private static String rejectReason(Symbol sym, Request req) {
        int type = sym.type();
        if (sym.value() == 0 && type != Elf.STT_TLS) {
            return UNDEFINED;
        }
        // An undefined symbol with a value is an executable's canonical PLT entry: it defines the
        // function's address for data references, but a jump slot must reach the function itself.
        if (sym.isUndefined() && req.typeClass() == TypeClass.PLT) {
            return "only a PLT entry (undefined)";
        }
        switch (type) {
            case Elf.STT_NOTYPE:
            case Elf.STT_OBJECT:
            case Elf.STT_FUNC:
            case Elf.STT_COMMON:
            case Elf.STT_TLS:
            case Elf.STT_GNU_IFUNC:
                break;
            default:
                return "symbol type " + type + " is not linkable";
        }
        switch (sym.bind()) {
            case Elf.STB_GLOBAL:
            case Elf.STB_WEAK:
            case Elf.STB_GNU_UNIQUE:
                return null;
            default:
                return "local binding";
        }
    }
}
