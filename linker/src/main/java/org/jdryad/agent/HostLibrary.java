package org.jdryad.agent;

/**
 * A host object loaded (or found, with RTLD_NOLOAD) by glibc's real dlopen in the agent.
 * {@code tlsModid} is 0 when it has no TLS; {@code tlsOffset} is tp minus the address of its TLS
 * block in the agent's serving thread (0 when none or not allocated yet).
 */
public record HostLibrary(long handle, long lAddr, long lLd, long tlsModid, long tlsOffset, String name) {}
