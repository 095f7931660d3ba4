package org.jdryad.agent;

/** A node of glibc's original link map, as the agent saw it at start-up. */
public record HostObject(long lAddr, long lLd, long linkMap, String name) {}
