/*
 * dune_init_and_enter, then in guest ring 0: dune_printf, libc's own system calls (SYSCALL →
 * the trampoline at LSTAR → VMCALL), privileged state a ring-0 program may read, the TSC through
 * dune_get_ticks, and exit from inside Dune.
 */
#include <stdio.h>
#include <unistd.h>

#include "libdune/dune.h"

int main(void)
{
	int ret = dune_init_and_enter();
	if (ret) {
		printf("dune_init_and_enter failed: %d\n", ret);
		return 1;
	}
	dune_printf("hello from guest ring 0\n");
	unsigned short cs;
	asm volatile("mov %%cs, %0" : "=r"(cs));
	dune_printf("cs=0x%x cpl=%d\n", cs, cs & 3);
	dune_printf("cr3 is pgroot: %s\n", (read_cr3() & ~0xfffUL) == (unsigned long) pgroot ? "yes" : "no");

	/* libc's write: a SYSCALL that the trampoline at LSTAR turns into a VMCALL. */
	const char msg[] = "write(2) through the SYSCALL trampoline\n";
	write(1, msg, sizeof(msg) - 1);
	printf("printf inside Dune, pid %d\n", (int) getpid());
	fflush(stdout);

	/* The TSC only goes forward, and work in between takes time. */
	unsigned long t[8];
	volatile unsigned long sink = 0;
	int monotonic = 1;
	for (int i = 0; i < 8; i++) {
		t[i] = dune_get_ticks();
		for (int j = 0; j < 100 * i; j++)
			sink += j;
		if (i > 0 && t[i] <= t[i - 1])
			monotonic = 0;
	}
	dune_printf("ticks monotonic: %s, grew with work: %s\n", monotonic ? "yes" : "no",
		    t[7] - t[6] > t[2] - t[1] ? "yes" : "no");
	return 7; /* exit_group(7) from inside Dune: DUNE_RET_EXIT, status 7 */
}
