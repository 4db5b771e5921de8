/*
 * dune_vm_page_walk over pages libDune maps: the walker sets PTE_A on any access and PTE_D on a
 * write, on the leaf it used (SDM Vol. 3A §4.8). Counting and clearing them with a walk, and the
 * TLB's part: a cached translation whose D software cleared lets writes through without setting
 * D again, until the entry is flushed. Then the dirty-page harvest (dunesim addition).
 */
#include <stdio.h>

#include "libdune/dune.h"

#define REGION ((char *) 0x510000000000UL)
#define NPAGES 64

struct counts {
	int leaves, accessed, dirty;
};

static int count(const void *arg, ptent_t *pte, void *va)
{
	(void) va;
	struct counts *c = (struct counts *) arg;
	c->leaves++;
	c->accessed += !!(*pte & PTE_A);
	c->dirty += !!(*pte & PTE_D);
	return 0;
}

static int clear_ad(const void *arg, ptent_t *pte, void *va)
{
	(void) arg;
	(void) va;
	*pte &= ~(PTE_A | PTE_D);
	return 0;
}

static int stop_at_ten(const void *arg, ptent_t *pte, void *va)
{
	(void) pte;
	(void) va;
	return ++*(int *) arg == 10 ? 99 : 0;
}

static struct counts walk(void)
{
	struct counts c = { 0, 0, 0 };
	dune_vm_page_walk(pgroot, REGION, REGION + NPAGES * PGSIZE - 1, count, &c);
	return c;
}

int main(void)
{
	if (dune_init_and_enter()) {
		printf("dune_init_and_enter failed\n");
		return 1;
	}
	if (dune_vm_map_pages(pgroot, REGION, NPAGES * PGSIZE, PERM_R | PERM_W)) {
		dune_printf("map_pages failed\n");
		return 1;
	}
	struct counts c = walk();
	dune_printf("mapped: %d leaves, %d accessed, %d dirty\n", c.leaves, c.accessed, c.dirty);

	volatile char *p = (volatile char *) REGION;
	long sum = 0;
	for (int i = 0; i < 32; i++)
		sum += p[i * PGSIZE];       /* read pages 0..31 */
	for (int i = 0; i < 16; i++)
		p[i * PGSIZE + 8] = 1;      /* write pages 0..15 */
	c = walk();
	dune_printf("read 32, wrote 16: %d accessed, %d dirty\n", c.accessed, c.dirty);

	dune_vm_page_walk(pgroot, REGION, REGION + NPAGES * PGSIZE - 1, clear_ad, NULL);
	for (int i = 0; i < 16; i++)
		p[i * PGSIZE + 16] = 2;     /* the TLB still holds dirty entries for these */
	c = walk();
	dune_printf("cleared without a flush, wrote 16 again: %d dirty\n", c.dirty);
	dune_flush_tlb();
	for (int i = 0; i < 16; i++)
		p[i * PGSIZE + 24] = 3;
	c = walk();
	dune_printf("after dune_flush_tlb, wrote 16 again: %d dirty, %d accessed\n", c.dirty, c.accessed);

	int n = 0;
	int r = dune_vm_page_walk(pgroot, REGION, REGION + NPAGES * PGSIZE - 1, stop_at_ten, &n);
	dune_printf("a callback's non-zero return stops the walk: %d after %d leaves\n", r, n);

	/* The harvest: collect and clear D, one flush; the next writes are seen by the next one. */
	void *dirty[NPAGES];
	long got = dune_vm_harvest_dirty(pgroot, REGION, NPAGES * PGSIZE, dirty, NPAGES);
	int first_ok = dirty[0] == REGION && dirty[got - 1] == REGION + 15 * PGSIZE;
	long again = dune_vm_harvest_dirty(pgroot, REGION, NPAGES * PGSIZE, dirty, NPAGES);
	dune_printf("harvest: %ld dirty pages (%s), again right after: %ld\n", got,
		    first_ok ? "pages 0..15" : "?", again);
	for (int i = 40; i < 45; i++)
		p[i * PGSIZE] = 4;
	p[3 * PGSIZE] = 4;
	got = dune_vm_harvest_dirty(pgroot, REGION, NPAGES * PGSIZE, dirty, 4);
	int order_ok = dirty[0] == REGION + 3 * PGSIZE && dirty[1] == REGION + 40 * PGSIZE &&
		       dirty[3] == REGION + 42 * PGSIZE;
	again = dune_vm_harvest_dirty(pgroot, REGION, NPAGES * PGSIZE, dirty, NPAGES);
	dune_printf("wrote 6 pages, harvest with room for 4: %ld (%s), then %ld (%s)\n", got,
		    order_ok ? "in address order" : "?", again,
		    dirty[0] == REGION + 43 * PGSIZE && dirty[1] == REGION + 44 * PGSIZE ? "the rest" : "?");
	(void) sum;
	return 0;
}
