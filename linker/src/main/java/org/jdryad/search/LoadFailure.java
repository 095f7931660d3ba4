package org.jdryad.search;

import java.util.List;
import org.jdryad.elf.ElfFormatException;

/**
 * A load the search cannot go on with, in glibc's words: the checked exception that carries a
 * {@link LoadError} (and the errno text dlerror() appends) from wherever the search fails up to
 * the step that reports it (a trace-mode entry, a preload warning, a dlopen failure). Separate so
 * that the session, the path search and the file checks can all raise it.
 */
final class LoadFailure extends Exception {
    private static final long serialVersionUID = 1L;
    final transient LoadError error;
    /** strerror(errno) that dlerror() appends, or null when glibc reports no errno. */
    final String errno;

    LoadFailure(String object, String message) {
        this(object, message, null);
    }

    LoadFailure(String object, String message, String errno) {
        super(object + ": " + message, null, false, false);
        this.error = new LoadError(object, message);
        this.errno = errno;
    }

    /** glibc's dlerror() text: "object: message[: strerror]". */
    String dlerror() {
        return error.describe() + (errno == null ? "" : ": " + errno);
    }

    /** The error glibc signals when no search step found a usable file (not in trace mode). */
    static LoadFailure notFound(String name, List<String> rejected) {
        for (String r : rejected) {
            if (r.contains(": wrong ELF class: ")) {
                return new LoadFailure(name, "wrong ELF class: ELFCLASS32");
            }
        }
        return new LoadFailure(name, "cannot open shared object file", "No such file or directory");
    }

    /** {@code e}'s message without the file name it starts with: the error names the object itself. */
    static String stripFile(ElfFormatException e, String file) {
        String m = e.getMessage();
        String prefix = file + ": ";
        if (m != null && m.startsWith(prefix)) {
            return m.substring(prefix.length());
        }
        if (e.file() != null && m != null && m.startsWith(e.file() + ": ")) {
            return m.substring(e.file().toString().length() + 2);
        }
        return m;
    }
}
