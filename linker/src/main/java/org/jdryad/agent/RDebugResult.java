package org.jdryad.agent;

/** The r_map head the agent installed, and the link-map node of each entry (same order). */
public record RDebugResult(long head, long[] nodes) {}
