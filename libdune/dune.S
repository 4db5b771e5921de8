/*
 * libDune's assembly: entering Dune (__dune_enter, __dune_ret, __dune_go_dune), the 256 IDT
 * stubs and their common path, the SYSCALL trampoline that sits at the host's LSTAR address
 * inside the guest, and the ring switches dune_jump_to_user / dune_ret_from_user /
 * dune_pop_trap_frame. Everything here runs as guest instructions; nothing is emulated apart.
 */
#include "kern/dune.h"
#include "percpu.h"

#define MSR_FS_BASE 0xc0000100

/*
 * FS base on ring transitions: ring 0 runs with the thread's own (kfs_base, TLS of the libc
 * libDune and the program use), ring 3 with ufs_base (dune_set_user_fs).
 * Coming from ring 3 the base ring 0 will use is the one the CPU holds, not the one the per-CPU
 * area says ring 3 has: ring 3 can change it without WRMSR (WRFSBASE, which the module's
 * CR4.FSGSBASE allows at any ring, or a MOV to FS, which loads the base of the descriptor it
 * names), and ring-0 code must not read its TLS through a base ring 3 chose. So RDFSBASE reads
 * it and the WRMSR is made only when it is not already kfs_base. Going to ring 3 the base is
 * written only when the two differ.
 * Clobbers rax, rcx, rdx.
 */
.macro SET_G0_FS_BASE_FROM_USER
	movq	$0, %gs:IN_USERMODE
	rdfsbase %rax
	cmpq	%gs:KFS_BASE, %rax
	je	8f
	movq	%gs:KFS_BASE, %rax
	movl	$MSR_FS_BASE, %ecx
	movq	%rax, %rdx
	shrq	$32, %rdx
	wrmsr
8:
.endm

.macro SET_G3_FS_BASE
	movq	$1, %gs:IN_USERMODE
	movq	%gs:UFS_BASE, %rax
	cmpq	%gs:KFS_BASE, %rax
	je	9f
	movl	$MSR_FS_BASE, %ecx
	movq	%rax, %rdx
	shrq	$32, %rdx
	wrmsr
9:
.endm

/* IOPL 1 in the RFLAGS value in \reg: the ring-3 mark (percpu.h). */
.macro MARK_G3 reg
	andq	$~FL_IOPL_MASK_, \reg
	orq	$FL_G3_MARK, \reg
.endm

.macro SAVE_REGS_TO_TF base
	movq	%rdi, TF_RDI(\base)
	movq	%rsi, TF_RSI(\base)
	movq	%rdx, TF_RDX(\base)
	movq	%rcx, TF_RCX(\base)
	movq	%r8, TF_R8(\base)
	movq	%r9, TF_R9(\base)
	movq	%r10, TF_R10(\base)
	movq	%r11, TF_R11(\base)
	movq	%rbx, TF_RBX(\base)
	movq	%rbp, TF_RBP(\base)
	movq	%r12, TF_R12(\base)
	movq	%r13, TF_R13(\base)
	movq	%r14, TF_R14(\base)
	movq	%r15, TF_R15(\base)
.endm

/* Every register but rdi (the base) from a dune_tf; rax included. */
.macro LOAD_REGS_FROM_TF_BUT_RDI base
	movq	TF_RSI(\base), %rsi
	movq	TF_RDX(\base), %rdx
	movq	TF_RCX(\base), %rcx
	movq	TF_R8(\base), %r8
	movq	TF_R9(\base), %r9
	movq	TF_R10(\base), %r10
	movq	TF_R11(\base), %r11
	movq	TF_RBX(\base), %rbx
	movq	TF_RBP(\base), %rbp
	movq	TF_R12(\base), %r12
	movq	TF_R13(\base), %r13
	movq	TF_R14(\base), %r14
	movq	TF_R15(\base), %r15
	movq	TF_RAX(\base), %rax
.endm

	.text

/* ------------------------------------------------------------------------------------------
 * Entering Dune (Linux mode).
 *
 * int __dune_enter(int fd, struct dune_config *conf, uint64_t entry_stack_top)
 *
 * Saves the callee-saved registers and RFLAGS on the caller's stack and records that stack in
 * conf->rsp; conf->rip is __dune_ret. The DUNE_ENTER ioctl then starts the vCPU there: the
 * guest's first instructions pop the same registers and return 0 to dune_enter, on the same
 * stack and in the same code, now in VMX non-root ring 0.
 *
 * The ioctl itself is issued from the thread's entry stack. When it returns — the guest left
 * Dune, with the reason in conf->ret — the thread is back in Linux mode, and the stack it was
 * on when it entered has been the guest's all along: on_dune_exit runs on the entry stack, and
 * so does any host signal handler Linux runs on the way out of the ioctl (DUNE_RET_SIGNAL),
 * without touching frames the guest pushed. Upstream issues the ioctl on the guest's stack.
 */
	.globl	__dune_enter
	.type	__dune_enter, @function
__dune_enter:
	pushfq
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, DUNE_CFG_RSP(%rsi)
	movq	%rdx, %rsp
	movq	%rsi, %rdx
	movl	$DUNE_ENTER_IOCTL, %esi
	movl	$NR_IOCTL, %eax
	syscall
	testq	%rax, %rax
	jnz	1f
	/* Left Dune: rdx (conf) survives the system call. on_dune_exit does not return. */
	movq	%rdx, %rdi
	call	on_dune_exit
	ud2
1:	/* DUNE_ENTER failed: back to the caller with the error. */
	movq	DUNE_CFG_RSP(%rdx), %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	popfq
	ret
	.size	__dune_enter, .-__dune_enter

/*
 * void __dune_go_dune(int fd, struct dune_config *conf, uint64_t entry_stack_top)
 * Re-enters with the registers the module left in conf (after DUNE_RET_SIGNAL: the host handler
 * ran, the guest goes on where it was). A failed re-entry is DUNE_RET_NOENTER.
 */
	.globl	__dune_go_dune
	.type	__dune_go_dune, @function
__dune_go_dune:
	movq	%rdx, %rsp
	movq	%rsi, %rdx
	movl	$DUNE_ENTER_IOCTL, %esi
	movl	$NR_IOCTL, %eax
	syscall
	testq	%rax, %rax
	jz	1f
	movq	$DUNE_RET_NOENTER, DUNE_CFG_RET(%rdx)
	movq	%rax, DUNE_CFG_STATUS(%rdx)
1:	movq	%rdx, %rdi
	call	on_dune_exit
	ud2
	.size	__dune_go_dune, .-__dune_go_dune

/* The vCPU's first instruction (conf->rip): finish __dune_enter, returning 0 inside Dune. */
	.globl	__dune_ret
	.type	__dune_ret, @function
__dune_ret:
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	popfq
	xorl	%eax, %eax
	ret
	.size	__dune_ret, .-__dune_ret

/* ------------------------------------------------------------------------------------------
 * The IDT: 256 stubs of 16 bytes at __dune_intr + 16 * vector. Each pushes a zero error code
 * when the CPU pushes none (SDM Vol. 3A Table 6-1: 8, 10-14, 17 and 21 have one), then the
 * vector, and joins the common path.
 */
	.align	16
	.globl	__dune_intr
__dune_intr:
	vector = 0
	.rept	256
	.align	16
	.if	(vector == 8) | ((vector >= 10) & (vector <= 14)) | (vector == 17) | (vector == 21)
	.else
	pushq	$0
	.endif
	pushq	$vector
	jmp	__dune_intr_common
	vector = vector + 1
	.endr

/*
 * Builds a dune_tf under the CPU's frame: the vector's slot becomes tf->rax, the error code is
 * tf->err, and the registers go below. From ring 3 (the CS the CPU pushed): SWAPGS first, so
 * that the per-CPU area comes from KERNEL_GS_BASE, never from a GS base ring 3 set, and the
 * kernel FS base. The handler runs with IOPL 0 (a trap from ring 3 keeps ring 3's IOPL, the
 * ring-3 mark). Then dune_trap_handler(vector, tf), and back with IRETQ; to ring 3 always with
 * libDune's selectors and the mark, whatever the handler left in the frame.
 */
__dune_intr_common:
	xchgq	%rax, (%rsp)
	subq	$TF_RAX, %rsp
	SAVE_REGS_TO_TF %rsp
	movq	%rax, %rdi
	movq	%rsp, %rsi
	xorl	%ebx, %ebx
	testb	$3, TF_CS(%rsi)
	jz	1f
	swapgs
	movl	$1, %ebx
	SET_G0_FS_BASE_FROM_USER
1:	pushfq
	andq	$~FL_IOPL_MASK_, (%rsp)
	popfq
	cld
	subq	$8, %rsp		/* 21 words are on the stack: align it for the call */
	call	dune_trap_handler
	addq	$8, %rsp
	testl	%ebx, %ebx
	jz	2f
	movq	$(GD_UT | 3), TF_CS(%rsp)
	movq	$(GD_UD | 3), TF_SS(%rsp)
	movq	TF_RFLAGS(%rsp), %rax
	MARK_G3	%rax
	movq	%rax, TF_RFLAGS(%rsp)
	SET_G3_FS_BASE
	swapgs
2:	movq	%rsp, %rdi
	LOAD_REGS_FROM_TF_BUT_RDI %rdi
	movq	TF_RDI(%rsp), %rdi
	addq	$TF_RIP, %rsp
	iretq

/* ------------------------------------------------------------------------------------------
 * The SYSCALL trampoline. dune_init copies __dune_syscall .. __dune_syscall_end into pool pages
 * mapped at the host's LSTAR address in the guest page table (supervisor, read-only,
 * executable), so a SYSCALL in the guest lands here. Position-independent: it is run from the
 * copy.
 *
 * From ring 0 (the C library inside Dune): the system call is the host's, made with VMCALL; the
 * module restarts an interrupted one by stepping back over the VMCALL. RFLAGS comes back from
 * r11 first (SYSCALL masked IF, TF, DF, AC); the push happens below the red zone of the code
 * that made the call (upstream pushes onto it).
 *
 * From ring 3 (r11 has the ring-3 mark, see percpu.h): SWAPGS and on to
 * __dune_syscall_from_user, whose address is in the per-CPU area.
 */
	.globl	__dune_syscall
	.type	__dune_syscall, @function
__dune_syscall:
	testl	$FL_IOPL_MASK_, %r11d
	jnz	1f
	leaq	-128(%rsp), %rsp
	pushq	%r11
	popfq
	leaq	128(%rsp), %rsp
	vmcall
	jmp	*%rcx
1:	swapgs
	jmpq	*%gs:G3_SYSCALL
	.globl	__dune_syscall_end
__dune_syscall_end:
	.size	__dune_syscall, .-__dune_syscall

/*
 * A SYSCALL from ring 3: a dune_tf on the ring-0 stack of the dune_jump_to_user that runs this
 * ring-3 code (TRAP_STACK), with user r10 in the rcx slot (the C ABI's 4th argument), the return
 * address in rip and the user's RFLAGS in rflags; dune_syscall_handler(tf); back with SYSRETQ.
 */
	.globl	__dune_syscall_from_user
	.type	__dune_syscall_from_user, @function
__dune_syscall_from_user:
	movq	%rsp, %gs:TMP
	movq	%gs:TRAP_STACK, %rsp
	andq	$-16, %rsp
	subq	$(TF_SIZE + 8), %rsp
	movq	%rdi, TF_RDI(%rsp)
	movq	%rsi, TF_RSI(%rsp)
	movq	%rdx, TF_RDX(%rsp)
	movq	%r10, TF_RCX(%rsp)
	movq	%r8, TF_R8(%rsp)
	movq	%r9, TF_R9(%rsp)
	movq	%r10, TF_R10(%rsp)
	movq	%r11, TF_R11(%rsp)
	movq	%rbx, TF_RBX(%rsp)
	movq	%rbp, TF_RBP(%rsp)
	movq	%r12, TF_R12(%rsp)
	movq	%r13, TF_R13(%rsp)
	movq	%r14, TF_R14(%rsp)
	movq	%r15, TF_R15(%rsp)
	movq	%rax, TF_RAX(%rsp)
	movq	$0, TF_ERR(%rsp)
	movq	%rcx, TF_RIP(%rsp)
	movq	$(GD_UT | 3), TF_CS(%rsp)
	movq	%r11, TF_RFLAGS(%rsp)
	movq	%gs:TMP, %rax
	movq	%rax, TF_RSP(%rsp)
	movq	$(GD_UD | 3), TF_SS(%rsp)
	pushq	$0x202			/* IF on, IOPL 0, DF clear */
	popfq
	SET_G0_FS_BASE_FROM_USER
	movq	%rsp, %rdi
	call	dune_syscall_handler
	SET_G3_FS_BASE
	movq	TF_RIP(%rsp), %rcx
	/*
	 * SYSRETQ to a non-canonical RCX raises #GP in ring 0 with the user's RSP (Intel); the
	 * handler may have put anything in tf->rip. Only a lower-half address goes back this way.
	 */
	movq	%rcx, %rax
	shrq	$47, %rax
	jnz	3f
	movq	TF_RDI(%rsp), %rdi
	movq	TF_RSI(%rsp), %rsi
	movq	TF_RDX(%rsp), %rdx
	movq	TF_R8(%rsp), %r8
	movq	TF_R9(%rsp), %r9
	movq	TF_R10(%rsp), %r10
	movq	TF_RBX(%rsp), %rbx
	movq	TF_RBP(%rsp), %rbp
	movq	TF_R12(%rsp), %r12
	movq	TF_R13(%rsp), %r13
	movq	TF_R14(%rsp), %r14
	movq	TF_R15(%rsp), %r15
	movq	TF_RFLAGS(%rsp), %r11
	MARK_G3	%r11
	movq	TF_RAX(%rsp), %rax
	movq	TF_RSP(%rsp), %rsp
	swapgs
	sysretq
3:	movq	%rsp, %rdi
	call	dune_bad_sysret
	ud2
	.size	__dune_syscall_from_user, .-__dune_syscall_from_user

/* ------------------------------------------------------------------------------------------
 * int dune_jump_to_user(struct dune_tf *tf)
 *
 * Runs tf in guest ring 3 (cs = GD_UT|3, ss = GD_UD|3, the ring-3 mark in RFLAGS, the user FS
 * base). The ring-0 context stays on this stack: its callee-saved registers and RFLAGS, the
 * enclosing jump's TRAP_STACK and trap depth, and TRAP_STACK points here, so ring 3's traps and
 * system calls run below it. Returns when a handler calls dune_ret_from_user(ret): ret. A tf->rip
 * outside the lower half returns -EINVAL (IRETQ would fault in ring 0).
 */
	.globl	dune_jump_to_user
	.type	dune_jump_to_user, @function
dune_jump_to_user:
	movq	TF_RIP(%rdi), %rax
	shrq	$47, %rax
	jnz	1f
	pushfq
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	pushq	%gs:TRAP_DEPTH
	pushq	%gs:TRAP_STACK
	movq	%rsp, %gs:TRAP_STACK
	SET_G3_FS_BASE
	pushq	$(GD_UD | 3)
	pushq	TF_RSP(%rdi)
	movq	TF_RFLAGS(%rdi), %rax
	MARK_G3	%rax
	pushq	%rax
	pushq	$(GD_UT | 3)
	pushq	TF_RIP(%rdi)
	LOAD_REGS_FROM_TF_BUT_RDI %rdi
	movq	TF_RDI(%rdi), %rdi
	swapgs
	iretq
1:	movq	$-22, %rax		/* -EINVAL */
	ret
	.size	dune_jump_to_user, .-dune_jump_to_user

/* void dune_ret_from_user(int ret): abandon ring 3; the matching dune_jump_to_user returns ret. */
	.globl	dune_ret_from_user
	.type	dune_ret_from_user, @function
dune_ret_from_user:
	movslq	%edi, %rax
	movq	%gs:TRAP_STACK, %rsp
	popq	%gs:TRAP_STACK
	popq	%gs:TRAP_DEPTH
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	popfq
	ret
	.size	dune_ret_from_user, .-dune_ret_from_user

/*
 * void dune_pop_trap_frame(struct dune_tf *tf): load every register from tf and IRETQ to it. A
 * ring-3 frame goes as dune_jump_to_user sends one (selectors, mark, FS, SWAPGS), without a
 * ring-0 context to come back to.
 */
	.globl	dune_pop_trap_frame
	.type	dune_pop_trap_frame, @function
dune_pop_trap_frame:
	testb	$3, TF_CS(%rdi)
	jz	1f
	SET_G3_FS_BASE
	pushq	$(GD_UD | 3)
	pushq	TF_RSP(%rdi)
	movq	TF_RFLAGS(%rdi), %rax
	MARK_G3	%rax
	pushq	%rax
	pushq	$(GD_UT | 3)
	pushq	TF_RIP(%rdi)
	LOAD_REGS_FROM_TF_BUT_RDI %rdi
	movq	TF_RDI(%rdi), %rdi
	swapgs
	iretq
1:	movzwq	TF_SS(%rdi), %rax
	pushq	%rax
	pushq	TF_RSP(%rdi)
	pushq	TF_RFLAGS(%rdi)
	movzwq	TF_CS(%rdi), %rax
	pushq	%rax
	pushq	TF_RIP(%rdi)
	LOAD_REGS_FROM_TF_BUT_RDI %rdi
	movq	TF_RDI(%rdi), %rdi
	iretq
	.size	dune_pop_trap_frame, .-dune_pop_trap_frame

	.section .note.GNU-stack,"",@progbits
