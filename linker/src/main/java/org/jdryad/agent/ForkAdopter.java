package org.jdryad.agent;

/**
 * Gives a forked child a link session of its own. Why: a child's memory is a copy of its
 * parent's as of the fork, and its dlopen, dlsym and dlclose must answer from that state and
 * change only the child's, while the parent goes on changing its own. A {@link CallbackHandler}
 * that also implements this is asked once per child, when the child says HELLO_CHILD.
 */
public interface ForkAdopter {
    /**
     * The link session for child {@code pid} of {@code parentPid}, forked in the parent's link
     * generation {@code generation}; null leaves the child lazy binding only, answered by the
     * parent's session.
     */
    Adopted adopt(long pid, long parentPid, long generation);

    /** A child's session: its callbacks, once its own {@link AgentProcess} carries its requests. */
    interface Adopted extends CallbackHandler {
        /** The child's agent connection, before its first callback is read. */
        void attach(AgentProcess child);

        /** The child's connection ended (it exited, or exec'd): its session goes. */
        void detached();
    }
}
