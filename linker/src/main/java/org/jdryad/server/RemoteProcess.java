package org.jdryad.server;

import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The program's process as the warm server sees it: a child of the client, not of this JVM. Why
 * a Process: the run's code (AgentProcess, ProgramRunner) waits for, polls and kills "its"
 * process the same way in both modes; here the status comes from the client (which waits for
 * its child) and a kill is a signal to the pid. When the client goes away the process is
 * killed, as the agent of a cold JVM that dies sees end of file and exits.
 */
final class RemoteProcess extends Process {
    private final long pid;
    private final CompletableFuture<Integer> status = new CompletableFuture<>();

    RemoteProcess(long pid) {
        this.pid = pid;
    }

    /** The client says it ended, with this status as a shell reports it. */
    void ended(int shellStatus) {
        status.complete(shellStatus);
    }

    /** The client went away: the process goes too. */
    void lost() {
        if (!status.isDone()) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            status.complete(128 + 9);
        }
    }

    @Override
    public int waitFor() throws InterruptedException {
        try {
            return status.get();
        } catch (ExecutionException e) {
            return 127;
        }
    }

    @Override
    public boolean waitFor(long timeout, TimeUnit unit) throws InterruptedException {
        try {
            status.get(timeout, unit);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (ExecutionException e) {
            return true;
        }
    }

    @Override
    public int exitValue() {
        if (!status.isDone()) {
            throw new IllegalThreadStateException("process " + pid + " has not exited");
        }
        return status.join();
    }

    @Override
    public boolean isAlive() {
        return !status.isDone();
    }

    @Override
    public void destroy() {
        if (!status.isDone()) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy);
        }
    }

    @Override
    public Process destroyForcibly() {
        if (!status.isDone()) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
        return this;
    }

    @Override
    public long pid() {
        return pid;
    }

    @Override
    public OutputStream getOutputStream() {
        return OutputStream.nullOutputStream();
    }

    @Override
    public InputStream getInputStream() {
        return InputStream.nullInputStream();
    }

    @Override
    public InputStream getErrorStream() {
        return InputStream.nullInputStream();
    }
}
