package org.jdryad.run;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;
import org.jdryad.agent.AgentProcess;
import org.jdryad.agent.Protocol;
import org.jdryad.elf.FileIdentity;
import org.jdryad.link.LinkException;
import org.jdryad.link.TargetMemory;

/** The link core's view of the program's address space, carried out by the agent. */
final class AgentMemory implements TargetMemory {
    private final AgentProcess agent;

    AgentMemory(AgentProcess agent) {
        this.agent = agent;
    }

    @Override
    public long pageSize() {
        return agent.info().pageSize();
    }

    @Override
    public long reserve(long address, long length, boolean fixed) {
        int flags = Protocol.MAP_NORESERVE | (fixed ? Protocol.MAP_FIXED_NOREPLACE : 0);
        long at = agent.mmapAnon(address, length, Protocol.PROT_NONE, flags);
        if (fixed && at != address) {
            throw new LinkException(String.format("cannot map 0x%x bytes at the fixed address 0x%x", length, address));
        }
        return at;
    }

    @Override
    public void mapFile(long address, long length, int prot, Path file, FileIdentity identity, long fileOffset) {
        agent.mmapFile(address, length, prot, Protocol.MAP_FIXED, fileOffset, file, identity.device(), identity.inode());
    }

    @Override
    public void mapAnonymous(long address, long length, int prot) {
        agent.mmapAnon(address, length, prot, Protocol.MAP_FIXED);
    }

    @Override
    public void mapFileAhead(long address, long length, int prot, Path file, FileIdentity identity, long fileOffset) {
        ahead(agent.mmapFileAhead(address, length, prot, fileOffset, file, identity.device(), identity.inode()));
    }

    @Override
    public void mapAnonymousAhead(long address, long length, int prot) {
        ahead(agent.mmapAnonAhead(address, length, prot));
    }

    @Override
    public void protect(long address, long length, int prot) {
        agent.mprotect(address, length, prot);
    }

    @Override
    public void write(long address, byte[] bytes) {
        agent.writeViaSocket(address, bytes, 0, bytes.length);
    }

    @Override
    public byte[] read(long address, int length) {
        return agent.read(address, length);
    }

    @Override
    public byte[] peek(long address, int length) {
        return agent.readDirect(address, length);
    }

    @Override
    public void writeWords(long[] addresses, long[] values, int count) {
        if (count == addresses.length) {
            agent.writeWords(addresses, values);
        } else {
            agent.writeWords(java.util.Arrays.copyOf(addresses, count), java.util.Arrays.copyOf(values, count));
        }
    }

    @Override
    public void writeWords32(long[] addresses, long[] values, int count) {
        if (count == addresses.length) {
            agent.writeWords32(addresses, values);
        } else {
            agent.writeWords32(java.util.Arrays.copyOf(addresses, count), java.util.Arrays.copyOf(values, count));
        }
    }

    /** Checks of the requests sent ahead (mappings, writes), not yet settled. */
    private final List<Runnable> unsettled = new ArrayList<>();

    @Override
    public void writeWordsAhead(long[] addresses, long[] values, int count, boolean narrow) {
        ahead(agent.writeWordsAhead(addresses, values, count, narrow));
    }

    private void ahead(Runnable check) {
        synchronized (unsettled) {
            unsettled.add(check);
        }
    }

    @Override
    public void settle() {
        List<Runnable> checks;
        synchronized (unsettled) {
            checks = new ArrayList<>(unsettled);
            unsettled.clear();
        }
        RuntimeException first = null;
        for (Runnable c : checks) { // every one waited for, even after a failure: none is left behind
            try {
                c.run();
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    @Override
    public LongSupplier relocateRelativeAhead(RelativeRelocations r) {
        var reply = agent.relocateRelativeAhead(r.base(), r.rela(), r.relaCount(), r.relr(), r.relrSize(), r.runs());
        return () -> {
            long status = reply.get().status();
            return status < 0 ? -1 : status; // refused: Java's own path writes the words, or names the bad entry
        };
    }

    @Override
    public long call(long function, long... args) {
        return agent.call(function, args);
    }

    @Override
    public long[] callEach(long[] functions) {
        return agent.callEach(functions);
    }
}
