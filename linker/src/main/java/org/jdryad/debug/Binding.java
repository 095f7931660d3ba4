package org.jdryad.debug;

import java.util.List;

/**
 * One binding decision, with everything needed to answer "what bound where, when, from which
 * call, and why": a reference from {@code referrer} (through {@code relocation} at {@code slot},
 * a run-time address such as a GOT slot) to {@code symbol} with {@code version} (or null), bound
 * to {@code address} in {@code definer} (null: an undefined weak reference left at 0).
 *
 * @param seq the binding's number in the history, from 1
 * @param timeNanos nanoseconds since the history began
 * @param pid the process the binding was made for
 * @param tid the thread that made it (the first caller of a lazy slot; 0 when jdryad bound it
 *     while loading)
 * @param kind how the binding was made (see {@link Kind})
 * @param callSite the return address of the call that made it (lazy first call, dlsym), or 0
 * @param searched the objects the lookup searched, in order, up to and including the definer
 * @param passedOver the candidates that had the name but were passed over, and why
 * @param audit the audit module whose la_symbind64 redirected the binding to {@code address}, and
 *     where the lookup had bound it; null when no module changed it
 */
public record Binding(long seq, long timeNanos, long pid, long tid, Kind kind, String referrer, String relocation,
                      long slot, long callSite, String symbol, String version, String definer, long address,
                      List<String> searched, List<Candidate> passedOver, Redirect audit) {

    /** A binding no audit module changed. */
    public Binding(long seq, long timeNanos, long pid, long tid, Kind kind, String referrer, String relocation,
                   long slot, long callSite, String symbol, String version, String definer, long address,
                   List<String> searched, List<Candidate> passedOver) {
        this(seq, timeNanos, pid, tid, kind, referrer, relocation, slot, callSite, symbol, version, definer, address,
                searched, passedOver, null);
    }

    /** la_symbind64 of {@code module} (its path) returned another address than the lookup's {@code original}. */
    public record Redirect(String module, long original) {
    }

    /** This binding, sent to {@code to} by {@code module}'s la_symbind64. */
    public Binding redirectedTo(long to, String module) {
        return new Binding(seq, timeNanos, pid, tid, kind, referrer, relocation, slot, callSite, symbol, version, definer,
                to, searched, passedOver, new Redirect(module, audit != null ? audit.original() : address));
    }

    /** How a binding came about. */
    public enum Kind {
        /** A relocation applied at load time (GLOB_DAT, 64, jump slots bound now). */
        EAGER,
        /** A jump slot bound at its first call. */
        LAZY,
        /** An IFUNC whose resolver chose the address. */
        IFUNC,
        /** A copy relocation: the data was copied into the referrer. */
        COPY,
        /** A TLS relocation (module, offset). */
        TLS,
        /** dlsym or dlvsym. */
        DLSYM,
        /** A host object's GOT slot re-bound to a jdryad object's definition. */
        HOST_REBIND;

        /** The word used in JSON and in the gdb commands. */
        public String word() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }
    }

    /** An object that had a symbol of the name but was passed over, and why. */
    public record Candidate(String object, String reason) {
    }

    public Binding {
        searched = List.copyOf(searched);
        passedOver = passedOver instanceof DeferredCandidates ? passedOver : List.copyOf(passedOver);
    }
}
