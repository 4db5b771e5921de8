/*
 * dune_vm_clone + load_cr3: two page tables that map one address to different pool pages.
 * A clone copies every leaf (the shared pool page's reference count goes up); each root then
 * gets a page of its own at ADDR. Switching CR3 switches what ADDR reads. Then the same with
 * PCIDs (dunesim addition): each root under its own PCID, switched with CR3_NOFLUSH, keeps its
 * TLB entries across switches — and a stale one shows that nothing flushed them.
 */
#include <stdio.h>

#include "libdune/dune.h"

#define SHARED ((char *) 0x520000000000UL)
#define ADDR   ((char *) 0x520000200000UL)

int main(void)
{
	if (dune_init_and_enter()) {
		printf("dune_init_and_enter failed\n");
		return 1;
	}
	dune_vm_map_pages(pgroot, SHARED, PGSIZE, PERM_R | PERM_W);
	SHARED[0] = 's';
	ptent_t *root2 = dune_vm_clone(pgroot);
	if (!root2) {
		dune_printf("clone failed\n");
		return 1;
	}
	struct page *shared = dune_vm_lookup_page(pgroot, SHARED);
	dune_printf("clone shares the pool page: %s, its references: %lu\n",
		    shared == dune_vm_lookup_page(root2, SHARED) ? "yes" : "no",
		    (unsigned long) shared->ref);

	dune_vm_map_pages(pgroot, ADDR, PGSIZE, PERM_R | PERM_W);
	dune_vm_map_pages(root2, ADDR, PGSIZE, PERM_R | PERM_W);
	ADDR[0] = 'A';                /* pgroot's page */
	load_cr3((uintptr_t) root2);
	char in2 = ADDR[0];           /* root2's page: fresh, zero */
	ADDR[0] = 'B';
	char shared2 = SHARED[0];
	load_cr3((uintptr_t) pgroot);
	char in1 = ADDR[0];
	dune_printf("pgroot reads '%c', root2 read %d then wrote 'B', shared page reads '%c' in both\n",
		    in1, in2, shared2);

	/* PCIDs: pgroot under 0, root2 under its own; switch without flushing. */
	int pcid = dune_pcid_alloc();
	dune_switch_root(root2, pcid, false);
	char b = ADDR[0];                        /* caches root2's translation under pcid */
	dune_switch_root(pgroot, 0, true);
	char a = ADDR[0];
	/* Point root2's ADDR at pgroot's page behind the TLB's back. */
	ptent_t *pte1, *pte2;
	dune_vm_lookup(pgroot, ADDR, CREATE_NONE, &pte1);
	dune_vm_lookup(root2, ADDR, CREATE_NONE, &pte2);
	ptent_t saved = *pte2;
	*pte2 = *pte1;
	dune_switch_root(root2, pcid, true);
	char stale = ADDR[0];                    /* the PCID's cached entry: still root2's page */
	dune_flush_tlb_one((unsigned long) ADDR);
	char fresh = ADDR[0];                    /* the new PTE */
	*pte2 = saved;
	dune_flush_tlb_one((unsigned long) ADDR);
	dune_switch_root(pgroot, 0, true);
	dune_printf("pcid %d: root2 '%c', pgroot '%c'; after a no-flush switch a stale entry reads '%c', after invlpg '%c'\n",
		    pcid, b, a, stale, fresh);
	int second = dune_pcid_alloc();
	dune_pcid_free(pcid);
	dune_printf("next pcid %d, freed one comes back: %s\n", second, dune_pcid_alloc() == pcid ? "yes" : "no");

	dune_vm_free(root2);
	dune_printf("after dune_vm_free the shared page's references: %lu\n", (unsigned long) shared->ref);
	return 0;
}
