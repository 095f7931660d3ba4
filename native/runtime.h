/*
 * The seam of the agent's runtime (runtime.c): the tables Java's requests fill (objects,
 * finalisers, the program's path) and the entry points jdryad objects' references are bound to.
 * Everything is hidden (-fvisibility=hidden): the agent exports no dynamic symbols; Java and gdb
 * find agent functions through .symtab (their addresses are also sent in HELLO).
 */
#ifndef JDRYAD_RUNTIME_H
#define JDRYAD_RUNTIME_H

#include "util.h"

/* What an entry of the object table is (OBJECT_TABLE, protocol.h). */
enum jd_object_kind {
    JD_OBJ_JDRYAD = 0,  /* a jdryad object */
    JD_OBJ_PROGRAM = 1, /* the program: a jdryad object dl_iterate_phdr names "" (glibc's main map) */
    JD_OBJ_HOST = 2,    /* a host object's place in the order: glibc's entry whose l_addr is base */
    JD_OBJ_HIDDEN = 3,  /* a host object glibc lists that the program does not have (the agent) */
};

struct jd_object {
    uint64_t kind, link_map, base, phdr, phnum, map_start, map_end, eh_frame_hdr, tls_modid, tls_offset;
    const char *name;
};
struct jd_object_table {
    size_t n;
    uint64_t adds, subs;
    struct jd_object obj[];
};
extern struct jd_object_table *volatile jd_objects;
extern uint64_t jd_adds, jd_subs;

struct jd_fini_entry {
    uint64_t kind, addr, count;
};
struct jd_fini_table {
    size_t n;
    struct jd_fini_entry e[];
};
extern struct jd_fini_table *volatile jd_fini; /* replaced as a whole by SET_FINI */

void jd_runtime_init(void);
extern const char *volatile jd_exe_path;
/* path, or the program's own path when path is /proc/self/exe (or /proc/<this pid>/exe), which
   the kernel resolves to the agent: for a program that executes itself again. */
const char *jd_program_path_for(const char *path);
/* The program's argv[0] (glibc's _dl_argv[0]): the string on the program's initial stack once it
   is entered, before that the argv its initialisers are given; 0: unknown yet. dladdr names the
   program with this very pointer, as glibc does. */
extern const char *volatile jd_argv0;
ssize_t jdryad_readlink(const char *path, char *buf, size_t size);
ssize_t jdryad_readlinkat(int dirfd, const char *path, char *buf, size_t size);
ssize_t jdryad___readlink_chk(const char *path, char *buf, size_t size, size_t buflen);
ssize_t jdryad___readlinkat_chk(int dirfd, const char *path, char *buf, size_t size, size_t buflen); /* the program, for readlink("/proc/self/exe"); 0: unset */
void jd_set_dlerror(const char *msg);
void jd_set_tls_offsets(void); /* rebuilds the modid -> offset index from jd_objects */

/* exported entry points (addresses sent in HELLO) */
void *jdryad_dlopen(const char *file, int mode);
void *jdryad_dlmopen(Lmid_t lmid, const char *file, int mode);
void *jdryad_dlsym(void *handle, const char *name);
void *jdryad_dlvsym(void *handle, const char *name, const char *version);
int jdryad_dlclose(void *handle);
char *jdryad_dlerror(void);
int jdryad_dladdr(const void *addr, Dl_info *info);
int jdryad_dladdr1(const void *addr, Dl_info *info, void **extra, int flags);
int jdryad_dlinfo(void *handle, int request, void *arg);
int jdryad_dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data);
int jdryad__dl_find_object(void *pc, struct dl_find_object *result);
void *jdryad___tls_get_addr(void *ti);
void jdryad_rtld_fini(void);
void jdryad_tlsdesc_return(void);
void jdryad_tlsdesc_dynamic(void);
uintptr_t jd_tlsdesc_dynamic_offset(uint64_t arg);

#endif
