/*
 * Guest ring 0 going wrong, one way per argument; each must end the process with libDune's or
 * the module's report, never take the machine down:
 *   handler  a page-fault handler pointer that is not code (an unmapped host address)
 *   jump     a jump to an address the guest page table does not map
 *   nested   a page-fault handler that faults on itself
 *   triple   an IDT with no room for any gate, then an exception: a triple fault
 *   vmcall3  VMCALL from guest ring 3 (the module refuses it)
 *   missing  a SYSCALL from ring 3 with no syscall handler registered
 */
#include <stdio.h>
#include <string.h>

#include "libdune/dune.h"

static char ustack[8192] __attribute__((aligned(16)));

static void nested_pgflt(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	(void) fec;
	(void) tf;
	*(volatile char *) (addr + PGSIZE) = 1; /* the next page is not mapped either */
}

static void user_vmcall(void)
{
	asm volatile("movl $39, %%eax\n vmcall" : : : "rax");
}

static void user_syscall(void)
{
	asm volatile("movl $39, %%eax\n syscall" : : : "rax", "rcx", "r11");
}

static void to_user(void (*fn)(void))
{
	struct dune_tf tf;
	memset(&tf, 0, sizeof(tf));
	tf.rip = (uintptr_t) fn;
	tf.rsp = (uintptr_t) (ustack + sizeof(ustack) - 8);
	tf.rflags = 0x2;
	dune_jump_to_user(&tf);
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";

	if (dune_init_and_enter()) {
		printf("dune_init_and_enter failed\n");
		return 1;
	}
	dune_printf("in Dune: %s\n", what);
	if (!strcmp(what, "handler")) {
		dune_register_pgflt_handler((dune_pgflt_cb) 0x12345);
		*(volatile char *) 0x530000000000UL = 1;
	} else if (!strcmp(what, "jump")) {
		((void (*)(void)) 0x540000000000UL)();
	} else if (!strcmp(what, "nested")) {
		dune_register_pgflt_handler(nested_pgflt);
		*(volatile char *) 0x550000000000UL = 1;
	} else if (!strcmp(what, "triple")) {
		struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idtr = { 0, 0 };
		asm volatile("lidt %0\n ud2" : : "m"(idtr));
	} else if (!strcmp(what, "vmcall3")) {
		to_user(user_vmcall);
	} else if (!strcmp(what, "missing")) {
		to_user(user_syscall);
	}
	dune_printf("still running?\n");
	return 0;
}
