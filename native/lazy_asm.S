/*
 * jdryad's lazy-binding trampoline: GOT[2] of every lazily bound jdryad object.
 *
 * A first call through a PLT slot arrives here from PLT0 with the stack holding, from the top:
 * GOT[1] (Java's id of the object), the relocation index (pushed by the PLT entry) and the
 * return address into the caller. Everything the callee may read as an argument is preserved,
 * as glibc's _dl_runtime_resolve_xsavec does: rax (the vector count of variadic calls), rcx,
 * rdx, rsi, rdi, r8, r9, r10 (static chain), and the whole x87/SSE/AVX/AVX-512 state, with
 * xsavec, xsave or fxsave (chosen once from CPUID, see lazy.c). Then the slot's target is
 * reached with a jump, so the callee returns straight to the caller.
 *
 * The CFI describes the frame at every instruction (the CFA is the caller's stack pointer
 * before its call), so gdb's bt, finish and stepi inside the trampoline show the caller.
 *
 * `step` into a lazily bound call: gdb steps through "dynamic-linker resolve code" without
 * stopping, and for glibc it knows to run over the resolver's C part by name: it finds
 * `_dl_runtime_resolve`, and when the pc reaches `_dl_fixup` of the same object it runs to
 * that call's return (glibc-tdep.c, glibc_skip_solib_resolver). So the trampoline lives in a
 * section named .plt.sec (gdb's in_plt_section: resolve code), the agent defines both names
 * here, and the C part is entered through `_dl_fixup`. Then `step` arrives in the target.
 */
        .set    STATE_MASK, 0xef
        .set    JD_SAVE_FXSAVE_K, 0
        .set    JD_SAVE_XSAVEC_K, 2

        .section .plt.sec, "ax", @progbits
        .p2align 4
        .globl  jdryad_lazy_resolve
        .hidden jdryad_lazy_resolve
        .type   jdryad_lazy_resolve, @function
jdryad_lazy_resolve:
        .cfi_startproc
        .cfi_adjust_cfa_offset 16       /* GOT[1] and the relocation index above the return address */
        push    %rbx
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbx, 0
        mov     %rsp, %rbx
        .cfi_def_cfa_register %rbx
        and     $-64, %rsp              /* xsave areas must be 64-byte aligned */
        sub     jd_lazy_frame_size(%rip), %rsp
        mov     %rax, 0(%rsp)
        mov     %rcx, 8(%rsp)
        mov     %rdx, 16(%rsp)
        mov     %rsi, 24(%rsp)
        mov     %rdi, 32(%rsp)
        mov     %r8, 40(%rsp)
        mov     %r9, 48(%rsp)
        mov     %r10, 56(%rsp)
        cmpl    $JD_SAVE_FXSAVE_K, jd_lazy_save_kind(%rip)
        je      1f
        /* The XSAVE header must be clean for xrstor (xsave does not write all of it). */
        xor     %eax, %eax
        mov     %rax, 64+512(%rsp)
        mov     %rax, 64+520(%rsp)
        mov     %rax, 64+528(%rsp)
        mov     %rax, 64+536(%rsp)
        mov     %rax, 64+544(%rsp)
        mov     %rax, 64+552(%rsp)
        mov     %rax, 64+560(%rsp)
        mov     %rax, 64+568(%rsp)
        mov     $STATE_MASK, %eax       /* x87, SSE, AVX, MPX, AVX-512: never AMX tiles */
        xor     %edx, %edx
        cmpl    $JD_SAVE_XSAVEC_K, jd_lazy_save_kind(%rip)
        jne     2f
        xsavec  64(%rsp)
        jmp     3f
2:      xsave   64(%rsp)
        jmp     3f
1:      fxsave  64(%rsp)
3:
        mov     8(%rbx), %rdi           /* GOT[1]: the object */
        mov     16(%rbx), %rsi          /* the relocation index */
        mov     24(%rbx), %rdx          /* where the caller called the PLT from */
        call    _dl_fixup
        mov     %rax, %r11              /* the target: r11 is free at a call boundary */
        cmpl    $JD_SAVE_FXSAVE_K, jd_lazy_save_kind(%rip)
        je      4f
        mov     $STATE_MASK, %eax
        xor     %edx, %edx
        xrstor  64(%rsp)                /* reads the standard and the compacted form alike */
        jmp     5f
4:      fxrstor 64(%rsp)
5:
        mov     0(%rsp), %rax
        mov     8(%rsp), %rcx
        mov     16(%rsp), %rdx
        mov     24(%rsp), %rsi
        mov     32(%rsp), %rdi
        mov     40(%rsp), %r8
        mov     48(%rsp), %r9
        mov     56(%rsp), %r10
        mov     %rbx, %rsp
        .cfi_def_cfa_register %rsp
        pop     %rbx
        .cfi_adjust_cfa_offset -8
        .cfi_restore %rbx
        add     $16, %rsp               /* drop GOT[1] and the index: the stack is the caller's */
        .cfi_adjust_cfa_offset -16
        jmp     *%r11
        .cfi_endproc
        .size   jdryad_lazy_resolve, .-jdryad_lazy_resolve

/* gdb's name for the resolver's C part: a tail jump to it (see the comment at the top). */
        .globl  _dl_fixup
        .hidden _dl_fixup
        .type   _dl_fixup, @function
_dl_fixup:
        .cfi_startproc
        jmp     jd_lazy_fixup
        .cfi_endproc
        .size   _dl_fixup, .-_dl_fixup

/* Only a name: gdb looks it up to find the object whose `_dl_fixup` to run over. Never called. */
        .globl  _dl_runtime_resolve
        .hidden _dl_runtime_resolve
        .type   _dl_runtime_resolve, @function
_dl_runtime_resolve:
        ud2
        .size   _dl_runtime_resolve, .-_dl_runtime_resolve

        .section .note.GNU-stack, "", @progbits
