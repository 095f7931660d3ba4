package org.jdryad.link;

import java.util.List;
import java.util.OptionalLong;
import org.jdryad.debug.BindingHistory;
import org.jdryad.link.SymbolLookup.Definition;

/** What relocation needs from the link session. */
interface LinkContext {
    TargetMemory memory();

    SymbolLookup lookup();

    /** The lookup scope for references from {@code obj}. */
    List<LoadedObject> scopeFor(LoadedObject obj);

    /** The agent's replacement when the definition is one jdryad interposes (dlopen, __tls_get_addr...). */
    OptionalLong interposedAddress(Definition def);

    default boolean isInterposed(Definition def) {
        return interposedAddress(def).isPresent();
    }

    /** The address of the agent's TLS descriptor function for static TLS. */
    long tlsDescReturn();

    /**
     * The agent's TLS descriptor function for dynamic TLS (its argument: the module's index, as
     * {@code TlsModules#descriptorArgument}); 0 when the agent has none.
     */
    default long tlsDescDynamic() {
        return 0;
    }

    /** The first TLS module id of jdryad objects (an object's index is its id minus this). */
    default long tlsModuleIdBase() {
        return 0;
    }

    RelocationStats stats();

    /** Whether {@code obj}'s jump slots wait for their first call (glibc's lazy binding). */
    boolean bindsLazily(LoadedObject obj);

    /**
     * Whether {@code obj}'s jump slots are never written after relocation: every call goes
     * through an audit module's PLT hooks (they may lie in RELRO then, as in a -z now object).
     */
    default boolean slotsStayUnbound(LoadedObject obj) {
        return false;
    }

    /** The number GOT[1] of a lazily bound object holds: how the trampoline names it to Java. */
    long lazyIdOf(LoadedObject obj);

    /** The agent's lazy-binding trampoline (GOT[2]). */
    long lazyResolver();

    /** IFUNC resolver results, resolver address to value, shared by every relocation pass. */
    java.util.Map<Long, Long> ifuncResults();

    BindingHistory history();

    /** A non-fatal diagnostic, printed as glibc prints it. */
    void warn(String message);

    /** Whether objects may be planned concurrently (see RelocationRun); false: one after another. */
    default boolean relocatesInParallel() {
        return false;
    }

    /**
     * Whether relocation's lookups or objects are told to someone as they happen (LD_DEBUG):
     * then objects are relocated strictly one after another, so that the lines come in order.
     */
    default boolean tracesLookups() {
        return false;
    }

    /** {@code obj}'s relocations are about to be processed (LD_DEBUG=reloc). */
    default void relocating(LoadedObject obj) {
    }

    /**
     * A binding was made: {@code referrer} now refers to a definition in {@code definer} (a
     * relocation, a lazy first call). glibc's add_dependency: such a definer, when dlopened, stays
     * loaded as long as the referrer does.
     */
    default void bound(LoadedObject referrer, LoadedObject definer) {
    }
}
