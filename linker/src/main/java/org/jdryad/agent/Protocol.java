package org.jdryad.agent;

/**
 * Constants of the agent protocol. The full description (frame layout, every request and its
 * reply) is the comment block at the top of {@code native/protocol.h}; keep both in step.
 *
 * <p>Frames: {@code u32 len, u32 type (bit 31 = reply), u64 seq}, then {@code len} payload
 * bytes. Payload fields: {@code q} = u64, {@code s} = u32 length (including a NUL; 0 = NULL)
 * and bytes. Every reply starts with {@code q status} (negative = -errno).
 */
public final class Protocol {
    private Protocol() {}

    public static final int REPLY = 0x80000000;
    public static final int HEADER_SIZE = 16;
    public static final int MAX_FRAME = 1 << 30;
    /**
     * The largest first frame (HELLO, HELLO_CHILD) a connection may send: it comes before the
     * peer is known to be an agent, so it is not allowed the gigabyte a link request may take.
     */
    public static final int MAX_FIRST_FRAME = 16 << 20;
    /** The largest callback frame a forked child (served CB_LAZY only) may send. */
    public static final int MAX_CHILD_FRAME = 1 << 20;

    public static final int HELLO = 0x01;
    public static final int HELLO_CHILD = 0x02;

    public static final int MMAP_FILE = 0x10;
    public static final int MMAP_ANON = 0x11;
    public static final int MPROTECT = 0x12;
    public static final int MUNMAP = 0x13;
    public static final int WRITE = 0x14;
    public static final int READ = 0x15;
    public static final int WRITE_WORDS = 0x16;
    public static final int WRITE_WORDS32 = 0x17;
    public static final int CALL = 0x18;
    public static final int ALLOC = 0x19;
    public static final int PLACE_STRINGS = 0x1a;
    public static final int CALL_LIST = 0x1b;
    public static final int RELOCATE_RELATIVE = 0x1c;
    public static final int CALL_EACH = 0x1d;

    public static final int DLOPEN_HOST = 0x20;
    public static final int DLSYM_HOST = 0x21;
    public static final int DLMOPEN_HOST = 0x22;

    public static final int R_DEBUG_UPDATE = 0x30;
    public static final int OBJECT_TABLE = 0x31;
    public static final int SET_TLS_IMAGE = 0x32;
    public static final int SET_FINI = 0x33;
    public static final int SET_TLS_BLOCK = 0x34;
    public static final int SET_EXE = 0x35;
    public static final int LAZY_SETUP = 0x36;
    public static final int TLS_DYNAMIC = 0x37;
    public static final int SET_AUXV = 0x38;
    public static final int SET_FDS = 0x39;
    public static final int RESERVE_NODE = 0x3a;

    public static final int ENTER = 0x40;
    public static final int WAIT_DEBUGGER = 0x41;

    public static final int CB_DLOPEN = 0x80;
    public static final int CB_DLSYM = 0x81;
    public static final int CB_DLCLOSE = 0x82;
    public static final int CB_DLADDR = 0x83;
    public static final int CB_DLINFO = 0x84;
    public static final int CB_LAZY = 0x85;
    public static final int CB_DLMOPEN = 0x86;

    /** The largest reply a child's one-shot connection takes (native callback.c: jd_cbreply.scratch). */
    public static final int CHILD_REPLY_MAX = 1024;

    /** CB_LAZY reply flags. */
    public static final long LAZY_PATCH = 1, LAZY_CALL_IFUNC = 2;
    /** CB_DLSYM reply v1: v0 is a TLS symbol's offset in the block of module v2. */
    public static final long DLSYM_TLS = 1;
    /** The lowest bytes of the static reservation are the agent's (a thread's dynamic TLS vector). */
    public static final long TLS_AGENT_BYTES = 16;

    public static final int CB_OK = 0;
    public static final int CB_ASK_GLIBC = 1;
    public static final int CB_ERROR = -1;

    public static final int FINI_CALL = 1;
    public static final int FINI_ARRAY = 2;
    public static final int FINI_DEBUG_OUTPUT = 3;
    public static final int FINI_DEBUG_TEXT = 4;
    public static final int FINI_CALL2 = 5;

    public static final int RT_ADD = 1;
    public static final int RT_DELETE = 2;

    /** First TLS module id for jdryad objects (never collides with glibc's ids). */
    public static final long TLS_MODID_BASE = 0x4a440000L;

    // mmap/mprotect constants (Linux x86-64)
    public static final int PROT_NONE = 0, PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
    public static final int MAP_FIXED = 0x10, MAP_FIXED_NOREPLACE = 0x100000, MAP_NORESERVE = 0x4000;
    // dlopen flags
    public static final int RTLD_LAZY = 1, RTLD_NOW = 2, RTLD_NOLOAD = 4, RTLD_DEEPBIND = 8, RTLD_GLOBAL = 0x100,
            RTLD_NODELETE = 0x1000;
    // auxv types
    public static final long AT_PHDR = 3, AT_PHENT = 4, AT_PHNUM = 5, AT_PAGESZ = 6, AT_BASE = 7, AT_ENTRY = 9,
            AT_RANDOM = 25, AT_EXECFN = 31;
}
