/*
 * Exception handlers reading dune_tf. Per the SDM (Vol. 3A §6.15): #DE and #UD are faults
 * without an error code — the saved RIP is the faulting instruction's; #GP from loading a
 * selector beyond the GDT limit pushes that selector's index as its error code; a not-present
 * #PF's error code has P clear, W for a write. Each handler moves tf->rip past the instruction,
 * and the program goes on after the IRETQ.
 */
#include <stdio.h>

#include "libdune/dune.h"

/* Labels around each faulting instruction, as symbols. */
extern char de_insn[], de_next[], ud_insn[], ud_next[], gp_insn[], gp_next[], pf_insn[], pf_next[];

static volatile int de_ok, ud_ok, gp_ok, pf_ok; /* written by the handlers */
static volatile unsigned gp_err;

static void de_handler(struct dune_tf *tf)
{
	de_ok = tf->rip == (uintptr_t) de_insn && tf->err == 0 && (tf->cs & 3) == 0;
	tf->rip = (uintptr_t) de_next;
	tf->rax = 12345; /* the quotient the program sees */
}

static void ud_handler(struct dune_tf *tf)
{
	ud_ok = tf->rip == (uintptr_t) ud_insn && tf->err == 0;
	tf->rip = (uintptr_t) ud_next;
}

static void gp_handler(struct dune_tf *tf)
{
	gp_err = tf->err;
	gp_ok = tf->rip == (uintptr_t) gp_insn;
	tf->rip = (uintptr_t) gp_next;
}

static void pgflt(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	pf_ok = tf->rip == (uintptr_t) pf_insn && addr == 0x600000000010UL && fec == FEC_W &&
		tf->err == FEC_W;
	tf->rip = (uintptr_t) pf_next;
}

int main(void)
{
	if (dune_init_and_enter()) {
		printf("dune_init_and_enter failed\n");
		return 1;
	}
	dune_register_intr_handler(T_DIVIDE, de_handler);
	dune_register_intr_handler(T_ILLOP, ud_handler);
	dune_register_intr_handler(T_GPFLT, gp_handler);
	dune_register_pgflt_handler(pgflt);

	unsigned long q;
	asm volatile("xorl %%ecx, %%ecx\n"
		     "movl $100, %%eax\n"
		     "xorl %%edx, %%edx\n"
		     ".globl de_insn\nde_insn: divq %%rcx\n"
		     ".globl de_next\nde_next:\n"
		     : "=a"(q) : : "rcx", "rdx");
	dune_printf("#DE: rip at the divide, err 0: %s; quotient from the handler %lu\n",
		    de_ok ? "yes" : "no", q);

	asm volatile(".globl ud_insn\nud_insn: ud2\n.globl ud_next\nud_next:\n");
	dune_printf("#UD: rip at ud2: %s\n", ud_ok ? "yes" : "no");

	/* Selector 0x48: index 9, beyond the 9-entry GDT (limit 71): #GP(0x48). */
	asm volatile("movl $0x48, %%eax\n"
		     ".globl gp_insn\ngp_insn: movl %%eax, %%ds\n"
		     ".globl gp_next\ngp_next:\n" : : : "rax");
	dune_printf("#GP: rip at the mov: %s, error code 0x%x\n", gp_ok ? "yes" : "no", gp_err);

	asm volatile("movabsq $0x600000000010, %%rax\n"
		     ".globl pf_insn\npf_insn: movq $1, (%%rax)\n"
		     ".globl pf_next\npf_next:\n" : : : "rax", "memory");
	dune_printf("#PF: rip, cr2 and error code (W, not present, supervisor): %s\n",
		    pf_ok ? "yes" : "no");
	return 0;
}
