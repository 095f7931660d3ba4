package org.jdryad.agent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentProcessTest {
    static final Path AGENT = Paths.get(System.getProperty("jdryad.agent", "target/native-out/jdryad-agent"));
    static final Duration TIMEOUT = Duration.ofSeconds(20);

    @TempDir
    Path tmp;

    private final List<AgentProcess> started = new ArrayList<>();

    private AgentProcess start(CallbackHandler h) {
        AgentProcess ap = AgentProcess.start(AGENT, Map.of("PATH", "/usr/bin:/bin", "JDRYAD_LD_X", "y"), h,
                Duration.ofSeconds(10));
        started.add(ap);
        return ap;
    }

    @AfterEach
    void cleanup() {
        for (AgentProcess ap : started) {
            ap.close();
        }
    }

    private static long le(byte[] b, int off) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(off);
    }

    private static String cString(AgentProcess ap, long addr) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (long a = addr;; a += 16) {
            for (byte c : ap.read(a, 16 - (int) (a & 15))) {
                if (c == 0) {
                    return out.toString(StandardCharsets.UTF_8);
                }
                out.write(c);
            }
            a &= ~15L;
        }
    }

    @Test
    void helloDescribesTheProcess() {
        AgentProcess ap = start(null);
        AgentInfo i = ap.info();
        assertEquals(ap.process().pid(), i.pid());
        assertEquals(4096, i.pageSize());
        assertNotEquals(0, i.rDebug());
        assertNotEquals(0, i.rBrk());
        assertNotNull(i.hostObject("libc.so.6"), "libc in the host map: " + i.hostObjects());
        assertEquals("", i.hostObjects().get(0).name(), "first host node is the agent executable");
        assertTrue(i.tlsReserveSize() >= 8192 && i.tlsReserveSize() % 64 == 0, "reservation " + i.tlsReserveSize());
        assertEquals(i.threadPointer() - i.tlsReserveSize(), i.tlsReserveAddress());
        assertEquals(i.tlsReserveSize(), i.tlsInitImageSize());
        assertTrue(i.tlsInitImageAddress() > i.agentBase());
        assertEquals(4096L, i.auxv().get(Protocol.AT_PAGESZ));
        assertTrue(i.symbol("jdryad_dlopen") > i.agentBase());
        assertEquals(Protocol.TLS_MODID_BASE, i.tlsModidBase());
        // r_debug.r_map is glibc's list head, which HELLO also reported
        assertEquals(i.rMap(), ap.readLong(i.rDebug() + 8));
        assertEquals(i.hostObjects().get(0).linkMap(), i.rMap());
    }

    @Test
    void agentEnvironmentHasNoJdryadVariables() throws IOException {
        AgentProcess ap = start(null);
        String env = Files.readString(Paths.get("/proc/" + ap.pid() + "/environ"));
        // /proc/PID/environ shows the original block; check what libc's environ sees instead
        long environAddr = ap.dlsymHost(0, "environ", null);
        long envp = ap.readLong(environAddr);
        List<String> vars = new ArrayList<>();
        for (int k = 0; k < 64; k++) {
            long p = ap.readLong(envp + 8L * k);
            if (p == 0) {
                break;
            }
            vars.add(cString(ap, p));
        }
        assertTrue(vars.contains("PATH=/usr/bin:/bin"), vars.toString());
        assertFalse(vars.stream().anyMatch(v -> v.startsWith("JDRYAD_")), vars + " (kernel block: " + env + ")");
    }

    @Test
    void mapsAFileAndChecksItsIdentity() throws IOException {
        AgentProcess ap = start(null);
        byte[] content = new byte[8192];
        for (int k = 0; k < content.length; k++) {
            content[k] = (byte) (k * 7);
        }
        Path f = tmp.resolve("data.bin");
        Files.write(f, content);
        long a = ap.mmapFile(0, 8192, Protocol.PROT_READ, 0, 4096, f);
        assertNotEquals(0, a);
        byte[] back = ap.read(a, 4096);
        byte[] expect = new byte[4096];
        System.arraycopy(content, 4096, expect, 0, 4096);
        assertArrayEquals(expect, back);
        assertArrayEquals(expect, ap.readViaSocket(a, 4096));

        // fixed placement, then a refusal of MAP_FIXED_NOREPLACE on top of it
        long b = ap.mmapFile(a + 0x100000, 4096, Protocol.PROT_READ, Protocol.MAP_FIXED, 0, f);
        assertEquals(a + 0x100000, b);
        AgentException busy = assertThrows(AgentException.class,
                () -> ap.mmapFile(b, 4096, Protocol.PROT_READ, Protocol.MAP_FIXED_NOREPLACE, 0, f));
        assertEquals(17, busy.errno());

        AgentException stale = assertThrows(AgentException.class,
                () -> ap.mmapFile(0, 4096, Protocol.PROT_READ, 0, 0, f, 1, 2));
        assertEquals(116, stale.errno());
        assertTrue(stale.getMessage().contains("data.bin"), stale.getMessage());
        AgentException missing = assertThrows(AgentException.class,
                () -> ap.mmapFile(0, 4096, Protocol.PROT_READ, 0, 0, tmp.resolve("nope"), -1, -1));
        assertEquals(2, missing.errno());
    }

    /**
     * Mappings sent ahead (SegmentMapper maps an object's segments so): carried out in the order
     * sent, each failure thrown by its own check, in mmapFile's words, and the agent serves on.
     */
    @Test
    void mappingsSentAheadAreCheckedLater() throws IOException {
        AgentProcess ap = start(null);
        byte[] content = new byte[8192];
        java.util.Arrays.fill(content, (byte) 0x5a);
        Path f = tmp.resolve("ahead.bin");
        Files.write(f, content);
        long dev = ((Number) Files.getAttribute(f, "unix:dev")).longValue();
        long ino = ((Number) Files.getAttribute(f, "unix:ino")).longValue();
        long r = ap.mmapAnon(0, 4 * 4096, Protocol.PROT_NONE, Protocol.MAP_NORESERVE);
        Runnable first = ap.mmapFileAhead(r, 8192, Protocol.PROT_READ, 0, f, dev, ino);
        Runnable stale = ap.mmapFileAhead(r + 8192, 4096, Protocol.PROT_READ, 0, f, dev, ino + 1);
        Runnable anon = ap.mmapAnonAhead(r + 12288, 4096, Protocol.PROT_READ | Protocol.PROT_WRITE);
        byte[] back = ap.readViaSocket(r, 8192); // served after the three
        assertArrayEquals(content, back);
        first.run();
        AgentException e = assertThrows(AgentException.class, stale::run);
        assertEquals(116, e.errno());
        assertTrue(e.getMessage().contains("cannot map " + f), e.getMessage());
        anon.run();
        ap.write(r + 12288, new byte[] {1, 2, 3});
        assertArrayEquals(new byte[] {1, 2, 3}, ap.readViaSocket(r + 12288, 3));
    }

    @Test
    void anonymousMemoryWritesAndBulkWords() {
        AgentProcess ap = start(null);
        long a = ap.mmapAnon(0, 65536, Protocol.PROT_READ | Protocol.PROT_WRITE, 0);
        byte[] data = "hello, agent".getBytes(StandardCharsets.UTF_8);
        ap.write(a, data);
        assertArrayEquals(data, ap.readViaSocket(a, data.length));
        ap.writeViaSocket(a + 100, data, 0, data.length);
        assertArrayEquals(data, ap.read(a + 100, data.length));

        int n = 5000;
        long[] addrs = new long[n];
        long[] values = new long[n];
        for (int k = 0; k < n; k++) {
            addrs[k] = a + 8L * k;
            values[k] = 0x1122334455667788L + k;
        }
        ap.writeWords(addrs, values);
        byte[] back = ap.read(a, 8 * n);
        for (int k = 0; k < n; k++) {
            assertEquals(values[k], le(back, 8 * k));
        }
        ap.writeWords32(new long[] {a}, new long[] {0xdeadbeefcafef00dL});
        assertEquals(0x11223344cafef00dL, ap.readLong(a));

        ap.mprotect(a, 4096, Protocol.PROT_READ);
        AgentException e = assertThrows(AgentException.class, () -> ap.writeViaSocket(a, data, 0, 4));
        assertEquals(14, e.errno());
        assertTrue(ap.isAlive(), "a bad write must not crash the agent");
        ap.munmap(a, 65536);
        assertThrows(AgentException.class, () -> ap.readViaSocket(a, 8));
    }

    /** lea (%rdi,%rsi),%rax; add %rdx,%rax; ret */
    static final byte[] ADD3 = {0x48, (byte) 0x8d, 0x04, 0x37, 0x48, 0x01, (byte) 0xd0, (byte) 0xc3};

    @Test
    void callsAFunction() {
        AgentProcess ap = start(null);
        long code = ap.mmapAnon(0, 4096, Protocol.PROT_READ | Protocol.PROT_WRITE, 0);
        ap.write(code, ADD3);
        ap.mprotect(code, 4096, Protocol.PROT_READ | Protocol.PROT_EXEC);
        assertEquals(6, ap.call(code, 1, 2, 3));
        assertEquals(-1, ap.call(code, 0x10, -0x11));
        long getpid = ap.dlsymHost(0, "getpid", null);
        assertEquals(ap.pid(), ap.call(getpid));
    }

    /** CALL_EACH: functions without arguments (IFUNC resolvers in bulk), each result in order. */
    @Test
    void callsEachOfAListAndAnswersEveryResult() {
        AgentProcess ap = start(null);
        long getpid = ap.dlsymHost(0, "getpid", null);
        long getppid = ap.dlsymHost(0, "getppid", null);
        assertArrayEquals(new long[] {ap.pid(), ProcessHandle.current().pid(), ap.pid()},
                ap.callEach(new long[] {getpid, getppid, getpid}));
        assertArrayEquals(new long[0], ap.callEach(new long[0]));
    }

    @Test
    void placesStringsAndAllocates() {
        AgentProcess ap = start(null);
        long v = ap.placeStrings(List.of("prog", "arg one"));
        assertEquals("prog", cString(ap, ap.readLong(v)));
        assertEquals("arg one", cString(ap, ap.readLong(v + 8)));
        assertEquals(0, ap.readLong(v + 16));
        long m = ap.alloc(1000, 64);
        assertEquals(0, m % 64);
        assertEquals(0, ap.readLong(m));
    }

    @Test
    void loadsHostObjects() {
        AgentProcess ap = start(null);
        HostLibrary m = ap.dlopenHost("libm.so.6");
        assertNotEquals(0, m.handle());
        assertNotEquals(0, m.lAddr());
        assertTrue(m.name().endsWith("libm.so.6"), m.name());
        assertEquals(0, m.tlsModid());
        long cos = ap.dlsymHost(m.handle(), "cos", null);
        assertTrue(cos > m.lAddr());
        HostLibrary libc = ap.hostLibrary("libc.so.6");
        assertTrue(libc.tlsModid() > 0, "libc has TLS");
        assertTrue(libc.tlsOffset() > ap.info().tlsReserveSize(), "libc's block lies below the reservation");
        AgentException e = assertThrows(AgentException.class, () -> ap.dlopenHost("libdoesnotexist.so.9"));
        assertTrue(e.getMessage().contains("libdoesnotexist.so.9: cannot open shared object file"), e.getMessage());
    }

    @Test
    void rDebugListIsVisibleToDebuggers() {
        AgentProcess ap = start(null);
        AgentInfo i = ap.info();
        RDebugResult r = ap.rDebugUpdate(Protocol.RT_ADD,
                List.of(new RDebugEntry(1, 0, 0x401000, "/tmp/prog"), new RDebugEntry(2, 0x7f0000000000L, 0x7f0000001000L,
                        "/tmp/libfoo.so")),
                List.of("/tmp/prog", "/tmp/libfoo.so"));
        assertEquals(2, r.nodes().length);
        long head = ap.readLong(i.rDebug() + 8);
        assertEquals(r.head(), head);
        assertNotEquals(i.rMap(), head, "r_map points at the agent's own list");
        assertEquals(0, ByteBuffer.wrap(ap.read(i.rDebug() + 24, 4)).order(ByteOrder.LITTLE_ENDIAN).getInt(),
                "r_state == RT_CONSISTENT");
        List<String> names = new ArrayList<>();
        long prev = 0;
        for (long n = head; n != 0; n = ap.readLong(n + 24)) {
            assertEquals(prev, ap.readLong(n + 32), "l_prev");
            names.add(cString(ap, ap.readLong(n + 8)));
            prev = n;
        }
        assertEquals("", names.get(0));
        assertEquals(i.hostObjects().size() + 2, names.size());
        assertEquals(List.of("/tmp/prog", "/tmp/libfoo.so"), names.subList(names.size() - 2, names.size()));
        assertEquals(0x7f0000000000L, ap.readLong(r.nodes()[1]));

        // a second event keeps node addresses stable, and deletes
        RDebugResult r2 = ap.rDebugUpdate(Protocol.RT_DELETE, List.of(new RDebugEntry(1, 0, 0x401000, "/tmp/prog")),
                List.of("/tmp/libfoo.so"));
        assertEquals(r.nodes()[0], r2.nodes()[0]);
        assertEquals(0, ap.readLong(r2.nodes()[0] + 24), "last node has no l_next");
    }

    @Test
    void tlsImageAndTlsGetAddr() {
        AgentProcess ap = start(null);
        AgentInfo i = ap.info();
        byte[] img = new byte[128];
        for (int k = 0; k < img.length; k++) {
            img[k] = (byte) (k + 1);
        }
        ap.setTlsImage(img);
        assertArrayEquals(img, ap.read(i.threadPointer() - img.length, img.length));
        assertArrayEquals(img, ap.read(i.tlsInitImageAddress() + i.tlsInitImageSize() - img.length, img.length));
        assertThrows(AgentException.class, () -> ap.setTlsImage(new byte[(int) i.tlsReserveSize() + 1]));

        ap.setObjectTable(List.of(new ObjectTableEntry(0, 0x400000, 0x400040, 9, 0x400000, 0x500000, 0,
                Protocol.TLS_MODID_BASE + 1, 0x200, "prog")));
        long ti = ap.alloc(16, 16);
        ap.writeWords(new long[] {ti, ti + 8}, new long[] {Protocol.TLS_MODID_BASE + 1, 0x18});
        assertEquals(i.threadPointer() - 0x200 + 0x18, ap.call(i.symbol("jdryad___tls_get_addr"), ti));
        // glibc's modules go to glibc: libc is module 1 or 2 in glibc's numbering
        HostLibrary libc = ap.hostLibrary("libc.so.6");
        ap.writeWords(new long[] {ti, ti + 8}, new long[] {libc.tlsModid(), 0});
        assertEquals(i.threadPointer() - libc.tlsOffset(), ap.call(i.symbol("jdryad___tls_get_addr"), ti));
    }

    @Test
    void callbacksAreServedDuringACall() {
        AtomicReference<AgentProcess> self = new AtomicReference<>();
        List<String> seen = new ArrayList<>();
        CallbackHandler h = new CallbackHandler() {
            @Override
            public CallbackReply dlsym(long handle, String name, String version, long caller, long tid) {
                synchronized (seen) {
                    seen.add("dlsym " + handle + " " + name + " " + version);
                }
                if (name.equals("fail")) {
                    return CallbackReply.error("jdryad: undefined symbol: fail");
                }
                if (name.equals("getpid")) {
                    return CallbackReply.askGlibc(0);
                }
                long m = self.get().alloc(64, 16); // a nested request while the agent waits
                return CallbackReply.ok(m);
            }

            @Override
            public CallbackReply dlopen(String name, int flags, long caller, long tid) {
                synchronized (seen) {
                    seen.add("dlopen " + name);
                }
                return name.equals("libjd.so") ? CallbackReply.ok(0x1234) : CallbackReply.askGlibc(0);
            }
        };
        AgentProcess ap = start(h);
        self.set(ap);
        AgentInfo i = ap.info();
        long strs = ap.placeStrings(List.of("sym", "fail", "getpid", "libjd.so", "libm.so.6", "V1"));
        long[] s = new long[6];
        for (int k = 0; k < 6; k++) {
            s[k] = ap.readLong(strs + 8L * k);
        }
        long m = ap.call(i.symbol("jdryad_dlsym"), 77, s[0]);
        assertNotEquals(0, m);
        assertEquals(0, ap.readLong(m), "memory allocated by the nested request");
        assertEquals(0, ap.call(i.symbol("jdryad_dlsym"), 77, s[1]));
        long err = ap.call(i.symbol("jdryad_dlerror"));
        assertEquals("jdryad: undefined symbol: fail", cString(ap, err));
        assertEquals(0, ap.call(i.symbol("jdryad_dlerror")), "dlerror clears the message");
        assertEquals(ap.dlsymHost(0, "getpid", null), ap.call(i.symbol("jdryad_dlsym"), 0, s[2]));
        assertEquals(0x1234, ap.call(i.symbol("jdryad_dlopen"), s[3], 2));
        assertNotEquals(0, ap.call(i.symbol("jdryad_dlopen"), s[4], 2), "glibc loads libm");
        assertNotEquals(0, ap.call(i.symbol("jdryad_dlvsym"), 5, s[0], s[5]));
        assertTrue(seen.contains("dlsym 5 sym V1"), seen.toString());
        assertTrue(seen.contains("dlopen libm.so.6"), seen.toString());
    }

    @Test
    void agentDeathIsAnErrorNotAHang() {
        AgentProcess ap = start(null);
        assertTimeoutPreemptively(TIMEOUT, () -> {
            ap.process().destroyForcibly().waitFor();
            AgentException e = assertThrows(AgentException.class,
                    () -> ap.mmapAnon(0, 4096, Protocol.PROT_READ, 0));
            assertTrue(e.getMessage().contains("signal 9"), e.getMessage());
            assertTrue(e.getMessage().contains("before the program started"), e.getMessage());
        });
    }

    @Test
    void agentThatNeverConnectsIsReported() {
        assertTimeoutPreemptively(TIMEOUT, () -> {
            AgentException e = assertThrows(AgentException.class,
                    () -> AgentProcess.start(Paths.get("/bin/false"), Map.of(), null, Duration.ofSeconds(5)));
            assertTrue(e.getMessage().contains("exited with status 1"), e.getMessage());
        });
    }

    @Test
    void agentExitsWhenTheConnectionIsLost() {
        AgentProcess ap = start(null);
        assertTimeoutPreemptively(TIMEOUT, () -> {
            ap.disconnect();
            assertEquals(127, ap.waitForExit());
        });
    }

    @Test
    void agentBinaryHasNoCopyRelocationsAndExportsNothing() throws Exception {
        String relocs = run("readelf", "-rW", AGENT.toString());
        assertFalse(relocs.contains("R_X86_64_COPY"), relocs);
        String dyn = run("readelf", "-W", "--dyn-syms", AGENT.toString());
        for (String line : dyn.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 8 && f[0].matches("[1-9][0-9]*:") && !f[6].equals("UND")) {
                throw new AssertionError("agent exports a dynamic symbol: " + line);
            }
        }
        String syms = run("readelf", "-W", "-s", AGENT.toString());
        assertTrue(syms.contains("jdryad___tls_get_addr"), "symtab kept");
        String tls = run("readelf", "-W", "-l", AGENT.toString());
        assertTrue(tls.contains("TLS"), tls);
    }

    static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
        return out;
    }

    /**
     * A static, libc-free program at 0x20000000 checks its initial stack (alignment, argv/envp
     * termination, AT_ENTRY, AT_EXECFN, %rdx != 0) and exits with argc, or 90+ on a failed check.
     */
    static final String START_S = String.join("\n",
            "        .globl _start",
            "_start:",
            "        mov %rsp, %rax",
            "        and $15, %rax",
            "        mov $91, %edi",
            "        jnz out",
            "        mov $92, %edi",
            "        test %rdx, %rdx",
            "        jz out",
            "        mov (%rsp), %r8",
            "        lea 8(%rsp,%r8,8), %rsi",
            "        mov $93, %edi",
            "        cmpq $0, (%rsi)",
            "        jne out",
            "        add $8, %rsi",
            "1:      cmpq $0, (%rsi)",
            "        je 2f",
            "        add $8, %rsi",
            "        jmp 1b",
            "2:      add $8, %rsi",
            "        xor %r9, %r9",
            "3:      mov (%rsi), %rax",
            "        test %rax, %rax",
            "        je 5f",
            "        cmp $9, %rax",
            "        jne 4f",
            "        lea _start(%rip), %rcx",
            "        mov $94, %edi",
            "        cmp 8(%rsi), %rcx",
            "        jne out",
            "        inc %r9",
            "4:      cmp $31, %rax",
            "        jne 6f",
            "        mov 8(%rsi), %rcx",
            "        mov $95, %edi",
            "        cmpb $'/', (%rcx)",
            "        jne out",
            "        cmpb $'j', 1(%rcx)",
            "        jne out",
            "        inc %r9",
            "6:      add $16, %rsi",
            "        jmp 3b",
            "5:      mov $96, %edi",
            "        cmp $2, %r9",
            "        jne out",
            "        mov %r8, %rdi",
            "out:    mov $60, %eax",
            "        syscall",
            "");

    /** A static, libc-free program from assembly, its PT_LOAD segments mapped into the agent at their addresses. */
    record StaticProgram(long entry, int phnum, long phdrAddress) {
    }

    static StaticProgram mapStaticProgram(AgentProcess ap, Path dir, String name, String asm) throws Exception {
        Path src = dir.resolve(name + ".S");
        Files.writeString(src, asm);
        Path exe = dir.resolve(name);
        run("gcc", "-static", "-nostdlib", "-no-pie", "-Wl,-Ttext=0x20000000", "-o", exe.toString(), src.toString());
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(exe)).order(ByteOrder.LITTLE_ENDIAN);
        long phoff = b.getLong(0x20);
        int phentsize = b.getShort(0x36);
        int phnum = b.getShort(0x38);
        long phdrAddr = 0;
        for (int k = 0; k < phnum; k++) {
            int o = (int) (phoff + (long) k * phentsize);
            if (b.getInt(o) != 1) { // PT_LOAD
                continue;
            }
            int flags = b.getInt(o + 4);
            long off = b.getLong(o + 8), vaddr = b.getLong(o + 16), filesz = b.getLong(o + 32);
            long pageOff = vaddr & 4095;
            int prot = ((flags & 4) != 0 ? Protocol.PROT_READ : 0) | ((flags & 2) != 0 ? Protocol.PROT_WRITE : 0)
                    | ((flags & 1) != 0 ? Protocol.PROT_EXEC : 0);
            ap.mmapFile(vaddr - pageOff, filesz + pageOff, prot, Protocol.MAP_FIXED, off - pageOff, exe);
            if (off == 0) {
                phdrAddr = vaddr + phoff;
            }
        }
        return new StaticProgram(b.getLong(0x18), phnum, phdrAddr);
    }

    @Test
    void entersAStaticProgram() throws Exception {
        AgentProcess ap = start(null);
        StaticProgram p = mapStaticProgram(ap, tmp, "start", START_S);
        long entry = p.entry();
        assertTimeoutPreemptively(TIMEOUT, () -> {
            ap.enter(entry, List.of("start", "a", "b"), List.of("X=1", "Y=2"),
                    Map.of(Protocol.AT_ENTRY, entry, Protocol.AT_PHNUM, (long) p.phnum()), "/jdryad/start",
                    new long[0], new long[0], new long[0]);
            assertEquals(3, ap.waitForExit());
        });
        assertTrue(p.phdrAddress() != 0 || p.phnum() > 0);
    }
}
