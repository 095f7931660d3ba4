package org.jdryad.run;

import java.util.List;
import org.jdryad.agent.AgentProcess;
import org.jdryad.agent.Protocol;
import org.jdryad.link.LoadedObject;

/**
 * The thread-local storage of objects dlopen brings in after start-up, and of those dlclose
 * takes out: the agent is told of each module's block as glibc's dlopen and dlclose update
 * theirs. Separate from {@link DynamicLoader} because it is only agent writes derived from an
 * object's PT_TLS, with no state of its own; the start-up TLS layout is the linker's
 * (org.jdryad.link). Both are called by DynamicLoader under its monitor, as they were when they
 * were its methods.
 */
final class DlopenTls {
    private DlopenTls() {
    }

    /**
     * Gives dlopened objects' static TLS blocks their initial values: in the main thread's
     * reservation and in the module-1 init image that glibc copies for threads created later.
     * Only the new blocks are written: the rest of the reservation holds the program's live
     * thread-local variables (rewriting the whole image here once reset perl's interpreter
     * pointer to NULL). The agent writes them into every thread that exists too, as glibc's
     * dlopen does. A module in dynamic TLS is only registered: each thread makes its block at
     * its first access.
     */
    static void install(AgentProcess agent, List<LoadedObject> added) {
        for (LoadedObject o : added) {
            if (o.isHost() || o.tlsModuleId() == 0) {
                continue;
            }
            var tls = o.elf().tls().orElseThrow();
            if (!o.hasStaticTls()) {
                // Dynamic TLS: each thread copies the init image from the mapped object at its first access.
                agent.setTlsDynamic(o.tlsModuleId() - Protocol.TLS_MODID_BASE, o.base() + tls.vaddr(), tls.filesz(),
                        Math.max(1, tls.memsz()), dynamicBlockAlignment(tls.align()));
                continue;
            }
            byte[] block = new byte[(int) tls.memsz()];
            if (tls.filesz() > 0) {
                byte[] init = agent.read(o.base() + tls.vaddr(), (int) tls.filesz());
                System.arraycopy(init, 0, block, 0, init.length);
            }
            agent.setTlsBlock(o.tlsOffset(), block);
        }
    }

    /** Unloaded objects' dynamic TLS modules: their indices may serve a later dlopen. */
    static void retire(AgentProcess agent, List<LoadedObject> gone) {
        for (LoadedObject o : gone) {
            if (!o.isHost() && o.tlsModuleId() != 0 && !o.hasStaticTls()) {
                agent.setTlsDynamic(o.tlsModuleId() - Protocol.TLS_MODID_BASE, 0, 0, 0, 0);
            }
        }
    }

    /** A dynamic TLS block's alignment: glibc's memalign takes p_align up to a power of two. */
    private static long dynamicBlockAlignment(long align) {
        return align <= 1 ? 1 : Long.bitCount(align) == 1 ? align : Long.highestOneBit(align) << 1;
    }
}
