package org.jdryad.link;

/**
 * A load or link failure, worded as glibc words it (without the leading program name, which the
 * CLI adds): {@code error while loading shared libraries: libx.so: cannot open shared object file:
 * No such file or directory}, {@code symbol lookup error: ./prog: undefined symbol: foo}.
 *
 * <p>glibc signals such an error as an object name, an occasion ({@code symbol lookup error}) and
 * a text. ld.so's fatal start-up message names all three; {@code dlerror()} after a failed
 * {@code dlopen} only the object and the text ({@code ./libx.so: undefined symbol: foo}):
 * {@link #dlerror()}.
 */
public final class LinkException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String dlerror;

    public LinkException(String message) {
        this(message, null, (Throwable) null);
    }

    public LinkException(String message, Throwable cause) {
        this(message, null, cause);
    }

    private LinkException(String message, String dlerror, Throwable cause) {
        super(message, cause);
        this.dlerror = dlerror;
    }

    public static LinkException undefinedSymbol(LoadedObject requester, String name, String version) {
        String text = requester.name() + ": undefined symbol: " + name + (version == null ? "" : ", version " + version);
        return new LinkException("symbol lookup error: " + text, text, null);
    }

    /** A failure to load OBJECT, in ld.so's start-up words: "error while loading shared libraries: OBJECT: TEXT". */
    public static LinkException loadError(LoadedObject obj, String text) {
        String dlerror = obj.name() + ": " + text;
        return new LinkException("error while loading shared libraries: " + dlerror, dlerror, null);
    }

    /** What {@code dlerror()} says after a dlopen failed with this error (glibc's "OBJECT: TEXT"). */
    public String dlerror() {
        return dlerror != null ? dlerror : getMessage();
    }
}
