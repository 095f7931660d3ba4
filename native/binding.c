/*
 * The binding hook (jdryad_binding.h): lazy.c and runtime.c call it after each run-time binding,
 * so that a debugger can stop there with the binding in hand and its caller up the stack.
 */
#include "jdryad_binding.h"

/* Empty and never inlined: its call, and the struct its callers fill on their stacks, are the
   whole cost of the hook on the lazy fast path. The asm keeps the argument live for `print *b`. */
__attribute__((noinline, visibility("default"))) void jdryad_dl_bind(const struct jdryad_binding *b)
{
    __asm__ volatile("" : : "r"(b) : "memory");
}
