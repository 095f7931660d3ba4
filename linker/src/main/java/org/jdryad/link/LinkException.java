package org.jdryad.link;

/**
 * A load or link failure, worded as glibc words it (without the leading program name, which the
 * CLI adds): {@code error while loading shared libraries: libx.so: cannot open shared object file:
 * No such file or directory}, {@code symbol lookup error: ./prog: undefined symbol: foo}.
 */
public final class LinkException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public LinkException(String message) {
        super(message);
    }

    public LinkException(String message, Throwable cause) {
        super(message, cause);
    }

    public static LinkException undefinedSymbol(LoadedObject requester, String name, String version) {
        return new LinkException("symbol lookup error: " + requester.name() + ": undefined symbol: " + name
                + (version == null ? "" : ", version " + version));
    }
}
