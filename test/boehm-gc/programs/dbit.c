/*
 * The hazard of reading dirty bits without a TLB flush (SDM Vol. 3A §4.8, §4.10.4.2): a store
 * through a translation the TLB cached with D already set does not set PTE_D again. An old
 * object is written (its page's translation is now cached dirty), a partial collection reads
 * and clears the dirty bits, the old object then gets the only pointer to a new object, and a
 * second partial collection must find the old object's page dirty to keep the new one.
 *
 * Prints what the collector saw; with GC_VERIFY=1 the verifier reports a miss.
 */
#include <stdio.h>
#include <string.h>

#include "gc.h"

struct obj {
	struct obj *p;
	long magic;
	long pad[2];
};

static struct obj *old; /* a root */

static __attribute__((noinline)) void clear_stack(void)
{
	volatile char junk[8192];
	memset((char *) junk, 0, sizeof(junk));
}

static __attribute__((noinline)) void link_new(void)
{
	struct obj *n = GC_malloc(sizeof(*n));
	n->magic = 0x5eed;
	old->p = n;
}

static __attribute__((noinline)) int survived(void)
{
	/* Allocate until the freed slot, if the new object was freed, comes back. */
	for (int i = 0; i < 200; i++) {
		struct obj *o = GC_malloc(sizeof(*o));
		if (o == old->p)
			return 0;
	}
	return old->p->magic == 0x5eed;
}

int main(void)
{
	GC_init();
	GC_enable_incremental();
	old = GC_malloc(sizeof(*old));
	GC_collect();            /* full: old is marked, and stays so in partial collections */
	old->magic = 1;          /* the page's translation is cached dirty */
	GC_collect_a_little();   /* reads and clears the dirty bits */
	link_new();              /* the only pointer to the new object is in old */
	clear_stack();
	GC_collect_a_little();
	struct GC_stats s;
	GC_get_stats(&s);
	int ok = survived();
	printf("variant %s: partial collections %llu, dirty pages %llu, verifier failures %llu, new object survived: %s\n",
	       GC_variant_name(), (unsigned long long) (s.collections - s.full_collections),
	       (unsigned long long) s.dirty_pages, (unsigned long long) s.verify_failures, ok ? "yes" : "no");
	return 0;
}
