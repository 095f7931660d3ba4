package org.jdryad.search;

import java.util.Optional;

/**
 * One place a search looked in: a directory (as glibc spells it, ending with '/', "" for the
 * current directory) with the source that supplied it, or the ld.so.cache lookup itself
 * ({@code source == LD_SO_CACHE}, {@code location} = the cache file).
 *
 * @param owner for RPATH and RUNPATH directories, the path of the object whose entry it is
 */
public record SearchDirectory(String location, FoundBy source, Optional<String> owner) {
    @Override
    public String toString() {
        return location + " (" + source.label() + owner.map(o -> " of " + o).orElse("") + ")";
    }
}
