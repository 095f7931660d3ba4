package org.jdryad.search;

/**
 * A failure that stops loading, as glibc stops with "error while loading shared libraries":
 * {@code object} is what glibc names (the candidate file or the requested name), {@code message}
 * glibc's words (e.g. "invalid ELF header", "file too short").
 */
public record LoadError(String object, String message) {
    /** glibc's wording after "error while loading shared libraries: ". */
    public String describe() {
        return object.isEmpty() ? message : object + ": " + message; // glibc's _dl_signal_error, objname ""
    }
}
