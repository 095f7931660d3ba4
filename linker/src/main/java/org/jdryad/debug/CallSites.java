package org.jdryad.debug;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdryad.elf.ElfFile;
import org.jdryad.elf.ElfFormatException;

/**
 * Turns run-time addresses (a lazy first call's return address, a dlopen's caller) into what a
 * person reads: the object, the nearest preceding symbol and the offset from it, as gdb prints
 * {@code <main+26>}. Symbols come from the static table (.symtab) when the file has one, else
 * from the dynamic table, and are sorted once per object, on first use: only the history and
 * the gdb commands need them, never the link itself.
 */
public final class CallSites {
    /** An object as mapped: its name, the range it occupies, its load bias and its file. */
    public record Region(String name, long start, long end, long base, ElfFile elf) {
    }

    /** Where an address lies: object, offset in it, nearest symbol (null when none) and offset from it. */
    public record Site(long address, String object, long objectOffset, String symbol, long symbolOffset) {
        /** gdb's way: {@code main+26 in /path/prog}, or {@code /path/lib.so+0x1234} without a symbol. */
        @Override
        public String toString() {
            if (symbol != null) {
                return symbol + (symbolOffset == 0 ? "" : "+" + symbolOffset) + " in " + object;
            }
            return object + "+0x" + Long.toHexString(objectOffset);
        }
    }

    private final List<Region> regions;
    private final Map<Region, Sorted> symbols = new java.util.IdentityHashMap<>();

    public CallSites(List<Region> regions) {
        this.regions = List.copyOf(regions);
    }

    /** How many objects it knows. */
    public int size() {
        return regions.size();
    }

    /** Where {@code address} lies, if in one of the objects. */
    public synchronized Optional<Site> locate(long address) {
        if (address == 0) {
            return Optional.empty();
        }
        for (Region r : regions) {
            if (Long.compareUnsigned(address, r.start()) >= 0 && Long.compareUnsigned(address, r.end()) < 0) {
                long off = address - r.base();
                Sorted s = symbols.computeIfAbsent(r, CallSites::sortedSymbols);
                int i = s.floor(off);
                return Optional.of(i < 0 ? new Site(address, r.name(), off, null, 0)
                        : new Site(address, r.name(), off, s.names[i], off - s.values[i]));
            }
        }
        return Optional.empty();
    }

    /** Symbol values in ascending order, with their names. */
    private record Sorted(long[] values, String[] names) {
        int floor(long v) {
            int i = Arrays.binarySearch(values, v);
            return i >= 0 ? i : -i - 2;
        }
    }

    private static Sorted sortedSymbols(Region r) {
        List<Map.Entry<String, Long>> all = new ArrayList<>();
        try {
            all.addAll(r.elf().staticSymbols().entrySet());
            if (all.isEmpty() && r.elf().dynamic().isPresent()) {
                var syms = r.elf().dynamic().get().symbols();
                for (int i = 1; i < syms.count(); i++) {
                    var s = syms.get(i);
                    if (!s.isUndefined() && !s.isTls() && s.value() != 0) {
                        all.add(Map.entry(s.name(), s.value()));
                    }
                }
            }
        } catch (ElfFormatException e) {
            // a file whose symbol tables do not parse: addresses are shown as object+offset
        }
        all.removeIf(e -> e.getValue() == 0 || e.getKey().isEmpty() || e.getKey().startsWith("$"));
        all.sort(Map.Entry.comparingByValue(Long::compareUnsigned));
        long[] values = new long[all.size()];
        String[] names = new String[all.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = all.get(i).getValue();
            names[i] = all.get(i).getKey();
        }
        return new Sorted(values, names);
    }
}
