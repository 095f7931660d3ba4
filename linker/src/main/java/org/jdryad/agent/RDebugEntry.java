package org.jdryad.agent;

/**
 * One jdryad object in the r_debug list. {@code id} is a stable key chosen by Java: the agent
 * keeps one link-map node per id, so the node address does not change between events.
 */
public record RDebugEntry(long id, long lAddr, long lLd, String name) {}
