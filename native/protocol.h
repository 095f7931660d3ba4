/*
 * jdryad agent protocol.  Mirrored in Java: org.jdryad.agent.Protocol.
 *
 * Transport: one SOCK_STREAM unix socket (SOCK_CLOEXEC in the agent), opened by the agent
 * to the path in $JDRYAD_SOCKET.  It stays open until the process exits.
 *
 * Frames (all integers little-endian):
 *
 *     u32 len      number of payload bytes that follow the 16-byte header
 *     u32 type     message type (below); bit 31 (JD_REPLY) is set on replies
 *     u64 seq      sequence number chosen by the sender of a request; a reply echoes it.
 *                  Java's requests and the agent's callbacks are numbered independently
 *                  (the direction tells them apart).  HELLO has seq 0 and no reply.
 *
 * Payload encoding: a plain sequence of fields, no padding:
 *     q   u64 (signed or unsigned as the field says)
 *     s   string: u32 n, then n bytes; n includes a terminating NUL; n == 0 means NULL
 *     *   "rest": raw bytes up to the end of the payload
 *
 * Every reply starts with `q status`: >= 0 success, < 0 = -errno (Linux errno values).
 *
 * Nesting and threads: while an agent thread waits for the reply to one of its callbacks (a
 * dlopen from the program, perhaps inside a constructor that a CALL runs), agent threads keep
 * serving Java's requests, so Java may map, relocate and CALL initialisers of the object being
 * loaded before it replies.  Any agent thread may read the socket, one at a time: it reads one
 * whole frame, gives up the reader role, then handles a request itself (a long CALL never
 * blocks the socket) or hands a reply to the thread whose callback it answers (matched by seq;
 * replies may come in any order).  Sending is serialised by a lock.  So callbacks from several
 * program threads, and from threads started by a constructor while its CALL runs, all proceed.
 * Requests are thread-agnostic (SET_TLS_IMAGE writes the main thread's block), except ENTER,
 * which only the main thread can carry out (-EBUSY otherwise).  After ENTER, Java's requests are
 * only served while a callback is pending (Java uses process_vm_readv for memory otherwise).
 *
 * Agent -> Java, once:
 *   HELLO  q pid, q page_size, q agent_base, q r_debug, q r_map (original host list head),
 *          q r_brk, q tls_reserve_addr, q tls_reserve_size, q thread_pointer,
 *          q tls_init_image_addr, q tls_init_image_size, q tls_modid_base,
 *          q nhost, nhost x (q l_addr, q l_ld, q link_map_addr, s l_name),
 *          q nauxv, nauxv x (q type, q value),
 *          q nsym, nsym x (s name, q address)          -- agent entry points by name
 *
 * A forked child, once, on its own new connection, before its first callback; from then on the
 * connection is the child's as the parent's is the parent's (callbacks, and Java's requests while
 * one waits), for a link session Java copied from the parent's state in the generation given:
 *   HELLO_CHILD  q pid, q parent pid, q generation (the child's copy of jd_link_generation)
 *
 * Java -> agent requests (reply fields after `q status`):
 *   MMAP_FILE     q addr, q len, q prot, q flags, q offset, q dev, q ino, s path
 *                 -> status = mapped address or -errno.  flags are mmap flags OR-ed with
 *                 MAP_PRIVATE (MAP_FIXED, MAP_FIXED_NOREPLACE...); the mapping type bits and
 *                 MAP_ANONYMOUS are ignored (always a private file mapping).  dev == ino == -1: no
 *                 identity check; otherwise -ESTALE when fstat's st_dev/st_ino differ.
 *   MMAP_ANON     q addr, q len, q prot, q flags      -> address or -errno (MAP_PRIVATE|MAP_ANONYMOUS added)
 *   MPROTECT      q addr, q len, q prot               -> 0 or -errno
 *   MUNMAP        q addr, q len                       -> 0 or -errno
 *   WRITE         q addr, * bytes                     -> bytes written or -EFAULT (never crashes)
 *   READ          q addr, q len                       -> 0, * bytes;  or -EFAULT
 *   WRITE_WORDS   q n, n x (q addr, q value)          -> n  (plain 64-bit stores, no checks)
 *   WRITE_WORDS32 q n, n x (q addr, q value)          -> n  (stores the low 32 bits)
 *   CALL          q fn, q nargs (<= 6), nargs x q     -> 0, q rax
 *   CALL_LIST     q a0, q a1, q a2, q n, n x q fn  -> 0.  Calls each fn(a0, a1, a2) in order
 *                 (initialisers: argc, argv, envp); callbacks may arrive meanwhile, as for CALL.
 *   CALL_EACH     q n, n x q fn                     -> 0, n x q rax.  Calls each fn() in order
 *                 and answers their results (IFUNC resolvers of glibc's libraries, in bulk).
 *   RELOCATE_RELATIVE  q base, q rela, q nrela, q relr, q relr_size, q nruns,
 *                 nruns x (q start, q end, q prot)  -> q status, q index.  One object's relative
 *                 relocations from its own mapped tables (relocate.h): first the DT_RELR table
 *                 of relr_size bytes at relr (*word += base), then the nrela DT_RELA entries at
 *                 rela, each of which must be R_X86_64_RELATIVE (*(base + r_offset) = base +
 *                 r_addend).  The runs are the object's pages as Java mapped them (sorted,
 *                 disjoint); both tables must lie in readable, non-writable runs and every target
 *                 word in writable runs.  status = the number of DT_RELR words relocated; or
 *                 -EINVAL (malformed, runs out of order, a bitmap first), -EFAULT (a table
 *                 outside), -ENOEXEC (an entry refused: index is the first refused DT_RELA entry,
 *                 nrela when it was a DT_RELR word).  Everything is checked before the first
 *                 store: a refused request writes nothing.
 *   ALLOC         q size, q align                     -> address (zeroed RW agent memory, never freed)
 *                                                        or -ENOMEM
 *   PLACE_STRINGS q n, n x s                          -> address of char *[n + 1] (NULL-terminated)
 *   DLOPEN_HOST   q flags, s name                     -> 0, q handle, q l_addr, q l_ld,
 *                 q tls_modid (0: none), q tls_offset (tp - block of this thread, 0: none),
 *                 s l_name;   or -1, s dlerror message
 *                 (flags with RTLD_NOLOAD: query an already loaded host object, e.g. libc.so.6)
 *   DLMOPEN_HOST  q lmid, q flags, s name             -> as DLOPEN_HOST, then q the namespace
 *                 glibc put it in (glibc's dlmopen: the host objects of a namespace of jdryad's)
 *   DLSYM_HOST    q handle, s name, s version (NULL: dlsym)   -> 0, q address; or -1, s message
 *   R_DEBUG_UPDATE q kind (1 RT_ADD, 2 RT_DELETE), q n, n x (q id, q l_addr, q l_ld, s name),
 *                 q m, m x s (names of the objects added/removed, for jdryad_dl_activity),
 *                 q cause, q caller, q flags, q tid, q seq, s request (jdryad_activity.h: the
 *                 event's cause; seq numbers the ADD/DELETE event, seq + 1 the CONSISTENT one)
 *                 q lmid (0: the base namespace; else glibc's r_debug of namespace lmid, the
 *                 lmid-th on the r_next chain, gets the list, which then holds its host objects
 *                 too, as Java sends them: no copies of glibc's nodes are added)
 *                 -> 0, q r_map head, q n, n x q link_map node address (same order)
 *                 The list is the complete new list of jdryad objects in load order; `id`
 *                 is Java's stable key for an object, so its node keeps its address.
 *   RESERVE_NODE  q id, q l_addr, q l_ld, s name, q lmid  -> 0, q link_map node address; or
 *                 -EINVAL.  The node object `id` will have in namespace lmid's list, filled in
 *                 and on no list yet: R_DEBUG_UPDATE later links it.  Audit modules' la_objopen
 *                 gets it while the objects of a start-up or a dlopen are still being found.
 *   OBJECT_TABLE  q n, n x (q kind, q link_map, q base, q phdr, q phnum, q map_start, q map_end,
 *                 q eh_frame_hdr, q tls_modid (0: none), q tls_offset (tp - block), s name)
 *                 -> 0.   Replaces the table used by dl_iterate_phdr, _dl_find_object and
 *                 __tls_get_addr.  Entries in link-map order, every object of the program's:
 *                 kind 0 a jdryad object, 1 the program (a jdryad object; dl_iterate_phdr names
 *                 it "", as glibc's main map), 2 a host object's place (glibc's entry whose
 *                 l_addr is base; the other fields 0), 3 a host object of glibc's list that
 *                 is the agent's own (left out of dl_iterate_phdr).  A kind above 3: -EINVAL.
 *   SET_TLS_IMAGE * bytes  -> 0 or -E2BIG.  Written to the len bytes just below tp in the
 *                 main thread, and to the end of module 1's init image (for new threads).
 *   SET_TLS_BLOCK q offset, * bytes -> 0, -EINVAL or -E2BIG.  Writes the bytes at tp - offset
 *                 in the main thread and at the same place of module 1's init image, leaving the
 *                 rest of the reservation (live thread-local variables) alone: for dlopen.
 *                 Every live thread gets the bytes too (glibc's thread lists, tls.h); -EFAULT
 *                 when no thread's block could be written.
 *   TLS_DYNAMIC   q index (modid - TLS_MODID_BASE), q image, q filesz, q memsz, q align -> 0 or
 *                 -EINVAL.  Module index gets dynamic TLS: each thread allocates its block
 *                 (memsz bytes, the filesz bytes at image first) at its first __tls_get_addr or
 *                 TLSDESC call; memsz 0 retires the index (dlclose).
 *   SET_AUXV      q n (<= 1000), n x (q type, q value), s execfn  -> 0.  The program's auxv
 *                 entries (AT_PHDR, AT_PHNUM, AT_PHENT, AT_ENTRY; execfn, when not NULL, becomes
 *                 AT_EXECFN) written into the agent's own auxv, which glibc's getauxval reads, so
 *                 that initialisers see the program's as natively; ENTER builds the program's.
 *   SET_FDS       q n (<= 64), n x q target  -> q placed, or -EINVAL.  The frame carries n
 *                 descriptors (SCM_RIGHTS): the ones the user gave jdryad (`3<file`, a process
 *                 substitution's /dev/fd/63), which the JVM's child did not inherit; each is put
 *                 at its target number, without close-on-exec, as the program would have had it.
 *   SET_EXE       s path, s executed  -> 0.  The program's path as /proc/self/exe would name
 *                 it; jdryad objects' readlink("/proc/self/exe") answers it (the kernel names the
 *                 agent). The process is named after executed (the path as exec'ed; NULL: left).
 *   SET_FINI      q n, n x (q kind, q addr, q count)  -> 0.  kind 1: call addr;  kind 2:
 *                 call the count pointers of the array at addr in reverse order;  kind 3
 *                 (LD_DEBUG_OUTPUT): later kind-4 lines go to the file named by the NUL-terminated
 *                 path at addr (opened to append, created 0666), not to stderr;  kind 4 (LD_DEBUG):
 *                 write the count bytes at addr, each '\n'-ended line prefixed as glibc's
 *                 _dl_debug_printf does ("%10d:\t", this process's pid);  kind 5 (LD_AUDIT's la_activity and
 *                 la_objclose at exit): call addr(a0, a1), the two words at count.  Entries are in the
 *                 order the finaliser (jdryad_rtld_fini) runs them, once.
 *   LAZY_SETUP    s log path, q log size, q tables (agent address of a pointer array), q ntables,
 *                 q bind_not -> 0 or -errno.  Maps the log file MAP_SHARED (its header must carry
 *                 JD_LAZY_LOG_MAGIC) and starts answering first calls from tables[GOT[1]] where
 *                 Java prepared them (lazy.h). Java writes the tables with process_vm_writev.
 *   ENTER         q entry, q argc, argc x s, q envc, envc x s, q naux, naux x (q type, q value),
 *                 s execfn (NULL: keep AT_EXECFN as given), q nfull, nfull x q addr,
 *                 q nshort, nshort x q addr, q nenv, nenv x q addr (environ slots)
 *                 -> 0 ("entering"), sent before the jump; never returns.  The addresses
 *                 are variables (char *) set to argv[0] (full) and its basename (short);
 *                 none given: libc's program_invocation_name / _short_name via dlsym. The
 *                 environ slots are set to the new envp; none given: environ is left alone
 *                 (an initialiser changed it).
 *                 The overrides also patch the agent's original auxv in place.
 *   WAIT_DEBUGGER s line (NULL: none) -> tracer pid (0: it detached again) or -errno.  Lets any
 *                 process ptrace the agent (PR_SET_PTRACER_ANY), and unless it is already traced
 *                 writes the line to fd 2, then blocks until a debugger has attached and let it
 *                 run (attach.h).  The main thread serves nothing else meanwhile.
 *
 * Every count in a request is checked against the bytes left in its payload before it sizes
 * anything; a malformed request gets -EINVAL and changes nothing.  After ENTER the Java client
 * refuses requests while no callback is pending (no agent thread would read them).
 *
 * Agent -> Java callbacks; every payload starts with q tid (the asking thread), then the fields
 * below; every reply is:  q status, q v0, q v1, q v2, q v3, s s0, s s1
 *   status 0 = answered, 1 = ask glibc (v0 = glibc handle to use), -1 = error (s0 = message)
 *   No callback is made (glibc answers; a jdryad object's handle gets an error) in a vfork
 *   child (lazy first calls excepted), once the socket was closed, or from a signal handler that interrupted the agent
 *   holding one of its locks.  dlclose while the finaliser runs unloads nothing (as _dl_fini).
 *   CB_DLOPEN   q flags, q caller, s name             -> v0 handle; ask glibc: v0 the namespace
 *                                                        glibc's dlmopen loads it in (0: dlopen)
 *   CB_DLMOPEN  q lmid, q flags, q caller, s name     -> as CB_DLOPEN
 *   CB_DLSYM    q handle, q caller, s name, s version -> v0 address; or v1 JD_DLSYM_TLS, v2
 *                                                        the TLS module id, v0 the offset in
 *                                                        its block (the caller's thread's)
 *   CB_DLCLOSE  q handle, q caller                    -> (status only)
 *   CB_DLADDR   q addr                                -> v0 fbase, v1 saddr, v2 link_map,
 *                                                        v3 ElfW(Sym)*, s0 fname, s1 sname
 *   CB_DLINFO   q handle, q request                   -> v0 value (RTLD_DI_TLS_DATA: the
 *                                                        block's tp offset), s0 (RTLD_DI_ORIGIN)
 *   CB_LAZY     q object (GOT[1]), q reloc index, q caller (return address)
 *               -> v0 target, v1 GOT slot, v2 flags (JD_LAZY_PATCH: store the target in the
 *                  slot; JD_LAZY_CALL_IFUNC: v0 is an IFUNC resolver, its result the target),
 *                  s0 the slot's symbol name, s1 its version (for the binding hook; either may be
 *                  NULL, and both are left out of a reply too long for a child's scratch buffer);
 *                  error: s0 is the whole line to print before exiting with status 127.
 */
#ifndef JDRYAD_PROTOCOL_H
#define JDRYAD_PROTOCOL_H

#define JD_REPLY 0x80000000u
#define JD_HEADER_SIZE 16
#define JD_MAX_FRAME (1u << 30)

enum jd_type {
    JD_HELLO = 0x01,
    JD_HELLO_CHILD = 0x02,

    JD_MMAP_FILE = 0x10,
    JD_MMAP_ANON = 0x11,
    JD_MPROTECT = 0x12,
    JD_MUNMAP = 0x13,
    JD_WRITE = 0x14,
    JD_READ = 0x15,
    JD_WRITE_WORDS = 0x16,
    JD_WRITE_WORDS32 = 0x17,
    JD_CALL = 0x18,
    JD_ALLOC = 0x19,
    JD_PLACE_STRINGS = 0x1a,
    JD_CALL_LIST = 0x1b,
    JD_RELOCATE_RELATIVE = 0x1c,
    JD_CALL_EACH = 0x1d,

    JD_DLOPEN_HOST = 0x20,
    JD_DLSYM_HOST = 0x21,
    JD_DLMOPEN_HOST = 0x22,

    JD_R_DEBUG_UPDATE = 0x30,
    JD_OBJECT_TABLE = 0x31,
    JD_SET_TLS_IMAGE = 0x32,
    JD_SET_FINI = 0x33,
    JD_SET_TLS_BLOCK = 0x34,
    JD_SET_EXE = 0x35,
    JD_LAZY_SETUP = 0x36,
    JD_TLS_DYNAMIC = 0x37,
    JD_SET_AUXV = 0x38,
    JD_SET_FDS = 0x39,
    JD_RESERVE_NODE = 0x3a,

    JD_ENTER = 0x40,
    JD_WAIT_DEBUGGER = 0x41,

    JD_CB_DLOPEN = 0x80,
    JD_CB_DLSYM = 0x81,
    JD_CB_DLCLOSE = 0x82,
    JD_CB_DLADDR = 0x83,
    JD_CB_DLINFO = 0x84,
    JD_CB_LAZY = 0x85,
    JD_CB_DLMOPEN = 0x86,
};

/* CB_LAZY reply flags. */
#define JD_LAZY_PATCH 1u
#define JD_LAZY_CALL_IFUNC 2u

/* CB_DLSYM reply: v1 says v0 is a TLS symbol's offset in the block of module v2. */
#define JD_DLSYM_TLS 1u

/* Callback reply status values. */
#define JD_CB_OK 0
#define JD_CB_ASK_GLIBC 1
#define JD_CB_ERROR (-1)

/* SET_FINI entry kinds. */
#define JD_FINI_CALL 1
#define JD_FINI_ARRAY 2
#define JD_FINI_DEBUG_OUTPUT 3
#define JD_FINI_DEBUG_TEXT 4
#define JD_FINI_CALL2 5

/* TLS module ids assigned by Java to jdryad objects start here (never collide with glibc's). */
#define JD_TLS_MODID_BASE 0x4a440000UL
#define JD_TLS_MODID_MAX 65536UL

/* Size of the static TLS reservation (the agent's only __thread variable); the Makefile builds
 * several agents with -DJD_TLS_RESERVE=N and Java picks the smallest that fits. */
#ifndef JD_TLS_RESERVE
#define JD_TLS_RESERVE (256 * 1024)
#endif
/* Its alignment, which glibc gives every thread pointer: blocks aligned up to it can be static
 * (4096 in the agents up to 1 MiB, 2 MiB in the largest; Java: run/AgentBinary). */
#ifndef JD_TLS_ALIGN
#define JD_TLS_ALIGN 4096
#endif

#endif
