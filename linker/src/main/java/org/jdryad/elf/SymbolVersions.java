package org.jdryad.elf;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Symbol versioning: DT_VERSYM (one 16-bit index per dynamic symbol), the versions this object
 * defines (DT_VERDEF) and the versions it needs from others (DT_VERNEED). Every walk is bounded
 * by the declared counts and the file's bytes.
 */
public final class SymbolVersions {
    /** A version this object defines. */
    public record Definition(int index, int flags, String name, long hash) {
        public boolean isBase() {
            return (flags & Elf.VER_FLG_BASE) != 0;
        }
    }

    /** A version this object needs from {@code file}. */
    public record Need(int index, String file, String name, long hash, int flags) {
        public boolean isWeak() {
            return (flags & Elf.VER_FLG_WEAK) != 0;
        }
    }

    /** What a symbol's version index means: a name, the file it is needed from (null if defined here), hidden or not. */
    public record Version(int index, String name, String file, boolean hidden) {
    }

    private static final int MAX_RECORDS = 1 << 16;

    private final ByteView view;
    private final long versymOffset;
    private final int versymCount;
    private final List<Definition> definitions;
    private final List<Need> needs;
    private final Map<Integer, Definition> definitionByIndex = new HashMap<>();
    private final Map<Integer, Need> needByIndex = new HashMap<>();

    SymbolVersions(DynamicSection dyn, ByteView view) {
        this.view = view;
        if (dyn.has(Elf.DT_VERSYM)) {
            int count = dyn.symbols().count();
            this.versymOffset = dyn.file().fileOffset(dyn.value(Elf.DT_VERSYM).getAsLong(), 2L * count, "DT_VERSYM table");
            this.versymCount = count;
        } else {
            this.versymOffset = -1;
            this.versymCount = 0;
        }
        this.definitions = readDefinitions(dyn);
        this.needs = readNeeds(dyn);
        for (Definition d : definitions) {
            definitionByIndex.putIfAbsent(d.index(), d);
        }
        for (Need n : needs) {
            needByIndex.putIfAbsent(n.index(), n);
        }
    }

    private List<Definition> readDefinitions(DynamicSection dyn) {
        if (!dyn.has(Elf.DT_VERDEF)) {
            return List.of();
        }
        long num = dyn.value(Elf.DT_VERDEFNUM).orElse(0);
        if (num < 0 || num > MAX_RECORDS || num * 20 > view.size()) {
            throw view.malformed(dyn.offset(), "DT_VERDEFNUM " + num + " is larger than the file can hold");
        }
        long o = dyn.file().fileOffset(dyn.value(Elf.DT_VERDEF).getAsLong(), 20 * Math.min(num, 1), "DT_VERDEF table");
        List<Definition> out = new ArrayList<>();
        for (long i = 0; i < num; i++) {
            view.require(o, 20, "version definition");
            int version = view.u16(o);
            if (version != 1) {
                throw view.malformed(o, "version definition has unknown vd_version " + version);
            }
            int flags = view.u16(o + 2);
            int ndx = view.u16(o + 4);
            int cnt = view.u16(o + 6);
            long hash = view.u32(o + 8);
            long aux = view.u32(o + 12);
            long next = view.u32(o + 16);
            String name = "";
            if (cnt > 0) {
                view.require(o + aux, 8, "version definition name");
                name = dyn.string(view.u32(o + aux));
            }
            out.add(new Definition(ndx & Elf.VERSYM_VERSION, flags, name, hash));
            if (next == 0) {
                break;
            }
            o += next;
        }
        return Collections.unmodifiableList(out);
    }

    private List<Need> readNeeds(DynamicSection dyn) {
        if (!dyn.has(Elf.DT_VERNEED)) {
            return List.of();
        }
        long num = dyn.value(Elf.DT_VERNEEDNUM).orElse(0);
        if (num < 0 || num > MAX_RECORDS || num * 16 > view.size()) {
            throw view.malformed(dyn.offset(), "DT_VERNEEDNUM " + num + " is larger than the file can hold");
        }
        long o = dyn.file().fileOffset(dyn.value(Elf.DT_VERNEED).getAsLong(), 16 * Math.min(num, 1), "DT_VERNEED table");
        List<Need> out = new ArrayList<>();
        for (long i = 0; i < num; i++) {
            view.require(o, 16, "version need");
            int version = view.u16(o);
            if (version != 1) {
                throw view.malformed(o, "version need has unknown vn_version " + version);
            }
            int cnt = view.u16(o + 2);
            String file = dyn.string(view.u32(o + 4));
            long aux = view.u32(o + 8);
            long next = view.u32(o + 12);
            long a = o + aux;
            for (int j = 0; j < cnt; j++) {
                view.require(a, 16, "version need entry");
                long hash = view.u32(a);
                int flags = view.u16(a + 4);
                int other = view.u16(a + 6);
                String name = dyn.string(view.u32(a + 8));
                out.add(new Need(other & Elf.VERSYM_VERSION, file, name, hash, flags));
                long an = view.u32(a + 12);
                if (an == 0) {
                    break;
                }
                a += an;
            }
            if (next == 0) {
                break;
            }
            o += next;
        }
        return Collections.unmodifiableList(out);
    }

    public boolean hasVersymTable() {
        return versymOffset >= 0;
    }

    /** The raw DT_VERSYM entry for a symbol (1 = global when there is no table). */
    public int versym(int symbolIndex) {
        if (versymOffset < 0) {
            return Elf.VER_NDX_GLOBAL;
        }
        if (symbolIndex < 0 || symbolIndex >= versymCount) {
            throw view.malformed(versymOffset, "symbol index " + symbolIndex + " is outside DT_VERSYM");
        }
        return view.u16(versymOffset + 2L * symbolIndex);
    }

    /** What the symbol's version index names, or empty for local/global (unversioned) symbols. */
    public Optional<Version> versionOf(int symbolIndex) {
        int raw = versym(symbolIndex);
        int ndx = raw & Elf.VERSYM_VERSION;
        boolean hidden = (raw & Elf.VERSYM_HIDDEN) != 0;
        if (ndx <= Elf.VER_NDX_GLOBAL) {
            return Optional.empty();
        }
        Definition d = definitionByIndex.get(ndx);
        if (d != null) {
            return Optional.of(new Version(ndx, d.name(), null, hidden));
        }
        Need n = needByIndex.get(ndx);
        if (n != null) {
            return Optional.of(new Version(ndx, n.name(), n.file(), hidden));
        }
        throw view.malformed(versymOffset, "symbol " + symbolIndex + " has version index " + ndx + ", which no DT_VERDEF or DT_VERNEED entry defines");
    }

    public List<Definition> definitions() {
        return definitions;
    }

    public List<Need> needs() {
        return needs;
    }

    /** Whether this object defines a version of that name (not counting the base definition). */
    public boolean definesVersion(String name) {
        for (Definition d : definitions) {
            if (!d.isBase() && d.name().equals(name)) {
                return true;
            }
        }
        return false;
    }
}
