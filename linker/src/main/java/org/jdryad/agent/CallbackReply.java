package org.jdryad.agent;

/**
 * The answer to a callback from the program (dlopen, dlsym, ...). Wire form:
 * {@code q status, q v0..v3, s s0, s s1}.
 */
public record CallbackReply(long status, long v0, long v1, long v2, long v3, String s0, String s1) {

    /** Answered: {@code value} is the handle (dlopen), address (dlsym), or dlinfo value. */
    public static CallbackReply ok(long value) {
        return new CallbackReply(Protocol.CB_OK, value, 0, 0, 0, null, null);
    }

    /** dlsym of a TLS symbol: the agent answers the calling thread's instance of it. */
    public static CallbackReply tls(long moduleId, long offset) {
        return new CallbackReply(Protocol.CB_OK, offset, Protocol.DLSYM_TLS, moduleId, 0, null, null);
    }

    /** dlinfo(RTLD_DI_ORIGIN) answer. */
    public static CallbackReply okString(String s) {
        return new CallbackReply(Protocol.CB_OK, 0, 0, 0, 0, s, null);
    }

    /** Let glibc's real function answer, using {@code glibcHandle} (RTLD_DEFAULT = 0, RTLD_NEXT = -1). */
    public static CallbackReply askGlibc(long glibcHandle) {
        return new CallbackReply(Protocol.CB_ASK_GLIBC, glibcHandle, 0, 0, 0, null, null);
    }

    /** Fails; {@code message} is what the program's dlerror() returns. */
    public static CallbackReply error(String message) {
        return new CallbackReply(Protocol.CB_ERROR, 0, 0, 0, 0, message, null);
    }

    /**
     * A lazy first call's answer: jump to {@code target} (with {@code callIfunc}: call it, an IFUNC
     * resolver, and jump to its result), and with {@code patch} store that in {@code slot}.
     */
    public static CallbackReply lazy(long target, long slot, boolean patch, boolean callIfunc) {
        return lazy(target, slot, patch, callIfunc, null, null);
    }

    /** {@link #lazy(long, long, boolean, boolean)} naming the slot's symbol and version for the agent's binding hook. */
    public static CallbackReply lazy(long target, long slot, boolean patch, boolean callIfunc, String symbol,
                                     String version) {
        long flags = (patch ? Protocol.LAZY_PATCH : 0) | (callIfunc ? Protocol.LAZY_CALL_IFUNC : 0);
        return new CallbackReply(Protocol.CB_OK, target, slot, flags, 0, symbol, version);
    }

    /** This reply without its strings (for a reply that must fit a small buffer, when they only inform). */
    public CallbackReply withoutStrings() {
        return new CallbackReply(status, v0, v1, v2, v3, null, null);
    }

    /** dladdr/dladdr1 found the address in a jdryad object. */
    public static CallbackReply dladdr(String fname, long fbase, String sname, long saddr, long linkMap, long symbol) {
        return new CallbackReply(Protocol.CB_OK, fbase, saddr, linkMap, symbol, fname, sname);
    }
}
