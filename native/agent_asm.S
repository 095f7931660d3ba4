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

        .section .note.GNU-stack, "", @progbits
