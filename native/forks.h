/*
 * What Java needs to give a forked child a link session of its own (forks.c): a count of the
 * forks this process made, and the generation of its link state (dlopen/dlclose), which Java
 * writes.  A child's copy of the generation says which state it was forked in; Java reads the
 * count before it changes the link state, so it can keep the old state for children forked in
 * it (run/ForkSnapshots).  Nothing here calls anything.
 */
#ifndef JDRYAD_FORKS_H
#define JDRYAD_FORKS_H

#include <stdint.h>

extern volatile uint64_t jd_fork_count;      /* forks made by this process (pthread_atfork prepare) */
extern volatile uint64_t jd_link_generation; /* written by Java before every change of the link state */

void jd_forks_prepare(void); /* the pthread_atfork prepare handler: counts the fork */

#endif
