package org.jdryad.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.jdryad.server.ServerAddress;
import org.jdryad.server.ServerControl;
import org.jdryad.server.WarmServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code jdryad server start|stop|status}: the warm server of this build (org.jdryad.server). */
@Command(name = "server", mixinStandardHelpOptions = true,
        description = {"Start, stop or ask about the warm jdryad server of this build: a long-lived Java side that",
            "`jdryad run` uses instead of starting a JVM per run (JDRYAD_SERVER=auto, the default, starts it on first",
            "use; JDRYAD_SERVER=off never uses one). `serve` runs it in the foreground."})
final class ServerCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "ACTION", description = "start, stop, status or serve")
    String action;

    @Option(names = "--idle", paramLabel = "SECONDS", description = "Exit after this many seconds with no client"
            + " (0, the default for start and serve: never).")
    long idleSeconds;

    @Option(names = "--quiet", description = "Print nothing unless something fails.")
    boolean quiet;

    @Option(names = "--warm-up", paramLabel = "RUNS", description = "When the server starts, run /usr/bin/true this"
            + " many times in the background (output discarded), so that the JIT has compiled the linker before clients"
            + " come (default: 200; 0: none).")
    int warmUpRuns = 200;

    @Override
    public Integer call() throws IOException {
        if (idleSeconds < 0) {
            throw new CliFailure("jdryad server: --idle must be 0 or more", 2);
        }
        if (warmUpRuns < 0) {
            throw new CliFailure("jdryad server: --warm-up must be 0 or more", 2);
        }
        ServerAddress address;
        try {
            address = ServerAddress.of(ServerAddress.ownJar());
        } catch (IOException e) {
            throw new CliFailure("jdryad server: " + e.getMessage(), 1);
        }
        switch (action) {
            case "serve":
                if (!WarmServer.serve(address, Duration.ofSeconds(idleSeconds), warmUpRuns)) {
                    System.err.println("jdryad server: another server of this build is running (" + address.socket() + ")");
                    return 1;
                }
                return 0;
            case "start":
                return start(address);
            case "status":
            case "stop": {
                Integer st = ServerControl.ask(address, action, System.out);
                if (st == null) {
                    System.out.println("jdryad server: not running (" + address.socket() + ")");
                    return action.equals("status") ? 3 : 0;
                }
                if (action.equals("stop")) {
                    ServerControl.awaitGone(address, Duration.ofSeconds(10));
                }
                return st;
            }
            default:
                throw new CliFailure("jdryad server: unknown action " + action + " (start, stop, status, serve)", 2);
        }
    }

    /** Starts a detached server (its own session: the terminal's signals are not its) and waits until it answers. */
    private int start(ServerAddress address) throws IOException {
        if (ServerControl.ask(address, "status", quiet ? null : System.out) != null) {
            return 0;
        }
        List<String> command = new ArrayList<>();
        if (Files.isExecutable(Path.of("/usr/bin/setsid"))) {
            command.add("/usr/bin/setsid");
        }
        command.addAll(jvmCommand());
        command.addAll(List.of("server", "serve", "--idle", Long.toString(idleSeconds), "--warm-up",
                Integer.toString(warmUpRuns)));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().remove("JDRYAD_ENVIRON_FD");
        pb.redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        Path log = address.directory().resolve(address.socket().getFileName().toString().replace(".sock", ".log"));
        pb.redirectOutput(ProcessBuilder.Redirect.to(log.toFile()));
        pb.redirectErrorStream(true);
        Process p = pb.start();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            if (ServerControl.ask(address, "status", quiet ? null : System.out) != null) {
                return 0;
            }
            if (!p.isAlive() && p.exitValue() != 0) {
                break;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        System.err.println("jdryad server: did not start (see " + log + ")");
        return 1;
    }

    /** This JVM's own command line up to the jar (its options: CDS archive, GC, ...). */
    private static List<String> jvmCommand() throws IOException {
        List<String> own = org.jdryad.run.GdbSession.splitNul(Files.readAllBytes(Path.of("/proc/self/cmdline")));
        int jar = own.indexOf("-jar");
        if (jar >= 0 && jar + 1 < own.size()) {
            List<String> command = new ArrayList<>(own.subList(0, jar + 2));
            // A run's JVM stops at the quick compiler (it lives for a second); the server lives
            // long enough for the optimising one to pay. Nor does it take the run's AOT cache
            // (JDK 25): its training run's profiles are a cold `run /bin/true`'s, and a server
            // started with them served warm llvm-as-14 --bind-now runs in 250 ms where one
            // without took 156 (true: 56 and 40; medians of interleaved runs).
            command.removeIf(a -> a.startsWith("-XX:TieredStopAtLevel=") || a.startsWith("-XX:AOTCache="));
            return command;
        }
        return List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                ServerAddress.ownJar().toString(), Main.class.getName());
    }
}
