/*
 * A page-fault handler that maps pages on demand with dune_vm_map_pages. The region is
 * guest-only (no host mapping: its frames come from libDune's pool), so only the guest page
 * table decides. Reads map the page read-only, a later write to it faults again as a protection
 * fault (FEC_P|FEC_W, SDM Vol. 3A §4.7) and is made writable with dune_vm_mprotect.
 */
#include <stdio.h>
#include <string.h>

#include "libdune/dune.h"

#define REGION ((char *) 0x500000000000UL)
#define NPAGES 16

static volatile int not_present, protection, writes, bad; /* written by the handler */

static void pgflt(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	char *page = (char *) PGADDR(addr);

	if ((char *) addr < REGION || (char *) addr >= REGION + NPAGES * PGSIZE || (fec & FEC_U) ||
	    (tf->cs & 3)) {
		dune_printf("unexpected fault at 0x%lx fec 0x%lx\n", addr, (unsigned long) fec);
		dune_die();
	}
	if (fec & FEC_W)
		writes++;
	if (!(fec & FEC_P)) {
		not_present++;
		int perm = (fec & FEC_W) ? PERM_R | PERM_W : PERM_R;
		if (dune_vm_map_pages(pgroot, page, PGSIZE, perm))
			bad++;
	} else {
		protection++;
		if (!(fec & FEC_W) || dune_vm_mprotect(pgroot, page, PGSIZE, PERM_R | PERM_W))
			bad++;
	}
}

int main(void)
{
	if (dune_init_and_enter()) {
		printf("dune_init_and_enter failed\n");
		return 1;
	}
	dune_register_pgflt_handler(pgflt);

	/* Pages 0..7: written first. Pages 8..15: read (zero: fresh pool pages), then written.
	 * Every access may fault: volatile keeps them in program order around the counters. */
	volatile char *rg = REGION;
	long zeros = 0;
	for (int i = 0; i < 8; i++)
		rg[i * PGSIZE + 100] = (char) (i + 1);
	for (int i = 8; i < NPAGES; i++)
		zeros += rg[i * PGSIZE + 200] == 0;
	for (int i = 8; i < NPAGES; i++)
		rg[i * PGSIZE + 200] = (char) (i + 1);
	long sum = 0;
	for (int i = 0; i < NPAGES; i++)
		sum += rg[i * PGSIZE + (i < 8 ? 100 : 200)];
	/* Touched again: no more faults. */
	int before = not_present + protection;
	for (int i = 0; i < NPAGES; i++)
		rg[i * PGSIZE + 300] = 1;
	dune_printf("not-present faults %d, protection faults %d, write faults %d, bad %d\n",
		    not_present, protection, writes, bad);
	dune_printf("fresh pages read zero: %ld of 8, sum %ld, faults after mapping: %d\n", zeros,
		    sum, not_present + protection - before);
	ptent_t *pte;
	int r = dune_vm_lookup(pgroot, REGION + 3 * PGSIZE, CREATE_NONE, &pte);
	dune_printf("lookup: %d, present %d, writable %d, user %d, nx %d, from pool %d\n", r,
		    !!(*pte & PTE_P), !!(*pte & PTE_W), !!(*pte & PTE_U), !!(*pte & PTE_NX),
		    dune_page_isfrompool(PTE_ADDR(*pte)));
	r = dune_vm_lookup(pgroot, REGION + NPAGES * PGSIZE + 0x200000, CREATE_NONE, &pte);
	dune_printf("lookup beyond: %d\n", r);
	return 0;
}
