package org.jdryad.search;

/** How an object of the dependency graph was located (glibc's search steps). */
public enum FoundBy {
    /** The program itself, named on the command line. */
    EXECUTABLE("executable"),
    /** The system loader: the program's PT_INTERP, already present when the search starts. */
    INTERPRETER("interpreter"),
    /** DT_RPATH of the loading object or of one of its loaders. */
    RPATH("rpath"),
    /** LD_LIBRARY_PATH, or --library-path. */
    LD_LIBRARY_PATH("LD_LIBRARY_PATH"),
    /** DT_RUNPATH of the loading object. */
    RUNPATH("runpath"),
    /** /etc/ld.so.cache. */
    LD_SO_CACHE("ld.so.cache"),
    /** The system directories. */
    DEFAULT_PATH("default path"),
    /** A name containing '/', opened as it is (after $ORIGIN etc. expansion). */
    DIRECT("direct path");

    private final String label;

    FoundBy(String label) {
        this.label = label;
    }

    /** Short human wording, as --tree prints it. */
    public String label() {
        return label;
    }
}
