package org.jdryad.run;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.jdryad.agent.AgentProcess;
import org.jdryad.debug.BindingHistory;
import org.jdryad.link.LinkSession;
import org.jdryad.link.LoadedObject;

/**
 * The Java half of the lazy fast path (native/lazy.h has the other). A first call that waits
 * for a JVM round trip costs hundreds of times glibc's; so while the program runs, Java works
 * out every lazily bound slot's answer by the same rules it uses at the call, and writes them
 * into tables in the agent. The agent answers a first call from its table, appends a record to
 * a log file both sides map, and asks Java only where no answer was prepared. Java drains the
 * log into the binding history, so every binding is still decided and recorded by Java.
 *
 * <p>Layouts (little-endian 64-bit words): a table is {generation, count, then per slot target,
 * GOT slot, name, version, target ^ slot ^ name ^ version ^ KEY}, where name and version are
 * the addresses of the relocation's symbol name and version (0: none) in strings written once
 * per object when it is added ({@link PltNames}; the agent's binding hook hands them to
 * debuggers); the log is a 64-byte header {magic, capacity, next, dropped}
 * then 64-byte records {seq (index + 1, stored last), object, index, caller, tid, pid, time,
 * target}. A torn or stale entry fails its check or its generation, and the call asks Java.
 */
final class LazyTables implements LinkSession.LazyObserver, AutoCloseable {
    static final long KEY = 0x6a64727961644b59L;
    static final long MAGIC = 0x31676f6c797a616cL;
    static final int MAX_OBJECTS = 4096;
    static final int CAPACITY = 1 << 18;
    private static final int HEADER = 64;
    private static final int RECORD = 64;
    private static final int ENTRY = 40; // native/lazy.h: JD_LAZY_ENTRY_WORDS words
    private static final VarHandle WORD = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final AgentProcess agent;
    private final LinkSession session;
    private final BindingHistory history;
    private final Path file;
    private final MappedByteBuffer log;
    private final long tables;
    private final long generationAddress;
    private final Map<Long, Long> tableAddress = new ConcurrentHashMap<>();
    /** Each object's PLT names as written into the agent, and where. */
    private final Map<Long, Names> names = new ConcurrentHashMap<>();
    private final Map<Long, LinkSession.Prepared[]> prepared = new ConcurrentHashMap<>();
    /** The generation each object's answers were prepared for. */
    private final Map<Long, Long> preparedFor = new ConcurrentHashMap<>();
    /** Each object's blocks in the agent: {table, its bytes, names, their bytes}. */
    private final Map<Long, long[]> blocks = new ConcurrentHashMap<>();
    /** Blocks of unloaded objects, by size, for the next objects ({@link #take}). */
    private final Map<Long, java.util.Deque<Long>> spare = new ConcurrentHashMap<>();
    private final Object fillLock = new Object();
    private volatile long generation = 1;
    private volatile boolean running;
    private volatile boolean closed;
    private long drained;
    private Thread worker;

    private LazyTables(AgentProcess agent, LinkSession session, BindingHistory history, Path file, MappedByteBuffer log,
                       long tables) {
        this.agent = agent;
        this.session = session;
        this.history = history;
        this.file = file;
        this.log = log;
        this.tables = tables;
        this.generationAddress = agent.info().symbol("jd_lazy_generation");
    }

    /** Creates the log and the table index and tells the agent; call before relocating. */
    static LazyTables start(AgentProcess agent, LinkSession session, BindingHistory history, boolean bindNot)
            throws IOException {
        Path file = logFile(agent);
        long size = HEADER + (long) RECORD * CAPACITY;
        MappedByteBuffer log;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            log = ch.map(FileChannel.MapMode.READ_WRITE, 0, size); // sparse: pages appear as records do
        }
        log.order(ByteOrder.LITTLE_ENDIAN);
        log.putLong(0, MAGIC).putLong(8, CAPACITY);
        long tables = agent.alloc(8L * MAX_OBJECTS, 8);
        agent.lazySetup(file, size, tables, MAX_OBJECTS, bindNot);
        LazyTables t = new LazyTables(agent, session, history, file, log, tables);
        session.setLazyObserver(t);
        return t;
    }

    /**
     * Where the log lives: in memory (a tmpfs, /dev/shm) when there is one, since a disk file's
     * pages would be written back as the agent dirties them; else in the agent's private
     * directory. Either way only jdryad's user can open it (0600, created anew, no name reused).
     */
    private static Path logFile(AgentProcess agent) throws IOException {
        Path shm = Path.of("/dev/shm");
        if (Files.isDirectory(shm) && Files.isWritable(shm)) {
            return Files.createTempFile(shm, "jdryad-lazy-", ".log",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        }
        return Files.createTempFile(agent.privateDirectory(), "lazy-", ".log",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    }

    /** A new lazy object: its (empty) table, so the agent can look there; answers come later. */
    @Override
    public void added(long id, LoadedObject obj) {
        if (id <= 0 || id >= MAX_OBJECTS || obj.dynamic().isEmpty()) {
            return;
        }
        long count = obj.dynamic().get().pltRela().count();
        long tableBytes = 16 + ENTRY * count;
        long addr = take(tableBytes);
        PltNames.Image image = PltNames.image(obj);
        long stringBytes = Math.max(1, image.bytes().length);
        long strings = take(stringBytes);
        agent.write(strings, image.bytes());
        names.put(id, new Names(image, strings));
        blocks.put(id, new long[] {addr, tableBytes, strings, stringBytes});
        agent.writeWords(new long[] {tables + 8 * id}, new long[] {addr});
        tableAddress.put(id, addr);
        if (running) {
            fillSoon();
        }
    }

    @Override
    public void scopesChanged() {
        long g = ++generation;
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, g);
        agent.write(generationAddress, b.array(), 0, 8);
        retireUnloaded(); // at the dlclose itself, so the next dlopen can take the blocks
        fillSoon();
    }

    /** Retires the objects the session no longer has (dlclose unloaded them). */
    private void retireUnloaded() {
        // the ids first: an object is in the session before it is added here, so one added
        // meanwhile is either not among the ids or already among the live
        java.util.List<Long> ids = java.util.List.copyOf(tableAddress.keySet());
        Map<Long, LoadedObject> live = session.lazyObjects();
        for (Long id : ids) {
            if (!live.containsKey(id)) {
                retire(id);
            }
        }
    }

    /** Linking is done: prepare answers in the background from now on, and drain the log as it fills. */
    void startPreparing() {
        running = true;
        worker = new Thread(this::work, "jdryad-lazy-tables");
        worker.setDaemon(true);
        worker.start();
    }

    private void fillSoon() {
        synchronized (fillLock) {
            fillLock.notifyAll();
        }
    }

    private void work() {
        while (!closed) {
            try {
                fillAll();
                drain();
                synchronized (fillLock) {
                    fillLock.wait(20);
                }
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                // the agent is gone, or an object vanished while its table was written: the
                // first calls that remain ask Java, which answers them as before
                if (!agent.isAlive()) {
                    return;
                }
            }
        }
    }

    /** Writes the answers of every object that has none for the current generation. */
    private void fillAll() {
        for (Map.Entry<Long, Long> e : tableAddress.entrySet()) {
            long id = e.getKey();
            long g = generation;
            if (preparedFor.getOrDefault(id, 0L) == g || closed) {
                continue;
            }
            Optional<LoadedObject> obj = Optional.ofNullable(session.lazyObjects().get(id));
            if (obj.isEmpty() || obj.get().dynamic().isEmpty()) {
                retire(id);
                continue;
            }
            LinkSession.Prepared[] answers = session.prepareAll(id);
            Names n = names.get(id);
            int count = (int) Math.min(answers.length, (Integer.MAX_VALUE - 16) / ENTRY);
            ByteBuffer words = ByteBuffer.allocate(16 + ENTRY * count).order(ByteOrder.LITTLE_ENDIAN);
            words.putLong(0, g).putLong(8, count);
            for (int i = 0; i < count; i++) {
                LinkSession.Prepared p = answers[i];
                if (p != null) {
                    long name = n == null ? 0 : n.image().address(n.at(), i, 0);
                    long version = n == null ? 0 : n.image().address(n.at(), i, 1);
                    int at = 16 + ENTRY * i;
                    words.putLong(at, p.target()).putLong(at + 8, p.slot()).putLong(at + 16, name)
                            .putLong(at + 24, version).putLong(at + 32, p.target() ^ p.slot() ^ name ^ version ^ KEY);
                }
            }
            synchronized (blocks) { // the table is not retired and given to another object meanwhile
                if (g != generation || !blocks.containsKey(id)) {
                    continue; // a scope changed meanwhile: prepare again with the new generation
                }
                prepared.put(id, answers);
                preparedFor.put(id, g);
                agent.write(e.getValue(), words.array(), 0, words.capacity());
            }
        }
    }

    /**
     * Zeroed agent memory of {@code bytes}: a block an unloaded object gave back ({@link #retire}),
     * else a new one. Why reuse: a dlopen/dlclose cycle of a lazily bound library would otherwise
     * leave its table and names in the agent each time.
     */
    private long take(long bytes) {
        java.util.Deque<Long> d = spare.get(bytes);
        Long a = d == null ? null : d.poll();
        if (a == null) {
            return agent.alloc(bytes, 16);
        }
        if (bytes <= Integer.MAX_VALUE) {
            agent.write(a, new byte[(int) bytes]); // a stale entry must fail its generation or check
        }
        return a;
    }

    /**
     * An object that is no longer loaded: the agent stops looking at its table (its code is
     * unmapped, so no first call of it can come), and its blocks wait for the next object.
     * Its records were drained at its dlclose ({@link #drain}).
     */
    private void retire(long id) {
        long[] b;
        synchronized (blocks) {
            tableAddress.remove(id);
            names.remove(id);
            prepared.remove(id);
            preparedFor.remove(id);
            b = blocks.remove(id);
        }
        if (b != null) {
            agent.writeWords(new long[] {tables + 8 * id}, new long[] {0});
            spare.computeIfAbsent(b[1], k -> new java.util.concurrent.ConcurrentLinkedDeque<>()).push(b[0]);
            spare.computeIfAbsent(b[3], k -> new java.util.concurrent.ConcurrentLinkedDeque<>()).push(b[2]);
        }
    }

    /** An object's PLT names ({@link PltNames#image}) and the agent address they were written at. */
    private record Names(PltNames.Image image, long at) {
    }

    /**
     * Moves the log's complete records into the binding history, in the order the agent took them,
     * and tells the session what each bound (its relocation dependencies).
     */
    @Override
    public synchronized void drain() {
        long next = Math.min((long) WORD.getAcquire(log, 16), CAPACITY);
        for (; drained < next; drained++) {
            int at = HEADER + (int) drained * RECORD;
            if ((long) WORD.getAcquire(log, at) != drained + 1) {
                return; // still being written: the rest waits for the next drain
            }
            long object = log.getLong(at + 8), index = log.getLong(at + 16), caller = log.getLong(at + 24);
            long tid = log.getLong(at + 32), pid = log.getLong(at + 40), time = log.getLong(at + 48);
            LinkSession.Prepared[] answers = prepared.get(object);
            LinkSession.Prepared p = answers != null && index >= 0 && index < answers.length ? answers[(int) index] : null;
            if (p == null || p.target() != log.getLong(at + 56)) {
                p = reprepare(object, index, p);
            }
            if (p != null) {
                history.add(p.binding().calledFrom(caller, tid, pid), time);
                session.countLazyBinding();
                session.bound(p.referrer(), p.definer());
            }
        }
    }

    /**
     * The answer of a record whose slot was prepared again since (a scope changed). The log lies
     * in the program's memory, so a record may also be nonsense: that gives {@code fallback}.
     */
    private LinkSession.Prepared reprepare(long object, long index, LinkSession.Prepared fallback) {
        try {
            return session.prepare(object, index).orElse(fallback);
        } catch (RuntimeException e) {
            return fallback;
        }
    }

    /** Stops preparing, drains what the run left in the log, and removes the file. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed && worker == null) {
            return;
        }
        closed = true;
        running = false;
        if (worker != null) {
            worker.interrupt();
            try {
                worker.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            worker = null;
        }
        drain();
        try {
            Files.deleteIfExists(file);
            if (!agent.isAlive() && file.getParent().equals(agent.privateDirectory())) {
                Files.deleteIfExists(file.getParent()); // when the agent went first, its directory stayed for us
            }
        } catch (IOException ignored) {
            // the private directory goes with the agent
        }
    }
}
