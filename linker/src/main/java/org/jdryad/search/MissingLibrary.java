package org.jdryad.search;

import java.util.List;

/**
 * A DT_NEEDED entry that no search step could satisfy. As in glibc's trace mode, every request
 * for a missing library is its own entry (a missing library needed by two objects appears twice).
 *
 * @param name the requested name
 * @param neededBy the object whose DT_NEEDED asked for it
 * @param searched every place tried, in order
 * @param rejected candidate files that exist but were passed over (wrong ELF class or machine),
 *     with the reason, e.g. {@code "/usr/lib/libz.so.1: wrong ELF class: ELFCLASS32"}
 * @param auxiliary a DT_AUXILIARY filtee (listed by ldd, ignored when loading)
 */
public record MissingLibrary(String name, LoadedLibrary neededBy, List<SearchDirectory> searched, List<String> rejected,
                             boolean auxiliary) implements GraphEntry {
    public MissingLibrary {
        searched = List.copyOf(searched);
        rejected = List.copyOf(rejected);
    }

    public MissingLibrary(String name, LoadedLibrary neededBy, List<SearchDirectory> searched, List<String> rejected) {
        this(name, neededBy, searched, rejected, false);
    }

    /** The same, for a DT_AUXILIARY filtee: ldd lists it, loading ignores it. */
    MissingLibrary asAuxiliary() {
        return new MissingLibrary(name, neededBy, searched, rejected, true);
    }

    @Override
    public String toString() {
        return name + " => not found";
    }
}
