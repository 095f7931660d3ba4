package org.jdryad.run;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;
import org.jdryad.agent.AgentException;
import org.jdryad.agent.AgentProcess;

/**
 * The link states one process's forked children were forked in. Why: a child's first call into
 * jdryad may come long after the fork, when its parent has dlopened or dlclosed since; the child
 * must be answered from the state its memory holds, the parent's as of the fork. Copying the
 * state at every fork would cost every fork a round trip; instead the agent counts forks
 * (pthread_atfork's prepare handler) and holds the generation of the link state, which Java
 * writes before every change. Before a change Java writes the next generation, then reads the
 * count: a child forked before that write holds the old generation and was counted by then, so
 * the old state is kept exactly when some child may need it.
 *
 * <p>Called under the loader's lock ({@code lock}): the state cannot change while it is copied.
 */
final class ForkSnapshots {
    private final AgentProcess agent;
    private final long forkCountAddress;
    private final long generationAddress;
    private final Object lock;
    private final Supplier<ProcessLink> freeze;
    private final Map<Long, ProcessLink> kept = new HashMap<>();
    private long generation;
    private long forksSeen;

    ForkSnapshots(AgentProcess agent, Object lock, Supplier<ProcessLink> freeze) {
        this.agent = agent;
        this.lock = lock;
        this.freeze = freeze;
        this.forkCountAddress = agent.info().symbol("jd_fork_count");
        this.generationAddress = agent.info().symbol("jd_link_generation");
        this.forksSeen = readForkCount();
        this.generation = readWord(generationAddress);
    }

    /** Before a change of the link state (the caller holds the lock): keeps the state when a child was forked in it. */
    void changing() {
        synchronized (lock) {
            long old = generation++;
            writeWord(generationAddress, generation);
            long forks = readForkCount();
            if (forks != forksSeen) {
                forksSeen = forks;
                kept.put(old, freeze.get());
            }
        }
    }

    /**
     * A frozen copy of the state of {@code generation} (the one a child says it was forked in):
     * the current one, a kept one, or null when neither (a generation this process never had).
     */
    ProcessLink stateOf(long generation) {
        synchronized (lock) {
            if (generation == this.generation) {
                return freeze.get();
            }
            return kept.get(generation);
        }
    }

    private long readForkCount() {
        try {
            return readWord(forkCountAddress);
        } catch (AgentException e) {
            return forksSeen + 1; // cannot tell: keep the state
        }
    }

    private long readWord(long address) {
        byte[] b = agent.read(address, 8);
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    private void writeWord(long address, long value) {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value);
        agent.write(address, b.array(), 0, 8);
    }
}
