package org.jdryad.run;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdryad.agent.AgentException;
import org.jdryad.agent.AgentProcess;
import org.jdryad.agent.HostLibrary;
import org.jdryad.agent.Protocol;
import org.jdryad.elf.Elf;
import org.jdryad.elf.ProgramHeader;
import org.jdryad.link.LoadedObject;

/**
 * Makes glibc's own unwinder see jdryad objects' unwind tables.
 *
 * <p>Thread cancellation and {@code backtrace()} unwind with a copy of libgcc_s that glibc
 * loads itself; that copy finds FDEs through glibc's {@code _dl_find_object}, which knows nothing
 * of jdryad objects, so a cancelled thread's cleanup handlers silently did not run. jdryad loads
 * glibc's copy up front (the same one glibc's later dlopen finds) and registers every jdryad
 * object's {@code .eh_frame} with its {@code __register_frame_info}, which it consults first. The
 * program's own libgcc_s, a jdryad object, reaches the agent's {@code _dl_find_object} instead.
 */
final class UnwindTables {
    private static final int OBJECT_BUFFER = 128; // libgcc's struct object is 48 bytes; room to spare

    private final AgentProcess agent;
    private final long register;
    private final long deregister;
    /** Each registered object's .eh_frame and the agent buffer libgcc keeps its struct object in. */
    private final Map<LoadedObject, long[]> registered = new IdentityHashMap<>();
    /**
     * Buffers deregistered objects gave back (libgcc no longer holds them once
     * __deregister_frame_info returned): the next registration takes one, so dlopen/dlclose
     * cycles do not grow the agent's memory.
     */
    private final ArrayDeque<Long> spareBuffers = new ArrayDeque<>();

    /** l_addr of the libgcc_s loaded for this (0: unknown): the agent's own unless the program has it too. */
    private final long libgccBase;

    private UnwindTables(AgentProcess agent, long register, long deregister, long libgccBase) {
        this.agent = agent;
        this.register = register;
        this.deregister = deregister;
        this.libgccBase = libgccBase;
    }

    /** The l_addr of the libgcc_s loaded up front (dl_iterate_phdr leaves it out when the program has none). */
    long libgccBase() {
        return libgccBase;
    }

    /** Loads glibc's libgcc_s in the agent; empty when the system has none. */
    static Optional<UnwindTables> load(AgentProcess agent) {
        try {
            HostLibrary gcc = agent.dlopenHost("libgcc_s.so.1", Protocol.RTLD_NOW);
            long reg = agent.dlsymHost(gcc.handle(), "__register_frame_info", null);
            long dereg = agent.dlsymHost(gcc.handle(), "__deregister_frame_info", null);
            return reg == 0 || dereg == 0 ? Optional.empty()
                    : Optional.of(new UnwindTables(agent, reg, dereg, gcc.lAddr()));
        } catch (AgentException e) {
            return Optional.empty();
        }
    }

    /** The same registrations, made in a forked child's copy of the memory, carried on by {@code child}. */
    synchronized UnwindTables copyFor(AgentProcess child) {
        UnwindTables c = new UnwindTables(child, register, deregister, libgccBase);
        c.registered.putAll(registered);
        c.spareBuffers.addAll(spareBuffers); // the child's copy of the memory has the same buffers
        return c;
    }

    synchronized void register(List<LoadedObject> objects) {
        for (LoadedObject o : objects) {
            if (o.isHost() || registered.containsKey(o)) {
                continue;
            }
            long ehFrame = ehFrameStart(o);
            if (ehFrame != 0) {
                Long spare = spareBuffers.poll();
                long buffer = spare != null ? spare : agent.alloc(OBJECT_BUFFER, 16);
                if (spare != null) {
                    agent.write(buffer, new byte[OBJECT_BUFFER]); // libgcc expects a zeroed object
                }
                agent.call(register, ehFrame, buffer);
                registered.put(o, new long[] {ehFrame, buffer});
            }
        }
    }

    synchronized void deregister(List<LoadedObject> objects) {
        for (LoadedObject o : objects) {
            long[] r = registered.remove(o);
            if (r != null) {
                agent.call(deregister, r[0]);
                spareBuffers.push(r[1]);
            }
        }
    }

    /**
     * The run-time address of .eh_frame, from .eh_frame_hdr's eh_frame_ptr (PT_GNU_EH_FRAME; the
     * section headers are not needed). 0 when the object has none or the encoding is unusual.
     */
    static long ehFrameStart(LoadedObject o) {
        Optional<ProgramHeader> hdr = o.elf().segment(Elf.PT_GNU_EH_FRAME);
        if (hdr.isEmpty() || hdr.get().filesz() < 8 || !o.elf().isFileBacked(hdr.get().vaddr(), 8)) {
            return 0;
        }
        long at = hdr.get().vaddr();
        ByteBuffer b = ByteBuffer.wrap(o.elf().bytesAt(at, 8, ".eh_frame_hdr")).order(ByteOrder.LITTLE_ENDIAN);
        int version = b.get(0) & 0xff;
        int enc = b.get(1) & 0xff;
        if (version != 1) {
            return 0;
        }
        long field = at + 4;
        long value;
        switch (enc & 0x0f) {
            case 0x0b: // DW_EH_PE_sdata4
                value = b.getInt(4);
                break;
            case 0x03: // DW_EH_PE_udata4
                value = b.getInt(4) & 0xffffffffL;
                break;
            default:
                return 0;
        }
        switch (enc & 0x70) {
            case 0x10: // DW_EH_PE_pcrel
                return o.base() + field + value;
            case 0x00: // DW_EH_PE_absptr (a link-time address)
                return o.base() + value;
            case 0x30: // DW_EH_PE_datarel: relative to the start of .eh_frame_hdr
                return o.base() + at + value;
            default:
                return 0;
        }
    }
}
