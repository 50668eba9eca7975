/* switch.S — x86-64 System V context switch for goroutines.
 *
 * goc__ctx_switch(from, to): push the callee-saved registers (rbp, rbx, r12-r15) and the
 * floating-point control state (MXCSR, x87 control word) on the current stack, store rsp
 * in from->sp, load to->sp and pop the same layout (reloading the control state only if it
 * differs). Clobbers rax and rdx, which are caller-saved. A plain call/ret pair, so the CPU's
 * return-stack predictor stays mostly right. CFI describes every push so that gdb and
 * backtrace() unwind through it. Layout must match goc__ctx_init in arch.h.
 */
    .text
    .globl goc__ctx_switch
    .hidden goc__ctx_switch
    .type goc__ctx_switch, @function
    .p2align 4
goc__ctx_switch:
    .cfi_startproc
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
    pushq %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movl (%rsp), %eax          /* the control words in force now ... */
    movzwl 4(%rsp), %edx
    movq %rsp, (%rdi)
    movq (%rsi), %rsp
    /* From here on the frame is the resumed context's; its layout is the same. Loading the
     * control registers stalls the FP pipeline, so it is done only when the resumed
     * context's differ from the ones in force (almost never: programs rarely change them). */
    cmpl (%rsp), %eax
    jne 1f
    cmpw 4(%rsp), %dx
    jne 1f
2:
    addq $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq %r15
    .cfi_adjust_cfa_offset -8
    popq %r14
    .cfi_adjust_cfa_offset -8
    popq %r13
    .cfi_adjust_cfa_offset -8
    popq %r12
    .cfi_adjust_cfa_offset -8
    popq %rbx
    .cfi_adjust_cfa_offset -8
    popq %rbp
    .cfi_adjust_cfa_offset -8
    ret
1:
    .cfi_adjust_cfa_offset 56
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    jmp 2b
    .cfi_endproc
    .size goc__ctx_switch, .-goc__ctx_switch

/* goc__ctx_start: entered by the first switch to a fresh context with r12 = entry,
 * r13 = arg. The return address is undefined so unwinders stop at a goroutine's root. */
    .globl goc__ctx_start
    .hidden goc__ctx_start
    .type goc__ctx_start, @function
    .p2align 4
goc__ctx_start:
    .cfi_startproc
    .cfi_undefined %rip
    movq %r13, %rdi
    callq *%r12
    ud2
    .cfi_endproc
    .size goc__ctx_start, .-goc__ctx_start

    .section .note.GNU-stack,"",@progbits
