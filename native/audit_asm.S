/*
 * The profiling trampoline (audit.h): GOT[2] of every object an LD_AUDIT module watches with
 * la_x86_64_gnu_pltenter / _pltexit, as glibc's _dl_runtime_profile. It arrives from PLT0 with
 * GOT[1] and the relocation index above the caller's return address, fills an La_x86_64_regs
 * (rdx, r8, r9, rcx, rsi, rdi, the caller's rbp and rsp, xmm0-7, and the whole ymm0-7 or zmm0-7
 * in lr_vector: jdryad_audit_vector_bytes, audit.h), calls jd_audit_enter, reloads the argument
 * registers from the structure (a module may change them), then either jumps to the target (no
 * la_pltexit wanted) or copies the stack arguments pltenter asked for, calls the target, fills
 * an La_x86_64_retval (rax, rdx, xmm0, xmm1, the whole vector registers 0 and 1, and st0 and st1
 * popped off the x87 stack, as glibc's fstpt pair), calls jd_audit_exit and returns its values
 * to the caller (st1 and st0 pushed back, as glibc does, whatever the function returned). rax (a
 * variadic call's vector count) and r10 are preserved.
 */
        .set    REGS, 0                 /* La_x86_64_regs: 768 bytes */
        .set    RETVAL, 768             /* La_x86_64_retval: 240 bytes */
        .set    SAVED_RAX, 1008
        .set    SAVED_R10, 1016
        .set    FRAMESIZE, 1024
        .set    TARGET, 1032
        .set    FRAME, 1088
        .set    LR_VECTOR, REGS+192     /* lr_vector[8]: 64 bytes each */
        .set    LRV_ST0, RETVAL+48
        .set    LRV_ST1, RETVAL+64
        .set    LRV_VECTOR0, RETVAL+80
        .set    LRV_VECTOR1, RETVAL+144

/* One move of each of REGS (a list of register numbers) to (store) or from (load) AT + 64 * i:
   INSN with the registers named KIND (zmm or ymm). */
        .macro  vector_moves op, insn, kind, at, regs:vararg
        .set    .Lm\@_i, 0
        .irp    r, \regs
        .ifc    \op, store
        \insn   %\kind\r, \at+64*.Lm\@_i(%rbx)
        .else
        \insn   \at+64*.Lm\@_i(%rbx), %\kind\r
        .endif
        .set    .Lm\@_i, .Lm\@_i+1
        .endr
        .endm

/* Saves (store) or loads vector registers REGS whole, 64 or 32 bytes as jdryad_audit_vector_bytes
   says (nothing when 0), at AT + 64 * i; clobbers r11. */
        .macro  vectors op, at, regs:vararg
        mov     jdryad_audit_vector_bytes(%rip), %r11d
        cmp     $32, %r11d
        jb      .Lv\@_done
        je      .Lv\@_ymm
        vector_moves \op, vmovdqu64, zmm, \at, \regs
        jmp     .Lv\@_done
.Lv\@_ymm:
        vector_moves \op, vmovdqu, ymm, \at, \regs
.Lv\@_done:
        .endm

        .text
        .p2align 4
        .globl  jdryad_audit_profile
        .hidden jdryad_audit_profile
        .type   jdryad_audit_profile, @function
jdryad_audit_profile:
        .cfi_startproc
        .cfi_adjust_cfa_offset 16       /* GOT[1] and the relocation index above the return address */
        push    %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbp, 0
        mov     %rsp, %rbp
        .cfi_def_cfa_register %rbp
        push    %rbx
        .cfi_rel_offset %rbx, -8
        sub     $FRAME, %rsp
        and     $-64, %rsp
        mov     %rsp, %rbx              /* the frame's base from here on */
        mov     %rdx, REGS+0(%rbx)
        mov     %r8, REGS+8(%rbx)
        mov     %r9, REGS+16(%rbx)
        mov     %rcx, REGS+24(%rbx)
        mov     %rsi, REGS+32(%rbx)
        mov     %rdi, REGS+40(%rbx)
        mov     0(%rbp), %r11
        mov     %r11, REGS+48(%rbx)     /* the caller's rbp */
        lea     24(%rbp), %r11
        mov     %r11, REGS+56(%rbx)     /* the caller's rsp: at its return address */
        movaps  %xmm0, REGS+64(%rbx)
        movaps  %xmm1, REGS+80(%rbx)
        movaps  %xmm2, REGS+96(%rbx)
        movaps  %xmm3, REGS+112(%rbx)
        movaps  %xmm4, REGS+128(%rbx)
        movaps  %xmm5, REGS+144(%rbx)
        movaps  %xmm6, REGS+160(%rbx)
        movaps  %xmm7, REGS+176(%rbx)
        mov     %rax, SAVED_RAX(%rbx)
        mov     %r10, SAVED_R10(%rbx)
        vectors store, LR_VECTOR, 0, 1, 2, 3, 4, 5, 6, 7
        mov     8(%rbp), %rdi           /* GOT[1]: the object */
        mov     16(%rbp), %rsi          /* the relocation index */
        mov     24(%rbp), %rdx          /* the caller's return address */
        lea     REGS(%rbx), %rcx
        lea     FRAMESIZE(%rbx), %r8
        call    jd_audit_enter
        mov     %rax, TARGET(%rbx)
        mov     FRAMESIZE(%rbx), %rcx
        test    %rcx, %rcx
        js      1f
        add     $15, %rcx               /* copy the stack arguments pltenter asked for */
        and     $-16, %rcx
        sub     %rcx, %rsp
        lea     32(%rbp), %rsi
        mov     %rsp, %rdi
        rep movsb
1:
        mov     REGS+0(%rbx), %rdx
        mov     REGS+8(%rbx), %r8
        mov     REGS+16(%rbx), %r9
        mov     REGS+24(%rbx), %rcx
        mov     REGS+32(%rbx), %rsi
        mov     REGS+40(%rbx), %rdi
        movaps  REGS+64(%rbx), %xmm0
        movaps  REGS+80(%rbx), %xmm1
        movaps  REGS+96(%rbx), %xmm2
        movaps  REGS+112(%rbx), %xmm3
        movaps  REGS+128(%rbx), %xmm4
        movaps  REGS+144(%rbx), %xmm5
        movaps  REGS+160(%rbx), %xmm6
        movaps  REGS+176(%rbx), %xmm7
        vectors load, LR_VECTOR, 0, 1, 2, 3, 4, 5, 6, 7
        mov     SAVED_RAX(%rbx), %rax
        mov     SAVED_R10(%rbx), %r10
        mov     TARGET(%rbx), %r11
        cmpq    $0, FRAMESIZE(%rbx)
        jge     2f
        .cfi_remember_state
        mov     -8(%rbp), %rbx          /* no la_pltexit: the target returns to the caller */
        .cfi_restore %rbx
        mov     %rbp, %rsp
        .cfi_def_cfa_register %rsp
        pop     %rbp
        .cfi_adjust_cfa_offset -8
        .cfi_restore %rbp
        add     $16, %rsp
        .cfi_adjust_cfa_offset -16
        jmp     *%r11
        .cfi_restore_state
2:
        call    *%r11
        mov     %rax, RETVAL+0(%rbx)
        mov     %rdx, RETVAL+8(%rbx)
        movaps  %xmm0, RETVAL+16(%rbx)
        movaps  %xmm1, RETVAL+32(%rbx)
        vectors store, LRV_VECTOR0, 0
        vectors store, LRV_VECTOR1, 1
        fstpt   LRV_ST0(%rbx)           /* an x87 result, if any: the stack is empty for the modules */
        fstpt   LRV_ST1(%rbx)
        mov     8(%rbp), %rdi
        mov     16(%rbp), %rsi
        lea     REGS(%rbx), %rdx
        lea     RETVAL(%rbx), %rcx
        call    jd_audit_exit
        mov     RETVAL+0(%rbx), %rax
        mov     RETVAL+8(%rbx), %rdx
        movaps  RETVAL+16(%rbx), %xmm0
        movaps  RETVAL+32(%rbx), %xmm1
        vectors load, LRV_VECTOR0, 0
        vectors load, LRV_VECTOR1, 1
        fldt    LRV_ST1(%rbx)
        fldt    LRV_ST0(%rbx)
        mov     -8(%rbp), %rbx
        .cfi_restore %rbx
        mov     %rbp, %rsp
        .cfi_def_cfa_register %rsp
        pop     %rbp
        .cfi_adjust_cfa_offset -8
        .cfi_restore %rbp
        add     $16, %rsp               /* drop GOT[1] and the index above the return address */
        .cfi_adjust_cfa_offset -16
        ret
        .cfi_endproc
        .size   jdryad_audit_profile, .-jdryad_audit_profile

        .section .note.GNU-stack, "", @progbits
