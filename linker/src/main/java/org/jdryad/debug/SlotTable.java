package org.jdryad.debug;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jdryad.elf.DynamicSection;
import org.jdryad.elf.Elf;
import org.jdryad.elf.ElfFile;
import org.jdryad.elf.ElfFormatException;
import org.jdryad.elf.ProgramHeader;
import org.jdryad.elf.RelocationTable;
import org.jdryad.elf.SectionHeader;
import org.jdryad.elf.Symbol;
import org.jdryad.link.LinkSession;
import org.jdryad.link.LoadedObject;
import org.jdryad.link.TargetMemory;

/**
 * Every GOT or PLT slot of one object as it is now ({@code jdryad got OBJ}, {@code jdryad plt OBJ}):
 * its relocation and symbol, what jdryad decided for it (bound at load, bound lazily by a first
 * call from a call site at a time, not bound yet), what jdryad wrote there, what it holds now and
 * what that points at, whether its page is RELRO and read-only, and whether it was overwritten
 * behind the linker's back ("tampered").
 *
 * <p>Why it is worked out on demand and not recorded while relocating: relocation is the
 * benchmarked hot path, and everything needed is already kept elsewhere. The file's relocation
 * tables say which slots exist and what each refers to; the binding history says what jdryad
 * decided for each and when; the link session knows the load bias, the lazy objects, the IFUNC
 * results and the trampoline; the process's memory says what each slot holds now. What jdryad
 * wrote follows from those by the rules {@code link/Relocator} applies (kept in step with it).
 *
 * <p>Memory is read with process_vm_readv only ({@link TargetMemory#peek}), never through the
 * agent: the question is usually asked while gdb holds the program, agent included, stopped.
 * Host objects (relocated by glibc's loader in the agent) are shown with what can be known: the
 * slots, their current values and targets; only slots jdryad re-bound have an expected value.
 */
public final class SlotTable {
    /** Which slots: the GOT (DT_RELA's GLOB_DAT, TLS and .got entries) or the PLT's (DT_JMPREL). */
    public enum Kind {
        GOT, PLT;

        /** The kind named by a request's word, or null. */
        public static Kind of(String word) {
            return switch (word) {
                case "got" -> GOT;
                case "plt" -> PLT;
                default -> null;
            };
        }

        public String word() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** The object asked for is not loaded, or the name fits several. */
    public static final class NoSuchObject extends RuntimeException {
        private static final long serialVersionUID = 1L;

        NoSuchObject(String message) {
            super(message);
        }
    }

    /** At most this many slots in one answer (a reply line stays well below the client's limit). */
    static final int MAX_SLOTS = 200_000;
    /** Slots closer than this are read with one process_vm_readv. */
    private static final long RUN_GAP = 4096;
    private static final long MAX_RUN = 1 << 20;

    private final LinkSession session;
    private final long pid;
    private final boolean bindNot;

    /**
     * @param pid the program's process (its memory is read, its /proc/PID/maps consulted; its
     *     bindings count, a forked child's do not)
     * @param bindNot LD_BIND_NOT: first calls are resolved but their slots never patched
     */
    public SlotTable(LinkSession session, long pid, boolean bindNot) {
        this.session = session;
        this.pid = pid;
        this.bindNot = bindNot;
    }

    /** One slot: where, from which table and entry, and the relocation's words. */
    private record Slot(long address, String table, long index, int type, int symIndex, long addend) {
    }

    /** What jdryad wrote into a slot: a value or, when it cannot be known, why not; and the state word. */
    private record Expect(String state, Binding binding, Long value, String note, boolean isAddress) {
    }

    /** The object named {@code name} (path, file name or soname, as the --object filter matches). */
    LoadedObject find(String name) {
        List<LoadedObject> hits = new ArrayList<>();
        for (LoadedObject o : List.copyOf(session.objects())) {
            if (HistoryView.names(name, o.name()) || HistoryView.names(name, o.path().toString())
                    || name.equals(soname(o))) {
                hits.add(o);
            }
        }
        if (hits.isEmpty()) {
            throw new NoSuchObject("no loaded object is named " + name + " (jdryad linkmap lists them)");
        }
        for (LoadedObject o : hits) {
            if (o.name().equals(name) || o.path().toString().equals(name)) {
                return o; // an exact path wins over file names that merely end alike
            }
        }
        if (hits.size() > 1) {
            Set<String> names = new LinkedHashSet<>();
            hits.forEach(o -> names.add(o.name()));
            throw new NoSuchObject(name + " names " + hits.size() + " objects (" + String.join(", ", names)
                    + "): give its path");
        }
        return hits.get(0);
    }

    private static String soname(LoadedObject o) {
        try {
            return o.soname().orElse(null);
        } catch (ElfFormatException e) {
            return null;
        }
    }

    /**
     * The slots of kind {@code kind} of the object named {@code name}, as JSON (README, the query
     * protocol's {@code slots}); {@code bindings} is the history, {@code sites} names addresses.
     */
    public JsonObject describe(String name, Kind kind, List<Binding> bindings, CallSites sites) {
        LoadedObject obj = find(name);
        long base = obj.base();
        long page = session.memory().pageSize();
        boolean lazy = isLazy(obj); // set up for lazy binding: GOT[1] and GOT[2] written
        JsonObject out = new JsonObject();
        out.addProperty("object", obj.name());
        out.addProperty("path", obj.path().toString());
        out.add("soname", str(soname(obj)));
        out.addProperty("host", obj.isHost());
        out.addProperty("lazy", lazy || (!obj.isHost() && session.bindsLazily(obj)));
        out.addProperty("kind", kind.word());
        out.addProperty("base", hex(base));
        out.addProperty("pid", pid);

        List<Slot> slots = new ArrayList<>();
        boolean truncated = false;
        Optional<DynamicSection> dyn = obj.dynamic();
        if (dyn.isPresent()) {
            truncated = collect(obj, dyn.get(), kind, slots);
        }
        slots.sort((a, b) -> Long.compareUnsigned(a.address(), b.address()));
        Map<Long, Long> current = readWords(slots, lazy && kind == Kind.PLT ? reserved(obj) : new long[0]);
        Maps maps = Maps.of(pid);
        Relro relro = Relro.of(obj, page);
        out.add("relro", relro.json());
        out.addProperty("memory", current.isEmpty() && !slots.isEmpty() ? "unreadable" : "process_vm_readv");

        Index index = new Index(obj, bindings, pid);
        JsonArray rows = new JsonArray();
        if (lazy && kind == Kind.PLT) {
            long[] got = reserved(obj);
            if (got.length == 2) {
                Long id = lazyId(obj);
                rows.add(row(got[0], null, -1, "GOT[1]", null, 0,
                        new Expect("reserved", null, id, "the object's id for the trampoline", false),
                        current.get(got[0]), relro, maps, sites));
                rows.add(row(got[1], null, -1, "GOT[2]", null, 0,
                        new Expect("reserved", null, session.lazyResolver(), "the lazy-binding trampoline", true),
                        current.get(got[1]), relro, maps, sites));
            }
        }
        for (Slot s : slots) {
            String symbol = null;
            String version = null;
            Symbol ref = null;
            if (s.symIndex() != 0) {
                try {
                    DynamicSection d = dyn.get();
                    ref = d.symbols().get(s.symIndex());
                    symbol = ref.name();
                    version = d.versions().versionOf(s.symIndex()).map(v -> v.name()).orElse(null);
                } catch (ElfFormatException | IndexOutOfBoundsException e) {
                    symbol = "(symbol " + s.symIndex() + ": " + e.getMessage() + ")";
                }
            }
            Expect e = obj.isHost() ? expectHost(s, index) : expectJdryad(obj, s, ref, symbol, version, index, lazy);
            rows.add(row(s.address(), Elf.relocationName(s.type()), s.index(), symbol, version, s.addend(), e,
                    current.get(s.address()), relro, maps, sites));
        }
        out.add("slots", rows);
        out.addProperty("truncated", truncated);
        return out;
    }

    /** The slots of {@code kind} in {@code d}'s tables; true when there were more than {@link #MAX_SLOTS}. */
    private static boolean collect(LoadedObject obj, DynamicSection d, Kind kind, List<Slot> out) {
        long base = obj.base();
        RelocationTable table;
        try {
            table = kind == Kind.PLT ? d.pltRela() : d.rela();
        } catch (ElfFormatException e) {
            return false;
        }
        long[] got = gotSection(obj.elf());
        for (long i = 0; i < table.count(); i++) {
            int type = table.type(i);
            long offset = table.offset(i);
            boolean take = kind == Kind.PLT ? type != Elf.R_X86_64_NONE
                    : type == Elf.R_X86_64_GLOB_DAT || type == Elf.R_X86_64_DTPMOD64 || type == Elf.R_X86_64_DTPOFF64
                    || type == Elf.R_X86_64_TPOFF64 || type == Elf.R_X86_64_TLSDESC
                    || (got != null && Long.compareUnsigned(offset - got[0], got[1]) < 0 && type != Elf.R_X86_64_NONE);
            if (!take) {
                continue;
            }
            if (out.size() == MAX_SLOTS) {
                return true;
            }
            out.add(new Slot(base + offset, kind == Kind.PLT ? "DT_JMPREL" : "DT_RELA", i, type, table.symbolIndex(i),
                    table.addend(i)));
        }
        return false;
    }

    /** The link-time address and size of the .got section, or null (no section headers). */
    private static long[] gotSection(ElfFile elf) {
        try {
            for (SectionHeader s : elf.sectionHeaders()) {
                if (s.name().equals(".got") && s.type() != 0) {
                    return new long[] {s.addr(), s.size()};
                }
            }
        } catch (ElfFormatException e) {
            // broken section headers: only the relocation types tell
        }
        return null;
    }

    /** Whether jdryad set the object up for lazy binding (GOT[1], GOT[2] written). */
    private boolean isLazy(LoadedObject obj) {
        return lazyId(obj) != null;
    }

    private Long lazyId(LoadedObject obj) {
        for (Map.Entry<Long, LoadedObject> e : session.lazyObjects().entrySet()) {
            if (e.getValue() == obj) {
                return e.getKey();
            }
        }
        return null;
    }

    /** GOT[1] and GOT[2] of the object's DT_PLTGOT, or nothing when it has none in its mapping. */
    private static long[] reserved(LoadedObject obj) {
        try {
            var pltgot = obj.dynamic().flatMap(d -> {
                var v = d.value(Elf.DT_PLTGOT);
                return v.isPresent() ? Optional.of(v.getAsLong()) : Optional.empty();
            });
            if (pltgot.isEmpty()) {
                return new long[0];
            }
            long got = obj.base() + pltgot.get();
            if (!obj.contains(got) || !obj.contains(got + 23)) {
                return new long[0];
            }
            return new long[] {got + 8, got + 16};
        } catch (ElfFormatException e) {
            return new long[0];
        }
    }

    /** What jdryad wrote into a slot of one of its own objects (the rules of link/Relocator). */
    private Expect expectJdryad(LoadedObject obj, Slot s, Symbol ref, String symbol, String version, Index index,
                                boolean lazy) {
        long base = obj.base();
        switch (s.type()) {
            case Elf.R_X86_64_JUMP_SLOT: {
                Binding b = index.bySlot.get(s.address());
                Long unbound = lazy ? fileWord(obj, s.address() - base) : null;
                if (b != null && b.kind() == Binding.Kind.LAZY) {
                    if (bindNot) {
                        return new Expect("lazy-not-patched", b, unbound, "LD_BIND_NOT: resolved at every call, "
                                + "never patched", true);
                    }
                    return target(b, s, "lazy");
                }
                if (b != null) {
                    return target(b, s, b.kind().word());
                }
                if (lazy) {
                    return new Expect("unbound", null, unbound, unbound == null
                            ? "the file has no word at the slot" : "back into the PLT, for the trampoline", true);
                }
                return new Expect("unknown", null, null, "jdryad recorded no binding for the slot", true);
            }
            case Elf.R_X86_64_GLOB_DAT:
            case Elf.R_X86_64_64: {
                if (s.symIndex() == 0) {
                    return new Expect("absolute", null, s.addend(), null, true);
                }
                Binding b = index.find(s.address(), symbol, version);
                if (b != null) {
                    return target(b, s, b.kind().word());
                }
                if (ref != null && ref.bind() == Elf.STB_LOCAL) {
                    return new Expect("local", null, base + ref.value() + s.addend(), null, true);
                }
                return new Expect("unknown", null, null, "jdryad recorded no binding for the slot", true);
            }
            case Elf.R_X86_64_RELATIVE:
            case Elf.R_X86_64_RELATIVE64:
                return new Expect("relative", null, base + s.addend(), null, true);
            case Elf.R_X86_64_IRELATIVE: {
                Long v = session.ifuncResults().get(base + s.addend());
                return new Expect("irelative", null, v, v == null ? "its resolver's result is not known" : null, true);
            }
            case Elf.R_X86_64_DTPMOD64: {
                if (s.symIndex() == 0) {
                    return new Expect("tls", null, obj.tlsModuleId(), "TLS module id", false);
                }
                Binding b = index.find(s.address(), symbol, version);
                LoadedObject definer = b == null ? null : byName(b.definer());
                Long v = b == null ? null : b.definer() == null ? Long.valueOf(0) : definer == null ? null
                        : definer.tlsModuleId();
                return new Expect("tls", b, v, "TLS module id", false);
            }
            case Elf.R_X86_64_DTPOFF64: {
                Binding b = s.symIndex() == 0 ? null : index.find(s.address(), symbol, version);
                Long v = s.symIndex() == 0 ? Long.valueOf(s.addend()) : b == null ? null : Long.valueOf(b.address() + s.addend());
                return new Expect("tls", b, v, "offset in the TLS block", false);
            }
            case Elf.R_X86_64_TPOFF64: {
                Binding b = s.symIndex() == 0 ? null : index.find(s.address(), symbol, version);
                LoadedObject definer = s.symIndex() == 0 ? obj : b == null ? null : byName(b.definer());
                Long v;
                if (b != null && b.definer() == null) {
                    v = 0L;
                } else if (definer == null || !definer.hasStaticTls()) {
                    v = null;
                } else {
                    v = (s.symIndex() == 0 ? 0 : b.address()) + s.addend() - definer.tlsOffset();
                }
                return new Expect("tls", b, v, "offset from the thread pointer", false);
            }
            case Elf.R_X86_64_TLSDESC: {
                Binding b = s.symIndex() == 0 ? null : index.find(s.address(), symbol, version);
                return new Expect("tls", b, session.tlsDescReturn(), "TLS descriptor function (static TLS)", true);
            }
            default:
                return new Expect("unknown", null, null, "not a slot jdryad fills", true);
        }
    }

    /** A host object's slot: glibc's loader wrote it; jdryad only where it re-bound the slot. */
    private Expect expectHost(Slot s, Index index) {
        Binding b = index.bySlot.get(s.address());
        boolean number = s.type() == Elf.R_X86_64_DTPMOD64 || s.type() == Elf.R_X86_64_DTPOFF64
                || s.type() == Elf.R_X86_64_TPOFF64;
        if (b != null && b.kind() == Binding.Kind.HOST_REBIND) {
            return new Expect("host-rebind", b, b.address() + (s.type() == Elf.R_X86_64_64 ? s.addend() : 0), null, true);
        }
        return new Expect("host", null, null, "relocated by glibc's loader, not by jdryad", !number);
    }

    /** What a binding made jdryad write into the slot (IFUNCs: their resolvers' results). */
    private Expect target(Binding b, Slot s, String state) {
        long addend = s.type() == Elf.R_X86_64_JUMP_SLOT ? 0 : s.addend();
        if (b.definer() == null) {
            return new Expect(state, b, addend, "undefined weak: 0", true);
        }
        Long resolved = session.ifuncResults().get(b.address());
        if (resolved != null) {
            // a jdryad IFUNC run at load; its addend is added to R_X86_64_64 only (as Relocator does)
            return new Expect(state, b, resolved + (s.type() == Elf.R_X86_64_64 ? s.addend() : 0), null, true);
        }
        if (isIfunc(b)) {
            return new Expect(state, b, null, "chosen by the IFUNC resolver in the process", true);
        }
        return new Expect(state, b, b.address() + addend, null, true);
    }

    /** Whether the binding's address is an IFUNC resolver of its definer (its result lies elsewhere). */
    private boolean isIfunc(Binding b) {
        LoadedObject definer = byName(b.definer());
        if (definer == null || definer.dynamic().isEmpty()) {
            return false;
        }
        boolean[] found = {false};
        try {
            var syms = definer.dynamic().get().symbols();
            syms.forEachNamed(b.symbol(), i -> {
                Symbol sym = syms.get(i);
                if (sym.isIfunc() && definer.base() + sym.value() == b.address()) {
                    found[0] = true;
                    return false;
                }
                return true;
            });
        } catch (ElfFormatException | IndexOutOfBoundsException e) {
            return false;
        }
        return found[0];
    }

    private LoadedObject byName(String name) {
        if (name == null) {
            return null;
        }
        for (LoadedObject o : List.copyOf(session.objects())) {
            if (o.name().equals(name)) {
                return o;
            }
        }
        return null;
    }

    /** The word the file holds at a link-time address (an unbound jump slot's), moved by the load bias. */
    private static Long fileWord(LoadedObject obj, long vaddr) {
        try {
            return obj.base() + obj.elf().u64At(vaddr, "jump slot");
        } catch (ElfFormatException e) {
            return null;
        }
    }

    private JsonObject row(long address, String relocation, long index, String symbol, String version, long addend,
                           Expect e, Long current, Relro relro, Maps maps, CallSites sites) {
        JsonObject j = new JsonObject();
        j.addProperty("slot", hex(address));
        j.add("relocation", str(relocation));
        if (index >= 0) {
            j.addProperty("index", index);
        } else {
            j.add("index", JsonNull.INSTANCE);
        }
        j.add("symbol", str(symbol));
        j.add("version", str(version));
        j.addProperty("addend", addend);
        j.addProperty("state", e.state());
        j.add("binding", binding(e.binding(), sites));
        j.add("expected", e.value() == null ? JsonNull.INSTANCE : new JsonPrimitive(hex(e.value())));
        j.add("note", str(e.note()));
        j.addProperty("value", e.isAddress() ? "address" : "number");
        j.add("current", current == null ? JsonNull.INSTANCE : new JsonPrimitive(hex(current)));
        j.add("target", current == null || !e.isAddress() ? JsonNull.INSTANCE : place(current, sites));
        boolean tampered = current != null && e.value() != null && current.longValue() != e.value().longValue();
        if (current != null && e.value() == null && e.binding() != null && e.binding().definer() != null
                && "chosen by the IFUNC resolver in the process".equals(e.note())) {
            // the resolver's choice is not known, but it lies in the definer
            LoadedObject definer = byName(e.binding().definer());
            tampered = definer != null && !definer.contains(current);
        }
        j.addProperty("tampered", tampered);
        j.add("relro", relro.at(address, maps));
        return j;
    }

    /** A binding as a slot row needs it: who, when, from where, to what (the history's full record has the lookup). */
    private static JsonElement binding(Binding b, CallSites sites) {
        if (b == null) {
            return JsonNull.INSTANCE;
        }
        JsonObject full = HistoryFile.binding(b, sites);
        JsonObject j = new JsonObject();
        for (String k : List.of("seq", "time_ns", "pid", "tid", "kind", "relocation", "call_site", "symbol", "version",
                "definer", "address")) {
            j.add(k, full.get(k));
        }
        return j;
    }

    /** Where an address lies: object, symbol and offsets, or null outside every object jdryad knows. */
    private static JsonElement place(long address, CallSites sites) {
        var s = sites.locate(address);
        if (s.isEmpty()) {
            return JsonNull.INSTANCE;
        }
        JsonObject j = new JsonObject();
        j.addProperty("address", hex(address));
        j.add("object", str(s.get().object()));
        j.addProperty("object_offset", s.get().objectOffset());
        j.add("symbol", str(s.get().symbol()));
        j.addProperty("symbol_offset", s.get().symbolOffset());
        j.addProperty("text", s.get().toString());
        return j;
    }

    /**
     * The current words at the slots (and at {@code extra}), read in runs of nearby slots; a run
     * that cannot be read whole is read slot by slot, and an unreadable slot is left out.
     */
    private Map<Long, Long> readWords(List<Slot> slots, long[] extra) {
        List<Long> addrs = new ArrayList<>(slots.size() + extra.length);
        for (long a : extra) {
            addrs.add(a);
        }
        slots.forEach(s -> addrs.add(s.address()));
        addrs.sort(Long::compareUnsigned);
        Map<Long, Long> out = new HashMap<>();
        TargetMemory m = session.memory();
        int i = 0;
        while (i < addrs.size()) {
            long start = addrs.get(i);
            int j = i + 1;
            while (j < addrs.size() && Long.compareUnsigned(addrs.get(j) - addrs.get(j - 1), RUN_GAP) <= 0
                    && Long.compareUnsigned(addrs.get(j) + 8 - start, MAX_RUN) <= 0) {
                j++;
            }
            long length = addrs.get(j - 1) + 8 - start;
            byte[] run = length > 0 && length <= MAX_RUN ? m.peek(start, (int) length) : null;
            for (int k = i; k < j; k++) {
                long a = addrs.get(k);
                byte[] word = run != null ? null : m.peek(a, 8);
                if (run != null) {
                    out.put(a, ByteBuffer.wrap(run, (int) (a - start), 8).order(ByteOrder.LITTLE_ENDIAN).getLong());
                } else if (word != null && word.length == 8) {
                    out.put(a, ByteBuffer.wrap(word).order(ByteOrder.LITTLE_ENDIAN).getLong());
                }
            }
            i = j;
        }
        return out;
    }

    /** The history's bindings for one referrer in the program's process, by slot and by symbol. */
    private static final class Index {
        final Map<Long, Binding> bySlot = new HashMap<>();
        /** Load-time bindings by symbol@version: a relocation whose lookup was cached recorded none itself. */
        final Map<String, Binding> bySymbol = new HashMap<>();

        Index(LoadedObject obj, List<Binding> bindings, long pid) {
            for (Binding b : bindings) {
                if (!obj.name().equals(b.referrer()) || (pid != 0 && b.pid() != pid) || b.slot() == 0) {
                    continue;
                }
                bySlot.put(b.slot(), b); // the latest wins
                boolean load = b.kind() == Binding.Kind.EAGER || b.kind() == Binding.Kind.IFUNC
                        || b.kind() == Binding.Kind.TLS;
                if (load && !"R_X86_64_JUMP_SLOT".equals(b.relocation())) {
                    bySymbol.putIfAbsent(b.symbol() + "@" + b.version(), b);
                }
            }
        }

        Binding find(long slot, String symbol, String version) {
            Binding b = bySlot.get(slot);
            return b != null || symbol == null ? b : bySymbol.get(symbol + "@" + version);
        }
    }

    /** The object's PT_GNU_RELRO, and the page-aligned part of it that is made read-only after relocation. */
    private record Relro(long start, long end, long protectedStart, long protectedEnd) {
        static Relro of(LoadedObject obj, long page) {
            Optional<ProgramHeader> r;
            try {
                r = obj.elf().relro();
            } catch (ElfFormatException e) {
                r = Optional.empty();
            }
            if (r.isEmpty() || page <= 0 || Long.bitCount(page) != 1) {
                return new Relro(0, 0, 0, 0);
            }
            long base = obj.base();
            long s = base + r.get().vaddr();
            long e = s + r.get().memsz();
            return new Relro(s, e, s & -page, e & -page);
        }

        JsonElement json() {
            if (start == end) {
                return JsonNull.INSTANCE;
            }
            JsonObject j = new JsonObject();
            j.addProperty("start", hex(start));
            j.addProperty("end", hex(end));
            j.addProperty("protected_start", hex(protectedStart));
            j.addProperty("protected_end", hex(protectedEnd));
            return j;
        }

        JsonObject at(long address, Maps maps) {
            JsonObject j = new JsonObject();
            j.addProperty("in_relro", Long.compareUnsigned(address - start, end - start) < 0);
            j.addProperty("protected", Long.compareUnsigned(address - protectedStart, protectedEnd - protectedStart) < 0);
            j.add("perms", str(maps.perms(address)));
            return j;
        }
    }

    /** /proc/PID/maps: each mapping's range and permissions, as the kernel has them now. */
    private record Maps(long[] starts, long[] ends, String[] perms) {
        static Maps of(long pid) {
            List<String> lines;
            try {
                lines = pid > 0 ? Files.readAllLines(Path.of("/proc", Long.toString(pid), "maps")) : List.of();
            } catch (IOException | RuntimeException e) {
                lines = List.of();
            }
            List<long[]> ranges = new ArrayList<>();
            List<String> ps = new ArrayList<>();
            for (String l : lines) {
                String[] f = l.split(" +", 3);
                int dash = f[0].indexOf('-');
                if (f.length < 2 || dash < 0) {
                    continue;
                }
                try {
                    ranges.add(new long[] {Long.parseUnsignedLong(f[0].substring(0, dash), 16),
                        Long.parseUnsignedLong(f[0].substring(dash + 1), 16)});
                    ps.add(f[1]);
                } catch (NumberFormatException e) {
                    // not a mapping line
                }
            }
            long[] s = new long[ranges.size()];
            long[] e = new long[ranges.size()];
            for (int i = 0; i < s.length; i++) {
                s[i] = ranges.get(i)[0];
                e[i] = ranges.get(i)[1];
            }
            return new Maps(s, e, ps.toArray(new String[0]));
        }

        String perms(long address) {
            for (int i = 0; i < starts.length; i++) {
                if (Long.compareUnsigned(address, starts[i]) >= 0 && Long.compareUnsigned(address, ends[i]) < 0) {
                    return perms[i];
                }
            }
            return null;
        }
    }

    private static JsonElement str(String s) {
        return s == null ? JsonNull.INSTANCE : new JsonPrimitive(s);
    }

    private static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }
}
