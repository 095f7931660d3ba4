package org.jdryad.agent;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * An agent's process started and not yet connected. Why a step of its own: a cold run starts
 * the agent before the library search, which then runs while the agent's process starts
 * (ProgramRunner); a launch that turns out not to be needed is closed, and its process killed
 * before it ran any of the program.
 */
public final class AgentLaunch implements AutoCloseable {
    private final AgentListener shared;
    private final AgentListener listener;
    private final Spawner spawner;
    private final Path binary;
    private final Process process;
    private boolean taken;

    private AgentLaunch(AgentListener shared, AgentListener listener, Spawner spawner, Path binary, Process process) {
        this.shared = shared;
        this.listener = listener;
        this.spawner = spawner;
        this.binary = binary;
        this.process = process;
    }

    /**
     * Starts the agent for the program whose command line is {@code programArgv} (as
     * {@link AgentProcess#start(Spawner, Path, List, Map, CallbackHandler, Duration)} does)
     * without waiting for it: {@link #connect} takes its HELLO, {@link #close} gives it up.
     */
    public static AgentLaunch launch(Spawner spawner, Path agentBinary, List<String> programArgv, Map<String, String> agentEnv) {
        return launch(null, spawner, List.of(), agentBinary, programArgv, agentEnv);
    }

    static AgentLaunch launch(AgentListener shared, Spawner spawner, List<String> wrapper, Path agentBinary,
            List<String> programArgv, Map<String, String> agentEnv) {
        if (!Files.isExecutable(agentBinary)) {
            throw new AgentException("jdryad: agent binary " + agentBinary + " is missing or not executable");
        }
        AgentListener listener = null;
        try {
            listener = shared != null ? shared : AgentListener.open();
            List<String> command = new ArrayList<>(wrapper);
            command.add(agentBinary.toString());
            Map<String, String> env = new java.util.LinkedHashMap<>();
            if (agentEnv != null) {
                env.putAll(agentEnv);
            }
            if (!programArgv.isEmpty()) {
                command.addAll(programArgv.subList(1, programArgv.size()));
                env.put("JDRYAD_ARGV0", programArgv.get(0));
            }
            env.putAll(AgentProcess.environmentFor(listener));
            AgentLaunch l = new AgentLaunch(shared, listener, spawner, agentBinary, spawner.spawn(command, env));
            listener = null; // the launch's now
            return l;
        } catch (IOException e) {
            throw new AgentException("jdryad: cannot start the agent " + agentBinary + ": " + e.getMessage(), e);
        } finally {
            if (listener != null && shared == null) {
                listener.close();
            }
        }
    }

    /** The agent binary this launch started. */
    public Path binary() {
        return binary;
    }

    /**
     * Waits for the agent's HELLO and returns the connected agent; on failure the process is
     * killed and the listener closed (not a shared one), and the exception says why.
     */
    public AgentProcess connect(CallbackHandler handler, Duration connectTimeout) {
        if (taken) {
            throw new IllegalStateException("this agent was connected or given up already");
        }
        taken = true;
        AgentListener.Arrival arrival = null;
        boolean started = false;
        try {
            arrival = listener.await(process, connectTimeout);
            if (arrival == null) {
                if (!process.isAlive()) {
                    throw new AgentException(AgentWire.describeDeath(process, "before it connected to jdryad"));
                }
                process.destroyForcibly();
                throw new AgentException("jdryad: the agent did not connect within " + connectTimeout.toMillis()
                        + " ms");
            }
            AgentProcess ap = AgentProcess.connect(listener, arrival, process, handler, shared == null);
            ap.startedBy(spawner);
            started = true;
            return ap;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AgentException("jdryad: interrupted while starting the agent", e);
        } finally {
            if (!started) {
                giveUp(arrival);
            }
        }
    }

    /** Gives the agent up when it was not connected: its process is killed, its listener closed. */
    @Override
    public void close() {
        if (!taken) {
            taken = true;
            giveUp(null);
        }
    }

    private void giveUp(AgentListener.Arrival arrival) {
        if (process.isAlive()) {
            process.destroyForcibly();
        }
        if (arrival != null) {
            AgentProcess.closeQuietly(arrival.channel());
        }
        if (shared == null) {
            listener.close();
        }
    }
}
