package org.jdryad.agent;

import java.util.List;
import java.util.Map;

/**
 * What the agent reports when it connects (HELLO).
 *
 * @param agentBase load base of the agent executable (add to its .symtab values)
 * @param rDebug glibc's {@code struct r_debug}, found through DT_DEBUG
 * @param rMap glibc's original {@code r_map} head (the agent's own link-map node)
 * @param tlsReserveAddress the static TLS reservation in the main thread; equals
 *     {@code threadPointer - tlsReserveSize}
 * @param tlsInitImageAddress module 1's TLS init image (in the agent's RELRO)
 * @param auxv the original auxiliary vector, in order
 * @param agentSymbols agent entry points by name ({@code jdryad_dlopen}, ...)
 */
public record AgentInfo(
        long pid,
        long pageSize,
        long agentBase,
        long rDebug,
        long rMap,
        long rBrk,
        long tlsReserveAddress,
        long tlsReserveSize,
        long threadPointer,
        long tlsInitImageAddress,
        long tlsInitImageSize,
        long tlsModidBase,
        List<HostObject> hostObjects,
        Map<Long, Long> auxv,
        Map<String, Long> agentSymbols) {

    /** The address of an agent entry point, e.g. {@code symbol("jdryad_dlopen")}. */
    public long symbol(String name) {
        Long a = agentSymbols.get(name);
        if (a == null) {
            throw new AgentException("jdryad: the agent has no entry point named " + name);
        }
        return a;
    }

    /** The vDSO's link map, as glibc named it (none when the kernel maps no vDSO). */
    public java.util.Optional<HostObject> vdso() {
        return java.util.Optional.ofNullable(hostObject("linux-vdso.so.1"));
    }

    /** The host object whose name ends with {@code soname} (e.g. "libc.so.6"), or null. */
    public HostObject hostObject(String soname) {
        for (HostObject h : hostObjects) {
            String n = h.name();
            if (n.equals(soname) || n.endsWith("/" + soname)) {
                return h;
            }
        }
        return null;
    }
}
