/*
 * jdryad's link-map activity events, as the agent hands them to the hook
 *
 *     void jdryad_dl_activity(const struct jdryad_activity *event);
 *
 * which it calls for every event, right after glibc's r_brk (_dl_debug_state) has been called
 * for the same r_debug state. `break jdryad_dl_activity` then `print *event` in gdb shows it.
 * The agent also keeps the most recent events in `jdryad_activity_ring`, so that a core file
 * or a gdb without the Java side can still show them (newest at (next - 1) % JDRYAD_RING_SIZE).
 *
 * This header is the contract: its layout changes only with JDRYAD_ACTIVITY_VERSION.
 */
#ifndef JDRYAD_ACTIVITY_H
#define JDRYAD_ACTIVITY_H

#define JDRYAD_ACTIVITY_VERSION 2

/* The r_debug state the event announces (the values of r_state, and of la_activity's LA_ACT_*). */
enum jdryad_activity_state {
    JDRYAD_ACT_CONSISTENT = 0,
    JDRYAD_ACT_ADD = 1,
    JDRYAD_ACT_DELETE = 2,
};

/* Why the link map changed. */
enum jdryad_activity_cause {
    JDRYAD_CAUSE_STARTUP = 1,       /* jdryad loaded the program and its libraries */
    JDRYAD_CAUSE_DLOPEN = 2,        /* dlopen(request, flags) called from `caller` */
    JDRYAD_CAUSE_DLCLOSE = 3,       /* dlclose called from `caller` */
    JDRYAD_CAUSE_DLOPEN_FAILED = 4, /* a failed dlopen's objects were taken out again */
};

struct jdryad_activity {
    int version;                 /* JDRYAD_ACTIVITY_VERSION */
    int state;                   /* enum jdryad_activity_state */
    int cause;                   /* enum jdryad_activity_cause */
    int flags;                   /* dlopen's mode (RTLD_LAZY, RTLD_GLOBAL...), else 0 */
    unsigned long seq;           /* the event's number in jdryad's history (--history, `jdryad events`) */
    long pid;                    /* the process */
    long tid;                    /* the thread that caused it (0: jdryad, at start-up) */
    unsigned long caller;        /* return address of the dlopen/dlclose call, else 0 */
    long lmid;                   /* the namespace (0: the base namespace) */
    const char *request;         /* dlopen's argument, else 0 */
    unsigned long count;         /* how many objects were added or removed */
    const char *const *objects;  /* their paths (count of them) */
};

#define JDRYAD_RING_SIZE 32
struct jdryad_activity_ring {
    int version;                 /* JDRYAD_ACTIVITY_VERSION */
    unsigned size;               /* JDRYAD_RING_SIZE */
    unsigned long next;          /* events ever recorded; the newest is ev[(next - 1) % size] */
    struct jdryad_activity ev[JDRYAD_RING_SIZE];
};

/* Where a debugger finds jdryad's query server (the Java side): a Unix socket only the same
 * user may use. Zero until the Java side writes it; pid is the Java side's. */
#define JDRYAD_QUERY_INFO_VERSION 1
struct jdryad_query_info {
    int version;     /* JDRYAD_QUERY_INFO_VERSION, once written */
    int pid;         /* the Java side's pid */
    char path[108];  /* the socket's path (sun_path's size) */
};

#endif
