/*
 * The fork count and link-state generation of forks.h: the prepare handler of pthread_atfork
 * runs in the parent before the child's memory is copied, so a child that says generation G was
 * forked after the count went up, and Java, which writes the next generation before it reads the
 * count, cannot miss it.
 */
#include "forks.h"

volatile uint64_t jd_fork_count;
volatile uint64_t jd_link_generation;

void jd_forks_prepare(void)
{
    __atomic_add_fetch(&jd_fork_count, 1, __ATOMIC_SEQ_CST);
}
