/*
 * Trap and system-call dispatch (upstream libdune/trap.c): the C side of the IDT stubs and of
 * the SYSCALL trampoline in dune.S. Handlers are the program's C functions, called in guest
 * ring 0 with the dune_tf the assembly built; they may edit it before the IRETQ / SYSRETQ.
 */
#include <stdio.h>
#include <string.h>

#include "dune.h"
#include "percpu.h"

/* Ring-0 traps nested deeper than this end the process (a handler that faults on itself). */
#define DUNE_MAX_TRAP_DEPTH 16

/*
 * The handler pointers fill a page of their own (dunesim addition). Ring 0 reads them through
 * whatever page table is loaded when a trap arrives; a program that gives ring 3 a private,
 * writable copy of its .data/.bss under another root (Wedge's sthreads) keeps this page mapped
 * supervisor-only to the real one (dune_trap_handlers_page), so ring 3 cannot redirect ring 0.
 */
static union {
	struct {
		dune_intr_cb intr[256];
		dune_pgflt_cb pgflt;
		dune_syscall_cb syscall;
	} cb;
	char page[PGSIZE];
} handlers __attribute__((aligned(PGSIZE)));

#define intr_cbs   handlers.cb.intr
#define pgflt_cb   handlers.cb.pgflt
#define syscall_cb handlers.cb.syscall

void *dune_trap_handlers_page(void)
{
	return &handlers;
}

int dune_register_intr_handler(int vec, dune_intr_cb cb)
{
	if (vec < 0 || vec > 255)
		return -EINVAL;
	intr_cbs[vec] = cb;
	return 0;
}

int dune_register_signal_handler(int signum, dune_intr_cb cb)
{
	if (signum < 0 || signum > 255 - DUNE_SIGNAL_INTR_BASE)
		return -EINVAL;
	return dune_register_intr_handler(DUNE_SIGNAL_INTR_BASE + signum, cb);
}

void dune_register_pgflt_handler(dune_pgflt_cb cb)
{
	pgflt_cb = cb;
}

void dune_register_syscall_handler(dune_syscall_cb cb)
{
	syscall_cb = cb;
}

static inline unsigned long read_cr2(void)
{
	unsigned long cr2;
	asm volatile("mov %%cr2, %0" : "=r"(cr2));
	return cr2;
}

/* Whether [va, va + len) is readable through pgroot (the dump reads only what it can). */
static bool readable(uintptr_t va, size_t len)
{
	uintptr_t p;
	for (p = PGADDR(va); p < va + len; p += PGSIZE) {
		ptent_t *pte;
		if (dune_vm_lookup(pgroot, (void *) p, CREATE_NONE, &pte) || !(*pte & PTE_P))
			return false;
	}
	return true;
}

void dune_dump_trap_frame(struct dune_tf *tf)
{
	int i;

	dune_printf("dune: --- Begin Trap Dump ---\n");
	dune_printf("dune: RIP 0x%016lx\n", tf->rip);
	dune_printf("dune: CS 0x%02x SS 0x%02x\n", tf->cs, tf->ss);
	dune_printf("dune: ERR 0x%08x RFLAGS 0x%08lx\n", tf->err, tf->rflags);
	dune_printf("dune: RAX 0x%016lx RCX 0x%016lx\n", tf->rax, tf->rcx);
	dune_printf("dune: RDX 0x%016lx RBX 0x%016lx\n", tf->rdx, tf->rbx);
	dune_printf("dune: RSP 0x%016lx RBP 0x%016lx\n", tf->rsp, tf->rbp);
	dune_printf("dune: RSI 0x%016lx RDI 0x%016lx\n", tf->rsi, tf->rdi);
	dune_printf("dune: R8  0x%016lx R9  0x%016lx\n", tf->r8, tf->r9);
	dune_printf("dune: R10 0x%016lx R11 0x%016lx\n", tf->r10, tf->r11);
	dune_printf("dune: R12 0x%016lx R13 0x%016lx\n", tf->r12, tf->r13);
	dune_printf("dune: R14 0x%016lx R15 0x%016lx\n", tf->r14, tf->r15);
	if (readable(tf->rsp, 12 * sizeof(uint64_t))) {
		uint64_t *sp = (uint64_t *) tf->rsp;
		for (i = 0; i < 12; i += 2)
			dune_printf("dune: RSP+%02d 0x%016lx 0x%016lx\n", i * 8, sp[i], sp[i + 1]);
	}
	dune_printf("dune: --- End Trap Dump ---\n");
}

/* Prints why, dumps the frame and ends the process (exit_group(1) by VMCALL). */
void dune_die_message(const char *what, struct dune_tf *tf)
{
	dune_printf("dune: %s\n", what);
	if (tf)
		dune_dump_trap_frame(tf);
	dune_die();
}

/* dune.S's common IDT path calls this with the vector and the frame. */
void dune_trap_handler(int num, struct dune_tf *tf)
{
	struct dune_percpu *p = dune_get_percpu();
	char msg[96];

	/* A trap from ring 3 starts afresh; one from ring 0 nests in the handler it interrupted. */
	if (tf->cs & 3)
		p->trap_depth = 1;
	else if (++p->trap_depth > DUNE_MAX_TRAP_DEPTH) {
		snprintf(msg, sizeof(msg), "trap %d nested %d deep in ring 0 (a handler that faults itself?)",
			 num, DUNE_MAX_TRAP_DEPTH);
		dune_die_message(msg, tf);
	}

	if (intr_cbs[num]) {
		intr_cbs[num](tf);
	} else if (num == T_PGFLT && pgflt_cb) {
		pgflt_cb(read_cr2(), tf->err, tf);
	} else if (num == T_PGFLT) {
		snprintf(msg, sizeof(msg), "unhandled page fault at 0x%lx (fec 0x%x)", read_cr2(), tf->err);
		dune_die_message(msg, tf);
	} else if (num == T_NMI || num == T_DBLFLT || num == T_GPFLT) {
		snprintf(msg, sizeof(msg), "fatal exception %d, code %x - dying...", num, tf->err);
		dune_die_message(msg, tf);
	} else {
		snprintf(msg, sizeof(msg), "unhandled exception %d", num);
		dune_die_message(msg, tf);
	}
	p->trap_depth--;
}

/* The ring-3 SYSCALL path of dune.S calls this with the frame it built. */
void dune_syscall_handler(struct dune_tf *tf)
{
	if (syscall_cb) {
		syscall_cb(tf);
	} else {
		dune_printf("missing handler for system call - #%ld\n", (long) tf->rax);
		dune_dump_trap_frame(tf);
		dune_die();
	}
}

void dune_bad_sysret(struct dune_tf *tf)
{
	char msg[96];
	snprintf(msg, sizeof(msg), "system-call handler set a non-canonical return rip 0x%lx", tf->rip);
	dune_die_message(msg, tf);
}

/*
 * Runs the system call in the frame on the host kernel (a VMCALL): number in rax, arguments in
 * rdi, rsi, rdx, rcx (the trampoline put user r10 there), r8, r9; the result in tf->rax.
 */
void dune_passthrough_syscall(struct dune_tf *tf)
{
	tf->rax = dune_vmcall(tf->rax, tf->rdi, tf->rsi, tf->rdx, tf->rcx, tf->r8, tf->r9);
}
