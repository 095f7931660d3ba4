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
 * TLSDESC resolver for dynamic TLS (a module that did not fit the static reservation): the
 * descriptor's second word holds the module's index above the variable's offset in its block
 * (link/TlsModules); the answer in %rax is the
 * variable's offset from the thread pointer. The calling convention lets it change %rax and
 * the flags only, so every other integer register and the x87/SSE state (fxsave) are kept
 * around the C half, which may allocate the thread's block.
 */
        .globl  jdryad_tlsdesc_dynamic
        .hidden jdryad_tlsdesc_dynamic
        .type   jdryad_tlsdesc_dynamic, @function
jdryad_tlsdesc_dynamic:
        .cfi_startproc
        push    %rbp
        .cfi_def_cfa_offset 16
        .cfi_offset %rbp, -16
        mov     %rsp, %rbp
        .cfi_def_cfa_register %rbp
        push    %rdi
        push    %rsi
        push    %rdx
        push    %rcx
        push    %r8
        push    %r9
        push    %r10
        push    %r11
        and     $-64, %rsp
        sub     $512, %rsp
        fxsave64 (%rsp)
        mov     8(%rax), %rdi
        call    jd_tlsdesc_dynamic_offset
        fxrstor64 (%rsp)
        lea     -64(%rbp), %rsp
        pop     %r11
        pop     %r10
        pop     %r9
        pop     %r8
        pop     %rcx
        pop     %rdx
        pop     %rsi
        pop     %rdi
        pop     %rbp
        .cfi_def_cfa %rsp, 8
        ret
        .cfi_endproc
        .size   jdryad_tlsdesc_dynamic, .-jdryad_tlsdesc_dynamic

        .section .note.GNU-stack, "", @progbits
