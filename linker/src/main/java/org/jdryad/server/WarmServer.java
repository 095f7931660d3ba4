package org.jdryad.server;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.jdryad.agent.PeerCheck;

/**
 * The warm server: one long-lived JVM per user and build that runs `jdryad run` for the native
 * client (native/client/), so that a run costs no JVM start, no class loading and no JIT
 * warm-up. It listens at {@link ServerAddress} (a 0700 directory of the user's; SO_PEERCRED is
 * checked as well), serves every client on a thread of its own ({@link ClientSession}), and
 * ends after an idle period with no client, or when told to stop. A lock file held for its
 * lifetime makes a second server of the same build give way, and lets it replace the socket a
 * killed server left behind.
 */
public final class WarmServer {
    private final ServerAddress address;
    private final Duration idle;
    private final ServerSocketChannel listening;
    private final UserPrincipal owner;
    private final AtomicInteger active = new AtomicInteger();
    private final AtomicLong served = new AtomicLong();
    private final long startedAt = System.nanoTime();
    private volatile long lastActivity = System.nanoTime();
    private volatile boolean stopping;
    private WarmUp warmUp;

    private WarmServer(ServerAddress address, Duration idle, ServerSocketChannel listening) throws IOException {
        this.address = address;
        this.idle = idle;
        this.listening = listening;
        this.owner = Files.getOwner(address.directory());
    }

    /**
     * Serves until stopped or idle for {@code idle} (zero: never idle out), after starting
     * {@code warmUpRuns} warm-up runs in the background ({@link WarmUp}). Returns false at once
     * when another server of this build holds the lock.
     */
    public static boolean serve(ServerAddress address, Duration idle, int warmUpRuns) throws IOException {
        try (FileChannel lockFile = FileChannel.open(address.lock(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock lock = lockFile.tryLock()) {
            if (lock == null) {
                return false;
            }
            Files.deleteIfExists(address.socket()); // a killed server's (we hold the lock: no live one)
            ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            ch.bind(UnixDomainSocketAddress.of(address.socket()));
            org.jdryad.elf.ElfCache.enable();
            WarmServer server = new WarmServer(address, idle, ch);
            server.warmUp = WarmUp.start(warmUpRuns, () -> server.stopping);
            server.acceptLoop();
            return true;
        } finally {
            // the socket goes with the server; the lock file stays (it is the next server's too)
        }
    }

    private void acceptLoop() throws IOException {
        Thread watchdog = new Thread(this::watchIdle, "jdryad-server-idle");
        watchdog.setDaemon(true);
        watchdog.start();
        try {
            while (!stopping) {
                SocketChannel ch;
                try {
                    ch = listening.accept();
                } catch (IOException e) {
                    if (stopping) {
                        break;
                    }
                    continue;
                }
                if (!PeerCheck.admits(ch, owner)) {
                    ch.close();
                    continue;
                }
                active.incrementAndGet();
                served.incrementAndGet();
                lastActivity = System.nanoTime();
                Thread t = new Thread(() -> {
                    try {
                        new ClientSession(ch, this).run();
                    } finally {
                        lastActivity = System.nanoTime();
                        active.decrementAndGet();
                    }
                }, "jdryad-client-session");
                t.setDaemon(true);
                t.start();
            }
        } finally {
            close();
        }
        waitForSessions();
    }

    /** Lets the runs in progress finish (they need nothing of the listening socket). */
    private void waitForSessions() {
        while (active.get() > 0) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private void watchIdle() {
        while (!stopping) {
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                return;
            }
            if (!idle.isZero() && active.get() == 0 && System.nanoTime() - lastActivity > idle.toNanos()) {
                stop();
            }
        }
    }

    private void stop() {
        stopping = true;
        close();
    }

    private void close() {
        try {
            Files.deleteIfExists(address.socket());
        } catch (IOException ignored) {
            // best effort
        }
        try {
            listening.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    /** `jdryad server status|stop` sent to this server: prints the answer, returns the status. */
    int control(List<String> argv, Consumer<String> out) {
        String what = argv.size() > 1 ? argv.get(1) : "";
        switch (what) {
            case "status":
                out.accept(status());
                return 0;
            case "stop":
                out.accept("jdryad server: stopping (pid " + ProcessHandle.current().pid() + ")\n");
                Thread t = new Thread(() -> {
                    try {
                        Thread.sleep(20); // the answer goes out first
                    } catch (InterruptedException ignored) {
                        // stopping anyway
                    }
                    stop();
                }, "jdryad-server-stop");
                t.setDaemon(true);
                t.start();
                return 0;
            default:
                out.accept("jdryad server: unknown request " + what + "\n");
                return 2;
        }
    }

    private String status() {
        return String.format("jdryad server: running, pid %d, socket %s, up %.1f s, %d command lines served, %d running now"
                + ", idle limit %s, %s; %s%n", ProcessHandle.current().pid(), address.socket(),
                (System.nanoTime() - startedAt) / 1e9, served.get() - 1, active.get() - 1,
                idle.isZero() ? "none" : idle.toSeconds() + " s", warmUp.describe(), org.jdryad.elf.ElfCache.describe());
    }
}
