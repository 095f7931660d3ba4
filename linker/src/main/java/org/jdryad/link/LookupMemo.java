package org.jdryad.link;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdryad.elf.Elf;
import org.jdryad.elf.ElfFile;
import org.jdryad.elf.Symbol;
import org.jdryad.link.SymbolLookup.Definition;
import org.jdryad.link.SymbolLookup.PassedOver;
import org.jdryad.link.SymbolLookup.Result;

/**
 * What the warm server's earlier runs found when they looked up an object's symbols, kept with
 * the object's parsed file. Why: a lookup's outcome depends only on what files say (the
 * requester's symbol and version need, the scope's tables, in the scope's order), and the warm
 * server runs the same programs again and again: llvm-as-14's 14,467 lookups, most of its Java
 * link time, found the same definitions at every run.
 *
 * <p>What makes a remembered outcome right for a later run: it is kept per requester file and
 * per scope, the scope named by its parsed files themselves, and {@code ElfCache} hands out the
 * same parsed file only while the file on disk is unchanged (a rebuilt library is another file,
 * so another key). It holds scope positions and symbols, never a run's objects or addresses.
 * Not kept: outcomes that chose an STB_GNU_UNIQUE definition (those depend on the namespace's
 * table of unique definitions, not on files alone), copy relocations' lookups, and nothing at
 * all in a run whose lookups are traced (LD_DEBUG tells every object probed). A remembered
 * outcome counts as a lookup with the objects it searched, as the lookup it stands for did.
 */
final class LookupMemo {
    /** Scopes kept per requester file: a program's objects each have one, a dlopened one a few. */
    private static final int SCOPES_PER_FILE = 4;

    private static final ElfFile.DerivedKey<LookupMemo> MEMO =
            new ElfFile.DerivedKey<>("lookups remembered", f -> new LookupMemo());

    private final Map<ScopeFiles, Outcomes> byScope = new LinkedHashMap<>(8, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<ScopeFiles, Outcomes> eldest) {
            return size() > SCOPES_PER_FILE;
        }
    };

    private LookupMemo() {
    }

    /** The outcomes remembered for {@code requester}'s lookups in {@code scope}, or null when it has no symbols. */
    static Outcomes outcomesFor(LoadedObject requester, List<LoadedObject> scope) {
        int symbols = requester.dynamic().map(d -> d.symbols().count()).orElse(0);
        if (symbols <= 0 || symbols >= Integer.MAX_VALUE / 2) {
            return null;
        }
        LookupMemo memo = requester.elf().derived(MEMO);
        ScopeFiles key = ScopeFiles.of(scope);
        synchronized (memo.byScope) {
            return memo.byScope.computeIfAbsent(key, k -> new Outcomes(2 * symbols));
        }
    }

    /** The key of one lookup: the requester's symbol index and whether it is a jump slot's. */
    static int keyOf(int symIndex, boolean plt) {
        return 2 * symIndex + (plt ? 1 : 0);
    }

    /** A scope as its parsed files, in order, compared by identity (ElfFile has no equals of its own). */
    private record ScopeFiles(List<ElfFile> files) {
        static ScopeFiles of(List<LoadedObject> scope) {
            List<ElfFile> files = new ArrayList<>(scope.size());
            for (LoadedObject o : scope) {
                files.add(o.elf());
            }
            return new ScopeFiles(files);
        }
    }

    /**
     * One outcome in scope positions: the definer's position (-1: none), its symbol and version,
     * how many objects were searched, and the same-named symbols passed over (position, reason).
     * Immutable, so a slot stored by one thread is read whole by another.
     */
    private record Remembered(int definer, Symbol symbol, String version, int searched, int[] passedAt,
                              String[] reasons) {
    }

    /** One requester file's outcomes in one scope, by {@link #keyOf}. */
    static final class Outcomes {
        private final Remembered[] slots;

        private Outcomes(int size) {
            slots = new Remembered[size];
        }

        /** The lookup's outcome in {@code scope} (the scope this was made for), or null when none is remembered. */
        Result replay(int key, List<LoadedObject> scope) {
            Remembered r = key >= 0 && key < slots.length ? slots[key] : null;
            if (r == null) {
                return null;
            }
            List<PassedOver> passed = new ArrayList<>(r.passedAt.length);
            for (int i = 0; i < r.passedAt.length; i++) {
                passed.add(new PassedOver(scope.get(r.passedAt[i]), r.reasons[i]));
            }
            Optional<Definition> def = r.definer < 0 ? Optional.empty()
                    : Optional.of(new Definition(scope.get(r.definer), r.symbol, r.version));
            return new Result(def, r.searched, passed);
        }

        /** Keeps {@code result}, a lookup's in {@code scope}, unless it is one that must not be kept. */
        void remember(int key, Result result, List<LoadedObject> scope) {
            if (key < 0 || key >= slots.length) {
                return;
            }
            int definer = -1;
            Definition def = result.definition().orElse(null);
            if (def != null) {
                if (def.symbol().bind() == Elf.STB_GNU_UNIQUE) {
                    return;
                }
                definer = positionOf(def.object(), scope);
                if (definer < 0) {
                    return;
                }
            }
            List<PassedOver> passed = result.passedOver();
            int[] at = new int[passed.size()];
            String[] reasons = new String[passed.size()];
            for (int i = 0; i < at.length; i++) {
                at[i] = positionOf(passed.get(i).object(), scope);
                reasons[i] = passed.get(i).reason();
                if (at[i] < 0) {
                    return;
                }
            }
            slots[key] = new Remembered(definer, def == null ? null : def.symbol(), def == null ? null : def.version(),
                    result.objectsSearched(), at, reasons);
        }

        private static int positionOf(LoadedObject o, List<LoadedObject> scope) {
            for (int i = 0; i < scope.size(); i++) {
                if (scope.get(i) == o) {
                    return i;
                }
            }
            return -1;
        }
    }
}
