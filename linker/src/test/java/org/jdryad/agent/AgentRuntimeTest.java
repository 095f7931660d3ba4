package org.jdryad.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's runtime (dl_iterate_phdr, _dl_find_object, dladdr, dlinfo, the finaliser, TLS for
 * new threads, concurrent callbacks), driven through a helper shared object compiled at test time
 * and loaded as a host object with glibc's dlopen.
 */
class AgentRuntimeTest {
    static final String HELPER_C = String.join("\n",
            "#define _GNU_SOURCE",
            "#include <link.h>",
            "#include <dlfcn.h>",
            "#include <pthread.h>",
            "#include <string.h>",
            "struct res { long count, jd_addr, jd_tls, jd_phnum, adds; };",
            "static int cb(struct dl_phdr_info *i, size_t sz, void *d) {",
            "  struct res *r = d; r->count++; r->adds = i->dlpi_adds;",
            "  if (sz >= sizeof *i && i->dlpi_name && strcmp(i->dlpi_name, \"jdobj\") == 0) {",
            "    r->jd_addr = i->dlpi_addr; r->jd_tls = (long)i->dlpi_tls_data; r->jd_phnum = i->dlpi_phnum; }",
            "  return 0; }",
            "typedef int (*cbt)(struct dl_phdr_info *, size_t, void *);",
            "long t_iterate(int (*it)(cbt, void *), struct res *r) { return it(cb, r); }",
            "static void *thr(void *p) { long v; __asm__(\"mov %%fs:-16, %0\" : \"=r\"(v)); *(long *)p = v; return 0; }",
            "long t_thread_tls(void) { pthread_t t; long v = 0; pthread_create(&t, 0, thr, &v); pthread_join(t, 0); return v; }",
            "struct targ { void *(*dlsym)(void *, const char *); long ok; };",
            "static void *thr2(void *p) { struct targ *a = p;",
            "  for (int i = 0; i < 100; i++) if (a->dlsym((void *)7, \"x\") == (void *)0x77) a->ok++; return 0; }",
            "long t_concurrent(void *(*dlsym)(void *, const char *)) {",
            "  pthread_t t[4]; struct targ a[4]; long ok = 0;",
            "  for (int i = 0; i < 4; i++) { a[i].dlsym = dlsym; a[i].ok = 0; pthread_create(&t[i], 0, thr2, &a[i]); }",
            "  for (int i = 0; i < 4; i++) { pthread_join(t[i], 0); ok += a[i].ok; }",
            "  return ok; }",
            "char fini_log[64];",
            "void f1(void) { strcat(fini_log, \"1\"); }",
            "void f2(void) { strcat(fini_log, \"2\"); }",
            "void f3(void) { strcat(fini_log, \"3\"); }",
            "");

    @TempDir
    Path tmp;

    AgentProcess ap;
    AgentInfo info;
    HostLibrary helper;
    final AtomicInteger callbacks = new AtomicInteger();

    @BeforeEach
    void setUp() throws Exception {
        Path src = tmp.resolve("helper.c");
        Files.writeString(src, HELPER_C);
        Path so = tmp.resolve("libhelper.so");
        AgentProcessTest.run("gcc", "-shared", "-fPIC", "-O1", "-pthread", "-o", so.toString(), src.toString());
        CallbackHandler h = new CallbackHandler() {
            @Override
            public CallbackReply dlsym(long handle, String name, String version, long caller, long tid) {
                callbacks.incrementAndGet();
                return handle == 7 && name.equals("x") ? CallbackReply.ok(0x77) : CallbackReply.askGlibc(handle);
            }

            @Override
            public CallbackReply dladdr(long address) {
                if (address >= 0x10000000L && address < 0x10100000L) {
                    return CallbackReply.dladdr("/jd/libobj.so", 0x10000000L, "objfn", 0x10000100L, 0x5555, 0x6666);
                }
                return CallbackReply.askGlibc(0);
            }

            @Override
            public CallbackReply dlinfo(long handle, int request) {
                if (handle == 0x4242 && request == 10 /* RTLD_DI_TLS_DATA */) {
                    return CallbackReply.ok(0x300);
                }
                if (handle == 0x4242 && request == 6 /* RTLD_DI_ORIGIN */) {
                    return CallbackReply.okString("/jd/origin");
                }
                return CallbackReply.askGlibc(handle);
            }
        };
        ap = AgentProcess.start(AgentProcessTest.AGENT, Map.of(), h, Duration.ofSeconds(10));
        info = ap.info();
        helper = ap.dlopenHost(so.toString());
    }

    @AfterEach
    void tearDown() {
        if (ap != null) {
            ap.close();
        }
    }

    long sym(String name) {
        return ap.dlsymHost(helper.handle(), name, null);
    }

    long[] words(long addr, int n) {
        ByteBuffer b = ByteBuffer.wrap(ap.read(addr, 8 * n)).order(ByteOrder.LITTLE_ENDIAN);
        long[] r = new long[n];
        for (int i = 0; i < n; i++) {
            r[i] = b.getLong();
        }
        return r;
    }

    String cString(long addr) {
        byte[] b = ap.read(addr, 64);
        int n = 0;
        while (b[n] != 0) {
            n++;
        }
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }

    @Test
    void dlIteratePhdrListsHostAndJdryadObjects() {
        long phdr = ap.alloc(56 * 3, 16);
        ap.setObjectTable(List.of(new ObjectTableEntry(0x5555, 0x10000000L, phdr, 3, 0x10000000L, 0x10100000L,
                0x10000800L, Protocol.TLS_MODID_BASE, 0x400, "jdobj")));
        long res = ap.alloc(40, 16);
        long rc = ap.call(sym("t_iterate"), info.symbol("jdryad_dl_iterate_phdr"), res);
        assertEquals(0, rc);
        long[] r = words(res, 5);
        assertTrue(r[0] >= info.hostObjects().size() + 1, "host objects and the jdryad one: " + r[0]);
        assertEquals(0x10000000L, r[1]);
        assertEquals(info.threadPointer() - 0x400, r[2]);
        assertEquals(3, r[3]);

        // adds grow with every r_debug RT_ADD
        ap.rDebugUpdate(Protocol.RT_ADD, List.of(new RDebugEntry(1, 0x10000000L, 0, "jdobj")), List.of("jdobj"));
        ap.call(sym("t_iterate"), info.symbol("jdryad_dl_iterate_phdr"), res);
        assertEquals(r[4] + 1, words(res, 5)[4]);
    }

    @Test
    void dlFindObjectCoversJdryadObjectsAndFallsBackToGlibc() {
        ap.setObjectTable(List.of(new ObjectTableEntry(0x5555, 0x10000000L, 0, 0, 0x10000000L, 0x10100000L,
                0x10000800L, 0, 0, "jdobj")));
        long out = ap.alloc(128, 16);
        assertEquals(0, ap.call(info.symbol("jdryad__dl_find_object"), 0x10000040L, out));
        long[] w = words(out, 5);
        assertEquals(0x10000000L, w[1]);
        assertEquals(0x10100000L, w[2]);
        assertEquals(0x5555, w[3]);
        assertEquals(0x10000800L, w[4]);
        // an address in libhelper.so: glibc answers with its link map
        assertEquals(0, ap.call(info.symbol("jdryad__dl_find_object"), sym("f1"), out));
        assertEquals(helper.lAddr(), words(out, 2)[1] & ~0xfffL);
        assertEquals(-1, (int) ap.call(info.symbol("jdryad__dl_find_object"), 0x10, out));
    }

    @Test
    void dladdrAndDlinfo() {
        long dl = ap.alloc(64, 16);
        assertEquals(1, ap.call(info.symbol("jdryad_dladdr"), 0x10000123L, dl));
        long[] w = words(dl, 4);
        assertEquals("/jd/libobj.so", cString(w[0]));
        assertEquals(0x10000000L, w[1]);
        assertEquals("objfn", cString(w[2]));
        assertEquals(0x10000100L, w[3]);
        long extra = ap.alloc(8, 8);
        assertEquals(1, ap.call(info.symbol("jdryad_dladdr1"), 0x10000123L, dl, extra, 1 /* RTLD_DL_SYMENT */));
        assertEquals(0x6666, ap.readLong(extra));
        // glibc answers for host addresses
        assertEquals(1, ap.call(info.symbol("jdryad_dladdr"), sym("f1"), dl));
        assertEquals("f1", cString(words(dl, 3)[2]));

        long arg = ap.alloc(256, 16);
        assertEquals(0, ap.call(info.symbol("jdryad_dlinfo"), 0x4242, 10, arg));
        assertEquals(info.threadPointer() - 0x300, ap.readLong(arg));
        assertEquals(0, ap.call(info.symbol("jdryad_dlinfo"), 0x4242, 6, arg));
        assertEquals("/jd/origin", cString(arg));
        assertEquals(0, ap.call(info.symbol("jdryad_dlinfo"), helper.handle(), 2 /* RTLD_DI_LINKMAP */, arg));
        assertEquals(helper.lAddr(), ap.readLong(ap.readLong(arg)));
    }

    @Test
    void newThreadsGetTheTlsImage() {
        byte[] img = new byte[32];
        ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN).putLong(16, 0x0123456789abcdefL);
        ap.setTlsImage(img);
        assertEquals(0x0123456789abcdefL, ap.call(sym("t_thread_tls")));
    }

    @Test
    void concurrentCallbacksFromThreads() {
        assertEquals(400, ap.call(sym("t_concurrent"), info.symbol("jdryad_dlsym")));
        assertEquals(400, callbacks.get());
    }

    @Test
    void finaliserRunsOnceInOrder() {
        long arr = ap.alloc(16, 16);
        ap.writeWords(new long[] {arr, arr + 8}, new long[] {sym("f2"), sym("f3")});
        ap.setFini(List.of(FiniEntry.array(arr, 2), FiniEntry.call(sym("f1"))));
        ap.call(info.symbol("jdryad_rtld_fini"));
        ap.call(info.symbol("jdryad_rtld_fini"));
        assertEquals("321", cString(sym("fini_log")));
        assertNotEquals(0, info.symbol("jdryad_rtld_fini"));
    }
}
