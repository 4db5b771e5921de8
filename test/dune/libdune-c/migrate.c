/*
 * A thread that moves between CPUs takes its vCPU along, and the CPU it arrives on must not use
 * translations it cached for that vCPU on an earlier visit (Dune's vmx_get_cpu: INVVPID and
 * INVEPT on migration). On CPU 1 the guest makes a page read-only with a local INVLPG only, as
 * ring-0 code may; back on CPU 0, where a writable translation of the page was cached, the next
 * write must fault.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>

#include "libdune/dune.h"

#define REGION ((char *) 0x500000000000UL)
#define ROUNDS 10

static volatile int protection, other; /* written by the handler */

static void pgflt(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	(void) tf;
	char *page = (char *) PGADDR(addr);
	if (page == REGION && (fec & (FEC_P | FEC_W)) == (FEC_P | FEC_W)) {
		protection++;
		dune_vm_mprotect(pgroot, page, PGSIZE, PERM_R | PERM_W);
		dune_flush_tlb_one((unsigned long) page);
		return;
	}
	other++;
	dune_printf("unexpected fault at 0x%lx fec 0x%lx\n", addr, (unsigned long) fec);
	dune_die();
}

static int pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (sched_setaffinity(0, sizeof s, &s))
		return -1;
	return sched_getcpu() == cpu ? 0 : -1;
}

int main(void)
{
	if (dune_init_and_enter()) {
		printf("dune_init_and_enter failed\n");
		return 1;
	}
	dune_register_pgflt_handler(pgflt);
	if (dune_vm_map_pages(pgroot, REGION, PGSIZE, PERM_R | PERM_W)) {
		printf("dune_vm_map_pages failed\n");
		return 1;
	}
	volatile char *p = REGION;
	int pinned = 0;
	for (int i = 0; i < ROUNDS; i++) {
		pinned += pin(0) == 0;
		p[0] = (char) i; /* CPU 0 caches a writable translation */
		pinned += pin(1) == 0;
		dune_vm_mprotect(pgroot, REGION, PGSIZE, PERM_R);
		dune_flush_tlb_one((unsigned long) REGION); /* this CPU only */
		pinned += pin(0) == 0;
		p[0] = (char) (i + 1); /* must fault: read-only since CPU 1 said so */
	}
	printf("pinned %d of %d, write faults %d of %d, value %d, other faults %d\n", pinned, 3 * ROUNDS,
	       protection, ROUNDS, p[0], other);
	return 0;
}
