package org.jdryad.agent;

/**
 * Callbacks from the program's process, implemented by the link layer. They run on a jdryad
 * callback thread; while one runs, the agent keeps serving requests (so a dlopen callback may
 * map, relocate and {@link AgentProcess#call} initialisers before it returns). Every default
 * lets glibc answer.
 */
public interface CallbackHandler {
    default CallbackReply dlopen(String name, int flags, long caller, long tid) {
        return CallbackReply.askGlibc(0);
    }

    /** dlmopen into namespace {@code lmid} (not LM_ID_BASE, which is dlopen): by default glibc's dlmopen. */
    default CallbackReply dlmopen(long lmid, String name, int flags, long caller, long tid) {
        return CallbackReply.askGlibc(lmid);
    }

    /** {@code version} is null for dlsym, the version for dlvsym. */
    default CallbackReply dlsym(long handle, String name, String version, long caller, long tid) {
        return CallbackReply.askGlibc(handle);
    }

    default CallbackReply dlclose(long handle, long caller, long tid) {
        return CallbackReply.askGlibc(handle);
    }

    default CallbackReply dladdr(long address) {
        return CallbackReply.askGlibc(0);
    }

    /** For RTLD_DI_TLS_DATA answer with {@code ok(tlsOffset)}: the agent subtracts it from tp. */
    default CallbackReply dlinfo(long handle, int request) {
        return CallbackReply.askGlibc(handle);
    }

    /**
     * The first call through jump slot {@code index} of lazily bound object {@code object} (its
     * GOT[1]), from {@code caller} on thread {@code tid} of process {@code pid} (the agent, or a
     * child it forked): answer {@link CallbackReply#lazy}, or an error whose message is the whole
     * line the agent prints before exiting with status 127. Called concurrently.
     */
    default CallbackReply bindLazily(long object, long index, long caller, long tid, long pid) {
        return CallbackReply.error("jdryad: no lazy binding in this process");
    }

    CallbackHandler GLIBC = new CallbackHandler() {};
}
