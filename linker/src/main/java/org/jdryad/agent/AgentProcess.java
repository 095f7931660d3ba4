package org.jdryad.agent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * The jdryad agent running as a child process: one method per request of the agent protocol
 * (see {@link Protocol} and {@code native/protocol.h}).
 *
 * <p>Threading: any thread may send requests. A reader thread receives replies and the agent's
 * callbacks (dlopen, dlsym, ... from the program); callbacks run on callback threads, which may
 * themselves send requests (the agent serves them while it waits for the callback's answer).
 * After {@link #enter}, requests are served only while a callback is pending; memory can always
 * be read through {@link #read} (process_vm_readv).
 */
public final class AgentProcess implements AutoCloseable {
    private final Process process;
    private final SocketChannel channel;
    private final CallbackHandler handler;
    /** Who started the process: asked to settle jdryad's output before the program runs code. */
    private volatile Spawner spawner = Spawner.LOCAL;
    private final AgentInfo info;
    private final ProcessVm vm;
    private final Object writeLock = new Object();
    private final AtomicLong seq = new AtomicLong();
    private final Map<Long, CompletableFuture<byte[]>> pending = new ConcurrentHashMap<>();
    private final ExecutorService callbacks;
    private final Thread reader;
    private volatile boolean entered;
    /** Set (under {@link #writeLock}) when ENTER is sent: only callbacks make the agent read then. */
    private boolean running;
    /** Callbacks read and not yet answered; changed under {@link #writeLock} when answered. */
    private final AtomicInteger callbacksInFlight = new AtomicInteger();
    private volatile AgentException failure;
    /** Set by {@link #close}: the connection ends at jdryad's will from then on. */
    private volatile boolean closing;
    /** Whether the agent's end closed the connection before jdryad did (it died, or was killed). */
    private volatile boolean lostByAgent;
    private final AgentListener listener;
    private final ForkedChildren children;
    private final boolean ownsListener;

    /** Who started this agent's process (AgentLaunch: the warm server's client, or this JVM). */
    void startedBy(Spawner s) {
        spawner = s;
    }

    private AgentProcess(Process process, SocketChannel channel, CallbackHandler handler, AgentInfo info,
                         AgentListener listener, ForkedChildren children, boolean ownsListener) {
        this.process = process;
        this.listener = listener;
        this.children = children;
        this.ownsListener = ownsListener;
        this.channel = channel;
        this.handler = handler;
        this.info = info;
        this.vm = new ProcessVm((int) info.pid());
        this.callbacks = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "jdryad-agent-callback");
            t.setDaemon(true);
            return t;
        });
        this.reader = new Thread(this::readLoop, "jdryad-agent-reader");
        reader.setDaemon(true);
    }

    /**
     * Starts the agent with exactly {@code agentEnv} as its environment (plus jdryad's own
     * variables, which the agent removes), its stdin/stdout/stderr inherited, and waits for it
     * to connect and say HELLO.
     */
    public static AgentProcess start(Path agentBinary, Map<String, String> agentEnv, CallbackHandler handler,
            Duration connectTimeout) {
        return start(List.of(), agentBinary, agentEnv, handler, connectTimeout);
    }

    /**
     * As {@link #start(Path, Map, CallbackHandler, Duration)}, with the agent started through
     * {@code wrapper} (a command the agent's path is appended to): the process waited for is
     * the wrapper's, while memory requests go to the agent's own pid from HELLO.
     */
    public static AgentProcess start(List<String> wrapper, Path agentBinary, Map<String, String> agentEnv,
            CallbackHandler handler, Duration connectTimeout) {
        return start(Spawner.LOCAL, wrapper, agentBinary, agentEnv, handler, connectTimeout);
    }

    /** As above, with the process started by {@code spawner} (the warm server's client, or this JVM). */
    public static AgentProcess start(Spawner spawner, List<String> wrapper, Path agentBinary, Map<String, String> agentEnv,
            CallbackHandler handler, Duration connectTimeout) {
        return start(null, spawner, wrapper, agentBinary, List.of(), agentEnv, handler, connectTimeout);
    }

    /**
     * As above, for the program whose command line is {@code programArgv}: the agent's process
     * shows it as its own (/proc/PID/cmdline, ps). It is started as [agent, ARG...] with
     * JDRYAD_ARGV0, and execs itself as [ARGV0, ARG...] (native/agent.c: a JVM cannot give a
     * process an argv[0] other than the file it runs).
     */
    public static AgentProcess start(Spawner spawner, Path agentBinary, List<String> programArgv,
            Map<String, String> agentEnv, CallbackHandler handler, Duration connectTimeout) {
        return start(null, spawner, List.of(), agentBinary, programArgv, agentEnv, handler, connectTimeout);
    }

    /**
     * As {@link #start(Path, Map, CallbackHandler, Duration)}, on {@code shared}, a listener that
     * outlives this agent (--follow: the programs it execs connect there too). Closing this agent
     * then neither closes the listener nor kills the process, which may have become another
     * program by exec.
     */
    public static AgentProcess startOn(AgentListener shared, Spawner spawner, Path agentBinary, Map<String, String> agentEnv,
            CallbackHandler handler, Duration connectTimeout) {
        return start(shared, spawner, List.of(), agentBinary, List.of(), agentEnv, handler, connectTimeout);
    }

    private static AgentProcess start(AgentListener shared, Spawner spawner, List<String> wrapper, Path agentBinary,
            List<String> programArgv, Map<String, String> agentEnv, CallbackHandler handler, Duration connectTimeout) {
        return AgentLaunch.launch(shared, spawner, wrapper, agentBinary, programArgv, agentEnv)
                .connect(handler, connectTimeout);
    }

    /** The variables that lead an agent started with them to {@code listener} (the agent removes them). */
    public static Map<String, String> environmentFor(AgentListener listener) {
        return Map.of("JDRYAD_SOCKET", listener.socket().toString(),
                "JDRYAD_PID", Long.toString(ProcessHandle.current().pid()));
    }

    /**
     * The agent that said HELLO in {@code arrival}, started as (or under) {@code process}.
     * {@code ownsListener}: closing this agent closes the listener too (one run); otherwise the
     * listener serves later agents (gdb's next {@code run}).
     */
    public static AgentProcess connect(AgentListener listener, AgentListener.Arrival arrival, Process process,
            CallbackHandler handler, boolean ownsListener) {
        AgentInfo info = AgentWire.parseHello(arrival.hello());
        CallbackHandler h = handler == null ? CallbackHandler.GLIBC : handler;
        ForkedChildren children = new ForkedChildren(info, listener, h::bindLazily,
                h instanceof ForkAdopter a ? a : null, info.pid());
        AgentProcess ap = new AgentProcess(process, arrival.channel(), h, info, listener, children, ownsListener);
        listener.register(children);
        ap.reader.start();
        return ap;
    }

    /**
     * A child that {@code parent}'s process forked and that said HELLO_CHILD on {@code channel}:
     * its memory is a copy of the parent's, so it is the parent's agent with another pid (already
     * running the program: requests are served while one of its callbacks waits). Its own children
     * are routed through the run's {@link ForkedChildren}, not this connection's. Reading starts
     * with {@link #startReading}.
     */
    static AgentProcess child(AgentListener listener, SocketChannel channel, AgentInfo parent, long pid,
            CallbackHandler handler) {
        AgentInfo info = new AgentInfo(pid, parent.pageSize(), parent.agentBase(), parent.rDebug(), parent.rMap(),
                parent.rBrk(), parent.tlsReserveAddress(), parent.tlsReserveSize(), parent.threadPointer(),
                parent.tlsInitImageAddress(), parent.tlsInitImageSize(), parent.tlsModidBase(), parent.hostObjects(),
                parent.auxv(), parent.agentSymbols());
        AgentProcess ap = new AgentProcess(null, channel, handler, info, listener, null, false);
        ap.entered = true;
        ap.running = true;
        return ap;
    }

    /** Starts reading a child's connection ({@link #child}), once its handler can answer. */
    void startReading() {
        reader.start();
    }

    /** Waits until the connection has ended (a forked child exited or exec'd). */
    void awaitDisconnect() throws InterruptedException {
        reader.join();
    }

    private static String describeDeath(Process p, String when) {
        return p == null ? "jdryad: a forked child's connection ended " + when : AgentWire.describeDeath(p, when);
    }

    static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    // ---- reader thread and callbacks ----

    private void readLoop() {
        String why = null;
        try {
            for (;;) {
                byte[][] f = AgentWire.readFrame(channel);
                if (f == null) {
                    break;
                }
                ByteBuffer h = ByteBuffer.wrap(f[0]).order(ByteOrder.LITTLE_ENDIAN);
                int type = h.getInt(4);
                long s = h.getLong(8);
                if ((type & Protocol.REPLY) != 0) {
                    CompletableFuture<byte[]> fut = pending.remove(s);
                    if (fut != null) {
                        fut.complete(f[1]);
                    }
                } else {
                    callbacksInFlight.incrementAndGet();
                    callbacks.execute(() -> serveCallback(type, s, f[1]));
                }
            }
        } catch (IOException e) {
            // end of stream, or a frame no agent sends (then the connection is dropped below)
            if ("frame too large".equals(e.getMessage())) {
                why = "jdryad: protocol error: the agent sent a frame larger than " + Protocol.MAX_FRAME + " bytes";
            }
        } catch (RejectedExecutionException e) {
            // closed while a callback arrived
        } catch (RuntimeException e) {
            why = "jdryad: internal error reading from the agent: " + e;
        } finally {
            // Whatever ended the loop, the connection is over: close it (an agent still running
            // sees end of file and exits with status 127 instead of waiting for ever), fail every
            // pending request, and let the callback threads go.
            try {
                channel.close();
            } catch (IOException ignored) {
                // closing
            }
            AgentException ex = new AgentException(why != null ? why : describeDeath(process,
                    entered ? "while the program was running" : "before the program started"));
            lostByAgent = !closing;
            failure = ex;
            for (Long k : new ArrayList<>(pending.keySet())) {
                CompletableFuture<byte[]> fut = pending.remove(k);
                if (fut != null) {
                    fut.completeExceptionally(ex);
                }
            }
            callbacks.shutdown();
        }
    }

    private void serveCallback(int type, long s, byte[] payload) {
        CallbackReply reply;
        try {
            Payload.Reader r = new Payload.Reader(payload);
            long tid = r.q();
            switch (type) {
                case Protocol.CB_DLOPEN: {
                    long flags = r.q(), caller = r.q();
                    reply = handler.dlopen(r.s(), unsigned32(flags, "dlopen mode"), caller, tid);
                    break;
                }
                case Protocol.CB_DLMOPEN: {
                    long lmid = r.q(), flags = r.q(), caller = r.q();
                    reply = handler.dlmopen(lmid, r.s(), unsigned32(flags, "dlmopen mode"), caller, tid);
                    break;
                }
                case Protocol.CB_DLSYM: {
                    long handle = r.q(), caller = r.q();
                    String name = r.s();
                    reply = handler.dlsym(handle, name, r.s(), caller, tid);
                    break;
                }
                case Protocol.CB_DLCLOSE: {
                    long handle = r.q();
                    reply = handler.dlclose(handle, r.q(), tid);
                    break;
                }
                case Protocol.CB_DLADDR:
                    reply = handler.dladdr(r.q());
                    break;
                case Protocol.CB_DLINFO: {
                    long handle = r.q();
                    reply = handler.dlinfo(handle, unsigned32(r.q(), "dlinfo request"));
                    break;
                }
                case Protocol.CB_LAZY: {
                    long object = r.q(), index = r.q();
                    reply = handler.bindLazily(object, index, r.q(), tid, info.pid());
                    break;
                }
                default:
                    reply = CallbackReply.error("jdryad: unknown callback " + type);
            }
            if (reply == null) {
                reply = CallbackReply.error("jdryad: no answer for callback " + type);
            }
        } catch (RuntimeException | Error e) {
            // Every callback is answered, whatever the handler did: the program's thread waits.
            reply = CallbackReply.error(e.getMessage() == null ? e.toString() : e.getMessage());
        }
        Payload.Writer w = AgentWire.encode(reply);
        spawner.settleOutput(); // what the callback printed comes before what the program prints next
        try {
            sendFrame(type | Protocol.REPLY, s, w, true);
        } catch (AgentException e) {
            // the reader reports the agent's death
        }
    }

    /** An int the agent sent zero-extended ({@code (uint64_t)(unsigned)}); anything wider is no agent's. */
    private static int unsigned32(long v, String what) {
        if ((v >>> 32) != 0) {
            throw new AgentException("jdryad: malformed message from the agent (" + what + " 0x"
                    + Long.toHexString(v) + " is wider than 32 bits)");
        }
        return (int) v;
    }

    // ---- requests ----

    /**
     * Sends one frame. {@code callbackReply}: the frame answers a callback, which ends it (counted
     * under the lock, so a request sent before the last answer is read by the agent before that
     * answer, and one sent after it is refused, not left unread).
     */
    private void sendFrame(int type, long s, Payload.Writer w, boolean callbackReply) {
        sendFrame(type, s, w, callbackReply, null);
    }

    /** As above; with {@code fds} the frame carries those descriptors (SCM_RIGHTS, {@link DescriptorPassing}). */
    private void sendFrame(int type, long s, Payload.Writer w, boolean callbackReply, int[] fds) {
        ByteBuffer h = ByteBuffer.allocate(Protocol.HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        h.putInt(w.length()).putInt(type).putLong(s).flip();
        ByteBuffer p = ByteBuffer.wrap(w.array(), 0, w.length());
        synchronized (writeLock) {
            if (callbackReply) {
                callbacksInFlight.decrementAndGet();
            } else if (type == Protocol.ENTER) {
                running = true;
            } else if (running && callbacksInFlight.get() <= 0) {
                // After ENTER no agent thread reads the socket unless a callback waits for its
                // answer: the request would never be read. Say so instead of waiting for ever.
                throw new AgentException("jdryad: the agent cannot serve requests while the program runs "
                        + "(only while a callback from the program waits for its answer)");
            }
            try {
                if (fds != null) {
                    sendWithDescriptors(h, p, fds);
                }
                while (h.hasRemaining() || p.hasRemaining()) {
                    channel.write(new ByteBuffer[] {h, p});
                }
            } catch (IOException e) {
                AgentException f = failure;
                throw f != null ? f : new AgentException(describeDeath(process,
                        entered ? "while the program was running" : "before the program started"), e);
            }
        }
    }

    /** Writes the whole frame in one sendmsg with {@code fds} attached; fails when it could not (nothing was sent then). */
    private void sendWithDescriptors(ByteBuffer h, ByteBuffer p, int[] fds) throws IOException {
        int socket = PeerProcess.descriptorOf(channel);
        byte[] frame = new byte[h.remaining() + p.remaining()];
        h.get(frame, 0, h.remaining());
        p.get(frame, frame.length - p.remaining(), p.remaining());
        if (socket < 0 || !DescriptorPassing.send(socket, frame, fds)) {
            throw new IOException("cannot pass descriptors on the agent's connection");
        }
    }

    private Payload.Reader request(int type, Payload.Writer w) {
        return awaitReply(type, submit(type, w));
    }

    /**
     * Sends a request and returns at once with its answer to come: the agent serves requests in
     * the order sent, so one submitted ahead is carried out before any sent after it.
     */
    private CompletableFuture<byte[]> submit(int type, Payload.Writer w) {
        return submit(type, w, null);
    }

    /** As above; with {@code fds} the frame carries those descriptors. */
    private CompletableFuture<byte[]> submit(int type, Payload.Writer w, int[] fds) {
        AgentException f = failure;
        if (f != null) {
            throw f;
        }
        long s = seq.incrementAndGet();
        CompletableFuture<byte[]> fut = new CompletableFuture<>();
        pending.put(s, fut);
        if (failure != null) { // the reader may have finished between the check and put
            pending.remove(s);
            throw failure;
        }
        try {
            sendFrame(type, s, w, false, fds);
        } catch (RuntimeException e) {
            pending.remove(s);
            if (type == Protocol.ENTER) {
                stopRunning();
            }
            throw e;
        }
        return fut;
    }

    /** Waits for the answer to a request {@link #submit}ted. */
    private Payload.Reader awaitReply(int type, CompletableFuture<byte[]> fut) {
        try {
            byte[] reply = fut.get();
            if (type == Protocol.ENTER && (reply.length < 8
                    || ByteBuffer.wrap(reply).order(ByteOrder.LITTLE_ENDIAN).getLong(0) < 0)) {
                stopRunning(); // refused (a malformed request): the agent serves on
            }
            return new Payload.Reader(reply);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof AgentException ? (AgentException) e.getCause()
                    : new AgentException("jdryad: agent request failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AgentException("jdryad: interrupted while waiting for the agent", e);
        }
    }

    private static long check(long status, String what) {
        if (status < 0) {
            int errno = (int) -status;
            throw new AgentException("jdryad: " + what + ": " + AgentException.errnoName(errno), errno, null);
        }
        return status;
    }

    private static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    public AgentInfo info() {
        return info;
    }

    public long pid() {
        return info.pid();
    }

    public Process process() {
        return process;
    }

    /**
     * Maps {@code path} privately at {@code address} (mmap flags: {@link Protocol#MAP_FIXED} or
     * {@link Protocol#MAP_FIXED_NOREPLACE}, or 0 for a hint). The agent refuses (ESTALE) when the
     * file's device and inode are not {@code dev}/{@code ino} (-1/-1: no check).
     */
    public long mmapFile(long address, long length, int prot, int flags, long offset, Path path, long dev, long ino) {
        Payload.Writer w = new Payload.Writer().q(address).q(length).q(prot).q(flags).q(offset).q(dev).q(ino)
                .s(path.toString());
        return check(request(Protocol.MMAP_FILE, w).q(), "cannot map " + path + " at " + hex(address));
    }

    /**
     * {@link #mmapFile} at the fixed {@code address}, sent now: the returned check waits for the
     * agent's answer and throws as mmapFile would (also when the mapping is not at
     * {@code address}). Requests sent after are carried out after it.
     */
    public Runnable mmapFileAhead(long address, long length, int prot, long offset, Path path, long dev, long ino) {
        Payload.Writer w = new Payload.Writer().q(address).q(length).q(prot).q(Protocol.MAP_FIXED).q(offset).q(dev)
                .q(ino).s(path.toString());
        CompletableFuture<byte[]> reply = submit(Protocol.MMAP_FILE, w);
        return () -> checkFixed(check(awaitReply(Protocol.MMAP_FILE, reply).q(), "cannot map " + path + " at "
                + hex(address)), address, "cannot map " + path);
    }

    /** {@link #mmapAnon} at the fixed {@code address}, sent now: as {@link #mmapFileAhead}. */
    public Runnable mmapAnonAhead(long address, long length, int prot) {
        Payload.Writer w = new Payload.Writer().q(address).q(length).q(prot).q(Protocol.MAP_FIXED);
        CompletableFuture<byte[]> reply = submit(Protocol.MMAP_ANON, w);
        return () -> checkFixed(check(awaitReply(Protocol.MMAP_ANON, reply).q(), "cannot map " + length
                + " bytes at " + hex(address)), address, "cannot map " + length + " bytes");
    }

    private static void checkFixed(long at, long address, String what) {
        if (at != address) {
            throw new AgentException("jdryad: " + what + ": the agent mapped it at " + hex(at) + ", not at the fixed "
                    + hex(address));
        }
    }

    /** As above, checking the identity the file has now. */
    public long mmapFile(long address, long length, int prot, int flags, long offset, Path path) {
        long dev, ino;
        try {
            dev = ((Number) Files.getAttribute(path, "unix:dev")).longValue();
            ino = ((Number) Files.getAttribute(path, "unix:ino")).longValue();
        } catch (IOException | UnsupportedOperationException e) {
            throw new AgentException("jdryad: cannot stat " + path + ": " + e.getMessage(), e);
        }
        return mmapFile(address, length, prot, flags, offset, path, dev, ino);
    }

    public long mmapAnon(long address, long length, int prot, int flags) {
        Payload.Writer w = new Payload.Writer().q(address).q(length).q(prot).q(flags);
        return check(request(Protocol.MMAP_ANON, w).q(), "cannot map " + length + " bytes at " + hex(address));
    }

    public void mprotect(long address, long length, int prot) {
        check(request(Protocol.MPROTECT, new Payload.Writer().q(address).q(length).q(prot)).q(),
                "mprotect " + hex(address) + "+" + hex(length));
    }

    public void munmap(long address, long length) {
        check(request(Protocol.MUNMAP, new Payload.Writer().q(address).q(length)).q(),
                "munmap " + hex(address) + "+" + hex(length));
    }

    /** Writes memory: process_vm_writev when the kernel allows it, the socket otherwise. */
    public void write(long address, byte[] data) {
        write(address, data, 0, data.length);
    }

    public void write(long address, byte[] data, int off, int len) {
        if (vm.write(address, data, off, len)) {
            return;
        }
        writeViaSocket(address, data, off, len);
    }

    /** Writes through the agent (works on any writable page; -EFAULT is an exception, not a crash). */
    public void writeViaSocket(long address, byte[] data, int off, int len) {
        final int chunk = 16 << 20;
        for (int done = 0; done < len; done += chunk) {
            int n = Math.min(chunk, len - done);
            Payload.Writer w = new Payload.Writer().q(address + done).bytes(data, off + done, n);
            check(request(Protocol.WRITE, w).q(), "cannot write " + n + " bytes at " + hex(address + done));
        }
    }

    /** Reads memory: process_vm_readv when the kernel allows it, the socket otherwise. */
    public byte[] read(long address, int length) {
        if (length < 0) {
            throw new IllegalArgumentException("negative length " + length);
        }
        byte[] b = vm.read(address, length);
        return b != null ? b : readViaSocket(address, length);
    }

    /**
     * Reads memory with process_vm_readv only, never through the agent (which a debugger may
     * hold stopped); null when the kernel refuses or a page is not readable.
     */
    public byte[] readDirect(long address, int length) {
        if (length < 0) {
            throw new IllegalArgumentException("negative length " + length);
        }
        return vm.read(address, length);
    }

    public byte[] readViaSocket(long address, int length) {
        Payload.Reader r = request(Protocol.READ, new Payload.Writer().q(address).q(length));
        check(r.q(), "cannot read " + length + " bytes at " + hex(address));
        byte[] b = r.rest();
        if (b.length != length) {
            throw new AgentException("jdryad: malformed reply from the agent: " + b.length + " bytes read, "
                    + length + " asked for");
        }
        return b;
    }

    public long readLong(long address) {
        return ByteBuffer.wrap(read(address, 8)).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    /** Applies {@code *(uint64_t *)addrs[i] = values[i]} natively, in bulk. */
    public void writeWords(long[] addrs, long[] values) {
        writeWords(Protocol.WRITE_WORDS, addrs, values);
    }

    /** Applies {@code *(uint32_t *)addrs[i] = (uint32_t) values[i]} natively, in bulk. */
    public void writeWords32(long[] addrs, long[] values) {
        writeWords(Protocol.WRITE_WORDS32, addrs, values);
    }

    private void writeWords(int type, long[] addrs, long[] values) {
        sendWords(type, addrs, values, addrs.length).run();
    }

    /**
     * {@link #writeWords} ({@code narrow}: {@link #writeWords32}) of the first {@code count}
     * words, sent now: the returned check waits for the agent's answers and throws as writeWords
     * would. Requests sent after are carried out after these.
     */
    public Runnable writeWordsAhead(long[] addrs, long[] values, int count, boolean narrow) {
        return sendWords(narrow ? Protocol.WRITE_WORDS32 : Protocol.WRITE_WORDS, addrs, values, count);
    }

    private Runnable sendWords(int type, long[] addrs, long[] values, int count) {
        if (addrs.length != values.length || count < 0 || count > addrs.length) {
            throw new IllegalArgumentException("addrs and values differ in length, or count is outside them");
        }
        final int batch = 1 << 22; // 64 MiB frames
        List<CompletableFuture<byte[]>> sent = new ArrayList<>();
        for (int start = 0; start < count; start += batch) {
            int n = Math.min(batch, count - start);
            Payload.Writer w = new Payload.Writer().q(n);
            for (int i = start; i < start + n; i++) {
                w.q(addrs[i]).q(values[i]);
            }
            sent.add(submit(type, w));
        }
        return () -> {
            for (CompletableFuture<byte[]> f : sent) {
                check(awaitReply(type, f).q(), "bulk write of " + count + " words");
            }
        };
    }

    /**
     * RELOCATE_RELATIVE (native/relocate.h): the agent applies an object's DT_RELR table and the
     * first {@code relaCount} DT_RELA entries (all R_X86_64_RELATIVE) from its own mapped
     * tables, checking them against {@code runs} (start, end, prot triples: the object's pages).
     * The reply's status is the number of DT_RELR words relocated, or a negative errno when the
     * agent refused the request, in which case it wrote nothing.
     */
    public RelativeReply relocateRelative(long base, long rela, long relaCount, long relr, long relrSize, long[] runs) {
        return relocateRelativeAhead(base, rela, relaCount, relr, relrSize, runs).get();
    }

    /**
     * {@link #relocateRelative}, sent now and answered when the supplier is asked: the agent
     * faults in and writes the pages while the caller goes on (planning the object's symbolic
     * relocations), and what the caller sends after is carried out after it.
     */
    public Supplier<RelativeReply> relocateRelativeAhead(long base, long rela, long relaCount, long relr, long relrSize,
            long[] runs) {
        if (runs.length % 3 != 0) {
            throw new IllegalArgumentException("runs are (start, end, prot) triples");
        }
        Payload.Writer w = new Payload.Writer().q(base).q(rela).q(relaCount).q(relr).q(relrSize).q(runs.length / 3);
        for (long v : runs) {
            w.q(v);
        }
        CompletableFuture<byte[]> fut = submit(Protocol.RELOCATE_RELATIVE, w);
        return () -> {
            Payload.Reader r = awaitReply(Protocol.RELOCATE_RELATIVE, fut);
            return new RelativeReply(r.q(), r.q());
        };
    }

    /** RELOCATE_RELATIVE's answer: DT_RELR words relocated or -errno, and the first DT_RELA entry refused. */
    public record RelativeReply(long status, long refusedEntry) {
    }

    /** Calls each of {@code fns} with no arguments, in order, in one round trip; returns their %rax. */
    public long[] callEach(long[] fns) {
        Payload.Writer w = new Payload.Writer().q(fns.length);
        for (long f : fns) {
            w.q(f);
        }
        spawner.settleOutput();
        Payload.Reader r = request(Protocol.CALL_EACH, w);
        check(r.q(), "call " + fns.length + " functions");
        long[] results = new long[fns.length];
        for (int i = 0; i < results.length; i++) {
            results[i] = r.q();
        }
        return results;
    }

    /** Calls {@code fn(args...)} (at most 6 integer arguments) in the agent; returns %rax. */
    public long call(long fn, long... args) {
        if (args.length > 6) {
            throw new IllegalArgumentException("at most 6 arguments");
        }
        Payload.Writer w = new Payload.Writer().q(fn).q(args.length);
        for (long a : args) {
            w.q(a);
        }
        spawner.settleOutput();
        Payload.Reader r = request(Protocol.CALL, w);
        check(r.q(), "call " + hex(fn));
        return r.q();
    }

    /** Calls each of {@code functions} with (a0, a1, a2), in order, in one round trip (initialisers). */
    public void callAll(List<Long> functions, long a0, long a1, long a2) {
        Payload.Writer w = new Payload.Writer().q(a0).q(a1).q(a2).q(functions.size());
        for (long f : functions) {
            w.q(f);
        }
        spawner.settleOutput();
        check(request(Protocol.CALL_LIST, w).q(), "call " + functions.size() + " initialisers");
    }

    /** Zeroed read-write memory owned by the agent (never freed). */
    public long alloc(long size, long align) {
        return check(request(Protocol.ALLOC, new Payload.Writer().q(size).q(align)).q(), "alloc " + size);
    }

    /** Copies strings into agent memory; returns the address of a NULL-terminated char *[]. */
    public long placeStrings(List<String> strings) {
        Payload.Writer w = new Payload.Writer().q(strings.size());
        for (String s : strings) {
            w.s(s);
        }
        return check(request(Protocol.PLACE_STRINGS, w).q(), "place strings");
    }

    /** Loads a host object with glibc's real dlopen (RTLD_NOW | RTLD_GLOBAL by default). */
    public HostLibrary dlopenHost(String nameOrPath) {
        return dlopenHost(nameOrPath, Protocol.RTLD_NOW | Protocol.RTLD_GLOBAL);
    }

    public HostLibrary dlopenHost(String nameOrPath, int flags) {
        return hostLoaded(request(Protocol.DLOPEN_HOST, new Payload.Writer().q(flags).s(nameOrPath)), nameOrPath);
    }

    /** DLOPEN_HOST's and DLMOPEN_HOST's answer: the object glibc loaded, or glibc's words why not. */
    private static HostLibrary hostLoaded(Payload.Reader r, String nameOrPath) {
        long st = r.q();
        if (st == -1) {
            String msg = r.s();
            String text = msg == null || msg.isEmpty() ? nameOrPath + ": cannot load" : msg;
            throw new HostLoadException("jdryad: cannot load host object " + nameOrPath + ": " + text, text);
        }
        if (st < 0) {
            throw new AgentException("jdryad: cannot load host object " + nameOrPath + ": "
                    + AgentException.errnoName((int) -st));
        }
        long handle = r.q(), la = r.q(), ld = r.q(), modid = r.q(), off = r.q();
        return new HostLibrary(handle, la, ld, modid, off, r.s());
    }

    /**
     * glibc's dlmopen in the agent: a host object of namespace {@code lmid} (LM_ID_NEWLM, -1: a
     * new one), and the namespace glibc put it in.
     */
    public NamespacedHost dlmopenHost(long lmid, String nameOrPath, int flags) {
        Payload.Reader r = request(Protocol.DLMOPEN_HOST, new Payload.Writer().q(lmid).q(flags).s(nameOrPath));
        HostLibrary lib = hostLoaded(r, nameOrPath);
        return new NamespacedHost(lib, r.q());
    }

    /** A host object glibc's dlmopen loaded, and its namespace. */
    public record NamespacedHost(HostLibrary library, long lmid) {
    }

    /** TLS and link-map facts about an already loaded host object (dlopen with RTLD_NOLOAD). */
    public HostLibrary hostLibrary(String soname) {
        return dlopenHost(soname, Protocol.RTLD_LAZY | Protocol.RTLD_NOLOAD);
    }

    /** glibc's dlclose, looked up once (0: not yet). */
    private volatile long glibcDlclose;

    /** glibc's dlclose of a handle glibc's dlopen or dlmopen gave (DLOPEN_HOST, DLMOPEN_HOST), in the agent. */
    public void dlcloseHost(long handle) {
        long f = glibcDlclose;
        if (f == 0) {
            glibcDlclose = f = dlsymHost(0, "dlclose", null);
        }
        call(f, handle);
    }

    /** glibc's dlsym/dlvsym (version null: dlsym) in the agent. */
    public long dlsymHost(long handle, String name, String version) {
        Payload.Reader r = request(Protocol.DLSYM_HOST, new Payload.Writer().q(handle).s(name).s(version));
        long st = r.q();
        if (st < 0) {
            String msg = st == -1 ? r.s() : AgentException.errnoName((int) -st);
            throw new AgentException("jdryad: " + msg);
        }
        return r.q();
    }

    /**
     * Announces a link-map change to debuggers (DESIGN.md mechanism 1): {@code entries} is the
     * complete new list of jdryad objects in load order, {@code changed} names the objects added
     * or removed (for the jdryad_dl_activity hook).
     */
    public RDebugResult rDebugUpdate(int kind, List<RDebugEntry> entries, List<String> changed) {
        return rDebugUpdate(kind, entries, changed, ActivityCause.STARTUP);
    }

    /** As {@link #rDebugUpdate(int, List, List)}, saying why the map changed (jdryad_dl_activity's event). */
    public RDebugResult rDebugUpdate(int kind, List<RDebugEntry> entries, List<String> changed, ActivityCause why) {
        return rDebugUpdate(kind, entries, changed, why, 0);
    }

    /**
     * The link-map node object {@code id} will have in namespace {@code lmid}'s list, filled in
     * but on no list yet (RESERVE_NODE): what LD_AUDIT's la_objopen gets while objects are found.
     */
    public long reserveNode(long id, long lAddr, long lLd, String name, long lmid) {
        Payload.Reader r = request(Protocol.RESERVE_NODE, new Payload.Writer().q(id).q(lAddr).q(lLd).s(name).q(lmid));
        check(r.q(), "reserve a link-map node");
        return r.q();
    }

    /**
     * As above for namespace {@code lmid}: 0 is the base list (after copies of glibc's own
     * nodes); another is glibc's r_debug of that namespace (r_next chain), and {@code entries}
     * are all of its objects, host objects too.
     */
    public RDebugResult rDebugUpdate(int kind, List<RDebugEntry> entries, List<String> changed, ActivityCause why,
                                     long lmid) {
        Payload.Writer w = new Payload.Writer().q(kind).q(entries.size());
        for (RDebugEntry e : entries) {
            w.q(e.id()).q(e.lAddr()).q(e.lLd()).s(e.name());
        }
        w.q(changed.size());
        for (String s : changed) {
            w.s(s);
        }
        w.q(why.cause()).q(why.caller()).q(why.flags()).q(why.tid()).q(why.seq()).s(why.request()).q(lmid);
        Payload.Reader r = request(Protocol.R_DEBUG_UPDATE, w);
        check(r.q(), "r_debug update");
        long head = r.q();
        long n = r.q();
        if (n != entries.size()) {
            throw new AgentException("jdryad: malformed reply from the agent: " + n + " link-map nodes for "
                    + entries.size() + " objects");
        }
        long[] nodes = new long[(int) n];
        for (int i = 0; i < n; i++) {
            nodes[i] = r.q();
        }
        return new RDebugResult(head, nodes);
    }

    /**
     * Starts the lazy fast path (native/lazy.h): the agent maps {@code log} (a file of
     * {@code size} bytes with its header written) shared, and answers first calls from the
     * tables that {@code tables} (an array of {@code ntables} pointers in agent memory) points to.
     */
    public void lazySetup(Path log, long size, long tables, long ntables, boolean bindNot) {
        check(request(Protocol.LAZY_SETUP, new Payload.Writer().s(log.toString()).q(size).q(tables).q(ntables)
                .q(bindNot ? 1 : 0)).q(), "lazy setup");
    }

    /** A directory only jdryad's user can enter, removed when the agent is closed. */
    public Path privateDirectory() {
        return listener.directory();
    }

    /** Replaces the agent's table of jdryad objects (dl_iterate_phdr, _dl_find_object, TLS). */
    public void setObjectTable(List<ObjectTableEntry> objects) {
        Payload.Writer w = new Payload.Writer().q(objects.size());
        for (ObjectTableEntry o : objects) {
            w.q(o.kind()).q(o.linkMap()).q(o.base()).q(o.phdr()).q(o.phnum()).q(o.mapStart()).q(o.mapEnd()).q(o.ehFrameHdr())
                    .q(o.tlsModid()).q(o.tlsOffset()).s(o.name());
        }
        check(request(Protocol.OBJECT_TABLE, w).q(), "object table");
    }

    /**
     * Installs the composed static TLS image: the bytes just below the thread pointer in the
     * serving (main) thread, and the end of module 1's init image for threads created later.
     */
    public void setTlsImage(byte[] image) {
        check(request(Protocol.SET_TLS_IMAGE, new Payload.Writer().bytes(image, 0, image.length)).q(),
                "TLS image of " + image.length + " bytes (reservation is " + info.tlsReserveSize() + ")");
    }

    /**
     * Writes one TLS block's initial bytes at {@code tp - offset} in the main thread and at the
     * same place of module 1's init image, leaving the rest of the reservation (live
     * thread-local variables) untouched: for objects loaded by dlopen.
     */
    public void setTlsBlock(long offset, byte[] bytes) {
        check(request(Protocol.SET_TLS_BLOCK, new Payload.Writer().q(offset).bytes(bytes, 0, bytes.length)).q(),
                "TLS block of " + bytes.length + " bytes at tp-" + offset);
    }

    /**
     * Gives TLS module {@code index} (its id minus {@link Protocol#TLS_MODID_BASE}) dynamic TLS:
     * each thread allocates its {@code memsz}-byte block, aligned to {@code align}, with the
     * {@code filesz} bytes at {@code image} first, at its first access; {@code memsz} 0 retires it.
     */
    public void setTlsDynamic(long index, long image, long filesz, long memsz, long align) {
        check(request(Protocol.TLS_DYNAMIC, new Payload.Writer().q(index).q(image).q(filesz).q(memsz).q(align)).q(),
                "dynamic TLS of module index " + index);
    }

    /**
     * The program's auxv entries ({@code overrides}; {@code execfn}, or null, as AT_EXECFN) in
     * the agent's own auxv, which glibc's getauxval reads: from now on, the initialisers included.
     */
    public void setAuxv(Map<Long, Long> overrides, String execfn) {
        Payload.Writer w = new Payload.Writer().q(overrides.size());
        overrides.forEach((type, value) -> w.q(type).q(value));
        w.s(execfn);
        check(request(Protocol.SET_AUXV, w).q(), "set the program's auxv");
    }

    /**
     * Gives the program the descriptors {@code fds} of this JVM at the same numbers (SET_FDS, the
     * frame carrying them): those the user gave jdryad beyond stdin, stdout and stderr, which the
     * JVM's child did not inherit (see {@link DescriptorPassing}). Returns how many were placed;
     * 0 when they cannot be passed here (then the program runs without them, as before).
     */
    public int passDescriptors(int[] fds) {
        if (fds.length == 0 || fds.length > 64 || !DescriptorPassing.available()) {
            return 0;
        }
        Payload.Writer w = new Payload.Writer().q(fds.length);
        for (int fd : fds) {
            w.q(fd);
        }
        try {
            long placed = awaitReply(Protocol.SET_FDS, submit(Protocol.SET_FDS, w, fds)).q();
            return placed < 0 ? 0 : (int) placed;
        } catch (AgentException e) {
            return 0; // not passed: the program runs without them (an agent that died says so at its next request)
        }
    }

    /**
     * The program's path, answered to jdryad objects' readlink("/proc/self/exe"), and the path
     * it was exec'ed as, whose base name becomes the process's name (/proc/PID/comm).
     */
    public void setExePath(String path, String executed) {
        check(request(Protocol.SET_EXE, new Payload.Writer().s(path).s(executed)).q(), "set the program's path");
    }

    /** What the finaliser runs at exit, in order. */
    public void setFini(List<FiniEntry> entries) {
        Payload.Writer w = new Payload.Writer().q(entries.size());
        for (FiniEntry e : entries) {
            w.q(e.kind()).q(e.address()).q(e.count());
        }
        check(request(Protocol.SET_FINI, w).q(), "fini list");
    }

    /**
     * Enters the program at {@code entry} with a fresh initial stack; returns once the agent has
     * said it is entering. {@code auxvOverrides} (AT_PHDR, AT_PHNUM, AT_ENTRY, AT_BASE...) patch
     * both the new and the original auxv; {@code execfn} (or null) becomes AT_EXECFN.
     * {@code prognameFull}/{@code prognameShort} are addresses of {@code char *} variables set to
     * argv[0] and its basename (empty: libc's program_invocation_name/_short_name).
     */
    public void enter(long entry, List<String> argv, List<String> envp, Map<Long, Long> auxvOverrides, String execfn,
            long[] prognameFull, long[] prognameShort, long[] environSlots) {
        Payload.Writer w = new Payload.Writer().q(entry).q(argv.size());
        for (String s : argv) {
            w.s(s);
        }
        w.q(envp.size());
        for (String s : envp) {
            w.s(s);
        }
        w.q(auxvOverrides.size());
        for (Map.Entry<Long, Long> e : auxvOverrides.entrySet()) {
            w.q(e.getKey()).q(e.getValue());
        }
        w.s(execfn);
        w.q(prognameFull.length);
        for (long a : prognameFull) {
            w.q(a);
        }
        w.q(prognameShort.length);
        for (long a : prognameShort) {
            w.q(a);
        }
        w.q(environSlots.length);
        for (long a : environSlots) {
            w.q(a);
        }
        entered = true;
        spawner.settleOutput();
        check(request(Protocol.ENTER, w).q(), "enter the program at " + hex(entry));
    }

    /**
     * Has the agent's main thread let any process of the user trace it, write {@code line} (or
     * nothing, when null) to its stderr, and block until a debugger has attached and let it go
     * on; returns the tracer's pid (0: the debugger detached). Returns at once when the agent is
     * traced already. Blocks as long as nobody attaches; fails with an AgentException when the
     * agent dies meanwhile.
     */
    public long waitForDebugger(String line) {
        return check(request(Protocol.WAIT_DEBUGGER, new Payload.Writer().s(line)).q(), "wait for a debugger");
    }

    private void stopRunning() {
        synchronized (writeLock) {
            running = false;
        }
        entered = false;
    }

    /** Sends a raw request and returns the reply's payload; for tests of malformed requests. */
    byte[] rawRequest(int type, byte[] payload) {
        Payload.Reader r = request(type, new Payload.Writer().bytes(payload, 0, payload.length));
        return r.rest();
    }

    /** Waits for the process to end; returns its status as a shell reports it (128+N for signal N). */
    public int waitForExit() {
        try {
            return process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AgentException("jdryad: interrupted while waiting for the program", e);
        }
    }

    /** Whether the agent's process still runs (under a debugger: the agent's, not the debugger's). */
    public boolean isAlive() {
        if (process.pid() == info.pid()) {
            return process.isAlive();
        }
        return ProcessHandle.of(info.pid()).map(ProcessHandle::isAlive).orElse(false);
    }

    /**
     * Waits for the agent's own process to end, when it runs under a wrapper (gdb): it is not
     * jdryad's child, so its status is the debugger's to report.
     */
    public void waitForAgentEnd() {
        try {
            ProcessHandle h = ProcessHandle.of(info.pid()).orElse(null);
            if (h != null) {
                h.onExit().get();
            }
        } catch (ExecutionException e) {
            // it ended
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AgentException("jdryad: interrupted while waiting for the program", e);
        }
    }

    /**
     * Waits until the connection has ended: the agent's process exited, or exec'ed another
     * program (the socket is close-on-exec), or the program closed it.
     */
    public void waitForDisconnect() {
        try {
            reader.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AgentException("jdryad: interrupted while waiting for the program", e);
        }
    }

    /** Closes the connection only (the agent then exits with status 127); for tests. */
    void disconnect() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    /**
     * Whether the connection ended from the agent's side before jdryad closed it: the process
     * died or was killed (under gdb: gdb's {@code kill}, or gdb exiting), not a refusal.
     */
    public boolean lostByAgent() {
        return lostByAgent;
    }

    /** Kills the process this run started, if it still runs, and releases the connection. */
    @Override
    public void close() {
        closing = true;
        if (ownsListener && process != null && process.isAlive()) {
            process.destroyForcibly(); // started for this run (an agent gdb started is gdb's: it sees end of file)
        }
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing
        }
        if (children != null) {
            listener.unregister(children);
            children.close();
        }
        if (ownsListener) {
            listener.close();
        }
        callbacks.shutdownNow();
    }
}
