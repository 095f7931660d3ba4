/*
 * jdryad's bindings as the agent hands them to the hook
 *
 *     void jdryad_dl_bind(const struct jdryad_binding *b);
 *
 * which it calls in the program's thread right after a binding made at run time: a lazily bound
 * function's first call (once the GOT slot holds the target, just before the jump there) and
 * a successful dlsym or dlvsym. `break jdryad_dl_bind` then `print *b` in gdb shows it, and
 * `bt` shows the program's frame that made the call (gdb-scripts: `jdryad break-bind SYMBOL`).
 *
 * The objects are not in the struct: the referrer is the object holding `slot` (lazy) or
 * `caller` (dlsym), the definer the one holding `target`, and a debugger finds both in the
 * r_debug list it already reads. (The agent would need an address-to-object search per call for
 * them, on the lazy fast path, whose whole cost is about two microseconds.)
 *
 * This header is the contract: its layout changes only with JDRYAD_BINDING_VERSION.
 */
#ifndef JDRYAD_BINDING_H
#define JDRYAD_BINDING_H

#define JDRYAD_BINDING_VERSION 1

enum jdryad_binding_kind {
    JDRYAD_BIND_LAZY = 1,  /* a first call through a PLT slot */
    JDRYAD_BIND_DLSYM = 2, /* dlsym or dlvsym returned an address */
};

/* Who answered. */
enum jdryad_binding_source {
    JDRYAD_SOURCE_TABLE = 1, /* the agent, from the answers Java prepared (the lazy fast path) */
    JDRYAD_SOURCE_JAVA = 2,  /* Java, asked at the call */
    JDRYAD_SOURCE_GLIBC = 3, /* glibc's dlsym (a host object, or no connection to Java) */
};

struct jdryad_binding {
    int version;                /* JDRYAD_BINDING_VERSION */
    int kind;                   /* enum jdryad_binding_kind */
    int source;                 /* enum jdryad_binding_source */
    int reserved;
    const char *symbol;         /* the name bound (the relocation's symbol; dlsym's argument); 0 if unknown */
    const char *symbol_version; /* the version the reference asks for (dlvsym's argument), else 0 */
    void *target;               /* where the call goes on; what dlsym returns */
    void **slot;                /* lazy: the GOT slot (patched unless LD_BIND_NOT); dlsym: 0 */
    void *caller;               /* return address of the call into the PLT, or of the dlsym call */
    unsigned long object;       /* lazy: jdryad's id of the referrer (its GOT[1]); dlsym: the handle */
    unsigned long index;        /* lazy: the PLT relocation's index; dlsym: 0 */
    long pid;                   /* the process */
    long tid;                   /* the thread that made the call */
};

/* The hook debuggers break on (binding.c). Does nothing: it exists to be broken on. */
void jdryad_dl_bind(const struct jdryad_binding *b);

#endif
