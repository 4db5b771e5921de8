/*
 * The collector's entry points that may collect: GC_malloc, GC_malloc_atomic, GC_collect,
 * GC_gcollect and GC_collect_a_little. Each pushes the program's callee-saved registers, so
 * that their values (which may be the only pointers to objects) are on the stack, records that
 * stack pointer as where the scan of the stack starts, and calls the C implementation.
 *
 * The frame holds only the six registers and a zero that keeps RSP 16-byte aligned: nothing
 * stale. A C frame here would have padding slots whose old contents (a fault handler's saved
 * registers, say) the conservative scan would take for pointers; everything below this frame is
 * the collector's own and is not scanned.
 */
	.text

	.macro GC_ENTRY name, impl
	.globl	\name
	.type	\name, @function
\name:
	pushq	%rbx
	pushq	%rbp
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	pushq	$0
	movq	%rsp, gc_entry_sp(%rip)
	call	\impl
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	ret
	.size	\name, . - \name
	.endm

	GC_ENTRY GC_malloc, gc_malloc_impl
	GC_ENTRY GC_malloc_atomic, gc_malloc_atomic_impl
	GC_ENTRY GC_collect, gc_collect_impl
	GC_ENTRY GC_gcollect, gc_collect_impl
	GC_ENTRY GC_collect_a_little, gc_collect_a_little_impl

	.section .note.GNU-stack, "", @progbits
