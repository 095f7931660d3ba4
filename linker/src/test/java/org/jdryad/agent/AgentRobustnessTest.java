package org.jdryad.agent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Robustness of the agent and its client: malformed requests, signal handlers and forked children
 * calling jdryad's dl* functions, dlerror's semantics, the finaliser, a non-blocking socket, and
 * the client's answers when a handler fails or a request cannot be served.
 */
class AgentRobustnessTest {
    static final Duration TIMEOUT = Duration.ofSeconds(30);

    static final String HELPER_C = String.join("\n",
            "#define _GNU_SOURCE",
            "#include <dlfcn.h>",
            "#include <signal.h>",
            "#include <string.h>",
            "#include <sys/wait.h>",
            "#include <unistd.h>",
            "typedef void *(*dlsym_t)(void *, const char *);",
            "static dlsym_t g_dlsym;",
            "volatile long g_sig_result, g_sig_done;",
            "static void on_usr1(int s) { (void)s; g_sig_result = (long)g_dlsym(RTLD_DEFAULT, \"getpid\"); g_sig_done = 1; }",
            "long t_install(dlsym_t f) { g_dlsym = f; struct sigaction sa; memset(&sa, 0, sizeof sa);",
            "  sa.sa_handler = on_usr1; sa.sa_flags = SA_RESTART; return sigaction(SIGUSR1, &sa, 0); }",
            "long t_fork(dlsym_t f, void *node, long getpid_addr, char *(*err)(void)) {",
            "  pid_t p = fork();",
            "  if (p == 0) { int bad = 0;",
            "    if (f(node, \"x\") != 0) bad |= 1;",
            "    const char *m = err(); if (!m || !strstr(m, \"cannot reach jdryad\")) bad |= 4;",
            "    if ((long)f(RTLD_DEFAULT, \"getpid\") != getpid_addr) bad |= 2;",
            "    _exit(bad); }",
            "  int st = -1; waitpid(p, &st, 0); return st; }",
            "static int (*g_dlclose)(void *);",
            "volatile long g_close_rc = 77;",
            "void t_set_dlclose(int (*f)(void *)) { g_dlclose = f; }",
            "void t_fini_close(void) { g_close_rc = g_dlclose((void *)0x99); }",
            "");

    @TempDir
    Path tmp;

    Path helperSo;
    final List<AgentProcess> started = new ArrayList<>();

    @BeforeEach
    void build() throws Exception {
        Path src = tmp.resolve("robust.c");
        Files.writeString(src, HELPER_C);
        helperSo = tmp.resolve("librobust.so");
        AgentProcessTest.run("gcc", "-shared", "-fPIC", "-O1", "-o", helperSo.toString(), src.toString());
    }

    @AfterEach
    void cleanup() {
        for (AgentProcess ap : started) {
            ap.close();
        }
    }

    private AgentProcess start(CallbackHandler h) {
        AgentProcess ap = AgentProcess.start(AgentProcessTest.AGENT, Map.of(), h, Duration.ofSeconds(10));
        started.add(ap);
        return ap;
    }

    private static byte[] payload(Payload.Writer w) {
        return java.util.Arrays.copyOf(w.array(), w.length());
    }

    private static long status(byte[] reply) {
        return ByteBuffer.wrap(reply).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    }

    private long cstr(AgentProcess ap, String s) {
        return ap.readLong(ap.placeStrings(List.of(s)));
    }

    // ---- requests with counts that do not fit their payload are refused, and change nothing ----

    @Test
    void malformedCountsAreRefusedAndTheAgentLives() {
        AgentProcess ap = start(null);
        assertTimeoutPreemptively(TIMEOUT, () -> {
            // ENTER whose nfull would size an allocation of 2^63 bytes (it used to kill the agent)
            Payload.Writer enter = new Payload.Writer().q(0x1000).q(0).q(0).q(0).s(null).q(1L << 60).q(1).q(2);
            assertEquals(-22, status(ap.rawRequest(Protocol.ENTER, payload(enter))));
            // ... and one that wraps 8 * (n + 1) to 0
            enter = new Payload.Writer().q(0x1000).q(0).q(0).q(0).s(null).q((1L << 61) - 1).q(1).q(2);
            assertEquals(-22, status(ap.rawRequest(Protocol.ENTER, payload(enter))));
            assertEquals(-22, status(ap.rawRequest(Protocol.OBJECT_TABLE, payload(new Payload.Writer().q(999_999)))));
            assertEquals(-22, status(ap.rawRequest(Protocol.OBJECT_TABLE, payload(new Payload.Writer().q(1).q(9)
                    .q(0).q(0).q(0).q(0).q(0).q(0).q(0).q(0).q(0).s("/x")))), "an entry of no known kind");
            assertEquals(-22, status(ap.rawRequest(Protocol.SET_FINI, payload(new Payload.Writer().q(9_999_999)))));
            assertEquals(-22, status(ap.rawRequest(Protocol.PLACE_STRINGS, payload(new Payload.Writer().q(9_999_999)))));
            // CALL_EACH: a count its words cannot back, one short of them, and a partial word after them
            assertEquals(-22, status(ap.rawRequest(Protocol.CALL_EACH, payload(new Payload.Writer().q(1L << 60)))));
            assertEquals(-22, status(ap.rawRequest(Protocol.CALL_EACH, payload(new Payload.Writer().q(0).q(0)))));
            byte[] partial = java.util.Arrays.copyOf(payload(new Payload.Writer().q(0)), 12);
            assertEquals(-22, status(ap.rawRequest(Protocol.CALL_EACH, partial)));
            // SET_AUXV: a count its bytes cannot back, and one entry short of its count
            assertEquals(-22, status(ap.rawRequest(Protocol.SET_AUXV, payload(new Payload.Writer().q(999)))));
            assertEquals(-22, status(ap.rawRequest(Protocol.SET_AUXV,
                    payload(new Payload.Writer().q(2).q(Protocol.AT_PHNUM).q(3).s(null)))));
            assertEquals(-22, status(ap.rawRequest(Protocol.SET_EXE, payload(new Payload.Writer().s("/a")))),
                    "SET_EXE without the exec'ed path");
            // WAIT_DEBUGGER whose line is longer than its payload: refused, not waited on
            assertEquals(-22, status(ap.rawRequest(Protocol.WAIT_DEBUGGER, payload(new Payload.Writer().q(5)))));
            assertEquals(-22, status(ap.rawRequest(Protocol.R_DEBUG_UPDATE,
                    payload(new Payload.Writer().q(7).q(0).q(0)))), "unknown r_debug event kind");

            // a malformed R_DEBUG_UPDATE leaves the list as it was
            RDebugResult r = ap.rDebugUpdate(Protocol.RT_ADD, List.of(new RDebugEntry(1, 0x1000, 0x2000, "/a")),
                    List.of("/a"));
            long node = r.nodes()[0];
            Payload.Writer bad = new Payload.Writer().q(Protocol.RT_ADD).q(2).q(1).q(0x5000).q(0x6000).s("/a")
                    .q(2).q(0x7000); // second entry truncated
            assertEquals(-22, status(ap.rawRequest(Protocol.R_DEBUG_UPDATE, payload(bad))));
            assertEquals(0x1000, ap.readLong(node), "l_addr unchanged");
            assertEquals(r.head(), ap.readLong(ap.info().rDebug() + 8));
            // ... and so does one for a namespace glibc has not made (no r_debug on its r_next chain)
            assertThrows(AgentException.class, () -> ap.rDebugUpdate(Protocol.RT_ADD,
                    List.of(new RDebugEntry(1, 0x5000, 0x6000, "/a")), List.of("/a"), ActivityCause.STARTUP, 3));
            assertEquals(0x1000, ap.readLong(node), "l_addr unchanged");
            assertEquals(r.head(), ap.readLong(ap.info().rDebug() + 8));

            // a request for more memory than there is: ENOMEM, not a dead agent
            AgentException nomem = assertThrows(AgentException.class, () -> ap.alloc(1L << 40, 16));
            assertEquals(12, nomem.errno());
            assertTrue(ap.isAlive());
            assertNotEquals(0, ap.alloc(64, 16));
        });
    }

    /**
     * RESERVE_NODE (audit modules' la_objopen at start-up and in a dlopen): a malformed request is
     * refused; a node is filled in but on no list, and the next update that lists its id links
     * that same node (the object's handle does not move).
     */
    @Test
    void aReservedNodeIsFilledInAndListedLaterAtTheSameAddress() {
        AgentProcess ap = start(null);
        assertTimeoutPreemptively(TIMEOUT, () -> {
            assertEquals(-22, status(ap.rawRequest(Protocol.RESERVE_NODE, payload(new Payload.Writer().q(7).q(0x1000)
                    .q(0x2000).s("/a")))), "without the namespace");
            assertEquals(-22, status(ap.rawRequest(Protocol.RESERVE_NODE, payload(new Payload.Writer().q(7).q(0x1000)
                    .q(0x2000).s(null).q(0)))), "without a name");
            assertEquals(-22, status(ap.rawRequest(Protocol.RESERVE_NODE, payload(new Payload.Writer().q(7).q(0x1000)
                    .q(0x2000).s("/a").q(-3)))), "a negative namespace");
            long head = ap.readLong(ap.info().rDebug() + 8);
            long node = ap.reserveNode(7, 0x1000, 0x2000, "/reserved", 0);
            assertEquals(0x1000, ap.readLong(node), "l_addr");
            assertEquals(0x2000, ap.readLong(node + 16), "l_ld");
            assertEquals(0, ap.readLong(node + 24), "l_next: on no list yet");
            assertEquals(head, ap.readLong(ap.info().rDebug() + 8), "r_map unchanged");
            RDebugResult r = ap.rDebugUpdate(Protocol.RT_ADD, List.of(new RDebugEntry(7, 0x1000, 0x2000, "/reserved")),
                    List.of("/reserved"));
            assertEquals(node, r.nodes()[0], "the update links the reserved node");
        });
    }

    @Test
    void fileMappingsAreAlwaysPrivate() throws IOException {
        AgentProcess ap = start(null);
        Path f = tmp.resolve("data.bin");
        byte[] content = new byte[4096];
        Files.write(f, content);
        long a = ap.mmapFile(0, 4096, Protocol.PROT_READ | Protocol.PROT_WRITE, 0x01 /* MAP_SHARED */, 0, f);
        ap.write(a, "changed".getBytes(StandardCharsets.UTF_8));
        assertArrayEquals(content, Files.readAllBytes(f), "the file must not change");
        // MAP_ANONYMOUS never turns a file mapping into an anonymous one
        Files.write(f, new byte[] {42, 43});
        long b = ap.mmapFile(0, 4096, Protocol.PROT_READ, 0x20 /* MAP_ANONYMOUS */, 0, f);
        assertEquals(42, ap.read(b, 1)[0]);
    }

    // ---- dlerror ----

    @Test
    void dlerrorIsClearedBySuccessfulCallsAsInGlibc() {
        CallbackHandler h = new CallbackHandler() {
            @Override
            public CallbackReply dlsym(long handle, String name, String version, long caller, long tid) {
                return name.equals("fail") ? CallbackReply.error("jdryad: undefined symbol: fail")
                        : CallbackReply.ok(0x77);
            }
        };
        AgentProcess ap = start(h);
        long dlsym = ap.info().symbol("jdryad_dlsym");
        long dlerror = ap.info().symbol("jdryad_dlerror");
        long fail = cstr(ap, "fail");
        long ok = cstr(ap, "ok");
        assertEquals(0, ap.call(dlsym, 7, fail));
        assertEquals(0x77, ap.call(dlsym, 7, ok));
        assertEquals(0, ap.call(dlerror), "a successful dlsym clears the message (glibc 2.34+)");
        assertEquals(0, ap.call(dlsym, 7, fail));
        assertNotEquals(0, ap.call(dlerror));
        assertEquals(0, ap.call(dlerror), "returned once, then NULL");
    }

    // ---- signal handlers and fork ----

    @Test
    void aSignalHandlerCallingDlsymInsideTheAgentDoesNotDeadlock() {
        AtomicReference<AgentProcess> self = new AtomicReference<>();
        AtomicReference<long[]> helperAddrs = new AtomicReference<>();
        CallbackHandler h = new CallbackHandler() {
            @Override
            public CallbackReply dlsym(long handle, String name, String version, long caller, long tid) {
                if (handle == 7) {
                    // the agent's thread now waits for this answer inside the agent: interrupt it
                    AgentProcess ap = self.get();
                    try {
                        new ProcessBuilder("kill", "-USR1", Long.toString(ap.pid())).inheritIO().start().waitFor();
                        long deadline = System.nanoTime() + 5_000_000_000L;
                        while (ap.readLong(helperAddrs.get()[0]) == 0 && System.nanoTime() < deadline) {
                            Thread.sleep(5);
                        }
                    } catch (IOException | InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                    return CallbackReply.ok(0x77);
                }
                return CallbackReply.askGlibc(handle);
            }
        };
        AgentProcess ap = start(h);
        self.set(ap);
        HostLibrary lib = ap.dlopenHost(helperSo.toString());
        long done = ap.dlsymHost(lib.handle(), "g_sig_done", null);
        long result = ap.dlsymHost(lib.handle(), "g_sig_result", null);
        helperAddrs.set(new long[] {done});
        assertEquals(0, ap.call(ap.dlsymHost(lib.handle(), "t_install", null), ap.info().symbol("jdryad_dlsym")));
        long x = cstr(ap, "x");
        assertTimeoutPreemptively(TIMEOUT, () -> {
            assertEquals(0x77, ap.call(ap.info().symbol("jdryad_dlsym"), 7, x));
            assertEquals(1, ap.readLong(done), "the handler ran");
            assertEquals(ap.dlsymHost(0, "getpid", null), ap.readLong(result), "and got glibc's answer");
        });
    }

    @Test
    void aForkedChildNeverUsesTheSocketNorPassesJdryadHandlesToGlibc() {
        AtomicInteger callbacks = new AtomicInteger();
        CallbackHandler h = new CallbackHandler() {
            @Override
            public CallbackReply dlsym(long handle, String name, String version, long caller, long tid) {
                callbacks.incrementAndGet();
                return CallbackReply.askGlibc(handle);
            }
        };
        AgentProcess ap = start(h);
        HostLibrary lib = ap.dlopenHost(helperSo.toString());
        long node = ap.rDebugUpdate(Protocol.RT_ADD, List.of(new RDebugEntry(1, 0x1000, 0x2000, "/jd/lib.so")),
                List.of("/jd/lib.so")).nodes()[0];
        assertTimeoutPreemptively(TIMEOUT, () -> {
            long st = ap.call(ap.dlsymHost(lib.handle(), "t_fork", null), ap.info().symbol("jdryad_dlsym"), node,
                    ap.dlsymHost(0, "getpid", null), ap.info().symbol("jdryad_dlerror"));
            assertEquals(0, st, "child's wait status (exit 1, 4: the jdryad handle went to glibc; 2: RTLD_DEFAULT"
                    + " failed; a signal: glibc crashed on it)");
        });
        assertEquals(0, callbacks.get(), "the child never called back");
    }

    // ---- the finaliser ----

    @Test
    void dlcloseWhileTheFinaliserRunsUnloadsNothing() {
        AtomicInteger closes = new AtomicInteger();
        CallbackHandler h = new CallbackHandler() {
            @Override
            public CallbackReply dlclose(long handle, long caller, long tid) {
                closes.incrementAndGet();
                return CallbackReply.ok(0);
            }
        };
        AgentProcess ap = start(h);
        HostLibrary lib = ap.dlopenHost(helperSo.toString());
        ap.call(ap.dlsymHost(lib.handle(), "t_set_dlclose", null), ap.info().symbol("jdryad_dlclose"));
        ap.setFini(List.of(FiniEntry.call(ap.dlsymHost(lib.handle(), "t_fini_close", null))));
        ap.call(ap.info().symbol("jdryad_rtld_fini"));
        assertEquals(0, ap.readLong(ap.dlsymHost(lib.handle(), "g_close_rc", null)), "dlclose succeeded");
        assertEquals(0, closes.get(), "and unloaded nothing (as glibc's _dl_fini)");
    }

    // ---- the socket ----

    @Test
    void aNonBlockingSocketIsNeitherLostNorSpunOn() throws Exception {
        CallbackHandler h = new CallbackHandler() {
            @Override
            public CallbackReply dlsym(long handle, String name, String version, long caller, long tid) {
                return handle == 7 ? CallbackReply.ok(0x77) : CallbackReply.askGlibc(handle);
            }
        };
        AgentProcess ap = start(h);
        int fd = -1;
        try (var fds = Files.list(Paths.get("/proc/" + ap.pid() + "/fd"))) {
            for (Path p : (Iterable<Path>) fds::iterator) {
                if (Files.readSymbolicLink(p).toString().startsWith("socket:")) {
                    fd = Integer.parseInt(p.getFileName().toString());
                }
            }
        }
        assertTrue(fd > 2, "the agent's socket");
        long fcntl = ap.dlsymHost(0, "fcntl", null);
        long x = cstr(ap, "x");
        assertEquals(0, ap.call(fcntl, fd, 4 /* F_SETFL */, 04000 /* O_NONBLOCK */));
        Thread.sleep(200); // the agent now reads an empty non-blocking socket
        assertTimeoutPreemptively(TIMEOUT, () -> {
            assertNotEquals(0, ap.alloc(16, 16));
            assertEquals(0x77, ap.call(ap.info().symbol("jdryad_dlsym"), 7, x));
        });
        assertTrue(ap.isAlive());
    }

    // ---- the client ----

    @Test
    void aHandlerThatThrowsAnErrorStillAnswers() {
        CallbackHandler h = new CallbackHandler() {
            @Override
            public CallbackReply dlsym(long handle, String name, String version, long caller, long tid) {
                throw new AssertionError("handler exploded");
            }
        };
        AgentProcess ap = start(h);
        long x = cstr(ap, "x");
        assertTimeoutPreemptively(TIMEOUT, () -> {
            assertEquals(0, ap.call(ap.info().symbol("jdryad_dlsym"), 7, x));
            long msg = ap.call(ap.info().symbol("jdryad_dlerror"));
            assertTrue(new String(ap.read(msg, 16), StandardCharsets.UTF_8).startsWith("handler exploded"));
        });
    }

    /** nanosleep(1 s); exit(5) — a static program that makes no callback. */
    static final String SLEEP_S = String.join("\n",
            "        .globl _start",
            "_start:",
            "        push $0",
            "        push $1",
            "        mov %rsp, %rdi",
            "        xor %esi, %esi",
            "        mov $35, %eax",
            "        syscall",
            "        mov $5, %edi",
            "        mov $60, %eax",
            "        syscall",
            "");

    @Test
    void requestsWhileTheProgramRunsFailInsteadOfHanging() throws Exception {
        AgentProcess ap = start(null);
        long entry = AgentProcessTest.mapStaticProgram(ap, tmp, "sleep", SLEEP_S).entry();
        assertTimeoutPreemptively(TIMEOUT, () -> {
            ap.enter(entry, List.of("sleep"), List.of(), Map.of(Protocol.AT_ENTRY, entry), null, new long[0],
                    new long[0], new long[0]);
            AgentException e = assertThrows(AgentException.class, () -> ap.alloc(16, 16));
            assertTrue(e.getMessage().contains("while the program runs"), e.getMessage());
            // an unreadable address used to fall back to the socket and wait for ever
            assertThrows(AgentException.class, () -> ap.read(0x10, 8));
            assertEquals(5, ap.waitForExit());
        });
    }

    @Test
    void theAgentImportsNothingFromLibcButTheDynamicLinkingInterface() throws Exception {
        String dyn = AgentProcessTest.run("readelf", "-W", "--dyn-syms", AgentProcessTest.AGENT.toString());
        List<String> unexpected = new ArrayList<>();
        for (String line : dyn.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 8 && f[0].matches("[0-9]+:") && f[6].equals("UND")) {
                String name = f[7].replaceAll("@.*", "");
                // __errno_location: the readlink wrapper sets the program's errno, as readlink does.
                // __register_atfork (pthread_atfork): forked children release the agent's locks.
                // clock_gettime: the lazy fast path's time stamps come from the vDSO (no allocation).
                if (!name.matches("dl(open|mopen|sym|vsym|close|error|addr|addr1|info|_iterate_phdr)|_dl_find_object"
                        + "|__libc_start_main|__cxa_finalize|__gmon_start__|_ITM_.*TMCloneTable|__errno_location"
                        + "|__register_atfork|clock_gettime")) {
                    unexpected.add(name);
                }
            }
        }
        assertEquals(List.of(), unexpected, "libc functions the agent calls (no malloc, stdio, string helpers)");
        assertFalse(dyn.contains(" main"), "no exported main");
    }
}
