/*
 * The seam of the agent's TLS runtime (tls.c): reaching every thread's static TLS block (a
 * dlopened module's initial values must reach threads that already exist, as glibc's dlopen
 * does) and the dynamic TLS of modules that did not fit the static reservation (a per-thread
 * vector of lazily allocated blocks, as glibc's DTV).
 */
#ifndef JDRYAD_TLS_H
#define JDRYAD_TLS_H

#include "util.h"

/* Finds glibc's thread lists (through the descriptors libthread_db reads). 0, or -1 when this
   glibc does not describe them (then only the main thread and the init image get new blocks). */
int jd_tls_init(void);

/* The calling thread's kernel tid, read from glibc's thread descriptor when glibc describes it
   (a lazy first call's record needs it and a system call would double its cost), else gettid.
   A thread made by a raw clone that shares its creator's thread pointer reads its creator's. */
int jd_thread_tid(void);

/* Copies n bytes to tp - off in every live thread (main thread included) and into module 1's
   init image through write_image (for threads created later); without glibc's lists, to the
   main thread's (main_tp) only. -14 (EFAULT) when no thread's block could be written, else the
   number of threads written. */
long jd_tls_set_block_all(uint64_t off, const void *bytes, size_t n, uintptr_t main_tp,
                          void (*write_image)(uint64_t off, const void *bytes, size_t n));

/* Dynamic TLS: module index m (modid - JD_TLS_MODID_BASE) gets an init image of filesz bytes at
   image, memsz bytes in all, aligned to align; memsz 0 retires the index (dlclose). Threads
   allocate their block at first use. 0 or -22 (EINVAL). */
long jd_tls_set_dynamic(uint64_t m, uint64_t image, uint64_t filesz, uint64_t memsz, uint64_t align);

/* The calling thread's block of dynamic module m (allocated and initialised now if need be),
   0 when m is not a dynamic module. */
void *jd_tls_dynamic_block(uint64_t m);

/* The word of the static reservation where each thread keeps its dynamic TLS vector (the
   lowest bytes of the reservation; Java never places a block there). */
#define JD_TLS_AGENT_BYTES 16

#endif
