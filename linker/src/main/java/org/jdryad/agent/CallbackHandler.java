package org.jdryad.agent;

/**
 * Callbacks from the program's process, implemented by the link layer. They run on a jdryad
 * callback thread; while one runs, the agent keeps serving requests (so a dlopen callback may
 * map, relocate and {@link AgentProcess#call} initialisers before it returns). Every default
 * lets glibc answer.
 */
public interface CallbackHandler {
    default CallbackReply dlopen(String name, int flags, long caller) {
        return CallbackReply.askGlibc(0);
    }

    /** {@code version} is null for dlsym, the version for dlvsym. */
    default CallbackReply dlsym(long handle, String name, String version, long caller) {
        return CallbackReply.askGlibc(handle);
    }

    default CallbackReply dlclose(long handle, long caller) {
        return CallbackReply.askGlibc(handle);
    }

    default CallbackReply dladdr(long address) {
        return CallbackReply.askGlibc(0);
    }

    /** For RTLD_DI_TLS_DATA answer with {@code ok(tlsOffset)}: the agent subtracts it from tp. */
    default CallbackReply dlinfo(long handle, int request) {
        return CallbackReply.askGlibc(handle);
    }

    CallbackHandler GLIBC = new CallbackHandler() {};
}
