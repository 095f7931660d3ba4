package org.jdryad.agent;

/**
 * glibc's dlopen in the agent refused a host object: {@link #dlerror()} is glibc's own text
 * ({@code /lib/x86_64-linux-gnu/libthread_db.so.1: undefined symbol: ps_pdwrite}), which a
 * failed dlopen of the program must report unchanged.
 */
public final class HostLoadException extends AgentException {
    private static final long serialVersionUID = 1L;
    private final String dlerror;

    public HostLoadException(String message, String dlerror) {
        super(message);
        this.dlerror = dlerror;
    }

    /** What glibc's dlerror() said. */
    public String dlerror() {
        return dlerror;
    }
}
