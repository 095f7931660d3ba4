/*
 * jdryad agent: the parts that cannot be written in C.
 */
        .text

/*
 * void jdryad_enter_jump(const void *src, size_t len, void *sp, void *entry, void *fini)
 *
 * Copies the prepared initial stack image (argc, argv, envp, auxv, strings) to sp, switches
 * to it and jumps to the program's entry point as the kernel/ld.so would: %rsp at argc
 * (16-byte aligned), %rdx = rtld_fini, every other register zero.  The copy is done here,
 * below all C frames, because the target lies below the caller's stack pointer.
 */
        .globl  jdryad_enter_jump
        .hidden jdryad_enter_jump
        .type   jdryad_enter_jump, @function
jdryad_enter_jump:
        .cfi_startproc
        mov     %rdx, %r11              /* sp */
        mov     %rcx, %rax              /* entry */
        mov     %r8, %r10               /* fini */
        mov     %rsi, %rcx              /* len */
        mov     %rdi, %rsi              /* src */
        mov     %r11, %rdi              /* dst */
        cld
        rep movsb
        mov     %r11, %rsp
        .cfi_undefined rip
        mov     %r10, %rdx
        mov     %rax, -8(%rsp)          /* entry, just below argc */
        xor     %eax, %eax
        xor     %ebx, %ebx
        xor     %ecx, %ecx
        xor     %esi, %esi
        xor     %edi, %edi
        xor     %ebp, %ebp
        xor     %r8d, %r8d
        xor     %r9d, %r9d
        xor     %r10d, %r10d
        xor     %r11d, %r11d
        xor     %r12d, %r12d
        xor     %r13d, %r13d
        xor     %r14d, %r14d
        xor     %r15d, %r15d
        jmp     *-8(%rsp)
        .cfi_endproc
        .size   jdryad_enter_jump, .-jdryad_enter_jump

/*
 * TLSDESC resolver for static TLS (every jdryad module's TLS block lives in the static
 * reservation): the descriptor's second word holds the offset from the thread pointer
 * (negative), returned in %rax; no other register is touched.
 */
        .globl  jdryad_tlsdesc_return
        .hidden jdryad_tlsdesc_return
        .type   jdryad_tlsdesc_return, @function
jdryad_tlsdesc_return:
        .cfi_startproc
        mov     8(%rax), %rax
        ret
        .cfi_endproc
        .size   jdryad_tlsdesc_return, .-jdryad_tlsdesc_return

/*
 * Lazy-binding resolver trampoline (GOT[2] of every lazily bound jdryad object).
 *
 * LATER ISSUE: lazy binding.  On entry: (%rsp) = GOT[1] (object identifier pushed by PLT0),
 * 8(%rsp) = relocation index (pushed by the PLT entry).  The trampoline must save every
 * argument register (rdi rsi rdx rcx r8 r9 rax, and the vector state with xsave/xsavec),
 * call into the agent to resolve through Java (a callback), patch the GOT slot, restore and
 * jump to the target; with correct CFI so bt/finish/stepi work inside it.
 * Until then every jump slot is bound at load time and reaching this is a jdryad bug.
 */
        .globl  jdryad_lazy_resolve
        .hidden jdryad_lazy_resolve
        .type   jdryad_lazy_resolve, @function
jdryad_lazy_resolve:
        .cfi_startproc
        .cfi_adjust_cfa_offset 16
        lea     lazy_msg(%rip), %rsi
        mov     $2, %edi
        mov     $lazy_msg_len, %edx
        mov     $1, %eax                /* SYS_write */
        syscall
        mov     $127, %edi
        mov     $231, %eax              /* SYS_exit_group */
        syscall
        hlt
        .cfi_endproc
        .size   jdryad_lazy_resolve, .-jdryad_lazy_resolve

        .section .rodata
lazy_msg:
        .ascii  "jdryad-agent: lazy binding is not implemented yet (a PLT slot was left unbound)\n"
        .set    lazy_msg_len, . - lazy_msg

        .section .note.GNU-stack, "", @progbits
